"""Σ log → log Π within range guards: c·log a₁ + … + c·log a_k → c·log(a₁·…·a_k), only where
the product provably stays a normal double.

log a + log b = log(a·b) is exact on the reals wherever the left side is defined, but in
floating point a·b can overflow to inf or underflow to 0 (or lose digits as a subnormal) where
every log aᵢ is finite. So the rule fires only on arguments whose range it can prove from the
expression's shape (rewrites/intervals.py): each aᵢ ∈ [loᵢ, hiᵢ] with 0 < loᵢ and hiᵢ < ∞, and
the logs are grouped, in order, into chunks whose products of bounds stay inside
[10⁻²⁹⁰, 10²⁹⁰] (a wide margin inside the normal range 2.2·10⁻³⁰⁸ … 1.8·10³⁰⁸: the product's
relative error is then at most (k − 1) ulp, so the result's absolute error stays ≤ ~k·2⁻⁵³ — see
benchmarks/results_issue16.md §5 for the measured error). An argument with no provable positive
lower bound and finite upper bound (a Cauchy term γ² + (x − μ)², unbounded above) stays a log of
its own: the rule does not fire there. k logs become one log and k − 1 products.

Declared once in the rule language (symnum.rules.ruledef) as a classical rule over a sum's
arguments (a segment) with a Python guard; it is e-graph-relevant through the bridge's
alternatives hook (rewrites/egraph.py `_alternatives`): each sum it rewrites is encoded next to
the original and unioned with it, so the DAG-aware extractor keeps the product form only where it
is cheaper. Classical only as a rule (the guard reads whole terms); never imports egglog.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from symnum.rewrites.intervals import bounds

from symnum.core.interface import arguments, iscall, operation
from symnum.core.primitives import add, add_op, log, mul
from symnum.core.traversal import postorder
from symnum.rules.predicates import is_literal, literal_value, opname
from symnum.rules.rule import Bindings
from symnum.rules.ruledef import RULES, SEGMENT, classical_ruleset, rule

# a chunk's product of lower bounds stays ≥ 10^LOW and of upper bounds ≤ 10^HIGH
LOW, HIGH = -290.0, 290.0
MAX_TERMS = 4096  # sums with more arguments are left alone (grouping is linear and the
#                  interval analysis memoised; this only bounds the work per sum)


def _log_term(t: Any) -> tuple[float, Any] | None:
    """(c, a) when t is c·log(a) with a literal c (c = 1 for a bare log), else None."""
    if opname(t) == "log":
        return 1.0, arguments(t)[0]
    if opname(t) == "mul":
        args = arguments(t)
        if len(args) == 2:
            c, f = (args[0], args[1]) if is_literal(args[0]) else (args[1], args[0])
            if is_literal(c) and opname(f) == "log":
                v = literal_value(c)
                if not isinstance(v, bool) and math.isfinite(float(v)):
                    return float(v), arguments(f)[0]
    return None


def _chunks(args: list, memo: dict) -> list[list[int]]:
    """Greedy in order: runs of arguments (their positions) whose bounds' products stay in the
    safe range."""
    out: list[list[int]] = []
    cur: list[int] = []
    lo_sum = hi_sum = 0.0
    for j, a in enumerate(args):
        lo, hi = bounds(a, memo)
        if not (lo > 0.0 and math.isfinite(hi)):
            continue  # nothing provable: this log stays on its own
        l10, h10 = math.log10(lo), math.log10(hi)
        if l10 < LOW or h10 > HIGH:
            continue
        if cur and (lo_sum + l10 < LOW or hi_sum + h10 > HIGH):
            out.append(cur)
            cur, lo_sum, hi_sum = [], 0.0, 0.0
        cur.append(j)
        lo_sum += l10
        hi_sum += h10
    if cur:
        out.append(cur)
    return [c for c in out if len(c) >= 2]


def log_product_form(terms: Sequence[Any], memo: dict | None = None) -> Any | None:
    """The sum of `terms` with its guarded logs merged, or None when no chunk of ≥ 2 logs with
    one coefficient can be proved safe.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> print(log_product_form([sn.log(1 + sn.exp(-x**2)), sn.log(2 + sn.sin(y)), x]))
    log((exp(-x^2) + 1)*(sin(y) + 2)) + x
    >>> log_product_form([sn.log(1 + x**2), sn.log(1 + y**2)]) is None  # unbounded above
    True
    """
    if not 2 <= len(terms) <= MAX_TERMS:
        return None
    memo = {} if memo is None else memo
    groups: dict[float, list[tuple[int, Any]]] = {}
    for i, t in enumerate(terms):
        lt = _log_term(t)
        if lt is not None:
            groups.setdefault(lt[0], []).append((i, lt[1]))
    used: set[int] = set()
    merged = []
    for c, members in groups.items():
        if len(members) < 2:
            continue
        for chunk in _chunks([a for _, a in members], memo):
            used.update(members[j][0] for j in chunk)
            lg = log(mul(*[members[j][1] for j in chunk]))
            merged.append(lg if c == 1.0 else c * lg)
    if not merged:
        return None
    return add(*[t for i, t in enumerate(terms) if i not in used], *merged)


def _rewrite(b: Bindings) -> Any:
    return log_product_form([b["a"], *b["xs"]])


DEFS = [
    rule("log-sum-product", lambda a, xs=SEGMENT: (a + xs, _rewrite),
         sets=("logprod",), engines=RULES,
         doc="c·Σ log aᵢ → c·log Π aᵢ over chunks whose product provably stays a normal "
             "double (interval bounds from the expression's shape); classical as a rule, "
             "offered to the e-graph as an alternative by rewrites/egraph.py"),
]

LOGPROD = classical_ruleset("logprod", DEFS, __doc__ or "")


def log_product_forms(roots: Sequence[Any]) -> list[tuple[Any, Any]]:
    """(sum, its guarded log-product form) for every sum reachable from `roots` the rule
    rewrites (the alternatives the e-graph bridge unions)."""
    r = LOGPROD.rules[0]
    out = []
    for n in postorder(list(roots)):
        if iscall(n) and operation(n) is add_op:
            m = r(n)
            if m is not None and m is not n:
                out.append((n, m))
    return out


__all__ = ["DEFS", "LOGPROD", "log_product_form", "log_product_forms"]
