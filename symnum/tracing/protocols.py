"""Tracing through numpy: symbolic arrays and numpy's ufunc / array-function protocols.

Plain numpy code runs on symbols: `SymArray` (an object ndarray) and scalar terms route every
ufunc to a symnum primitive by the ufunc's *name* (UFUNC_RULES, the one table), and numpy
functions either to a symbolic override (np.where, np.clip, np.mean, ...) or to numpy's own
implementation on object arrays. This module must never evaluate a term or call bool() on one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

import symnum.core.primitives as P
import symnum.core.primitives_more as PM
from symnum.core.hooks import install
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Const, Expr, Sym, is_number
from symnum.errors import TracingError, UnsupportedOperationError
from symnum.tracing.numpy_functions import (
    SUPPORTED_FUNCTIONS,
    UNSUPPORTED_FUNCTIONS,
    _unsupported_function,
)

# ---------------------------------------------------------------------------------------------
# the symbolic array type


class SymArray(np.ndarray):
    """An object-dtype ndarray of symnum terms and numbers that numpy functions can trace.

    Indexing, views, reshape, np.roll, np.zeros_like, ... are numpy's own; ufuncs and numpy
    functions dispatch to symnum (see UFUNC_RULES and array_function).

    >>> import numpy as np, symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> u = sn.SymArray([x, y])
    >>> np.sin(u) * 2
    SymArray([2*sin(x), 2*sin(y)], dtype=object)
    """

    def __new__(cls, data: Any = ()) -> SymArray:
        return np.array(data, dtype=object).view(cls)

    # by identity, so a SymArray can key an environment: sn.evaluate(e, {u: values})
    __hash__ = object.__hash__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return array_function(func, types, args, kwargs)

    # numpy's own methods would call `result.dtype.type(...)` on a scalar term: route them here
    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return _mean(self, axis, dtype, out, keepdims, **kw)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
        return _var(self, axis, dtype, out, ddof, keepdims, **kw)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
        return _std(self, axis, dtype, out, ddof, keepdims, **kw)

    def clip(self, min=None, max=None, out=None, **kw):  # noqa: A002  (numpy's names)
        return _clip(self, min, max, out, **kw)

    def astype(self, dtype, *args, **kwargs):
        return _astype(self, dtype)

    def __getitem__(self, index):
        if _is_symbolic_index(index):
            raise UnsupportedOperationError(
                "indexing with a symbolic mask or symbolic indices (x[x > 0]) selects elements "
                "by values unknown while tracing, so the result's shape is unknown; keep the "
                "shape with np.where(mask, x, 0) / sn.ifelse, or evaluate numerically "
                "(sn.evaluate / scalarize) and index the result")
        return super().__getitem__(index)


def _is_symbolic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, Expr) and not isinstance(p, Const)
               or isinstance(p, np.ndarray) and p.dtype == object for p in parts)


def _astype(x: Any, dtype: Any) -> Any:
    """x.astype(float): symbols are already floats (a copy); integer and bool casts need values."""
    dt = np.dtype(dtype)
    if dt.kind in "fO":
        return x.copy() if isinstance(x, np.ndarray) else x
    raise UnsupportedOperationError(
        f"astype({dt}) of a symbolic value would need its concrete value to round or test it; "
        "use np.floor / np.trunc / np.rint (float results, derivative 0) or a comparison for "
        "bool, or register a primitive with sn.register")


def _plain(x: Any) -> Any:
    """An argument numpy's object loops can take without dispatching back to us."""
    if isinstance(x, SymArray):
        return x.view(np.ndarray)
    if isinstance(x, Expr):
        a = np.empty((), dtype=object)
        a[()] = x
        return a
    return x


def wrap(r: Any) -> Any:
    """numpy results → symnum values: object arrays → SymArray, 0-d object arrays → scalars."""
    if isinstance(r, np.ndarray):
        if r.dtype != object:
            return r
        if r.ndim == 0:
            return r[()]
        return r if type(r) is SymArray else r.view(SymArray)
    if isinstance(r, tuple) and not hasattr(r, "_fields"):
        return tuple(wrap(x) for x in r)
    if isinstance(r, list):
        return [wrap(x) for x in r]
    return r


