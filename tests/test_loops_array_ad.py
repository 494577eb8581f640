"""Reverse mode through array loops (symnum.loops.array_ad) keeps only what the adjoint reads:
the backward scan carries the cotangents of the carries an active argument needs and the
accumulators of active consts only, and the forward loop stores only the incoming carries the
backward body reads — none for a linear step (then there is no table and no second forward
loop). Gradients are the same bits as before (the same sweep over fewer placeholders) and
agree with finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn
from symnum.arrays.terms import ArrayTerm
from symnum.compile import lower
from symnum.core.traversal import postorder
from symnum.loops.arrays import ArrayLoop, ArrayLoopOut

RNG = np.random.default_rng(1213)


def _stacked(fn) -> list:
    """Shapes of the stacked ys the program reads at its top level (the stored carries)."""
    return [n.shape for n in postorder(list(fn.flat_outputs))
            if isinstance(n, ArrayTerm) and isinstance(n.op, ArrayLoopOut) and n.op.stacked]


def _backward(fn) -> list:
    return [n for n in postorder(list(fn.flat_outputs))
            if isinstance(n, ArrayTerm) and isinstance(n.op, ArrayLoop) and n.op.spec.reverse]


def linear_heat(u0, k):
    return np.sum(sn.fori_loop(0, 7, lambda i, u: u + k * (
        np.roll(u, 1) - 2 * u + np.roll(u, -1)), u0) ** 2)


def timed(u0, t0):
    """A (field, time) carry: the field's step reads the time, the time's reads only itself."""
    def step(i, c):
        u, t = c
        return u * np.cos(t) + 0.1 * np.roll(u, 1), t + 0.25
    u, t = sn.fori_loop(0, 6, step, (u0, t0))
    return np.sum(u ** 2) + t


def _fd(f, args, j, h=1e-6):
    a = np.asarray(args[j], dtype=float)
    out = []
    for i in [0, a.size - 1] if a.ndim else [None]:
        e = np.zeros_like(a)
        if i is None:
            e = h
        else:
            e.reshape(-1)[i] = h
        plus, minus = list(args), list(args)
        plus[j], minus[j] = a + e, a - e
        out.append((f(*plus) - f(*minus)) / (2 * h))
    return np.array(out)


def test_a_linear_step_stores_nothing_when_the_const_is_not_asked_for():
    u, k = RNG.standard_normal(10), 0.1
    only_u = sn.trace(sn.grad(linear_heat, argnums=0, mode="array"), u, k, mode="array")
    both = sn.trace(sn.grad(linear_heat, argnums=(0, 1), mode="array"), u, k, mode="array")
    # ∂u0 of a linear step reads no carry: no table; ∂k reads them all
    assert _stacked(only_u) == []
    assert _stacked(both) == [(7, 10)]
    # the backward scan carries ∂u only (no accumulator for the const nobody asked for)
    (b,) = _backward(only_u)
    assert (b.op.spec.nc, b.op.spec.ny) == (1, 0)
    g1 = sn.grad(linear_heat, argnums=0, mode="array")(u, k)
    g2 = sn.grad(linear_heat, argnums=(0, 1), mode="array")(u, k)
    assert np.array_equal(g1, g2[0])
    f = sn.trace(linear_heat, u, k, mode="array")
    np.testing.assert_allclose(g1[[0, 9]], _fd(f, (u, k), 0), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_compiled_kernels_allocate_no_table_nobody_reads(backend):
    u, k = RNG.standard_normal(12), 0.1
    fn = sn.trace(sn.grad(linear_heat, argnums=0, mode="array"), u, k, mode="array")
    ker = lower(fn, backend, array_loops="native")
    assert "(7, 12)" not in ker.plan  # the table the numba kernel used to write, unread
    assert ker.plan.count("for t") == 2  # one forward loop, one backward
    np.testing.assert_allclose(ker(u, k), sn.grad(linear_heat, argnums=0, mode="array")(u, k),
                               rtol=1e-13, atol=1e-15)


def test_only_the_carries_read_are_stored_and_only_the_needed_cotangents_carried():
    u, t = RNG.standard_normal(5), 0.3
    fn = sn.trace(sn.grad(timed, argnums=0, mode="array"), u, t, mode="array")
    # the field's step reads the time (cos t), the derivative reads no field: the time's
    # column is stored, the field's table is not; the time's cotangent reaches no argument
    # asked for (its init is not active): one backward carry
    assert _stacked(fn) == [(6,)]
    (b,) = _backward(fn)
    assert b.op.spec.nc == 1
    g = sn.grad(timed, argnums=0, mode="array")(u, t)
    g_all = sn.grad(timed, argnums=(0, 1), mode="array")(u, t)
    assert np.array_equal(g, g_all[0])
    f = sn.trace(timed, u, t, mode="array")
    np.testing.assert_allclose(g[[0, 4]], _fd(f, (u, t), 0), rtol=1e-6, atol=1e-9)
    assert float(g_all[1]) == pytest.approx(float(_fd(f, (u, t), 1)[0]), rel=1e-6)
    # asked for the time too: both cotangents carried
    (b2,) = _backward(sn.trace(sn.grad(timed, argnums=(0, 1), mode="array"), u, t,
                               mode="array"))
    assert b2.op.spec.nc == 2


def test_a_scan_whose_ys_have_no_cotangent_reads_no_zero_table():
    def f(u0, xs):
        (u, _), ys = sn.scan(lambda c, x: ((c[0] * 0.9 + x, c[1]), np.sin(c[0])), (u0, 1.0), xs)
        return np.sum(u ** 2)  # ys unused

    u, xs = RNG.standard_normal(4), RNG.standard_normal((5, 4))
    fn = sn.trace(sn.grad(f, argnums=(0, 1), mode="array"), u, xs, mode="array")
    (b,) = _backward(fn)
    # x_in of the backward scan: no stored carry (linear), no xs, no ys cotangent table
    assert b.op.spec.nx == 0
    g = sn.grad(f, argnums=(0, 1), mode="array")(u, xs)
    ff = sn.trace(f, u, xs, mode="array")
    np.testing.assert_allclose(g[0][[0, 3]], _fd(ff, (u, xs), 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.asarray(g[1]).reshape(-1)[[0, 19]], _fd(ff, (u, xs), 1),
                               rtol=1e-6, atol=1e-9)
