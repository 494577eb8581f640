"""Index maps: operations that move elements without computing on them.

Basic indexing (integers, slices with steps and negative bounds, None, ...), roll, reshape,
transpose, broadcast_to, concatenate and constant pad — each one term whatever the size, each an
affine (or piecewise) map from output indices to input indices, which is how the loop backend
lowers them (index arithmetic, no data moved). Their numpy impl and their scalarize are the same
numpy call (on values, or on object arrays of scalar terms). Never builds per-element terms.

Differentiation (issue 11): each of these is linear; its VJP is the transposed index map —
Index → scatter into zeros (a Pad/Index of the cotangent), Roll → Roll by −shift, Reshape →
Reshape back, Transpose → inverse permutation, BroadcastTo → Reduce "sum" over the broadcast
axes, Concatenate → Index slices, Pad → Index of the interior. JVPs apply the op to tangents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from symnum.arrays.ops_base import ArrayOp, float_dtype
from symnum.arrays.terms import ArrayExpr, ArrayTerm, norm_shape
from symnum.core.terms import Const, Expr
from symnum.errors import ShapeError, TracingError, UnsupportedOperationError


def _only(args: tuple, what: str) -> ArrayExpr:
    (a,) = args
    if not isinstance(a, ArrayExpr):
        raise TypeError(f"{what} needs an array term")
    return a


# ---------------------------------------------------------------------------------------------
# basic indexing


@dataclass(frozen=True)
class Index(ArrayOp):
    """Basic indexing. `entries`, in order: ("s", start, step, length) or ("i", k) for each input
    axis, and ("n",) for each new axis of length 1. out[..j..] reads in[..start + step·j..]."""

    entries: tuple
    name = "index"

    def infer(self, args):
        a = _only(args, "index")
        shape = []
        for e in self.entries:
            if e[0] == "s":
                shape.append(e[3])
            elif e[0] == "n":
                shape.append(1)
        return tuple(shape), a.dtype

    def numpy_key(self) -> tuple:
        key = []
        for e in self.entries:
            if e[0] == "n":
                key.append(None)
            elif e[0] == "i":
                key.append(e[1])
            else:
                _, start, step, length = e
                stop = start + step * length
                key.append(slice(start, stop if stop >= 0 else None, step) if length else
                           slice(0, 0))
        return tuple(key)

    def impl(self, v):
        return v[self.numpy_key()]

    def scalarize(self, elems):
        return np.asarray(elems[0][self.numpy_key()], dtype=object)


def _as_int(k: Any) -> int | None:
    if isinstance(k, (bool, np.bool_)):
        return None
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, Const) and isinstance(k.value, int) and not isinstance(k.value, bool):
        return k.value
    return None


def getitem(x: ArrayExpr, key: Any) -> Any:
    """x[key] for basic keys (ints, slices, None, Ellipsis); constant integer arrays and constant
    boolean masks go to `take`.

    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (5,))
    >>> getitem(x, slice(1, None)).shape, getitem(x, -1).shape
    ((4,), ())
    """
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if isinstance(k, (ArrayExpr, Expr)) and _as_int(k) is None:
            raise TracingError(
                f"indexing a symbolic array with a symbolic value ({k}) depends on data; use "
                "np.where(cond, a, b) (sn.ifelse) to select, or index with constants")
        if isinstance(k, (np.ndarray, list)):
            raise UnsupportedOperationError(
                "indexing a symbolic array with an integer or boolean array (fancy indexing) "
                "has no array-term rule yet; use slices, np.where with a constant mask, or "
                "trace with mode='scalar'")
    n_axes = sum(1 for k in key if k is not None and k is not Ellipsis)
    if sum(1 for k in key if k is Ellipsis) > 1:
        raise ShapeError("an index can only have a single ellipsis ('...')")
    if n_axes > x.ndim:
        raise ShapeError(f"too many indices for a symbolic array of shape {x.shape}: "
                         f"{n_axes} given")
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - n_axes) + key[i + 1:]
    else:
        key = key + (slice(None),) * (x.ndim - n_axes)
    entries = []
    axis = 0
    for k in key:
        if k is None:
            entries.append(("n",))
            continue
        n = x.shape[axis]
        if isinstance(k, slice):
            for part in (k.start, k.stop, k.step):
                if part is not None and _as_int(part) is None:
                    raise TracingError(f"slice bounds must be integers, got {part!r}")
            if k.step is not None and _as_int(k.step) == 0:
                raise ShapeError("slice step cannot be zero")
            start, stop, step = slice(*(None if p is None else _as_int(p) for p in
                                        (k.start, k.stop, k.step))).indices(n)
            entries.append(("s", start, step, len(range(start, stop, step))))
        else:
            i = _as_int(k)
            if i is None:
                raise UnsupportedOperationError(
                    f"cannot index a symbolic array with {k!r}; use integers, slices, None, "
                    "Ellipsis, or constant integer / boolean arrays")
            if not -n <= i < n:
                raise ShapeError(f"index {i} is out of bounds for axis {axis} with size {n} "
                                 f"(array of shape {x.shape})")
            entries.append(("i", i % n))
        axis += 1
    full = all(e[0] == "s" and e[1] == 0 and e[2] == 1 and e[3] == x.shape[j]
               for j, e in enumerate(entries))
    if full and len(entries) == x.ndim:
        return x
    return ArrayTerm(Index(tuple(entries)), (x,))


def flip(x: ArrayExpr, axis: Any = None) -> ArrayExpr:
    axes = range(x.ndim) if axis is None else _axes(axis, x.ndim, "flip")
    key = tuple(slice(None, None, -1) if j in axes else slice(None) for j in range(x.ndim))
    return getitem(x, key)


def _axes(axis: Any, ndim: int, what: str) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ShapeError(f"{what}: axis {a} is out of bounds for an array of {ndim} "
                             "dimension(s)")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{what}: repeated axis in {axis!r}")
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# roll, reshape, transpose, broadcast_to


@dataclass(frozen=True)
class Roll(ArrayOp):
    """np.roll along one axis: out[j] = in[(j − shift) mod n], 0 < shift < n."""

    shift: int
    axis: int
    name = "roll"

    def infer(self, args):
        a = _only(args, "roll")
        return a.shape, a.dtype

    def impl(self, v):
        return np.roll(v, self.shift, self.axis)

    def scalarize(self, elems):
        return np.roll(elems[0], self.shift, self.axis)


def roll(x: ArrayExpr, shift: Any, axis: Any = None) -> ArrayExpr:
    if axis is None:
        if not isinstance(shift, (int, np.integer)):
            raise ShapeError("roll without an axis takes one integer shift")
        return reshape(roll(reshape(x, (x.size,)), shift, 0), x.shape)
    shifts = (shift,) if isinstance(shift, (int, np.integer)) else tuple(shift)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(axes) == 1 and len(shifts) > 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ShapeError(f"roll: {len(shifts)} shifts for {len(axes)} axes")
    for s, a in zip(shifts, axes):
        (a,) = _axes(a, x.ndim, "roll")
        n = x.shape[a]
        s = int(s) % n if n else 0
        if s:
            x = ArrayTerm(Roll(s, a), (x,))
    return x


@dataclass(frozen=True)
class Reshape(ArrayOp):
    shape: tuple
    name = "reshape"

    def infer(self, args):
        return self.shape, _only(args, "reshape").dtype

    def impl(self, v):
        return np.reshape(v, self.shape)

    def scalarize(self, elems):
        return np.reshape(elems[0], self.shape)


def reshape(x: ArrayExpr, shape: Any) -> ArrayExpr:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape: can only specify one unknown dimension, got {shape}")
    if -1 in shape:
        rest = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if rest == 0 or x.size % rest:
            raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} into {shape}")
        shape = tuple(x.size // rest if s == -1 else s for s in shape)
    shape = norm_shape(shape)
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) "
                         f"into shape {shape}")
    if shape == x.shape:
        return x
    if isinstance(x, ArrayTerm) and isinstance(x.op, Reshape):
        return reshape(x.args[0], shape)
    return ArrayTerm(Reshape(shape), (x,))


@dataclass(frozen=True)
class Transpose(ArrayOp):
    perm: tuple
    name = "transpose"

    def infer(self, args):
        a = _only(args, "transpose")
        return tuple(a.shape[p] for p in self.perm), a.dtype

    def impl(self, v):
        return np.transpose(v, self.perm)

    def scalarize(self, elems):
        return np.transpose(elems[0], self.perm)


def transpose(x: ArrayExpr, axes: Any = None) -> ArrayExpr:
    perm = tuple(reversed(range(x.ndim))) if axes is None else _axes(axes, x.ndim, "transpose")
    if len(perm) != x.ndim:
        raise ShapeError(f"transpose: axes {axes!r} do not match an array of shape {x.shape}")
    if perm == tuple(range(x.ndim)):
        return x
    if isinstance(x, ArrayTerm) and isinstance(x.op, Transpose):
        inner = x.op.perm
        return transpose(x.args[0], tuple(inner[p] for p in perm))
    return ArrayTerm(Transpose(perm), (x,))


def swapaxes(x: ArrayExpr, a: int, b: int) -> ArrayExpr:
    (a,), (b,) = _axes(a, x.ndim, "swapaxes"), _axes(b, x.ndim, "swapaxes")
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x: ArrayExpr, source: Any, destination: Any) -> ArrayExpr:
    src, dst = _axes(source, x.ndim, "moveaxis"), _axes(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ShapeError("moveaxis: source and destination need the same number of axes")
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


@dataclass(frozen=True)
class BroadcastTo(ArrayOp):
    shape: tuple
    name = "broadcast_to"

    def infer(self, args):
        (a,) = args
        return self.shape, a.dtype

    def impl(self, v):
        return np.broadcast_to(v, self.shape)

    def scalarize(self, elems):
        return np.broadcast_to(elems[0], self.shape)


def broadcast_to(x: Any, shape: Any) -> ArrayExpr:
    shape = norm_shape(shape)
    xs = x.shape if isinstance(x, ArrayExpr) else ()
    try:
        ok = tuple(np.broadcast_shapes(xs, shape)) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"broadcast_to: an array of shape {xs} cannot be broadcast to {shape}")
    if isinstance(x, ArrayExpr) and xs == shape:
        return x
    if isinstance(x, ArrayTerm) and isinstance(x.op, BroadcastTo):
        x = x.args[0]
    return ArrayTerm(BroadcastTo(shape), (x,))


def expand_dims(x: ArrayExpr, axis: Any) -> ArrayExpr:
    axes = _axes(axis, x.ndim + (1 if isinstance(axis, int) else len(axis)), "expand_dims")
    shape, it = [], iter(x.shape)
    for j in range(x.ndim + len(axes)):
        shape.append(1 if j in axes else next(it))
    return reshape(x, shape)


def squeeze(x: ArrayExpr, axis: Any = None) -> ArrayExpr:
    axes = [j for j, s in enumerate(x.shape) if s == 1] if axis is None else \
        _axes(axis, x.ndim, "squeeze")
    for j in axes:
        if x.shape[j] != 1:
            raise ShapeError(f"squeeze: axis {j} of shape {x.shape} does not have size 1")
    return reshape(x, [s for j, s in enumerate(x.shape) if j not in axes])


# ---------------------------------------------------------------------------------------------
# concatenate and pad


def as_array_operand(x: Any, what: str) -> ArrayExpr:
    """An array term for an operand: numbers and numeric ndarrays become ArrayConst, a scalar
    term a 0-d broadcast of it."""
    if isinstance(x, ArrayExpr):
        return x
    if isinstance(x, Expr):
        return ArrayTerm(BroadcastTo(()), (x,))
    a = np.asarray(x)
    if a.dtype == object:
        raise TracingError(f"{what}: an array of scalar terms cannot mix with symbolic arrays; "
                           "trace the whole program in one mode")
    from symnum.arrays.terms import ArrayConst

    return ArrayConst(a)


@dataclass(frozen=True)
class Concatenate(ArrayOp):
    axis: int
    name = "concatenate"

    def infer(self, args):
        a0 = args[0]
        shape = list(a0.shape)
        shape[self.axis] = sum(a.shape[self.axis] for a in args)
        dts = {a.dtype for a in args}
        return tuple(shape), dts.pop() if len(dts) == 1 else float_dtype(*dts)

    def impl(self, *vals):
        return np.concatenate(vals, axis=self.axis)

    def scalarize(self, elems):
        return np.concatenate(elems, axis=self.axis)


def concatenate(xs: list, axis: int = 0) -> ArrayExpr:
    xs = [as_array_operand(x, "concatenate") for x in xs]
    if not xs:
        raise ShapeError("concatenate needs at least one array")
    if any(x.ndim == 0 for x in xs):
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
    (axis,) = _axes(axis, xs[0].ndim, "concatenate")
    for x in xs[1:]:
        if x.ndim != xs[0].ndim or any(a != b for j, (a, b) in enumerate(zip(x.shape,
                                                                            xs[0].shape))
                                       if j != axis):
            raise ShapeError(f"concatenate along axis {axis}: shapes {xs[0].shape} and "
                             f"{x.shape} differ off that axis")
    nonempty = [x for x in xs if x.shape[axis]] or xs[:1]
    if len(nonempty) == 1:
        return nonempty[0]
    return ArrayTerm(Concatenate(axis), tuple(nonempty))


def stack(xs: list, axis: int = 0) -> ArrayExpr:
    xs = [as_array_operand(x, "stack") for x in xs]
    if not xs:
        raise ShapeError("stack needs at least one array")
    for x in xs[1:]:
        if x.shape != xs[0].shape:
            raise ShapeError(f"stack: all arrays need one shape, got {xs[0].shape} and "
                             f"{x.shape}")
    (axis,) = _axes(axis, xs[0].ndim + 1, "stack")
    return concatenate([expand_dims(x, axis) for x in xs], axis)


@dataclass(frozen=True)
class Pad(ArrayOp):
    """Constant padding: widths ((before, after) per axis) filled with `value`."""

    widths: tuple
    value: float
    name = "pad"

    def infer(self, args):
        a = _only(args, "pad")
        return tuple(s + b + e for s, (b, e) in zip(a.shape, self.widths)), a.dtype

    def impl(self, v):
        return np.pad(v, self.widths, constant_values=self.value)

    def scalarize(self, elems):
        e = elems[0]
        shape = tuple(s + b + a for s, (b, a) in zip(e.shape, self.widths))
        out = np.empty(shape, dtype=object)
        out[...] = Const(self.value)
        out[tuple(slice(b, b + s) for s, (b, _) in zip(e.shape, self.widths))] = e
        return out


def pad(x: ArrayExpr, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Any:
    w = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    if (w < 0).any():
        raise ShapeError(f"pad: negative widths {pad_width!r}")
    widths = tuple((int(b), int(a)) for b, a in w)
    if mode == "constant":
        v = constant_values
        if isinstance(v, Const):
            v = v.value
        if not isinstance(v, (int, float, np.integer, np.floating)):
            raise UnsupportedOperationError(
                "pad: constant_values must be one number (a symbolic fill: np.where on a mask)")
        if not any(b or a for b, a in widths):
            return x
        return ArrayTerm(Pad(widths, float(v)), (x,))
    if mode in ("wrap", "edge"):  # compositions of slices and concatenation
        for j, (b, a) in enumerate(widths):
            n = x.shape[j]
            if (b or a) and n == 0:
                raise ShapeError(f"pad mode {mode!r}: axis {j} is empty")

            def sl(start, stop, j=j, x=x):
                return getitem(x, (slice(None),) * j + (slice(start, stop),))

            if mode == "wrap":
                parts = [sl(n - b, n)] * (b > 0) + [x] + [sl(0, a)] * (a > 0)
                if b > n or a > n:
                    raise UnsupportedOperationError("pad 'wrap' wider than the axis")
            else:
                shp = list(x.shape)
                parts = [x]
                if b:
                    shp[j] = b
                    parts.insert(0, broadcast_to(sl(0, 1), shp))
                if a:
                    shp[j] = a
                    parts.append(broadcast_to(sl(n - 1, n), shp))
            x = concatenate(parts, j)
        return x
    raise UnsupportedOperationError(
        f"np.pad mode {mode!r} has no symbolic-array rule (constant, wrap and edge do); "
        "trace with mode='scalar' or build it from slices and np.concatenate")
