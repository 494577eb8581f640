"""expand and flatten: multiply out products and powers of sums, and merge back the sums and
products that the merge policy kept whole (symnum.core.merge), with a size limit.

Sits in the core above symnum.core.canonical, whose constructors it uses (under no merge bound);
canonical never imports it. It must never build an intermediate it has not sized first: a
result over `max_terms` monomials (entries) raises SizeLimitError before the work.
"""

from __future__ import annotations

import math

from symnum.core._gc import no_gc
from symnum.core.build import as_number
from symnum.core.canonical import _sum, _tidy, make_add, make_mul, num_pow
from symnum.core.merge import has_form_entry, merge_limit
from symnum.core.terms import Add, Const, Expr, Mul, Number
from symnum.core.traversal import postwalk
from symnum.errors import SizeLimitError

# ---------------------------------------------------------------------------------------------
# expand: distribute products and positive integer powers over sums


# A polynomial while expanding: {monomial: coefficient}, a monomial being a frozenset of
# (base, exponent) pairs. Working on plain dicts and interning only the final terms makes
# expansion ~10x faster than building every intermediate product as a term.
Poly = dict


def _monomial_of(t: Expr) -> tuple[frozenset, Number]:
    if type(t) is Mul:
        return frozenset(t.bases.items()), t.coeff
    return frozenset(((t, 1),)), 1


# expand's default bound on the number of monomials of one expanded node: (x + 1)**10**6 must
# fail at once with a clear error rather than run out of time or memory
MAX_EXPAND_TERMS = 100_000


def _too_big(n: int, limit: int, what: str) -> SizeLimitError:
    return SizeLimitError(
        f"expand would build {what} with up to {n:,} monomials (the limit is {limit:,}); pass "
        "max_terms=... to expand if you really want it, or leave the power unexpanded")


def _poly(a: Expr, limit: int) -> Poly:
    """`a` as a polynomial over its non-sum factors (sums inside Mul bases are multiplied out)."""
    if type(a) is Add:
        p: Poly = {frozenset(): a.const} if a.const != 0 else {}
        for t, c in a.terms.items():
            for m, mc in _poly(t, limit).items():
                p[m] = p.get(m, 0) + c * mc
        return p
    if type(a) is Mul:
        p = {frozenset(): a.coeff}
        for b, e in a.bases.items():
            if type(b) is Add and e > 0:
                pb = _poly(b, limit)
                # a power of a k-term sum has up to C(e + k - 1, k - 1) monomials: check first
                if len(pb) > 1 and math.comb(e + len(pb) - 1, len(pb) - 1) > limit:
                    bound = min(math.comb(e + len(pb) - 1, len(pb) - 1), 10**18)
                    raise _too_big(bound, limit, f"a power ({e}) of a {len(pb)}-term sum")
                for _ in range(e):
                    p = _poly_mul(p, pb, limit)
            else:
                p = _poly_mul(p, {frozenset(((b, e),)): 1}, limit)
        return p
    n = as_number(a)
    if n is not None:
        return {frozenset(): n}
    return {frozenset(((a, 1),)): 1}


def _poly_mul(p: Poly, q: Poly, limit: int) -> Poly:
    if len(p) * len(q) > limit and len(p) > 1 and len(q) > 1:
        # the product may still collapse, but its monomials must be formed first: bound that
        raise _too_big(len(p) * len(q), limit, "a product")
    out: Poly = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            if not m1:
                m = m2
            elif not m2:
                m = m1
            else:
                d = dict(m1)
                for b, e in m2:
                    d[b] = d.get(b, 0) + e
                m = frozenset((b, e) for b, e in d.items() if e != 0)
            out[m] = out.get(m, 0) + c1 * c2
    return out


def _from_poly(p: Poly) -> Expr:
    const = p.pop(frozenset(), 0)
    terms: dict = {}
    for m, c in p.items():
        key = make_mul(1, dict(m))
        terms[key] = terms.get(key, 0) + c
    return make_add(const, terms)


def _expand_node(t: Expr, limit: int) -> Expr:
    f = _flatten_node(t, limit)  # products kept whole by the merge policy are multiplied in
    if f is not None:
        t = f
    if type(t) is Mul and any(type(b) is Add and e > 0 for b, e in t.bases.items()):
        return _from_poly(_poly(t, limit))
    if type(t) is Add and any(type(k) is Mul or type(k) is Add for k in t.terms):
        # (sums kept as one entry by the merge policy are multiplied out and flattened too)
        return _from_poly(_poly(t, limit))
    return t


@no_gc
def expand(e: Expr, max_terms: int = MAX_EXPAND_TERMS) -> Expr:
    """Multiply out products and positive integer powers of sums (every node, bottom up); the
    result's sums are flat (no merge bound: see `flatten`).

    Raises SizeLimitError, before doing the work, when one expanded node would have more than
    `max_terms` monomials.

    >>> import symnum as sn
    >>> a, b = sn.symbols("a b")
    >>> sn.expand((a + b) ** 2) is a**2 + 2*a*b + b**2
    True
    """
    with merge_limit(None):
        return postwalk(e, lambda t: _expand_node(t, max_terms))


def _flatten_node(t: Expr, limit: int) -> Expr | None:
    """`t` with the sums (products) it keeps whole merged in, one level (postwalk has flattened
    its children), under no merge bound; None when it keeps none."""
    tt = type(t)
    if (tt is not Add and tt is not Mul) or not has_form_entry(t):
        return None
    n = sum(len(k) if type(k) is tt else 1 for k in t.entry_keys())
    if n > limit:
        what = "sum" if tt is Add else "product"
        raise SizeLimitError(
            f"flatten would build a {what} of up to {n:,} entries (the limit is {limit:,}); "
            "pass max_terms=... if you really want it")
    if tt is Add:
        return _sum([(Const(t.const), 1)] + [(k, c) for k, c in reversed(t.entry_items())])
    coeff, bases = t.coeff, {}
    for b, e in t.entry_items():
        if type(b) is Mul:  # p^e: p's coefficient to the power e, its exponents times e
            coeff = coeff * num_pow(b.coeff, e)
            for k, v in b.entry_items():
                bases[k] = bases.get(k, 0) + v * e
        else:
            bases[b] = bases.get(b, 0) + e
    if coeff == 0:
        return Const(_tidy(coeff))
    return make_mul(coeff, bases)


@no_gc
def flatten(e: Expr, max_terms: int = MAX_EXPAND_TERMS) -> Expr:
    """Rebuild every sum and product with no merge bound (MERGE_LIMIT): sums (products) kept as
    one entry of another sum (product) are merged into it, giving the unique canonical form
    whatever the grouping. Sums of a
    program that reuses them (a Python-loop RK4) grow quadratically when flattened: a sum over
    `max_terms` entries raises SizeLimitError before it is built.

    >>> import symnum as sn
    >>> a, b = sn.symbols("a b")
    >>> flatten(a + b) is a + b
    True
    """
    with merge_limit(None):
        return postwalk(e, lambda t: _flatten_node(t, max_terms))
