"""Sparse Jacobians of array programs: the structure from index tables, the values as ONE array
program (lowered to loops), never one term per non-zero.

Two ways to the values, both array programs over the same inputs:

* "stencil" (tried first): a forward sweep carrying, per node, *pieces* (w, C, K): element i of
  the node depends on element C[i] of input w (C an integer table of the node's shape, −1 where
  not) with coefficient K[i] (an array term of the node's shape, or a scalar term). Index maps
  move C by the same numpy operation applied to the table and K by the same array operation;
  maps multiply K by the body's partial (from the Op blocks) and broadcast C; small sums split
  per reduced position; pieces with equal (w, C) add their K, and pieces meeting at some
  entries of an output hand them to one of the two. At the outputs each piece's valid
  entries are one block of the values: the values program computes the K arrays side by side —
  the loop a person writes for a stencil's Jacobian (12 coefficients per grid point for the
  Brusselator), with the rows and columns in index tables built by numpy.
* "colored" (any program the stencil sweep cannot take: contractions, scans, large sums,
  products and max/min reductions): symnum.autodiff.array_sparsity's pattern, the networkx
  colouring of its columns, one JVP of the array program per colour with the colour's seed as
  a constant tangent (symnum.autodiff.array_jvp), and one gather of the non-zeros out of the
  compressed columns by an index table.

Sits in the autodiff layer; builds terms and integer tables, never evaluates or compiles
(symnum.builders.build_function lowers `values`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import symnum.core.primitives as P
from symnum.arrays.ops_gather import Take
from symnum.arrays.ops_index import (
    BroadcastTo,
    Concatenate,
    Index,
    Pad,
    Reshape,
    Roll,
    Transpose,
    broadcast_to,
    concatenate,
    getitem,
    reshape,
)
from symnum.arrays.ops_map import Map, elementwise, from_body, placeholder
from symnum.arrays.ops_reduce import Reduce
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym, ArrayTerm
from symnum.autodiff.ad import _is_zero, local_partials
from symnum.autodiff.array_rules import body_partials
from symnum.autodiff.array_sparsity import (
    _children,
    color_pattern,
    gather_table,
    jacobian_pattern,
    shape_of,
    size_of,
)
from symnum.core._gc import no_gc
from symnum.core.interface import iscall
from symnum.core.terms import Const, Expr, Sym
from symnum.core.traversal import postorder
from symnum.errors import SizeLimitError

COLOR_WORK = 50_000_000  # Σ (non-zeros per row)²: column conflicts the colouring would build
SPLIT_LIMIT = 16  # a sum over at most this many elements splits into pieces; more: "colored"
_GATHERS = (Index, Roll, Reshape, Transpose, BroadcastTo, Take)


class _NotStencil(Exception):
    """The stencil sweep does not apply (the caller takes the colored way)."""


@dataclass(frozen=True)
class ArraySparseJacobian:
    """A sparse Jacobian of an array program: values[k] = ∂out[rows[k]] / ∂in[cols[k]], where
    rows index the outputs' elements (flattened, one output after the other) and cols the
    inputs'. `values` is ONE flat array term (an array program over the program's inputs; give it
    to `symnum.build_function(J, *inputs)` for a compiled SparseFunction). `method` says how it
    was built ("stencil" or "colored"); `colors` is the column colouring of the colored way."""

    rows: np.ndarray
    cols: np.ndarray
    values: Any
    shape: tuple[int, int]
    method: str
    colors: np.ndarray | None = None

    @property
    def nnz(self) -> int:
        return len(self.rows)

    def pattern(self) -> Any:
        import scipy.sparse as sp

        return sp.csr_matrix((np.ones(self.nnz, dtype=bool), (self.rows, self.cols)),
                             shape=self.shape)

    def evaluate(self, env: Any) -> np.ndarray:
        """The values at `env` ({symbol: value}) by the array reference interpreter."""
        from symnum.arrays.evaluate import eval_array_terms

        (v,) = eval_array_terms([self.values], env)
        return np.asarray(v, dtype=np.float64).reshape(-1)

    def to_scipy(self, env: Any) -> Any:
        import scipy.sparse as sp

        return sp.csr_matrix((self.evaluate(env), (self.rows, self.cols)), shape=self.shape)


# ---------------------------------------------------------------------------------------------
# the stencil sweep


def _key(w: int, C: np.ndarray) -> tuple:
    h = hashlib.blake2b(np.ascontiguousarray(C).view(np.uint8).data, digest_size=16)
    return (w, C.shape, h.digest())


def _arr(K: Any, shape: tuple) -> Any:
    """K as an array term of `shape` (a scalar K broadcast)."""
    if isinstance(K, ArrayExpr):
        return K if K.shape == shape else broadcast_to(K, shape)
    if isinstance(K, Const):
        return broadcast_to(ArrayConst(np.array(float(K.value))), shape)
    return broadcast_to(elementwise(lambda a: a, [K], "jacobian coefficient"), shape)


def _scale(d: Any, args: list, K: Any, shape: tuple, what: str) -> Any:
    """The map (∂body · K) over the node's arguments; a number when both are numbers."""
    if isinstance(d, Const) and isinstance(K, Const):
        return Const(float(d.value) * float(K.value))
    if isinstance(K, Const):
        body = P.mul(K.value, d) if K.value != 1 else d
        if isinstance(body, Const):
            return body
        return from_body(body, list(args), what, shape)
    k = len(args)
    return from_body(P.mul(placeholder(k, "float64"), d), list(args) + [K], what, shape)


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(float(a.value) + float(b.value))
    return elementwise(lambda x, y: P.add(x, y), [a, b], "jacobian sum")


