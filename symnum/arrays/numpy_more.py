"""More numpy functions on array terms, each a composition of the existing array operations
(concatenate, reshape, transpose, flip, broadcast, take, fancy indexing): dstack,
column_stack, atleast_2d/3d, rot90, broadcast_arrays, take_along_axis, append,
delete, insert, kron, meshgrid, block, result_type.

Sits beside symnum.arrays.numpy_api, which merges MORE into its FUNCTIONS table. Adds no term
type and never evaluates: what these functions cannot express with constant arguments raises
UnsupportedOperationError (mode="auto" then traces the program in scalar mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import symnum.arrays.ops_gather as G
import symnum.arrays.ops_index as IX
import symnum.core.primitives as P
from symnum.arrays.ops_map import elementwise
from symnum.arrays.terms import ArrayExpr
from symnum.core.terms import Expr
from symnum.errors import UnsupportedOperationError


def _arr(a: Any, what: str) -> ArrayExpr:
    return IX.as_array_operand(a, what)


def _lead(a: ArrayExpr, nd: int) -> ArrayExpr:
    return IX.reshape(a, (1,) * (nd - a.ndim) + a.shape) if a.ndim < nd else a


def atleast_2d(*arys):
    out = [_lead(_arr(a, "atleast_2d"), 2) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    def one(a):
        a = _arr(a, "atleast_3d")
        if a.ndim == 0:
            return IX.reshape(a, (1, 1, 1))
        if a.ndim == 1:
            return IX.reshape(a, (1, a.shape[0], 1))
        return IX.reshape(a, a.shape + (1,)) if a.ndim == 2 else a
    out = [one(a) for a in arys]
    return out[0] if len(out) == 1 else out


def dstack(tup, **kw):
    return IX.concatenate([atleast_3d(a) for a in tup], 2)


def column_stack(tup):
    arrs = [_arr(a, "column_stack") for a in tup]
    return IX.concatenate([IX.reshape(a, (a.size, 1)) if a.ndim < 2 else a for a in arrs], 1)


def rot90(m, k=1, axes=(0, 1)):
    m = _arr(m, "rot90")
    a0, a1 = (ax % m.ndim for ax in axes)
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return IX.flip(IX.flip(m, a0), a1)
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return IX.transpose(IX.flip(m, a1), tuple(perm))
    return IX.flip(IX.transpose(m, tuple(perm)), a1)


def broadcast_arrays(*args, subok=False):
    arrs = [_arr(a, "broadcast_arrays") for a in args]
    shape = np.broadcast_shapes(*[a.shape for a in arrs])
    return [IX.broadcast_to(a, shape) for a in arrs]


def take_along_axis(arr, indices, axis=-1):
    arr = _arr(arr, "take_along_axis")
    if isinstance(indices, (ArrayExpr, Expr)):
        raise UnsupportedOperationError("take_along_axis with symbolic indices depends on data; "
                                        "use np.where to select, or constant indices")
    idx = np.asarray(indices)
    if axis is None:
        return G.take(arr, idx.ravel())
    axis %= arr.ndim
    key = tuple(idx if j == axis else
                np.arange(n).reshape((1,) * j + (n,) + (1,) * (arr.ndim - j - 1))
                for j, n in enumerate(arr.shape))
    return G.multi_getitem(arr, key)


def append(arr, values, axis=None):
    a, v = _arr(arr, "append"), _arr(values, "append")
    if axis is None:
        return IX.concatenate([IX.reshape(a, (a.size,)), IX.reshape(v, (v.size,))], 0)
    return IX.concatenate([a, v], axis)


def delete(arr, obj, axis=None):
    a = _arr(arr, "delete")
    if isinstance(obj, (ArrayExpr, Expr)):
        raise UnsupportedOperationError("np.delete with symbolic positions depends on data")
    if axis is None:
        a, axis = IX.reshape(a, (a.size,)), 0
    axis %= a.ndim
    keep = np.delete(np.arange(a.shape[axis]), obj)
    return G.take(a, keep, axis)


def insert(arr, obj, values, axis=None):
    a = _arr(arr, "insert")
    if isinstance(obj, (ArrayExpr, Expr)) or not isinstance(obj, (int, np.integer)):
        raise UnsupportedOperationError("np.insert on symbolic arrays takes one integer "
                                        "position; use np.concatenate for others")
    if axis is None:
        a, axis = IX.reshape(a, (a.size,)), 0
    axis %= a.ndim
    n = a.shape[axis]
    pos = int(obj) + n if obj < 0 else int(obj)
    v = _arr(values, "insert")
    shape = a.shape[:axis] + (1,) + a.shape[axis + 1:]
    v = IX.broadcast_to(v if v.ndim == a.ndim else IX.reshape(v, v.shape), shape) \
        if v.shape != shape else v
    cut = (slice(None),) * axis
    return IX.concatenate([IX.getitem(a, cut + (slice(0, pos),)), v,
                           IX.getitem(a, cut + (slice(pos, None),))], axis)


def kron(a, b):
    a, b = _arr(a, "kron"), _arr(b, "kron")
    nd = max(a.ndim, b.ndim)
    a, b = _lead(a, nd), _lead(b, nd)
    a2 = IX.reshape(a, tuple(x for s in a.shape for x in (s, 1)))
    b2 = IX.reshape(b, tuple(x for s in b.shape for x in (1, s)))
    prod = elementwise(P.mul, [a2, b2], "kron")
    return IX.reshape(prod, tuple(p * q for p, q in zip(a.shape, b.shape)))


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    if sparse or indexing not in ("xy", "ij"):
        raise UnsupportedOperationError("np.meshgrid on symbolic arrays: sparse=False and "
                                        "indexing 'xy' or 'ij' only")
    xs = [IX.reshape(_arr(x, "meshgrid"), (-1,)) for x in xi]
    n = len(xs)
    axes = list(range(n))
    if indexing == "xy" and n >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * n
    for x, ax in zip(xs, axes):
        shape[ax] = x.shape[0]
    out = []
    for x, ax in zip(xs, axes):
        r = IX.reshape(x, tuple(x.shape[0] if j == ax else 1 for j in range(n)))
        out.append(IX.broadcast_to(r, tuple(shape)))
    return out


def block(arrays):
    def depth(x):
        return 1 + depth(x[0]) if isinstance(x, list) and x else 0
    d = depth(arrays)
    leaves = []

    def walk(x):
        if isinstance(x, list):
            for y in x:
                walk(y)
        else:
            leaves.append(_arr(x, "block"))
    walk(arrays)
    nd = max([d] + [a.ndim for a in leaves])

    def build(x, level):
        if not isinstance(x, list):
            return _lead(_arr(x, "block"), nd)
        return IX.concatenate([build(y, level + 1) for y in x], nd - d + level)
    return build(arrays, 0)


def result_type(*args):
    ex = [np.empty(0, a.dtype) if isinstance(a, ArrayExpr) else
          np.empty(0, a.dtype) if isinstance(a, Expr) else a for a in args]
    return np.result_type(*ex)


MORE: dict[Any, Callable] = {
    np.atleast_2d: atleast_2d, np.atleast_3d: atleast_3d, np.dstack: dstack,
    np.column_stack: column_stack, np.rot90: rot90, np.broadcast_arrays: broadcast_arrays,
    np.take_along_axis: take_along_axis, np.append: append,
    np.delete: delete, np.insert: insert, np.kron: kron, np.meshgrid: meshgrid,
    np.block: block, np.result_type: result_type,
}
