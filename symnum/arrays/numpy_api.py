"""numpy on symbolic arrays: operators, ufuncs (__array_ufunc__) and numpy functions
(__array_function__), each building one array term.

Ufuncs map by name through the scalar world's one table (symnum.tracing.protocols.UFUNC_RULES)
into a Map, so a registered primitive works on arrays too. numpy functions go through
FUNCTIONS below; anything else raises UnsupportedOperationError naming the function and what to
do (scalarize, mode="scalar", sn.register). No raw numpy exception leaks out of tracing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import symnum.arrays.ops_gather as G
import symnum.arrays.ops_index as IX
import symnum.arrays.ops_reduce as R
import symnum.core.primitives as P
from symnum.arrays.at import at
from symnum.arrays.numpy_more import MORE
from symnum.arrays.ops_map import elementwise
from symnum.arrays.terms import ArrayConst, ArrayExpr
from symnum.errors import ShapeError, SymnumError, TracingError, UnsupportedOperationError
from symnum.tracing.protocols import UFUNC_RULES, is_boolean, ufunc_rule

_REDUCE_UFUNCS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    """numpy's __array_ufunc__ for array terms."""
    name = getattr(ufunc, "__name__", str(ufunc))
    kwargs = {k: v for k, v in kwargs.items() if not (k == "dtype" and v is None)}
    if kwargs.pop("out", None):
        raise TracingError(
            f"numpy.{name} with out= writes into an array in place; symbolic arrays are "
            "immutable: assign the result (y = np.{name}(...)) instead")
    if method == "__call__":
        if kwargs:
            raise UnsupportedOperationError(
                f"numpy.{name} with {', '.join(kwargs)} has no symbolic-array rule")
        if name == "matmul":
            return R.matmul(*inputs)
        rule = ufunc_rule(ufunc)
        return elementwise(rule.fn, inputs, f"numpy.{name}")
    if method == "reduce" and name in _REDUCE_UFUNCS:
        axis = kwargs.pop("axis", 0)
        keepdims = kwargs.pop("keepdims", False)
        if kwargs:
            raise UnsupportedOperationError(
                f"numpy.{name}.reduce with {', '.join(kwargs)} has no symbolic-array rule")
        return R.reduce(_REDUCE_UFUNCS[name], inputs[0], axis, keepdims)
    if method == "outer" and len(inputs) == 2 and not kwargs:
        a, b = (IX.as_array_operand(x, f"numpy.{name}.outer") for x in inputs)
        a = IX.reshape(a, a.shape + (1,) * b.ndim)
        return elementwise(ufunc_rule(ufunc).fn, [a, b], f"numpy.{name}.outer")
    if method == "accumulate" and name in _REDUCE_UFUNCS:
        axis = kwargs.pop("axis", 0)
        if kwargs:
            raise UnsupportedOperationError(
                f"numpy.{name}.accumulate with {', '.join(kwargs)} has no symbolic-array rule")
        return R.scan(_REDUCE_UFUNCS[name], inputs[0], axis)
    raise UnsupportedOperationError(
        f"numpy.{name}.{method} has no symbolic-array rule (scatter forms are "
        "not array terms yet); call .scalarize() on the traced Fn or trace with mode='scalar'")


# ---------------------------------------------------------------------------------------------
# numpy functions


def _no_extra(what: str, **kw: Any) -> None:
    bad = [k for k, v in kw.items() if v is not None and v is not np._NoValue and v is not False
           and not (k == "where" and v is True)]
    if bad:
        raise UnsupportedOperationError(f"{what} with {', '.join(bad)}= has no symbolic-array "
                                        "rule")


def _no_out(what: str, out: Any) -> None:
    _no_extra(f"numpy.{what}", out=out)


_COMBINE = {"sum": P.add, "prod": P.mul, "max": P.maximum, "min": P.minimum}


