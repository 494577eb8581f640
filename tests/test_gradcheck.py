"""symnum.testing.gradcheck: the public derivative checks pass on correct derivatives, over random
expressions, and fail, clearly, on wrong derivative and Taylor rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import symnum as sn
from symnum.core.taylor_rules import TaylorRule
from symnum.errors import ShapeError
from symnum.testing import STEP_OPS, VALUE_OPS, expressions, gradcheck, points
from symnum.testing.gradcheck import check_grads, check_jvp_vjp, check_taylor
from symnum.tracing.fn import Fn, trace

x, y, z = sn.Sym("x"), sn.Sym("y"), sn.Sym("z")
SMOOTH = tuple(o for o in VALUE_OPS if o not in STEP_OPS + ("hypot",))


def scalar(x, y):
    return np.sin(x) * y ** 2 + np.exp(x * y) / (1 + y ** 2)


def vector(v):
    return np.array([v[0] * v[1], np.tanh(v[1] - v[2]), np.log1p(v[0] ** 2) * v[2]])


def tree(params, x):
    h = np.tanh(params["w"] * x + params["b"])
    return {"loss": np.sum(h ** 2), "aux": [h[0] * params["b"], np.sqrt(1 + x ** 2)]}


def with_int(x, n):
    return x ** n + n * np.sin(x)


def many(v):
    return np.sum(np.cos(v) * np.roll(v, 1)) + v[0] * v[-1]


PASSING = [
    (scalar, (0.3, 1.5)),
    (scalar, (-1.2, 0.1)),
    (vector, (np.array([0.5, -1.0, 2.0]),)),
    (tree, ({"w": np.array([0.5, -0.3]), "b": 0.1}, np.array([1.0, 2.0]))),
    (with_int, (0.7, 3)),  # the int argument is held fixed
    (many, (np.linspace(-1, 1, 40),)),  # more inputs than max_directions: random directions
    (lambda x: np.exp(np.sin(x)) * x ** 3, 1.1),  # a non-tuple is the single argument
]


@pytest.mark.parametrize("f, args", PASSING)
def test_passes_on_correct_derivatives(f, args):
    check_grads(f, args, order=1)
    check_grads(f, args, order=2)
    check_grads(f, args, order=1, modes=("rev",))
    check_jvp_vjp(f, args)


def test_accepts_an_fn():
    fn = trace(scalar, 0.3, 1.5)
    check_grads(fn, (0.3, 1.5), order=2)
    check_jvp_vjp(fn, (0.3, 1.5))
    check_taylor(fn, (0.3, 1.5), order=5)
    check_grads(Fn((x, y), [x * y, sn.atan2(y, 1 + x ** 2)]), (0.5, 2.0))


@pytest.mark.parametrize("f, args, n", [(scalar, (0.3, 1.5), 2),
                                        (vector, (np.array([0.5, -1., 2.]),), 3),
                                        (lambda x: np.tan(x) ** 2 / (1 + x), 0.4, 1)])
def test_check_taylor_passes(f, args, n):
    check_taylor(f, args, order=6)
    check_taylor(f, args, order=3, direction=np.ones(n))


@settings(max_examples=150)
@given(expressions([x, y, z], SMOOTH, max_depth=4), points([x, y, z]))
def test_random_expressions_pass(e, env):
    fn = Fn((x, y, z), e)
    args = (env[x], env[y], env[z])
    check_grads(fn, args)
    check_jvp_vjp(fn, args)


@settings(max_examples=40)
@given(expressions([x, y], SMOOTH, max_depth=3), points([x, y]))
def test_random_expressions_pass_order_2_and_taylor(e, env):
    fn = Fn((x, y), [e, e * x])
    args = (env[x], env[y])
    check_grads(fn, args, order=2)
    check_taylor(fn, args, order=4)


# ---------------------------------------------------------------------------------------------
# wrong rules are caught, with messages that say where


@pytest.fixture
def wrong_sin():
    # sin's values, the derivative of something else
    return sn.register("gc_wrong_sin", np.sin, partials=lambda a: (sn.cos(a) + 0.01 * a,),
                       replace=True)


@pytest.mark.parametrize("mode, label", [("fwd", "forward mode"), ("rev", "reverse mode")])
def test_wrong_first_derivative_fails(wrong_sin, mode, label):
    def f(x, y):
        return np.array([wrong_sin(x) * y, y ** 2])

    with pytest.raises(AssertionError) as info:
        check_grads(f, (0.8, 2.0), modes=(mode,))
    msg = str(info.value)
    assert label in msg and "finite differences" in msg
    assert "∂output[0]/∂x" in msg and "AD = " in msg and "FD = " in msg
    assert "x=0.8" in msg
    assert "output[1]" not in msg  # only the wrong entry is reported


def test_wrong_derivative_found_along_random_directions(wrong_sin):
    with pytest.raises(AssertionError, match="along v ="):
        check_grads(lambda v: np.sum(wrong_sin(v)), (np.linspace(0.1, 1, 40),))
    with pytest.raises(AssertionError, match="uᵀf for u ="):
        check_grads(lambda v: wrong_sin(v) * 2, (np.linspace(0.1, 1, 40),), modes=("rev",))


def test_wrong_second_derivative_needs_order_2():
    # gc_sin is right; gc_cos (its derivative) has the wrong derivative itself
    gc_cos = sn.register("gc_cos", np.cos, partials=lambda a: (sn.sin(a),), replace=True)
    gc_sin = sn.register("gc_sin", np.sin, partials=lambda a: (gc_cos(a),), replace=True)

    def f(x):
        return gc_sin(x) * 2

    check_grads(f, (0.6,), order=1)
    with pytest.raises(AssertionError, match="the jvp of f along t"):
        check_grads(f, (0.6,), order=2, modes=("fwd",))
    with pytest.raises(AssertionError, match="the vjp of f with u"):
        check_grads(f, (0.6,), order=2, modes=("rev",))


def test_check_jvp_vjp_catches_disagreement(monkeypatch):
    real = gradcheck.vjp_terms
    monkeypatch.setattr(gradcheck, "vjp_terms", lambda *a: [2 * g for g in real(*a)])
    with pytest.raises(AssertionError, match="forward and reverse mode disagree"):
        check_jvp_vjp(vector, (np.array([0.5, -1.0, 2.0]),))


def test_check_taylor_catches_a_wrong_recurrence():
    def rule(k, ys, xs, aux, state):  # exp's recurrence, off by a factor at k ≥ 2
        s = sn.add(*[sn.mul(j, xs[0][j], ys[k - j]) for j in range(1, k + 1)])
        return sn.mul(s, 1.0 / k if k == 1 else 1.1 / k)

    myexp = sn.register("gc_myexp", np.exp, partials=lambda a: (sn.exp(a),),
                        taylor=TaylorRule(rule), replace=True)
    check_taylor(lambda x: myexp(x), 0.3, order=1)
    with pytest.raises(AssertionError, match="order 2") as info:
        check_taylor(lambda x: myexp(2 * x), 0.3, order=4)
    assert "Taylor" in str(info.value) and "nested" in str(info.value)


# ---------------------------------------------------------------------------------------------
# misuse


def test_argument_errors():
    with pytest.raises(ValueError, match="order"):
        check_grads(scalar, (0.3, 1.5), order=0)
    with pytest.raises(ValueError, match="modes"):
        check_grads(scalar, (0.3, 1.5), modes=("sideways",))
    with pytest.raises(ValueError, match="no floating-point inputs"):
        check_grads(lambda n: n * 2, (3,))
    with pytest.raises(ShapeError, match="takes 2 argument"):
        check_grads(Fn((x, y), x * y), (1.0,))
    with pytest.raises(ShapeError, match="shape"):
        check_grads(Fn((sn.symarray("u", (2,)),), x), (np.zeros(3),))
    with pytest.raises(TypeError, match="Fn or a Python function"):
        check_grads(42, (1.0,))
    with pytest.raises(ShapeError, match="direction"):
        check_taylor(scalar, (0.3, 1.5), direction=[1.0])


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(gradcheck, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