def _is_symbolic(x: Any) -> bool:
    if isinstance(x, Expr):
        return not isinstance(x, Const)
    if isinstance(x, np.ndarray) and x.dtype == object:
        return any(isinstance(e, Expr) and not isinstance(e, Const) for e in x.flat)
    return False


def is_boolean(v: Any) -> bool:
    """Whether a scalar (number or term) is boolean-valued, without walking the whole DAG."""
    if isinstance(v, (bool, np.bool_)):
        return True
    if isinstance(v, Const):
        return isinstance(v.value, bool)
    if isinstance(v, Sym):
        return v.dtype == "bool"
    if isinstance(v, Expr) and iscall(v):
        op = operation(v)
        if getattr(op, "result", "float") == "bool":
            return True
        if op is P.ifelse_op:
            _, a, b = arguments(v)
            return is_boolean(a) and is_boolean(b)
    return False


# ---------------------------------------------------------------------------------------------
# ufuncs: one table, by name


@dataclass(frozen=True)
class UfuncRule:
    """How a ufunc (looked up by name) maps to symnum on scalars.

    fn: the scalar rule (terms/numbers → term). nin: number of inputs.
    method: numpy's object loops call `elem.<name>()` for this ufunc, so Expr gets the method.
    """

    fn: Callable[..., Any]
    nin: int
    method: bool = False


def _identity(x):
    return x


def _bits(name: str, logical: Callable[..., Any]) -> Callable[..., Any]:
    """Bitwise ufuncs are logic on booleans (`mask & (t > 1)`); symnum has no integer bits."""

    def rule(*xs):
        if all(is_boolean(x) for x in xs):
            return logical(*xs)
        raise UnsupportedOperationError(
            f"numpy.{name} on non-boolean values has no symbolic rule in symnum: bitwise "
            "operations are supported only on conditions (comparisons, np.logical_*); use "
            "np.logical_and / np.logical_or / np.logical_not for logic"
        )

    return rule


def _truth(x):
    return x if is_boolean(x) else P.ne(x, 0)


_LN2, _LN10, _DEG = math.log(2.0), math.log(10.0), math.pi / 180.0

