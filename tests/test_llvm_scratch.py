"""The llvm array kernels' scratch block (backends.llvm_scratch): temporaries in one block per
kernel kept across calls, checked out atomically, freed with the kernel — results against the
reference interpreter (an ArrayFn's own call) and against the per-call malloc (scratch=False)."""

from __future__ import annotations

import ctypes
import gc
import os
import re

import numpy as np
import pytest
from _threads import mismatches_together
from symnum.backends import llvm_scratch

import symnum as sn
from symnum.autodiff.array_ad import grad_fn
from symnum.compile import lower

pytest.importorskip("llvmlite")
RNG = np.random.default_rng(11)


def several(x, W):
    # several materialised temporaries (cumulative scans, a product, a stencil), one output
    a = np.maximum.accumulate(np.sin(x))
    b = np.cumsum(a * x)
    h = np.tanh(W @ b[:W.shape[1]])
    return np.sum(b[1:] * a[:-1]) + np.sum(h ** 2), a - np.roll(b, 3)


def heat(u0):
    def step(i, u):
        return u + 0.1 * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return sn.fori_loop(0, 7, step, u0)


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _close(got, want):
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-11)


def test_several_temporaries_share_one_block_and_match_the_interpreter():
    n = 300
    fn = sn.trace(several, np.zeros(n), np.zeros((40, 60)), mode="array")
    k = lower(fn, "llvm", cache=False)
    off = lower(fn, "llvm", cache=False, scratch=False)
    temps = re.findall(r"i8\*(?: noalias)? %sc\d+", k.source.split("@sn_body(")[1].split("{")[0])
    assert len(temps) >= 3 and k.info["scratch_bytes"] >= 2 * 8 * n
    assert k.info["scratch_bytes"] % llvm_scratch.ALIGN == 0
    assert "@malloc" not in k.source and "@free" in k.source  # free: a concurrent call's block
    # each temporary taken and given back through the allocator pair (dead stores removable)
    assert k.source.count("call i8* @sn_take(") == len(temps) == \
        k.source.count("call void @sn_give(")
    assert "@malloc" in off.source and off.arena is None and "@sn_arena" not in off.source
    assert k.arena.parked is None  # allocated by the first call
    block = None
    for _ in range(3):
        x, W = RNG.standard_normal(n), RNG.standard_normal((40, 60))
        want = fn(x, W)
        _close(k(x, W), want)
        _close(off(x, W), want)
        block = block or k.arena.parked
        assert k.arena.parked == block  # the same block, parked again after every call


def test_ping_pong_buffers_are_not_noalias_and_loops_match():
    fn = sn.trace(heat, np.zeros(64), mode="array")
    k = lower(fn, "llvm", cache=False)
    sig = k.source.split("define void @sn_body(")[1].split(")")[0]
    params = [p.strip() for p in sig.split(",")[1:]]
    # the swapped pair: plain pointers (LLVM must not prove them apart), see Buffers.temporary
    assert params and all(p.startswith("i8* %sc") for p in params)
    assert " noinline " in k.source.split("define void @sn_body(")[1].split("\n")[0]
    assert "@sn_take(" not in k.source  # not allocations to LLVM either
    u = RNG.standard_normal(64)
    for _ in range(2):
        _close(k(u), fn(u))


def test_gradients_bitwise_equal_with_and_without_the_block():
    for f, n in ((rosen, 1000), (lambda u: np.sum(np.maximum.accumulate(u) ** 2), 5000)):
        g = grad_fn(sn.trace(f, np.zeros(n), mode="array"))
        on, off = lower(g, "llvm", cache=False), lower(g, "llvm", cache=False, scratch=False)
        x = RNG.standard_normal(n)
        assert np.array_equal(on(x), off(x))
        _close(on(x), g(x))