def _merge(pieces: list) -> dict:
    out: dict = {}
    for w, C, K in pieces:
        k = _key(w, C)
        if k in out:
            _, C0, K0 = out[k]
            out[k] = (w, C0, _add(K0, K))
        else:
            out[k] = (w, C, K)
    return {k: v for k, v in out.items() if not _is_zero(v[2])}


def _gather_piece(n: ArrayTerm, j: int, piece: tuple) -> tuple:
    w, C, K = piece
    op = n.op
    if isinstance(op, Concatenate):
        Cn = gather_table(n, j)
        Cn = np.where(Cn >= 0, C.reshape(-1)[np.maximum(Cn, 0)], -1)
        if isinstance(K, ArrayExpr):
            K = concatenate([K if k == j else _arr(Const(0.0), a.shape)
                             for k, a in enumerate(n.args)], op.axis)
        return (w, Cn, K)
    table = gather_table(n, j)
    flat = C.reshape(-1)
    Cn = np.where(table >= 0, flat[np.maximum(table, 0)], -1) if isinstance(op, Pad) else \
        flat[table]
    if isinstance(K, ArrayExpr):
        K = ArrayTerm(Pad(op.widths, 0.0), (K,)) if isinstance(op, Pad) else \
            op.rebuild((K,) + tuple(n.args[1:]))
    return (w, np.array(Cn, dtype=np.int64, order="C"), K)


def _node_pieces(n: Any, pieces: dict) -> list:
    if not isinstance(n, ArrayTerm):  # a scalar term over scalar inputs
        out = []
        for a, d in local_partials(n):
            for w, C, K in pieces.get(id(a), {}).values():
                out.append((w, C, P.mul(d, K)))
        return out
    op = n.op
    if isinstance(op, Map):
        out = []
        for a, d in zip(n.args, body_partials(op)):
            if _is_zero(d):
                continue
            for w, C, K in pieces.get(id(a), {}).values():
                Cn = np.broadcast_to(C, n.shape)
                Kb = K if not isinstance(K, ArrayExpr) or K.shape == n.shape else \
                    broadcast_to(K, n.shape)
                out.append((w, Cn, _scale(d, n.args, Kb, n.shape, "jacobian of a map")))
        return out
    if isinstance(op, (*_GATHERS, Pad, Concatenate)):
        return [_gather_piece(n, j, p) for j, a in enumerate(n.args)
                for p in pieces.get(id(a), {}).values()
                if not (isinstance(op, Take) and j)]
    if isinstance(op, Reduce) and op.kind == "sum":
        (a,) = n.args
        m = int(np.prod([a.shape[k] for k in op.axes], dtype=np.int64))
        if m > SPLIT_LIMIT:
            raise _NotStencil
        out = []
        for pos in np.ndindex(*[a.shape[k] for k in op.axes]):
            at = dict(zip(op.axes, pos))
            key, entries = [], []
            for k, s in enumerate(a.shape):
                if k in at:
                    key.append(at[k])
                    entries += [("i", at[k])] + ([("n",)] if op.keepdims else [])
                else:
                    key.append(slice(None))
                    entries.append(("s", 0, 1, s))
            for w, C, K in pieces.get(id(a), {}).values():
                Cn = np.array(C[tuple(key)], dtype=np.int64).reshape(n.shape)
                Kn = ArrayTerm(Index(tuple(entries)), (K,)) if isinstance(K, ArrayExpr) else K
                out.append((w, Cn, Kn))
        return out
    raise _NotStencil


