"""The reference interpreter: values, vectorisation and broadcasting, dtypes, NaN/inf like numpy,
pytrees, sharing, and the missing-symbol error."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

import symnum as sn
from symnum.core.evaluate import eval_many
from symnum.testing import build, expression_recipes

x, y = sn.Sym("x"), sn.Sym("y")
x32 = sn.Sym("x32", "float32")

VALUES = [
    (lambda: x * y + 1, {x: 2.0, y: 3.0}, 7.0),
    (lambda: x / 3, {x: 1.0}, 1 / 3),
    (lambda: x ** Fraction(1, 3), {x: 8.0}, 2.0),
    (lambda: sn.ifelse(x < y, x, y), {x: 2.0, y: -1.0}, -1.0),
    (lambda: (x < y) & (y < 3), {x: 2.0, y: 2.5}, True),
    (lambda: sn.atan2(y, x), {x: -1.0, y: 0.0}, math.pi),
    (lambda: sn.hypot(x, y) - 5, {x: 3.0, y: 4.0}, 0.0),
    (lambda: sn.Const(2) ** -1 * x, {x: 3.0}, 1.5),
    (lambda: x + 1, {"x": 2.0}, 3.0),  # keys may be names
]


@pytest.mark.parametrize("make, env, expected", VALUES)
def test_values(make, env, expected):
    assert sn.evaluate(make(), env) == pytest.approx(expected, rel=1e-15)


def test_vectorised_over_arrays_with_broadcasting():
    xs = np.linspace(-1, 1, 3)[:, None]
    ys = np.arange(4.0)
    v = sn.evaluate(sn.sin(x) * y + x, {x: xs, y: ys})
    assert v.shape == (3, 4)
    np.testing.assert_allclose(v, np.sin(xs) * ys + xs, rtol=1e-15)
    # a constant expression broadcasts as a scalar
    assert sn.evaluate(sn.Const(2.0) + 0 * x, {x: xs}) == 2.0


def test_float32_stays_float32():
    a = np.array([0.5, 1.5], dtype=np.float32)
    for e in (x32 * 0.5 + 1, sn.sin(x32) / 3 + x32**2, sn.exp(-x32)):
        assert sn.evaluate(e, {x32: a}).dtype == np.float32, e
    assert isinstance(sn.evaluate(x32 * 2, {x32: np.float32(1.0)}), np.float32)
    # mixing in a float64 input promotes like numpy
    assert sn.evaluate(x32 * x, {x32: a, x: np.ones(2)}).dtype == np.float64


def test_nan_and_inf_propagate_like_numpy_without_warnings():
    a = np.array([-1.0, 0.0, 1.0, np.nan, np.inf])
    cases = [
        (sn.log(x), np.log),
        (1 / x, lambda v: 1 / v),
        (sn.sqrt(x) + x, lambda v: np.sqrt(v) + v),
        (sn.minimum(x, 0.5), lambda v: np.minimum(v, 0.5)),
        (sn.exp(x) - x, lambda v: np.exp(v) - v),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for e, ref in cases:
            with np.errstate(all="ignore"):
                expected = ref(a)
            np.testing.assert_array_equal(sn.evaluate(e, {x: a}), expected, err_msg=str(e))


def test_boolean_results():
    v = sn.evaluate(x < 0.5, {x: np.array([0.0, 1.0])})
    assert v.dtype == np.bool_ and list(v) == [True, False]


def test_missing_symbol_is_named():
    with pytest.raises(sn.TracingError, match=r"no value given for symbol\(s\) x, y") as info:
        sn.evaluate(x + y + sn.Sym("z"), {"z": 1.0})
    assert "environment" in str(info.value)


def test_pytrees_and_object_arrays():
    out = sn.evaluate({"a": [x, 2 * x], "b": (x + 1, 3.0)}, {x: 2.0})
    assert out == {"a": [2.0, 4.0], "b": (3.0, 3.0)}
    arr = np.array([[x, y], [x * y, 1]], dtype=object)
    v = sn.evaluate(arr, {x: 2.0, y: 3.0})
    np.testing.assert_array_equal(v, [[2.0, 3.0], [6.0, 1.0]])
    batched = sn.evaluate(arr, {x: np.array([1.0, 2.0]), y: 3.0})
    assert batched.shape == (2, 2, 2)  # element shape + batch shape
    np.testing.assert_array_equal(batched[1, 0], [3.0, 6.0])


def test_fn_evaluates_with_positional_arguments():
    f = sn.trace(lambda a, b: {"s": a + b, "p": a * b}, 1.0, 1.0)
    out = sn.evaluate(f, (2.0, 3.0))
    assert out == {"s": 5.0, "p": 6.0}


def test_shared_subterms_are_computed_once():
    calls = []

    def impl(v):
        calls.append(1)
        return np.sin(v)

    f = sn.register("evaluate_counted", impl, replace=True)
    s = f(x)
    e = s * s + s + sn.exp(s)
    assert sn.evaluate(e, {x: 0.3}) == pytest.approx(
        math.sin(0.3) ** 2 + math.sin(0.3) + math.exp(math.sin(0.3)))
    assert len(calls) == 1
    calls.clear()
    eval_many([e, s, s + 1], {x: 0.3})
    assert len(calls) == 1


def test_deep_graphs_evaluate_without_recursion():
    e = x
    for _ in range(5000):
        e = sn.sin(e) * 0.5 + 0.25
    v = 0.1
    for _ in range(5000):
        v = math.sin(v) * 0.5 + 0.25
    assert sn.evaluate(e, {x: 0.1}) == pytest.approx(v, rel=1e-12)


@given(expression_recipes(2, max_depth=3))
def test_array_evaluation_equals_pointwise(recipe):
    e = build(recipe, [x, y])
    xs = np.array([-1.5, 0.25, 1.75])
    ys = np.array([0.5, -2.0, 1.0])
    batch = np.broadcast_to(sn.evaluate(e, {x: xs, y: ys}), (3,))
    for i in range(3):
        one = sn.evaluate(e, {x: xs[i], y: ys[i]})
        assert batch[i] == pytest.approx(one, rel=1e-15, abs=1e-15, nan_ok=True)


def test_symarray_keys_an_environment():
    # issue 13 item 5: {S: array} failed (a SymArray was unhashable)
    S = sn.symarray("s", (2, 2))
    e = S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert float(sn.evaluate(e, {S: A})) == pytest.approx(np.linalg.det(A))
    batch = np.stack([A, 2 * A], axis=-1)  # element shape followed by a batch dimension
    np.testing.assert_allclose(sn.evaluate(e, {S: batch}), [-2.0, -8.0])
    with pytest.raises(sn.ShapeError, match="shape"):
        sn.evaluate(e, {S: np.zeros(3)})
