"""Segmented scans along one axis: the forward fill of segment starts and its transpose.

`SegmentScan(kind, axis)` applied to (values, starts), both of one shape. Along `axis` the array
is cut into segments: a segment begins at every position where `starts` is non-zero, and at
position 0 always (so `starts[..., 0]` is never read). Then, with first(k) the beginning of the
segment holding k:

* kind "fill":    out_k = values_{first(k)} — each segment takes its first value (a forward fill;
  the first-order recurrence h_k = values_k if k begins a segment else h_{k−1}).
* kind "collect": out_k = Σ_{j: first(j) = k} values_j where k begins a segment, 0 elsewhere —
  each segment's sum at its beginning (a reverse segmented sum, read at the segment starts).

Both are linear in `values` and each is the other's transpose (fill's matrix has a 1 at
(k, first(k)); collect's is its transpose), which is what reverse mode needs: O(n) work, O(1)
terms. `starts` is a mask: the output is piecewise constant in it, so its derivative is zero
(JAX's convention for comparisons). cummax / cummin differentiate through these
(symnum.autodiff.array_scan_rules): ẏ_k = ẋ_{p(k)} is a fill of ẋ over the runs of one running
maximum, x̄ a collect of ȳ.

The reference semantics are whole-array numpy (np.maximum.accumulate of the start positions and
take_along_axis; np.add.reduceat over the segments) — never a Python loop over elements. Sits
beside ops_reduce's scans; builds no per-element term except in `scalarize`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import symnum.core.primitives as P
from symnum.arrays.ops_base import ArrayOp, float_dtype
from symnum.arrays.ops_index import _axes, as_array_operand
from symnum.arrays.terms import ArrayExpr, ArrayTerm
from symnum.errors import ShapeError, UnsupportedOperationError

KINDS = ("fill", "collect")


def _begins(starts: np.ndarray) -> np.ndarray:
    """Where segments begin (axis last): starts ≠ 0, and position 0."""
    b = np.asarray(starts) != 0
    if b.shape[-1]:
        b[..., 0] = True
    return b


@dataclass(frozen=True)
class SegmentScan(ArrayOp):
    """fill / collect over the segments that `starts` marks along `axis` (module docstring)."""

    kind: str
    axis: int
    name = "segment_scan"

    def infer(self, args):
        values, starts = args
        if tuple(values.shape) != tuple(starts.shape):
            raise ShapeError(f"segment {self.kind}: values of shape {values.shape} and starts "
                             f"of shape {starts.shape} differ; pass starts of the values' shape")
        return values.shape, float_dtype(values.dtype)

    def impl(self, values, starts):
        v = np.moveaxis(np.asarray(values, dtype=float_dtype(np.asarray(values).dtype.name)),
                        self.axis, -1)
        b = _begins(np.moveaxis(np.asarray(starts), self.axis, -1))
        n = v.shape[-1]
        if v.size == 0:
            out = np.zeros(v.shape, v.dtype)
        elif self.kind == "fill":
            first = np.maximum.accumulate(np.where(b, np.arange(n), 0), axis=-1)
            out = np.take_along_axis(v, first, axis=-1)
        else:
            flat = np.ascontiguousarray(v).reshape(-1)
            at = np.flatnonzero(b.reshape(-1))  # every row's position 0 is among them
            out = np.zeros(flat.shape, v.dtype)
            out[at] = np.add.reduceat(flat, at)
            out = out.reshape(v.shape)
        return np.moveaxis(out, -1, self.axis)

    def scalarize(self, elems):
        v = np.moveaxis(elems[0], self.axis, -1)
        s = np.moveaxis(elems[1], self.axis, -1)
        out = np.empty(v.shape, dtype=object)
        n = v.shape[-1]
        for idx in np.ndindex(v.shape[:-1]):
            def begins(k, idx=idx):
                return True if k == 0 else P.ne(s[idx + (k,)], 0.0)
            if self.kind == "fill":
                for k in range(n):
                    out[idx + (k,)] = v[idx + (k,)] if k == 0 else \
                        P.ifelse(begins(k), v[idx + (k,)], out[idx + (k - 1,)])
                continue
            tail = None  # Σ of values from k to the end of k's segment
            for k in reversed(range(n)):
                tail = v[idx + (k,)] if tail is None else \
                    P.add(v[idx + (k,)], P.ifelse(begins(k + 1), 0.0, tail))
                out[idx + (k,)] = tail if k == 0 else P.ifelse(begins(k), tail, 0.0)
        return np.moveaxis(out, -1, self.axis)


def segment_scan(kind: str, values: Any, starts: Any, axis: int = -1) -> ArrayExpr:
    """fill or collect of `values` over the segments `starts` marks along `axis`.

    >>> import numpy as np
    >>> from symnum.arrays.terms import ArrayConst
    >>> from symnum.arrays.evaluate import evaluate_array
    >>> v, s = ArrayConst(np.array([1., 2., 3., 4.])), ArrayConst(np.array([0., 0., 1., 0.]))
    >>> evaluate_array(segment_scan("fill", v, s)), evaluate_array(segment_scan("collect", v, s))
    (array([1., 1., 3., 3.]), array([3., 0., 7., 0.]))
    """
    if kind not in KINDS:
        raise UnsupportedOperationError(f"no segment scan named {kind!r}; use one of {KINDS}")
    values = as_array_operand(values, f"segment {kind}")
    starts = as_array_operand(starts, f"segment {kind}")
    if values.ndim == 0:
        raise ShapeError(f"segment {kind} runs along an axis; got a 0-d array")
    (axis,) = _axes(axis, values.ndim, f"segment {kind}")
    return ArrayTerm(SegmentScan(kind, axis), (values, starts))
