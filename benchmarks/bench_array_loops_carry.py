"""Loops carrying arrays (issue 12): an explicit-Euler heat equation on n grid points (periodic,
np.roll), 100 steps with sn.fori_loop, traced in array mode.

Per n: trace + compile + first call (a fresh kernel each time: the diffusion number differs in
the last digits and the llvm cache is off / numba's cache folder empty) and per-call time,
against a hand-written numba loop (two buffers swapped per step, the same arithmetic), for

* before: the loop scalarised (`array_loops="scalar"`, the lowering before this change: one
  scalar loop whose body has n statements) — only up to --before-max (it grows with n);
* after: one loop around the body's loop plan (`array_loops="native"`), llvm and numba.

`--crossover` times small n (8 … 512) both ways on llvm: where the scalar loop stops being
faster (symnum.loops.arrays.SCALAR_CARRY_LIMIT).

    python benchmarks/bench_array_loops_carry.py [--quick] [--repeat N] [--before-max N]
                                                 [--crossover]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
from _common import machine_info

import symnum as sn

STEPS = 100


def heat(k: float, steps: int = STEPS):
    def run(u0):
        def step(i, u):
            return u + k * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
        return sn.fori_loop(0, steps, step, u0)
    return run


def hand_numba(k: float, steps: int = STEPS):
    import numba

    @numba.njit(cache=False)
    def run(u0):
        n = u0.size
        u, v = u0.copy(), np.empty_like(u0)
        for _ in range(steps):
            v[0] = u[0] + k * (u[n - 1] - 2 * u[0] + u[1])
            for i in range(1, n - 1):
                v[i] = u[i] + k * (u[i - 1] - 2 * u[i] + u[i + 1])
            v[n - 1] = u[n - 1] + k * (u[n - 2] - 2 * u[n - 1] + u[0])
            u, v = v, u
        return u

    return run


def per_call(f, u, budget: float = 1.0) -> float:
    f(u)
    t0 = time.perf_counter()
    f(u)
    one = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, min(2000, int(budget / 5 / one)))
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            f(u)
        runs.append((time.perf_counter() - t0) / reps)
    return statistics.median(runs)


def first_call(n: int, backend: str, how: str, repeat: int, salt: int) -> tuple[float, object]:
    """Median of trace + compile + first call; returns it and the last compiled function."""
    u = np.random.default_rng(n).standard_normal(n)
    runs, f = [], None
    for r in range(repeat):
        kk = 0.1 * (1 + 1e-12 * (salt * 100 + r + 1))
        opts = {"cache": False} if backend == "llvm" else {"cache_dir": tempfile.mkdtemp()}
        f = sn.compile(heat(kk), mode="array", backend=backend, array_loops=how, **opts)
        t0 = time.perf_counter()
        f(u)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), f


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before-max", type=int, default=10**4,
                    help="largest n the scalarised (before) lowering is run for")
    ap.add_argument("--crossover", action="store_true")
    a = ap.parse_args()
    print(machine_info())
    sizes = (10**3, 10**4) if a.quick else (10**3, 10**4, 10**5, 10**6)
    runs = [("scalar", "llvm"), ("native", "llvm"), ("native", "numba")]
    rows = []
    for n in sizes:
        u = np.random.default_rng(n).standard_normal(n)
        ref = hand_numba(0.1)
        t0 = time.perf_counter()
        ref(u)
        t_hand_compile = time.perf_counter() - t0
        t_hand = per_call(ref, u)
        for how, backend in runs:
            if how == "scalar" and n > a.before_max:
                rows.append((n, how, backend, None, None, t_hand, None))
                print(f"n={n} {how} {backend}: skipped (n > --before-max {a.before_max})",
                      flush=True)
                continue
            rep = 1 if (how == "scalar" or backend == "numba") else a.repeat
            t_first, f = first_call(n, backend, how, rep, len(rows))
            info = f.lower(u).info
            f = sn.compile(heat(0.1), mode="array", backend=backend, array_loops=how)
            err = float(np.max(np.abs(f(u) - ref(u))))
            t_call = per_call(f, u)
            rows.append((n, how, backend, t_first, t_call, t_hand, err))
            print(f"n={n} {how} {backend}: trace+compile+first call {t_first:.3f} s, call "
                  f"{t_call * 1e3:.3f} ms vs hand numba {t_hand * 1e3:.3f} ms "
                  f"({t_call / t_hand:.2f}x), max |diff| {err:.1e} "
                  f"[{info.get('array_loops')}; hand numba compile {t_hand_compile:.2f} s]",
                  flush=True)
    print()
    print("| n | lowering | backend | trace + compile + 1st call | per call | hand numba | "
          "ratio | max abs diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, how, be, tf, tc, th, err in rows:
        name = "before (scalarised)" if how == "scalar" else "after (loop plan)"
        if tf is None:
            print(f"| {n:,} | {name} | {be} | skipped | | {th * 1e3:.3f} ms | | |")
            continue
        print(f"| {n:,} | {name} | {be} | {tf:.3f} s | {tc * 1e3:.3f} ms | {th * 1e3:.3f} ms "
              f"| {tc / th:.2f}x | {err:.1e} |")
    if a.crossover:
        crossover(a.repeat)


def crossover(repeat: int) -> None:
    print()
    print("| n | scalarised: compile | per call | loop plan: compile | per call | "
          "scalar / plan |")
    print("| --- | --- | --- | --- | --- | --- |")
    for j, n in enumerate((8, 16, 32, 64, 128, 256, 512)):
        u = np.random.default_rng(n).standard_normal(n)
        out = []
        for how in ("scalar", "native"):
            tf, _ = first_call(n, "llvm", how, repeat, 1000 + 2 * j + (how == "native"))
            f = sn.compile(heat(0.1), mode="array", backend="llvm", array_loops=how)
            out += [tf, per_call(f, u, 0.5)]
        print(f"| {n} | {out[0]:.3f} s | {out[1] * 1e6:.2f} µs | {out[2]:.3f} s | "
              f"{out[3] * 1e6:.2f} µs | {out[1] / out[3]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
