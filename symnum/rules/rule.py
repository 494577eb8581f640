"""Rules and rulesets: named, guarded rewrites `lhs => rhs`, and ordered named collections.

A Rule is itself a rewriter (term → term or None). Rules read terms only through the term
interface and build them only through `maketerm`, so they run unchanged on SymPy expressions.
Which rules fired can be recorded (`record()`); nothing here keeps global mutable state.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.core.terms import Const, Expr, is_number
from symnum.errors import SimplifyError
from symnum.rules.pattern import (
    BudgetExceeded,
    Matcher,
    PCall,
    compile_pattern,
    instantiate,
    pattern_names,
    same,
)

# ---------------------------------------------------------------------------------------------
# recording which rules fired (opt-in, scoped by a context variable like tree_mode)


@dataclass
class Stats:
    """What a rewriting run did: rules fired (by name), searches cut off, walk limits hit."""

    fired: Counter = field(default_factory=Counter)
    budget_exhausted: Counter = field(default_factory=Counter)
    fixpoint_limits: int = 0
    iterations: int = 0

    def total(self) -> int:
        return sum(self.fired.values())


_STATS: contextvars.ContextVar[Stats | None] = contextvars.ContextVar("symnum_rule_stats",
                                                                       default=None)


@contextmanager
def record(stats: Stats | None = None) -> Iterator[Stats]:
    """Record the rules that fire inside this block.

    >>> import symnum as sn
    >>> x = sn.Sym("x")
    >>> with record() as st:
    ...     _ = sn.simplify(sn.sin(x)**2 + sn.cos(x)**2)
    >>> st.fired["pythagoras"]
    1
    """
    stats = Stats() if stats is None else stats
    token = _STATS.set(stats)
    try:
        yield stats
    finally:
        _STATS.reset(token)


def current_stats() -> Stats | None:
    return _STATS.get()


# ---------------------------------------------------------------------------------------------
# Rule


class Bindings(dict):
    """Slot name → bound term (a tuple of terms for a segment); also readable as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"no slot named '{name}' is bound (bound: {sorted(self)})") from None


def _is_callable_rhs(rhs: Any) -> bool:
    # sympy symbols are callable (they make functions), so only real Python callables count
    return inspect.isfunction(rhs) or inspect.ismethod(rhs) or isinstance(
        rhs, functools.partial) or inspect.isbuiltin(rhs)


class Rule:
    """A named rewrite `lhs => rhs`, optionally guarded by `when(bindings)`.

    `rhs` is a pattern (instantiated from the bindings with maketerm, so the current mode
    applies) or a callable `bindings -> term | None` (None: the rule declines). When the lhs is a
    call of an associative-commutative op it may match a subset of the target's arguments; the
    rest are re-attached around the result (`a + sin²x + cos²x → a + 1`).

    Patterns are built in the current mode, like any term: build them in canonical mode to
    match canonical terms (they then present alike: `sin(~x)^2` is pow(sin(~x), 2) on both
    sides) and in tree mode to match tree-mode terms. Canonical mode folds as it builds, so
    `~x - ~x` is the pattern 0.

    >>> import symnum as sn
    >>> x = sn.slot("x")
    >>> r = Rule("pythagoras", sn.sin(x)**2 + sn.cos(x)**2, 1)
    >>> a, b = sn.Sym("a"), sn.Sym("b")
    >>> print(r(b + sn.sin(a)**2 + sn.cos(a)**2))
    b + 1
    """

    __slots__ = ("name", "lhs", "rhs", "when", "doc", "budget", "head", "needs", "_pat", "_rhs")

    def __init__(self, name: str, lhs: Any, rhs: Any,
                 when: Callable[[Bindings], bool] | None = None, *, doc: str = "",
                 budget: int = 20_000):
        if not isinstance(name, str) or not name:
            raise SimplifyError(f"every rule needs a non-empty string name, got {name!r}")
        if is_number(lhs):
            lhs = Const(lhs)
        if is_number(rhs) and isinstance(lhs, Expr):
            rhs = Const(rhs)
        self.name, self.lhs, self.rhs, self.when, self.doc, self.budget = (
            name, lhs, rhs, when, doc, budget)
        self._pat = compile_pattern(lhs)
        self.head = self._pat.op if isinstance(self._pat, PCall) else None
        self.needs = _needs(self._pat)
        if _is_callable_rhs(rhs):
            self._rhs = None
        else:
            self._rhs = compile_pattern(rhs)
            missing = pattern_names(self._rhs) - pattern_names(self._pat)
            if missing:
                raise SimplifyError(
                    f"rule '{name}': its right-hand side uses slot(s) {sorted(missing)} that its "
                    "left-hand side does not bind; bind them on the left or compute the result "
                    "with a callable right-hand side"
                )

    def __call__(self, term: Any) -> Any:
        head = self.head
        if head is not None and (not iscall(term) or operation(term) != head):
            return None  # the quick reject that keeps a ruleset cheap on big graphs
        m = Matcher(self.budget)
        try:
            for b, rest in m.top(self._pat, term):
                new = self._fire(Bindings(b))
                if new is None:
                    continue
                if isinstance(term, Expr) and not isinstance(new, Expr):
                    new = Const(new)  # a callable rhs may answer with a plain number
                if rest:
                    new = maketerm(type(term), operation(term), [new, *rest], metadata(term))
                if same(new, term):
                    return None
                st = _STATS.get()
                if st is not None:
                    st.fired[self.name] += 1
                return new
        except BudgetExceeded:
            st = _STATS.get()
            if st is not None:
                st.budget_exhausted[self.name] += 1
        return None

    def _fire(self, b: Bindings) -> Any:
        if self.when is not None and not self.when(b):
            return None
        if self._rhs is None:
            return self.rhs(b)
        return instantiate(self._rhs, b)

    def rhs_text(self) -> str:
        if self._rhs is not None:
            return str(self.rhs)
        doc = (inspect.getdoc(self.rhs) or "").strip().splitlines()
        return doc[0] if doc else f"<{getattr(self.rhs, '__name__', 'function')}>"

    def __repr__(self) -> str:
        guard = " (guarded)" if self.when is not None else ""
        return f"Rule({self.name!r}: {self.lhs} => {self.rhs_text()}{guard})"


