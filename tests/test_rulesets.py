"""The named rulesets: a table entry (input ⇒ expected) for every rule, each checked for
soundness on a grid of points; the "never" table; the tree-mode simplifier vs canonical forms."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from symnum.rewrites.algebra import EXPAND_TREE, TREE_ALGEBRA, simplify_tree
from symnum.rewrites.classical import RULES
from symnum.rewrites.explog import EXPLOG
from symnum.rewrites.powers import POWERS
from symnum.rewrites.trig import TRIG

import symnum as sn
from symnum.core.dispatch import digest
from symnum.demo.examples import brusselator_rhs
from symnum.rules.predicates import is_literal
from symnum.testing import assert_allclose_at, build, expression_recipes

a, b, c = sn.Sym("a"), sn.Sym("b"), sn.Sym("c")
S, C = sn.sin(a), sn.cos(a)


def tree(f):
    with sn.tree_mode():
        return f()


def sorted_args(t) -> bool:
    keys = [(0, b"") if is_literal(x) else (1, digest(x)) for x in sn.arguments(t)]
    return keys == sorted(keys)


# (rule name, input, expected: a term, None for "does not fire", or a predicate on the output)
CLASSICAL_TABLE = [
    # powers
    ("pow-half", lambda: a ** 0.5, lambda: sn.sqrt(a)),
    ("pow-neg-half", lambda: a ** -0.5, lambda: 1 / sn.sqrt(a)),
    ("pow-half-integer", lambda: a ** 1.5, lambda: a * sn.sqrt(a)),
    ("pow-half-integer", lambda: a ** -2.5, lambda: 1 / (a ** 2 * sn.sqrt(a))),
    ("sqrt-even-pow", lambda: sn.sqrt(a ** 2), lambda: abs(a)),
    ("sqrt-even-pow", lambda: sn.sqrt(a ** 4), lambda: abs(a) ** 2),
    ("sqrt-even-pow", lambda: sn.sqrt(a ** -2), lambda: 1 / abs(a)),
    ("abs-even-pow", lambda: abs(a) ** 4, lambda: a ** 4),
    ("abs-even-pow", lambda: abs(a) ** -2, lambda: a ** -2),
    ("abs-abs", lambda: abs(abs(a)), lambda: abs(a)),
    ("abs-neg", lambda: abs(-a - b), lambda: abs(a + b)),
    ("abs-neg", lambda: abs(-2 * a), lambda: abs(2 * a)),
    ("abs-nonneg", lambda: abs(sn.exp(a)), lambda: sn.exp(a)),
    ("abs-nonneg", lambda: abs(a ** 2 + 1), lambda: a ** 2 + 1),
    ("abs-mul", lambda: abs(3 * a * b ** 2), lambda: 3 * b ** 2 * abs(a)),
    ("abs-mul", lambda: abs(a * sn.exp(b)), lambda: sn.exp(b) * abs(a)),
    ("abs-mul", lambda: abs(a * b), None),
    ("exp-mul", lambda: sn.exp(a) * sn.exp(b), lambda: sn.exp(a + b)),
    ("exp-mul", lambda: c * sn.exp(a) * sn.exp(b), lambda: c * sn.exp(a + b)),
    ("exp-pow", lambda: sn.exp(a) ** 3, lambda: sn.exp(3 * a)),
    ("exp-pow", lambda: 1 / sn.exp(a), lambda: sn.exp(-a)),
    ("exp-pow", lambda: sn.exp(a) ** b, lambda: sn.exp(a * b)),
    # trig
    ("pythagoras", lambda: S ** 2 + C ** 2 + b, lambda: b + 1),
    ("pythagoras-scaled", lambda: 3 * S ** 2 + 3 * C ** 2, lambda: sn.Const(3)),
    ("pythagoras-scaled", lambda: b * S ** 2 + b * C ** 2 + 1, lambda: b + 1),
    ("pythagoras-scaled", lambda: 2 * S ** 2 + 3 * C ** 2, None),
    ("one-minus-sin2", lambda: 1 - S ** 2, lambda: C ** 2),
    ("one-minus-cos2", lambda: 1 - C ** 2 + b, lambda: S ** 2 + b),
    ("hyperbolic-pythagoras", lambda: sn.cosh(a) ** 2 - sn.sinh(a) ** 2, lambda: sn.Const(1)),
    ("hyperbolic-pythagoras-scaled", lambda: 2 * sn.cosh(a) ** 2 - 2 * sn.sinh(a) ** 2,
     lambda: sn.Const(2)),
    ("hyperbolic-pythagoras-scaled", lambda: b * sn.cosh(a) ** 2 - b * sn.sinh(a) ** 2,
     lambda: b),
    ("one-plus-sinh2", lambda: 1 + sn.sinh(a) ** 2, lambda: sn.cosh(a) ** 2),
    ("cosh2-minus-one", lambda: sn.cosh(a) ** 2 - 1, lambda: sn.sinh(a) ** 2),
    ("sin-odd", lambda: sn.sin(-a), lambda: -S),
    ("sin-odd", lambda: sn.sin(-a - 2 * b), lambda: -sn.sin(a + 2 * b)),
    ("sin-odd", lambda: sn.sin(a - b), None),
    ("cos-even", lambda: sn.cos(-2 * a), lambda: sn.cos(2 * a)),
    ("tan-odd", lambda: sn.tan(-a), lambda: -sn.tan(a)),
    ("sinh-odd", lambda: sn.sinh(-a), lambda: -sn.sinh(a)),
    ("cosh-even", lambda: sn.cosh(-a), lambda: sn.cosh(a)),
    ("tanh-odd", lambda: sn.tanh(-a), lambda: -sn.tanh(a)),
    ("asin-odd", lambda: sn.asin(-a), lambda: -sn.asin(a)),
    ("atan-odd", lambda: sn.atan(-a), lambda: -sn.atan(a)),
    ("erf-odd", lambda: sn.erf(-a), lambda: -sn.erf(a)),
    ("tan-quotient", lambda: S / C, lambda: sn.tan(a)),
    ("tan-quotient", lambda: b * S / C, lambda: b * sn.tan(a)),
    ("cot-quotient", lambda: C / S, lambda: 1 / sn.tan(a)),
    ("tan-quotient-pow", lambda: S ** 2 / C ** 2, lambda: sn.tan(a) ** 2),
    ("tan-quotient-pow", lambda: C ** 3 / S ** 3, lambda: sn.tan(a) ** -3),
    ("tan-quotient-pow", lambda: S ** 2 / C ** 3, None),
    ("tanh-quotient", lambda: sn.sinh(a) / sn.cosh(a), lambda: sn.tanh(a)),
    ("tan-atan", lambda: sn.tan(sn.atan(a)), lambda: a),
    ("double-angle-sin", lambda: 2 * S * C, lambda: sn.sin(2 * a)),
    ("double-angle-cos", lambda: C ** 2 - S ** 2, lambda: sn.cos(2 * a)),
    ("double-angle-sinh", lambda: 2 * sn.sinh(a) * sn.cosh(a), lambda: sn.sinh(2 * a)),
    # exp / log
    ("log-exp", lambda: sn.log(sn.exp(a + b)), lambda: a + b),
    ("log1p-expm1", lambda: sn.log1p(sn.expm1(a)), lambda: a),
    ("log-scaled-exp", lambda: sn.log(2 * sn.exp(a)), lambda: sn.log(2.0) + a),
    ("log-scaled-exp", lambda: sn.log(-2 * sn.exp(a)), None),
    ("log-pow-odd", lambda: sn.log(a ** 3), lambda: 3 * sn.log(a)),
    ("log-pow-odd", lambda: sn.log(1 / a), lambda: -sn.log(a)),
    ("log-pow-even", lambda: sn.log(a ** 2), lambda: 2 * sn.log(abs(a))),
    ("log-sqrt", lambda: sn.log(sn.sqrt(a)), lambda: sn.log(a) / 2),
    ("log1p-from-log", lambda: sn.log(1 + a + b), lambda: sn.log1p(a + b)),
    ("expm1-from-exp", lambda: sn.exp(a) - 1 + b, lambda: sn.expm1(a) + b),
]

TREE_TABLE = [
    ("sub-to-add", lambda: a - b, lambda: a + (-1) * b),
    ("neg-to-mul", lambda: -a, lambda: (-1) * a),
    ("div-to-pow", lambda: a / b, lambda: a * b ** -1),
    ("fold-constants", lambda: sn.add(2, 3), lambda: sn.Const(5)),
    ("fold-constants", lambda: sn.pow(2, -1), lambda: sn.Const(Fraction(1, 2))),
    ("fold-constants", lambda: sn.sin(sn.add(1, -1)), None),  # its argument is not a literal
    # the segment's arguments come first, then the inner call's (sort-* orders them later)
    ("flatten-add", lambda: (a + b) + c, lambda: sn.add(c, a, b)),
    ("flatten-mul", lambda: a * (b * c), lambda: sn.mul(a, b, c)),
    ("add-single", lambda: sn.add(a), lambda: a),
    ("mul-single", lambda: sn.mul(a), lambda: a),
    ("pow-zero", lambda: a ** 0, lambda: sn.Const(1)),
    ("pow-one", lambda: a ** 1, lambda: a),
    ("pow-pow", lambda: (a ** 2) ** 3, lambda: a ** 6),
    ("pow-pow", lambda: (a ** 0.5) ** 2, None),
    ("pow-mul", lambda: (a * b) ** 2, lambda: a ** 2 * b ** 2),
    ("distribute-scalar", lambda: sn.add(c, sn.mul(2, sn.add(a, b))),
     lambda: sn.add(c, sn.mul(2, a), sn.mul(2, b))),
    ("collect-like-terms", lambda: sn.add(sn.mul(2, a), b, sn.mul(3, a)),
     lambda: sn.add(sn.mul(5, a), b)),
    ("collect-like-terms", lambda: sn.add(a, 1, 2), lambda: sn.add(a, 3)),
    ("collect-like-terms", lambda: sn.add(a, sn.mul(-1, a)), lambda: sn.Const(0)),
    ("collect-like-terms", lambda: sn.add(sn.mul(2, a, b), sn.mul(b, a)),
     lambda: sn.mul(3, a, b)),
    ("collect-powers", lambda: sn.mul(a, a), lambda: a ** 2),
    ("collect-powers", lambda: sn.mul(a, a ** -1), lambda: sn.Const(1)),
    ("collect-powers", lambda: sn.mul(2, a, 3), lambda: sn.mul(6, a)),
    ("collect-powers", lambda: sn.mul(0, a), lambda: sn.Const(0)),
    ("sort-add", lambda: sn.add(sn.sin(a), b, 2, a), sorted_args),
    ("sort-mul", lambda: sn.mul(sn.sin(a), b, 2, a), sorted_args),
    ("distribute", lambda: sn.mul(a, sn.add(b, c)), lambda: sn.add(a * b, a * c)),
    ("expand-pow", lambda: (a + b) ** 2, lambda: sn.mul(a + b, a + b)),
    ("expand-pow", lambda: (a + b) ** 3, lambda: sn.mul(a + b, (a + b) ** 2)),
    ("expand-pow", lambda: (a + b) ** -2, None),
]

RULESETS = [POWERS, TRIG, EXPLOG, TREE_ALGEBRA, EXPAND_TREE]


def test_every_rule_of_every_ruleset_has_a_table_entry():
    tabled = {name for name, _, _ in CLASSICAL_TABLE + TREE_TABLE}
    for rs in RULESETS:
        missing = set(rs.names()) - tabled
        assert not missing, f"ruleset {rs.name} has rules without a table entry: {missing}"
    assert set(RULES.names()) == set(POWERS.names() + TRIG.names() + EXPLOG.names())


def _rule(name):
    for rs in RULESETS:
        if name in rs.names():
            return rs[name]
    raise AssertionError(f"no rule named {name}")


GRID = [-2.5, -1.0, -0.5, 0.0, 0.3, 1.0, 2.0]


def check_sound(lhs, rhs):
    """Where lhs is finite rhs agrees; where lhs is NaN (outside its domain) so is rhs."""
    syms = sorted(sn.free_symbols(lhs) | sn.free_symbols(rhs), key=lambda s: s.name)
    pts = np.array(list(itertools.product(GRID, repeat=len(syms))), dtype=float).T
    env = dict(zip(syms, pts))
    lv, rv = (np.broadcast_to(np.asarray(v, dtype=float), pts.shape[1:])
              for v in sn.evaluate([lhs, rhs], env))
    fin = np.isfinite(lv)
    np.testing.assert_allclose(rv[fin], lv[fin], rtol=1e-12, atol=1e-12)
    assert np.all(np.isnan(rv[np.isnan(lv)])), "the rewrite defines values outside the domain"


def _check_entry(name, term, expected, mode):
    t = term()
    with sn.tree_mode(mode == "tree"):
        out = _rule(name)(t)
    if expected is None:
        assert out is None
        return
    assert out is not None, f"{name} did not fire on {t}"
    if expected is sorted_args:
        assert sorted_args(out) and sn.canonicalize(out) is sn.canonicalize(t)
    else:
        exp = tree(expected) if mode == "tree" else expected()
        assert out is exp, f"{name}: {t} gave {out}, expected {exp}"
    check_sound(sn.canonicalize(t) if mode == "tree" else t, sn.canonicalize(out))


@pytest.mark.parametrize("name,term,expected", CLASSICAL_TABLE,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(CLASSICAL_TABLE)])
def test_classical_rule_table(name, term, expected):
    _check_entry(name, term, expected, "canonical")


@pytest.mark.parametrize("name,term,expected", TREE_TABLE,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(TREE_TABLE)])
def test_tree_rule_table(name, term, expected):
    _check_entry(name, lambda: tree(term), expected, "tree")


# what must never be simplified, because it is wrong somewhere on the reals
NEVER = [
    lambda: sn.exp(sn.log(a)),  # defined only for a > 0
    lambda: sn.sqrt(a) ** 2,
    lambda: sn.log(a * b),  # a, b < 0
    lambda: sn.log(a / b),
    lambda: sn.sin(sn.asin(a)),  # |a| > 1
    lambda: sn.cos(sn.acos(a)),
    lambda: sn.asin(sn.sin(a)),  # not the inverse outside [-π/2, π/2]
    lambda: sn.atan(sn.tan(a)),
    lambda: sn.expm1(sn.log1p(a)),  # a < -1
    lambda: sn.exp(2 * sn.log(a)),
    lambda: sn.sqrt(a * b) - sn.sqrt(a) * sn.sqrt(b),
]


@pytest.mark.parametrize("i", range(len(NEVER)))
def test_unsound_rewrites_never_happen(i):
    e = NEVER[i]()
    s = sn.simplify(e)
    assert s is e
    check_sound(e, s)


# ---------------------------------------------------------------------------------------------
# the tree-mode rule simplifier reaches the canonical forms' result


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_tree_rules_expand_like_polynomial_forms(k):
    e = tree(lambda: (1 + a + b + c) ** k)
    out = simplify_tree(e, expand=True)
    want = sn.expand((1 + a + b + c) ** k)
    assert sn.canonicalize(out) is want
    assert sn.count_ops(out) <= sn.count_ops(want) + 1  # as flat as the polynomial form
    for env in ({a: 0.3, b: -1.2, c: 2.0}, {a: -0.7, b: 0.1, c: -1.9}):
        assert_allclose_at(out, want, env)


def test_tree_rules_simplify_the_brusselator_like_canonical_forms():
    n = 4
    u = sn.symarray("u", (2, n, n))
    with sn.tree_mode():
        built = [t for t in np.asarray(brusselator_rhs(u)).ravel()]
    want = list(np.asarray(brusselator_rhs(u)).ravel())
    out = simplify_tree(built)
    assert [sn.canonicalize(t) for t in out] == want
    rng = np.random.default_rng(0)
    env = {s: rng.uniform(0.1, 2.0) for s in u.ravel()}
    for o, w in zip(out, want):
        assert_allclose_at(o, w, env)


@settings(max_examples=150)
@given(expression_recipes(2, ["add", "sub", "mul", "neg", "div", "pow", "sin", "exp"],
                          max_depth=4))
def test_tree_simplifier_agrees_with_canonical_forms(recipe):
    x, y = sn.Sym("x"), sn.Sym("y")
    t = build(recipe, [x, y], mode="tree")
    want = build(recipe, [x, y])
    out = simplify_tree(t)
    for env in ({x: 0.37, y: -1.3}, {x: -1.7, y: 0.9}):
        (wv,) = sn.evaluate([want], env)
        if np.isfinite(wv):
            assert_allclose_at(out, want, env, rtol=1e-9, atol=1e-9)


@settings(max_examples=100)
@given(expression_recipes(2, ["add", "sub", "mul", "neg"], max_depth=4))
def test_tree_expansion_reaches_the_expanded_polynomial_form(recipe):
    x, y = sn.Sym("x"), sn.Sym("y")
    out = simplify_tree(build(recipe, [x, y], mode="tree"), expand=True)
    want = sn.expand(build(recipe, [x, y]))
    # the same polynomial; compared as text because a coefficient 1.0 and 1 print alike
    # (canonical expand keeps 1.0·x in a sum while canonical mul makes x·1.0 into x)
    assert str(sn.canonicalize(out)) == str(want)
    assert_allclose_at(out, want, {x: 0.7, y: -1.3})
