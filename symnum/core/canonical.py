"""Canonicalising constructors: the polynomial forms Add and Mul and exact number arithmetic.

x + x → 2·x, x·x → x², 0·x → 0, constants folded, nested sums and products flattened, all at
construction (the Symbolics.jl paper's 113x). Integers and fractions stay exact; floats follow
numpy (inf/nan, never an exception). Only integer exponents enter Mul, so x^0.5·x^0.5 is never
silently turned into x. Known, documented liberty: x·x⁻¹ → 1 (as SymPy and Symbolics.jl do);
tree mode keeps such expressions as written.

Merging is bounded (MERGE_LIMIT, symnum.core.merge): a sum with more than B entries,
or one that already holds such a sum, is kept as one entry of another sum instead of being
copied into it, so a Python loop whose step reuses the last step's sums (RK4) builds O(1) new
entries per step. Sums built from sums of at most B entries are exactly as without the bound.
Products likewise, with bases for entries (a product over B bases that another factor reads
stays one base: `p·sin(p)`). `expand` and `flatten` (the unbounded forms) are in
symnum.core.expand, above this module.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from symnum.core.build import as_number
from symnum.core.merge import (
    MERGE_LIMIT,
    is_product,
    kept_whole,
    opaque_factors,
    opaque_operands,
    read_keeps_whole,
    reads,
)
from symnum.core.op import get_op
from symnum.core.terms import Add, Const, Expr, Mul, Number, Sym, Term

# ---------------------------------------------------------------------------------------------
# exact-where-possible number arithmetic


def num_add(a: Number, b: Number) -> Number:
    return a + b


def num_mul(a: Number, b: Number) -> Number:
    return a * b


def integral(v: Number) -> int | None:
    """`v` as an int when it is integral and finite (2, 2.0, Fraction(4, 2)), else None."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, Fraction):
        return int(v) if v.denominator == 1 else None
    if isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
        return int(v)
    return None


# exact integer powers beyond this exponent would build huge integers (10**(10**9) never ends);
# they are computed in floating point instead
MAX_EXACT_EXPONENT = 1024


def num_pow(b: Number, e: Number) -> Number:
    ie = integral(e)
    exact_ok = ie is not None and (abs(ie) <= MAX_EXACT_EXPONENT or b in (0, 1, -1))
    if isinstance(b, (int, Fraction)) and not isinstance(b, bool) and exact_ok:
        if ie >= 0:
            return b**ie
        if b == 0:
            return math.inf
        return Fraction(1, 1) / Fraction(b) ** (-ie)
    if isinstance(e, Fraction):  # float ** Fraction is complex for a negative base in Python
        e = float(e)
    with np.errstate(all="ignore"):
        r = np.power(np.float64(b) if not isinstance(b, np.float32) else b, e)
    return r[()] if isinstance(r, np.ndarray) else (r if isinstance(b, np.float32) else float(r))


def _tidy(v: Number) -> Number:
    if isinstance(v, Fraction) and v.denominator == 1:
        return int(v.numerator)
    return v


# ---------------------------------------------------------------------------------------------
# Add


def _split(a: Expr) -> tuple[Expr, Number]:
    """term → (coefficient-free key, coefficient)."""
    if type(a) is Mul and a.coeff != 1:
        # the same entries under coefficient 1: O(1), however many bases the product has
        if len(a) == 1:
            b, e = a._entries.keys[0], a._entries.vals[0]
            return (b if e == 1 else make_mul(1, {b: e})), a.coeff
        return a.with_number(1), a.coeff
    return a, 1


def make_add(const: Number, terms: dict) -> Expr:
    terms = {t: _tidy(c) for t, c in terms.items() if c != 0}
    const = _tidy(const)
    if not terms:
        return Const(const)
    if const == 0:
        const = 0
        if len(terms) == 1:
            ((t, c),) = terms.items()
            return t if c == 1 else mul(Const(c), t)
    return Add(const, terms)


def add(*args: Expr) -> Expr:
    """Canonical sum; flattens nested sums (also c·(sum), distributing the number c) up to the
    merge policy's bound."""
    if len(args) == 2:
        r = _add_one(args[0], args[1])
        if r is None:
            r = _two_entries(args[0], args[1])
        if r is not None:
            return r
    return _sum([(a, 1) for a in reversed(args)])


