"""Patterns of the rule engine: slots, segments, and matching through the term interface.

A pattern is an ordinary term whose leaves may be slots (`~x`, one argument) or segments (`~~xs`,
any run of arguments). Matching reads targets only through `iscall/operation/arguments` (so SymPy
expressions match too) and never builds a term; instantiating a right-hand side rebuilds through
`maketerm`, so the current mode (canonical or tree) applies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import singledispatch
from typing import Any

import numpy as np

from symnum.core.interface import _Generic, arguments, iscall, maketerm, metadata, operation
from symnum.core.terms import Const, Expr, _intern
from symnum.errors import SimplifyError

Predicate = Callable[[Any], bool]

# ---------------------------------------------------------------------------------------------
# slot and segment leaves: Expr subclasses, so patterns are written with ordinary arithmetic


class Slot(Expr):
    """A pattern leaf matching one term (optionally only terms for which `predicate` is true)."""

    __slots__ = ("name", "predicate")

    def __new__(cls, name: str, predicate: Predicate | None = None):
        if not isinstance(name, str) or not name:
            raise SimplifyError(f"a slot needs a non-empty string name, got {name!r}")

        def init(o):
            object.__setattr__(o, "name", name)
            object.__setattr__(o, "predicate", predicate)

        return _intern(cls, ("Slot", name, predicate), init)

    def __str__(self) -> str:
        if self.predicate is None:
            return f"~{self.name}"
        return f"~{self.name}::{getattr(self.predicate, '__name__', 'predicate')}"

    @property
    def dtype(self) -> str:
        return "float64"


class Segment(Expr):
    """A pattern leaf, used as an argument of a call, matching any run of its arguments."""

    __slots__ = ("name",)

    def __new__(cls, name: str):
        if not isinstance(name, str) or not name:
            raise SimplifyError(f"a segment needs a non-empty string name, got {name!r}")

        def init(o):
            object.__setattr__(o, "name", name)

        return _intern(cls, ("Segment", name), init)

    def __str__(self) -> str:
        return f"~~{self.name}"

    @property
    def dtype(self) -> str:
        return "float64"


def slot(name: str, predicate: Predicate | None = None) -> Slot:
    """A pattern slot; the same slot twice in a pattern must bind identical terms.

    >>> import symnum as sn
    >>> x = slot("x")
    >>> sn.Rule("pythagoras", sn.sin(x)**2 + sn.cos(x)**2, 1)(sn.sin(sn.Sym("a"))**2
    ...     + sn.cos(sn.Sym("a"))**2)
    1
    """
    return Slot(name, predicate)


def segment(name: str) -> Segment:
    """A segment slot: inside a call it absorbs any number (zero or more) of the arguments.

    >>> import symnum as sn
    >>> xs, (a, b) = segment("xs"), (sn.Sym("a"), sn.Sym("b"))
    >>> with sn.tree_mode():  # tree mode keeps a one-argument sum as written
    ...     print(sn.Rule("add-zero", sn.add(xs, 0), sn.add(xs))(sn.add(a, 0, b)))
    a + b
    """
    return Segment(name)


# ---------------------------------------------------------------------------------------------
# generic hooks: foreign slot types (sympy.Wild), foreign literals and AC operations plug in here


@singledispatch
def isslot(t: Any) -> bool:
    """True when `t` is a pattern slot (symnum Slot; sympy.Wild once sympy_terms is loaded)."""
    return False


@singledispatch
def issegment(t: Any) -> bool:
    """True when `t` is a segment slot."""
    return False


@singledispatch
def slot_name(t: Any) -> str:
    """The binding name of a slot or segment."""
    raise SimplifyError(f"{t!r} is not a slot; register slot_name for {type(t).__name__}")


@singledispatch
def slot_accepts(t: Any, term: Any) -> bool:
    """Whether slot `t` may bind `term` (its predicate)."""
    return True


def _literal_value(t: Any) -> Any:
    """The plain number a leaf stands for (Const, Python/numpy number), else None."""
    if isinstance(t, (bool, int, float, Fraction, np.number)):
        return t
    return None


literal_value = _Generic(_literal_value)  # singledispatch with a per-type fast path (hot)


isslot.register(Slot, lambda t: True)
issegment.register(Segment, lambda t: True)
slot_name.register(Slot, lambda t: t.name)
slot_name.register(Segment, lambda t: t.name)
literal_value.register(Const, lambda t: t.value)


@slot_accepts.register
def _(t: Slot, term: Any) -> bool:
    return t.predicate is None or bool(t.predicate(term))


_COMMUTATIVE: set = set()
_ASSOCIATIVE: set = set()


def register_ac(*ops: Any, associative: bool = True) -> None:
    """Declare foreign operations (sympy.Add, sympy.Mul) commutative (and associative)."""
    for op in ops:
        _COMMUTATIVE.add(op)
        if associative:
            _ASSOCIATIVE.add(op)


def is_commutative(op: Any) -> bool:
    """Whether the arguments of `op` may be matched in any order."""
    return bool(getattr(op, "commutative", False)) or _hashable_in(op, _COMMUTATIVE)


def is_associative(op: Any) -> bool:
    """Whether a pattern call may match a subset of `op`'s arguments (the rest re-attached)."""
    return bool(getattr(op, "associative", False)) or _hashable_in(op, _ASSOCIATIVE)


