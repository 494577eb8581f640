"""Gathers with constant indices: take, fancy indexing with constant integer arrays, constant
boolean masks, diag / triu / tril, split.

`Take(axis)` reads `A` through a constant integer array (one ArrayConst argument — never an index
per element in the term): out[..., j, ...] = A[..., I[j], ...]. A constant boolean mask is its
nonzero indices; diag reads the flat diagonal; triu/tril select with a constant mask. Indices
that depend on data are not array terms: they raise TracingError pointing to np.where.

Differentiation (issue 11): Take's VJP is a scatter-add of the cotangent into zeros at I (a
gather over the inverse table when I has no repeats); its JVP is Take of the tangent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import symnum.core.primitives as P
from symnum.arrays.ops_base import ArrayOp
from symnum.arrays.ops_index import _axes, as_array_operand, getitem, reshape, transpose
from symnum.arrays.ops_map import elementwise
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArrayTerm
from symnum.core.terms import Expr
from symnum.errors import ShapeError, TracingError, UnsupportedOperationError


@dataclass(frozen=True)
class Take(ArrayOp):
    """np.take(A, I, axis) with I a constant integer array (the second argument)."""

    axis: int
    name = "take"

    def infer(self, args):
        a, idx = args
        k = self.axis
        return a.shape[:k] + idx.shape + a.shape[k + 1:], a.dtype

    def impl(self, v, idx):
        return np.take(v, idx, axis=self.axis)

    def scalarize(self, elems):
        a, idx = elems
        ints = np.vectorize(lambda c: int(c.value), otypes=[np.int64])(idx) if idx.size else \
            np.zeros(idx.shape, np.int64)
        return np.take(a, ints, axis=self.axis)


def take(a: Any, indices: Any, axis: Any = None) -> ArrayExpr:
    """np.take with constant indices (axis None: of the flattened array)."""
    a = as_array_operand(a, "take")
    if isinstance(indices, (ArrayExpr, Expr)):
        raise TracingError("take with symbolic indices depends on data; use np.where(cond, a, "
                           "b) to select, or constant indices")
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise UnsupportedOperationError(f"take needs integer indices, got dtype {idx.dtype}")
    if axis is None:
        a, axis = reshape(a, (a.size,)), 0
    (axis,) = _axes(axis, a.ndim, "take")
    n = a.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ShapeError(f"take: an index is out of bounds for axis {axis} with size {n} "
                         f"(array of shape {a.shape})")
    idx = np.where(idx < 0, idx + n, idx).astype(np.int64)
    if idx.ndim == 0:
        return getitem(a, (slice(None),) * axis + (int(idx),))
    return ArrayTerm(Take(axis), (a, ArrayConst(idx)))


def fancy_getitem(x: ArrayExpr, key: tuple) -> ArrayExpr:
    """x[key] where one entry is a constant integer array or boolean mask and the others are
    basic (ints, slices, None): the basic part first, then one Take (numpy's placement of the
    indexed axes when there is a single index array)."""
    arrays = [j for j, k in enumerate(key) if isinstance(k, (np.ndarray, list))]
    if len(arrays) != 1 or any(k is Ellipsis or _is_int(k) for k in key):
        return multi_getitem(x, key)  # ints next to an index array are indices too (numpy)
    (p,) = arrays
    idx = np.asarray(key[p])
    if idx.dtype == bool and idx.ndim > 1:
        if len(key) != 1 or idx.shape != x.shape[:idx.ndim]:
            raise ShapeError(f"boolean index of shape {idx.shape} does not match the leading "
                             f"axes of an array of shape {x.shape}")
        flat = reshape(x, (int(np.prod(idx.shape)),) + x.shape[idx.ndim:])
        return take(flat, np.flatnonzero(idx), 0)
    if idx.dtype == bool:
        axis_in = sum(1 for k in key[:p] if k is not None)
        if axis_in >= x.ndim or idx.shape[0] != x.shape[axis_in]:
            raise ShapeError(f"boolean index of length {idx.shape[0]} does not match axis "
                             f"{axis_in} of an array of shape {x.shape}")
        idx = np.flatnonzero(idx)
    basic = key[:p] + (slice(None),) + key[p + 1:]
    y = getitem(x, basic)
    axis = sum(1 for k in key[:p] if not isinstance(k, (int, np.integer)))
    return take(y, idx, axis)


def _expand_key(x: ArrayExpr, key: tuple) -> list:
    """The key with '...' spelled out, boolean arrays as their nonzero() integer arrays, and
    lists as arrays (numpy's rules)."""
    out: list = []
    for k in key:
        if isinstance(k, list):
            k = np.asarray(k)
            if k.dtype == object or (k.size == 0 and k.dtype.kind == "f"):
                k = k.astype(np.int64)
        if isinstance(k, np.ndarray) and k.dtype == bool:
            out.extend(np.nonzero(k) if k.ndim else [np.asarray(int(k))])
        else:
            out.append(k)
    if sum(k is Ellipsis for k in out) > 1:
        raise ShapeError("an index can only have a single ellipsis ('...')")
    used = sum(1 for k in out if k is not None and k is not Ellipsis)
    if used > x.ndim:
        raise ShapeError(f"too many indices for a symbolic array of shape {x.shape}: {used} "
                         "given")
    if Ellipsis in [k for k in out if not isinstance(k, np.ndarray)]:
        j = next(i for i, k in enumerate(out) if k is Ellipsis)
        out[j:j + 1] = [slice(None)] * (x.ndim - used)
    return out


def multi_getitem(x: ArrayExpr, key: tuple) -> ArrayExpr:
    """x[key] with several constant index arrays (and ints, slices, None, '...'), numpy's
    advanced indexing: the index arrays broadcast together to a shape B; their axes gather
    through one linear index (a Take over those axes flattened); B takes the place of the
    first indexed axis when the indexed axes are adjacent, else comes first."""
    key = _expand_key(x, key)
    adv = [j for j, k in enumerate(key) if isinstance(k, np.ndarray) or _is_int(k)]
    for j in adv:
        if isinstance(key[j], np.ndarray) and key[j].dtype.kind not in "iu":
            raise UnsupportedOperationError(f"cannot index a symbolic array with an array of "
                                            f"dtype {key[j].dtype}; use integers or booleans")
    try:
        idx = np.broadcast_arrays(*[np.asarray(key[j], dtype=np.int64) for j in adv])
    except ValueError:
        raise ShapeError("indexing: the index arrays' shapes "
                         f"{[np.shape(key[j]) for j in adv]} do not broadcast together") from None
    # the basic part first: every indexed axis kept whole, at its place in the result
    y = getitem(x, tuple(slice(None) if j in adv else k for j, k in enumerate(key)))
    axis_of, pos = {}, 0
    for j, k in enumerate(key):
        if j in adv:
            axis_of[j] = pos
        if k is None or j in adv or isinstance(k, slice):
            pos += 1
    front = [axis_of[j] for j in adv]
    rest = [a for a in range(y.ndim) if a not in front]
    sizes = [y.shape[a] for a in front]
    for j, n, ix in zip(adv, sizes, idx):
        if ix.size and (ix.min() < -n or ix.max() >= n):
            raise ShapeError(f"index {int(ix.min() if ix.min() < -n else ix.max())} is out of "
                             f"bounds for axis {sum(1 for k in key[:j] if k is not None)} with "
                             f"size {n} (array of shape {x.shape})")
    lin = np.ravel_multi_index(tuple(np.where(ix < 0, ix + n, ix) for ix, n in zip(idx, sizes)),
                               sizes) if sizes else np.zeros((), np.int64)
    y = transpose(y, tuple(front + rest)) if front + rest != list(range(y.ndim)) else y
    flat = reshape(y, (int(np.prod(sizes)),) + tuple(y.shape[len(front):]))
    out = take(flat, lin, 0)  # shape B + rest
    adjacent = adv == list(range(adv[0], adv[-1] + 1))
    before = sum(1 for a in rest if a < front[0]) if adjacent else 0
    if before:  # B goes where the first indexed axis was
        nb = lin.ndim
        order = (tuple(range(nb, nb + before)) + tuple(range(nb)) +
                 tuple(range(nb + before, out.ndim)))
        out = transpose(out, order)
    return out


def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, bool)


