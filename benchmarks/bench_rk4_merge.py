"""Canonical sums with a bounded merge (issue 12, Build 3; symnum/core/canonical.py "the merge
policy"): an 8-state Lorenz-96 RK4 stepped by a plain Python for-loop, traced in

* "canonical": the default mode (sums over MERGE_LIMIT entries, or holding one, stay one entry),
* "tree": inside `sn.tree_mode()` (the workaround until now),
* "main": canonical with no bound (`merge_limit(None)`), which is what main's canonical mode does
  (main's HEAD is this branch's base; with no limit the merge code takes main's path).

Per step count and mode: trace CPU time, statements of the schedule (before and after chain
re-rolling), and for the compiled rows trace + compile + first call (wall, a fresh kernel cache
each time, the step size salted so no cache is hit) and the per-call time against the hand
numba loop of benchmarks/bench_loops.py. "main" is only run while it stays small (it is
quadratic: ~330k statements at 32 steps).

    python benchmarks/bench_rk4_merge.py [--steps 2 4 8 16 32 50 200 1000] [--compile 50 200 1000]
                                         [--repeat 3] [--limit B]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time

import numpy as np
from _common import machine_info
from bench_loops import N, hand_numba, rhs_scalar, rk4_step, rolled_of
from symnum.backends.reroll_chain import roll_chains
from symnum.backends.schedule import schedule

import symnum as sn
from symnum.core.merge import MERGE_LIMIT, merge_limit

MAIN_MAX_STEPS = 32  # "main" beyond this is minutes of tracing and millions of statements


def make(steps: int, h: float):
    step = rk4_step(rhs_scalar, h)

    def simulate(x0, F):
        x = x0
        for _ in range(steps):
            x = step(x, F)
        return x

    return simulate


def ctx(mode: str):
    if mode == "tree":
        return sn.tree_mode()
    if mode == "main":
        return merge_limit(None)
    return contextlib.nullcontext()


def traced(mode: str, steps: int, h: float, x0, F):
    with ctx(mode):
        t0 = time.process_time()
        fn = sn.trace(make(steps, h), x0, F)
        return time.process_time() - t0, fn


def compiled(mode: str, steps: int, h: float):
    sim = make(steps, h)

    def f(x0, F):
        with ctx(mode):  # tracing happens inside the compiled function's first call
            return sim(x0, F)

    return sn.compile(f, backend="llvm", cache_dir=tempfile.mkdtemp())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="*", default=[2, 4, 8, 16, 32, 50, 200, 1000])
    ap.add_argument("--compile", type=int, nargs="*", default=[50, 200, 1000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="MERGE_LIMIT for 'canonical'")
    ap.add_argument("--modes", nargs="*", default=["canonical", "tree", "main"])
    a = ap.parse_args()
    if a.limit is not None:
        MERGE_LIMIT.set(a.limit)
    print(machine_info())
    print(f"MERGE_LIMIT = {MERGE_LIMIT.get()}")
    rng = np.random.default_rng(0)
    x0, F = 8.0 + rng.normal(size=N), 8.0
    print("\n| steps | mode | trace CPU s | statements | after re-rolling | rolled |")
    print("| --- | --- | --- | --- | --- | --- |")
    for steps in a.steps:
        for mode in a.modes:
            if mode == "main" and steps > MAIN_MAX_STEPS:
                continue
            t, fn = traced(mode, steps, 1e-3, x0, F)
            sched = schedule(fn.flat_inputs, fn.flat_outputs)
            rolled, info = roll_chains(sched)
            chains = ", ".join(f"{c['steps']} × {c['period']}" for c in info) or "-"
            print(f"| {steps:,} | {mode} | {t:.3f} | {len(sched.instrs):,} | "
                  f"{len(rolled.instrs):,} | {chains} |", flush=True)
    print("\n| steps | mode | trace + compile + 1st call (wall / CPU, medians) | per call "
          "(median of 7 interleaved rounds) | hand numba | ratio | max diff | re-rolled |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for steps in a.compile:
        h = 1e-3
        modes = [m for m in a.modes if m != "main" or steps <= MAIN_MAX_STEPS]
        ref = hand_numba(steps, h)
        want = ref(x0, F)
        first, kernels = {}, {"hand": ref}
        for mode in modes:
            runs, cpus = [], []
            for r in range(a.repeat):
                f = compiled(mode, steps, h * (1 + 1e-12 * (r + 1 + 10 * a.modes.index(mode))))
                t0, c0 = time.perf_counter(), time.process_time()
                f(x0, F)
                runs.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)  # all of the process's threads
            first[mode] = (statistics.median(runs), statistics.median(cpus))
            kernels[mode] = compiled(mode, steps, h)
            kernels[mode](x0, F)
        calls = {name: [] for name in kernels}  # interleaved: the machine's load hits all alike
        n = max(50, 200_000 // steps)  # ~10-30 ms a round
        for _ in range(7):
            for name, f in kernels.items():
                t0 = time.perf_counter()
                for _ in range(n):
                    f(x0, F)
                calls[name].append((time.perf_counter() - t0) / n)
        t_hand = statistics.median(calls["hand"])
        for mode in modes:
            f = kernels[mode]
            t_call = statistics.median(calls[mode])
            err = float(np.max(np.abs(f(x0, F) - want)))
            print(f"| {steps:,} | {mode} | {first[mode][0]:.3f} s / {first[mode][1]:.3f} s | "
                  f"{t_call * 1e6:.2f} µs (min {min(calls[mode]) * 1e6:.2f}) | "
                  f"{t_hand * 1e6:.2f} µs (min {min(calls['hand']) * 1e6:.2f}) | "
                  f"{t_call / t_hand:.2f}x | {err:.1e} | {rolled_of(f.lower(x0, F))} |",
                  flush=True)

if __name__ == "__main__":
    main()