def _restrict(K: Any, box: tuple) -> Any:
    """K[box] (box: slices), pushed through concatenations, unit reshapes and maps so that the
    loops read the blocks they need instead of materialising a concatenation."""
    if not isinstance(K, ArrayExpr):
        return K
    shape = tuple(len(range(*b.indices(s))) for b, s in zip(box, K.shape))
    if shape == K.shape:
        return K
    if isinstance(K, ArrayTerm):
        op = K.op
        if isinstance(op, Concatenate):
            ax, off = op.axis, 0
            lo, hi, _ = box[ax].indices(K.shape[ax])
            for a in K.args:
                n = a.shape[ax]
                if off <= lo and hi <= off + n:
                    sub = list(box)
                    sub[ax] = slice(lo - off, hi - off)
                    return _restrict(a, tuple(sub))
                off += n
        if isinstance(op, Reshape):
            (a,) = K.args
            if [s for s in K.shape if s != 1] == [s for s in a.shape if s != 1]:
                inner = [b for b, s in zip(box, K.shape) if s != 1]
                if len(inner) == a.ndim:
                    return reshape(_restrict(a, tuple(inner)), shape)
        if isinstance(op, Map):
            args = []
            for a in K.args:
                if not isinstance(a, ArrayExpr) or not a.shape:
                    args.append(a)
                    continue
                lead = K.ndim - a.ndim
                sub = tuple(slice(None) if s == 1 else b for b, s in zip(box[lead:], a.shape))
                args.append(_restrict(a, sub))
            return from_body(op.body, args, "jacobian block", shape)
    return getitem(K, box)


def _blocks(outputs: list, wrt: list, pieces: dict) -> tuple:
    """rows, cols and the flat values term of every piece of every output (or _NotStencil)."""
    col_off = np.concatenate([[0], np.cumsum([size_of(w) for w in wrt])]).astype(np.int64)
    rows, cols, vals = [], [], []
    row_off = 0
    for o in outputs:
        shape = shape_of(o) or (1,)  # a scalar output: one row
        if not size_of(o):
            continue
        for w, C, K in pieces.get(id(o), {}).values():
            C = C.reshape(shape)
            if isinstance(K, ArrayExpr) and K.shape != shape:
                K = reshape(K, shape)
            valid = C >= 0
            if not valid.any():
                continue
            nz = np.nonzero(valid)
            box = tuple(slice(int(v.min()), int(v.max()) + 1) for v in nz)
            bshape = tuple(b.stop - b.start for b in box)
            Cb = C[box]
            flat_rows = np.arange(max(size_of(o), 1), dtype=np.int64).reshape(shape)[box]
            if valid[box].all():
                Kb = _restrict(K, box) if isinstance(K, ArrayExpr) else _arr(K, bshape)
                rows.append(flat_rows.reshape(-1) + row_off)
                cols.append(Cb.reshape(-1) + col_off[w])
                squeezed = tuple(d for d in bshape if d != 1)  # same order, shallower loops
                vals.append(Kb if squeezed == shape_of(Kb) else reshape(Kb, squeezed))
            else:
                sel = np.flatnonzero(valid.reshape(-1))
                rows.append(sel + row_off)
                cols.append(C.reshape(-1)[sel] + col_off[w])
                flatK = reshape(_arr(K, shape), (max(size_of(o), 1),))
                vals.append(ArrayTerm(Take(0), (flatK, ArrayConst(sel))))
        row_off += size_of(o)
    return rows, cols, vals, (row_off, int(col_off[-1]))