def _needs(p: Any) -> tuple[frozenset, frozenset] | None:
    """Ops the target's arguments (and their arguments) must include for the lhs to match:
    every call in the pattern at depth 1 (2) matches a call with its op at that depth."""
    if not isinstance(p, PCall):
        return None
    calls1 = [a for a in p.args if isinstance(a, PCall)]
    calls2 = [g for a in calls1 for g in a.args if isinstance(g, PCall)]
    if not calls1:
        return None
    try:
        return frozenset(a.op for a in calls1), frozenset(g.op for g in calls2)
    except TypeError:  # unhashable foreign ops: no filter
        return None


def _heads(term: Any) -> tuple[set, set]:
    """Ops of a call's arguments and of their arguments (the other side of `_needs`)."""
    ops1: set = set()
    ops2: set = set()
    for a in arguments(term):
        if iscall(a):
            ops1.add(operation(a))
            for g in arguments(a):
                if iscall(g):
                    ops2.add(operation(g))
    return ops1, ops2


# ---------------------------------------------------------------------------------------------
# RuleSet


class RuleSet:
    """A named, ordered collection of rules; as a rewriter, the first rule that fires wins.

    >>> import symnum as sn
    >>> x = sn.slot("x")
    >>> rs = RuleSet("demo", [Rule("log-exp", sn.log(sn.exp(x)), x),
    ...                       Rule("abs-abs", abs(abs(x)), abs(x))])
    >>> rs.names()
    ['log-exp', 'abs-abs']
    >>> rs.without("abs-abs").names()
    ['log-exp']
    """

    def __init__(self, name: str, rules: Iterable[Rule], doc: str = ""):
        self.name = name
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.doc = doc
        seen: set[str] = set()
        for r in self.rules:
            if not isinstance(r, Rule):
                raise SimplifyError(
                    f"ruleset '{name}' holds {r!r}, which is not a Rule; wrap plain rewriters "
                    "with Chain/Postwalk instead"
                )
            if r.name in seen:
                raise SimplifyError(f"ruleset '{name}' has two rules named '{r.name}'; "
                                    "rule names must be unique so they can be switched off")
            seen.add(r.name)
        self._index: dict = {}
        self._generic = tuple(r for r in self.rules if r.head is None)

    def names(self) -> list[str]:
        return [r.name for r in self.rules]

    def table(self) -> list[tuple[str, str, str]]:
        """(name, lhs, rhs) of every rule, as text."""
        return [(r.name, str(r.lhs), r.rhs_text()) for r in self.rules]

    def __getitem__(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise self._unknown([name])

    def without(self, *names: str) -> RuleSet:
        """The same ruleset with the named rules switched off (unknown names are an error)."""
        unknown = [n for n in names if n not in self.names()]
        if unknown:
            raise self._unknown(unknown)
        drop = set(names)
        return RuleSet(self.name, [r for r in self.rules if r.name not in drop], self.doc)

    def _unknown(self, names: list[str]) -> SimplifyError:
        return SimplifyError(
            f"ruleset '{self.name}' has no rule named {', '.join(repr(n) for n in names)}; "
            f"its rules are: {', '.join(self.names())}"
        )

    def __add__(self, other: RuleSet) -> RuleSet:
        if not isinstance(other, RuleSet):
            return NotImplemented
        return RuleSet(f"{self.name}+{other.name}", self.rules + other.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def _rules_for(self, head: Any) -> tuple[Rule, ...]:
        try:
            rs = self._index.get(head)
        except TypeError:  # an unhashable foreign head: no index
            return self.rules
        if rs is None:
            rs = self._index[head] = tuple(
                r for r in self.rules if r.head is None or r.head == head)
        return rs

    def __call__(self, term: Any) -> Any:
        if not iscall(term):
            rules, heads = self._generic, None
        else:
            rules, heads = self._rules_for(operation(term)), None
        for r in rules:
            if r.needs is not None:  # a cheap necessary condition before the matcher runs
                if heads is None:
                    heads = _heads(term)
                if not (r.needs[0] <= heads[0] and r.needs[1] <= heads[1]):
                    continue
            new = r(term)
            if new is not None:
                return new
        return None

    def __repr__(self) -> str:
        return f"RuleSet({self.name!r}, {len(self.rules)} rules)"
