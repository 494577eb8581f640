"""Array-level rewriting: matrix chains reassociated by cost, transposes folded into contractions.

A product of matrices and vectors — nested two-operand contractions of matmul shape (`ij,jk->ik`,
`ij,j->i`, `i,ij->j`, `i,i->`, or any relabelling, with operands used transposed) and 2-D
transposes — is read as one chain of factors, each a term used as is or transposed. The classical
dynamic programme (O(k³) over k factors) picks the bracketing with the fewest multiply-adds, and
the chain is rebuilt from two-operand contractions whose subscripts absorb every transpose:
`(A @ B) @ x` becomes `A @ (B @ x)` (n³ + n² → 2n² at n × n), `A.T @ x` one contraction over A's
first axis with no transposed copy. A contraction used more than once stays a factor (its value
is shared; opening it would compute it twice); the rebuilt chain is kept only when it costs fewer
multiply-adds than the input's own bracketing or drops a transpose, so the pass never makes a
program costlier by its model. Exact on the reals; rounding differs as with any reassociation.
Reached from symnum.simplify through its registry of array passes (never imported by it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from symnum.arrays.ops_index import Transpose
from symnum.arrays.ops_reduce import Contract, einsum
from symnum.arrays.terms import ArrayExpr, ArrayTerm
from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.core.traversal import postorder


@dataclass(frozen=True)
class Factor:
    term: Any
    transposed: bool = False

    def flip(self) -> Factor:
        return Factor(self.term, not self.transposed) if self.term.ndim == 2 else self


@dataclass
class Chain:
    factors: list
    cost: int = 0  # multiply-adds of the input's own bracketing
    transposes: int = 0  # Transpose nodes absorbed
    interior: tuple = ()  # ids of the nodes opened (the root's own products and transposes)

    def reversed(self) -> Chain:
        return Chain([f.flip() for f in reversed(self.factors)], self.cost, self.transposes,
                     self.interior)


def _matmul_shape(n: Any) -> tuple | None:
    """(left transposed, right transposed, result transposed) when `n` is a two-operand
    contraction of matrix-product shape over real (not batch) axes, else None."""
    if not (isinstance(n, ArrayTerm) and isinstance(n.op, Contract) and len(n.args) == 2):
        return None
    ins, out = n.op.parts()
    s1, s2 = ins
    if not (1 <= len(s1) <= 2 and 1 <= len(s2) <= 2):
        return None
    shared = set(s1) & set(s2)
    if len(shared) != 1 or len(set(s1)) != len(s1) or len(set(s2)) != len(s2):
        return None
    (k,) = shared
    if k in out:
        return None
    f1, f2 = s1.replace(k, ""), s2.replace(k, "")
    # left operand: rows are its free letter; used transposed when k comes first (ki)
    t1 = len(s1) == 2 and s1[0] == k
    t2 = len(s2) == 2 and s2[1] == k
    if out == f1 + f2:
        return t1, t2, False
    if f1 and f2 and out == f2 + f1:
        return t1, t2, True
    return None


def _flops(n: ArrayTerm) -> int:
    sizes = n.op.sizes(n.args)
    p = 1
    for v in sizes.values():
        p *= v
    return p


def _chain(n: Any, uses: dict[int, int], root: bool, share: frozenset = frozenset()) -> Chain:
    """The chain of factors whose product is `n` (opening nodes used once, and the shared
    ones in `share`)."""
    if not root and uses.get(id(n), 0) > 1 and id(n) not in share:
        return Chain([Factor(n)])
    if isinstance(n, ArrayTerm) and isinstance(n.op, Transpose) and n.ndim == 2:
        c = _chain(n.args[0], uses, False, share).reversed()
        c.transposes += 1
        c.interior += (id(n),)
        return c
    shape = _matmul_shape(n)
    if shape is None:
        return Chain([Factor(n)])
    t1, t2, tout = shape
    left = _chain(n.args[0], uses, False, share)
    right = _chain(n.args[1], uses, False, share)
    if t1:
        left = left.reversed()
    if t2:
        right = right.reversed()
    c = Chain(left.factors + right.factors, left.cost + right.cost + _flops(n),
              left.transposes + right.transposes, left.interior + right.interior + (id(n),))
    return c.reversed() if tout else c


def _dims(factors: Sequence[Factor]) -> list[int] | None:
    """p[0..k] with factor i of logical shape (p[i], p[i+1]); a vector is 1 × n first, n × 1
    last, and nowhere else."""
    k = len(factors)
    p: list[int] = []
    for i, f in enumerate(factors):
        s = f.term.shape
        if f.term.ndim == 1:
            if i == 0:
                r, c = 1, s[0]
            elif i == k - 1:
                r, c = s[0], 1
            else:
                return None
        elif f.term.ndim == 2:
            r, c = (s[1], s[0]) if f.transposed else s
        else:
            return None
        if p and p[-1] != r:
            return None
        if not p:
            p.append(r)
        p.append(c)
    return p


def chain_order(p: Sequence[int]) -> tuple[int, list[list[int]]]:
    """The classical matrix-chain DP: (least multiply-adds, split table) for shapes p.

    >>> chain_order([10, 100, 5, 50])[0]   # (A·B)·C: 5,000 + 2,500
    7500
    """
    k = len(p) - 1
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(2, k + 1):
        for i in range(k - length + 1):
            j = i + length - 1
            best, arg = None, i
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + p[i] * p[s + 1] * p[j + 1]
                if best is None or c < best:
                    best, arg = c, s
            cost[i][j], split[i][j] = best or 0, arg
    return cost[0][k - 1], split


@dataclass(frozen=True)
class _Value:
    term: Any
    rows: bool  # has a row axis (not a leading row vector)
    cols: bool
    transposed: bool = False  # a single factor used transposed


def _build(factors: Sequence[Factor], split: list[list[int]], i: int, j: int) -> _Value:
    k = len(factors)
    if i == j:
        f = factors[i]
        if f.term.ndim == 1:
            return _Value(f.term, rows=i != 0, cols=i != k - 1)
        return _Value(f.term, True, True, f.transposed)
    s = split[i][j]
    a, b = _build(factors, split, i, s), _build(factors, split, s + 1, j)
    # numpy's matmul letters (i rows, j contracted, k columns): the loop backend sends these
    # specs, transposed operands included, to BLAS
    sa = ("ji" if a.transposed else "ij") if a.rows else "j"
    sb = ("kj" if b.transposed else "jk") if b.cols else "j"
    out = ("i" if a.rows else "") + ("k" if b.cols else "")
    return _Value(einsum(f"{sa},{sb}->{out}", a.term, b.term), a.rows, b.cols)


def _best(c: Chain) -> tuple[int, list[list[int]] | None]:
    """(multiply-adds, split table) of the chain's cheapest bracketing; the input's own cost
    and None where the chain cannot be read."""
    p = _dims(c.factors)
    if p is None or len(c.factors) < 2:
        return c.cost, None
    best, split = chain_order(p)
    return min(best, c.cost), (split if best < c.cost or c.transposes else None)


def _plan(order: list, uses: dict[int, int], share: frozenset) -> tuple[dict[int, Chain], int]:
    """The chains read from their outermost products (parents come first in reversed
    postorder; the products and transposes a chain opens are not chains of their own), and
    the program's modelled multiply-adds in contractions after the rewrite."""
    chains: dict[int, Chain] = {}
    opened: set[int] = set()
    total = 0
    for n in reversed(order):
        if id(n) not in opened and _matmul_shape(n) is not None:
            c = _chain(n, uses, True, share)
            chains[id(n)] = c
            opened.update(c.interior)
            total += _best(c)[0]
    return chains, total


