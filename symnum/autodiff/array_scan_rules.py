"""Derivative rules of the non-linear scans (issue 11): cumprod, cummax and cummin on array
terms, and of the segmented scans they use.

cumsum is linear (array_rules / array_jvp apply it to the tangent, a reversed cumsum to the
cotangent); the other three scans live here, beside each other, in forward, reverse and Taylor
form:

* cumprod: y = cumprod(x) ⇒ ẏ = y · cumsum(ẋ / x) and x̄ = revcumsum(ȳ · y) / x — O(1) terms and
  O(n) work, undefined (nan) where x has a zero, as the prod reduction's rule.
* cummax / cummin: ẏₖ = ẋ_{p(k)}, p(k) the FIRST position j ≤ k where x attains the running
  maximum (the scalar path's convention: maximum(acc, xₖ) sends a tie to its first argument).
  So the records — positions k with xₖ > y_{k−1} strictly (< for cummin), and k = 0 — cut the
  axis into segments of one running maximum each, and ẏ is the segment fill of ẋ
  (symnum.arrays.ops_segment), x̄ its transpose, the segment collect of ȳ: O(1) terms, O(n) work.
  y_{k−1} is read through a roll of y (its wrapped k = 0 entry is never read: a segment always
  begins there).
* the segment scans themselves are linear in their values and constant in their start mask:
  fill and collect are each other's transpose, and either applied to a tangent (or a Taylor
  coefficient) is its tangent.

Sits in the autodiff layer beside array_rules and array_jvp (which dispatch Scan and SegmentScan
here); never evaluates anything.
"""

from __future__ import annotations

from typing import Any

import symnum.core.primitives as P
from symnum.arrays.ops_index import getitem, roll
from symnum.arrays.ops_map import elementwise
from symnum.arrays.ops_reduce import scan
from symnum.arrays.ops_segment import SegmentScan
from symnum.arrays.terms import ArrayTerm


def _rev(a: Any, axis: int) -> Any:
    return getitem(a, (slice(None),) * axis + (slice(None, None, -1),))


def revcumsum(a: Any, axis: int) -> Any:
    """Σ_{j ≥ k} a_j along `axis` (the transpose of cumsum)."""
    return _rev(scan("sum", _rev(a, axis), axis), axis)


def records(n: Any) -> Any:
    """1.0 where x_k starts a new running maximum (minimum) of the scan node n = cummax(x):
    x_k > y_{k−1} strictly, so a tie stays with the earlier position. Entry k = 0 compares with
    the wrapped y_{n−1} and is never read (a segment begins at 0)."""
    (x,), op = n.args, n.op
    cmp = P.gt if op.kind == "max" else P.lt
    return elementwise(lambda v, p: P.ifelse(cmp(v, p), 1.0, 0.0), [x, roll(n, 1, op.axis)],
                       f"cum{op.kind} records")


def segment(kind: str, values: Any, starts: Any, axis: int) -> Any:
    return ArrayTerm(SegmentScan(kind, axis), (values, starts))


_TRANSPOSE = {"fill": "collect", "collect": "fill"}


# ---------------------------------------------------------------------------------------------
# the rules (node n = Scan(kind, axis) applied to x)


def scan_jvp(n: Any, t: Any) -> Any:
    (x,), op = n.args, n.op
    if op.kind == "prod":
        return elementwise(lambda y, c: P.mul(y, c),
                           [n, scan("sum", elementwise(P.div, [t, x], "jvp cumprod"), op.axis)],
                           "jvp cumprod")
    return segment("fill", t, records(n), op.axis)


def scan_vjp(n: Any, ct: Any) -> Any:
    (x,), op = n.args, n.op
    if op.kind == "prod":
        w = elementwise(P.mul, [ct, n], "vjp cumprod")
        return elementwise(P.div, [revcumsum(w, op.axis), x], "vjp cumprod")
    return segment("collect", ct, records(n), op.axis)


# ---------------------------------------------------------------------------------------------
# the segment scans' rules (node n = SegmentScan(kind, axis) applied to (values, starts))


def segment_jvp(n: Any, t: Any) -> Any:
    """The tangent of the values through the same scan (starts: zero derivative)."""
    return segment(n.op.kind, t, n.args[1], n.op.axis)


def segment_vjp(n: Any, ct: Any) -> Any:
    """The values' adjoint: the transposed scan of the cotangent over the same segments."""
    return segment(_TRANSPOSE[n.op.kind], ct, n.args[1], n.op.axis)
