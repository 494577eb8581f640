"""Array term types: ArraySym, ArrayConst and ArrayTerm, hash-consed like the scalar terms.

An array term stands for a whole array, whatever its size: an input (name, shape, dtype), a
constant (ONE term interned by a content hash of its bytes, dtype and shape) or one array
operation applied to argument terms (array terms, or scalar terms of shape ()). Shape and dtype
are computed once, when the term is built, by the operation's `infer`. Sits above symnum.core
(it reuses core's interning table) and must never build a per-element term: that is scalarize's
job, on demand.
"""

from __future__ import annotations

import hashlib
from types import MappingProxyType
from typing import Any

import numpy as np

import symnum.core.interface as I
from symnum.core.terms import Expr, _intern, is_number
from symnum.errors import DTypeError, TracingError

Shape = tuple[int, ...]

_DTYPES = ("float64", "float32", "int64", "int32", "bool")


def norm_dtype(dt: Any) -> str:
    name = np.dtype(dt).name
    if name not in _DTYPES:
        if np.dtype(dt).kind in "iu":
            return "int64"
        raise DTypeError(f"symbolic arrays hold real, integer or boolean values, not {name}")
    return name


def norm_shape(shape: Any) -> Shape:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TracingError(f"a shape is a tuple of integers, got {shape!r}") from None
    if any(s < 0 for s in out):
        raise TracingError(f"a shape cannot have negative sizes: {out}")
    return out


class ArrayExpr:
    """Base of every array term: immutable, interned, with a static `shape` and `dtype`.

    Arithmetic, numpy ufuncs and numpy functions (np.sum, np.roll, slicing, `@`) build new array
    terms (installed by symnum.arrays.methods). `==` is structural identity, as for scalars.
    """

    __slots__ = ("_cache", "__weakref__", "shape", "dtype")
    __array_priority__ = 2000  # above SymArray and scalar terms: numpy defers to us

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} terms are immutable")

    # The hash is identity (object's own, in C), as for scalar terms: equal terms are one
    # object, so dicts and sets find them before any `==`. `a == b` is numpy's elementwise
    # equality, a symbolic comparison (np.where(a == b, ...) must see a condition: identity
    # here once took the wrong branch at ties); its truth value is an error (see __bool__).
    __hash__ = object.__hash__

    def __eq__(self, other: object) -> Any:
        if isinstance(other, (ArrayExpr, Expr, np.ndarray)) or is_number(other):
            return np.equal(self, other)
        return NotImplemented

    def __ne__(self, other: object) -> Any:
        if isinstance(other, (ArrayExpr, Expr, np.ndarray)) or is_number(other):
            return np.not_equal(self, other)
        return NotImplemented

    def __reduce__(self):
        raise TypeError("symbolic array terms do not pickle yet (scalar terms, Fn and compiled "
                        "functions do): pickle the Python function and trace it again, or "
                        "scalarize the program first (sn.scalarize) and save that")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d symbolic array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TracingError("a 0-d symbolic array is not iterable")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        raise TracingError(
            f"the truth value of a symbolic array ({self}) is not known while tracing; use "
            "np.where / sn.ifelse for a choice, or make the flag static (functools.partial)")

    def __float__(self):
        raise TracingError(
            f"float() of a symbolic array ({self}) needs a concrete value; keep it symbolic "
            "(np.* functions work on it) or evaluate the traced function")

    __int__ = __float__
    __index__ = __float__
    __complex__ = __float__

    def __array__(self, dtype=None, copy=None):
        from symnum.arrays.carrier import carrier, carrier_allowed

        if carrier_allowed():  # scipy's array-API coercion: symbolic all the same
            return carrier(self, dtype)
        raise TracingError(
            "np.asarray/np.array of a symbolic array needs concrete values; remove the "
            "conversion (numpy functions work on symbolic arrays directly), build arrays with "
            "np.stack / np.concatenate, or trace with mode='scalar'")


def _array_meta(shape: Shape, dtype: str) -> MappingProxyType:
    return MappingProxyType({"shape": shape, "dtype": dtype})


