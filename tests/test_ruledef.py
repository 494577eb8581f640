"""The one rule language: declarations (symnum.rules.ruledef) read by the classical engine and
translated for the e-graph (rewrites/eg_translate.py)."""

from __future__ import annotations

import pytest
from symnum.rewrites import eg_algebra, eg_optimize, eg_stability, explog, powers, trig
from symnum.rewrites.eg_rulesets import named_rulesets
from symnum.rewrites.eg_translate import egraph_ruleset, translate
from symnum.rewrites.egraph import equivalent

import symnum as sn
from symnum.core.primitives import cos, cosh, exp, log, sin, sqrt
from symnum.core.primitives_more import trunc
from symnum.errors import SimplifyError
from symnum.rules import Bindings
from symnum.rules.ruledef import (
    BOTH,
    EGRAPH,
    INT,
    NUM,
    RULES,
    SEGMENT,
    classical_ruleset,
    rule,
)

ALL_DEFS = (eg_algebra.DEFS + eg_optimize.DEFS + eg_stability.DEFS + explog.DEFS + powers.DEFS
            + trig.DEFS)
a, b = sn.symbols("a b")


def eg(name, build, **kw):
    return translate(rule(name, build, sets="t", **kw)).to_egglog("s")


@pytest.mark.parametrize("build, kw, text", [
    (lambda x: (log(exp(x)), x), {}, "(rewrite (Log (Exp x)) x"),
    (lambda x: (x * 1.0, x), {}, "(rewrite (Mul x (Num 1.0)) x"),
    (lambda x, n=INT: (log(x ** n), n * log(x)), {"when": "n % 2 != 0"},
     "(rewrite (Log (Powi x n)) (Mul (Num (to-f64 n)) (Log x)) :when ((!= (% n 2) 0))"),
    (lambda x, n=INT: (x ** n, x ** (n / 2) * x ** (n / 2)), {"when": "n > 1 and n % 2 == 0"},
     "(rewrite (Powi x n) (Mul (Powi x (/ n 2)) (Powi x (/ n 2))) :when ((> n 1) (= (% n 2) 0))"),
    (lambda p, q, c=NUM: (p + c * q, p - (-c) * q), {"when": "c < 0"},
     "(rewrite (Add p (Mul (Num c) q)) (Sub p (Mul (Num (neg c)) q)) :when ((< c 0.0))"),
    (lambda x, c=NUM: (x ** c, x ** trunc(c)), {"when": "c == float(int(c))"},
     "(rewrite (Pow x (Num c)) (Powi x (to-i64 c)) :when ((= c (to-f64 (to-i64 c))))"),
    (lambda x: (x ** 0.5, sqrt(x)), {"subsume": True}, "(rewrite (Pow x (Num 0.5)) (Sqrt x) "
                                                       ":subsume"),
    (lambda x, n=INT: (x ** n, 1.0 / x ** (-n)), {"when": "n < -1"},
     "(rewrite (Powi x n) (Div (Num 1.0) (Powi x (- 0 n))) :when ((< n -1))"),
    (lambda x: (cosh(x), 0.5 * (exp(x) + 1.0 / exp(x)), [exp(x)]), {},
     "(rule ((= t (Cosh x)) (Exp x)) ((union t (Mul (Num 0.5) (Add (Exp x) (Div (Num 1.0) "
     "(Exp x))))))"),
])
def test_translation(build, kw, text):
    assert eg("r", build, **kw).startswith(text)


def test_a_rule_declared_once_runs_in_both_engines():
    d = rule("log-exp-2", lambda x: (log(exp(2.0 * x)), 2.0 * x), sets="mine")
    r = classical_ruleset("mine", [d])
    assert r.names() == ["log-exp-2"]
    assert sn.simplify(log(exp(2.0 * a)), ruleset=r) is 2.0 * a
    with sn.tree_mode():
        lhs, rhs = log(exp(2.0 * a)), 2.0 * a
    assert equivalent(lhs, rhs, egraph_ruleset("mine", [d]), iterations=2)


def test_conditions_evaluate_like_their_egglog_facts():
    d = rule("even", lambda x, n=INT: (abs(x) ** n, x ** n), sets="m", when="n % 2 == 0")
    r = d.classical()
    assert r(abs(a) ** 4) is a ** 4
    assert r(abs(a) ** 3) is None
    assert translate(d).when == ("(= (% n 2) 0)",)


@pytest.mark.parametrize("when, match", [
    ("n % 2", "single comparisons"),
    ("x > 0", "not a NUM or INT slot"),
    ("n < 1 or n > 3", "single comparisons"),
    ("n.real > 0", "not allowed"),
    ("n <", "not a Python expression"),
])
def test_bad_conditions_are_refused(when, match):
    d = rule("bad", lambda x, n=INT: (x ** n, x), sets="m", when=when)
    with pytest.raises(SimplifyError, match=match):
        d.condition()


def test_a_rule_one_engine_cannot_run_says_so():
    py = rule("py", lambda x: (abs(x), lambda b: b.x), sets="m", engines=BOTH)
    with pytest.raises(SimplifyError, match="'py' cannot run in the e-graph.*RULES"):
        translate(py)
    seg = rule("seg", lambda xs=SEGMENT: (log(1 + sn.add(xs)), xs), sets="m")
    with pytest.raises(SimplifyError, match="segment"):
        translate(seg)
    guard = rule("guard", lambda x: (abs(x), x), sets="m", when=lambda b: True)
    with pytest.raises(SimplifyError, match="condition is Python code"):
        translate(guard)
    eg_only = rule("eg", lambda x: (x + 0.0, x), sets="m", engines=EGRAPH)
    with pytest.raises(SimplifyError, match="classical engine does not run it"):
        eg_only.classical()
    with pytest.raises(SimplifyError, match="e-graph does not run it"):
        translate(rule("cl", lambda x: (x, x), sets="m", engines=RULES))
    with pytest.raises(SimplifyError, match="multi-pattern"):
        rule("mp", lambda x: (cos(x), x, [sin(x)]), sets="m").classical()
    with pytest.raises(SimplifyError, match="egglog text"):
        rule("txt", sets="m", egglog=(["(Sin x)"], ["(Cos x)"]))
    with pytest.raises(SimplifyError, match="engines"):
        rule("e", lambda x: (x, x), sets="m", engines=("jit",))


def test_every_declaration_builds_for_the_engines_it_names():
    names = [d.name for d in ALL_DEFS]
    assert len(names) == len(set(names)), "one name, one rule"
    for d in ALL_DEFS:
        if EGRAPH in d.engines:
            translate(d)
        if RULES in d.engines and d.egglog is None:
            d.classical()
    both = {d.name for d in ALL_DEFS if set(d.engines) == set(BOTH)}
    assert {"log-exp", "pythagoras", "exp-mul", "pow-half", "abs-even-pow"} <= both


def test_every_egraph_rule_comes_from_a_declaration():
    declared = {d.name for d in ALL_DEFS}
    for rs in named_rulesets().values():
        assert set(rs.names()) <= declared, set(rs.names()) - declared


def test_bindings_reach_python_right_hand_sides():
    d = rule("abs-sq", lambda x: (abs(x) ** 2, lambda bs: bs.x ** 2), sets="m", engines=RULES)
    assert isinstance(Bindings(x=a).x, type(a))
    assert d.classical()(abs(b) ** 2) is b ** 2