UFUNC_RULES: dict[str, UfuncRule] = {
    "add": UfuncRule(P.add_op, 2),
    "subtract": UfuncRule(P.sub_op, 2),
    "multiply": UfuncRule(P.mul_op, 2),
    "divide": UfuncRule(P.div_op, 2),  # np.true_divide is np.divide
    "negative": UfuncRule(P.neg_op, 1),
    "positive": UfuncRule(_identity, 1),
    "power": UfuncRule(P.pow_op, 2),
    "float_power": UfuncRule(P.pow_op, 2),
    "square": UfuncRule(lambda x: P.pow_op(x, 2), 1),
    "reciprocal": UfuncRule(lambda x: P.div_op(1, x), 1),
    "exp": UfuncRule(P.exp, 1, True),
    "exp2": UfuncRule(lambda x: P.pow_op(2, x), 1, True),
    "log": UfuncRule(P.log, 1, True),
    "log2": UfuncRule(lambda x: P.div_op(P.log(x), _LN2), 1, True),
    "log10": UfuncRule(lambda x: P.div_op(P.log(x), _LN10), 1, True),
    "log1p": UfuncRule(P.log1p, 1, True),
    "expm1": UfuncRule(P.expm1, 1, True),
    "sqrt": UfuncRule(P.sqrt, 1, True),
    "sin": UfuncRule(P.sin, 1, True),
    "cos": UfuncRule(P.cos, 1, True),
    "tan": UfuncRule(P.tan, 1, True),
    "arcsin": UfuncRule(P.asin, 1, True),
    "arccos": UfuncRule(P.acos, 1, True),
    "arctan": UfuncRule(P.atan, 1, True),
    "arctan2": UfuncRule(P.atan2, 2, True),
    "sinh": UfuncRule(P.sinh, 1, True),
    "cosh": UfuncRule(P.cosh, 1, True),
    "tanh": UfuncRule(P.tanh, 1, True),
    "absolute": UfuncRule(P.abs, 1),
    "fabs": UfuncRule(P.abs, 1, True),
    "sign": UfuncRule(P.sign, 1),
    "minimum": UfuncRule(P.minimum, 2),
    "maximum": UfuncRule(P.maximum, 2),
    "hypot": UfuncRule(P.hypot, 2, True),
    "clip": UfuncRule(lambda a, lo, hi: P.minimum(P.maximum(a, lo), hi), 3),
    "less": UfuncRule(P.lt, 2),
    "less_equal": UfuncRule(P.le, 2),
    "greater": UfuncRule(P.gt, 2),
    "greater_equal": UfuncRule(P.ge, 2),
    "equal": UfuncRule(P.eq, 2),
    "not_equal": UfuncRule(P.ne, 2),
    "logical_and": UfuncRule(P.logical_and, 2),
    "logical_or": UfuncRule(P.logical_or, 2),
    "logical_not": UfuncRule(P.logical_not, 1),
    "logical_xor": UfuncRule(lambda a, b: P.ne(_truth(a), _truth(b)), 2),
    "bitwise_and": UfuncRule(_bits("bitwise_and", P.logical_and), 2),
    "bitwise_or": UfuncRule(_bits("bitwise_or", P.logical_or), 2),
    "bitwise_xor": UfuncRule(_bits("bitwise_xor", P.ne), 2),
    "invert": UfuncRule(_bits("invert", P.logical_not), 1),
    "conjugate": UfuncRule(_identity, 1, True),  # symbols are real
    "deg2rad": UfuncRule(lambda x: P.mul(x, _DEG), 1, True),
    "radians": UfuncRule(lambda x: P.mul(x, _DEG), 1, True),
    "rad2deg": UfuncRule(lambda x: P.div_op(x, _DEG), 1, True),
    "degrees": UfuncRule(lambda x: P.div_op(x, _DEG), 1, True),
    # scipy.special's ufuncs, by name
    "arcsinh": UfuncRule(PM.asinh, 1, True),
    "arccosh": UfuncRule(PM.acosh, 1, True),
    "arctanh": UfuncRule(PM.atanh, 1, True),
    "cbrt": UfuncRule(PM.cbrt, 1),
    "copysign": UfuncRule(PM.copysign, 2),
    "floor": UfuncRule(PM.floor, 1),
    "ceil": UfuncRule(PM.ceil, 1),
    "trunc": UfuncRule(PM.trunc, 1),
    "rint": UfuncRule(PM.rint, 1),
    "fmod": UfuncRule(PM.fmod, 2),
    "remainder": UfuncRule(PM.mod, 2),  # np.mod is np.remainder
    "floor_divide": UfuncRule(PM.floor_divide, 2),
    "logaddexp": UfuncRule(PM.logaddexp, 2),
    "logaddexp2": UfuncRule(PM.logaddexp2, 2),
    "fmax": UfuncRule(PM.fmax, 2),
    "fmin": UfuncRule(PM.fmin, 2),
    "isnan": UfuncRule(PM.isnan, 1),
    "isinf": UfuncRule(PM.isinf, 1),
    "isfinite": UfuncRule(PM.isfinite, 1),
    "signbit": UfuncRule(PM.signbit, 1),
    "erf": UfuncRule(P.erf, 1),
    "expit": UfuncRule(lambda x: P.div_op(1, P.add(1, P.exp(P.neg(x)))), 1),
}

# numpy's own object loops compute these (sums of products through Python's + and *)
_NATIVE_OBJECT_UFUNCS = frozenset({"matmul", "vecdot", "matvec", "vecmat"})
_IDENTITY = {"add": 0, "multiply": 1, "logical_and": True, "logical_or": False}
# associative and commutative: numpy may reduce these over several axes at once
_REORDERABLE = frozenset({"maximum", "minimum", "logical_xor", "bitwise_and", "bitwise_or",
                          "bitwise_xor"})
_VARIADIC = {"add": P.add_op, "multiply": P.mul_op}
_PYUFUNCS: dict[Any, np.ufunc] = {}