class ArraySym(ArrayExpr):
    """A named array variable with a static shape and dtype (an input of an array program).

    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (3, 2))
    >>> x.shape, x.dtype, x is ArraySym("x", (3, 2))
    ((3, 2), 'float64', True)
    """

    __slots__ = ("name",)

    def __new__(cls, name: str, shape: Any, dtype: Any = "float64"):
        if not isinstance(name, str):
            raise TypeError(f"an array symbol's name must be a str, got {type(name).__name__}")
        shape, dtype = norm_shape(shape), norm_dtype(dtype)

        def init(o):
            object.__setattr__(o, "name", name)
            object.__setattr__(o, "shape", shape)
            object.__setattr__(o, "dtype", dtype)

        return _intern(cls, ("AS", name, shape, dtype), init)


def content_hash(a: np.ndarray) -> bytes:
    """A digest of an array's bytes, dtype and shape (equal for equal arrays, across runs)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(a.dtype.str.encode() + repr(a.shape).encode())
    h.update(np.ascontiguousarray(a).view(np.uint8).data)
    return h.digest()


class ArrayConst(ArrayExpr):
    """A constant array: one term, interned by content hash (never one term per entry).

    The value is a private read-only copy, so later writes to the user's array change nothing.

    >>> import numpy as np
    >>> from symnum.arrays.terms import ArrayConst
    >>> ArrayConst(np.arange(3.0)) is ArrayConst(np.arange(3.0))
    True
    """

    __slots__ = ("value", "digest")

    def __new__(cls, value: Any):
        a = np.asarray(value)
        dtype = norm_dtype(a.dtype)
        a = np.array(a, dtype=dtype, order="C", copy=True)
        a.flags.writeable = False
        d = content_hash(a)

        def init(o):
            object.__setattr__(o, "value", a)
            object.__setattr__(o, "digest", d)
            object.__setattr__(o, "shape", a.shape)
            object.__setattr__(o, "dtype", dtype)

        return _intern(cls, ("AC", d, a.shape, dtype), init)


class ArrayTerm(ArrayExpr):
    """One array operation (an ArrayOp, see symnum.arrays.ops) applied to argument terms.

    Built through the operation (`op.build(*args)`), which checks shapes and returns a simpler
    term where one exists; this constructor only validates and interns.
    """

    __slots__ = ("op", "args")

    def __new__(cls, op: Any, args: tuple):
        args = tuple(args)
        for a in args:
            if not isinstance(a, (ArrayExpr, Expr)):
                raise TypeError(f"an array term's arguments are terms, got {type(a).__name__}")
        shape, dtype = op.infer(args)

        def init(o):
            object.__setattr__(o, "op", op)
            object.__setattr__(o, "args", args)
            object.__setattr__(o, "shape", tuple(shape))
            object.__setattr__(o, "dtype", dtype)

        return _intern(cls, ("AT", op, args), init)


def shape_of(x: Any) -> Shape:
    """The shape of an argument: an array term's, or () for scalar terms and numbers."""
    return x.shape if isinstance(x, ArrayExpr) else ()


def dtype_of(x: Any) -> str:
    if isinstance(x, (ArrayExpr, Expr)):
        return x.dtype
    return np.asarray(x).dtype.name


def is_array_term(x: Any) -> bool:
    return isinstance(x, ArrayExpr)


# ---------------------------------------------------------------------------------------------
# the term interface


@I.iscall.register(ArrayTerm)
def _(t) -> bool:
    return True


@I.operation.register(ArrayTerm)
def _(t):
    return t.op


@I.arguments.register(ArrayTerm)
def _(t) -> list:
    return list(t.args)


@I.metadata.register(ArraySym)
@I.metadata.register(ArrayConst)
@I.metadata.register(ArrayTerm)
def _(t):
    return _array_meta(t.shape, t.dtype)


@I.register_maketerm(ArrayExpr)
def _(T, op, args, meta=None):
    # through the op's builder: a rebuilt map with constant or repeated arguments simplifies
    return op.rebuild(tuple(args))
