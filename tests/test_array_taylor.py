"""Taylor mode on array programs (symnum.autodiff.array_taylor): jets of array programs against
the scalar path (sn.taylor of the same Python function traced in scalar mode), against nested
forward/reverse mode (c₁ = JVP, 2c₂ = vᵀ(Hv)), per op family and on random programs; the
Laplacians against the trace of the scalar-mode Hessian; program size independent of n; a
compiled jet agrees with the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_arrays_ad import ALL, STEPS

import symnum as sn
from symnum.autodiff.array_ad import grad_fn
from symnum.autodiff.array_jvp import hvp_fn, jvp_fn
from symnum.autodiff.array_taylor import (
    derivative_fn,
    directional_fn,
    jet_arrays,
    laplacian_fn,
    taylor_fn,
)
from symnum.compile import lower
from symnum.errors import ShapeError

RNG = np.random.default_rng(11)


@pytest.mark.parametrize("name", sorted(ALL))
def test_jets_match_scalar_path_and_nested_modes(name):
    f = ALL[name]
    x, v = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    af = sn.trace(f, x, mode="array")
    cs = taylor_fn(af, 3)(x, v)
    ref = sn.taylor(f, order=3)(x, v)  # scalar mode: jets of scalar terms
    np.testing.assert_allclose(np.array(cs, float), np.array(ref, float), rtol=1e-8,
                               atol=1e-8, err_msg=name)
    _, (t,) = jvp_fn(af)(x, (v,))
    np.testing.assert_allclose(cs[1], t, rtol=1e-9, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(2 * cs[2], np.sum(v * hvp_fn(af)(x, v)), rtol=1e-8, atol=1e-8,
                               err_msg=name)


def test_array_outputs_scalar_inputs_and_derivative():
    XT = RNG.standard_normal((2, 5))

    def f(a, x):
        return np.sin(a * x) @ XT, np.cumprod(np.exp(a * x)), a ** 3 * np.sum(x)

    x = RNG.standard_normal(2)
    af = sn.trace(f, 0.4, x, mode="array")
    d3 = derivative_fn(af, order=3)(0.4, x)
    ref = sn.derivative(lambda a: np.sum(np.sin(a * x) * XT[:, 1]) + np.prod(np.exp(a * x)),
                        order=3)(0.4)  # two entries, written for scalar mode
    np.testing.assert_allclose(d3[0][1] + d3[1][1], ref, rtol=1e-9)
    np.testing.assert_allclose(d3[2], 6 * np.sum(x), rtol=1e-12)
    h = 1e-3
    for k in (0, 1):
        fd = (f(0.4 + 2 * h, x)[k] - 2 * f(0.4 + h, x)[k] + 2 * f(0.4 - h, x)[k]
              - f(0.4 - 2 * h, x)[k]) / (2 * h ** 3)
        np.testing.assert_allclose(d3[k], fd, rtol=1e-4, atol=1e-5)
    with pytest.raises(ShapeError, match="scalar argument"):
        derivative_fn(af, argnums=1)


def test_directional_derivative_of_a_pytree_argument():
    def f(p):
        return np.sum(np.tanh(p["w"] @ p["b"]) ** 2)

    p = {"w": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2)}
    d = {"w": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2)}
    af = sn.trace(f, p, mode="array")
    got = directional_fn(af, order=2)(p, d)  # the direction shaped like the argument
    H = np.asarray(sn.hessian(lambda z: f({"w": z[2:].reshape(3, 2), "b": z[:2]}))(
        np.concatenate([p["b"], p["w"].ravel()])), float)
    dv = np.concatenate([d["b"], d["w"].ravel()])
    np.testing.assert_allclose(got, dv @ H @ dv, rtol=1e-9)


@pytest.mark.parametrize("name", ["sin_exp", "broadcast_col", "prod", "max", "logsumexp",
                                  "roll", "matmul", "take_repeats", "pad", "cumprod", "cummax"])
def test_exact_laplacian_is_the_hessian_trace(name):
    f = ALL[name]
    x = RNG.standard_normal((4, 3))
    lap = laplacian_fn(sn.trace(f, x, mode="array"))(x)
    H = np.asarray(sn.hessian(f)(x), float).reshape(12, 12)
    np.testing.assert_allclose(lap, np.trace(H), rtol=1e-8, atol=1e-8)


def test_stochastic_laplacian_is_the_mean_over_its_directions():
    f = ALL["sin_exp"]
    x = RNG.standard_normal((4, 3))
    af = sn.trace(f, x, mode="array")
    H = np.asarray(sn.hessian(f)(x), float).reshape(12, 12)
    for dist in ("rademacher", "normal"):
        est = laplacian_fn(af, method="stochastic", samples=5, rng=3, distribution=dist)(x)
        r = np.random.default_rng(3)
        V = r.choice([-1.0, 1.0], size=(5, 12)) if dist == "rademacher" else \
            r.standard_normal((5, 12))
        np.testing.assert_allclose(est, np.mean(np.einsum("si,ij,sj->s", V, H, V)), rtol=1e-9)
    with pytest.raises(ValueError, match="method"):
        laplacian_fn(af, method="exactly")
    with pytest.raises(ShapeError, match="one scalar output"):
        laplacian_fn(sn.trace(lambda x: x * 2, x, mode="array"))


def test_program_size_independent_of_n():
    def f(x):
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2) + np.sum(
            np.cumsum(np.sin(x)) * np.roll(x, 2))

    for make in (lambda a: taylor_fn(a, 4), lambda a: laplacian_fn(a)):
        sizes = [make(sn.trace(f, np.zeros(n), mode="array")).count_ops()
                 for n in (10, 1000, 100_000)]
        assert sizes[0] == sizes[1] == sizes[2], sizes


def test_compiled_jet_and_laplacian_agree_with_interpreter():
    def f(x):
        return np.sum(np.exp(np.sin(x[1:]) * x[:-1])) + np.sum(np.cumsum(x) ** 2) / 7

    x, v = RNG.standard_normal(6), RNG.standard_normal(6)
    t = taylor_fn(sn.trace(f, x, mode="array"), 3)
    np.testing.assert_allclose(np.array(lower(t, "numba")(x, v), float),
                               np.array(t(x, v), float), rtol=1e-12, atol=1e-12)
    lap = laplacian_fn(sn.trace(f, x, mode="array"))
    np.testing.assert_allclose(lower(lap, "numba")(x), lap(x), rtol=1e-12)


def test_bad_seeds():
    x = sn.array_symbol("x", (3,))
    with pytest.raises(ShapeError, match="coefficient of shape"):
        jet_arrays([np.sum(x)], {x: [sn.array_symbol("v", (2,))]}, 2)
    with pytest.raises(TypeError, match="input symbols"):
        jet_arrays([np.sum(x)], {x * 2: [x]}, 2)
    with pytest.raises(ValueError, match="order"):
        jet_arrays([np.sum(x)], {x: [x]}, -1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, len(STEPS) - 1), min_size=1, max_size=4),
       st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_random_programs_match_scalar_mode(steps, n, seed):
    def f(x):
        for s in steps:
            x = STEPS[s](x)
        return np.sum(np.sin(x) * np.arange(1.0, x.shape[0] + 1))

    r = np.random.default_rng(seed)
    x, v = r.standard_normal(n), r.standard_normal(n)
    af = sn.trace(f, x, mode="array")
    got = np.array(taylor_fn(af, 2)(x, v), float)
    np.testing.assert_allclose(got, np.array(sn.taylor(f, order=2)(x, v), float), rtol=1e-7,
                               atol=1e-7)
    np.testing.assert_allclose(got[1], np.sum(grad_fn(af)(x) * v), rtol=1e-8, atol=1e-8)
    # the batched rules (every unit direction at once) against the scalar path's n jets
    np.testing.assert_allclose(laplacian_fn(af)(x), sn.laplacian(f)(x), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("name", ["sin_exp", "logsumexp", "matmul", "cumprod", "roll"])
def test_third_coefficient_is_nested_jvp(name):
    """k!·c_k of the jet equals k nested forward-mode derivatives along v (jvp of jvp of jvp,
    spliced as array programs)."""
    f = ALL[name]
    x, v = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))

    def d1(z):
        return sn.jvp(f, mode="array")(z, v)[1]

    def d2(z):
        return sn.jvp(d1, mode="array")(z, v)[1]

    def d3(z):
        return sn.jvp(d2, mode="array")(z, v)[1]

    nested = sn.trace(d3, x, mode="array")  # an array program (interpreted below)
    c = taylor_fn(sn.trace(f, x, mode="array"), 3)(x, v)
    np.testing.assert_allclose(nested(x), 6 * c[3], rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(sn.trace(d2, x, mode="array")(x), 2 * c[2], rtol=1e-8, atol=1e-8)
