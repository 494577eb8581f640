"""Term types: Sym, Const, Term and the polynomial forms Add and Mul.

Every term is immutable and hash-consed through a weak interning table: structurally equal terms
are the same object, so `==` is identity, hashing is O(1), and a traced program is a DAG with
sharing for free. This module only defines representations; the canonicalising constructors live
in `symnum.core.canonical` and the operators' meaning in `symnum.core.primitives`.
"""

from __future__ import annotations

import itertools
import struct
import threading
import weakref
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import numpy as np

from symnum.errors import TracingError

Number = int | float | Fraction

# ---------------------------------------------------------------------------------------------
# numbers: keys that distinguish 2 from 2.0 and 0.0 from -0.0 (Python's == does not)


def is_number(v: Any) -> bool:
    """True for the plain numbers symnum folds: bool, int, float, Fraction and numpy scalars."""
    return isinstance(v, (int, float, Fraction, np.number, np.bool_))


def normalize_number(v: Any) -> Number | np.floating:
    """numpy scalars → Python numbers (float32 kept as np.float32 so its dtype survives)."""
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.float32):
        return v
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, Fraction) and v.denominator == 1:
        return int(v.numerator)
    return v


def numkey(v: Number) -> tuple:
    """An interning key for a number: by type and, for floats, by bit pattern."""
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, int):
        return ("i", v)
    if isinstance(v, float):
        return ("f", struct.pack("<d", v))
    if isinstance(v, np.float32):
        return ("f32", v.tobytes())
    if isinstance(v, Fraction):
        return ("q", v.numerator, v.denominator)
    raise TypeError(f"not a symnum number: {v!r}")


def number_dtype(v: Number) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, np.float32):
        return "float32"
    return "float64"  # float and Fraction (a Fraction evaluates as float64)


# ---------------------------------------------------------------------------------------------
# interning

# key -> weakref to the live term, and weakref -> key so a dying term removes its own entry.
# Plain dicts of C-level weakrefs: WeakValueDictionary's Python-level KeyedRef.__init__ cost
# as much as the rest of building a term.
_TABLE: dict = {}
_KEY_OF: dict = {}
_LOCK = threading.Lock()
# Every live term gets its own hash (a serial number scattered over 61 bits), not hash(key):
# `==` builds a symbolic comparison, so a dict or set must never need `==` to tell two distinct
# terms apart, and with hash(key) they could collide (hash(-1) == hash(-2) in CPython). Equal
# terms are the same object, so dicts find them by identity before any `==`.
_SERIAL = itertools.count(1)
_HASH_MOD = (1 << 61) - 1  # prime: n·K mod it is a bijection, so live terms never collide
_HASH_MUL = 0x9E3779B97F4A7C15 % _HASH_MOD


def _gone(wr: weakref.ref) -> None:
    key = _KEY_OF.pop(wr, None)
    if key is not None and _TABLE.get(key) is wr:
        del _TABLE[key]


def _intern(cls: type, key: tuple, init) -> Any:
    """Return the unique live object for `key`, creating it with `init(obj)` when absent."""
    wr = _TABLE.get(key)
    if wr is not None:
        obj = wr()
        if obj is not None:
            return obj
    with _LOCK:
        wr = _TABLE.get(key)
        obj = wr() if wr is not None else None
        if obj is None:
            obj = object.__new__(cls)
            init(obj)
            object.__setattr__(obj, "_hash", next(_SERIAL) * _HASH_MUL % _HASH_MOD)
            object.__setattr__(obj, "_cache", None)
            wr = weakref.ref(obj, _gone)
            _KEY_OF[wr] = key
            _TABLE[key] = wr
    return obj


def live_terms() -> int:
    """Number of terms alive in the interning table (for tests and diagnostics)."""
    return sum(1 for wr in list(_TABLE.values()) if wr() is not None)


# ---------------------------------------------------------------------------------------------
# the base class: operators build terms through symnum.primitives


