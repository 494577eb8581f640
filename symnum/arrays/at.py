"""Functional index updates on array terms, JAX's spelling: `x.at[key].set(v)`, `.add(v)`,
`.multiply(v)`, `.get()` — a new array term equal to numpy's `y = x.copy(); y[key] = v`
(`y[key] += v`, `y[key] *= v`), since an array term cannot be written into.

Sits beside symnum.arrays.numpy_api (which attaches `.at` to ArrayExpr). No new term type: the
constant key becomes constant index tables (a mask and an inverse gather), and the update is
`where(mask, take(v, inverse), x)` — existing operations, so derivatives, scalarize and the
loop lowering follow. Keys must be constants (ints, slices, None, '...', constant integer or
boolean arrays); `set` with repeated positions keeps the last value (numpy's order), `add` and
`multiply` refuse repeated positions (numpy's `y[key] += v` would not accumulate either).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import symnum.arrays.ops_gather as G
import symnum.arrays.ops_index as IX
import symnum.core.primitives as P
from symnum.arrays.ops_map import elementwise
from symnum.arrays.terms import ArrayExpr
from symnum.core.terms import Expr
from symnum.errors import ShapeError, TracingError, UnsupportedOperationError


class _At:
    __slots__ = ("x",)

    def __init__(self, x: ArrayExpr):
        self.x = x

    def __getitem__(self, key: Any) -> _AtIndex:
        return _AtIndex(self.x, key)


class _AtIndex:
    __slots__ = ("x", "key")

    def __init__(self, x: ArrayExpr, key: Any):
        self.x, self.key = x, key

    def get(self) -> Any:
        return self.x[self.key]

    def set(self, v: Any) -> ArrayExpr:
        return update(self.x, self.key, v, "set")

    def add(self, v: Any) -> ArrayExpr:
        return update(self.x, self.key, v, "add")

    def multiply(self, v: Any) -> ArrayExpr:
        return update(self.x, self.key, v, "multiply")


def at(x: ArrayExpr) -> _At:
    """`x.at`: the functional index-update helper of an array term."""
    return _At(x)


def _positions(x: ArrayExpr, key: Any) -> np.ndarray:
    keys = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, (ArrayExpr, Expr)) for k in keys):
        raise TracingError("x.at[key] with a symbolic key depends on data; use np.where(mask, "
                           "new, x) with a mask you can compute, or constant keys")
    try:
        return np.asarray(np.arange(x.size).reshape(x.shape)[key])
    except IndexError as e:
        raise ShapeError(f"x.at[{key!r}] on an array of shape {x.shape}: {e}") from None


def update(x: Any, key: Any, v: Any, how: str) -> ArrayExpr:
    """`x` with the positions `key` set to (or added to, multiplied by) `v`, as numpy's
    in-place update of a copy would leave them."""
    x = IX.as_array_operand(x, f"at[].{how}")
    pos = _positions(x, key)
    flat = pos.ravel()
    if flat.size == 0:
        return x
    if how != "set" and len(np.unique(flat)) != flat.size:
        raise UnsupportedOperationError(f"x.at[key].{how} with repeated positions has no "
                                        "array-term rule; use distinct positions")
    v = IX.as_array_operand(v, f"at[].{how}")
    try:
        v = IX.broadcast_to(v, pos.shape) if v.shape != pos.shape else v
    except ShapeError:
        raise ShapeError(f"x.at[key].{how}: a value of shape {v.shape} does not broadcast to "
                         f"the indexed shape {pos.shape}") from None
    mask = np.zeros(x.size, bool)
    mask[flat] = True
    inverse = np.zeros(x.size, np.int64)
    inverse[flat] = np.arange(flat.size)  # repeated positions: the last one wins, as numpy
    spread = IX.reshape(G.take(IX.reshape(v, (flat.size,)), inverse), x.shape)
    body = {"set": lambda m, a, b: P.ifelse(m, b, a),
            "add": lambda m, a, b: P.ifelse(m, P.add(a, b), a),
            "multiply": lambda m, a, b: P.ifelse(m, P.mul(a, b), a)}[how]
    return elementwise(body, [mask.reshape(x.shape), x, spread], f"at[].{how}")
