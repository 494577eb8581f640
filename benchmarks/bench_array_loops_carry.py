"""Loops carrying arrays (issue 12): an explicit-Euler heat equation on n grid points (periodic,
np.roll), 100 steps with sn.fori_loop, traced in array mode.

Per n: trace + compile + first call (a fresh kernel each time: the diffusion number differs in
the last digits and the llvm cache is off / numba's cache folder empty) and per-call time,
against a hand-written numba loop (two buffers swapped per step, the same arithmetic), for

* before: the loop scalarised (`array_loops="scalar"`, the lowering before this change: one
  scalar loop whose body has n statements) — only up to --before-max (it grows with n);
* after: one loop around the body's loop plan (`array_loops="native"`), llvm and numba.

`--crossover` times small n (8 … 512) both ways on llvm: where the scalar loop stops being
faster (symnum.loops.arrays.SCALAR_CARRY_LIMIT). `--grad` compiles the gradient of
sum(u_100²) with respect to u0 and the diffusion number (array mode: a forward loop storing the
carries and a reverse scan, both through the loop plan) for n = 10³ and 10⁵.

    python benchmarks/bench_array_loops_carry.py [--quick] [--repeat N] [--before-max N]
                                                 [--crossover] [--grad]
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


def side_by_side(f, ref, u, budget: float = 1.0) -> tuple[float, float]:
    """Per-call seconds of `f` and `ref` on u, in alternating batches (7 rounds); the fastest
    batch of each, so that other jobs on the machine inflate neither ratio side alone."""
    f(u)
    ref(u)
    t0 = time.perf_counter()
    f(u)
    one = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, min(2000, int(budget / 14 / one)))
    a, b = [], []
    for _ in range(7):
        for fun, out in ((f, a), (ref, b)):
            t0 = time.perf_counter()
            for _ in range(reps):
                fun(u)
            out.append((time.perf_counter() - t0) / reps)
    return min(a), min(b)


def first_call(n: int, backend: str, how: str, repeat: int, salt: int) -> tuple:
    """Medians of trace + compile + first call (wall, CPU seconds of this process) and the
    last compiled function."""
    u = np.random.default_rng(n).standard_normal(n)
    runs, cpu, f = [], [], None
    for r in range(repeat):
        kk = 0.1 * (1 + 1e-12 * (salt * 100 + r + 1))
        opts = {"cache": False} if backend == "llvm" else {"cache_dir": tempfile.mkdtemp()}
        f = sn.compile(heat(kk), mode="array", backend=backend, array_loops=how, **opts)
        t0, c0 = time.perf_counter(), time.process_time()
        f(u)
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(runs), statistics.median(cpu), f


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before-max", type=int, default=10**4,
                    help="largest n the scalarised (before) lowering is run for")
    ap.add_argument("--crossover", action="store_true")
    ap.add_argument("--grad", action="store_true")
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
        for how, backend in runs:
            if how == "scalar" and n > a.before_max:
                rows.append((n, how, backend, None, None, None, None, None))
                print(f"n={n} {how} {backend}: skipped (n > --before-max {a.before_max})",
                      flush=True)
                continue
            rep = 1 if (how == "scalar" or backend == "numba") else a.repeat
            t_first, c_first, f = first_call(n, backend, how, rep, len(rows))
            info = f.lower(u).info
            f = sn.compile(heat(0.1), mode="array", backend=backend, array_loops=how)
            err = float(np.max(np.abs(f(u) - ref(u))))
            t_call, t_hand = side_by_side(f, ref, u)
            rows.append((n, how, backend, t_first, c_first, t_call, t_hand, err))
            print(f"n={n} {how} {backend}: trace+compile+first call {t_first:.3f} s "
                  f"(CPU {c_first:.3f} s), call {t_call * 1e3:.3f} ms vs hand numba "
                  f"{t_hand * 1e3:.3f} ms ({t_call / t_hand:.2f}x), max |diff| {err:.1e} "
                  f"[{info.get('array_loops')}; hand numba compile {t_hand_compile:.2f} s]",
                  flush=True)
    print()
    print("| n | lowering | backend | trace + compile + 1st call (CPU) | per call | hand numba | "
          "ratio | max abs diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, how, be, tf, cf, tc, th, err in rows:
        name = "before (scalarised)" if how == "scalar" else "after (loop plan)"
        if tf is None:
            print(f"| {n:,} | {name} | {be} | skipped | | | | |")
            continue
        print(f"| {n:,} | {name} | {be} | {tf:.3f} s ({cf:.3f} s) | {tc * 1e3:.3f} ms | "
              f"{th * 1e3:.3f} ms | {tc / th:.2f}x | {err:.1e} |")
    if a.crossover:
        crossover(a.repeat)
    if a.grad:
        gradient()


def crossover(repeat: int) -> None:
    print()
    print("| n | scalarised: trace + compile (CPU) | per call | loop plan: trace + compile (CPU) "
          "| per call | plan / scalar per call |")
    print("| --- | --- | --- | --- | --- | --- |")
    for j, n in enumerate((8, 16, 24, 32, 48, 64, 128, 256, 512)):
        u = np.random.default_rng(n).standard_normal(n)
        comp, fs = [], []
        for how in ("scalar", "native"):
            _, cf, _ = first_call(n, "llvm", how, repeat, 1000 + 2 * j + (how == "native"))
            comp.append(cf)
            fs.append(sn.compile(heat(0.1), mode="array", backend="llvm", array_loops=how))
        t_s, t_p = side_by_side(fs[0], fs[1], u, 0.5)
        print(f"| {n} | {comp[0]:.3f} s | {t_s * 1e6:.2f} µs | {comp[1]:.3f} s | "
              f"{t_p * 1e6:.2f} µs | {t_p / t_s:.2f}x |", flush=True)


def gradient() -> None:
    def loss(u0, k):
        return np.sum(heat(k)(u0) ** 2)

    print()
    print("| n | grad trace + compile + 1st call (CPU) | per call | lowering |")
    print("| --- | --- | --- | --- |")
    for n in (10**3, 10**5):
        u = np.random.default_rng(n).standard_normal(n)
        t0, c0 = time.perf_counter(), time.process_time()
        g = sn.compile(sn.grad(loss, argnums=(0, 1), mode="array"), cache=False)
        g(u, 0.1)
        tf, cf = time.perf_counter() - t0, time.process_time() - c0
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            g(u, 0.1)
            runs.append(time.perf_counter() - t0)
        print(f"| {n:,} | {tf:.3f} s ({cf:.3f} s) | {min(runs) * 1e3:.3f} ms | "
              f"{g.lower(u, 0.1).info['array_loops']} |", flush=True)


if __name__ == "__main__":
    main()