def _resolve_overlaps(ps: list, shape: tuple) -> dict:
    """Each piece is one-to-one, but two pieces of one output can still meet at an entry (a
    stencil wider than its periodic axis, a row sum broadcast back over the row): where they
    do, the first takes the second's coefficient too (a map with a constant mask) and the second
    lets the entry go (−1 in its table)."""
    ps = [list(p) for p in ps]
    for a in range(len(ps)):
        for b in range(a + 1, len(ps)):
            if ps[a][0] != ps[b][0]:
                continue
            Ca, Cb = np.broadcast_to(ps[a][1], shape), np.broadcast_to(ps[b][1], shape)
            mask = (Ca == Cb) & (Ca >= 0)
            if not mask.any():
                continue
            ps[a][2] = elementwise(lambda m, x, y: P.add(x, P.ifelse(m, y, 0.0)),
                                   [mask, ps[a][2], ps[b][2]], "overlapping pieces")
            ps[a][2] = ps[a][2] if ps[a][2].shape == shape else broadcast_to(ps[a][2], shape)
            ps[b][1] = np.where(mask, -1, Cb)
    return {k: tuple(p) for k, p in enumerate(ps)}


def _stack_flat(rows: list, cols: list, vals: list) -> tuple:
    """(rows, cols, one array term) with the blocks side by side. Blocks with the same
    coefficient term (hash-consed: the same object) sit next to each other and are written by
    one broadcast (a stencil's constant weights: one loop, not one per offset). Stacked along a
    new leading axis when all share a shape (the loops keep their natural indices), else
    flattened and joined."""
    if not vals:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), ArrayConst(np.zeros(0))
    groups: dict[int, list[int]] = {}
    for k, v in enumerate(vals):
        groups.setdefault(id(v), []).append(k)
    order = [k for g in groups.values() for k in g]
    r = np.concatenate([rows[k] for k in order])
    c = np.concatenate([cols[k] for k in order])
    heads = [(vals[g[0]], len(g)) for g in groups.values()]
    shapes = {v.shape for v, _ in heads}
    if len(shapes) == 1 and heads[0][0].shape:
        s = heads[0][0].shape
        parts = [broadcast_to(reshape(v, (1,) + s), (m,) + s) for v, m in heads]
    else:
        parts = [broadcast_to(reshape(v, (1, max(v.size, 1))), (m, max(v.size, 1)))
                 for v, m in heads]
        parts = [reshape(p, (p.size,)) for p in parts]
    return r, c, concatenate(parts, 0)


def _stencil(outputs: list, wrt: list) -> ArraySparseJacobian:
    order = postorder(outputs, _children)
    readers: dict[int, int] = {}
    for n in order:
        for a in set(map(id, _children(n))):
            readers[a] = readers.get(a, 0) + 1
    keep = {id(o) for o in outputs}
    index = {id(w): k for k, w in enumerate(wrt)}
    pieces: dict[int, dict] = {}
    for n in order:
        if id(n) in index:
            w = wrt[index[id(n)]]
            C = np.arange(size_of(w), dtype=np.int64).reshape(shape_of(w))
            pieces[id(n)] = {_key(index[id(n)], C): (index[id(n)], C, Const(1.0))}
        elif isinstance(n, ArrayTerm) or (isinstance(n, Expr) and iscall(n)):
            if getattr(n, "dtype", "float64") in ("float64", "float32"):
                got = _merge(_node_pieces(n, pieces))
                if got:
                    pieces[id(n)] = got
        for a in set(map(id, _children(n))):  # free the tables nobody reads any more
            readers[a] -= 1
            if readers[a] == 0 and a not in keep:
                pieces.pop(a, None)
    for o in outputs:
        if id(o) in pieces:
            pieces[id(o)] = _resolve_overlaps(list(pieces[id(o)].values()), shape_of(o))
    rows, cols, vals, shape = _blocks(outputs, wrt, pieces)
    r, c, values = _stack_flat(rows, cols, vals)
    return ArraySparseJacobian(r, c, values, shape, "stencil")


