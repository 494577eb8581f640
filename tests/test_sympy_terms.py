"""The term interface registered for SymPy: unmodified rules and rewriters run on SymPy terms."""

from __future__ import annotations

from fractions import Fraction

import pytest

sympy = pytest.importorskip("sympy")

import symnum as sn  # noqa: E402
from symnum.core.traversal import count_ops, postorder  # noqa: E402
from symnum.io import sympy_terms  # noqa: E402, F401  (registers the interface)
from symnum.rules import (  # noqa: E402
    Chain,
    Fixpoint,
    Postwalk,
    Prewalk,
    Rule,
    RuleSet,
    is_associative,
    is_commutative,
    isslot,
    literal_value,
    match,
    record,
)

a, b, c = sympy.symbols("a b c")
w, v = sympy.Wild("w"), sympy.Wild("v")
pos = sympy.Wild("p", properties=[lambda e: e.is_Number and e > 0])

PYTH = Rule("pythagoras", sympy.sin(w) ** 2 + sympy.cos(w) ** 2, sympy.Integer(1))
LOG_EXP = Rule("log-exp", sympy.log(sympy.exp(w)), w)
ABS_ABS = Rule("abs-abs", sympy.Abs(sympy.Abs(w)), sympy.Abs(w))
# SymPy keeps f(f(x)) for an undefined function: a rule on a head SymPy does not simplify itself
f = sympy.Function("f")
F_INVOLUTION = Rule("f-involution", f(f(w)), w)
TRIG = RuleSet("sympy-trig", [PYTH, LOG_EXP, F_INVOLUTION])


def test_the_interface_on_sympy_terms():
    e = sympy.sin(a) + b
    assert sn.iscall(e) and not sn.iscall(a) and not sn.iscall(sympy.Integer(3))
    assert sn.operation(e) is sympy.Add and set(sn.arguments(e)) == {sympy.sin(a), b}
    assert sn.maketerm(type(e), sympy.Mul, [a, b]) == a * b
    assert sn.metadata(e) is None
    assert [str(n) for n in postorder([sympy.sin(a + b)])][-1] == "sin(a + b)"
    assert count_ops([sympy.sin(a) * sympy.sin(a) + 1]) >= 2


def test_wild_is_a_slot_and_numbers_are_literals():
    assert isslot(w) and not isslot(a)
    assert literal_value(sympy.Integer(3)) == 3 and literal_value(sympy.Rational(1, 2)) == \
        Fraction(1, 2)
    assert literal_value(sympy.Float(0.25)) == 0.25 and literal_value(a) is None
    assert is_commutative(sympy.Add) and is_associative(sympy.Mul)
    assert not is_commutative(sympy.Pow)


MATCHES = [
    (lambda: sympy.sin(w), lambda: sympy.sin(a + b), {"w": a + b}),
    (lambda: sympy.sin(w) * v, lambda: b * sympy.sin(a), {"w": a, "v": b}),  # any order
    (lambda: sympy.sin(w) * sympy.cos(w), lambda: sympy.sin(a) * sympy.cos(b), None),
    (lambda: pos * w, lambda: 3 * a, {"p": sympy.Integer(3), "w": a}),  # Wild properties
    (lambda: pos * w, lambda: -3 * a, None),
    (lambda: f(w, v), lambda: f(b, a), {"w": b, "v": a}),  # not commutative: in order
]


@pytest.mark.parametrize("i", range(len(MATCHES)))
def test_matching_sympy_terms(i):
    pat, target, want = MATCHES[i]
    assert match(pat(), target()) == want


REWRITES = [
    ("leftover re-attached", PYTH, lambda: sympy.sin(a) ** 2 + sympy.cos(a) ** 2 + b,
     lambda: b + 1),
    ("whole", PYTH, lambda: sympy.sin(a + c) ** 2 + sympy.cos(a + c) ** 2, lambda: 1),
    ("no match", PYTH, lambda: sympy.sin(a) ** 2 + sympy.cos(b) ** 2, lambda: None),
    ("user head", F_INVOLUTION, lambda: f(f(a * b)), lambda: a * b),
]


@pytest.mark.parametrize("name,rule,term,want", REWRITES, ids=[r[0] for r in REWRITES])
def test_rules_on_sympy_terms(name, rule, term, want):
    assert rule(term()) == want()


def test_unmodified_rewriters_simplify_sympy_expressions():
    e = sympy.exp(sympy.sin(a) ** 2 + sympy.cos(a) ** 2 + b) + f(f(sympy.sin(c) ** 2
                                                                  + sympy.cos(c) ** 2))
    rw = Fixpoint(Postwalk(TRIG))
    with record() as st:
        out = rw(e)
    assert out == sympy.exp(b + 1) + 1
    assert st.fired["pythagoras"] == 2 and st.fired["f-involution"] == 1
    nested = f(f(f(f(a))))
    assert Prewalk(F_INVOLUTION)(nested) == f(f(a))  # the result's own head is not revisited
    assert Fixpoint(Prewalk(F_INVOLUTION))(nested) == a
    assert Chain([F_INVOLUTION, F_INVOLUTION])(nested) == a
    assert Postwalk(TRIG)(a + b) is None


def test_a_sympy_rule_is_checked_against_sympy():
    # the rewritten expression is what SymPy's own simplify finds
    e = sympy.sin(a * b) ** 2 + sympy.cos(a * b) ** 2 + sympy.Abs(sympy.Abs(c))
    out = Fixpoint(Postwalk(RuleSet("s", [PYTH, ABS_ABS])))(e)
    assert out == 1 + sympy.Abs(c)
    assert sympy.simplify(out - e) == 0