def _reduction(kind: str) -> Callable:
    def f(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue, where=None):
        _no_extra(f"numpy.{kind}", out=out, where=where)
        r = R.reduce(kind, a, axis, keepdims)
        if initial is None or initial is np._NoValue:
            return r
        return elementwise(_COMBINE[kind], [r, initial], f"numpy.{kind} initial")

    return f


def _truth_reduction(kind: str) -> Callable:
    """np.all / np.any: min / max over truth values."""
    def f(a, axis=None, out=None, keepdims=False, *, where=None):
        _no_extra(f"numpy.{'all' if kind == 'min' else 'any'}", out=out, where=where)
        truth = elementwise(_cond, [a], "truth")
        return R.reduce(kind, truth, axis, keepdims)

    return f


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _no_extra("numpy.mean", out=out, where=where)
    return R.mean(a, axis, keepdims)


def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
         mean=None, correction=None):
    _no_extra("numpy.var", out=out, where=where, mean=mean)
    return R.var(a, axis, ddof if correction is None else correction, keepdims)


def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
         mean=None, correction=None):
    _no_extra("numpy.std", out=out, where=where, mean=mean)
    return R.std(a, axis, ddof if correction is None else correction, keepdims)


def _cond(c):
    return c if is_boolean(c) else P.ne(c, 0)


def where(condition: Any, x: Any = None, y: Any = None) -> ArrayExpr:
    """np.where(cond, x, y) on symbolic arrays: one Map with an ifelse body."""
    if x is None or y is None:
        raise TracingError(
            "np.where(cond) (the indices where cond holds) depends on values unknown while "
            "tracing; use np.where(cond, a, b) to select")
    return elementwise(lambda c, a, b: P.ifelse(_cond(c), a, b), [condition, x, y],
                       "numpy.where")


def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None, **kw):  # noqa: A002
    _no_extra("numpy.clip", out=out)
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    r = a
    if lo is not None:
        r = elementwise(P.maximum, [r, lo], "numpy.clip")
    if hi is not None:
        r = elementwise(P.minimum, [r, hi], "numpy.clip")
    return r


def select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ShapeError("np.select: the lists of conditions and choices differ in length")
    r = default
    for c, v in reversed(list(zip(condlist, choicelist))):
        r = where(c, v, r)
    return r


def _like(fill: float) -> Callable:
    def f(a, dtype=None, order="K", subok=True, shape=None, **kw):
        shp = a.shape if shape is None else shape
        dt = dtype or a.dtype
        return IX.broadcast_to(ArrayConst(np.array(fill, dtype=dt)), shp)

    return f


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **kw):
    return _like(fill_value)(a, dtype, shape=shape)


def _ravel(a, order="C"):
    if order not in ("C", "A", "K"):
        raise UnsupportedOperationError("ravel/flatten in Fortran order has no rule")
    return IX.reshape(a, (a.size,))


def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    _no_extra("numpy.diff", prepend=None if prepend is np._NoValue else prepend,
              append=None if append is np._NoValue else append)
    (ax,) = IX._axes(axis, a.ndim, "diff")
    for _ in range(n):
        hi = IX.getitem(a, (slice(None),) * ax + (slice(1, None),))
        lo = IX.getitem(a, (slice(None),) * ax + (slice(None, -1),))
        a = elementwise(P.sub, [hi, lo], "numpy.diff")
    return a


def _hstack(tup, **kw):
    arrs = [IX.as_array_operand(t, "hstack") for t in tup]
    return IX.concatenate(arrs, 0 if arrs and arrs[0].ndim == 1 else 1)


def _vstack(tup, **kw):
    arrs = [IX.as_array_operand(t, "vstack") for t in tup]
    arrs = [IX.reshape(a, (1, a.size)) if a.ndim < 2 else a for a in arrs]
    return IX.concatenate(arrs, 0)


def _atleast_1d(a):
    a = IX.as_array_operand(a, "atleast_1d")
    return IX.reshape(a, (1,)) if a.ndim == 0 else a


