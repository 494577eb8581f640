"""The shared, append-only entries behind sums and products (symnum.core.terms' Add and Mul).

A chain of forms built one entry at a time (`e = e + s` in a loop) shares one `_Entries`:
version L of a form is its first L entries, so appending to the newest version is O(1) and
older versions stay valid. This module holds the entries and their hashes only; it knows no
term type, never interns anything and imports nothing of symnum's but the numbers' keys.
"""

from __future__ import annotations

import weakref
from typing import Any

from symnum.core.interning import Number, numkey


class _Entries:
    """Append-only entries (term → coefficient, or base → exponent) shared by a chain of forms.

    `parent`: (weak reference to the entries this was branched from, n) when the first n
    entries are a copy of that one's first n, else None. Scheduling reads it to compute a sum
    that extends another from that sum's value (a Python-loop integrator's state used twice a
    step: symnum.backends.schedule); weak, so a chain of branches does not keep every older
    copy alive."""

    __slots__ = ("keys", "vals", "pos", "parent", "__weakref__")

    def __init__(self, keys: list, vals: list) -> None:
        self.keys, self.vals = keys, vals
        self.pos = dict(zip(keys, range(len(keys))))  # (in C: a branch copies O(n) entries)
        self.parent = None

    def source(self) -> tuple[_Entries, int] | None:
        """(the entries this was branched from, n) while those are alive, else None."""
        p = self.parent
        if p is None:
            return None
        src = p[0]()
        return None if src is None else (src, p[1])

    def branch(self, n: int) -> _Entries:
        """A copy of the first n entries (appending to an older version of a chain)."""
        e = _Entries(self.keys[:n], self.vals[:n])
        e.parent = (weakref.ref(self), n)
        return e


def _one_entry(k: Any, v: Number) -> _Entries:
    e = object.__new__(_Entries)
    e.keys, e.vals, e.pos, e.parent = [k], [v], {k: 0}, None
    return e


def _entry_hash(k: Any, v: Number) -> int:
    # an entry with coefficient (exponent) 1 hashes as its term alone: no tuple to build for
    # the common case; the interning check compares entries, so a collision costs nothing wrong
    return hash(k) if v.__class__ is int and v == 1 else hash((k, numkey(v)))
