"""Loops with scalar carries inside array programs are array loops (symnum.loops.api reads the
running tracer, symnum.tracing.mode): array-mode reverse and forward mode go through them,
agree with scalar mode and finite differences, and compile (llvm) to the interpreter's values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symnum as sn
from symnum.compile import lower
from symnum.loops.arrays import ArrayLoop
from symnum.loops.terms import is_loop

X = np.linspace(0.0, 1.0, 50)


def _fori(x, a):  # the carry is the scalar argument
    s = sn.fori_loop(0, 5, lambda i, v: sn.sin(v) * a + 1, a)
    return s * np.sum(x ** 2)


def _scan(x, a):  # scalar xs; the body closes over a 0-d array term
    w = np.sum(x ** 2)
    c, ys = sn.scan(lambda c, xi: (sn.cos(c) * a + xi * w, c * xi), a,
                    np.linspace(0.1, 0.5, 4))
    return c + np.sum(ys) * w


def _while(x, a):
    v = sn.while_loop(lambda v: v < 3.0, lambda v: v * (1.0 + a), a + 0.5, max_steps=20)
    return v * np.mean(x)


CASES = [_fori, _scan, _while]


def _loops(fn):
    from symnum.core.traversal import postorder

    return [n for n in postorder(fn.flat_outputs)
            if isinstance(getattr(n, "op", None), ArrayLoop) or is_loop(n)]


def _fd(f, x, a, h=1e-6):
    fa = sn.trace(f, x, a, mode="array")
    ga = (fa(x, a + h) - fa(x, a - h)) / (2 * h)
    gx = []
    for j in (0, 17, 49):
        e = np.zeros_like(x)
        e[j] = h
        gx.append((fa(x + e, a) - fa(x - e, a)) / (2 * h))
    return np.array(gx), float(ga)


@pytest.mark.parametrize("f", CASES)
def test_scalar_carry_loop_in_array_program_is_an_array_loop(f):
    fa = sn.trace(f, X, 0.3, mode="array")
    loops = _loops(fa)
    assert loops and all(isinstance(n.op, ArrayLoop) for n in loops)
    assert float(fa(X, 0.3)) == pytest.approx(float(sn.trace(f, X, 0.3, mode="scalar")(X, 0.3)),
                                              rel=1e-13)


@pytest.mark.parametrize("f", CASES)
def test_grad_array_mode_matches_scalar_mode_and_fd(f):
    gx, ga = sn.grad(f, argnums=(0, 1), mode="array")(X, 0.3)
    sx, sa = sn.grad(f, argnums=(0, 1), mode="scalar")(X, 0.3)
    np.testing.assert_allclose(gx, sx, rtol=1e-12, atol=1e-14)
    assert float(ga) == pytest.approx(float(sa), rel=1e-12)
    fx, fa = _fd(f, X, 0.3)
    np.testing.assert_allclose(np.asarray(gx)[[0, 17, 49]], fx, rtol=1e-6, atol=1e-8)
    assert float(ga) == pytest.approx(fa, rel=1e-6)


def test_grad_of_scalar_function_in_array_mode():
    def g(x):
        return sn.fori_loop(0, 3, lambda i, v: sn.sin(v) * x, x)

    got = float(sn.grad(g, mode="array")(0.7))
    assert got == pytest.approx(float(sn.grad(g, mode="scalar")(0.7)), rel=1e-13)
    h = 1e-6
    gs = sn.trace(g, 0.7, mode="scalar")
    assert got == pytest.approx((gs(0.7 + h) - gs(0.7 - h)) / (2 * h), rel=1e-7)


@pytest.mark.parametrize("f", CASES)
def test_jvp_and_hvp_array_mode_match_scalar_mode(f):
    t = (np.cos(X), 0.7)
    _, ja = sn.jvp(f, (X, 0.3), t, mode="array")
    _, js = sn.jvp(f, (X, 0.3), t, mode="scalar")
    assert float(ja) == pytest.approx(float(js), rel=1e-12)
    ha = sn.hvp(f, argnums=1, mode="array")(X, 0.3, 1.0)
    hs = sn.hvp(f, argnums=1, mode="scalar")(X, 0.3, 1.0)
    assert float(np.ravel(ha)[0]) == pytest.approx(float(np.ravel(hs)[0]), rel=1e-10)


@pytest.mark.parametrize("f", [_fori, _scan])
def test_compiled_gradient_equals_interpreter(f):
    fn = sn.trace(sn.grad(f, argnums=(0, 1), mode="array"), X, 0.3, mode="array")
    k = lower(fn, "llvm", cache=False)
    assert "array_loops" in k.info
    for got, want in zip(k(X, 0.4), fn(X, 0.4)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_auto_mode_no_longer_falls_back_on_large_arrays():
    xb = np.linspace(0.0, 1.0, 20000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ScalarFallbackWarning would fail here
        g = sn.grad(_fori, argnums=(0, 1))(xb, 0.3)
    assert float(g[1]) == pytest.approx(float(sn.grad(_fori, argnums=1, mode="array")(xb, 0.3)))


def test_scalar_trace_nested_in_array_trace_builds_scalar_loops():
    def h(a):
        return sn.fori_loop(0, 3, lambda i, v: sn.sin(v) * a, a)

    def outer(x, a):  # sn.grad traces h in scalar mode inside the array trace
        return np.sum(x) * sn.grad(h)(a)

    fo = sn.trace(outer, X, 0.3, mode="array")
    want = np.sum(X) * float(sn.grad(h, mode="scalar")(0.3))
    assert float(fo(X, 0.3)) == pytest.approx(want, rel=1e-13)


def test_concrete_loop_in_array_trace_runs_in_python():
    def conc(x):  # a Python branch on the carry: only a concrete loop can run it
        return np.sum(x) * sn.fori_loop(0, 3, lambda i, v: v * 2 if v > 0 else v, 1.0)

    fa = sn.trace(conc, X, mode="array")
    assert not _loops(fa)
    assert float(fa(X)) == pytest.approx(8 * np.sum(X))


def test_scalar_loop_in_large_program_compiles_natively():
    # a scalar carry is small, but scalarising would take the 5000-element program along
    xb = np.linspace(0.0, 1.0, 5000)
    fn = sn.trace(sn.grad(_fori, argnums=(0, 1), mode="array"), xb, 0.3, mode="array")
    k = lower(fn, "llvm", cache=False)
    assert k.info["array_loops"] == "native"
    for got, want in zip(k(xb, 0.4), fn(xb, 0.4)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    small = sn.trace(sn.grad(_fori, argnums=(0, 1), mode="array"), X, 0.3, mode="array")
    assert lower(small, "llvm", cache=False).info["array_loops"].startswith("scalarised")
