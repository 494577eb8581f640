"""Term types: Sym, Const, Term and the polynomial forms Add and Mul.

Every term is immutable and hash-consed through a weak interning table (symnum.core.interning):
structurally equal terms are the same object, so `==` is identity, hashing is O(1), and a traced
program is a DAG with sharing for free. This module only defines representations; the
canonicalising constructors live in `symnum.core.canonical` and the operators' meaning in
`symnum.core.primitives`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from symnum.core.form_entries import _Entries, _entry_hash, _one_entry
from symnum.core.hooks import HOOKS
from symnum.core.interning import (  # noqa: F401  (numbers' helpers and live_terms re-exported)
    _FORMS,
    _TABLE,
    Number,
    _acquire,
    _form_gone,
    _gone,
    _intern,
    _Ref,
    _register,
    _release,
    intern_form,
    is_number,
    live_terms,
    normalize_number,
    number_dtype,
    numkey,
)
from symnum.core.operators import Operators
from symnum.errors import TracingError

# symnum.core.serial registers the graph pickler here (this module must not import it)
PICKLERS: list = []

# Whether arithmetic builds plain Terms as written (symnum.core.build.tree_mode sets it). It lives
# here, below build, because a sum's and a product's own `+`/`*` fast paths read it.
TREE_MODE = contextvars.ContextVar("symnum_tree_mode", default=False)
_tree_mode = TREE_MODE.get  # bound once: _Form._grow asks it once per appended term


# ---------------------------------------------------------------------------------------------
# the base class: operators build terms through symnum.primitives


class Expr(Operators):
    """Base of every symnum term. Immutable; arithmetic, comparisons (`==` and `!=` included,
    as numpy's are) and numpy ufuncs build new terms; `is` is structural identity (hash-consing
    makes structurally equal terms one object)."""

    __slots__ = ("_cache", "__weakref__")
    __array_priority__ = 1000
    # The height of the term's DAG: 0 for leaves (this default), 1 + the largest height of its
    # arguments (entries) for calls and forms, set once when the term is built (O(#arguments),
    # O(1) per appended entry). A term holding `s` below itself is higher than `s`: the merge
    # policy's "does this term read that sum" walks only the part above `s`
    # (symnum.core.merge.reads), and a term no higher than `s` is answered in O(1).
    _h = 0

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} terms are immutable")

    # Every live term has its own hash: object's, from its address, computed in C (terms are dict
    # keys everywhere, and a Python-level __hash__ cost more than building a sum's entry). `==`
    # builds a symbolic comparison, so a dict or set must never need `==` to tell two distinct
    # terms apart: distinct live objects have distinct addresses, hence distinct hashes, and
    # equal terms are one object, found by identity before any `==`.
    __hash__ = object.__hash__

    # `a == b` is numpy's elementwise equality: a symbolic `eq` term, so np.where(a == b, ...)
    # sees a condition, not a Python bool. Its truth value is structural where that is certain
    # (`x == x` is true, two numbers compare) and an error otherwise (see __bool__).
    def __eq__(self, other):
        if isinstance(other, Expr) or is_number(other):
            return HOOKS.eq(self, other)
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, Expr) or is_number(other):
            return HOOKS.ne(self, other)
        return NotImplemented

    def __reduce__(self):  # by graph, never the interned objects: symnum.core.serial
        if not PICKLERS:
            raise TypeError("symnum terms pickle once symnum.core.serial is imported "
                            "(import symnum does it); or save them with symnum.save")
        return PICKLERS[0](self)

    # Python needs concrete values here: say what to do instead ---------------------------------
    def __bool__(self):
        if type(self) is Term and self.op.name in ("eq", "ne") and self.args[0] is self.args[1]:
            return self.op.name == "eq"  # `x == x` (a test's assert, `in`): structural
        raise HOOKS.concrete_value_error(self, "bool")

    def __float__(self):
        raise HOOKS.concrete_value_error(self, "float")

    def __int__(self):
        raise HOOKS.concrete_value_error(self, "int")

    __index__ = __int__

    def __complex__(self):
        raise HOOKS.concrete_value_error(self, "complex")

    def __iter__(self):
        raise TracingError(f"a scalar symbolic expression is not iterable: {self}")

    # numpy protocols (implemented in symnum.tracing.protocols)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return HOOKS.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return HOOKS.array_function(func, types, args, kwargs)

    # printing (implemented in symnum.io.printing)
    def __str__(self) -> str:
        return HOOKS.to_str(self)

    def __repr__(self) -> str:
        return str(self)

    def _repr_latex_(self) -> str:
        return f"${HOOKS.to_latex(self)}$"

    @property
    def dtype(self) -> str:
        """The result dtype name ("float64", "float32", "int64", "bool")."""
        return HOOKS.infer_dtype(self)


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

    __slots__ = ("op", "args", "meta", "_h")

    def __new__(cls, op: Any, args: tuple, meta: Any = None):
        args = tuple(a if isinstance(a, Expr) else Const(a) for a in args)

        def init(o):
            object.__setattr__(o, "op", op)
            object.__setattr__(o, "args", args)
            object.__setattr__(o, "meta", meta)
            _set_th(o, _height(args))

        key = ("T", op, args) if meta is None else ("T", op, args, meta)
        return _intern(cls, key, init)

    @classmethod
    def _make(cls, op: Any, args: tuple) -> Term:
        """`Term(op, args)` for a tuple of terms and no metadata, with the interning inlined:
        symnum.core.build's hot path (sin(e), cos(e) in a loop) calls it once per term."""
        key = ("T", op, args)
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
                _set_op(obj, op)
                _set_args(obj, args)
                _set_meta(obj, None)
                _set_cache(obj, None)
                _set_th(obj, _height(args))
                _register(obj, key)
        finally:
            _release()
        return obj


