"""Checkpointing of array loops in reverse mode (issue 12, Build 1): the gradient of
sum(u_steps²) with respect to u0 and the diffusion number through the explicit-Euler heat
equation (bench_array_loops_carry's, a periodic stencil stepped by sn.fori_loop) with
checkpoint="store" (every step's carry kept: a steps × n table), "sqrt" (every ⌈√steps⌉-th kept,
the segments recomputed) and "recompute" (nothing kept: each backward step recomputes its carry
from u0 by an inner loop), compiled with llvm (array_loops="native").

Per (n, steps): the buffers the kernel allocates per call (its plan's np.empty, each executed
once: the table is the (steps, n) one), trace + compile time, per-call time of both side by side
(alternating batches, the fastest of each), and the largest difference between the two
gradients. Recompute runs steps·(steps+1)/2 forward steps: rows above --max-work element-steps
are skipped for it (the time is estimated from a smaller row, and said so).

    python benchmarks/bench_array_checkpoint.py [--sizes 1000 10000 100000]
                                                [--steps 100 1000] [--max-work 3e9]
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np
from _common import machine_info

import symnum as sn
from symnum.compile import lower

_EMPTY = re.compile(r"np\.empty\(\(([\d, ]*)\),? ?np\.(\w+)\)")


def plan_bytes(plan: str) -> tuple[int, int]:
    """(all buffers, largest buffer) in bytes, from a loop plan's allocations."""
    sizes = []
    for shape, dt in _EMPTY.findall(plan):
        n = 1
        for d in (int(s) for s in shape.split(",") if s.strip()):
            n *= d
        sizes.append(n * np.dtype(dt).itemsize)
    return sum(sizes), max(sizes, default=0)


def grad_kernel(n: int, steps: int, cp: str):
    def loss(u0, k):
        return np.sum(sn.fori_loop(0, steps, lambda i, u: u + k * (
            np.roll(u, 1) - 2 * u + np.roll(u, -1)), u0, checkpoint=cp) ** 2)

    u = np.zeros(n)
    t0, c0 = time.perf_counter(), time.process_time()
    fn = sn.trace(sn.grad(loss, argnums=(0, 1), mode="array"), u, 0.1, mode="array")
    k = lower(fn, "llvm", cache=False, array_loops="native", tier=False)
    return k, time.perf_counter() - t0, time.process_time() - c0


def per_call(fs: list, args: tuple, budget: float) -> list[float]:
    """Per-call seconds of each f in fs, alternating batches (5 rounds), fastest batch each."""
    one = []
    for f in fs:
        t0 = time.perf_counter()
        f(*args)
        one.append(max(time.perf_counter() - t0, 1e-7))
    reps = [max(1, min(200, int(budget / 5 / len(fs) / o))) for o in one]
    best = [float("inf")] * len(fs)
    rounds = 5 if max(one) < budget / 5 else 1
    for _ in range(rounds):
        for j, f in enumerate(fs):
            t0 = time.perf_counter()
            for _ in range(reps[j]):
                f(*args)
            best[j] = min(best[j], (time.perf_counter() - t0) / reps[j])
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10**3, 10**4, 10**5])
    ap.add_argument("--steps", type=int, nargs="*", default=[100, 1000])
    ap.add_argument("--max-work", type=float, default=3e9,
                    help="largest n·steps²/2 the recompute policy is timed for")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timing per row")
    a = ap.parse_args()
    print(machine_info())
    print()
    print("| n | steps | policy | buffers per call | largest buffer | trace + compile (CPU) | "
          "per call | vs store | max abs diff vs store: ∂u0; ∂k (relative) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rate = None  # recompute seconds per element-step, from the last row timed
    for n in a.sizes:
        u = np.random.default_rng(n).standard_normal(n)
        for steps in a.steps:
            ks = grad_kernel(n, steps, "store")
            kq = grad_kernel(n, steps, "sqrt")
            kr = grad_kernel(n, steps, "recompute")
            gs = ks[0](u, 0.1)
            work = n * steps * (steps + 1) / 2
            timed = [ks[0], kq[0]] + ([kr[0]] if work <= a.max_work else [])
            times = per_call(timed, (u, 0.1), a.budget)
            if len(times) == 3:
                rate = times[2] / work
            for j, (pol, (k, tf, cf)) in enumerate((("store", ks), ("sqrt", kq),
                                                    ("recompute", kr))):
                tot, big = plan_bytes(k.plan)
                row = f"| {n:,} | {steps:,} | {pol} | {tot / 1e6:.3f} MB | {big / 1e6:.3f} MB | " \
                      f"{tf:.3f} s ({cf:.3f} s) | "
                if j < len(times):
                    g = k(u, 0.1)
                    du = float(np.max(np.abs(g[0] - gs[0])))
                    dk = abs(float(g[1] - gs[1])) / max(abs(float(gs[1])), 1e-300)
                    row += f"{times[j] * 1e3:.2f} ms | {times[j] / times[0]:.1f}x | " + \
                        ("0; 0 (bit-identical) |" if du == 0 and dk == 0 else
                         f"{du:.1e}; {dk:.1e} |")
                else:
                    row += (f"not run (≈ {rate * work:.0f} s estimated) | | |" if rate else
                            "not run | | |")
                print(row, flush=True)


if __name__ == "__main__":
    main()