def _entry_of(a: Any) -> tuple | None:
    """(key, coefficient, whether the key is a sum) of a non-number term as _sum enters it."""
    ta = type(a)
    if ta is Add:
        return a, 1, True
    if ta is Mul:
        key, c = _split(a)
        return key, 0 + 1 * c, type(key) is Add
    if ta is Sym or ta is Term:
        return a, 1, False
    return None


def _two_entries(a: Any, b: Any) -> Expr | None:
    """`a + b` where the merge policy keeps each operand one entry of the result (a sum kept
    whole, or a term) and the two keys differ: the two-entry sum _sum would build, without its
    general loop (an RK4 step past the bound is mostly these). None for every other case."""
    ea, eb = _entry_of(a), _entry_of(b)
    if ea is None or eb is None or ea[0] is eb[0] or not (ea[2] or eb[2]):
        return None
    limit = MERGE_LIMIT.get()
    if limit is None:
        return None
    if ea[2] and eb[2]:
        if not (kept_whole(ea[0], limit) and kept_whole(eb[0], limit)):
            return None
    else:
        (s, c), other = ((ea[0], ea[1]), b) if ea[2] else ((eb[0], eb[1]), a)
        if not kept_whole(s, limit) or c == 1 and not reads(other, s):
            return None  # flattened or extended: the general path
    return Add(0, {ea[0]: _tidy(ea[1]), eb[0]: _tidy(eb[1])})


def _add_one(a: Expr, b: Expr) -> Expr | None:
    """`sum + number`, `sum + new term` or `sum + smaller sum of new terms` in time independent
    of the larger sum (a loop `e = e + s` stays linear); None for every other case, which the
    general path handles. Mirrors `_sum`'s arithmetic, with the larger sum's entries first."""
    ta, tb = type(a), type(b)
    if ta is Add and (tb is Sym or tb is Term):  # the loop `e = e + s`: the common case first
        if tb is Term and read_keeps_whole(a, b):  # `x + sin(x)`: the merge policy keeps x
            return Add(0, {a: 1, b: 1})  # whole (what _sum builds, asking it once)
        return a.appended(b, 1) if a._absent(b) else None
    if tb is float or tb is int:  # `t + 0.1`: a one-term sum (what _sum builds, without a dict)
        if ta in _NON_SUMS:
            return _term_plus(a, b)
    elif ta is float or ta is int:
        if tb in _NON_SUMS:
            return _term_plus(b, a)
    if ta is not Add or (tb is Add and len(b) > len(a)):
        if tb is not Add:
            return None
        a, b, ta, tb = b, a, tb, ta
    const = a.const
    if tb is int or tb is float or tb is Const:
        n = b if tb is not Const else b.value
        if type(n) is bool:
            return None
        const = _tidy(const + n)
        if const == 0:
            if len(a) == 1:
                return None
            const = 0
        return a.with_number(const)
    if not isinstance(b, Expr):  # arrays, numpy scalars: the general path
        return None
    if tb is Add:
        limit = MERGE_LIMIT.get()
        if limit is not None and (kept_whole(a, limit) or kept_whole(b, limit)):
            return None  # one of them stays one entry: the general path
        const = _tidy(const + b.const)
        if const == 0:
            const = 0
        pairs = list(b.terms.items())
    elif tb is Mul and b.coeff != 1:
        pairs = [_split(b)]
    else:
        pairs = [(b, 1)]
    for key, c in pairs:
        if type(key) is Add or a.get(key) is not None or c == 0:  # c·(sum) is flattened
            return None
    if (tb is Mul or tb is Term) and read_keeps_whole(a, b):  # the merge policy keeps a whole
        key, c = pairs[0]
        return Add(0, {a: 1, key: _tidy(0 + 1 * c)})  # as _sum / _two_entries build it
    if len({id(k) for k, _ in pairs}) != len(pairs):
        return None
    return a.extended(const, pairs)


_NON_SUMS = (Sym, Term, Mul)


def _term_plus(a: Expr, n: Number) -> Expr | None:
    """a + n for a non-sum term a and a non-zero int or float n: Add(n, {key: c}) as _sum makes
    it, with (key, c) = _split(a); None where _sum would do more (zero, c·(sum))."""
    if n == 0:
        return None
    key, c = _split(a) if type(a) is Mul else (a, 1)
    if type(key) is Add:
        return None
    return Add._single(n, key, c)