def _hashable_in(op: Any, s: set) -> bool:
    try:
        return op in s
    except TypeError:
        return False


def same(a: Any, b: Any) -> bool:
    """Identity for hash-consed symnum terms; structural equality for foreign terms."""
    if a is b:
        return True
    return type(a) is type(b) and not isinstance(a, Expr) and bool(a == b)


# ---------------------------------------------------------------------------------------------
# compiled patterns: the pattern term is read once, so matching never re-dispatches on it


@dataclass(frozen=True, eq=False)
class PSlot:
    name: str
    leaf: Any  # the slot object, for its predicate


@dataclass(frozen=True, eq=False)
class PSeg:
    name: str


@dataclass(frozen=True, eq=False)
class PLit:
    value: Any
    leaf: Any


@dataclass(frozen=True, eq=False)
class PLeaf:
    leaf: Any


@dataclass(frozen=True, eq=False)
class PCall:
    op: Any
    args: tuple  # as written (instantiation keeps this order)
    T: type  # the pattern term's type, for maketerm when instantiating
    meta: Any
    commutative: bool
    ac: bool
    ordered: tuple  # non-segment args, most specific first (for commutative matching)
    seg: PSeg | None  # the one segment of a commutative call


PNode = PSlot | PSeg | PLit | PLeaf | PCall


def compile_pattern(p: Any) -> PNode:
    """Read a pattern term once into match nodes (patterns are small: recursion is fine)."""
    if issegment(p):
        return PSeg(slot_name(p))
    if isslot(p):
        return PSlot(slot_name(p), p)
    if not iscall(p):
        v = literal_value(p)
        return PLeaf(p) if v is None else PLit(v, p)
    op = operation(p)
    args = tuple(compile_pattern(a) for a in arguments(p))
    comm = is_commutative(op)
    segs = [a for a in args if isinstance(a, PSeg)]
    if comm and len(segs) > 1:
        raise SimplifyError(
            f"the pattern {p} has {len(segs)} segments in one commutative call; a commutative "
            "call may hold at most one segment (it absorbs all unmatched arguments)"
        )
    rest = tuple(sorted((a for a in args if not isinstance(a, PSeg)), key=_specificity))
    return PCall(op, args, type(p), metadata(p), comm, comm and is_associative(op), rest,
                 segs[0] if comm and segs else None)


def _specificity(a: PNode) -> int:
    # literals and calls prune the search; bare slots match anything, so they go last
    if isinstance(a, (PLit, PLeaf)):
        return 0
    if isinstance(a, PCall):
        return 1
    return 2 if getattr(a.leaf, "predicate", None) is not None else 3


def pattern_names(p: PNode, out: set | None = None) -> set:
    """Names of every slot and segment in a compiled pattern."""
    out = set() if out is None else out
    if isinstance(p, (PSlot, PSeg)):
        out.add(p.name)
    elif isinstance(p, PCall):
        for a in p.args:
            pattern_names(a, out)
    return out


# ---------------------------------------------------------------------------------------------
# matching: generators of bindings, first match wins, the search bounded by a step budget


class BudgetExceeded(Exception):
    """The matcher tried more candidate pairs than its budget allows (the rule does not fire)."""


