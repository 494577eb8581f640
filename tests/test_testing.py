"""symnum.testing: the strategies stay in their domains, honour `primitives`, and the numeric
comparison reports clearly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.core.evaluate import eval_many
from symnum.testing import (
    CONDITION_OPS,
    VALUE_OPS,
    assert_allclose_at,
    build,
    expression_recipes,
    expressions,
    points,
)

x, y, z = sn.Sym("x"), sn.Sym("y"), sn.Sym("z")
GUARDS = {"add", "mul", "div"}  # the scaffolding guards are built from


def ops_in(recipe) -> set[str]:
    out, stack = set(), [recipe]
    while stack:
        r = stack.pop()
        if r[0] in ("sym", "const"):
            continue
        out.add(r[0])
        stack.extend(r[1:])
    return out


def syms_in(recipe) -> set[int]:
    out, stack = set(), [recipe]
    while stack:
        r = stack.pop()
        if r[0] == "sym":
            out.add(r[1])
        elif r[0] != "const":
            stack.extend(r[1:])
    return out


# ---------------------------------------------------------------------------------------------
# recipes


@given(expression_recipes(3), points([x, y, z]))
def test_recipes_stay_finite_and_bounded(recipe, env):
    (v,) = eval_many([build(recipe, [x, y, z])], env)
    assert math.isfinite(v), recipe
    assert abs(v) <= 200.0, (recipe, v)


@given(expression_recipes(2, max_depth=3), points([x, y]))
def test_canonical_and_tree_builds_agree(recipe, env):
    assert_allclose_at(build(recipe, [x, y]), build(recipe, [x, y], mode="tree"), env)


@pytest.mark.parametrize("name", VALUE_OPS + CONDITION_OPS)
def test_each_primitive_alone_is_generated_and_safe(name):
    seen = []

    @settings(max_examples=25)
    @given(expression_recipes(1, [name], max_depth=2), points([x]))
    def check(recipe, env):
        assert ops_in(recipe) <= {name, "ifelse", "lt"} | GUARDS, recipe
        assert recipe[0] == (name if name in VALUE_OPS else "ifelse")
        seen.append(name in ops_in(recipe))
        (v,) = eval_many([build(recipe, [x])], env)
        assert math.isfinite(v), recipe

    check()
    assert any(seen)


@given(expression_recipes(2, ["sin", "exp"], max_depth=3))
def test_primitives_restrict_the_ops(recipe):
    assert ops_in(recipe) <= {"sin", "exp"} | GUARDS
    assert syms_in(recipe) <= {0, 1}


@given(expression_recipes(1, ["log"], max_depth=1))
def test_guards_keep_log_positive(recipe):
    # depth 1: log of a leaf, always through 1 + a*a
    assert recipe[0] == "log"
    assert recipe[1][0] == "add" and recipe[1][1] == ("const", 1.0)


def test_max_depth_zero_gives_leaves():
    @given(expression_recipes(2, max_depth=0))
    def check(recipe):
        assert recipe[0] in ("sym", "const")

    check()


def test_recipe_arguments_are_checked():
    with pytest.raises(ValueError, match="at least one symbol"):
        expression_recipes(0)
    with pytest.raises(sn.MissingRuleError, match="no_such_op"):
        expression_recipes(1, ["no_such_op"])


def test_user_primitive_in_recipes():
    softplus = sn.register("testing_softplus", lambda a: np.log1p(np.exp(a)),
                           partials=lambda a: (1 / (1 + sn.exp(-a)),), replace=True)

    @settings(max_examples=20)
    @given(expression_recipes(1, ["testing_softplus", "add"], max_depth=2), points([x]))
    def check(recipe, env):
        assert "testing_softplus" in ops_in(recipe) or recipe[0] == "add"
        e = build(recipe, [x])
        (v,) = eval_many([e], env)
        assert math.isfinite(v)

    check()
    assert str(softplus(x)) == "testing_softplus(x)"


# ---------------------------------------------------------------------------------------------
# build, expressions, points


BUILD_TABLE = [
    (("add", ("sym", 0), ("sym", 0)), "2*x", "x + x"),
    (("mul", ("sym", 0), ("sym", 1), ("sym", 0)), "x^2*y", "x*y*x"),
    (("sin", ("const", 1.5)), "0.9974949866040544", "sin(1.5)"),
    (("pow", ("sym", 1), ("const", 2)), "y^2", "y^2"),
    (("ifelse", ("lt", ("sym", 0), ("const", 0)), ("neg", ("sym", 0)), ("sym", 0)),
     "ifelse(x < 0, -x, x)", "ifelse(x < 0, -x, x)"),
]


@pytest.mark.parametrize("recipe, canonical, tree", BUILD_TABLE)
def test_build_table(recipe, canonical, tree):
    assert str(build(recipe, [x, y])) == canonical
    assert str(build(recipe, [x, y], mode="tree")) == tree


def test_build_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="canonical' or 'tree"):
        build(("sym", 0), [x], mode="fast")


@given(expressions([x, y], max_depth=3))
def test_expressions_are_canonical_terms(e):
    assert isinstance(e, sn.Expr)
    assert sn.free_symbols(e) <= {x, y}
    # canonical: rebuilding in canonical mode changes nothing
    assert sn.substitute(e, {}) is e


@given(points([x, y], -0.5, 0.25))
def test_points_within_bounds(env):
    assert set(env) == {x, y}
    assert all(-0.5 <= v <= 0.25 and isinstance(v, float) for v in env.values())


def test_points_rejects_empty_interval():
    with pytest.raises(ValueError, match="low <= high"):
        points([x], 1.0, 0.0)


# ---------------------------------------------------------------------------------------------
# assert_allclose_at


def test_allclose_passes_and_fails_with_a_clear_message():
    assert_allclose_at(sn.sin(x) ** 2 + sn.cos(x) ** 2, 1, {x: 0.7})
    with pytest.raises(AssertionError) as info:
        assert_allclose_at(sn.sin(x), sn.cos(x), {x: 0.3})
    msg = str(info.value)
    assert "sin(x)" in msg and "cos(x)" in msg and "x=0.3" in msg
    assert repr(np.sin(0.3)) in msg


@pytest.mark.parametrize(
    "a, b, ok",
    [
        (sn.log(x - 2), sn.log(x - 3), True),  # NaN matches NaN
        (sn.log(x - 2), x, False),  # NaN does not match a number
        (1 / (x - 1), 1 / (x - 1), True),  # inf matches the same inf
        (1 / (x - 1), -1 / (x - 1), False),
        (x + 1e-13, x, True),  # within atol
        (x * (1 + 1e-8), x, False),  # outside rtol
    ],
)
def test_allclose_table(a, b, ok):
    if ok:
        assert_allclose_at(a, b, {x: 1.0})
    else:
        with pytest.raises(AssertionError):
            assert_allclose_at(a, b, {x: 1.0})


def test_allclose_over_arrays_counts_the_bad_elements():
    vals = np.array([0.0, 1.0, 2.0])
    assert_allclose_at(x * x, x**2, {x: vals})
    with pytest.raises(AssertionError, match="1 of 3 elements differ"):
        assert_allclose_at(x * x, sn.ifelse(x > 1.5, x, x * x), {x: vals})


def test_allclose_tolerances_are_parameters():
    assert_allclose_at(x, x * (1 + 1e-6), {x: 1.0}, rtol=1e-5)


@given(st.floats(-1e6, 1e6), st.floats(0, 1e-7))
def test_allclose_agrees_with_numpy_isclose(v, rel):
    w = v * (1 + rel)
    if np.isclose(v, w, rtol=1e-9, atol=1e-12) and np.isclose(w, v, rtol=1e-9, atol=1e-12):
        assert_allclose_at(sn.Const(v), sn.Const(w), {})
    elif not np.isclose(v, w, rtol=2e-9, atol=1e-12):
        with pytest.raises(AssertionError):
            assert_allclose_at(sn.Const(v), sn.Const(w), {})
