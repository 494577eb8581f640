"""Setup cost of array-program derivatives through the default lowering (llvm loops) vs numba
loops, side by side in one run (issues 10 and 11):

* Rosenbrock gradient, n = 10³, 10⁵, 10⁶: trace + reverse mode + compile into an empty kernel
  cache (cold) and again from it (warm); per call vs a hand-written numba loop;
* logistic regression 10,000 × 100: value_and_grad + Hessian-vector product built together
  (trace, AD, two compiles), cold; per call vs numpy by hand.

numba's own start-up (its first compile in a process, ~1 s) is paid before any timing.
Every result is checked against scipy / numpy before its figure is printed.

    python benchmarks/bench_array_setup.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import bench_arrays_ad
import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from bench_arrays import logistic_problem, per_call_interleaved
from scipy.optimize import rosen, rosen_der

import symnum as sn
from symnum.autodiff.array_ad import grad_fn, value_and_grad_fn
from symnum.autodiff.array_jvp import hvp_fn
from symnum.compile import lower

hand_rosen_der = bench_arrays_ad.hand_rosen_der()  # the hand loop every array-AD table uses


def _forget_numba_modules() -> None:
    """A cold numba build must not find its module in this process's table (nor in
    sys.modules): an empty cache folder alone would not make it compile."""
    import sys

    from symnum.backends import kernel_cache

    for key in list(kernel_cache._LOADED):
        sys.modules.pop(key, None)
    kernel_cache._LOADED.clear()


def _cold(build, repeats: int) -> tuple[float, float, object]:
    cold, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            _forget_numba_modules()
            t0 = time.perf_counter()
            k = build(d)
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            build(d)  # same process, same folder: the in-memory and disk caches
            warm.append(time.perf_counter() - t0)
    return statistics.median(cold), statistics.median(warm), k


def rosen_rows(ns: list, repeats: int) -> list:
    rows = []
    for n in ns:
        x = np.linspace(-1.0, 1.5, n)
        hand_rosen_der(x)
        for backend in ("auto", "numba"):
            def build(d, backend=backend, n=n):
                fn = sn.trace(rosen, np.zeros(n), mode="array")
                return lower(grad_fn(fn), backend, cache_dir=d)

            cold, warm, k = _cold(build, repeats)
            np.testing.assert_allclose(k(x), rosen_der(x), rtol=1e-10, atol=1e-8)
            t = per_call_interleaved([k, hand_rosen_der], [(x,), (x,)])
            rows.append([f"{n:,}", k.backend, fmt_time(cold), fmt_time(warm), fmt_time(t[0]),
                         fmt_time(t[1]), fmt_ratio(t[0] / t[1])])
    return rows


def logistic_rows(shape: tuple, repeats: int) -> list:
    X, y, loss, w, v, hand_vg, hand_hvp = logistic_problem(shape)

    rows = []
    for backend in ("auto", "numba"):
        def build(d, backend=backend):
            fn = sn.trace(loss, np.zeros(shape[1]), mode="array")
            return (lower(value_and_grad_fn(fn), backend, cache_dir=d),
                    lower(hvp_fn(fn), backend, cache_dir=d))

        cold, warm, (vg, hv) = _cold(build, repeats)
        val, g = vg(w)
        hval, hg = hand_vg(w)
        np.testing.assert_allclose(val, hval, rtol=1e-10)
        np.testing.assert_allclose(g, hg, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(hv(w, v), hand_hvp(w, v), rtol=1e-8, atol=1e-12)
        t = per_call_interleaved([vg, hand_vg, hv, hand_hvp], [(w,), (w,), (w, v), (w, v)])
        rows.append([f"{shape[0]:,} × {shape[1]}", vg.backend, fmt_time(cold), fmt_time(warm),
                     fmt_ratio(t[0] / t[1]), fmt_ratio(t[2] / t[3])])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repeat, n up to 10⁵")
    a = ap.parse_args()
    if a.quick:
        a.repeats = 1
    print(machine_info())
    lower(sn.trace(lambda x: np.sum(x * 2.0), np.zeros(8), mode="array"), "numba")  # numba up
    print("\n## Rosenbrock gradient (sn.trace → array reverse mode → lower), median of "
          f"{a.repeats}\n")
    print(table(["n", "backend", "setup cold", "setup warm", "per call", "hand numba",
                 "vs hand"], rosen_rows([10**3, 10**5] if a.quick else [10**3, 10**5, 10**6],
                                           a.repeats)))
    print("\n## Logistic regression: value_and_grad + Hessian-vector product together\n")
    print(table(["data", "backend", "build cold", "build warm", "v&g vs numpy",
                 "hvp vs numpy"], logistic_rows((10_000, 100), a.repeats)))


if __name__ == "__main__":
    main()
