"""Array-level rewriting: broadcast-and-reduce fusion — a sum of a broadcast product becomes a
contraction, a scalar factor leaves the sum, a sum of a broadcast becomes a multiple.

Three shapes numpy code writes often and evaluates wastefully (a temporary as large as the
broadcast, then a reduction over it):
* `sum(A * B, axes)` where the product's operands, read through their broadcasting (a newaxis
  index `x[:, None]` is looked through), make a contraction of matrix-product shape —
  `(x[:, None] * W).sum(0)` → `x @ W`, `(W * x).sum(1)` → `W @ x`, `np.sum(a * b)` → `a @ b` —
  is that contraction (BLAS in the array backends, no n × m temporary). Other contractions
  (`(A * B).sum(0)` over two matrices: a batch axis) are left alone: the backends loop over
  them anyway.
* `sum(c · f(x), axes)` with c a literal or a scalar (shape ()) operand → c · sum(f(x), axes):
  one multiplication instead of one per element.
* `sum(broadcast_to(x, shape), axes)` over the new leading axes only → n · x (n their sizes'
  product).
Exact on the reals; rounding differs as with any reassociation (a contraction sums in BLAS's
order). Runs before the matrix-chain pass (rewrites/array_chain.py), so the contractions it
makes take part in chain reassociation. Reached from symnum.simplify through its registry of
array passes (never imported by it).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from symnum.rewrites.array_chain import _matmul_shape

from symnum.arrays.ops_index import BroadcastTo, Index, broadcast_to
from symnum.arrays.ops_map import Map, from_body, is_placeholder, placeholder, placeholder_index
from symnum.arrays.ops_reduce import Contract, Reduce, einsum, reduce
from symnum.arrays.terms import ArrayExpr, ArrayTerm
from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.core.traversal import postorder
from symnum.rules.predicates import is_literal, opname


def _is_sum(n: Any) -> bool:
    return (isinstance(n, ArrayTerm) and isinstance(n.op, Reduce) and n.op.kind == "sum"
            and not n.op.keepdims)


def _look_through_newaxes(t: Any) -> tuple[Any, list]:
    """(base, axis map): `t` = base with new size-1 axes inserted, each axis of t mapped to an
    axis of base or None (a new axis). An Index that only inserts axes and takes whole axes."""
    if isinstance(t, ArrayTerm) and isinstance(t.op, Index):
        base = t.args[0]
        amap: list = []
        k = 0
        for e in t.op.entries:
            if e[0] == "n":
                amap.append(None)
            elif e[0] == "s" and e[1] == 0 and e[2] == 1 and e[3] == base.shape[k]:
                amap.append(k)
                k += 1
            else:
                return t, list(range(t.ndim))
        if k == base.ndim:
            return base, amap
    return t, list(range(getattr(t, "ndim", 0)))


def _letters(arg: Any, shape: tuple) -> tuple[Any, str] | None:
    """(term, einsum letters) for one operand of a product broadcast to `shape` (letter i is
    axis i of the broadcast), or None where broadcasting would need a squeeze."""
    base, amap = _look_through_newaxes(arg)
    offset = len(shape) - arg.ndim
    letters = [""] * base.ndim
    for j, b in enumerate(amap):
        m = offset + j
        if b is None:
            continue  # a new size-1 axis: broadcast
        if base.shape[b] != shape[m]:
            return None  # a real size-1 axis stretched: would need a squeeze
        letters[b] = string.ascii_lowercase[m]
    return base, "".join(letters)


def _contraction(n: ArrayTerm) -> Any | None:
    """sum(A * B, axes) as a matrix-product-shaped contraction, or None."""
    prod = n.args[0]
    if not (isinstance(prod, ArrayTerm) and isinstance(prod.op, Map)):
        return None
    body = prod.op.body
    factors = list(arguments(body)) if iscall(body) else []
    if opname(body) == "pow" and factors and is_literal(factors[1]) and float(
            factors[1].value) == 2.0:
        factors = [factors[0], factors[0]]  # x² = x·x: sum(a**2) is a @ a
    elif opname(body) != "mul":
        return None
    if len(factors) != 2 or not all(is_placeholder(f) for f in factors):
        return None
    operands = [prod.args[placeholder_index(f)] for f in factors]
    if not all(isinstance(a, ArrayExpr) and a.ndim >= 1 for a in operands):
        return None
    shape = prod.shape
    if len(shape) > len(string.ascii_lowercase):
        return None
    ops = [_letters(a, shape) for a in operands]
    if any(o is None for o in ops):
        return None
    out = "".join(string.ascii_lowercase[m] for m in range(len(shape)) if m not in n.op.axes)
    used = set(ops[0][1]) | set(ops[1][1])
    if not set(out) <= used or any(string.ascii_lowercase[m] not in used for m in n.op.axes):
        return None  # an axis no operand provides (size 1 throughout): leave it
    spec = f"{ops[0][1]},{ops[1][1]}->{out}"
    c = einsum(spec, ops[0][0], ops[1][0])
    if not (isinstance(c, ArrayTerm) and isinstance(c.op, Contract)) or _matmul_shape(c) is None:
        return None
    return c if c.shape == n.shape else None


def _scalar_factor(n: ArrayTerm) -> Any | None:
    """sum(c · f(x)) → c · sum(f(x)) for literal factors c and scalar operands."""
    m = n.args[0]
    if not (isinstance(m, ArrayTerm) and isinstance(m.op, Map)):
        return None
    body = m.op.body
    if opname(body) != "mul":
        return None
    scalar_ops = {i for i, a in enumerate(m.args)
                  if not isinstance(a, ArrayExpr) or a.ndim == 0}
    out_f, keep = [], []
    for f in arguments(body):
        if is_literal(f) or (is_placeholder(f) and placeholder_index(f) in scalar_ops):
            out_f.append(f)
        else:
            keep.append(f)
    if not out_f or not keep:
        return None
    from symnum.core.primitives import mul

    rest = from_body(mul(*keep), list(m.args), "sum fusion", m.shape)
    summed = reduce("sum", rest, axis=n.op.axes)
    again = fuse_one(summed)  # what is left may fuse again (nested maps)
    summed = summed if again is None else again
    # c·sum as one map over (the scalar operands, the sum): placeholders renumbered
    ren, k = {}, 0
    for f in out_f:
        if is_placeholder(f) and f not in ren:
            ren[f] = placeholder(k, m.args[placeholder_index(f)].dtype if isinstance(
                m.args[placeholder_index(f)], ArrayExpr) else "float64")
            k += 1
    ops = list(dict.fromkeys(m.args[placeholder_index(f)] for f in ren))
    factors = [ren.get(f, f) for f in out_f]
    new = from_body(mul(*factors, placeholder(len(ops))), [*ops, summed], "sum fusion")
    return new if new.shape == n.shape else None


def _broadcast_sum(n: ArrayTerm) -> Any | None:
    """sum(broadcast_to(x, shape)) over new leading axes only → (their sizes' product)·x."""
    b = n.args[0]
    if not (isinstance(b, ArrayTerm) and isinstance(b.op, BroadcastTo)):
        return None
    x = b.args[0]
    lead = b.ndim - getattr(x, "ndim", 0)
    if not all(a < lead for a in n.op.axes):
        return None
    count = 1
    for a in n.op.axes:
        count *= b.shape[a]
    if count == 0:
        return None
    rest = tuple(s for j, s in enumerate(b.shape) if j not in n.op.axes)
    base = x if tuple(getattr(x, "shape", ())) == rest else broadcast_to(x, rest)
    new = from_body(placeholder(0) * float(count), [base], "sum fusion")
    return new if new.shape == n.shape else None


def fuse_one(n: Any) -> Any | None:
    """The fused form of one sum term, or None."""
    if not _is_sum(n):
        return None
    for f in (_contraction, _scalar_factor, _broadcast_sum):
        new = f(n)
        if new is not None:
            return new
    return None


def fuse(roots: Sequence[Any]) -> list:
    """`roots` (array terms sharing one DAG) with every broadcast-and-reduce sum fused.

    >>> from symnum.arrays.terms import ArraySym
    >>> x, W = ArraySym("x", (50,)), ArraySym("W", (50, 8))
    >>> print(fuse([(x[:, None] * W).sum(0)])[0])
    einsum('a,ab->b', x, W)
    """
    roots = list(roots)
    memo: dict[int, Any] = {}
    for n in postorder(roots):
        cur = n
        if iscall(n) and isinstance(n, ArrayExpr):
            args = arguments(n)
            fresh = [memo.get(id(a), a) for a in args]
            if any(f is not a for f, a in zip(fresh, args)):
                cur = maketerm(type(n), operation(n), fresh, metadata(n))
        new = fuse_one(cur)
        if new is not None:
            if new.shape != n.shape:
                raise AssertionError(f"sum fusion changed a shape: {n.shape} → {new.shape}")
            cur = new
        if cur is not n:
            memo[id(n)] = cur
    return [memo.get(id(r), r) for r in roots]


__all__ = ["fuse", "fuse_one"]
