"""Patterns, matching, Rule and RuleSet: tables of pattern ⇒ bindings and rule ⇒ result."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import symnum as sn
from symnum.errors import SimplifyError
from symnum.rules import (
    Bindings,
    Rule,
    RuleSet,
    Segment,
    Slot,
    Stats,
    is_associative,
    is_commutative,
    match,
    record,
    segment,
    slot,
)
from symnum.rules.predicates import (
    is_even,
    is_literal,
    is_negative_form,
    is_nonnegative,
    negate,
)

a, b, c, d = (sn.Sym(n) for n in "abcd")
x, y, z = slot("x"), slot("y"), slot("z")
xs, ys = segment("xs"), segment("ys")
n_even = slot("n", is_even)

# a variadic, non-commutative user primitive: ordered matching with segments
cat = sn.register("test_rules_cat", lambda *v: np.sum(v, axis=0), nargs=None, replace=True)


def tree(f):
    with sn.tree_mode():
        return f()


# ---------------------------------------------------------------------------------------------
# slots and segments are interned leaves that print readably


def test_slots_are_interned_leaves():
    assert slot("x") is x and segment("xs") is xs
    assert isinstance(x, Slot) and isinstance(xs, Segment) and isinstance(x, sn.Expr)
    assert not sn.iscall(x) and str(x) == "~x" and str(xs) == "~~xs"
    assert str(n_even) == "~n::is_even"
    assert slot("x", is_even) is not x


@pytest.mark.parametrize("bad", ["", 3, None])
def test_slot_names_must_be_strings(bad):
    with pytest.raises(SimplifyError, match="non-empty string"):
        slot(bad)
    with pytest.raises(SimplifyError, match="non-empty string"):
        segment(bad)


# ---------------------------------------------------------------------------------------------
# matching: pattern ⇒ bindings (None: no match)

MATCH_TABLE = [
    # plain slots and calls
    ("slot binds anything", lambda: x, lambda: sn.sin(a), {"x": sn.sin(a)}),
    ("call head", lambda: sn.sin(x), lambda: sn.sin(a + b), {"x": a + b}),
    ("call head differs", lambda: sn.sin(x), lambda: sn.cos(a), None),
    ("leaf vs call", lambda: sn.sin(x), lambda: a, None),
    ("nested", lambda: sn.log(sn.exp(x)), lambda: sn.log(sn.exp(2 * a)), {"x": 2 * a}),
    ("symbol literal", lambda: sn.sin(a) * x, lambda: sn.sin(a) * b, {"x": b}),
    ("symbol literal differs", lambda: sn.sin(a) * x, lambda: sn.sin(b) * b, None),
    # repeated slots must bind identical terms
    ("repeated slot", lambda: sn.hypot(x, x), lambda: sn.hypot(a, a), {"x": a}),
    ("repeated slot differs", lambda: sn.hypot(x, x), lambda: sn.hypot(a, b), None),
    ("repeated across AC args", lambda: sn.sin(x) ** 2 + sn.cos(x) ** 2,
     lambda: sn.sin(a) ** 2 + sn.cos(a) ** 2, {"x": a}),
    ("repeated across AC args differs", lambda: sn.sin(x) ** 2 + sn.cos(x) ** 2,
     lambda: sn.sin(a) ** 2 + sn.cos(b) ** 2, None),
    # predicates
    ("predicate true", lambda: a ** n_even, lambda: a ** 4, {"n": sn.Const(4)}),
    ("predicate false", lambda: a ** n_even, lambda: a ** 3, None),
    ("predicate on literal slot", lambda: x * slot("k", is_literal), lambda: 3 * a,
     {"x": a, "k": sn.Const(3)}),
    # numeric literals match by value
    ("literal int vs float", lambda: x ** 2, lambda: tree(lambda: a ** 2.0), {"x": a}),
    ("literal half vs Fraction", lambda: x ** 0.5, lambda: a ** sn.Const(0.5), {"x": a}),
    ("literal value differs", lambda: x ** 2, lambda: a ** 3, None),
    ("nan never matches", lambda: tree(lambda: x + float("nan")),
     lambda: tree(lambda: a + float("nan")), None),
    # commutative calls: any order
    ("commutative order", lambda: tree(lambda: sn.hypot(sn.sin(x), y)),
     lambda: tree(lambda: sn.hypot(b, sn.sin(a))), {"x": a, "y": b}),
    ("AC call whole", lambda: sn.exp(x) * sn.sin(y), lambda: sn.sin(b) * sn.exp(a),
     {"x": a, "y": b}),
    # nested AC calls must match all arguments (no leftovers inside)
    ("nested AC needs all args", lambda: sn.log(x + 1), lambda: sn.log(a + b + 1), None),
    ("nested AC exact", lambda: sn.log(x + 1), lambda: sn.log(a + 1), {"x": a}),
    # segments
    ("segment in nested AC", lambda: sn.log(1 + xs), lambda: sn.log(a + b + 1),
     {"xs": frozenset({a, b})}),  # a commutative call's segment: order is not meaningful
    ("segment may be empty", lambda: tree(lambda: sn.add(xs, 0)), lambda: tree(lambda: sn.add(0)),
     {"xs": ()}),
    ("ordered segments", lambda: cat(xs, sn.sin(x), ys), lambda: cat(a, b, sn.sin(c), d),
     {"xs": (a, b), "x": c, "ys": (d,)}),
    ("ordered segment first fit", lambda: cat(xs, ys), lambda: cat(a, b), {"xs": (), "ys": (a, b)}),
    ("ordered call mismatch", lambda: cat(xs, sn.sin(x)), lambda: cat(a, b), None),
    ("repeated segment", lambda: cat(xs, xs), lambda: cat(a, b, a, b), {"xs": (a, b)}),
    ("repeated segment differs", lambda: cat(xs, xs), lambda: cat(a, b, b, a), None),
]


@pytest.mark.parametrize("name,pat,target,expected", MATCH_TABLE, ids=[r[0] for r in MATCH_TABLE])
def test_match_table(name, pat, target, expected):
    got = match(pat(), target())
    if expected is not None and got is not None:
        got = {k: frozenset(v) if isinstance(expected[k], frozenset) else v
               for k, v in got.items()}
    assert got == expected


def test_segment_outside_a_call_is_an_error():
    with pytest.raises(SimplifyError, match="segment"):
        match(xs, a)


def test_two_segments_in_a_commutative_call_are_rejected():
    with pytest.raises(SimplifyError, match="at most one segment"):
        Rule("bad", tree(lambda: sn.add(xs, ys)), 0)


def test_ac_flags():
    assert is_commutative(sn.operation(a + b)) and is_associative(sn.operation(a * b))
    assert is_commutative(sn.operation(sn.hypot(a, b)))
    assert not is_associative(sn.operation(sn.hypot(a, b)))
    assert not is_commutative(sn.operation(sn.sin(a))) and not is_commutative(object())


# ---------------------------------------------------------------------------------------------
# Rule: subsets and leftovers, guards, callables, errors

pyth = Rule("pythagoras", sn.sin(x) ** 2 + sn.cos(x) ** 2, 1)

RULE_TABLE = [
    ("whole sum", pyth, lambda: sn.sin(a) ** 2 + sn.cos(a) ** 2, lambda: sn.Const(1)),
    ("leftover re-attached", pyth, lambda: c + sn.sin(a) ** 2 + sn.cos(a) ** 2, lambda: c + 1),
    ("leftovers several", pyth, lambda: c + 2 * d + sn.sin(a) ** 2 + sn.cos(a) ** 2,
     lambda: c + 2 * d + 1),
    ("no match", pyth, lambda: sn.sin(a) ** 2 + sn.cos(b) ** 2, lambda: None),
    ("product subset", Rule("exp-mul", sn.exp(x) * sn.exp(y), sn.exp(x + y)),
     lambda: c * sn.exp(a) * sn.exp(b), lambda: c * sn.exp(a + b)),
    ("segment absorbs leftovers", Rule("seg", sn.sin(x) * xs, lambda bb: sn.mul(*bb.xs)),
     lambda: 3 * c * sn.sin(a), lambda: 3 * c),
    ("guard true", Rule("even", x ** y, x ** 2, when=lambda bb: is_even(bb.y)),
     lambda: a ** 4, lambda: a ** 2),
    ("guard false", Rule("even", x ** y, x ** 2, when=lambda bb: is_even(bb.y)),
     lambda: a ** 3, lambda: None),
    ("callable declines", Rule("never", sn.sin(x), lambda bb: None), lambda: sn.sin(a),
     lambda: None),
    ("callable number → Const", Rule("num", sn.sin(x) * 0 + sn.cos(x), lambda bb: 2),
     lambda: sn.cos(a), lambda: sn.Const(2)),
    ("identical result is no change", Rule("id", sn.sin(x), sn.sin(x)), lambda: sn.sin(a),
     lambda: None),
    ("leaf lhs", Rule("leaf", a, b), lambda: a, lambda: b),
    ("rhs rebuilt in tree mode", Rule("tree", sn.sin(x), x + x), lambda: sn.sin(a),
     lambda: 2 * a),
]


@pytest.mark.parametrize("name,rule,target,expected", RULE_TABLE,
                         ids=[r[0] for r in RULE_TABLE])
def test_rule_table(name, rule, target, expected):
    assert rule(target()) is expected()


def test_rhs_is_rebuilt_in_the_current_mode():
    r = Rule("double", sn.sin(x), tree(lambda: x + x))
    with sn.tree_mode():
        t = sn.sin(a)
        out = r(t)
    assert str(out) == "a + a" and sn.operation(out) is sn.operation(tree(lambda: a + b))
    assert r(sn.sin(a)) is 2 * a


def test_first_match_takes_the_first_binding_that_passes_the_guard():
    r = Rule("pick", sn.sin(x) * sn.sin(y), lambda bb: bb.x, when=lambda bb: bb.x is b)
    assert r(sn.sin(a) * sn.sin(b)) is b


def test_bindings_read_as_attributes_and_name_missing_slots():
    bb = Bindings(x=a)
    assert bb.x is a
    with pytest.raises(AttributeError, match="no slot named 'q'"):
        _ = bb.q


def test_rule_errors_say_what_to_do():
    with pytest.raises(SimplifyError, match="non-empty string name"):
        Rule("", x, x)
    with pytest.raises(SimplifyError, match=r"slot\(s\) \['y'\].*callable"):
        Rule("unbound", sn.sin(x), y)


def test_budget_bounds_the_search():
    # 12 sin() factors: the second call slot forces a search over pairs that the tiny budget cuts
    e = sn.mul(*[sn.sin(sn.Sym(f"s{i}")) for i in range(12)])
    r = Rule("tight", sn.sin(x) * sn.sin(y), 0, when=lambda bb: False, budget=30)
    with record() as st_:
        assert r(e) is None
    assert st_.budget_exhausted["tight"] == 1


def test_repr_and_rhs_text():
    assert "pythagoras" in repr(pyth) and "=>" in repr(pyth)

    def rhs(bb):
        """the doubled argument"""
        return 2 * bb.x

    assert Rule("dbl", sn.sin(x), rhs).rhs_text() == "the doubled argument"
    assert "guarded" in repr(Rule("g", x, x, when=lambda bb: True))


# ---------------------------------------------------------------------------------------------
# RuleSet

r1 = Rule("log-exp", sn.log(sn.exp(x)), x)
r2 = Rule("abs-abs", abs(abs(x)), abs(x))
r3 = Rule("sin-zero", sn.sin(x * 0 + a), sn.sin(a))


def test_ruleset_names_table_without_and_compose():
    rs = RuleSet("demo", [r1, r2])
    assert rs.names() == ["log-exp", "abs-abs"] and len(rs) == 2 and list(rs) == [r1, r2]
    assert rs.table()[0] == ("log-exp", "log(exp(~x))", "~x")
    assert rs["abs-abs"] is r2
    assert rs.without("log-exp").names() == ["abs-abs"]
    both = rs + RuleSet("more", [r3])
    assert both.names() == ["log-exp", "abs-abs", "sin-zero"] and both.name == "demo+more"
    assert "demo" in repr(rs)


def test_ruleset_errors_name_the_rules():
    rs = RuleSet("demo", [r1, r2])
    with pytest.raises(SimplifyError, match="no rule named 'nope'.*log-exp, abs-abs"):
        rs.without("nope")
    with pytest.raises(SimplifyError, match="no rule named"):
        rs["nope"]
    with pytest.raises(SimplifyError, match="two rules named 'log-exp'"):
        RuleSet("dup", [r1, r1])
    with pytest.raises(SimplifyError, match="not a Rule"):
        RuleSet("bad", [r1, lambda t: None])


def test_ruleset_first_match_and_head_index():
    rs = RuleSet("demo", [r1, r2, Rule("any-leaf", x, lambda bb: None)])
    assert rs(sn.log(sn.exp(a))) is a
    assert rs(abs(abs(a))) is abs(a)
    assert rs(sn.sin(a)) is None and rs(a) is None


def test_stats_record_fired_rules():
    rs = RuleSet("demo", [r1, r2])
    with record() as s:
        rs(sn.log(sn.exp(a)))
        rs(abs(abs(a)))
        rs(abs(abs(b)))
    assert s.fired == {"log-exp": 1, "abs-abs": 2} and s.total() == 3
    mine = Stats()
    with record(mine):
        rs(sn.log(sn.exp(a)))
    assert mine.fired["log-exp"] == 1
    rs(sn.log(sn.exp(a)))  # outside record(): nothing recorded, no error
    assert mine.fired["log-exp"] == 1


# ---------------------------------------------------------------------------------------------
# predicates


@pytest.mark.parametrize("t,neg", [
    (lambda: -a, True), (lambda: -3 * a * b, True), (lambda: 3 * a, False),
    (lambda: -a - 2 * b - 1, True), (lambda: -a + b, False), (lambda: sn.Const(-2), True),
    (lambda: tree(lambda: -a), True), (lambda: sn.sin(-a), False), (lambda: a, False),
])
def test_is_negative_form(t, neg):
    assert is_negative_form(t()) is neg


@given(st.lists(st.sampled_from([a, b, -a, -b, 2 * a, -3 * b, sn.sin(a), -sn.sin(b)]),
                min_size=1, max_size=4), st.integers(-3, 3))
def test_negative_form_never_holds_for_both_signs(terms, k):
    for e in (sn.add(*terms) + k, -(sn.add(*terms) + k), sn.mul(*terms) * k):
        assert not (is_negative_form(e) and is_negative_form(negate(e))), e


@pytest.mark.parametrize("t,nonneg", [
    (lambda: abs(a), True), (lambda: a ** 2, True), (lambda: a ** -2, True),
    (lambda: sn.exp(a) * abs(b), True), (lambda: a ** 2 + sn.cosh(b), True),
    (lambda: a * b, False), (lambda: a ** 3, False), (lambda: sn.sqrt(a), True),
    (lambda: abs(a) ** 0.5, True), (lambda: sn.Const(-1), False),
])
def test_is_nonnegative(t, nonneg):
    assert is_nonnegative(t()) is nonneg