def _rewrite(c: Chain, memo: dict[int, Any]) -> Any:
    """The chain rebuilt in its cheapest bracketing over its (already rewritten) factors, or
    None when that is not cheaper than the input's own."""
    split = _best(c)[1]
    if split is None:
        return None
    factors = [Factor(memo.get(id(f.term), f.term), f.transposed) for f in c.factors]
    return _build(factors, split, 0, len(factors) - 1).term


def reassociate(roots: Sequence[Any]) -> list:
    """`roots` (array terms sharing one DAG) with every matrix chain rebuilt in its cheapest
    bracketing and transposes folded into the contractions.

    >>> from symnum.arrays.terms import ArraySym
    >>> A, B, x = ArraySym("A", (50, 50)), ArraySym("B", (50, 50)), ArraySym("x", (50,))
    >>> print(reassociate([(A @ B) @ x])[0])
    A @ (B @ x)
    """
    roots = list(roots)
    order = postorder(roots)
    uses: dict[int, int] = {}
    for n in order:
        if iscall(n):
            for a in arguments(n):
                uses[id(a)] = uses.get(id(a), 0) + 1
    for r in roots:
        uses[id(r)] = uses.get(id(r), 0) + 1
    # a product used several times, only ever inside other products, may be opened in each
    # (recomputed as matrix-vector products, say) where that costs less than computing it once
    product_like: dict[int, bool] = {}
    for n in order:
        if iscall(n):
            inside = _matmul_shape(n) is not None or (
                isinstance(n, ArrayTerm) and isinstance(n.op, Transpose) and n.ndim == 2)
            for a in arguments(n):
                product_like[id(a)] = product_like.get(id(a), True) and inside
    for r in roots:
        product_like[id(r)] = False
    share = frozenset(id(n) for n in order if uses.get(id(n), 0) > 1
                      and product_like.get(id(n), False) and _matmul_shape(n) is not None)
    chains, total = _plan(order, uses, frozenset())
    if share:
        chains_shared, total_shared = _plan(order, uses, share)
        if total_shared < total:
            chains = chains_shared
    if not chains:
        return roots
    memo: dict[int, Any] = {}
    for n in order:  # children first: a chain's factors are rewritten before the chain
        new = _rewrite(chains[id(n)], memo) if id(n) in chains else None
        if new is None and iscall(n) and isinstance(n, ArrayExpr):
            args = arguments(n)
            fresh = [memo.get(id(a), a) for a in args]
            if any(f is not a for f, a in zip(fresh, args)):
                new = maketerm(type(n), operation(n), fresh, metadata(n))
        if new is not None and new is not n:
            if new.shape != n.shape:  # a shape the reading got wrong: keep the input
                raise AssertionError(f"matrix-chain rewrite changed a shape: {n.shape} → "
                                     f"{new.shape}")
            memo[id(n)] = new
    return [memo.get(id(r), r) for r in roots]


__all__ = ["chain_order", "reassociate"]
