"""Rewriter combinators: a rewriter is any function term → term or None (None: no change).

`Chain`, `Prewalk`, `Postwalk`, `Fixpoint` and `PassThrough` compose rewriters without ceremony,
as in SymbolicUtils.jl. Walks are iterative and memoised by node identity over the DAG, so a
shared subterm is rewritten once and deep graphs never hit the recursion limit. Every combinator
also has `many(roots)`, which shares that memo across several roots (an Fn's outputs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.core.traversal import postwalk_many
from symnum.errors import SimplifyError
from symnum.rules.pattern import same
from symnum.rules.rule import _STATS

RewriteFn = Callable[[Any], Any]


class Rewriter:
    """Base of the combinators: callable on one term; `many` maps over roots sharing work."""

    def __call__(self, term: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def many(self, roots: Sequence[Any]) -> list:
        """The rewritten roots (each root itself where nothing changed)."""
        out = []
        for r in roots:
            new = self(r)
            out.append(r if new is None else new)
        return out


def _many(rw: RewriteFn, roots: Sequence[Any]) -> list:
    if isinstance(rw, Rewriter):
        return rw.many(roots)
    return [r if (n := rw(r)) is None else n for r in roots]


def _changed(old: Sequence[Any], new: Sequence[Any]) -> bool:
    return any(not same(a, b) for a, b in zip(old, new))


def _check(rw: Any, who: str) -> RewriteFn:
    if not callable(rw):
        raise SimplifyError(f"{who} needs rewriters (functions term → term or None), got {rw!r}")
    return rw


class Chain(Rewriter):
    """Apply each rewriter in turn to the running result; None when none of them fired.

    >>> import symnum as sn
    >>> x = sn.slot("x")
    >>> rw = Chain([sn.Rule("log-exp", sn.log(sn.exp(x)), x),
    ...             sn.Rule("abs-abs", abs(abs(x)), abs(x))])
    >>> print(rw(sn.log(sn.exp(abs(abs(sn.Sym("y")))))))
    abs(y)
    """

    def __init__(self, rws: Iterable[RewriteFn], stop_on_match: bool = False):
        self.rws = tuple(_check(r, "Chain") for r in rws)
        self.stop_on_match = stop_on_match

    def __call__(self, term: Any) -> Any:
        cur, fired = term, False
        for rw in self.rws:
            new = rw(cur)
            if new is not None and not same(new, cur):
                cur, fired = new, True
                if self.stop_on_match:
                    break
        return cur if fired else None

    def many(self, roots: Sequence[Any]) -> list:
        if self.stop_on_match:  # which rewriter fired differs per root
            return super().many(roots)
        cur = list(roots)
        for rw in self.rws:
            cur = _many(rw, cur)
        return cur

    def __repr__(self) -> str:
        return f"Chain({list(self.rws)!r})"


class PassThrough(Rewriter):
    """`rw`, answering the term itself instead of None (never None).

    >>> import symnum as sn
    >>> y = sn.Sym("y")
    >>> PassThrough(lambda t: None)(y) is y
    True
    """

    def __init__(self, rw: RewriteFn):
        self.rw = _check(rw, "PassThrough")

    def __call__(self, term: Any) -> Any:
        new = self.rw(term)
        return term if new is None else new

    def __repr__(self) -> str:
        return f"PassThrough({self.rw!r})"


class Postwalk(Rewriter):
    """Bottom-up: rebuild each node from its rewritten children, then apply `rw` to it once.

    >>> import symnum as sn
    >>> x, y = sn.slot("x"), sn.Sym("y")
    >>> rw = Postwalk(sn.Rule("log-exp", sn.log(sn.exp(x)), x))
    >>> print(rw(sn.sin(sn.log(sn.exp(y))) + sn.log(sn.exp(2 * y))))
    sin(y) + 2*y
    """

    def __init__(self, rw: RewriteFn):
        self.rw = _check(rw, "Postwalk")

    def __call__(self, term: Any) -> Any:
        (new,) = self.many([term])
        return None if same(new, term) else new

    def many(self, roots: Sequence[Any]) -> list:
        return postwalk_many(list(roots), self.rw)

    def __repr__(self) -> str:
        return f"Postwalk({self.rw!r})"


class Prewalk(Rewriter):
    """Top-down: apply `rw` to a node once, then walk into the children of the result.

    >>> import symnum as sn
    >>> x, y = sn.slot("x"), sn.Sym("y")
    >>> rw = Prewalk(sn.Rule("log-exp", sn.log(sn.exp(x)), x))
    >>> print(rw(sn.sin(sn.log(sn.exp(y)))))
    sin(y)
    """

    def __init__(self, rw: RewriteFn):
        self.rw = _check(rw, "Prewalk")

    def __call__(self, term: Any) -> Any:
        (new,) = self.many([term])
        return None if same(new, term) else new

    def many(self, roots: Sequence[Any]) -> list:
        rw = self.rw
        top: dict[int, Any] = {}  # id(node) → node after rw at its own level
        done: dict[int, Any] = {}  # id(node) → fully rewritten node
        keep: list = []  # keeps every visited node alive, so ids stay unique
        for root in roots:
            stack: list[tuple[Any, bool]] = [(root, False)]
            while stack:
                node, expanded = stack.pop()
                k = id(node)
                if expanded:
                    t = top[k]
                    if iscall(t):
                        args = arguments(t)
                        new_args = [done.get(id(a), a) for a in args]
                        if _changed(args, new_args):
                            t = maketerm(type(t), operation(t), new_args, metadata(t))
                    done[k] = t
                    continue
                if k in done or k in top:  # done, or in progress (a rewrite that nests itself)
                    continue
                new = rw(node)
                t = node if new is None else new
                keep.append(node)
                keep.append(t)
                top[k] = t
                stack.append((node, True))
                if iscall(t):
                    for a in reversed(arguments(t)):
                        if id(a) not in done and id(a) not in top:
                            stack.append((a, False))
        return [done[id(r)] for r in roots]

    def __repr__(self) -> str:
        return f"Prewalk({self.rw!r})"


class Fixpoint(Rewriter):
    """Apply `rw` until nothing changes, at most `max_iter` times (then stop and record it).

    >>> import symnum as sn
    >>> x, y = sn.slot("x"), sn.Sym("y")
    >>> rw = Fixpoint(Postwalk(sn.Rule("log-exp", sn.log(sn.exp(x)), x)))
    >>> print(rw(sn.log(sn.exp(sn.log(sn.exp(y) + 1)))))
    log(exp(y) + 1)
    """

    def __init__(self, rw: RewriteFn, max_iter: int = 100):
        self.rw = _check(rw, "Fixpoint")
        if not isinstance(max_iter, int) or max_iter < 1:
            raise SimplifyError(f"Fixpoint needs max_iter >= 1, got {max_iter!r}")
        self.max_iter = max_iter

    def __call__(self, term: Any) -> Any:
        (new,) = self.many([term])
        return None if same(new, term) else new

    def many(self, roots: Sequence[Any]) -> list:
        cur = list(roots)
        st = _STATS.get()
        for _ in range(self.max_iter):
            new = _many(self.rw, cur)
            if st is not None:
                st.iterations += 1
            if not _changed(cur, new):
                return new
            cur = new
        if st is not None:
            st.fixpoint_limits += 1
        return cur

    def __repr__(self) -> str:
        return f"Fixpoint({self.rw!r}, max_iter={self.max_iter})"
