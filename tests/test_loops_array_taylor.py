"""Taylor mode through array loops (symnum.loops.array_taylor): array-mode jacfwd (a batched
first-order jet), derivative and taylor (jets of order k) agree with scalar mode, through
fori, scan (xs, stacked ys, reversed) and while loops, with array and scalar carries."""

from __future__ import annotations

import math

import numpy as np
import pytest

import symnum as sn
from symnum.compile import lower

RNG = np.random.default_rng(7)
U = RNG.standard_normal(6)
XS = RNG.standard_normal((5, 2))


def _heat(u0, k):
    def step(i, u):
        return u + k * (np.roll(u, 1) - 2 * u + np.roll(u, -1)) - 0.01 * u ** 3
    return sn.fori_loop(0, 6, step, u0)


def _scan(u0, xs):  # xs leaves, stacked ys, run backwards
    c, ys = sn.scan(lambda c, x: (np.sin(c) * x[0] + x[1], np.sum(c * x)), u0, xs,
                    reverse=True)
    return np.sum(c ** 2) + np.sum(ys ** 2)


def _while(u0, q):
    return sn.while_loop(lambda v: np.sum(v) < 4.0, lambda v: v * (1.0 + q) + 0.1, u0,
                         max_steps=30)


def _scalar_carry(x, a):
    s = sn.fori_loop(0, 5, lambda i, v: sn.sin(v) * a + np.sum(x) * 0.01, a)
    return s * np.sum(x ** 2)


CASES = [(_heat, (U, 0.1)), (_scan, (U[:2], XS)), (_while, (np.abs(U) * 0.1, 0.2)),
         (_scalar_carry, (U, 0.3))]


@pytest.mark.parametrize("f,args", CASES)
@pytest.mark.parametrize("argnum", [0, 1])
def test_jacfwd_array_mode_matches_scalar_mode(f, args, argnum):
    a = np.asarray(sn.jacfwd(f, argnums=argnum, mode="array")(*args), float)
    s = np.asarray(sn.jacfwd(f, argnums=argnum, mode="scalar")(*args), float)
    np.testing.assert_allclose(a, s, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("order", [2, 3])
def test_derivative_through_scalar_carry_loop(order):
    a = sn.derivative(_scalar_carry, order=order, argnums=1, mode="array")(U, 0.3)
    s = sn.derivative(_scalar_carry, order=order, argnums=1, mode="scalar")(U, 0.3)
    assert float(a) == pytest.approx(float(s), rel=1e-10)


def test_taylor_coefficients_through_array_loop():
    v = RNG.standard_normal(6)

    def hf(u0):
        return np.sum(_heat(u0, 0.1) ** 2)

    got = sn.taylor(hf, order=3, mode="array")(U, v)

    def line(t):
        return hf(U + t * v)

    want = [sn.trace(line, 0.0, mode="scalar")(0.0)] + [
        sn.derivative(line, order=k, mode="scalar")(0.0) / math.factorial(k) for k in (1, 2, 3)]
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=1e-10)


def test_compiled_jacfwd_through_loop_equals_interpreter():
    fn = sn.trace(sn.jacfwd(_scan, argnums=1, mode="array"), U[:2], XS, mode="array")
    k = lower(fn, "llvm", cache=False)
    np.testing.assert_allclose(k(U[:2], XS), fn(U[:2], XS), rtol=1e-12, atol=1e-14)