def ufunc_rule(ufunc: Any) -> UfuncRule:
    """The rule for a ufunc: the table by name, else a registered primitive of that name."""
    name = getattr(ufunc, "__name__", str(ufunc))
    rule = UFUNC_RULES.get(name)
    if rule is not None:
        return rule
    from symnum.core.op import PRIMITIVES

    op = PRIMITIVES.get(name)
    if op is not None and op.nargs == ufunc.nin:
        return UfuncRule(op, ufunc.nin)
    raise UnsupportedOperationError(
        f"{_ufunc_label(ufunc)} has no symbolic rule in symnum; rewrite it with supported "
        "functions (np.sin, np.exp, np.log, np.sqrt, np.abs, np.maximum, np.where, ...; "
        "symnum.tracing.protocols.UFUNC_RULES lists every ufunc) or register a primitive named "
        f"'{name}' "
        f"with symnum.register('{name}', impl, ...)"
    )


def _ufunc_label(ufunc: Any) -> str:
    name = getattr(ufunc, "__name__", str(ufunc))
    return f"numpy.{name}" if getattr(np, name, None) is ufunc else f"the ufunc {name}"


def _pyufunc(key: Any, fn: Callable[..., Any], nin: int) -> np.ufunc:
    u = _PYUFUNCS.get(key)
    if u is None:
        name = key if isinstance(key, str) else None
        if name in _IDENTITY or name in _REORDERABLE:
            u = np.frompyfunc(fn, nin, 1, identity=_IDENTITY.get(name))
        else:
            u = np.frompyfunc(fn, nin, 1)
        _PYUFUNCS[key] = u
    return u


def _check_out(out: tuple, what: str) -> tuple:
    for o in out:
        if isinstance(o, np.ndarray) and o.dtype != object:
            raise TracingError(
                f"{what} was given out= an array of dtype {o.dtype}, which cannot hold symbolic "
                "values; create it with np.zeros_like(symbolic_array) or dtype=object"
            )
    return tuple(_plain(o) for o in out)


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    """numpy's __array_ufunc__ for terms and SymArrays: map the ufunc by name, apply it.

    >>> import numpy as np, symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> np.add.reduce(sn.SymArray([x, y, x]))
    2*x + y
    """
    if any(getattr(type(a), "_symnum_array_term", False) for a in inputs):
        return NotImplemented  # a symbolic array term (symnum.arrays) handles the call
    kwargs = dict(kwargs)
    kwargs.pop("dtype", None)
    kwargs.pop("signature", None)
    if kwargs.get("where", None) is True:
        del kwargs["where"]
    out = kwargs.pop("out", None) or ()
    if kwargs.get("initial", 0) is np._NoValue:
        del kwargs["initial"]
    name = getattr(ufunc, "__name__", "")
    what = f"{_ufunc_label(ufunc)}{'' if method == '__call__' else '.' + method}"
    plain_out = _check_out(out, what)
    if plain_out:
        kwargs["out"] = plain_out if len(plain_out) > 1 else plain_out[0]

    if name == "matmul" and method == "__call__" and not kwargs and len(inputs) == 2:
        r = _matmul(inputs[0], inputs[1])
        return out[0] if out else r
    if name in _NATIVE_OBJECT_UFUNCS:
        r = getattr(ufunc, method)(*[_plain(a) for a in inputs], **kwargs)
        return out[0] if out else wrap(r)

    rule = ufunc_rule(ufunc)
    if method == "__call__" and not kwargs and all(
        isinstance(a, Expr) or is_number(a) for a in inputs
    ):
        return rule.fn(*inputs)  # scalar fast path: no array machinery
    if method == "reduce" and name in _VARIADIC and "where" not in kwargs:
        r = _reduce_variadic(_VARIADIC[name], _IDENTITY[name], inputs[0], kwargs)
    else:
        pyu = _pyufunc(name if name in UFUNC_RULES else rule.fn, rule.fn, rule.nin)
        r = getattr(pyu, method)(*[_plain(a) for a in inputs], **kwargs)
    if method == "at":
        return None
    return out[0] if out else wrap(r)


