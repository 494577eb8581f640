"""Estrin forms of univariate polynomial sums, offered to the e-graph next to Horner's.

Horner's scheme is one chain of n dependent fused multiply-adds for degree n; Estrin's splits
the coefficients in halves around x^m (m the largest power of two below the length) and
evaluates both halves independently: p = fma(p_hi, x^m, p_lo), recursively, so the chain is
about log₂(n) fmas plus the squarings x², x⁴, … — a few more operations, a much shorter
critical path. Which one wins is the extractor's decision under the critical-path-aware cost
(rewrites/eg_extract.py, rewrites/costs.py `KernelCost`): only a latency-aware model can prefer
it. Offered for univariate sums (every monomial a literal coefficient times a power of the same
term x) of degree ≥ MIN_DEGREE. Exact on the reals; rounding differs (as with any
reassociation). Builds terms in tree mode; never imports egglog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symnum.rewrites.horner import monomials

from symnum.core.build import tree_mode
from symnum.core.interface import maketerm
from symnum.core.primitives import add_op, fma_op, mul_op, pow_op
from symnum.core.terms import Const, Term
from symnum.core.traversal import postorder

MIN_DEGREE = 6  # below this Horner's chain is short already; whether a longer one is worth
#                breaking up is the cost model's decision (a chain of ≥ ~40 fmas, single or
#                across nested polynomials: results_issue16.md §5.1)


def _estrin(coefs: list, x: Any, powers: dict[int, Any]) -> Any | None:
    """Σ coefs[k]·x^k (None entries are zero) in Estrin's scheme; None when all are zero."""
    n = len(coefs)
    if n == 1:
        return coefs[0]
    m = 1
    while 2 * m < n:
        m *= 2
    lo = _estrin(coefs[:m], x, powers)
    hi = _estrin(coefs[m:], x, powers)
    if hi is None:
        return lo
    xm = powers.get(m)
    if xm is None:
        xm = powers[m] = x if m == 1 else maketerm(Term, pow_op, [x, Const(m)], None)
    if lo is None:
        return maketerm(Term, mul_op, [hi, xm], None)
    if type(hi) is Const and hi.value == 1:
        return maketerm(Term, add_op, [xm, lo], None)
    return maketerm(Term, fma_op, [hi, xm, lo], None)


def estrin_form(t: Any, min_degree: int = MIN_DEGREE) -> Any | None:
    """Estrin's form of a univariate polynomial sum of degree ≥ `min_degree`, else None.

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> print(estrin_form(sum((k + 1) * x**k for k in range(7))))
    fma(fma(7, x^2, fma(6, x, 5)), x^4, fma(fma(4, x, 3), x^2, fma(2, x, 1)))
    """
    found = monomials(t)
    if found is None:
        return None
    ms, var = found
    if len(var) != 1:
        return None
    (vid, x), = var.items()
    degree = max(p.get(vid, 0) for _, p in ms)
    if degree < min_degree:
        return None
    coefs: list = [None] * (degree + 1)
    for coef, p in ms:
        k = p.get(vid, 0)
        if coefs[k] is not None:
            return None  # not canonical (two monomials of one degree): left alone
        coefs[k] = Const(1) if coef is None else coef
    with tree_mode():
        return _estrin(coefs, x, {})


def estrin_forms(roots: Sequence[Any]) -> list[tuple[Any, Any]]:
    """(sum, its Estrin form) for every univariate polynomial sum reachable from `roots`."""
    out = []
    for n in postorder(list(roots)):
        e = estrin_form(n)
        if e is not None:
            out.append((n, e))
    return out


__all__ = ["MIN_DEGREE", "estrin_form", "estrin_forms"]
