"""Sparsity of derivatives, read off the graph, and sparse Jacobians built from it.

Jacobian patterns come from occurrence (which inputs each output's DAG reaches, skipping the
arguments of piecewise-constant ops such as comparisons); Hessian patterns from each primitive's
declared Linearity, never by differentiating. Columns are compressed by colouring their conflict
graph with networkx, so a numeric forward-mode Jacobian needs one pass per colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from symnum.autodiff.ad import (
    _check_wrt,
    _is_zero,
    _push,
    combine,
    dependencies,
    flatten_terms,
    local_partials,
    vjp_terms,
)
from symnum.core._gc import no_gc
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Const
from symnum.core.traversal import postorder


def _dependencies(outs: list, wrt: list) -> list[int]:
    """Per output, a bitset (Python int) of the inputs its derivative can depend on."""
    dep = _dependency_bits(postorder(outs, dependencies), wrt)
    return [dep[id(o)] for o in outs]


def _bits(d: int) -> list[int]:
    out = []
    while d:
        low = d & -d
        out.append(low.bit_length() - 1)
        d ^= low
    return out


def jacobian_sparsity(es: Any, xs: Any) -> np.ndarray:
    """Boolean matrix S with S[i, j] true where ∂es[i]/∂xs[j] can be non-zero.

    For an array program (an ArrayFn, or array terms and array symbols) the pattern comes from
    the index maps (symnum.autodiff.array_sparsity) as a scipy.sparse CSR matrix over the
    flattened elements — never a dense n × n array.

    >>> import symnum as sn
    >>> x, y, z = sn.symbols("x y z")
    >>> jacobian_sparsity([x * y, sn.sin(z)], [x, y, z]).astype(int).tolist()
    [[1, 1, 0], [0, 0, 1]]
    """
    arrays = _array_program(es, xs)
    if arrays is not None:  # array terms: from the index maps, a scipy.sparse matrix
        from symnum.autodiff.array_sparsity import jacobian_pattern

        return jacobian_pattern(*arrays)
    outs, _ = flatten_terms(es)
    wrt = _check_wrt(flatten_terms(xs)[0])
    S = np.zeros((len(outs), len(wrt)), dtype=bool)
    for i, d in enumerate(_dependencies(outs, wrt)):
        S[i, _bits(d)] = True
    return S


def hessian_sparsity(e: Any, xs: Any) -> np.ndarray:
    """Boolean symmetric matrix of the second derivatives of scalar `e` that can be non-zero.

    Propagates, per node, the inputs it depends on and the set of input pairs that interact
    non-linearly, using each op's Linearity (linear in an argument: no square term from it; no
    cross flag: no products between arguments).
    """
    outs, shape = flatten_terms(e)
    wrt = _check_wrt(flatten_terms(xs)[0])
    index = {id(w): i for i, w in enumerate(wrt)}
    dep: dict[int, int] = {}
    # nonlinear interactions: node -> {input i: bitset of inputs j with ∂²/∂i∂j possibly ≠ 0}
    hes: dict[int, dict[int, int]] = {}
    for n in postorder(outs):
        if not iscall(n):
            dep[id(n)] = 1 << index[id(n)] if id(n) in index else 0
            hes[id(n)] = {}
            continue
        op = operation(n)
        args = arguments(n)
        if op.linearity.constant:
            dep[id(n)], hes[id(n)] = 0, {}
            continue
        h: dict[int, int] = {}
        for a in args:
            for i, b in hes[id(a)].items():
                h[i] = h.get(i, 0) | b
        ds = [dep[id(a)] for a in args]
        lin = op.linearity
        for k, dk in enumerate(ds):
            if dk and not lin.linear_in(k):
                for i in _bits(dk):
                    h[i] = h.get(i, 0) | dk
        if lin.cross:
            for k in range(len(ds)):
                for m in range(len(ds)):
                    if k != m and ds[k] and ds[m] and lin.crosses(k, m):
                        for i in _bits(ds[k]):
                            h[i] = h.get(i, 0) | ds[m]
        d = 0
        for dk in ds:
            d |= dk
        dep[id(n)], hes[id(n)] = d, h
    H = np.zeros((len(wrt), len(wrt)), dtype=bool)
    for o in outs:
        for i, b in hes[id(o)].items():
            H[i, _bits(b)] = True
    return H | H.T


@dataclass(frozen=True)
class SparseJacobian:
    """A Jacobian in coordinate form: values[k] = ∂outputs[rows[k]] / ∂inputs[cols[k]].

    Entries are in row-major order; `values` are symnum expressions sharing subterms with the
    outputs. `to_scipy(env)` evaluates them into a scipy.sparse CSR matrix.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: list
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return len(self.values)

    def pattern(self) -> np.ndarray:
        S = np.zeros(self.shape, dtype=bool)
        S[self.rows, self.cols] = True
        return S

    def evaluate(self, env) -> np.ndarray:
        from symnum.core.evaluate import eval_many

        return np.asarray(eval_many(self.values, env), dtype=np.float64)

    def to_scipy(self, env):
        import scipy.sparse as sp

        return sp.csr_matrix((self.evaluate(env), (self.rows, self.cols)), shape=self.shape)

    def to_dense(self) -> np.ndarray:
        from symnum.core.terms import Const

        J = np.full(self.shape, Const(0), dtype=object)
        J[self.rows, self.cols] = self.values
        return J


