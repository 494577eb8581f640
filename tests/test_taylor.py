"""symnum.autodiff.taylor:
jets against repeated diff, high-order derivatives against mpmath, mixed and
directional derivatives, the exact and stochastic Laplacians, and missing rules."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.autodiff import ad
from symnum.autodiff.taylor import (
    directional_derivative,
    jet_terms,
    laplacian,
    mixed_derivative,
    nth_derivative,
    stochastic_laplacian,
    taylor,
)
from symnum.core.build import tree_mode
from symnum.core.evaluate import eval_many
from symnum.core.traversal import count_ops
from symnum.errors import MissingRuleError
from symnum.testing import (
    STEP_OPS,
    VALUE_OPS,
    assert_allclose_at,
    build,
    expression_recipes,
    expressions,
    points,
)
from symnum.tracing.fn import evaluate

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp

x, y, z = sn.Sym("x"), sn.Sym("y"), sn.Sym("z")
XYZ = [x, y, z]
SMOOTH = tuple(o for o in VALUE_OPS if o not in STEP_OPS + ("hypot",))


def close(a: float, b: float, scale: float, rtol: float) -> bool:
    return bool(np.isnan(a) and np.isnan(b) or abs(a - b) <= rtol * max(abs(a), abs(b), scale))


# ---------------------------------------------------------------------------------------------
# tables


def test_taylor_coefficient_table():
    e = sn.exp(2 * x)
    assert taylor(e, x, 3) == [e, 2 * e, 2 * e, Fraction(4, 3) * e]  # exact, sharing e
    env = {x: 0.0}
    # series at 0: sin, cos, log1p, 1/(1-x), sqrt(1+x), atan, tanh
    cases = [
        (sn.sin(x), [0, 1, 0, Fraction(-1, 6), 0, Fraction(1, 120)]),
        (sn.cos(x), [1, 0, Fraction(-1, 2), 0, Fraction(1, 24), 0]),
        (sn.log1p(x), [0, 1, Fraction(-1, 2), Fraction(1, 3), Fraction(-1, 4), Fraction(1, 5)]),
        (1 / (1 - x), [1, 1, 1, 1, 1, 1]),
        (sn.sqrt(1 + x), [1, Fraction(1, 2), Fraction(-1, 8), Fraction(1, 16),
                          Fraction(-5, 128), Fraction(7, 256)]),
        (sn.atan(x), [0, 1, 0, Fraction(-1, 3), 0, Fraction(1, 5)]),
        (sn.tanh(x), [0, 1, 0, Fraction(-1, 3), 0, Fraction(2, 15)]),
        (sn.exp(x) * sn.sin(x), [0, 1, 1, Fraction(1, 3), 0, Fraction(-1, 30)]),
        ((1 + x) ** Fraction(1, 3), [1, Fraction(1, 3), Fraction(-1, 9), Fraction(5, 81),
                                     Fraction(-10, 243), Fraction(22, 729)]),
    ]
    for e, want in cases:
        got = [float(evaluate(c, env)) for c in taylor(e, x, 5)]
        assert np.allclose(got, [float(w) for w in want], rtol=1e-14, atol=1e-15), (str(e), got)


# composite functions: symnum expression, mpmath function (x0 = 0.6)
COMPOSITES = [
    ("exp(sin x)", lambda x: sn.exp(sn.sin(x)), lambda t: mp.exp(mp.sin(t))),
    ("log(1+x²)cos x", lambda x: sn.log(1 + x ** 2) * sn.cos(x),
     lambda t: mp.log(1 + t ** 2) * mp.cos(t)),
    ("sqrt(1+x²)atan x", lambda x: sn.sqrt(1 + x ** 2) * sn.atan(x),
     lambda t: mp.sqrt(1 + t ** 2) * mp.atan(t)),
    ("tanh³x/(1+x)", lambda x: sn.tanh(x) ** 3 / (1 + x), lambda t: mp.tanh(t) ** 3 / (1 + t)),
    ("(1+x²)^(1/3)", lambda x: (1 + x ** 2) ** Fraction(1, 3),
     lambda t: (1 + t ** 2) ** (mp.mpf(1) / 3)),
    ("x^x", lambda x: x ** x, lambda t: t ** t),
    ("erf(x)sinh(x)", lambda x: sn.erf(x) * sn.sinh(x), lambda t: mp.erf(t) * mp.sinh(t)),
    ("asin(x/2)+acos(x/3)", lambda x: sn.asin(x / 2) + sn.acos(x / 3),
     lambda t: mp.asin(t / 2) + mp.acos(t / 3)),
    ("tan x/(2+cos x)", lambda x: sn.tan(x) / (2 + sn.cos(x)),
     lambda t: mp.tan(t) / (2 + mp.cos(t))),
    ("expm1(x)log1p(x)", lambda x: sn.expm1(x) * sn.log1p(x),
     lambda t: mp.expm1(t) * mp.log1p(t)),
    ("cosh⁻²(x)", lambda x: sn.cosh(x) ** -2, lambda t: mp.cosh(t) ** -2),
    ("atan2(x,2)·hypot(x,1)", lambda x: sn.atan2(x, 2) * sn.hypot(x, 1),
     lambda t: mp.atan2(t, 2) * mp.hypot(t, 1)),
    ("cos(x·exp(x))", lambda x: sn.cos(x * sn.exp(x)), lambda t: mp.cos(t * mp.exp(t))),
]


@pytest.mark.parametrize("name, make, ref", COMPOSITES, ids=[c[0] for c in COMPOSITES])
def test_nth_derivative_matches_mpmath(name, make, ref):
    x0 = 0.6
    e = make(x)
    with mp.workdps(40):
        want = [float(mp.diff(ref, mp.mpf(x0), k)) for k in range(9)]
    scale = max(abs(w) for w in want)
    for k in range(9):
        got = float(evaluate(nth_derivative(e, x, k), {x: x0}))
        assert close(got, want[k], 1e-3 * scale, 1e-10), (name, k, got, want[k])


def test_taylor_mode_grows_polynomially():
    # O(k²) per primitive: doubling k at most quadruples the work (plus a little slack)
    for _, make, _ in COMPOSITES[:6]:
        e = make(x)
        c8, c16 = count_ops(nth_derivative(e, x, 8)), count_ops(nth_derivative(e, x, 16))
        assert c16 <= 4.5 * c8, (str(e), c8, c16)


# ---------------------------------------------------------------------------------------------
# properties over random expressions


@settings(max_examples=120)
@given(expressions([x, y], VALUE_OPS, 3), points([x, y]), st.integers(1, 6))
def test_taylor_coefficients_match_repeated_diff(e, env, order):
    cs = eval_many(taylor(e, x, order), env)
    d = e
    derivs = [float(evaluate(d, env))]
    for _ in range(order):
        d = ad.diff(d, x)
        derivs.append(float(evaluate(d, env)))
    scale = max(abs(v) for v in derivs if not np.isnan(v)) if not np.isnan(derivs).all() else 0
    for k in range(order + 1):
        got = float(cs[k]) * math.factorial(k)
        assert close(got, derivs[k], scale, 1e-8), (str(e), k, got, derivs[k])


@settings(max_examples=80)
@given(expression_recipes(2, VALUE_OPS, 3), points([x, y]))
def test_tree_mode_jets_match_repeated_diff(recipe, env):
    # tree mode keeps sub/neg/div/pow terms that canonical construction rewrites away
    e = build(recipe, [x, y], mode="tree")
    with tree_mode():
        cs = eval_many(taylor(e, x, 4), env)
        derivs = eval_many([ad.diff(e, x, k) for k in range(5)], env)
    scale = np.nanmax(np.abs(np.asarray(derivs, dtype=float)), initial=0.0)
    for k in range(5):
        got = float(cs[k]) * math.factorial(k)
        assert close(got, float(derivs[k]), scale, 1e-8), (str(e), k, got, derivs[k])


@settings(max_examples=80)
@given(expressions(XYZ, SMOOTH, 3), points(XYZ), st.lists(st.sampled_from(XYZ), min_size=1,
                                                             max_size=3))
def test_mixed_derivative_matches_nested_diff(e, env, vars):
    nested = e
    for v in vars:
        nested = ad.diff(nested, v)
    got = float(evaluate(mixed_derivative(e, vars), env))
    want = float(evaluate(nested, env))
    assert close(got, want, 1.0, 1e-8), (str(e), vars, got, want)


@settings(max_examples=80)
@given(expressions(XYZ, SMOOTH, 3), points(XYZ),
       st.lists(st.floats(-2, 2), min_size=3, max_size=3), st.integers(1, 3))
def test_directional_derivative_matches_nested_jvp(e, env, v, order):
    nested = [e]
    for _ in range(order):
        nested = ad.jvp_terms(nested, XYZ, v)
    got = float(evaluate(directional_derivative(e, XYZ, v, order), env))
    want = float(evaluate(nested[0], env))
    assert close(got, want, 1.0, 1e-8), (str(e), v, order, got, want)


@settings(max_examples=80)
@given(expressions(XYZ, SMOOTH, 3), points(XYZ))
def test_laplacian_is_trace_of_hessian(e, env):
    H = ad.hessian(e, XYZ)
    assert_allclose_at(laplacian(e, XYZ), H[0, 0] + H[1, 1] + H[2, 2], env, rtol=1e-8,
                       atol=1e-9)


def test_jet_along_a_curve():
    # seeds may be whole series: x(t) = x + t + t², y(t) = y − t³
    c = jet_terms([x * y], {x: [x, 1, 1], y: [y, 0, 0, -1]}, 3)[0]
    env = {x: 2.0, y: 3.0}
    # (x + t + t²)(y − t³) = xy + y t + y t² − x t³ + …
    assert np.allclose([float(evaluate(ci, env)) for ci in c], [6.0, 3.0, 3.0, -2.0])


# ---------------------------------------------------------------------------------------------
# the stochastic Laplacian (STDE): unbiased


F_STDE = sn.sin(x) * sn.exp(y) + x * y * z + sn.cos(z) ** 2 + x ** 2 * y ** 2
ENV_STDE = {x: 0.3, y: -0.4, z: 0.8}


@pytest.mark.parametrize("distribution", ["rademacher", "normal"])
def test_stochastic_laplacian_is_unbiased(distribution):
    exact = float(evaluate(laplacian(F_STDE, XYZ), ENV_STDE))
    draws = np.array([float(evaluate(stochastic_laplacian(F_STDE, XYZ, 1, rng=seed,
                                                          distribution=distribution), ENV_STDE))
                      for seed in range(300)])
    se = draws.std(ddof=1) / np.sqrt(len(draws))
    assert se > 0  # the off-diagonal terms make single draws noisy
    assert abs(draws.mean() - exact) <= 4 * se
    # the many-sample estimator is the mean of its draws, and close to exact
    est = float(evaluate(stochastic_laplacian(F_STDE, XYZ, 200, rng=7,
                                              distribution=distribution), ENV_STDE))
    assert abs(est - exact) <= 4 * draws.std(ddof=1) / np.sqrt(200)


def test_stochastic_laplacian_exact_for_separable_functions():
    # Rademacher directions: vᵀHv = trace(H) when H is diagonal, for every draw
    e = sn.sin(x) + sn.exp(y) + z ** 3
    exact = float(evaluate(laplacian(e, XYZ), ENV_STDE))
    one = float(evaluate(stochastic_laplacian(e, XYZ, 1, rng=3), ENV_STDE))
    assert abs(one - exact) <= 1e-12 * (1 + abs(exact))


def test_stochastic_laplacian_argument_errors():
    with pytest.raises(ValueError, match="samples"):
        stochastic_laplacian(F_STDE, XYZ, 0)
    with pytest.raises(ValueError, match="distribution"):
        stochastic_laplacian(F_STDE, XYZ, 2, distribution="uniform")


# ---------------------------------------------------------------------------------------------
# rules: derived from partials, or missing


def test_partials_only_primitive_gets_the_generic_rule():
    softplus = sn.register("tt_softplus", lambda a: np.log1p(np.exp(a)),
                           partials=lambda a: (1 / (1 + sn.exp(-a)),), replace=True)
    e = softplus(sn.sin(x))
    for k in range(5):
        assert_allclose_at(nth_derivative(e, x, k), ad.diff(e, x, k), {x: 0.4}, rtol=1e-10,
                           atol=1e-12)


def test_missing_taylor_rule_names_the_primitive():
    op = sn.register("tt_no_rules", np.sin, replace=True)
    for call in (lambda: taylor(op(x) * y, x, 2), lambda: nth_derivative(op(x), x, 3),
                 lambda: laplacian(op(x) + y, [x, y])):
        with pytest.raises(MissingRuleError, match="tt_no_rules"):
            call()


def test_argument_errors():
    with pytest.raises(ValueError, match="order"):
        jet_terms([x], {x: [x, 1]}, -1)
    with pytest.raises(TypeError, match="symbols"):
        taylor(x * y, x + 1, 2)
    with pytest.raises(TypeError, match="symbols"):
        mixed_derivative(x * y, [x, 2.0])
    assert mixed_derivative(x * y, []) is x * y