def linear_combination(pairs: list) -> Expr:
    """Σ cᵢ·tᵢ for (number cᵢ, term tᵢ) pairs, built as one canonical sum: no cᵢ·tᵢ product
    nodes are made on the way (what AD's adjoint and tangent accumulation needs)."""
    return _sum([(t, c) for c, t in reversed(pairs)])


def _sum(stack: list) -> Expr:
    limit = MERGE_LIMIT.get()
    opaque = opaque_operands(stack, limit) if limit is not None and len(stack) > 1 else ()
    const: Number = 0
    terms: dict = {}
    while stack:
        a, scale = stack.pop()
        n = as_number(a)
        if n is not None:
            const = const + scale * n
            continue
        if type(a) is Add:
            if opaque and id(a) in opaque:  # kept as one entry (the merge policy)
                terms[a] = terms.get(a, 0) + scale
                continue
            const = const + scale * a.const
            for t, c in a.terms.items():
                terms[t] = terms.get(t, 0) + scale * c
            continue
        key, c = _split(a)
        if type(key) is Add:  # c·(x + y + …) inside a sum: flatten it (or keep it, above)
            stack.append((key, scale * c))
            continue
        terms[key] = terms.get(key, 0) + scale * c
    return make_add(const, terms)


# ---------------------------------------------------------------------------------------------
# Mul


def make_mul(coeff: Number, bases: dict) -> Expr:
    coeff = _tidy(coeff)
    if len(bases) == 1:  # c·b^e (a sum's argument views, AD's partials): no dict to rebuild
        ((b, e),) = bases.items()
        if e == 0:
            return Const(coeff)
        if e == 1 and type(b) is Mul:  # c·p for a product p kept whole: p with c in it
            return _scaled(b, coeff)
        if coeff == 1 and e == 1:
            return b
        return Mul._single(1 if coeff == 1 else coeff, b, e)
    bases = {b: e for b, e in bases.items() if e != 0}
    if not bases:
        return Const(coeff)
    if len(bases) == 1:
        ((b, e),) = bases.items()
        if e == 1:
            return _scaled(b, coeff) if type(b) is Mul else b if coeff == 1 else \
                Mul(coeff, bases)
    return Mul(1 if coeff == 1 else coeff, bases)


def _scaled(p: Mul, c: Number) -> Expr:
    """c·p for a product p: p's bases under the coefficient c·p.coeff (what mul(c, p) gives)."""
    if c == 1:
        return p
    coeff = _tidy(p.coeff * c)
    if coeff == 0:
        return Const(coeff)
    if coeff == 1 and len(p) == 1:
        return make_mul(1, dict(p.bases))
    return p.with_number(1 if coeff == 1 else coeff)


def mul(*args: Expr) -> Expr:
    """Canonical product; 0·x → 0 (for finite zero coefficients), nested products flattened up
    to the merge policy's bound."""
    if len(args) == 2:
        r = _mul_one(args[0], args[1])
        if r is not None:
            return r
    limit = MERGE_LIMIT.get()
    opaque = opaque_factors(args, limit) if limit is not None and len(args) > 1 else ()
    coeff: Number = 1
    bases: dict = {}
    for a in args:
        n = as_number(a)
        if n is not None:
            coeff = coeff * n
            continue
        if type(a) is Mul:
            if opaque and id(a) in opaque:  # kept as one base (the merge policy), as _split
                coeff = coeff * a.coeff  # keys a sum's entry: its coefficient goes outside
                a = a if a.coeff == 1 else a.with_number(1)
                bases[a] = bases.get(a, 0) + 1
                continue
            coeff = coeff * a.coeff
            for b, e in a.bases.items():
                bases[b] = bases.get(b, 0) + e
        else:
            bases[a] = bases.get(a, 0) + 1
    if coeff == 0:
        return Const(_tidy(coeff))
    return make_mul(coeff, bases)


_NON_PRODUCTS = (Sym, Term, Add)


def _term_times(a: Expr, c: Const) -> Expr | None:
    """a·c for a non-product term a and a Const c, as mul() makes it: c itself when c is an
    int or float zero (1·c is c), a when c is 1, else the one-base product c·a."""
    n = c.value
    if type(n) is not float and type(n) is not int:
        return None
    if n == 0:
        return c
    return a if n == 1 else Mul._single(n, a, 1)