def test_kernels_of_several_sizes_each_have_their_block():
    # shapes are static per kernel: a new size is a new kernel with a block of its own size
    def f(u):
        return np.sum(np.maximum.accumulate(u) ** 2 * u)
    kernels = {}
    for n in (10, 1000, 100_000, 10, 1000):
        if n not in kernels:
            kernels[n] = lower(grad_fn(sn.trace(f, np.zeros(n), mode="array")), "llvm",
                               cache=False)
        x = RNG.standard_normal(n)
        m = np.maximum.accumulate(x)
        # d/dx_i Σ m_j² x_j: m_i², plus Σ 2 m_j x_j over the run whose record is x_i
        starts = np.r_[True, m[1:] != m[:-1]]
        runs = starts.cumsum()
        per_run = np.bincount(runs, weights=2 * m * x)
        want = m ** 2 + np.where(starts, per_run[runs], 0.0)
        for _ in range(2):
            np.testing.assert_allclose(kernels[n](x), want, rtol=1e-10, atol=1e-10)
    sizes = {n: k.info["scratch_bytes"] for n, k in kernels.items()}
    assert sizes[10] < sizes[1000] < sizes[100_000] and sizes[100_000] >= 8 * 100_000


def test_a_call_finding_the_block_checked_out_allocates_its_own():
    fn = sn.trace(several, np.zeros(50), np.zeros((4, 6)), mode="array")
    k = lower(fn, "llvm", cache=False)
    x, W = RNG.standard_normal(50), RNG.standard_normal((4, 6))
    k(x, W)
    held = k.arena.parked
    k.arena.slot.value = None  # as while another thread is inside the kernel
    try:
        _close(k(x, W), fn(x, W))
        assert k.arena.parked not in (None, held)  # its own block, parked on the way out
    finally:
        llvm_scratch._libc_free()(held)


def _table_entry(k, x, out):
    """The kernel's table entry through ctypes (which releases the GIL: calls overlap)."""
    table = np.array([x.ctypes.data, out.ctypes.data, 0], dtype=np.int64)
    entry = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(k._taddr)
    return lambda: entry(table.ctypes.data, None), table


def test_two_threads_calling_one_kernel_get_their_own_scratch():
    n = 20_000
    fn = sn.trace(lambda u: np.cumsum(np.maximum.accumulate(u) * u) - u, np.zeros(n),
                  mode="array")
    k = lower(fn, "llvm", cache=False)
    xs = [RNG.standard_normal(n) for _ in range(2)]
    wants = [fn(x) for x in xs]
    outs = [np.empty(n) for _ in range(2)]
    entries = [_table_entry(k, xs[j], outs[j]) for j in range(2)]  # (call, its table)

    def work(j):
        outs[j][:] = np.nan
        entries[j][0]()
        return np.allclose(outs[j], wants[j], rtol=1e-12, atol=1e-12)

    assert not mismatches_together(work, 150)
    assert k.arena.parked is not None  # one block parked; the other call's freed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_kernel_runs_in_a_forked_child():
    fn = sn.trace(several, np.zeros(80), np.zeros((5, 7)), mode="array")
    k = lower(fn, "llvm", cache=False)
    x, W = RNG.standard_normal(80), RNG.standard_normal((5, 7))
    want = fn(x, W)
    _close(k(x, W), want)  # a block is parked before the fork
    for empty in (False, True):
        if empty:  # a thread held the block when the process forked: the child allocates
            held, k.arena.slot.value = k.arena.parked, None
        pid = os.fork()
        if pid == 0:  # the child: exit status says whether the results agree
            ok = True
            for _ in range(3):
                got = k(x, W)
                ok = ok and all(np.allclose(g, w, rtol=1e-11, atol=1e-11)
                                for g, w in zip(got, want))
            os._exit(0 if ok and k.arena.parked else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        if empty:
            k.arena.slot.value = held
    _close(k(x, W), want)


def test_the_block_is_freed_when_the_kernel_is_dropped(monkeypatch):
    freed = []
    free = llvm_scratch._libc_free()
    monkeypatch.setattr(llvm_scratch, "_libc_free",
                        lambda: lambda p: (freed.append(p), free(p)))
    fn = sn.trace(lambda u: np.cumsum(np.sin(u)) * u, np.zeros(1000), mode="array")
    k = lower(fn, "llvm", cache=False)
    k(RNG.standard_normal(1000))
    block, fin = k.arena.parked, k.arena.finalizer
    assert block and fin.alive
    del k
    gc.collect()
    assert not fin.alive and block in freed


def test_a_kernel_without_temporaries_has_no_block():
    fn = sn.trace(lambda u: np.sin(u) * 2.0 + u, np.zeros(100), mode="array")
    k = lower(fn, "llvm", cache=False)
    assert k.arena is None and k.info["scratch_bytes"] == 0 and "@sn_arena" not in k.source
    x = RNG.standard_normal(100)
    _close(k(x), fn(x))