class Expr:
    """Base of every symnum term. Immutable; arithmetic, comparisons (`==` and `!=` included,
    as numpy's are) and numpy ufuncs build new terms; `is` is structural identity (hash-consing
    makes structurally equal terms one object)."""

    __slots__ = ("_hash", "_cache", "__weakref__")
    __array_priority__ = 1000

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} terms are immutable")

    def __hash__(self) -> int:
        return self._hash

    # `a == b` is numpy's elementwise equality: a symbolic `eq` term, so np.where(a == b, ...)
    # sees a condition, not a Python bool. Its truth value is structural where that is certain
    # (`x == x` is true, two numbers compare) and an error otherwise (see __bool__).
    def __eq__(self, other):
        if isinstance(other, Expr) or is_number(other):
            return _P.eq(self, other)
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, Expr) or is_number(other):
            return _P.ne(self, other)
        return NotImplemented

    def __reduce__(self):
        raise TypeError("symnum terms are not picklable yet; serialise with str() or to_sympy()")

    # arithmetic ------------------------------------------------------------------------------
    def __add__(self, o):
        return _P.add(self, o)

    def __radd__(self, o):  # o + self
        return _P.add(o, self)

    def __sub__(self, o):
        return _P.sub(self, o)

    def __rsub__(self, o):  # o - self
        return _P.sub(o, self)

    def __mul__(self, o):
        return _P.mul(self, o)

    def __rmul__(self, o):  # o * self
        return _P.mul(o, self)

    def __truediv__(self, o):
        return _P.div(self, o)

    def __rtruediv__(self, o):  # o / self
        return _P.div(o, self)

    def __pow__(self, o):
        return _P.pow(self, o)

    def __rpow__(self, o):  # o ** self
        return _P.pow(o, self)

    def __neg__(self):
        return _P.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _P.abs(self)

    # comparisons and logic build boolean terms (for ifelse / np.where conditions)
    def __lt__(self, o):
        return _P.lt(self, o)

    def __le__(self, o):
        return _P.le(self, o)

    def __gt__(self, o):
        return _P.gt(self, o)

    def __ge__(self, o):
        return _P.ge(self, o)

    def __and__(self, o):
        return _P.logical_and(self, o)

    def __rand__(self, o):
        return _P.logical_and(o, self)

    def __or__(self, o):
        return _P.logical_or(self, o)

    def __ror__(self, o):
        return _P.logical_or(o, self)

    def __invert__(self):
        return _P.logical_not(self)

    def __floordiv__(self, o):  # numpy's floor_divide, exactly (derivative 0)
        return _P.floor_divide(self, o)

    def __rfloordiv__(self, o):
        return _P.floor_divide(o, self)

    def __mod__(self, o):  # numpy's remainder: the sign of the divisor, as Python's %
        return _P.mod(self, o)

    def __rmod__(self, o):
        return _P.mod(o, self)

    # Python needs concrete values here: say what to do instead ---------------------------------
    def __bool__(self):
        if type(self) is Term and self.op in (_P.eq_op, _P.ne_op) and self.args[0] is self.args[1]:
            return self.op is _P.eq_op  # `x == x` (a test's assert, `in`): structural
        from symnum.tracing.concrete import concrete_value_error

        raise concrete_value_error(self, "bool")

    def __float__(self):
        from symnum.tracing.concrete import concrete_value_error

        raise concrete_value_error(self, "float")

    def __int__(self):
        from symnum.tracing.concrete import concrete_value_error

        raise concrete_value_error(self, "int")

    __index__ = __int__

    def __complex__(self):
        from symnum.tracing.concrete import concrete_value_error

        raise concrete_value_error(self, "complex")

    def __iter__(self):
        raise TracingError(f"a scalar symbolic expression is not iterable: {self}")

    # numpy protocols (implemented in symnum.tracing)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from symnum.tracing.protocols import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from symnum.tracing.protocols import array_function

        return array_function(func, types, args, kwargs)

    # printing (implemented in symnum.printing)
    def __str__(self) -> str:
        from symnum.io.printing import to_str

        return to_str(self)

    def __repr__(self) -> str:
        return str(self)

    def _repr_latex_(self) -> str:
        from symnum.io.printing import to_latex

        return f"${to_latex(self)}$"

    @property
    def dtype(self) -> str:
        """The result dtype name ("float64", "float32", "int64", "bool")."""
        from symnum.core.traversal import infer_dtype

        return infer_dtype(self)


