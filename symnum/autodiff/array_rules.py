"""VJP rules of the array operations (issue 11): one rule per operation, each building array terms.

A rule takes (node, cotangent, active) — `active[k]` says whether argument k needs an adjoint —
and returns one adjoint per argument (None where inactive), each of the argument's own shape.
Cotangents are array terms (or, for a 0-d output seeded with a number, a scalar term); adjoints
of scalar-term arguments are 0-d array terms, which symnum.autodiff.array_ad pushes on through
the scalar partials. Every rule is O(1) terms whatever the array sizes: never a per-element term.
Sits in the autodiff layer (above symnum.arrays, whose op modules state these rules in prose);
must never evaluate anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import symnum.core.primitives as P
from symnum.arrays.ops_gather import Take, take
from symnum.arrays.ops_index import (
    BroadcastTo,
    Concatenate,
    Index,
    Pad,
    Reshape,
    Roll,
    Transpose,
    as_array_operand,
    broadcast_to,
    getitem,
    pad,
    reshape,
    roll,
    transpose,
)
from symnum.arrays.ops_map import Map, elementwise, from_body, placeholder
from symnum.arrays.ops_reduce import Contract, Reduce, Scan, einsum, reduce, scan
from symnum.arrays.ops_segment import SegmentScan
from symnum.arrays.terms import ArrayConst, ArrayExpr, shape_of
from symnum.autodiff import ad
from symnum.autodiff.array_scan_rules import scan_vjp, segment_vjp
from symnum.core.interface import iscall
from symnum.core.terms import Const, Expr
from symnum.core.traversal import postorder, substitute
from symnum.errors import MissingRuleError


def arr(x: Any) -> ArrayExpr:
    """A cotangent as an array term (a scalar constant becomes a 0-d ArrayConst)."""
    if isinstance(x, ArrayExpr):
        return x
    if isinstance(x, Const):
        return ArrayConst(np.array(float(x.value)))
    return as_array_operand(x, "cotangent")


def const_of(ct: Any) -> Const | None:
    """The number a cotangent stands for when it is one everywhere (a seed, its broadcasts)."""
    if isinstance(ct, Const):
        return ct
    while isinstance(ct, ArrayExpr) and getattr(ct, "op", None).__class__ in (BroadcastTo,
                                                                             Reshape):
        ct = ct.args[0]
    if isinstance(ct, ArrayConst) and ct.ndim == 0:
        return Const(float(ct.value[()]))
    if isinstance(ct, Const):
        return ct
    return None


def zeros(shape: tuple) -> ArrayExpr:
    return broadcast_to(ArrayConst(np.array(0.0)), shape)


def sum_to(x: Any, shape: tuple) -> Any:
    """Sum `x` over the axes along which an operand of `shape` was broadcast to x's shape."""
    xs = shape_of(x)
    if xs == tuple(shape):
        return x
    lead = len(xs) - len(shape)
    axes = list(range(lead)) + [lead + j for j, s in enumerate(shape) if s == 1 and
                                xs[lead + j] != 1]
    r = reduce("sum", arr(x), axes) if axes else arr(x)
    return r if r.shape == tuple(shape) else reshape(r, shape)


# ---------------------------------------------------------------------------------------------
# elementwise maps: ȳ · ∂body/∂_j, summed over the broadcast axes


_PARTIALS: dict = {}


def body_partials(op: Map) -> list:
    """∂body/∂_j for each placeholder (scalar terms over the placeholders), once per Map."""
    got = _PARTIALS.get(op)
    if got is None:
        phs = [placeholder(j) for j in range(op.nin)]
        from symnum.core.traversal import free_symbols

        byname = {s.name: s for s in free_symbols(op.body)}
        phs = [byname.get(f"_{j}", phs[j]) for j in range(op.nin)]
        got = _PARTIALS[op] = ad.vjp_terms([op.body], phs, [1])
    return got


