"""The term interface: five generic functions dispatched on a term's type.

Everything that walks or rebuilds terms (rewriters, printers, evaluation, AD, lowering) uses only
these, so a new term representation or a foreign expression type (SymPy's) plugs in by registering
five functions. Never import concrete term types here.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any


class Generic:
    """A singledispatch generic function with a per-type fast path.

    Term walks call these millions of times; functools.singledispatch's wrapper costs ~1 µs per
    call, a dict lookup on type(t) a fraction of that. Registration goes through singledispatch
    (so subclass resolution stays standard) and clears the fast-path cache.
    """

    def __init__(self, default):
        self._sd = singledispatch(default)
        self._fast: dict[type, Any] = {}
        self.__doc__ = default.__doc__
        self.__name__ = default.__name__
        self.__wrapped__ = default

    def __call__(self, t):
        f = self._fast.get(type(t))
        if f is None:
            f = self._fast[type(t)] = self._sd.dispatch(type(t))
        return f(t)

    def register(self, cls, func=None):
        self._fast.clear()
        if func is None and not isinstance(cls, type):  # @g.register with annotations
            return self._sd.register(cls)
        return self._sd.register(cls, func)

    def dispatch(self, cls):
        return self._sd.dispatch(cls)


def _iscall(t: Any) -> bool:
    """True when `t` is a call of an operation on arguments (not a leaf)."""
    return False


def _operation(t: Any) -> Any:
    """The operation (head) of a call term."""
    raise TypeError(f"operation() is not defined for {type(t).__name__}: it is not a call term")


def _arguments(t: Any) -> list:
    """The arguments of a call term, as a list of terms."""
    raise TypeError(f"arguments() is not defined for {type(t).__name__}: it is not a call term")


def _metadata(t: Any) -> Any:
    """Metadata attached to a term (None when it has none)."""
    return None


_Generic = Generic  # the name it had first; rules/pattern.py uses it

iscall = Generic(_iscall)
operation = Generic(_operation)
arguments = Generic(_arguments)
metadata = Generic(_metadata)


@singledispatch
def _maketerm(t: Any, op: Any, args: list, meta: Any = None) -> Any:
    raise TypeError(
        f"maketerm() has no implementation for {t!r}; register one with "
        "symnum.core.interface.register_maketerm(T)"
    )


def maketerm(T: type, op: Any, args: list, meta: Any = None) -> Any:
    """Build a term of type family `T` applying `op` to `args` (dispatched on the class T).

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> maketerm(type(sn.sin(x)), operation(sn.sin(x)), [x]) is sn.sin(x)
    True
    """
    return _maketerm.dispatch(T)(T, op, args, meta)


def register_maketerm(T: type):
    """Decorator registering `fn(T, op, args, meta)` as maketerm for class `T` and subclasses."""
    return _maketerm.register(T)


def similarterm(t: Any, op: Any, args: list) -> Any:
    """Rebuild a term like `t` (same type family, same metadata) with a new op and arguments."""
    return maketerm(type(t), op, args, metadata(t))
