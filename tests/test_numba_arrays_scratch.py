"""The numba array kernels' kept temporaries (backends.numba_arrays.scratch_plan and
ArrayKernel's pool): which np.empty become parameters, and results against the reference
interpreter, across calls and threads."""

from __future__ import annotations

import numpy as np
import pytest
from _threads import mismatches_together
from symnum.backends.numba_arrays import scratch_plan

import symnum as sn
from symnum.autodiff.array_ad import grad_fn
from symnum.compile import lower

pytest.importorskip("numba")
RNG = np.random.default_rng(3)

PLAN = """def kernel(a0, c0):
    m1 = np.empty((4,), np.float64)
    for i in range(4):
        m1[i] = a0[i]
    cc2 = np.empty((4,), np.float64)
    m3 = np.empty((4,), np.float64)
    t4 = np.empty((2, 4), np.bool_)
    for t in range(3):
        w = np.empty((4,), np.float64)
        cc2, m3 = m3, cc2
    cc5 = np.empty((4,), np.float64)
    m6 = np.empty((4,), np.float64)
    for t in range(3):
        cc5, m6 = m6, cc5
    m7 = np.empty((4,), np.float64)
    p8 = m7
    m9 = np.empty((3,), np.float64)
    s10 = 0.0
    s11 = 1.0
    for t in range(3):
        s10, s11 = s11, s10
    return (cc5, m1[0], p8, m9, s10,)
"""


def test_scratch_plan_keeps_temporaries_and_returns_no_kept_buffer():
    src, specs = scratch_plan(PLAN)
    lines = src.splitlines()
    assert lines[0] == "def kernel(a0, c0, _s0, _s1, _s2, _s3, _s4, _s5, _s6):"
    assert specs == [((4,), "float64")] * 3 + [((2, 4), "bool_")] + [((4,), "float64")] * 3
    shapes = ["(4,)", "(4,)", "(4,)", "(2, 4)", "(4,)", "(4,)", "(4,)"]
    for k, name in enumerate(["m1", "cc2", "m3", "t4", "cc5", "m6", "m7"]):
        assert f"    {name} = _s{k}.reshape({shapes[k]})" in lines  # literal extents
    # a returned array a loop swaps (or an alias) is copied out; a plain one stays np.empty,
    # as does a loop's own np.empty
    assert lines[-1] == "    return (cc5.copy(), m1[0], p8.copy(), m9, s10)"  # s10: a scalar
    assert "    m9 = np.empty((3,), np.float64)" in lines
    assert "        w = np.empty((4,), np.float64)" in lines
    assert scratch_plan("def kernel():\n    m = np.empty((2,), np.float64)\n    return 1.0\n"
                        )[0].startswith("def kernel(_s0):")
    plain = "def kernel(a0):\n    m = np.empty((2,), np.float64)\n    return m\n"
    assert scratch_plan(plain) == (plain, [])


def heat(u0):
    def step(i, u):
        return u + 0.1 * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return np.sum(sn.fori_loop(0, 4, step, u0) ** 2)


def test_kept_temporaries_give_the_interpreters_results_and_fresh_outputs():
    n = 64
    g = grad_fn(sn.trace(heat, np.zeros(n), mode="array"))
    k = lower(g, "numba")
    assert k._temps and "_s0" in k.source
    xs = [RNG.standard_normal(n) for _ in range(3)]
    outs = [k(x) for x in xs]
    kept = k._pool[0]
    for x, out in zip(xs, outs):  # outputs are the caller's: later calls never overwrite them
        np.testing.assert_allclose(out, g(x), rtol=1e-12, atol=1e-12)
    k(xs[0])
    assert k._pool[0] is kept  # the same buffers, call after call
    off = lower(g, "numba", scratch=False)
    assert not off._temps and "_s0" not in off.source
    np.testing.assert_array_equal(off(xs[1]), outs[1])


def test_threads_calling_one_numba_kernel_get_their_own_temporaries():
    n = 20_000
    fn = sn.trace(lambda u: np.cumsum(np.maximum.accumulate(u) * u) - u, np.zeros(n),
                  mode="array")
    k = lower(fn, "numba")
    assert k._temps
    xs = [RNG.standard_normal(n) for _ in range(2)]
    wants = [fn(x) for x in xs]
    errors = mismatches_together(
        lambda j: np.allclose(k(xs[j]), wants[j], rtol=1e-12, atol=1e-12), 100)
    assert not errors and 1 <= len(k._pool) <= 2