# ---------------------------------------------------------------------------------------------
# polynomial forms, built one entry at a time in O(1)
#
# `e = e + s` in a loop must not copy e's n entries (that made a 10⁴-term sum take minutes). The
# forms of such a chain share one append-only `_Entries`: version L of a form is its first L
# entries, so appending to the newest version is O(1) and older versions stay valid. A form's
# table key is one 64-bit int: an order-independent sum of its entries' hashes, its size times
# _STEP and a salt for its type and number, updated in O(1) per entry (an int costs less to
# build, hash and compare than a tuple key: ~10 % of the loop). Forms found under a key are
# compared entry by entry before one is returned (symnum.core.interning.intern_form), so a
# collision costs time, never a wrong answer.

_MASK = (1 << 64) - 1
_STEP = 0x9E3779B97F4A7C15  # added once per entry, so that the size enters the key


def _salt(tag: str, num: Number) -> int:
    """The key's part for the form's type and number: a function of (tag, numkey(num))."""
    return hash((tag, num) if num.__class__ is int else (tag, numkey(num)))


def _entries_of(d: Mapping) -> tuple[_Entries, int]:
    """Fresh entries for a mapping, and their hash."""
    e = _Entries(list(d.keys()), list(d.values()))
    return e, sum(map(_entry_hash, e.keys, e.vals)) & _MASK


def _height(args: Any) -> int:
    """1 + the largest height among `args` (Expr._h)."""
    h = 0
    for a in args:
        ah = a._h
        if ah > h:
            h = ah
    return h + 1


def _new_form(cls: type, num: Number, entries: _Entries, n: int, key: int, h: int) -> Any:
    """A new form of height h, not yet entered in the table."""
    obj = object.__new__(cls)
    _set_num(obj, num)
    _set_entries(obj, entries)
    _set_len(obj, n)
    _set_key(obj, key)
    _set_cache(obj, None)
    _set_fh(obj, h)
    return obj