def diag(v: Any, k: int = 0) -> ArrayExpr:
    """np.diag: the diagonal of a matrix (a gather), or a matrix with v on its diagonal."""
    v = as_array_operand(v, "diag")
    if v.ndim == 2:
        r, c = v.shape
        rows = np.arange(max(0, -k), min(r, c - k)) if min(r, c - k) > max(0, -k) else \
            np.zeros(0, np.int64)
        return take(reshape(v, (r * c,)), rows * c + rows + k)
    if v.ndim == 1:
        n = v.shape[0] + abs(k)
        src = take(v, np.clip(np.arange(n), 0, v.shape[0] - 1))
        # out[i, i + k] = v[i] for k ≥ 0 (the value follows the row), out[j − k, j] = v[j] below
        along = src[:, None] if k >= 0 else src[None, :]
        return elementwise(lambda m, a: P.ifelse(m, a, 0.0), [np.eye(n, k=k, dtype=bool), along],
                           "diag")
    raise ShapeError(f"diag needs a 1-D or 2-D array, got shape {v.shape}")


def _tri(m: Any, k: int, upper: bool) -> ArrayExpr:
    m = as_array_operand(m, "triu" if upper else "tril")
    if m.ndim < 2:
        raise ShapeError(f"{'triu' if upper else 'tril'} needs at least 2 dimensions, got "
                         f"shape {m.shape}")
    r, c = m.shape[-2:]
    mask = ~np.tri(r, c, k - 1, dtype=bool) if upper else np.tri(r, c, k, dtype=bool)
    return elementwise(lambda mk, a: P.ifelse(mk, a, 0.0), [mask, m],
                       "triu" if upper else "tril")


def triu(m: Any, k: int = 0) -> ArrayExpr:
    return _tri(m, k, True)


def tril(m: Any, k: int = 0) -> ArrayExpr:
    return _tri(m, k, False)


def split(a: Any, indices_or_sections: Any, axis: int = 0, strict: bool = True) -> list:
    """np.split / np.array_split: a list of slices (each one Index term)."""
    a = as_array_operand(a, "split")
    (axis,) = _axes(axis, a.ndim, "split")
    n = a.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        s = int(indices_or_sections)
        if s <= 0:
            raise ShapeError("split: the number of sections must be positive")
        if strict and n % s:
            raise ShapeError(f"split: an axis of size {n} does not divide into {s} equal "
                             "sections (np.array_split allows unequal ones)")
        sizes = [n // s + (1 if j < n % s else 0) for j in range(s)]
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    pre = (slice(None),) * axis
    return [getitem(a, pre + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def repeat(a: Any, repeats: Any, axis: Any = None) -> ArrayExpr:
    """np.repeat with constant repeat counts: a gather."""
    a = as_array_operand(a, "repeat")
    if axis is None:
        a, axis = reshape(a, (a.size,)), 0
    (axis,) = _axes(axis, a.ndim, "repeat")
    reps = np.broadcast_to(np.asarray(repeats, dtype=np.int64), (a.shape[axis],))
    if (reps < 0).any():
        raise ShapeError("repeat: negative repeat counts")
    return take(a, np.repeat(np.arange(a.shape[axis]), reps), axis)
