"""Loops carrying arrays compile as a loop around the body's loop plan (backends.array_loop_carry)
and agree with the reference interpreter (the ArrayFn itself, symnum.evaluate's array path).

llvm kernels compile in tens of milliseconds, so hypothesis runs them; numba compiles take
seconds: one numba kernel packs every kind of loop."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.compile import lower
from symnum.errors import CompileError

pytest.importorskip("llvmlite")

RNG = np.random.default_rng(12)


def _llvm(fn, **kw):
    return lower(fn, "llvm", cache=False, array_loops="native", **kw)


def _leaves(v):
    if isinstance(v, dict):
        return [x for k in sorted(v) for x in _leaves(v[k])]
    if isinstance(v, (tuple, list)):
        return [x for e in v for x in _leaves(e)]
    return [np.asarray(v)]


def _close(got, want, rtol=1e-12, atol=1e-12):
    g, w = _leaves(got), _leaves(want)
    assert len(g) == len(w)
    for a, b in zip(g, w):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def heat(steps, k=0.1):
    def run(u0):
        def step(i, u):
            return u + k * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
        return sn.fori_loop(0, steps, step, u0)
    return run


@settings(max_examples=8, deadline=None)
@given(n=st.integers(3, 300), steps=st.integers(0, 40))
def test_heat_fori_loop_llvm(n, steps):
    fn = sn.trace(heat(steps), np.zeros(n), mode="array")
    k = _llvm(fn)
    u = RNG.standard_normal(n)
    _close(k(u), fn(u))
    assert k.info["array_loops"] == "native" and "for t" in k.plan


def test_plan_does_not_grow_with_the_arrays():
    plans = [_llvm(sn.trace(heat(100), np.zeros(n), mode="array")).plan for n in (100, 10**5)]
    assert len(plans[0].splitlines()) == len(plans[1].splitlines())
    assert "cc" in plans[0] and ", m" in plans[0]  # carries ping-pong (a swap, no copy)


def _scan(xs, c0, q):
    c, ys = sn.scan(lambda c, v: (c * q + np.sin(v) * c[::-1],
                                  {"a": c.sum() * v[0], "b": c * v}), c0, xs)
    return c, ys


def _scan_rev(xs, c0, q):
    return sn.scan(lambda c, v: (np.tanh(c + v) * q, c - v), c0, xs, reverse=True)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 70), steps=st.integers(1, 12), rev=st.booleans())
def test_scan_xs_and_ys_over_arrays(n, steps, rev):
    f = _scan_rev if rev else _scan
    args = (RNG.standard_normal((steps, n)), RNG.standard_normal(n), 0.7)
    fn = sn.trace(f, *args, mode="array")
    k = _llvm(fn)
    _close(k(*args), fn(*args))
    # an array y the body computes is written straight into its row: no copy loop
    assert not re.search(r"ys\d+\[[^\]]*\] = m\d+\[", k.plan)


def _while(c0, q):
    return sn.while_loop(lambda v: np.sum(v) < 50.0, lambda v: v * 1.5 + q, c0, max_steps=30)


@pytest.mark.parametrize("q", [0.1, -5.0])  # stops early; runs out of max_steps
def test_while_loop_array_carry(q):
    c0 = np.abs(RNG.standard_normal(90))
    fn = sn.trace(_while, c0, q, mode="array")
    k = _llvm(fn)
    _close(k(c0, q), fn(c0, q))
    assert "break" in k.plan


def _reduce_body(u0, w):
    def step(i, u):
        v = np.exp(-u * w) + u
        return v / np.sum(v) * u.size + np.max(u) * 1e-3
    return sn.fori_loop(0, 7, step, u0)


def test_reduction_inside_the_body():
    args = (RNG.standard_normal(100), RNG.standard_normal(100))
    fn = sn.trace(_reduce_body, *args, mode="array")
    _close(_llvm(fn)(*args), fn(*args))


def _mixed(u0, x0, dt):
    def step(c, x):
        t, u, e = c
        u2 = u + dt * (np.roll(u, 1) - u) + x * t
        return (t + dt, u2, e + np.sum(u2 ** 2)), (t, u2[:3], np.sum(u2))
    return sn.scan(step, (0.0, u0, 0.0), x0)


def test_mixed_scalar_and_array_carries():
    args = (RNG.standard_normal(80), RNG.standard_normal((9, 80)), 0.05)
    fn = sn.trace(_mixed, *args, mode="array")
    _close(_llvm(fn)(*args), fn(*args))


def _shuffle(a0, b0):
    def step(i, c):  # carries swapped, one unchanged, one new value used twice
        a, b, z = c
        w = a * 0.5 + i
        return b, w, z
    a, b, z = sn.fori_loop(0, 5, step, (a0, b0, a0 * 2.0))
    c, _ = sn.scan(lambda c, _: ((c[0] + 1.0, c[0] + 1.0), None), (a0, b0), None, length=3)
    return a, b, z, c


def test_carries_swapped_unchanged_and_shared():
    args = (RNG.standard_normal(70), RNG.standard_normal(70))
    fn = sn.trace(_shuffle, *args, mode="array")
    _close(_llvm(fn)(*args), fn(*args))


def _nested(u0):
    def outer(i, u):
        return sn.fori_loop(0, 3, lambda j, v: v * 0.9 + np.roll(v, 1) * 0.1, u) + 1.0
    return sn.fori_loop(0, 4, outer, u0)


def _nested_xs(xs, c0):
    def outer(c, x):  # x is a (5, 40) slice: the inner scan runs over its rows
        c2, ys = sn.scan(lambda d, r: (d * 0.5 + r, np.sum(d * x[0])), c, x)
        return c2, ys
    return sn.scan(outer, c0, xs)


def test_nested_loops():
    u = RNG.standard_normal(66)
    fn = sn.trace(_nested, u, mode="array")
    _close(_llvm(fn)(u), fn(u))
    args = (RNG.standard_normal((3, 5, 40)), RNG.standard_normal(40))
    fn = sn.trace(_nested_xs, *args, mode="array")
    _close(_llvm(fn)(*args), fn(*args))


def test_gradient_through_array_loop_is_native_and_matches_fd():
    def loss(u0, k):
        def step(i, u):
            return u + k * (np.roll(u, 1) - 2 * u + np.roll(u, -1)) - 0.01 * u ** 3
        return np.sum(sn.fori_loop(0, 12, step, u0) ** 2)

    u, kk = RNG.standard_normal(80), 0.1
    g = sn.compile(sn.grad(loss, argnums=(0, 1), mode="array"), array_loops="native")
    gu, gk = g(u, kk)
    k = g.lower(u, kk)
    assert k.info["array_loops"] == "native"
    # one forward loop (the augmented one serves the primal too) and one reverse scan
    assert len(re.findall(r"^ *for t\d+ in range\(12\):", k.plan, re.M)) == 2
    f = sn.compile(loss, mode="array")
    h = 1e-6
    for j in (0, 17, 79):
        e = np.zeros_like(u)
        e[j] = h
        fd = (f(u + e, kk) - f(u - e, kk)) / (2 * h)
        assert gu[j] == pytest.approx(fd, rel=1e-6, abs=1e-8)
    assert gk == pytest.approx((f(u, kk + h) - f(u, kk - h)) / (2 * h), rel=1e-6)


def test_gradient_through_while_loop_native_matches_interpreter():
    def loss(c0, q):
        return np.sum(_while(c0, q) ** 2)

    c0, q = np.abs(RNG.standard_normal(70)), 0.2
    g = sn.compile(sn.grad(loss, argnums=(0, 1), mode="array"), array_loops="native")
    want = sn.compile(sn.grad(loss, argnums=(0, 1), mode="array"), backend="numpy")(c0, q)
    _close(g(c0, q), want, rtol=1e-11)
    assert "break" in g.lower(c0, q).plan


def test_choice_and_fallbacks_say_why():
    small = sn.trace(heat(5), np.zeros(8), mode="array")
    k = lower(small, "llvm", cache=False)
    assert k.info["array_loops"].startswith("scalarised: the loops carry 8 scalars")
    big = sn.trace(heat(5), np.zeros(100), mode="array")
    assert lower(big, "llvm", cache=False).info["array_loops"] == "native"
    forced = lower(big, "llvm", cache=False, array_loops="scalar")
    assert "array_loops='scalar'" in forced.info["array_loops"]
    u = RNG.standard_normal(100)
    np.testing.assert_allclose(forced(u), big(u), rtol=1e-12)

    def vec_cond(c0):  # a condition per element: the loop runs while any holds
        return sn.while_loop(lambda v: v < 5.0, lambda v: v + 1.0, c0, max_steps=9)

    c0 = RNG.standard_normal(70)
    fn = sn.trace(vec_cond, c0, mode="array")
    np.testing.assert_allclose(_llvm(fn)(c0), fn(c0))
    np.testing.assert_allclose(lower(fn, "llvm", cache=False, array_loops="scalar")(c0), fn(c0))

    def reverse_while(c0):  # no loop plan: scalar loops, and the reason is given
        from symnum.loops.arrays import array_loop

        def step(c, x, i):
            return c + 1.0, None, np.sum(c) < 99.0
        return array_loop("while", step, c0, None, 4, reverse=True)[0]

    fn = sn.trace(reverse_while, c0, mode="array")
    k = lower(fn, "llvm", cache=False)
    assert "a reversed while loop" in k.info["array_loops"]
    np.testing.assert_allclose(k(c0), fn(c0))
    with pytest.raises(CompileError, match="a reversed while loop"):
        lower(fn, "llvm", cache=False, array_loops="native")
    with pytest.raises(CompileError, match="array_loops must be"):
        lower(big, "llvm", array_loops="fast")


def _all_kinds(u0, xs, q):
    a = heat(6)(u0)
    c, ys = _scan(xs, u0[:xs.shape[1]], q)
    w = _while(np.abs(u0), q)
    m = _mixed(u0, xs[:, :1] * np.ones((1, u0.size)), 0.05)
    return a, c, ys, w, m, _reduce_body(u0, u0)


def test_numba_renders_the_same_plan():
    pytest.importorskip("numba")
    args = (RNG.standard_normal(70), RNG.standard_normal((5, 70)), 0.3)
    fn = sn.trace(_all_kinds, *args, mode="array")
    k = lower(fn, "numba", array_loops="native")
    assert k.backend == "numba" and k.info["array_loops"] == "native"
    _close(k(*args), fn(*args))


def test_auto_mode_counts_the_loop_body_when_deciding_to_scalarize():
    from symnum.arrays.auto import SCALARIZE_LIMIT, array_elements

    fn = sn.trace(heat(100), np.zeros(1000), mode="array")
    assert array_elements(fn) > SCALARIZE_LIMIT  # the body's ~7 arrays of 1000 count
    f = sn.compile(heat(100))  # mode="auto": stays an array program, one native loop
    u = RNG.standard_normal(1000)
    np.testing.assert_allclose(f(u), fn(u), rtol=1e-12)
    assert isinstance(f.fn, sn.ArrayFn) and f.lower(u).info["array_loops"] == "native"
    assert not isinstance(sn.compile(heat(100)).lower(u[:8]).fn, sn.ArrayFn)  # small: scalar


def test_auto_backend_takes_numbas_loop_plan_where_llvm_refuses():
    pytest.importorskip("numba")
    u = RNG.standard_normal(100).astype(np.float32)  # the llvm array loops take float64 data
    fn = sn.trace(heat(5), u, mode="array")
    k = lower(fn, "auto")
    assert k.backend == "numba" and k.info["array_loops"] == "native"
    assert "float32" in k.info["llvm_refused"]
    np.testing.assert_allclose(k(u), fn(u), rtol=1e-5)
