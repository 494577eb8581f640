"""Rewriter combinators: Chain, PassThrough, Postwalk, Prewalk, Fixpoint (tables + DAG facts)."""

from __future__ import annotations

import sys

import pytest

import symnum as sn
from symnum.errors import SimplifyError
from symnum.rules import Chain, Fixpoint, PassThrough, Postwalk, Prewalk, Rule, record, slot

a, b = sn.Sym("a"), sn.Sym("b")
x = slot("x")
log_exp = Rule("log-exp", sn.log(sn.exp(x)), x)
abs_abs = Rule("abs-abs", abs(abs(x)), abs(x))
sin_to_cos = Rule("sin-to-cos", sn.sin(x), sn.cos(x))
cos_to_tan = Rule("cos-to-tan", sn.cos(x), sn.tan(x))


def nest(f, t, n):
    for _ in range(n):
        t = f(t)
    return t


TABLE = [
    # Chain: each rewriter in turn on the running result
    ("chain both", Chain([sin_to_cos, cos_to_tan]), lambda: sn.sin(a), lambda: sn.tan(a)),
    ("chain order matters", Chain([cos_to_tan, sin_to_cos]), lambda: sn.sin(a),
     lambda: sn.cos(a)),
    ("chain stop on match", Chain([sin_to_cos, cos_to_tan], stop_on_match=True),
     lambda: sn.sin(a), lambda: sn.cos(a)),
    ("chain nothing", Chain([log_exp, abs_abs]), lambda: sn.sin(a), lambda: None),
    ("chain plain functions", Chain([lambda t: None, lambda t: b]), lambda: a, lambda: b),
    # PassThrough never answers None
    ("passthrough keeps", PassThrough(log_exp), lambda: sn.sin(a), lambda: sn.sin(a)),
    ("passthrough rewrites", PassThrough(log_exp), lambda: sn.log(sn.exp(a)), lambda: a),
    # Postwalk: children first, once per node
    ("postwalk inner", Postwalk(log_exp), lambda: sn.sin(sn.log(sn.exp(a))),
     lambda: sn.sin(a)),
    ("postwalk nested collapses bottom-up", Postwalk(log_exp),
     lambda: nest(lambda t: sn.log(sn.exp(t)), a, 3), lambda: a),
    ("postwalk once per node", Postwalk(sin_to_cos), lambda: sn.sin(sn.sin(a)),
     lambda: sn.cos(sn.cos(a))),
    ("postwalk nothing", Postwalk(log_exp), lambda: sn.sin(a) + b, lambda: None),
    # Prewalk: node first, then the children of the result
    ("prewalk", Prewalk(log_exp), lambda: sn.sin(sn.log(sn.exp(a))), lambda: sn.sin(a)),
    ("prewalk does not revisit the result", Prewalk(sin_to_cos),
     lambda: sn.sin(sn.sin(a)), lambda: sn.cos(sn.cos(a))),
    ("prewalk result children", Prewalk(log_exp),
     lambda: sn.log(sn.exp(sn.sin(sn.log(sn.exp(a))))), lambda: sn.sin(a)),
    # Fixpoint: until nothing changes
    ("fixpoint chain", Fixpoint(Chain([sin_to_cos, cos_to_tan])), lambda: sn.sin(a),
     lambda: sn.tan(a)),
    ("fixpoint of postwalk", Fixpoint(Postwalk(Chain([log_exp, abs_abs]))),
     lambda: sn.log(sn.exp(abs(abs(sn.log(sn.exp(a)))))), lambda: abs(a)),
    ("fixpoint nothing", Fixpoint(Postwalk(log_exp)), lambda: a + b, lambda: None),
]


@pytest.mark.parametrize("name,rw,term,expected", TABLE, ids=[r[0] for r in TABLE])
def test_rewriter_table(name, rw, term, expected):
    assert rw(term()) is expected()


def test_many_equals_map_and_keeps_unchanged_roots():
    roots = [sn.sin(sn.log(sn.exp(a))), b, sn.log(sn.exp(b))]
    for rw in (Postwalk(log_exp), Prewalk(log_exp), Fixpoint(Postwalk(log_exp)),
               Chain([Postwalk(log_exp)]), PassThrough(log_exp)):
        out = rw.many(roots)
        singles = [rw(r) for r in roots]
        assert out == [r if s is None else s for r, s in zip(roots, singles)]
    assert Postwalk(log_exp).many(roots)[1] is b


class Counting:
    """A rewriter that counts its calls per node (to check DAG memoisation)."""

    def __init__(self, rw):
        self.rw, self.calls = rw, {}

    def __call__(self, t):
        self.calls[t] = self.calls.get(t, 0) + 1
        return self.rw(t)


@pytest.mark.parametrize("walk", [Postwalk, Prewalk])
def test_a_shared_subterm_is_rewritten_once(walk):
    shared = sn.log(sn.exp(a))
    e = sn.sin(shared) * sn.cos(shared) + sn.tan(shared)
    rw = Counting(log_exp)
    out = walk(rw).many([e, shared])
    assert out[0] is sn.sin(a) * sn.cos(a) + sn.tan(a) and out[1] is a
    assert rw.calls[shared] == 1
    assert all(v == 1 for v in rw.calls.values())


@pytest.mark.parametrize("walk", [Postwalk, Prewalk])
def test_walks_are_iterative_on_deep_graphs(walk):
    depth = 3 * sys.getrecursionlimit()
    with sn.tree_mode():
        deep = nest(sn.sin, a, depth)
    out = walk(sin_to_cos)(deep)
    with sn.tree_mode():
        assert out is nest(sn.cos, a, depth)


def test_prewalk_stops_on_a_rewrite_that_nests_its_input():
    # x → sin(x) at the top would grow forever if the walk re-entered its own output
    grow = Rule("grow", sn.cos(x), lambda bb: sn.sin(sn.cos(bb.x)))
    assert Prewalk(grow)(sn.cos(a)) is sn.sin(sn.cos(a))


def test_fixpoint_stops_at_max_iter_and_records_it():
    flip = Chain([Rule("s2c", sn.sin(x), sn.cos(x)), Rule("c2s", sn.cos(x), sn.sin(x))],
                 stop_on_match=True)
    with record() as st:
        out = Fixpoint(flip, max_iter=5)(sn.sin(a))
    assert out is sn.cos(a)  # five flips
    assert st.fixpoint_limits == 1 and st.iterations == 5


def test_combinator_errors():
    with pytest.raises(SimplifyError, match="rewriters"):
        Chain([log_exp, 3])
    with pytest.raises(SimplifyError, match="rewriters"):
        Postwalk("nope")
    with pytest.raises(SimplifyError, match="max_iter >= 1"):
        Fixpoint(log_exp, max_iter=0)


def test_reprs_show_the_composition():
    r = repr(Fixpoint(Postwalk(Chain([log_exp])), max_iter=7))
    assert r.startswith("Fixpoint(Postwalk(Chain([") and "log-exp" in r and "max_iter=7" in r
    assert repr(Prewalk(log_exp)).startswith("Prewalk(") and "PassThrough" in repr(
        PassThrough(log_exp))