# ---------------------------------------------------------------------------------------------
# the colored way


def _colored(outputs: list, wrt: list) -> ArraySparseJacobian:
    from symnum.autodiff.array_jvp import jvp_arrays

    S = jacobian_pattern(outputs, wrt)
    counts = np.diff(S.indptr).astype(np.int64)
    if int((counts * counts).sum()) > COLOR_WORK:
        raise SizeLimitError(
            f"this Jacobian has rows with many non-zeros (the densest: {int(counts.max()):,} of "
            f"{S.shape[1]:,} columns), so its columns do not compress (every pair in a row "
            "conflicts); take it dense with sn.jacrev / sn.grad, or split the dense outputs off")
    colors = color_pattern(S)
    ncolor = int(colors.max()) + 1 if len(colors) else 0
    offsets = np.concatenate([[0], np.cumsum([size_of(w) for w in wrt])]).astype(np.int64)
    nrows = S.shape[0]
    columns = []
    for c in range(ncolor):
        seed = (colors == c).astype(np.float64)
        ts = [ArrayConst(seed[offsets[k]:offsets[k + 1]].reshape(w.shape))
              if isinstance(w, ArraySym) else Const(float(seed[offsets[k]]))
              for k, w in enumerate(wrt)]
        tans = jvp_arrays(outputs, wrt, ts)
        columns.append(concatenate([reshape(_arr(t, shape_of(t)), (size_of(t),))
                                    for t in tans], 0))
    coo = S.tocoo()
    order = np.lexsort((coo.col, coo.row))
    rows, cols = coo.row[order].astype(np.int64), coo.col[order].astype(np.int64)
    if not len(rows):
        return ArraySparseJacobian(rows, cols, ArrayConst(np.zeros(0)), S.shape, "colored",
                                   colors)
    stacked = concatenate(columns, 0) if len(columns) > 1 else columns[0]
    values = ArrayTerm(Take(0), (stacked, ArrayConst(colors[cols] * nrows + rows)))
    return ArraySparseJacobian(rows, cols, values, S.shape, "colored", colors)


@no_gc
def sparse_jacobian_arrays(outputs: Sequence[Any], wrt: Sequence[Any],
                           method: str = "auto") -> ArraySparseJacobian:
    """The sparse Jacobian of array terms `outputs` with respect to `wrt` (ArraySym / Sym).

    method: "stencil", "colored", or "auto" (stencil where it applies, else colored).

    >>> import numpy as np
    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (3,))
    >>> J = sparse_jacobian_arrays([x * np.roll(x, 1)], [x])
    >>> J.method, J.nnz
    ('stencil', 6)
    >>> J.to_scipy({x: np.array([1.0, 2.0, 3.0])}).toarray().tolist()
    [[3.0, 0.0, 1.0], [2.0, 1.0, 0.0], [0.0, 3.0, 2.0]]
    """
    outputs = [o if isinstance(o, (ArrayExpr, Expr)) else Const(o) for o in outputs]
    wrt = list(wrt)
    for w in wrt:
        if not isinstance(w, (ArraySym, Sym)):
            raise TypeError(f"can only take a Jacobian with respect to input symbols (ArraySym "
                            f"or Sym), got {type(w).__name__} ({w})")
    if method not in ("auto", "stencil", "colored"):
        raise ValueError(f"method must be 'auto', 'stencil' or 'colored', got {method!r}")
    if method in ("auto", "stencil"):
        try:
            return _stencil(outputs, wrt)
        except _NotStencil:
            if method == "stencil":
                raise ValueError("the stencil sweep does not apply to this program (a "
                                 "contraction, scan, product, max/min or large reduction); "
                                 "use method='colored' or 'auto'") from None
    return _colored(outputs, wrt)
