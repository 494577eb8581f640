"""numpy's remaining float ufuncs (issue 13 item 6): traced, evaluated and compiled exactly as
numpy computes them, with JAX's derivatives (zero for step functions, ½/½ at logaddexp's tie)."""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn

SPECIAL = np.array([-7.3, -2.5, -1.0, -0.5, -0.0, 0.0, 0.1, 0.5, 1.5, 2.5, 3.7, 7.0, 1e300,
                    np.inf, -np.inf, np.nan])
A, B = (m.ravel() for m in np.meshgrid(SPECIAL, SPECIAL))

UNARY = {"arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "cbrt": np.cbrt,
         "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint,
         "round": np.round, "round2": lambda v: np.round(v, 2),
         "round-1": lambda v: np.round(v, -1),
         "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite, "signbit": np.signbit,
         "astype": lambda v: v.astype(float)}
BINARY = {"copysign": np.copysign, "fmod": np.fmod, "mod": np.mod, "%": lambda a, b: a % b,
          "floor_divide": np.floor_divide, "//": lambda a, b: a // b,
          "logaddexp": np.logaddexp, "logaddexp2": np.logaddexp2, "fmax": np.fmax,
          "fmin": np.fmin, "remainder": np.remainder}


def _same(got, want, exact=True):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    if exact:
        np.testing.assert_array_equal(got[ok], want[ok])
        np.testing.assert_array_equal(np.signbit(got[ok]), np.signbit(want[ok]))
    else:  # libm against numpy's own implementation: an ulp or two
        np.testing.assert_allclose(got[ok], want[ok], rtol=4e-16, atol=0)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_traces_and_evaluates_like_numpy(name):
    f = UNARY[name]
    x = sn.symbols("x")
    u = sn.symarray("u", SPECIAL.shape)
    with np.errstate(all="ignore"):
        want = f(SPECIAL)
        _same(sn.evaluate(f(x), {x: SPECIAL}) * np.ones_like(SPECIAL), want)
        _same(sn.evaluate(f(u), {u: SPECIAL}), want)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_traces_and_evaluates_like_numpy(name):
    f = BINARY[name]
    x, y = sn.symbols("x y")
    with np.errstate(all="ignore"):
        _same(sn.evaluate(f(x, y), {x: A, y: B}) * np.ones_like(A), f(A, B))
        _same(sn.evaluate(f(x, 2.5), {x: A}) * np.ones_like(A), f(A, 2.5))
        _same(sn.evaluate(f(2.5, y), {y: B}) * np.ones_like(B), f(2.5, B))


def _all_new(a, b):
    outs = [np.where(g(a), 1.0, 0.0) if g in (np.isnan, np.isinf, np.isfinite, np.signbit)
            else g(a) for g in UNARY.values() if g is not UNARY["astype"]]
    return np.stack(outs + [g(a, b) for g in BINARY.values()])


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_compiled_kernels_agree_with_numpy(backend, tmp_path):
    with np.errstate(all="ignore"):
        want = _all_new(A, B)
    from symnum.compile import lower

    # traced on scalars: one small kernel, run over the points as a batch
    k = lower(sn.trace(_all_new, 0.0, 0.0), backend, cache_dir=str(tmp_path))
    got = k(A, B)  # batched
    # arcsinh/arccosh/arctanh/cbrt (rows 0-3) call libm, numpy has its own: an ulp apart
    _same(got[:4], want[:4], exact=False)
    _same(got[4:], want[4:])
    for i in (0, 17, 100, 200):  # the scalar kernel
        _same(k(A[i], B[i])[4:], want[4:, i])


def test_step_functions_have_zero_derivatives_like_jax():
    x = sn.symbols("x")
    for f in (np.floor, np.ceil, np.trunc, np.rint, np.round, lambda v: v // 3.0):
        assert sn.diff(f(x), x) is sn.Const(0)
    e = np.floor(x) * x
    assert float(sn.evaluate(sn.diff(e, x), {x: 2.5})) == 2.0


def test_derivatives_at_ties_and_remainders():
    x, y = sn.symbols("x y")
    g = sn.diff(np.logaddexp(x, y), x)
    assert float(sn.evaluate(g, {x: 1.0, y: 1.0})) == 0.5  # ½ at the tie, as JAX
    assert float(sn.evaluate(sn.diff(np.logaddexp2(x, y), y), {x: 3.0, y: 3.0})) == 0.5
    assert float(sn.evaluate(sn.diff(x % y, x), {x: 7.5, y: 2.0})) == 1.0
    assert float(sn.evaluate(sn.diff(x % y, y), {x: 7.5, y: 2.0})) == -3.0  # -floor(x/y)
    assert float(sn.evaluate(sn.diff(x % y, y), {x: -7.5, y: 2.0})) == 4.0
    assert float(sn.evaluate(sn.diff(np.fmax(x, y), y), {x: np.nan, y: 2.0})) == 1.0
    for f, d in [(np.arcsinh, lambda v: 1 / np.sqrt(v * v + 1)),
                 (np.arctanh, lambda v: 1 / (1 - v * v)), (np.cbrt, lambda v: v ** (-2 / 3) / 3)]:
        assert float(sn.evaluate(sn.diff(f(x), x), {x: 0.3})) == pytest.approx(d(0.3), rel=1e-14)


def test_taylor_of_new_primitives_matches_nested_diff():
    x = sn.symbols("x")
    for e in (np.arcsinh(2 * x), np.cbrt(1 + x), np.logaddexp(x, 0.5 * x * x), np.arccosh(2 + x)):
        coeffs = sn.taylor(e, x, 3)
        d = e
        for k, c in enumerate(coeffs):
            want = float(sn.evaluate(d, {x: 0.2})) / float(np.prod(np.arange(1, k + 1)))
            assert float(sn.evaluate(c, {x: 0.2})) == pytest.approx(want, rel=1e-12, abs=1e-14)
            d = sn.diff(d, x)


def test_logaddexp_is_stable_where_the_naive_formula_overflows():
    x, y = sn.symbols("x y")
    e = np.logaddexp(x, y)
    assert float(sn.evaluate(e, {x: 1000.0, y: 1000.0})) == np.logaddexp(1000.0, 1000.0)
    k = sn.compile(lambda a, b: np.logaddexp(a, b), backend="llvm")
    assert float(k(1000.0, -1000.0)) == 1000.0


def test_norm_inf_and_astype():
    u = sn.symarray("u", 3)
    v = np.array([1.0, -4.0, 2.0])
    for o in (np.inf, -np.inf, 1, 2, None, 0, 3):
        assert float(sn.evaluate(np.linalg.norm(u, ord=o), {u: v})) == pytest.approx(
            np.linalg.norm(v, ord=o), rel=1e-15)
    assert u.astype(float)[1] is u[1] and u[0].astype(np.float64) is u[0]