def _matmul(a: Any, b: Any) -> Any:
    """a @ b with one n-ary sum per output element. numpy's object loop folds products into a
    growing canonical sum one term at a time (quadratic in the inner dimension)."""
    a = np.asarray(_plain(a), dtype=object)
    b = np.asarray(_plain(b), dtype=object)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (use * for "
                         "scalars)")
    va, vb = a.ndim == 1, b.ndim == 1
    A = a[None, :] if va else a
    B = b[:, None] if vb else b
    if A.shape[-1] != B.shape[-2]:
        raise ValueError(f"matmul: mismatch in its core dimension: {a.shape} @ {b.shape}")
    prod = A[..., :, :, None] * B[..., None, :, :]
    r = _reduce_variadic(P.add_op, 0, prod, {"axis": -2})
    r = np.asarray(r, dtype=object)
    if va:
        r = r[..., 0, :]
    if vb:
        r = r[..., 0]
    return wrap(r if r.ndim else r[()])


def _dot(a, b, out=None):
    a_, b_ = np.asarray(_plain(a), dtype=object), np.asarray(_plain(b), dtype=object)
    if a_.ndim == 0 or b_.ndim == 0:
        return _store(wrap(a_ * b_) if (a_.ndim or b_.ndim) else a_[()] * b_[()], out)
    if a_.ndim <= 2 and b_.ndim <= 2:  # np.dot equals matmul here
        return _store(_matmul(a_, b_), out)
    return _store(wrap(np.dot._implementation(a_, b_)), out)


def _reduce_variadic(op, identity, a, kwargs: dict) -> Any:
    """Sum/product along axes as one n-ary op per output element: linear, not n² folding."""
    a = np.asarray(_plain(a), dtype=object)
    axis = kwargs.get("axis", 0)
    keepdims = kwargs.get("keepdims", False)
    has_init = "initial" in kwargs
    axes = tuple(range(a.ndim)) if axis is None else normalize_axis_tuple(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    kept_shape = tuple(a.shape[i] for i in rest)
    k = math.prod(a.shape[i] for i in axes)
    rows = moved.reshape((-1, k)) if a.size else np.empty((math.prod(kept_shape), 0), object)
    res = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        items = ([kwargs["initial"]] if has_init else []) + list(row)
        if not items:
            res[i] = Const(identity)
        elif len(items) == 1:
            res[i] = items[0]
        else:
            res[i] = op(*items)
    res = res.reshape(kept_shape)
    if keepdims:
        res = res.reshape(tuple(1 if i in axes else a.shape[i] for i in range(a.ndim)))
    if "out" in kwargs:
        kwargs["out"][...] = res
        return kwargs["out"]
    return res


def elementwise(op: Any, args: tuple) -> Any:
    """Apply a scalar Op (or rule) to broadcast arguments; SymArray result (scalar for 0-d).

    >>> import symnum as sn
    >>> u = sn.symarray("u", 2)
    >>> sn.sin(u)
    SymArray([sin(u[0]), sin(u[1])], dtype=object)
    """
    return wrap(_pyufunc(op, op, len(args))(*[_plain(a) for a in args]))


def _install_methods() -> None:
    """numpy's object loops call `elem.sin()`: give Expr those methods, from the one table."""
    for name, rule in UFUNC_RULES.items():
        if rule.method and not hasattr(Expr, name):
            setattr(Expr, name, _method(rule.fn, name))
    if not hasattr(Expr, "astype"):  # x.astype(float) on a scalar term, like a numpy scalar
        Expr.astype = lambda self, dtype, *a, **k: _astype(self, dtype)


def _method(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def m(self, *others):
        return fn(self, *others)

    m.__name__ = name
    m.__doc__ = f"numpy.{name} of this term (numpy's object loops call it)."
    return m


_install_methods()

# ---------------------------------------------------------------------------------------------
# numpy functions (__array_function__)


def _where(condition, x=None, y=None):
    if x is None and y is None:
        raise UnsupportedOperationError(
            "numpy.where with only a condition (the indices where it holds) has no symbolic "
            "rule: the indices depend on values unknown while tracing; use np.where(cond, a, b)"
        )
    if not _is_symbolic(np.asarray(_plain(condition), dtype=object)):
        return wrap(np.where(_plain(condition), _plain(x), _plain(y)))
    return elementwise(P.ifelse, (condition, x, y))


def _select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    result = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        result = _where(cond, choice, result)
    return result


def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,  # noqa: A002
          max=np._NoValue, **kwargs):  # noqa: A002
    lo = a_min if a_min is not np._NoValue else (None if min is np._NoValue else min)
    hi = a_max if a_max is not np._NoValue else (None if max is np._NoValue else max)
    r = a
    if lo is not None:
        r = elementwise(P.maximum, (r, lo))
    if hi is not None:
        r = elementwise(P.minimum, (r, hi))
    return _store(r, out)


def _store(r: Any, out: Any) -> Any:
    if out is None:
        return r
    _check_out((out,), "a numpy function")
    out[...] = r
    return out


def _count(a: np.ndarray, axis: Any) -> int:
    axes = tuple(range(a.ndim)) if axis is None else normalize_axis_tuple(axis, a.ndim)
    return math.prod(a.shape[i] for i in axes)


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    if where is not True:
        raise UnsupportedOperationError("numpy.mean with where= has no symbolic rule in symnum")
    a = np.asarray(_plain(a), dtype=object)
    s = array_ufunc(np.add, "reduce", (a,), {"axis": axis, "keepdims": keepdims})
    return _store(s / _count(a, axis), out)


def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
         mean=np._NoValue, correction=np._NoValue):
    if where is not True or mean is not np._NoValue:
        raise UnsupportedOperationError(
            "numpy.var/std with where= or mean= have no symbolic rule in symnum")
    ddof = ddof if correction is np._NoValue else correction
    a = np.asarray(_plain(a), dtype=object)
    d = wrap(a) - _mean(a, axis, keepdims=True)
    s = array_ufunc(np.add, "reduce", (d * d,), {"axis": axis, "keepdims": keepdims})
    return _store(s / (_count(a, axis) - ddof), out)


