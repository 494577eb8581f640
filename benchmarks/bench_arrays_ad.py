"""Reverse mode on array programs (issue 11): Rosenbrock gradient setup and per-call time.

* setup = trace (mode="array") + grad (symnum.autodiff.array_ad, no scalarising) + compile to
  numba loop nests, with a cold kernel cache (numba compiles) and a warm one (numba loads its
  machine code from disk), at n = 10³, 10⁵, 10⁶;
* per call: the compiled gradient against a hand-written numba gradient loop (both allocate
  their output), batches interleaved;
* the cheap-gradient ratio: compiled gradient time / compiled value time (same lowering);
* logistic regression 10,000 × 100: value_and_grad and the Hessian-vector product (forward over
  reverse, symnum.autodiff.array_jvp) built together, per call against numpy written by hand;
* for contrast, the old scalar mode's setup at n = 10³ (sn.grad on arrays of scalar terms,
  first call = trace + reverse sweep + LLVM compile).
Every compiled result is checked against scipy.optimize.rosen_der before a figure is printed.

    python benchmarks/bench_arrays_ad.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import tempfile
import time

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from bench_arrays import forget_loaded, per_call_interleaved, rosen
from scipy.optimize import rosen_der

import symnum as sn
from symnum.autodiff.array_ad import grad_fn
from symnum.compile import lower


def hand_rosen_der():
    import numba

    @numba.njit(cache=False, error_model="numpy")
    def rosen_der_loop(x):
        n = x.shape[0]
        g = np.zeros(n)
        for i in range(n - 1):
            a = x[i + 1] - x[i] * x[i]
            g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i])
            g[i + 1] += 200.0 * a
        return g
    return rosen_der_loop


def build(n, cache_dir):
    """(trace s, grad s, compile s, gradient kernel, ops of the gradient)."""
    gc.collect()
    t0 = time.perf_counter()
    fn = sn.trace(rosen, np.zeros(n), mode="array")
    t1 = time.perf_counter()
    g = grad_fn(fn)
    t2 = time.perf_counter()
    k = lower(g, "numba", cache_dir=cache_dir)
    return t1 - t0, t2 - t1, time.perf_counter() - t2, k, g.count_ops()


def setups(n, reps):
    cold, warm = [], []
    for _ in range(reps):
        d = tempfile.mkdtemp(prefix="symnum-bench-")
        try:
            forget_loaded()
            *c, k, ops = build(n, d)
            cold.append(c)
            forget_loaded()
            *w, k, ops = build(n, d)
            warm.append(w)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    med = [statistics.median(col) for col in zip(*cold)], \
        [statistics.median(col) for col in zip(*warm)]
    return med, k, ops


def rows(sizes, reps):
    hand = hand_rosen_der()
    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        x = rng.uniform(-1, 1, n)
        ((tr, gr, cc), (trw, grw, cw)), k, ops = setups(n, reps)
        val = lower(sn.trace(rosen, np.zeros(n), mode="array"), "numba")
        want = rosen_der(x)
        np.testing.assert_allclose(k(x), want, rtol=1e-10, atol=1e-8)
        np.testing.assert_allclose(hand(x), want, rtol=1e-10, atol=1e-8)
        assert np.isclose(val(x), rosen(x), rtol=1e-12)
        t_g, t_raw, t_h, t_v = per_call_interleaved([k, k.kernel, hand, val.kernel], [(x,)] * 4)
        out.append([f"{n:,}", ops, fmt_time(tr), fmt_time(gr), fmt_time(tr + gr + cc),
                    fmt_time(trw + grw + cw), fmt_time(t_g), fmt_time(t_h),
                    fmt_ratio(t_g / t_h), fmt_ratio(t_raw / t_h), fmt_time(t_v),
                    fmt_ratio(t_raw / t_v)])
    return out


def scalar_mode_setup(n):
    x = np.random.default_rng(0).uniform(-1, 1, n)
    t0 = time.perf_counter()
    g = sn.grad(rosen, mode="scalar")(x)
    t = time.perf_counter() - t0
    np.testing.assert_allclose(g, rosen_der(x), rtol=1e-10, atol=1e-8)
    return t


def logistic_rows(shape, reps):
    """value_and_grad and the Hessian-vector product of the logistic loss on constant data:
    build (trace + AD + numba compile, cold cache) and per call against numpy by hand."""
    from bench_arrays import logistic_problem

    from symnum.autodiff.array_ad import value_and_grad_fn
    from symnum.autodiff.array_jvp import hvp_fn

    X, y, loss, w, v, hand_vg, hand_hvp = logistic_problem(shape)

    builds = []
    for _ in range(reps):
        d = tempfile.mkdtemp(prefix="symnum-bench-")
        try:
            forget_loaded()
            gc.collect()
            t0 = time.perf_counter()
            fn = sn.trace(loss, np.zeros(shape[1]), mode="array")
            vg = lower(value_and_grad_fn(fn), "numba", cache_dir=d)
            hv = lower(hvp_fn(fn), "numba", cache_dir=d)
            builds.append(time.perf_counter() - t0)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    val, g = vg(w)
    hval, hg = hand_vg(w)
    np.testing.assert_allclose(val, hval, rtol=1e-10)
    np.testing.assert_allclose(g, hg, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(hv(w, v), hand_hvp(w, v), rtol=1e-8, atol=1e-12)
    t_vg, t_hvg, t_hv, t_hhv = per_call_interleaved([vg, hand_vg, hv, hand_hvp],
                                                    [(w,), (w,), (w, v), (w, v)])
    return [[f"{shape[0]:,} × {shape[1]}", fmt_time(statistics.median(builds)),
             fmt_time(t_vg), fmt_time(t_hvg), fmt_ratio(t_vg / t_hvg), fmt_time(t_hv),
             fmt_time(t_hhv), fmt_ratio(t_hv / t_hhv)]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    sizes = [1000, 100_000] if a.quick else [1000, 100_000, 1_000_000]
    reps = 1 if a.quick else 3
    print(machine_info())
    print()
    print("Rosenbrock gradient, array mode (trace + grad + numba loops); medians of", reps,
          "setups; per call: medians of interleaved batches")
    print(table(["n", "grad ops", "trace", "grad", "setup cold", "setup warm", "grad/call",
                 "hand numba", "ratio", "ratio (raw kernel)", "value/call",
                 "grad/value (raw)"], rows(sizes, reps)))
    print()
    print("Logistic regression (value_and_grad + Hessian-vector product), build = trace + AD +"
          " numba compile of both, cold cache")
    print(table(["data", "build", "v&g/call", "numpy by hand", "ratio", "hvp/call",
                 "numpy by hand", "ratio"], logistic_rows((10_000, 100), reps)))
    print()
    print(f"scalar mode (old) sn.grad(rosen) first call at n = 1,000: "
          f"{fmt_time(scalar_mode_setup(1000))}")


if __name__ == "__main__":
    main()