def reuse_output(n: Any, d: Any, operands: list) -> Any:
    """A partial that contains the map's own body (tanh's 1 − tanh(x)², exp's exp(x)) reads the
    map's output instead: one more operand, the body's work not repeated in the adjoint loop."""
    body = n.op.body
    if not iscall(body) or not isinstance(d, Expr) or \
            not any(t is body for t in postorder([d])):
        return d
    p = placeholder(len(operands), n.dtype)
    operands.append(n)
    return substitute(d, {body: p})


def _map(n, ct, active):
    parts = body_partials(n.op)
    out = []
    for j, (a, d) in enumerate(zip(n.args, parts)):
        if not active[j]:
            out.append(None)
            continue
        operands = list(n.args)
        d = reuse_output(n, d, operands)
        c = const_of(ct)
        if c is not None:  # a number: no placeholder for it
            body = P.mul(c, d)
        else:
            body = P.mul(placeholder(len(operands), "float64"), d)
            operands.append(ct)
        r = from_body(body, operands, "vjp of a map", n.shape)
        out.append(sum_to(r, shape_of(a)))
    return out


# ---------------------------------------------------------------------------------------------
# reductions and scans


def _reduce(n, ct, active):
    (x,) = n.args
    op = n.op
    kshape = tuple(1 if j in op.axes else s for j, s in enumerate(x.shape))
    c = const_of(ct)
    ctk = reshape(arr(ct), kshape) if c is None else ArrayConst(np.array(float(c.value)))
    if op.kind == "sum":
        return [broadcast_to(ctk, x.shape)]
    yk = n if op.keepdims else reshape(n, kshape)
    if op.kind == "prod":  # ȳ·y/x: undefined (nan) at zeros of x
        return [elementwise(lambda c, y, v: P.div(P.mul(c, y), v), [ctk, yk, x], "vjp prod")]
    # max / min: the cotangent split evenly among the positions equal to the result (JAX's rule)
    hit = elementwise(lambda v, y: P.ifelse(P.eq(v, y), 1.0, 0.0), [x, yk], "vjp max")
    cnt = reduce("sum", hit, op.axes, keepdims=True)
    return [elementwise(lambda h, c, m: P.div(P.mul(h, c), m), [hit, ctk, cnt], "vjp max")]


def _scan(n, ct, active):
    op = n.op
    if op.kind != "sum":  # cumprod, cummax, cummin
        return [scan_vjp(n, arr(ct))]
    rev = (slice(None),) * op.axis + (slice(None, None, -1),)
    return [getitem(scan("sum", getitem(arr(ct), rev), op.axis), rev)]


def _segment(n, ct, active):
    return [segment_vjp(n, arr(ct)), None]  # the start mask: zero derivative


def _contract(n, ct, active):
    ins, out = n.op.parts()
    ct = arr(ct)
    res = []
    for k, (sub, a) in enumerate(zip(ins, n.args)):
        if not active[k]:
            res.append(None)
            continue
        others = [(s, b) for j, (s, b) in enumerate(zip(ins, n.args)) if j != k]
        avail = set(out).union(*[set(s) for s, _ in others])
        present = "".join(c for c in sub if c in avail)
        spec = ",".join([out] + [s for s, _ in others]) + "->" + present
        r = einsum(spec, ct, *[b for _, b in others])
        if present != sub:  # letters summed in this operand only: broadcast back along them
            r = reshape(r, tuple(a.shape[j] if c in avail else 1 for j, c in enumerate(sub)))
            r = broadcast_to(r, a.shape)
        res.append(r)
    return res


# ---------------------------------------------------------------------------------------------
# index maps