def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    v = _var(a, axis, dtype, None, ddof, keepdims, **kwargs)
    return _store(elementwise(P.sqrt, (v,)) if isinstance(v, np.ndarray) else P.sqrt(v), out)


def _round(a, decimals=0, out=None):
    u = np.frompyfunc(lambda v: PM.round_(v, decimals), 1, 1)  # per call: no cache to grow
    return _store(wrap(u(_plain(a))), out)


FUNCTION_RULES: dict[Any, Callable[..., Any]] = {
    np.where: _where, np.select: _select, np.clip: _clip, np.mean: _mean, np.var: _var,
    np.std: _std, np.dot: _dot, np.round: _round, np.around: _round,
}

def array_function(func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
    """numpy's __array_function__ for terms and SymArrays.

    >>> import numpy as np, symnum as sn
    >>> x = sn.symbols("x")
    >>> np.where(x > 0, x, 0)
    ifelse(x > 0, x, 0)
    """
    if not all(issubclass(t, (np.ndarray, Expr)) for t in types):
        return NotImplemented
    rule = FUNCTION_RULES.get(func)
    if rule is not None:
        return rule(*args, **kwargs)
    if func in UNSUPPORTED_FUNCTIONS:
        raise _unsupported_function(func)
    impl = getattr(func, "_implementation", None)
    if impl is None:  # pragma: no cover - every array_function_dispatch function has one
        raise _unsupported_function(func)
    # a known-good function may still need a truth value on some path (norm with ord=1);
    # other TypeErrors of known-good functions are the caller's mistakes and stay as they are
    catch = TracingError if func in SUPPORTED_FUNCTIONS else TypeError
    try:
        return wrap(impl(*args, **kwargs))
    except UnsupportedOperationError:
        raise
    except catch as e:
        raise _unsupported_function(func, e) from e




# numpy's protocols on scalar terms, and ops applied to arrays (symnum.core.hooks)
install(array_ufunc=array_ufunc, array_function=array_function, elementwise=elementwise)