def _tile(a, reps):
    a = IX.as_array_operand(a, "tile")
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = max(a.ndim, len(reps))
    a = IX.reshape(a, (1,) * (nd - a.ndim) + a.shape)
    reps = (1,) * (nd - len(reps)) + reps
    for j, r in enumerate(reps):
        if r != 1:
            a = IX.concatenate([a] * r, j) if r else IX.getitem(a, (slice(None),) * j +
                                                               (slice(0, 0),))
    return a


def _norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (numpy's name)
    x = IX.as_array_operand(x, "numpy.linalg.norm")
    if ord not in (None, "fro") and not (ord == 2 and (x.ndim == 1 or axis is not None)):
        raise UnsupportedOperationError(
            f"numpy.linalg.norm with ord={ord!r} has no symbolic-array rule (the 2-norm of "
            "vectors and the Frobenius norm do)")
    sq = elementwise(lambda v: P.pow(v, 2), [x], "norm")
    return elementwise(P.sqrt, [R.reduce("sum", sq, axis, keepdims)], "norm")


FUNCTIONS: dict[Any, Callable] = {
    np.linalg.norm: _norm,
    np.all: _truth_reduction("min"), np.any: _truth_reduction("max"),
    np.cumsum: lambda a, axis=None, dtype=None, out=None: _no_out("cumsum", out) or
        R.scan("sum", a, axis),
    np.cumprod: lambda a, axis=None, dtype=None, out=None: _no_out("cumprod", out) or
        R.scan("prod", a, axis),
    np.sum: _reduction("sum"), np.prod: _reduction("prod"), np.max: _reduction("max"),
    np.min: _reduction("min"), np.amax: _reduction("max"), np.amin: _reduction("min"),
    np.mean: _mean, np.var: _var, np.std: _std,
    np.where: where, np.clip: clip, np.select: select,
    np.roll: lambda a, shift, axis=None: IX.roll(a, shift, axis),
    np.reshape: lambda a, *s, **kw: IX.reshape(a, s[0] if s else kw.get("shape",
                                                                          kw.get("newshape"))),
    np.transpose: lambda a, axes=None: IX.transpose(a, axes),
    np.swapaxes: IX.swapaxes, np.moveaxis: IX.moveaxis,
    np.broadcast_to: lambda a, shape, subok=False: IX.broadcast_to(a, shape),
    np.concatenate: lambda arrays, axis=0, **kw: IX.concatenate(list(arrays), axis),
    np.stack: lambda arrays, axis=0, **kw: IX.stack(list(arrays), axis),
    np.hstack: _hstack, np.vstack: _vstack, np.atleast_1d: _atleast_1d,
    np.flip: lambda a, axis=None: IX.flip(a, axis),
    np.fliplr: lambda a: IX.flip(a, 1), np.flipud: lambda a: IX.flip(a, 0),
    np.pad: lambda a, pad_width, mode="constant", constant_values=0, **kw:
        IX.pad(a, pad_width, mode, constant_values),
    np.expand_dims: IX.expand_dims, np.squeeze: lambda a, axis=None: IX.squeeze(a, axis),
    np.ravel: _ravel, np.diff: _diff, np.tile: _tile,
    np.dot: lambda a, b, out=None: R.dot(a, b), np.matmul: R.matmul, np.vdot: R.vdot,
    np.einsum: lambda spec, *ops, **kw: R.einsum(spec, *ops),
    np.tensordot: lambda a, b, axes=2: R.tensordot(a, b, axes),
    np.outer: lambda a, b, out=None: R.outer(a, b), np.inner: R.inner,
    np.zeros_like: _like(0.0), np.ones_like: _like(1.0), np.full_like: _full_like,
    np.copy: lambda a, **kw: a,
    np.take: lambda a, indices, axis=None, out=None, mode="raise": G.take(a, indices, axis),
    np.diag: G.diag, np.triu: G.triu, np.tril: G.tril,
    np.diagonal: lambda a, offset=0, axis1=0, axis2=1: G.diag(a, offset) if (
        IX.as_array_operand(a, "diagonal").ndim == 2 and (axis1, axis2) == (0, 1)) else
        _unsupported("numpy.diagonal of more than 2 dimensions")(a),
    np.trace: lambda a, offset=0, axis1=0, axis2=1, dtype=None, out=None: R.reduce(
        "sum", G.diag(a, offset)),
    np.split: lambda a, ios, axis=0: G.split(a, ios, axis),
    np.array_split: lambda a, ios, axis=0: G.split(a, ios, axis, strict=False),
    np.repeat: lambda a, repeats, axis=None: G.repeat(a, repeats, axis),
    np.shape: lambda a: a.shape, np.ndim: lambda a: a.ndim, np.size: lambda a, axis=None:
        a.size if axis is None else a.shape[axis],
}


FUNCTIONS.update(MORE)


def array_function(func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
    """numpy's __array_function__ for array terms."""
    rule = FUNCTIONS.get(func)
    if rule is None:
        name = f"{getattr(func, '__module__', 'numpy') or 'numpy'}.{func.__name__}"
        raise UnsupportedOperationError(
            f"{name} has no symbolic-array rule in symnum; rewrite it with supported numpy "
            "functions (symnum.arrays.numpy_api.FUNCTIONS lists them), trace with "
            "mode='scalar' (mode='auto', the default, does so by itself) or call .scalarize() "
            "on an ArrayFn, or register a scalar primitive with sn.register and map it")
    try:
        return rule(*args, **kwargs)
    except SymnumError:
        raise
    except TypeError as e:
        raise UnsupportedOperationError(f"numpy.{func.__name__} called with arguments symnum "
                                        f"does not support for symbolic arrays: {e}") from e
    except (ValueError, IndexError) as e:  # numpy's own checks inside a rule: no raw leak
        raise ShapeError(f"numpy.{func.__name__} on symbolic arrays: {e}") from e


# ---------------------------------------------------------------------------------------------
# operators and methods on ArrayExpr


def _binary(fn: Any, name: str, reflected: bool = False) -> Callable:
    if reflected:
        def m(self, o):  # o <op> self
            return elementwise(fn, [o, self], name)
    else:
        def m(self, o):
            return elementwise(fn, [self, o], name)
    return m


def _unsupported(what: str) -> Callable:
    def m(self, *a):
        raise UnsupportedOperationError(
            f"{what} has no symbolic rule in symnum; rewrite it with supported primitives or "
            "register one with symnum.register()")
    return m


def _astype(self, dtype, *a, **kw):
    dt = np.dtype(dtype).name
    if dt == self.dtype:
        return self
    if dt == "bool":
        return elementwise(lambda v: P.ne(v, 0), [self], "astype")
    if dt == "float64" and self.dtype in ("int64", "int32", "bool", "float32"):
        return elementwise(lambda v: P.add(v, 0.0) if self.dtype == "bool" else v * 1.0,
                           [self], "astype")
    raise UnsupportedOperationError(f"astype({dt}) of a {self.dtype} symbolic array has no rule")


def install() -> None:
    """Give ArrayExpr its operators, numpy protocols and numpy-style methods."""
    A = ArrayExpr
    for name, fn in (("add", P.add), ("sub", P.sub), ("mul", P.mul), ("truediv", P.div),
                     ("pow", P.pow)):
        setattr(A, f"__{name}__", _binary(fn, name))
        setattr(A, f"__r{name}__", _binary(fn, name, reflected=True))
    for name, fn in (("lt", P.lt), ("le", P.le), ("gt", P.gt), ("ge", P.ge)):
        setattr(A, f"__{name}__", _binary(fn, name))
    A.__and__ = _binary(UFUNC_RULES["bitwise_and"].fn, "&")
    A.__rand__ = _binary(UFUNC_RULES["bitwise_and"].fn, "&", True)
    A.__or__ = _binary(UFUNC_RULES["bitwise_or"].fn, "|")
    A.__ror__ = _binary(UFUNC_RULES["bitwise_or"].fn, "|", True)
    A.__invert__ = lambda self: elementwise(UFUNC_RULES["invert"].fn, [self], "~")
    A.__neg__ = lambda self: elementwise(P.neg, [self], "neg")
    A.__pos__ = lambda self: self
    A.__abs__ = lambda self: elementwise(P.abs, [self], "abs")
    A.__matmul__ = lambda self, o: R.matmul(self, o)
    A.__rmatmul__ = lambda self, o: R.matmul(o, self)
    A.__floordiv__ = A.__rfloordiv__ = _unsupported("// (floor division)")
    A.__mod__ = A.__rmod__ = _unsupported("% (modulo)")
    A.__getitem__ = _getitem
    A.__setitem__ = _setitem
    A.__array_ufunc__ = lambda self, ufunc, method, *inputs, **kw: array_ufunc(
        ufunc, method, inputs, kw)
    A.__array_function__ = lambda self, func, types, args, kw: array_function(
        func, types, args, kw)
    A._symnum_array_term = True
    A._symnum_apply = staticmethod(lambda op, args: elementwise(op, args))
    A.T = property(lambda self: IX.transpose(self))
    A.sum = lambda self, axis=None, keepdims=False, **kw: R.reduce("sum", self, axis, keepdims)
    A.cumsum = lambda self, axis=None, **kw: R.scan("sum", self, axis)
    A.cumprod = lambda self, axis=None, **kw: R.scan("prod", self, axis)
    A.prod = lambda self, axis=None, keepdims=False, **kw: R.reduce("prod", self, axis,
                                                                     keepdims)
    A.max = lambda self, axis=None, keepdims=False, **kw: R.reduce("max", self, axis, keepdims)
    A.all = lambda self, axis=None, keepdims=False, **kw: _truth_reduction("min")(
        self, axis, keepdims=keepdims)
    A.any = lambda self, axis=None, keepdims=False, **kw: _truth_reduction("max")(
        self, axis, keepdims=keepdims)
    A.min = lambda self, axis=None, keepdims=False, **kw: R.reduce("min", self, axis, keepdims)
    A.mean = lambda self, axis=None, keepdims=False, **kw: R.mean(self, axis, keepdims)
    A.var = lambda self, axis=None, ddof=0, keepdims=False, **kw: R.var(self, axis, ddof,
                                                                         keepdims)
    A.std = lambda self, axis=None, ddof=0, keepdims=False, **kw: R.std(self, axis, ddof,
                                                                         keepdims)
    A.reshape = lambda self, *s, **kw: IX.reshape(
        self, s[0] if len(s) == 1 and not isinstance(s[0], int) else s)
    A.transpose = lambda self, *axes: IX.transpose(
        self, (axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes) or None)
    A.ravel = A.flatten = lambda self, order="C": _ravel(self, order)
    A.squeeze = lambda self, axis=None: IX.squeeze(self, axis)
    A.dot = lambda self, o: R.dot(self, o)
    A.clip = lambda self, min=None, max=None, **kw: clip(self, min, max)  # noqa: A002
    A.astype = _astype
    A.copy = lambda self, *a, **kw: self
    A.at = property(at)  # functional index updates: x.at[key].set(v) (symnum.arrays.at)
    A.item = lambda self: IX.getitem(self, (0,) * self.ndim) if self.size == 1 else \
        (_ for _ in ()).throw(ShapeError(f"item() of an array of shape {self.shape}"))
    for name, rule in UFUNC_RULES.items():  # x.sin() etc., as on scalar terms
        if rule.method and not hasattr(A, name):
            setattr(A, name, (lambda f, n: lambda self: elementwise(f, [self], n))(rule.fn,
                                                                                   name))


def _getitem(self, key):
    keys = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, (np.ndarray, list)) for k in keys):
        return G.fancy_getitem(self, keys)  # constant index arrays and masks: a gather
    return IX.getitem(self, key)


def _setitem(self, key, value):
    raise TracingError(
        "symbolic arrays are immutable: `a[...] = v` cannot change one; build the result with "
        "np.concatenate / np.pad / np.where, or trace with mode='scalar'")