def _index(n, ct, active):
    (x,) = n.args
    ct = arr(ct)
    # drop the new axes, give each integer-indexed axis back its length-1 slot
    shape = [e[3] if e[0] == "s" else 1 for e in n.op.entries if e[0] != "n"]
    ct = reshape(ct, tuple(shape))
    widths = []
    j = 0
    for e in n.op.entries:
        if e[0] == "n":
            continue
        size = x.shape[j]
        if e[0] == "i":
            widths.append((e[1], size - e[1] - 1))
        else:
            _, start, step, length = e
            if length == 0:
                return [zeros(x.shape)]
            if step == 1:
                widths.append((start, size - start - length))
            elif step == -1:
                ct = getitem(ct, (slice(None),) * j + (slice(None, None, -1),))
                lo = start - length + 1
                widths.append((lo, size - 1 - start))
            else:  # a strided slice: a gather through the inverse table (length → zero pad)
                table = np.full(size, length, dtype=np.int64)
                table[start + step * np.arange(length)] = np.arange(length)
                padded = pad(ct, [(0, 1) if q == j else (0, 0) for q in range(ct.ndim)])
                ct = take(padded, table, j)
                widths.append((0, 0))
        j += 1
    return [pad(ct, widths) if any(b or a for b, a in widths) else ct]


def _take(n, ct, active):
    x, idx = n.args
    k = n.op.axis
    table = np.asarray(idx.value).ravel()
    m = table.size
    ct = arr(ct)
    ct = reshape(ct, x.shape[:k] + (m,) + x.shape[k + 1:])
    padded = pad(ct, [(0, 1) if q == k else (0, 0) for q in range(ct.ndim)])
    # one gather per occurrence rank: the r-th occurrences of the indices are distinct, so each
    # round is a gather through an inverse table (no scatter, no atomics)
    rank = np.zeros(m, dtype=np.int64)
    seen: dict = {}
    for p, v in enumerate(table.tolist()):
        rank[p] = seen.get(v, 0)
        seen[v] = rank[p] + 1
    parts = []
    for r in range(int(rank.max()) + 1 if m else 0):
        inv = np.full(x.shape[k], m, dtype=np.int64)
        sel = np.flatnonzero(rank == r)
        inv[table[sel]] = sel
        parts.append(take(padded, inv, k))
    if not parts:
        return [zeros(x.shape), None]
    return [elementwise(lambda *a: P.add(*a), parts, "vjp take") if len(parts) > 1 else
            parts[0], None]


def _roll(n, ct, active):
    return [roll(arr(ct), -n.op.shift, n.op.axis)]


def _transpose(n, ct, active):
    return [transpose(arr(ct), tuple(np.argsort(n.op.perm).tolist()))]


def _reshape(n, ct, active):
    return [reshape(arr(ct), n.args[0].shape if isinstance(n.args[0], ArrayExpr) else ())]


def _broadcast(n, ct, active):
    return [sum_to(arr(ct), shape_of(n.args[0]))]


def _concatenate(n, ct, active):
    ct = arr(ct)
    ax = n.op.axis
    out, lo = [], 0
    for a, act in zip(n.args, active):
        hi = lo + a.shape[ax]
        out.append(getitem(ct, (slice(None),) * ax + (slice(lo, hi),)) if act else None)
        lo = hi
    return out


def _pad(n, ct, active):
    (x,) = n.args
    key = tuple(slice(b, b + s) for s, (b, _) in zip(x.shape, n.op.widths))
    return [getitem(arr(ct), key)]


VJP_RULES = {Map: _map, Reduce: _reduce, Scan: _scan, SegmentScan: _segment,
             Contract: _contract, Index: _index,
             Take: _take, Roll: _roll, Transpose: _transpose, Reshape: _reshape,
             BroadcastTo: _broadcast, Concatenate: _concatenate, Pad: _pad}


def vjp_rule(n) -> Any:
    rule = VJP_RULES.get(type(n.op))
    if rule is None:
        raise MissingRuleError(f"no VJP rule for the array operation {type(n.op).__name__}")
    return rule


def scalar_vjp(n: Expr, ct: Any, active: set) -> list:
    """A scalar term's adjoints [(child, adjoint)]: ȳ · ∂n/∂child from the Op blocks, as 0-d
    maps (the cotangent of a scalar term inside an array program is a 0-d array term)."""
    return [(a, elementwise(P.mul, [ct, d], "vjp of a scalar"))
            for a, d in ad.local_partials(n) if id(a) in active]
