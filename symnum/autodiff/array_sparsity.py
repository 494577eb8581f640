"""Jacobian sparsity of array programs, read off the index maps — never per-element terms.

Each array operation is linear in *which* input elements reach which output elements: its edge to
argument j is an incidence matrix M_j (output size × argument size) built by numpy index
arithmetic (a gather's index table is the operation applied to `arange`; a reduction's is the
output index broadcast over the reduced axes; a contraction's is the letters its operands share).
The pattern of a node is Σ_j M_j · P(arg_j), one scipy.sparse product per operation — O(number of
non-zeros) work, no Python loop per element. Elementwise maps use only the arguments their body
depends on differentiably (the Op blocks' partials, as the scalar sparsity skips comparisons), and
a map reading constant arrays (masks, coefficient arrays with zeros) has its partials specialised
to each distinct tuple of constant values, so the pattern equals symnum.autodiff.sparsity's on the
scalarised program (tests/test_array_sparsity.py) — except where a zero made by one operation is
multiplied in by another (np.diag(np.diag(x)) * x): zero values are not tracked between
operations, and the array pattern is then a superset, never a subset.

Sits in the autodiff layer; never evaluates the program and never builds scalar terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symnum.arrays.ops_gather import Take
from symnum.arrays.ops_index import BroadcastTo, Concatenate, Index, Pad, Reshape, Roll, Transpose
from symnum.arrays.ops_map import Map
from symnum.arrays.ops_reduce import Contract, Reduce, Scan
from symnum.arrays.ops_segment import SegmentScan
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym, ArrayTerm
from symnum.autodiff.ad import _is_zero, dependencies
from symnum.core.interface import iscall
from symnum.core.terms import Expr, Sym
from symnum.core.traversal import postorder
from symnum.errors import MissingRuleError

_GATHERS = (Index, Roll, Reshape, Transpose, BroadcastTo)


def size_of(x: Any) -> int:
    return x.size if isinstance(x, ArrayExpr) else 1


def shape_of(x: Any) -> tuple:
    return x.shape if isinstance(x, ArrayExpr) else ()


def _arange(x: Any) -> np.ndarray:
    return np.arange(size_of(x), dtype=np.int64).reshape(shape_of(x))


def gather_table(n: ArrayTerm, j: int = 0) -> np.ndarray | None:
    """For an operation whose every output element is one element of argument j (or none):
    the flat index into argument j per output element, −1 where none (pad fill, other blocks of
    a concatenation). None for operations that combine elements (maps, reductions, ...)."""
    op = n.op
    if isinstance(op, _GATHERS):
        return np.array(op.impl(_arange(n.args[0])), dtype=np.int64, order="C")  # 0-d stays 0-d
    if isinstance(op, Take):
        if j:
            return None
        return np.take(_arange(n.args[0]), n.args[1].value, axis=op.axis)
    if isinstance(op, Pad):
        return np.pad(_arange(n.args[0]), op.widths, constant_values=-1)
    if isinstance(op, Concatenate):
        parts = [_arange(a) if k == j else np.full(a.shape, -1, np.int64)
                 for k, a in enumerate(n.args)]
        return np.concatenate(parts, axis=op.axis)
    return None


def _incidence(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> Any:
    import scipy.sparse as sp

    return sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=shape)


def table_incidence(table: np.ndarray, arg_size: int) -> Any:
    flat = table.reshape(-1)
    ok = np.flatnonzero(flat >= 0)
    return _incidence(ok, flat[ok], (flat.size, arg_size))


def map_active(op: Map) -> list[bool]:
    """Per argument of a map: whether the body depends on it differentiably (a non-zero
    partial from the Op blocks; a comparison's arguments are not)."""
    from symnum.autodiff.array_rules import body_partials

    return [not _is_zero(d) for d in body_partials(op)]


CONSTANT_CLASSES = 64  # distinct constant tuples a map's partials are specialised to, at most


def _nonzero_given_constants(n: ArrayTerm, j: int) -> np.ndarray | None:
    """Where a map reads constant arrays (a mask, a coefficient array with zeros), the elements
    whose partial ∂body/∂_j is not structurally zero once the constants are put in — what the
    scalarised program's construction folds (ifelse(False, x, 0) → 0, 0·x → 0). The partial is
    specialised once per distinct tuple of constant values (np.unique, vectorised), never per
    element; None when no argument is constant or there are too many distinct tuples."""
    from symnum.autodiff.array_rules import body_partials
    from symnum.core.terms import Const
    from symnum.core.traversal import free_symbols, substitute

    consts = [k for k, a in enumerate(n.args) if isinstance(a, ArrayConst)]
    if not consts:
        return None
    d = body_partials(n.op)[j]
    names = {s.name: s for s in free_symbols(d)}
    consts = [k for k in consts if f"_{k}" in names]
    if not consts:
        return None
    cols = np.stack([np.broadcast_to(n.args[k].value, n.shape).reshape(-1) for k in consts],
                    axis=1)
    uniq, inv = np.unique(cols, axis=0, return_inverse=True)
    if len(uniq) > CONSTANT_CLASSES:
        return None
    alive = np.empty(len(uniq), dtype=bool)
    for u, row in enumerate(uniq):
        sub = {names[f"_{k}"]: Const(v.item()) for k, v in zip(consts, row)}
        alive[u] = not _is_zero(substitute(d, sub))
    return alive[np.asarray(inv).reshape(-1)].reshape(n.shape)


def _broadcast_table(a: Any, shape: tuple) -> np.ndarray:
    return np.broadcast_to(_arange(a), shape)


def edges(n: Any) -> list[tuple[int, Any]]:
    """(argument position, incidence matrix) for each argument an element of `n` can depend
    on differentiably."""
    if not isinstance(n, ArrayTerm):  # a scalar term: each differentiable child, 1 × 1
        kids = {id(c) for c in dependencies(n)}
        from symnum.core.interface import arguments

        return [(j, _incidence(np.zeros(1, np.int64), np.zeros(1, np.int64), (1, 1)))
                for j, a in enumerate(arguments(n)) if id(a) in kids]
    op = n.op
    out = []
    if isinstance(op, Map):
        for j, (a, act) in enumerate(zip(n.args, map_active(op))):
            if act:
                table = _broadcast_table(a, n.shape)
                keep = _nonzero_given_constants(n, j)
                if keep is not None:
                    table = np.where(keep, table, -1)
                out.append((j, table_incidence(table, size_of(a))))
        return out
    if isinstance(op, Concatenate):
        return [(j, table_incidence(gather_table(n, j), a.size)) for j, a in enumerate(n.args)]
    table = gather_table(n)
    if table is not None:
        return [(0, table_incidence(table, size_of(n.args[0])))]
    if isinstance(op, Reduce):
        (a,) = n.args
        kshape = tuple(1 if k in op.axes else s for k, s in enumerate(a.shape))
        rows = np.broadcast_to(np.arange(n.size, dtype=np.int64).reshape(kshape), a.shape)
        return [(0, _incidence(rows.reshape(-1), np.arange(a.size), (n.size, a.size)))]
    if isinstance(op, Scan):
        return [(0, _scan_incidence(n.args[0], op.axis))]
    if isinstance(op, SegmentScan):  # fill reads earlier values, collect later ones; the
        # segments depend on the data, so every pair along the axis may (the start mask: none)
        return [(0, _scan_incidence(n.args[0], op.axis, op.kind == "collect"))]
    if isinstance(op, Contract):
        return [(j, _contract_incidence(n, j)) for j in range(len(n.args))
                if not isinstance(n.args[j], ArrayConst)]
    raise MissingRuleError(f"no sparsity rule for the array operation {type(op).__name__}")


def _scan_incidence(a: ArrayExpr, axis: int, later: bool = False) -> Any:
    """out_k on in_m for m ≤ k along `axis` (m ≥ k with `later`)."""
    idx = np.moveaxis(_arange(a), axis, -1).reshape(-1, a.shape[axis])
    k, m = (np.triu_indices if later else np.tril_indices)(a.shape[axis])
    return _incidence(idx[:, k].reshape(-1), idx[:, m].reshape(-1), (a.size, a.size))


def _contract_incidence(n: ArrayTerm, j: int) -> Any:
    """out[o] depends on operand j at a when the letters they share agree and some assignment of
    the other letters meets a (possibly) non-zero entry of every other operand (a constant
    operand's zeros are known; others are all possibly non-zero). Conservative for three or more
    operands (each constant's projection is tested on its own)."""
    ins, so = n.op.parts()
    sizes = n.op.sizes(n.args)
    sa = ins[j]
    letters = list(dict.fromkeys(so + sa))
    ok = np.ones(tuple(sizes[c] for c in letters), dtype=bool)
    for k, (sub, b) in enumerate(zip(ins, n.args)):
        if k == j or not isinstance(b, ArrayConst):
            continue
        nz = b.value != 0
        free = tuple(p for p, c in enumerate(sub) if c not in letters)
        if free:
            nz = nz.any(axis=free)
        kept = [c for c in sub if c in letters]
        # place the projection on `letters` (broadcast over the letters it does not have)
        order = sorted(range(len(kept)), key=lambda p: letters.index(kept[p]))
        nz = np.transpose(nz, order)
        shape = [sizes[c] if c in kept else 1 for c in letters]
        ok &= nz.reshape(shape)
    coords = np.nonzero(ok)
    pos = dict(zip(letters, coords))
    oshape = tuple(sizes[c] for c in so)
    ashape = tuple(sizes[c] for c in sa)
    rows = (np.ravel_multi_index(tuple(pos[c] for c in so), oshape) if so else
            np.zeros(len(coords[0]) if coords else 1, np.int64))
    cols = (np.ravel_multi_index(tuple(pos[c] for c in sa), ashape) if sa else
            np.zeros(len(coords[0]) if coords else 1, np.int64))
    return _incidence(np.asarray(rows).reshape(-1), np.asarray(cols).reshape(-1),
                      (int(np.prod(oshape, dtype=np.int64)), int(np.prod(ashape, dtype=np.int64))))


def _children(n: Any) -> list:
    if isinstance(n, ArrayTerm):
        return list(n.args)
    if isinstance(n, Expr) and iscall(n):
        from symnum.core.interface import arguments

        return list(arguments(n))
    return []


def jacobian_pattern(outputs: Sequence[Any], wrt: Sequence[Any]) -> Any:
    """The Jacobian sparsity of array (or scalar) terms `outputs` with respect to input symbols
    `wrt` (ArraySym or Sym): a boolean scipy.sparse CSR matrix whose rows are the outputs'
    elements (flattened, row-major, outputs one after the other) and whose columns the inputs'.

    >>> import numpy as np
    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (4,))
    >>> jacobian_pattern([x[1:] * x[:-1]], [x]).toarray().astype(int).tolist()
    [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    """
    import scipy.sparse as sp

    outputs, wrt = list(outputs), list(wrt)
    for w in wrt:
        if not isinstance(w, (ArraySym, Sym)):
            raise TypeError(f"can only take a Jacobian with respect to input symbols (ArraySym "
                            f"or Sym), got {type(w).__name__} ({w})")
    offsets = np.concatenate([[0], np.cumsum([size_of(w) for w in wrt])]).astype(np.int64)
    ncols = int(offsets[-1])
    start = {id(w): int(o) for w, o in zip(wrt, offsets)}
    pats: dict[int, Any] = {}
    for n in postorder(outputs, _children):
        if id(n) in start:
            s = size_of(n)
            pats[id(n)] = _incidence(np.arange(s), start[id(n)] + np.arange(s), (s, ncols))
            continue
        if not (isinstance(n, ArrayTerm) or (isinstance(n, Expr) and iscall(n))):
            continue  # constants and inputs not differentiated: no pattern
        kids = _children(n)
        acc = None
        for j, M in edges(n):
            P = pats.get(id(kids[j]))
            if P is None:
                continue
            term = M @ P
            acc = term if acc is None else acc + term
        if acc is not None:
            acc.data[:] = 1  # counts → structure (and no overflow in later products)
            acc.eliminate_zeros()
            pats[id(n)] = acc
    blocks = [pats.get(id(o)) if pats.get(id(o)) is not None else
              sp.csr_matrix((size_of(o), ncols), dtype=np.int8) for o in outputs]
    S = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, ncols), dtype=np.int8)
    S = S.astype(bool)
    S.sort_indices()
    return S


def color_pattern(S: Any, strategy: str = "largest_first") -> np.ndarray:
    """symnum.autodiff.sparsity.color_columns for a scipy.sparse pattern: the same networkx greedy
    colouring of the column-intersection graph, its edges read off SᵀS (vectorised)."""
    import networkx as nx  # lazily: `import symnum` stays light
    import scipy.sparse as sp

    S = sp.csr_matrix(S, dtype=np.int8)
    C = sp.triu((S.T @ S).tocoo(), k=1)
    G = nx.Graph()
    G.add_nodes_from(range(S.shape[1]))
    G.add_edges_from(zip(C.row.tolist(), C.col.tolist()))
    coloring = nx.coloring.greedy_color(G, strategy=strategy)
    return np.array([coloring[j] for j in range(S.shape[1])], dtype=np.int64)