class _Form(Expr):
    """Base of Add and Mul: a number (const or coeff) and version `_len` of shared entries."""

    __slots__ = ("_num", "_entries", "_len", "_key", "_h")
    _TAG = ""

    @classmethod
    def _make(cls, num: Number, entries: _Entries, n: int, key: int, h: int) -> Any:
        """The interned form of `num` and the first n entries; `key` is its table key, h its
        height (Expr._h)."""
        wr = _FORMS.get(key)
        if wr.__class__ is _Ref:  # an equal form alive: found without the lock
            obj = wr()
            if obj is not None and obj._is(cls, num, entries, n):
                return obj
        _acquire()
        try:
            # a new form under a free key, the common case: intern_form's path for it, inlined
            # (no closures to build: every canonical form comes through here)
            if _FORMS.get(key) is None:
                obj = _new_form(cls, num, entries, n, key, h)
                wr = _Ref(obj, _form_gone)
                wr.key = key
                _FORMS[key] = wr
                return obj
            return intern_form(key, lambda o: o._is(cls, num, entries, n),
                               lambda: _new_form(cls, num, entries, n, key, h))
        finally:
            _release()

    @classmethod
    def _of(cls, num: Number, entries: _Entries, n: int, h: int) -> Any:
        """`_make` for entries whose hash is h."""
        return cls._make(num, entries, n, (h + n * _STEP + _salt(cls._TAG, num)) & _MASK,
                         _height(entries.keys[:n]))

    @classmethod
    def _single(cls, num: Number, k: Expr, v: Number) -> Any:
        """The form with number `num` and the one entry k → v (`x*0.5`, `t + 0.1`): no dict."""
        return cls._make(num, _one_entry(k, v), 1,
                         (_entry_hash(k, v) + _STEP + _salt(cls._TAG, num)) & _MASK, k._h + 1)

    def _is(self, cls: type, num: Number, entries: _Entries, n: int) -> bool:
        return (self.__class__ is cls and (self._num is num or numkey(self._num) == numkey(num))
                and self._same_entries(entries, n))

    def _same_entries(self, entries: _Entries, n: int) -> bool:
        if n != self._len:
            return False
        mine = self._entries
        if mine is entries:
            return True
        for i in range(n):
            j = mine.pos.get(entries.keys[i])
            if j is None or j >= self._len or numkey(mine.vals[j]) != numkey(entries.vals[i]):
                return False
        return True

    def get(self, key: Expr, default: Any = None) -> Any:
        """The coefficient (exponent) of `key`, without materialising the mapping."""
        i = self._entries.pos.get(key)
        return self._entries.vals[i] if i is not None and i < self._len else default

    def __len__(self) -> int:
        return self._len

    def entry_keys(self) -> list:
        """The terms (bases) in insertion order, without building the mapping view: walks over
        large graphs (scheduling, evaluation, differentiation) read forms through this."""
        return self._entries.keys[: self._len]

    def entry_items(self) -> list:
        """[(term, coefficient)] ([(base, exponent)]) in insertion order, without the mapping."""
        e, n = self._entries, self._len
        return list(zip(e.keys[:n], e.vals[:n]))

    def _mapping(self) -> Mapping:
        def build(t):
            e = t._entries
            return MappingProxyType(dict(zip(e.keys[: t._len], e.vals[: t._len])))

        return cached(self, "entries", build)

    def extended(self, num: Number, items: list) -> Any:
        """This form with number `num` and more entries (keys absent from it): O(len(items))
        when this is the newest version of its entries, else one copy of its entries first."""
        n = self._len
        key = self._key + len(items) * _STEP
        h = self._h
        for k, v in items:
            key += _entry_hash(k, v)
            if k._h >= h:
                h = k._h + 1
        if num is not self._num:
            key += _salt(self._TAG, num) - _salt(self._TAG, self._num)
        _acquire()  # the check and the append are one step (threads may extend one chain)
        try:
            e = self._entries
            if n != len(e.keys):  # an older version: branch off a copy
                e = e.branch(n)
            for i, (k, v) in enumerate(items, n):
                e.keys.append(k)
                e.vals.append(v)
                e.pos[k] = i
        finally:
            _release()
        # if an equal form is alive, that one is returned and the entries stay unused in `e`
        return self._make(num, e, n + len(items), key & _MASK, h)

    def appended(self, key: Expr, val: Number) -> Any:
        """`extended` for one entry `key` absent from this form."""
        return self.extended(self._num, [(key, val)])

    def _grow(self, o: Any) -> Any:
        """`self + o` (Add.__add__) and `self * o` (Mul.__mul__) for the loop `e = e + s`,
        `p = p * s`: a symbol, or a call term no higher than this form (so it cannot read it,
        Expr._h), absent from it, is appended in one step; everything else goes to the general
        path (HOOKS.add / HOOKS.mul → symnum.core.canonical, whose merge policy decides about a
        term that may read the form), which builds the same form. One lock round covers the
        membership check, the append and the table entry: _make's interning, inlined, and no
        call in between, as this runs once per term."""
        t = o.__class__
        if t is Sym:
            h = self._h  # a leaf: the height stays
        elif t is Term and o._h <= self._h:
            h = self._h if o._h < self._h else self._h + 1
        else:
            return self._general(o)
        if _tree_mode():
            return self._general(o)
        n = self._len
        tkey = (self._key + hash(o) + _STEP) & _MASK
        _acquire()
        try:
            e = self._entries
            keys = e.keys
            if n == len(keys):  # the newest version: check and claim the key in one dict call
                if e.pos.setdefault(o, n) != n:
                    e = None
            else:  # an older version: branch off a copy
                i = e.pos.get(o)
                if i is not None and i < n:
                    e = None
                else:
                    e = e.branch(n)
                    keys = e.keys
                    e.pos[o] = n
            if e is not None:
                keys.append(o)
                e.vals.append(1)
                if _FORMS.get(tkey) is None:
                    obj = _new(self.__class__)  # _new_form, inlined
                    _set_num(obj, self._num)
                    _set_entries(obj, e)
                    _set_len(obj, n + 1)
                    _set_key(obj, tkey)
                    _set_cache(obj, None)
                    _set_fh(obj, h)
                    wr = _Ref(obj, _form_gone)
                    wr.key = tkey
                    _FORMS[tkey] = wr
                    return obj
        finally:
            _release()
        if e is None:  # o is an entry already: x + x is 2·x
            return self._general(o)
        return self._make(self._num, e, n + 1, tkey, h)  # an equal form may be alive

    def _absent(self, key: Expr) -> bool:
        i = self._entries.pos.get(key)
        return i is None or i >= self._len

    def with_number(self, num: Number) -> Any:
        """The same entries with another const (coeff): O(1)."""
        key = self._key + _salt(self._TAG, num) - _salt(self._TAG, self._num)
        return type(self)._make(num, self._entries, self._len, key & _MASK, self._h)