# ---------------------------------------------------------------------------------------------
# leaves


class Sym(Expr):
    """A named scalar variable. Any string is a valid name: names never reach generated code."""

    __slots__ = ("name", "meta")

    def __new__(cls, name: str, dtype: str = "float64", **meta: Any):
        if not isinstance(name, str):
            raise TypeError(f"a symbol's name must be a str, got {type(name).__name__}")
        dtype = np.dtype(dtype).name
        md = {"dtype": dtype, "shape": (), **meta}
        key = ("S", name, tuple(sorted(md.items())))

        def init(o):
            object.__setattr__(o, "name", name)
            object.__setattr__(o, "meta", MappingProxyType(md))

        return _intern(cls, key, init)

    @property
    def dtype(self) -> str:
        return self.meta["dtype"]


class Const(Expr):
    """A numeric constant, interned by dtype and bit pattern (0.0 and -0.0 differ, NaN works)."""

    __slots__ = ("value",)

    def __new__(cls, value: Any):
        t = type(value)
        if t is Const:
            return value
        if t is not int and t is not float:  # fast path: plain Python numbers need no work
            if not is_number(value):
                raise TypeError(f"Const needs a number, got {t.__name__}: {value!r}")
            value = normalize_number(value)

        def init(o):
            object.__setattr__(o, "value", value)

        return _intern(cls, ("C", numkey(value)), init)

    @property
    def dtype(self) -> str:
        return number_dtype(self.value)

    # a constant's value is known: Python and numpy may convert it (float(sn.sin(0.5)))
    def __bool__(self) -> bool:
        return bool(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __index__(self) -> int:
        if isinstance(self.value, int):
            return int(self.value)
        raise TypeError(f"the constant {self.value!r} is not an integer and cannot be an index")

    def __complex__(self) -> complex:
        return complex(self.value)


# ---------------------------------------------------------------------------------------------
# calls


class Term(Expr):
    """An Op applied to argument terms, built exactly as given (no rearranging)."""

    __slots__ = ("op", "args", "meta")

    def __new__(cls, op: Any, args: tuple, meta: Any = None):
        args = tuple(a if isinstance(a, Expr) else Const(a) for a in args)

        def init(o):
            object.__setattr__(o, "op", op)
            object.__setattr__(o, "args", args)
            object.__setattr__(o, "meta", meta)

        key = ("T", op, args) if meta is None else ("T", op, args, meta)
        return _intern(cls, key, init)


def _freeze(d: Mapping) -> frozenset:
    return frozenset((t, numkey(c)) for t, c in d.items())


class Add(Expr):
    """const + Σ coeff·term, with non-numeric, non-Add, coefficient-free terms and non-zero
    coefficients. Build it with symnum.canonical.add, never directly."""

    __slots__ = ("const", "terms")

    def __new__(cls, const: Number, terms: Mapping[Expr, Number]):
        def init(o):
            object.__setattr__(o, "const", const)
            object.__setattr__(o, "terms", MappingProxyType(dict(terms)))

        return _intern(cls, ("A", numkey(const), _freeze(terms)), init)


class Mul(Expr):
    """coeff × Π base^exponent, with integer exponents and non-numeric, non-Mul bases.
    Build it with symnum.canonical.mul, never directly."""

    __slots__ = ("coeff", "bases")

    def __new__(cls, coeff: Number, bases: Mapping[Expr, int]):
        def init(o):
            object.__setattr__(o, "coeff", coeff)
            object.__setattr__(o, "bases", MappingProxyType(dict(bases)))

        return _intern(cls, ("M", numkey(coeff), _freeze(bases)), init)


def cached(t: Expr, slot: str, compute):
    """Per-term memo for derived facts (arguments view, digest, …); terms are immutable."""
    c = t._cache
    if c is None:
        c = {}
        object.__setattr__(t, "_cache", c)
    v = c.get(slot)
    if v is None:
        v = compute(t)
        c[slot] = v
    return v


import symnum.core.primitives as _P  # noqa: E402  (operators need the primitives; they need Expr)
