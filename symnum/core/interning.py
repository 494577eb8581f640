"""Numbers' interning keys and the weak interning tables behind hash-consing.

symnum.core.terms builds every term through these (`_intern`, and the forms' inlined copies of
it): structurally equal terms are one object. Numbers get keys that tell 2 from 2.0 and 0.0 from
-0.0. This module knows no term type and imports nothing of symnum's.
"""

from __future__ import annotations

import struct
import threading
import weakref
from _weakref import _remove_dead_weakref
from fractions import Fraction
from typing import Any

import numpy as np

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

# key -> weak reference to the live term; the reference carries its key, so a dying term removes
# its own entry. Plain dicts of C-level weakrefs: WeakValueDictionary's Python-level
# KeyedRef.__init__ cost as much as the rest of building a term.

_TABLE: dict = {}
# the sums' and products' own table, int key → reference (symnum.core.terms._Form): the loop
# `e = e + s` looks up and replaces one entry per term, and a table holding only the live forms
# stays in cache where the table of every symbol (10⁶ of them) would not. Keys are 64-bit
# hashes of a form's contents; the forms under one key are compared before one is returned,
# and keys that two live forms share hold a _Bucket of their references instead of one.
_FORMS: dict = {}
_LOCK = threading.Lock()
# bound methods: `_acquire(); try: … finally: _release()` costs half of `with _LOCK:` (0.15 µs
# against 0.3 on CPython 3.11), and the forms' hot paths take the lock once per term
_acquire, _release = _LOCK.acquire, _LOCK.release


class _Ref(weakref.ref):
    """A weak reference that carries its interning key, so a dying term removes its own entry
    with one lookup (no second table from reference to key). No Python-level __init__: that is
    what made WeakValueDictionary's KeyedRef cost as much as building the term."""

    __slots__ = ("key",)


class _Bucket(list):
    """References to the live forms whose table keys collide (a 64-bit collision: rare)."""

    __slots__ = ()


# Callbacks never take _LOCK (a term may die while its thread holds it) and must not delete a
# newer entry put under the same key meanwhile: _remove_dead_weakref deletes the entry only if
# it still holds a dead reference, in one C call (what WeakValueDictionary uses).


def _gone(wr: _Ref) -> None:
    _remove_dead_weakref(_TABLE, wr.key)


def _form_gone(wr: _Ref) -> None:
    try:
        _remove_dead_weakref(_FORMS, wr.key)
    except TypeError:  # a _Bucket: its dead references are dropped when it is next used
        pass


def intern_form(key: int, same, create) -> Any:
    """The live form under `key` that `same(form)` accepts, else a new one from `create()`,
    entered under `key` (the forms' general path; the caller holds _LOCK)."""
    cur = _FORMS.get(key)
    refs = [] if cur is None else (cur if cur.__class__ is _Bucket else [cur])
    live = []
    for r in refs:
        obj = r()
        if obj is not None:
            if same(obj):
                return obj
            live.append(r)
    obj = create()
    wr = _Ref(obj, _form_gone)
    wr.key = key
    _FORMS[key] = _Bucket([*live, wr]) if live else wr
    return obj


def _register(obj: Any, key: tuple) -> None:
    """Enter a new term in the table (the caller holds _LOCK)."""
    wr = _Ref(obj, _gone)
    wr.key = key
    _TABLE[key] = wr


def _intern(cls: type, key: tuple, init) -> Any:
    """Return the unique live object for `key`, creating it with `init(obj)` when absent."""
    wr = _TABLE.get(key)
    if wr is not None:
        obj = wr()
        if obj is not None:
            return obj
    _acquire()
    try:
        wr = _TABLE.get(key)
        obj = wr() if wr is not None else None
        if obj is None:
            obj = object.__new__(cls)
            init(obj)
            object.__setattr__(obj, "_cache", None)
            _register(obj, key)
    finally:
        _release()
    return obj


def live_terms() -> int:
    """Number of terms alive in the interning table (for tests and diagnostics)."""
    refs = [*_TABLE.values()]
    for r in list(_FORMS.values()):
        refs.extend(r if r.__class__ is _Bucket else [r])
    return sum(1 for wr in refs if wr() is not None)