class Add(_Form):
    """const + Σ coeff·term, with non-numeric, coefficient-free terms and non-zero
    coefficients; a term is an Add only where the merge policy kept a sum whole
    (symnum.core.merge). Build it with symnum.core.canonical.add, never directly."""

    __slots__ = ()
    _TAG = "A"

    def __new__(cls, const: Number, terms: Mapping[Expr, Number]):
        entries, h = _entries_of(terms)
        return cls._of(const, entries, len(entries.keys), h)

    # `e = e + s` in a loop: a new symbol, or a call term no higher than the sum, appended in
    # one step (the general path, HOOKS.add → canonical.add, gives the same form with five more
    # calls); a call term higher than the sum may read it (`x + sin(x)`, `x + sin(2·sin(2·x))`)
    # and goes there to ask the merge policy (symnum.core.merge.reads)
    __add__ = _Form._grow

    def _general(self, o):
        return HOOKS.add(self, o)

    @property
    def const(self) -> Number:
        return self._num

    @property
    def terms(self) -> Mapping[Expr, Number]:
        return self._mapping()


class Mul(_Form):
    """coeff × Π base^exponent, with integer exponents and non-numeric bases; a base is a Mul
    (under coefficient 1) only where the merge policy kept a product whole
    (symnum.core.merge). Build it with symnum.core.canonical.mul, never directly."""

    __slots__ = ()
    _TAG = "M"

    def __new__(cls, coeff: Number, bases: Mapping[Expr, int]):
        entries, h = _entries_of(bases)
        return cls._of(coeff, entries, len(entries.keys), h)

    __mul__ = _Form._grow  # `p = p * s`: as Add.__add__ (a higher call term may read p)

    def _general(self, o):
        return HOOKS.mul(self, o)

    @property
    def coeff(self) -> Number:
        return self._num

    @property
    def bases(self) -> Mapping[Expr, int]:
        return self._mapping()


# slot setters (a member descriptor's __set__ is cheaper than object.__setattr__ by name)
_set_cache = Expr._cache.__set__
_set_op, _set_args, _set_meta = Term.op.__set__, Term.args.__set__, Term.meta.__set__
_set_num, _set_entries = _Form._num.__set__, _Form._entries.__set__
_set_len, _set_key = _Form._len.__set__, _Form._key.__set__
_set_th, _set_fh = Term._h.__set__, _Form._h.__set__
_new = object.__new__


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


