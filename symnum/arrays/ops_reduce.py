"""Reductions over axes and contractions (einsum): the array operations with an accumulator.

`Reduce(kind, axes, keepdims)` for sum, prod, max, min; mean, var, std and logsumexp are
compositions of it with Maps. `Contract(spec)` is einsum over explicit subscripts
("ij,jk->ik"): matmul, dot, inner, outer, tensordot and einsum all build it. Each is one term
whatever the sizes; the loop backend lowers it to a loop with a running accumulator (or BLAS).

Differentiation (issue 11): sum's VJP broadcasts the cotangent back over the reduced axes; prod's
is ȳ·y/x (or the product of the others where x = 0); max/min's routes ȳ to the positions equal
to the result (a Map with ifelse). A contraction is bilinear: its VJP to one operand is the
contraction of the cotangent with the other operand (einsum with the subscripts permuted), its
JVP the sum of the two contractions with one tangent each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import symnum.core.primitives as P
from symnum.arrays.ops_base import ArrayOp, float_dtype
from symnum.arrays.ops_index import _axes, as_array_operand, broadcast_to, reshape
from symnum.arrays.ops_map import elementwise
from symnum.arrays.terms import ArrayExpr, ArrayTerm
from symnum.errors import ShapeError, UnsupportedOperationError

_KINDS = ("sum", "prod", "max", "min")


@dataclass(frozen=True)
class Reduce(ArrayOp):
    kind: str
    axes: tuple
    keepdims: bool = False
    name = "reduce"

    def infer(self, args):
        (a,) = args
        shape = tuple(1 if j in self.axes else s for j, s in enumerate(a.shape)
                      if self.keepdims or j not in self.axes)
        dt = a.dtype if self.kind in ("max", "min") else float_dtype(a.dtype)
        return shape, dt

    def impl(self, v):
        f = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}[self.kind]
        dt = np.asarray(v).dtype.name
        out_dt = dt if self.kind in ("max", "min") else float_dtype(dt)
        return np.asarray(f(v, axis=self.axes, keepdims=self.keepdims)).astype(out_dt)

    def scalarize(self, elems):
        e = elems[0]
        kept = [j for j in range(e.ndim) if j not in self.axes]
        moved = np.transpose(e, kept + list(self.axes))
        outer = moved.shape[:len(kept)]
        rows = moved.reshape(outer + (-1,))
        out = np.empty(outer, dtype=object)
        combine = {"sum": lambda r: P.add(*r) if len(r) else P.add(0, 0),
                   "prod": lambda r: P.mul(*r) if len(r) else P.mul(1, 1),
                   "max": lambda r: _fold(P.maximum, r),
                   "min": lambda r: _fold(P.minimum, r)}[self.kind]
        for idx in np.ndindex(outer):
            out[idx] = combine(list(rows[idx]))
        if self.keepdims:
            out = out.reshape([1 if j in self.axes else s for j, s in enumerate(e.shape)])
        return out


def _fold(f, xs: list):
    acc = xs[0]
    for x in xs[1:]:
        acc = f(acc, x)
    return acc


def reduce(kind: str, x: Any, axis: Any = None, keepdims: bool = False) -> ArrayExpr:
    """A reduction of `x` over `axis` (None: all axes).

    >>> from symnum.arrays.terms import ArraySym
    >>> reduce("sum", ArraySym("x", (3, 4)), axis=0).shape
    (4,)
    """
    if kind not in _KINDS:
        raise UnsupportedOperationError(f"no reduction named {kind!r}; use one of {_KINDS}")
    x = as_array_operand(x, kind)
    axes = tuple(range(x.ndim)) if axis is None else tuple(sorted(_axes(axis, x.ndim, kind)))
    if kind in ("max", "min") and any(x.shape[j] == 0 for j in axes):
        raise ShapeError(f"{kind} of an empty axis of an array of shape {x.shape} has no "
                         "identity; pass a non-empty array")
    if not axes:
        return x
    return ArrayTerm(Reduce(kind, axes, bool(keepdims)), (x,))


def _count(x: ArrayExpr, axis: Any) -> int:
    axes = range(x.ndim) if axis is None else _axes(axis, x.ndim, "mean")
    return int(np.prod([x.shape[j] for j in axes], dtype=np.int64))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> ArrayExpr:
    x = as_array_operand(x, "mean")
    n = _count(x, axis)
    return elementwise(lambda s: P.mul(s, 1.0 / n) if n else P.div(s, 0.0),
                       [reduce("sum", x, axis, keepdims)], "mean")


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> ArrayExpr:
    x = as_array_operand(x, "var")
    m = mean(x, axis, keepdims=True)
    sq = elementwise(lambda a, b: P.pow(P.sub(a, b), 2), [x, m], "var")
    n = _count(x, axis) - ddof
    return elementwise(lambda s: P.div(s, float(max(n, 0))),
                       [reduce("sum", sq, axis, keepdims)], "var")


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> ArrayExpr:
    return elementwise(P.sqrt, [var(x, axis, ddof, keepdims)], "std")


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> ArrayExpr:
    """log Σ exp(x), shifted by the maximum (stable; as scipy.special.logsumexp)."""
    x = as_array_operand(x, "logsumexp")
    m = reduce("max", x, axis, keepdims=True)
    s = reduce("sum", elementwise(lambda a, b: P.exp(P.sub(a, b)), [x, m], "logsumexp"), axis,
               keepdims=True)
    r = elementwise(lambda a, b: P.add(P.log(a), b), [s, m], "logsumexp")
    if keepdims:
        return r
    axes = range(x.ndim) if axis is None else _axes(axis, x.ndim, "logsumexp")
    return reshape(r, [s for j, s in enumerate(x.shape) if j not in axes])


# ---------------------------------------------------------------------------------------------
# scans: cumulative reductions along one axis (np.cumsum, np.cumprod, ufunc.accumulate)

_SCANS = {"sum": np.cumsum, "prod": np.cumprod, "max": np.maximum.accumulate,
          "min": np.minimum.accumulate}


@dataclass(frozen=True)
class Scan(ArrayOp):
    """out[..., k, ...] = reduce(in[..., 0..k, ...]) along `axis` (kind sum, prod, max, min).

    Issue 11: cumsum's VJP is a reversed cumsum of the cotangent; cumprod's follows from the
    running values (a Map over the output), cummax's and cummin's are segment scans over the
    runs of one running maximum (symnum.arrays.ops_segment)."""

    kind: str
    axis: int
    name = "scan"

    def infer(self, args):
        (a,) = args
        return a.shape, a.dtype if self.kind in ("max", "min") else float_dtype(a.dtype)

    def impl(self, v):
        dt = np.asarray(v).dtype.name
        out_dt = dt if self.kind in ("max", "min") else float_dtype(dt)
        return np.asarray(_SCANS[self.kind](v, axis=self.axis)).astype(out_dt)

    def scalarize(self, elems):
        e = np.moveaxis(elems[0], self.axis, -1)
        out = np.empty(e.shape, dtype=object)
        step = {"sum": P.add, "prod": P.mul, "max": P.maximum, "min": P.minimum}[self.kind]
        for idx in np.ndindex(e.shape[:-1]):
            acc = None
            for k in range(e.shape[-1]):
                acc = e[idx + (k,)] if acc is None else step(acc, e[idx + (k,)])
                out[idx + (k,)] = acc
        return np.moveaxis(out, -1, self.axis)


def scan(kind: str, x: Any, axis: Any = None) -> ArrayExpr:
    """np.cumsum / np.cumprod / np.maximum.accumulate / np.minimum.accumulate (axis None: of
    the flattened array, as numpy)."""
    if kind not in _SCANS:
        raise UnsupportedOperationError(f"no scan named {kind!r}; use one of {tuple(_SCANS)}")
    x = as_array_operand(x, f"cum{kind}")
    if axis is None:
        x, axis = reshape(x, (x.size,)), 0
    (axis,) = _axes(axis, x.ndim, f"cum{kind}")
    return ArrayTerm(Scan(kind, axis), (x,))


# ---------------------------------------------------------------------------------------------
# contractions


@dataclass(frozen=True)
class Contract(ArrayOp):
    """einsum with explicit subscripts: out[o] = Σ over the other letters of Π operands."""

    spec: str
    name = "contract"

    def parts(self) -> tuple[list[str], str]:
        ins, out = self.spec.split("->")
        return ins.split(","), out

    def infer(self, args):
        ins, out = self.parts()
        sizes: dict[str, int] = {}
        for sub, a in zip(ins, args):
            for c, n in zip(sub, a.shape):
                if sizes.setdefault(c, n) != n:
                    shapes = " and ".join(str(b.shape) for b in args)
                    raise ShapeError(f"{self.label()}: shapes {shapes} do not match "
                                     f"(subscript {c!r}: {sizes[c]} vs {n})")
        return tuple(sizes[c] for c in out), float_dtype(*(a.dtype for a in args))

    def label(self) -> str:
        return f"einsum {self.spec!r}"

    def sizes(self, args) -> dict[str, int]:
        ins, _ = self.parts()
        return {c: n for sub, a in zip(ins, args) for c, n in zip(sub, a.shape)}

    def impl(self, *vals):
        dt = float_dtype(*(np.asarray(v).dtype.name for v in vals))
        vals = [np.asarray(v, dtype=dt) for v in vals]
        return np.asarray(np.einsum(self.spec, *vals, optimize=len(vals) > 1), dtype=dt)

    def scalarize(self, elems):
        ins, out = self.parts()
        sizes = {c: n for sub, e in zip(ins, elems) for c, n in zip(sub, e.shape)}
        summed = [c for c in sizes if c not in out]
        res = np.empty(tuple(sizes[c] for c in out), dtype=object)
        for oidx in np.ndindex(res.shape):
            env = dict(zip(out, oidx))
            terms = []
            for sidx in np.ndindex(*[sizes[c] for c in summed]):
                env.update(zip(summed, sidx))
                terms.append(P.mul(*[e[tuple(env[c] for c in sub)] for sub, e in
                                     zip(ins, elems)]))
            res[oidx] = P.add(*terms) if terms else P.add(0, 0)
        return res


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum(spec: str, *operands: Any) -> ArrayExpr:
    """np.einsum for symbolic arrays (explicit or implicit output; no '...').

    >>> from symnum.arrays.terms import ArraySym
    >>> einsum("ij,j->i", ArraySym("A", (2, 3)), ArraySym("v", (3,))).shape
    (2,)
    """
    spec = spec.replace(" ", "")
    if "." in spec:
        raise UnsupportedOperationError("einsum with '...' has no symbolic-array rule yet; "
                                        "write the subscripts out")
    ops = [as_array_operand(o, "einsum") for o in operands]
    ins_s, arrow, out = spec.partition("->")
    ins = ins_s.split(",")
    if len(ins) != len(ops):
        raise ShapeError(f"einsum {spec!r} names {len(ins)} operands, {len(ops)} given")
    for sub, o in zip(ins, ops):
        if len(sub) != o.ndim:
            raise ShapeError(f"einsum {spec!r}: subscripts {sub!r} for an operand of shape "
                             f"{o.shape}")
    if not arrow:
        counts: dict[str, int] = {}
        for c in "".join(ins):
            counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    for sub in ins:
        if len(set(sub)) != len(sub):
            raise UnsupportedOperationError(f"einsum {spec!r}: a repeated subscript within one "
                                            "operand (a diagonal) has no rule yet")
    t = ArrayTerm(Contract(f"{','.join(ins)}->{out}"), tuple(ops))
    return t


def matmul(a: Any, b: Any) -> ArrayExpr:
    a, b = as_array_operand(a, "matmul"), as_array_operand(b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands of shapes {a.shape} and {b.shape}; matmul needs "
                         "at least one dimension on each side (use * for scalars)")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not match (inner "
                         f"dimensions {ka} and {kb})")
    if a.ndim <= 2 and b.ndim <= 2:
        sa = "ij"[2 - a.ndim:] if a.ndim == 2 else "j"
        sb = "jk" if b.ndim == 2 else "j"
        out = ("i" if a.ndim == 2 else "") + ("k" if b.ndim == 2 else "")
        return einsum(f"{sa},{sb}->{out}", a, b)
    # batched: broadcast the batch dimensions, then one contraction
    a2 = a if a.ndim >= 2 else reshape(a, (1,) + a.shape)
    b2 = b if b.ndim >= 2 else reshape(b, b.shape + (1,))
    batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    a2 = broadcast_to(a2, batch + a2.shape[-2:])
    b2 = broadcast_to(b2, batch + b2.shape[-2:])
    bl = _LETTERS[3:3 + len(batch)]
    r = einsum(f"{bl}ij,{bl}jk->{bl}ik", a2, b2)
    if a.ndim == 1:
        r = reshape(r, r.shape[:-2] + r.shape[-1:])
    if b.ndim == 1:
        r = reshape(r, r.shape[:-1])
    return r


def dot(a: Any, b: Any) -> ArrayExpr:
    a, b = as_array_operand(a, "dot"), as_array_operand(b, "dot")
    if a.ndim == 0 or b.ndim == 0:
        return elementwise(P.mul, [a, b], "dot")
    if b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]))


def tensordot(a: Any, b: Any, axes: Any = 2) -> ArrayExpr:
    a, b = as_array_operand(a, "tensordot"), as_array_operand(b, "tensordot")
    if isinstance(axes, (int, np.integer)):
        ax_a = list(range(a.ndim - int(axes), a.ndim))
        ax_b = list(range(int(axes)))
    else:
        ax_a, ax_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
        ax_a = list(_axes(ax_a, a.ndim, "tensordot"))
        ax_b = list(_axes(ax_b, b.ndim, "tensordot"))
    if len(ax_a) != len(ax_b):
        raise ShapeError("tensordot: the two axis lists differ in length")
    sa = list(_LETTERS[:a.ndim])
    sb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for k, c in enumerate(sa) if k not in ax_a] + \
        [c for k, c in enumerate(sb) if k not in ax_b]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


def outer(a: Any, b: Any) -> ArrayExpr:
    a, b = as_array_operand(a, "outer"), as_array_operand(b, "outer")
    return einsum("i,j->ij", reshape(a, (a.size,)), reshape(b, (b.size,)))


def inner(a: Any, b: Any) -> ArrayExpr:
    a, b = as_array_operand(a, "inner"), as_array_operand(b, "inner")
    if a.ndim == 0 or b.ndim == 0:
        return elementwise(P.mul, [a, b], "inner")
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def vdot(a: Any, b: Any) -> ArrayExpr:
    a, b = as_array_operand(a, "vdot"), as_array_operand(b, "vdot")
    if a.size != b.size:
        raise ShapeError(f"vdot: sizes of shapes {a.shape} and {b.shape} differ")
    return einsum("i,i->", reshape(a, (a.size,)), reshape(b, (b.size,)))