@no_gc
def sparse_jacobian(es: Any, xs: Any, method: str = "auto") -> SparseJacobian:
    """Symbolic sparse Jacobian keeping only the structurally non-zero entries.

    method "forward": one forward sweep over the whole DAG carrying sparse derivative dicts
    (shared subterms differentiated once; ideal when each node depends on few inputs, as in PDE
    stencils and reaction networks); "reverse": a reverse sweep over each output's own cone
    (better when intermediate nodes depend on many inputs); "auto" picks by the average number of
    inputs per node, read off the dependency bitsets.

    For an array program (es an ArrayFn or array terms, xs array symbols) the result is an
    ArraySparseJacobian (symnum.autodiff.array_sparse_jacobian): the same rows / cols / shape,
    with the values as ONE array program (coefficient blocks, loops when compiled) instead of a
    term per entry; method "auto", "stencil" or "colored". `build_function(J, *inputs)` gives the
    same SparseFunction either way.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> J = sparse_jacobian([x * y, sn.sin(y)], [x, y])
    >>> J.rows.tolist(), J.cols.tolist(), [str(v) for v in J.values]
    ([0, 0, 1], [0, 1, 1], ['y', 'x', 'cos(y)'])
    """
    arrays = _array_program(es, xs)
    if arrays is not None:  # array terms: values as one array program (loops), not per entry
        from symnum.autodiff.array_sparse_jacobian import sparse_jacobian_arrays

        return sparse_jacobian_arrays(*arrays, method=method)
    outs, _ = flatten_terms(es)
    wrt = _check_wrt(flatten_terms(xs)[0])
    order = postorder(outs, dependencies)
    deps = _dependency_bits(order, wrt)
    if method == "auto":
        work = sum(d.bit_count() for d in deps.values())
        method = "forward" if work <= 4 * len(order) else "reverse"
    if method == "forward":
        rows_of = _forward_sparse(order, wrt, deps, outs)
    elif method == "reverse":
        rows_of = []
        for o in outs:
            js = _bits(deps[id(o)])
            g = vjp_terms([o], [wrt[j] for j in js], [1]) if js else []
            rows_of.append(dict(zip(js, g)))
    else:
        raise ValueError(f"method must be 'auto', 'forward' or 'reverse', got {method!r}")
    rows, cols, vals = [], [], []
    for i, row in enumerate(rows_of):
        for j in sorted(row):
            rows.append(i)
            cols.append(j)
            vals.append(row[j])
    return SparseJacobian(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                          vals, (len(outs), len(wrt)))


def _array_program(es: Any, xs: Any) -> tuple[list, list] | None:
    """(outputs, inputs) when `es` is an ArrayFn or holds array terms (symnum.arrays), else
    None: those take the array path (symnum.autodiff.array_sparsity / array_sparse_jacobian)."""
    from symnum.arrays.fn import ArrayFn
    from symnum.arrays.terms import ArrayExpr
    from symnum.tracing.pytree import tree_flatten

    if isinstance(es, ArrayFn):
        return es.flat_outputs, list(tree_flatten(xs)[0])
    leaves = tree_flatten(es)[0]
    wrt = tree_flatten(xs)[0]
    if any(isinstance(v, ArrayExpr) for v in leaves + wrt):
        return leaves, wrt
    return None