def _mul_one(a: Expr, b: Expr) -> Expr | None:
    """`product · number`, `product · new base` or `product · smaller product of new bases` in
    time independent of the larger product; None for every other case (and where the merge
    policy keeps a product whole: the general path decides)."""
    ta, tb = type(a), type(b)
    if ta is Mul and (tb is Sym or tb is Term):  # the loop `p = p * s`
        if tb is Term and read_keeps_whole(a, b):  # `p * sin(p)`: the merge policy
            return _kept_times(a, b)
        return a.appended(b, 1) if a._absent(b) else None
    if tb is float or tb is int:  # `t * 0.5`: a one-base product, as mul() makes it
        if ta in _NON_PRODUCTS and b != 0 and b != 1:
            return Mul._single(b, a, 1)
    elif ta is float or ta is int:
        if tb in _NON_PRODUCTS and a != 0 and a != 1:
            return Mul._single(a, b, 1)
    elif tb is Const and ta in _NON_PRODUCTS:  # AD's d·t and c·t with a numeric term
        return _term_times(a, b)
    elif ta is Const and tb in _NON_PRODUCTS:
        return _term_times(b, a)
    if ta is not Mul or (tb is Mul and len(b) > len(a)):
        if tb is not Mul:
            return None
        a, b, ta, tb = b, a, tb, ta
    if tb is int or tb is float or tb is Const:
        n = b if tb is not Const else b.value
        if type(n) is bool:
            return None
        coeff = _tidy(a.coeff * n)
        if coeff == 0:  # 0·x → 0, the zero's sign as mul()'s product of the numbers gives it
            return Const(coeff)
        if coeff == 1 and len(a) == 1:
            return None
        return a.with_number(1 if coeff == 1 else coeff)
    if not isinstance(b, Expr):
        return None
    if tb is Mul:
        limit = MERGE_LIMIT.get()
        if limit is not None:  # the merge policy (opaque_factors), for two operands
            if is_product(a) and is_product(b):
                if kept_whole(a, limit) or kept_whole(b, limit):
                    return None
            elif is_product(a):
                if read_keeps_whole(a, b):
                    return None
            elif is_product(b) and read_keeps_whole(b, a):
                return None
        coeff = _tidy(a.coeff * b.coeff)
        if coeff == 0:
            return None
        pairs = list(b.bases.items())
    else:
        if read_keeps_whole(a, b):  # `p * (1 + h·g(p))`: the merge policy
            return _kept_times(a, b)
        coeff, pairs = a.coeff, [(b, 1)]
    for base, _ in pairs:
        if a.get(base) is not None:
            return None
    return a.extended(1 if coeff == 1 else coeff, pairs)


def _kept_times(p: Mul, b: Expr) -> Expr:
    """p·b where the merge policy keeps the product p one base and b, one factor and not a
    product, reads it: the two-base product mul's general path builds (p under coefficient 1,
    p's coefficient outside), without its loop and without asking the policy again."""
    return Mul(p.coeff, {p if p.coeff == 1 else p.with_number(1): 1, b: 1})


def pow(b: Expr, e: Expr) -> Expr | None:
    """Canonical power: integer exponents go into Mul; anything else is a pow Term (None)."""
    nb, ne = as_number(b), as_number(e)
    if nb is not None and ne is not None:
        return Const(_tidy(num_pow(nb, ne)))
    if ne is None:
        return None
    ie = integral(ne)
    if ie is None:
        return None
    if ie == 0:
        return Const(1)
    if ie == 1:
        return b
    if type(b) is Mul:
        limit = MERGE_LIMIT.get()
        if limit is not None and is_product(b) and kept_whole(b, limit):
            # p**k of a product kept whole: one base, coefficient outside (p·p is p², as mul)
            return make_mul(num_pow(b.coeff, ie), {b if b.coeff == 1 else b.with_number(1): ie})
        return make_mul(num_pow(b.coeff, ie), {k: v * ie for k, v in b.bases.items()})
    return make_mul(1, {b: ie})


def neg(a: Expr) -> Expr:
    return mul(Const(-1), a)


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, mul(Const(-1), b))


def div(a: Expr, b: Expr) -> Expr:
    return mul(a, _pow_or_term(b, Const(-1)))


def _pow_or_term(b: Expr, e: Expr) -> Expr:
    r = pow(b, e)
    return r if r is not None else Term(get_op("pow"), (b, e))
