"""Derivative rules of the non-linear scans (issue 11): cumprod, cummax and cummin on array terms.

cumsum is linear (array_rules / array_jvp apply it to the tangent, a reversed cumsum to the
cotangent); the other three scans live here, beside each other, in forward, reverse and Taylor
form:

* cumprod: y = cumprod(x) ⇒ ẏ = y · cumsum(ẋ / x) and x̄ = revcumsum(ȳ · y) / x — O(1) terms and
  O(n) work, undefined (nan) where x has a zero, as the prod reduction's rule.
* cummax / cummin: ẏₖ = ẋ_{p(k)}, p(k) the FIRST position j ≤ k where x attains the running
  maximum (the scalar path's convention: maximum(acc, xₖ) sends a tie to its first argument).
  The selection is a Hillis–Steele scan of ⌈log₂ n⌉ levels, each a shifted copy and an
  elementwise choice: O(log n) terms and O(n log n) work, with no data-dependent gather (the
  array IR has none). The VJP is its transpose (the levels in reverse order).

Sits in the autodiff layer beside array_rules and array_jvp (which dispatch Scan here); never
evaluates anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import symnum.core.primitives as P
from symnum.arrays.ops_index import getitem, pad
from symnum.arrays.ops_map import elementwise
from symnum.arrays.ops_reduce import scan


def _rev(a: Any, axis: int) -> Any:
    return getitem(a, (slice(None),) * axis + (slice(None, None, -1),))


def revcumsum(a: Any, axis: int) -> Any:
    """Σ_{j ≥ k} a_j along `axis` (the transpose of cumsum)."""
    return _rev(scan("sum", _rev(a, axis), axis), axis)


def _padded(a: Any, s: int, axis: int, front: bool, fill: float = 0.0) -> tuple[Any, Any]:
    """(a[k − s], a[k]) for front=True, (a[k], a[k + s]) for front=False, `fill` outside, both
    read from ONE padded copy of a. A pad is a buffer in the loop lowering, so a level of the
    scan reads the previous level from memory instead of re-evaluating the chain of levels
    below it (which would cost O(levels) per element per level)."""
    n = a.shape[axis]
    b = pad(a, [((s, 0) if front else (0, s)) if q == axis else (0, 0) for q in range(a.ndim)],
            constant_values=fill)

    def part(lo):
        return getitem(b, (slice(None),) * axis + (slice(lo, lo + n),))

    return part(0), part(s)


def selection_levels(x: Any, kind: str, axis: int) -> list:
    """[(shift, choose-earlier mask)] of the Hillis–Steele scan for cummax/cummin of x: applying
    `t ← where(mask, t[k − shift], t)` level by level maps tᵢ to t_{p(i)}."""
    n = x.shape[axis]
    # the padding never wins the comparison (an input of ∓inf itself gets derivative 0 there)
    cmp, fill = (P.ge, -np.inf) if kind == "max" else (P.le, np.inf)
    levels, v, s = [], x, 1
    while s < n:
        vs, vk = _padded(v, s, axis, True, fill)
        mask = elementwise(lambda e, later: P.ifelse(cmp(e, later), 1.0, 0.0), [vs, vk],
                           f"cum{kind} selection")
        v = elementwise(lambda m, e, later: P.ifelse(P.gt(m, 0.5), e, later), [mask, vs, vk],
                        f"cum{kind} level")
        levels.append((s, mask))
        s *= 2
    return levels


def select(levels: list, t: Any, axis: int) -> Any:
    """t_{p(i)} for each i: the tangent (or a Taylor coefficient) carried through the levels."""
    for s, mask in levels:
        ts, tk = _padded(t, s, axis, True)
        t = elementwise(lambda m, e, later: P.ifelse(P.gt(m, 0.5), e, later), [mask, ts, tk],
                        "scan selection")
    return t


def select_transpose(levels: list, c: Any, axis: int) -> Any:
    """The transpose of `select`: the levels in reverse, each level's
    t_out[k] = m[k] ? t[k − s] : t[k] sending c[k]·(1 − m[k]) + c[k + s]·m[k + s] back to t[k]."""
    for s, mask in reversed(levels):
        mk, ms = _padded(mask, s, axis, False)
        ck, cs = _padded(c, s, axis, False)
        c = elementwise(lambda m0, c0, m1, c1: P.add(P.ifelse(P.gt(m0, 0.5), 0.0, c0),
                                                     P.ifelse(P.gt(m1, 0.5), c1, 0.0)),
                        [mk, ck, ms, cs], "scan selection transpose")
    return c


# ---------------------------------------------------------------------------------------------
# the rules (node n = Scan(kind, axis) applied to x)


def scan_jvp(n: Any, t: Any) -> Any:
    (x,), op = n.args, n.op
    if op.kind == "prod":
        return elementwise(lambda y, c: P.mul(y, c),
                           [n, scan("sum", elementwise(P.div, [t, x], "jvp cumprod"), op.axis)],
                           "jvp cumprod")
    return select(selection_levels(x, op.kind, op.axis), t, op.axis)


def scan_vjp(n: Any, ct: Any) -> Any:
    (x,), op = n.args, n.op
    if op.kind == "prod":
        w = elementwise(P.mul, [ct, n], "vjp cumprod")
        return elementwise(P.div, [revcumsum(w, op.axis), x], "vjp cumprod")
    return select_transpose(selection_levels(x, op.kind, op.axis), ct, op.axis)