def _dependency_bits(order: list, wrt: list) -> dict[int, int]:
    index = {id(w): i for i, w in enumerate(wrt)}
    dep: dict[int, int] = {}
    for n in order:
        kids = dependencies(n)
        if kids:
            d = 0
            for a in kids:
                d |= dep[id(a)]
            dep[id(n)] = d
        else:
            dep[id(n)] = 1 << index[id(n)] if id(n) in index else 0
    return dep


def _forward_sparse(order: list, wrt: list, deps: dict, outs: list) -> list[dict]:
    """Forward mode with sparse tangent vectors: grads[n] = {input index: ∂n/∂input}."""
    index = {id(w): i for i, w in enumerate(wrt)}
    one = Const(1)
    grads: dict[int, dict] = {}
    for n in order:
        if not deps[id(n)]:
            continue
        if id(n) in index:
            grads[id(n)] = {index[id(n)]: one}
            continue
        acc: dict[int, list] = {}
        for child, d in local_partials(n):
            g = grads.get(id(child))
            if not g or _is_zero(d):
                continue
            for j, v in g.items():
                _push(acc.setdefault(j, []), d, v)
        grads[id(n)] = {j: combine(vs) for j, vs in acc.items()}
    return [{j: v for j, v in grads.get(id(o), {}).items() if not _is_zero(v)} for o in outs]


def color_columns(S: np.ndarray, strategy: str = "largest_first") -> np.ndarray:
    """A colour per column such that no two columns of one colour share a non-zero row.

    Greedy colouring (networkx) of the column-intersection graph; returns an int array.
    """
    import networkx as nx  # lazily: `import symnum` stays light

    if hasattr(S, "tocsr"):  # a scipy.sparse pattern (an array program's): edges from SᵀS
        from symnum.autodiff.array_sparsity import color_pattern

        return color_pattern(S, strategy)
    S = np.asarray(S, dtype=bool)
    G = nx.Graph()
    G.add_nodes_from(range(S.shape[1]))
    for row in S:
        nz = np.flatnonzero(row)
        for a in range(len(nz)):
            for b in range(a + 1, len(nz)):
                G.add_edge(int(nz[a]), int(nz[b]))
    coloring = nx.coloring.greedy_color(G, strategy=strategy)
    return np.array([coloring[j] for j in range(S.shape[1])], dtype=np.int64)


def compressed_jacobian(es: Any, xs: Any, env, colors: np.ndarray | None = None) -> np.ndarray:
    """Numeric Jacobian at `env` by forward mode, one pass per colour (not per column).

    Each pass pushes the sum of one colour's unit tangents through the graph; each structural
    non-zero is then read off its colour's compressed column.
    """
    from symnum.autodiff.ad import jvp_terms
    from symnum.core.evaluate import eval_many

    arrays = _array_program(es, xs)
    if arrays is not None:  # one JVP array program per colour (array_sparse_jacobian)
        from symnum.autodiff.array_sparse_jacobian import sparse_jacobian_arrays

        return sparse_jacobian_arrays(*arrays, method="colored").to_scipy(env).toarray()
    outs, _ = flatten_terms(es)
    wrt = _check_wrt(flatten_terms(xs)[0])
    S = jacobian_sparsity(outs, wrt)
    colors = color_columns(S) if colors is None else np.asarray(colors)
    ncol = int(colors.max()) + 1 if len(colors) else 0
    compressed = np.zeros((len(outs), ncol))
    for c in range(ncol):
        seed = [1 if colors[j] == c else 0 for j in range(len(wrt))]
        compressed[:, c] = np.asarray(eval_many(jvp_terms(outs, wrt, seed), env), dtype=float)
    J = np.zeros((len(outs), len(wrt)))
    r, k = np.nonzero(S)
    J[r, k] = compressed[r, colors[k]]
    return J