class Matcher:
    """One bounded matching run; `budget` caps candidate (pattern, term) pairs examined."""

    __slots__ = ("steps", "budget")

    def __init__(self, budget: int = 20_000):
        self.steps = 0
        self.budget = budget

    def top(self, p: PNode, t: Any) -> Iterator[tuple[dict, list]]:
        """(bindings, leftover arguments) pairs: an associative-commutative call at the top may
        match a subset of the target's arguments; the leftovers are re-attached by the caller."""
        if isinstance(p, PCall) and p.ac and p.seg is None:
            if not iscall(t) or operation(t) != p.op:
                return
            args = arguments(t)
            if len(args) < len(p.ordered):
                return
            for b, rest in self._perm(p.ordered, 0, args, [False] * len(args), {}):
                yield b, rest
            return
        for b in self.match(p, t, {}):
            yield b, []

    def match(self, p: PNode, t: Any, b: dict) -> Iterator[dict]:
        self.steps += 1
        if self.steps > self.budget:
            raise BudgetExceeded
        if isinstance(p, PCall):
            if iscall(t) and operation(t) == p.op:
                yield from self._args(p, arguments(t), b)
        elif isinstance(p, PSlot):
            bound = b.get(p.name, _UNBOUND)
            if bound is _UNBOUND:
                if slot_accepts(p.leaf, t):
                    yield {**b, p.name: t}
            elif same(bound, t):
                yield b
        elif isinstance(p, PLit):
            if not iscall(t):
                v = literal_value(t)
                if v is not None and v == p.value:
                    yield b
        elif isinstance(p, PLeaf):
            if same(p.leaf, t):
                yield b
        else:
            raise SimplifyError(f"a segment ({p.name}) may only appear as a call's argument")

    def _args(self, p: PCall, args: list, b: dict) -> Iterator[dict]:
        if not p.commutative:
            yield from self._seq(p.args, 0, args, 0, b)
            return
        if p.seg is None and len(args) != len(p.ordered):
            return
        if len(args) < len(p.ordered):
            return
        for b2, rest in self._perm(p.ordered, 0, args, [False] * len(args), b):
            if p.seg is None:
                yield b2
                continue
            bound = b2.get(p.seg.name, _UNBOUND)
            if bound is _UNBOUND:
                yield {**b2, p.seg.name: tuple(rest)}
            elif _same_multiset(bound, rest):
                yield b2

    def _perm(self, ps: tuple, k: int, args: list, used: list, b: dict):
        """Assign pattern args ps[k:] to distinct unused target args, in any order."""
        if k == len(ps):
            yield b, [a for a, u in zip(args, used) if not u]
            return
        p = ps[k]
        for i, a in enumerate(args):
            if used[i]:
                continue
            for b2 in self.match(p, a, b):
                used[i] = True
                try:
                    yield from self._perm(ps, k + 1, args, used, b2)
                finally:
                    used[i] = False

    def _seq(self, ps: tuple, i: int, args: list, j: int, b: dict) -> Iterator[dict]:
        """Ordered arguments, segments taking every possible run length."""
        if i == len(ps):
            if j == len(args):
                yield b
            return
        p = ps[i]
        if isinstance(p, PSeg):
            need = sum(1 for q in ps[i + 1:] if not isinstance(q, PSeg))
            bound = b.get(p.name, _UNBOUND)
            if bound is not _UNBOUND:
                n = len(bound)
                if j + n <= len(args) and all(same(x, y) for x, y in zip(bound, args[j:j + n])):
                    yield from self._seq(ps, i + 1, args, j + n, b)
                return
            for n in range(len(args) - j - need + 1):
                self.steps += 1
                yield from self._seq(ps, i + 1, args, j + n, {**b, p.name: tuple(args[j:j + n])})
            return
        if j >= len(args):
            return
        for b2 in self.match(p, args[j], b):
            yield from self._seq(ps, i + 1, args, j + 1, b2)


_UNBOUND = object()


def _same_multiset(a: tuple, b: list) -> bool:
    # a repeated segment of a commutative call binds the same arguments in any order
    if len(a) != len(b):
        return False
    try:
        return Counter(a) == Counter(b)
    except TypeError:  # unhashable foreign terms: quadratic, but segments are short
        rest = list(b)
        for x in a:
            k = next((i for i, y in enumerate(rest) if same(x, y)), None)
            if k is None:
                return False
            rest.pop(k)
        return True


def match(pattern: Any, term: Any, budget: int = 20_000) -> dict | None:
    """The first bindings under which `pattern` matches all of `term`, or None.

    >>> import symnum as sn
    >>> x, y = slot("x"), slot("y")
    >>> a, b = sn.symbols("a b")
    >>> match(sn.sin(x) * y, sn.sin(a) * b) == {"x": a, "y": b}
    True
    """
    m = Matcher(budget)
    try:
        for b in m.match(compile_pattern(pattern), term, {}):
            return b
    except BudgetExceeded:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# instantiation of a right-hand side


def instantiate(p: PNode, b: dict) -> Any:
    """Build the term a compiled pattern stands for under bindings `b` (via maketerm)."""
    if isinstance(p, PSlot):
        return b[p.name]
    if isinstance(p, PLit):
        return p.leaf
    if isinstance(p, PLeaf):
        return p.leaf
    if isinstance(p, PSeg):
        raise SimplifyError(f"a segment ({p.name}) may only appear as a call's argument")
    args: list = []
    for a in p.args:
        if isinstance(a, PSeg):
            args.extend(b[a.name])
        else:
            args.append(instantiate(a, b))
    return maketerm(p.T, p.op, args, p.meta)
