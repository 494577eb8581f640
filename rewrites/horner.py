"""Horner forms of polynomial sums, offered to the e-graph as alternatives (not imposed).

A canonical sum of monomials c·x₁^k₁·x₂^k₂·… (any non-numeric factor counts as a variable: a
symbol, sin(t), a shared subterm) is rewritten by factoring out a variable of degree ≥ 2 and
then the same variable down to degree 1: p = p₀ + x·p₁ with p₀ the monomials without x,
emitted as fma(x, p₁, p₀) — univariate polynomials come out as the textbook Horner scheme (n fused
multiply-adds for degree n instead of n products, n additions and a power chain), multivariate
ones as nested Horner in each variable in turn. LLVM cannot find this itself (it reassociates
floating-point sums only under fast-math). The e-graph bridge encodes each form next to the sum
it came from and unions the two, so the DAG-aware extractor keeps it only where it is cheaper —
factoring can break sharing between outputs (Jacobian entries that reuse one product), which
the extractor weighs. Exact on the reals; rounding differs (as with any reassociation). Builds
terms in tree mode; never imports egglog.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from symnum.core.build import tree_mode
from symnum.core.interface import arguments, iscall, maketerm, operation
from symnum.core.primitives import add_op, fma_op, mul_op, pow_op
from symnum.core.terms import Const, Term
from symnum.core.traversal import postorder
from symnum.rules.predicates import integer_value, is_literal

MAX_MONOMIALS = 64  # beyond this a sum is left to the e-graph's own factoring (cost: k² here)

Monomial = tuple  # (coefficient term or None, Counter variable id → exponent)


def _monomial(t: Any, var: dict[int, Any]) -> Monomial | None:
    coef: list = []
    powers: Counter = Counter()
    factors = arguments(t) if iscall(t) and operation(t) is mul_op else [t]
    for f in factors:
        if is_literal(f):
            coef.append(f)
            continue
        base, k = f, 1
        if iscall(f) and operation(f) is pow_op:
            n = integer_value(arguments(f)[1])
            if n is not None and n > 0:
                base, k = arguments(f)[0], n
        var[id(base)] = base
        powers[id(base)] += k
    if len(coef) > 1:
        return None  # canonical products hold one coefficient; anything else is left alone
    return (coef[0] if coef else None, powers)


def _term(m: Monomial, var: dict[int, Any]) -> Any:
    coef, powers = m
    parts = [] if coef is None else [coef]
    for v in var:  # first-seen order: the same input gives the same term
        k = powers.get(v, 0)
        if k == 0:
            continue
        b = var[v]
        parts.append(b if k == 1 else maketerm(Term, pow_op, [b, Const(k)], None))
    if not parts:
        return Const(1)
    acc = parts[0]
    for p in parts[1:]:
        acc = maketerm(Term, mul_op, [acc, p], None)
    return acc


def _sum(ts: list) -> Any:
    acc = ts[0]
    for t in ts[1:]:
        acc = maketerm(Term, add_op, [acc, t], None)
    return acc


def _horner(ms: list, var: dict[int, Any], prefer: int | None = None) -> Any:
    """Factor out a variable of degree ≥ 2 (the highest degree, then the most monomials), and
    keep factoring the same variable down to degree 1 — a polynomial nesting. Sums that are
    linear in every variable (bilinear mass-action terms) stay sums: factoring them only
    trades independent products for a chain of fmas, which measured slower (results §4)."""
    if len(ms) == 1:
        return _term(ms[0], var)
    counts: Counter = Counter()
    degree: Counter = Counter()
    for _, powers in ms:
        for v, k in powers.items():
            if k > 0:
                counts[v] += 1
                degree[v] = max(degree[v], k)
    if prefer is not None and counts.get(prefer):
        v = prefer
    else:
        rank = {v: i for i, v in enumerate(var)}
        cands = [v for v in counts if degree[v] >= 2]
        if not cands:
            return _sum([_term(m, var) for m in ms])
        v = max(cands, key=lambda u: (degree[u], counts[u], -rank[u]))
    with_v, without = [], []
    for coef, powers in ms:
        if powers.get(v, 0) > 0:
            p = Counter(powers)
            p[v] -= 1
            if p[v] == 0:
                del p[v]
            with_v.append((coef, p))
        else:
            without.append((coef, powers))
    inner = _horner(with_v, var, v)
    x = var[v]
    rest = _horner(without, var) if without else None
    if type(inner) is Const and inner.value == 1:
        return x if rest is None else maketerm(Term, add_op, [x, rest], None)
    if rest is None:
        return maketerm(Term, mul_op, [x, inner], None)
    return maketerm(Term, fma_op, [x, inner, rest], None)


def monomials(t: Any) -> tuple[list, dict[int, Any]] | None:
    """A sum of 3 … MAX_MONOMIALS monomials as ([(coefficient, {variable id: power})],
    {variable id: variable}), or None (not a sum, too few or many terms, a term that is not a
    monomial). Horner's and Estrin's forms both start here."""
    if not (iscall(t) and operation(t) is add_op):
        return None
    args = arguments(t)
    if not 3 <= len(args) <= MAX_MONOMIALS:
        return None
    var: dict[int, Any] = {}
    ms = []
    for a in args:
        m = _monomial(a, var)
        if m is None:
            return None
        ms.append(m)
    return ms, var


def horner_form(t: Any) -> Any | None:
    """The Horner form of a canonical sum of monomials, or None when it has none worth offering
    (fewer than three monomials, no variable of degree ≥ 2 overall, or too many monomials).

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> print(horner_form(3*x**3 + 2*x**2 + x + 5))
    fma(x, fma(x, fma(x, 3, 2), 1), 5)
    """
    found = monomials(t)
    if found is None:
        return None
    ms, var = found
    if max((k for _, p in ms for k in p.values()), default=0) < 2:
        return None  # linear in every variable: nothing to nest
    with tree_mode():
        return _horner(ms, var)


def horner_forms(roots: Sequence[Any]) -> list[tuple[Any, Any]]:
    """(sum, its Horner form) for every polynomial sum reachable from `roots`."""
    out = []
    for n in postorder(list(roots)):
        h = horner_form(n)
        if h is not None:
            out.append((n, h))
    return out


__all__ = ["horner_form", "horner_forms"]
