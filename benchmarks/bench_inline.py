"""Tracing through a wrapper around a transformed function (symnum/transforms_inline.py): the
gradient of a Python-loop RK4 (Lorenz-96, 8 states, tree mode, as bench_reroll_chain.py) traced

* directly, `g.fn(x0, F)` (what a call or `sn.compile(g)` traces: no splice at all);
* through a wrapper, `sn.trace(lambda x0, F: g(x0, F), …)` (what `sn.compile(lambda …: g(…))`
  and any outer trace do), with the inputs renamed (the default) and with the substitution of
  the whole transformed graph (`transforms_inline.renaming(False)`: the code before session 5).

CPU seconds of the process (`time.process_time`), median of `--rounds` rounds whose route order
alternates, each result dropped before the next; an untimed last pass checks that both routes
give the same term objects.

    python benchmarks/bench_inline.py [--steps 50 200 1000] [--rounds 3] [--compile]

`--compile`: also the public path end to end, the first call of `sn.compile(wrapper)` (trace,
llvm lowering with re-rolling, LLVM; a fresh kernel cache folder each time), once per route.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time

import numpy as np
from _common import machine_info
from bench_loops import N, make_model

import symnum as sn
from symnum import transforms_inline as TI


def cpu(f):
    gc.collect()
    t0 = time.process_time()
    out = f()
    return time.process_time() - t0, out


def row(steps: int, rounds: int) -> None:
    _, loss = make_model(steps, 1e-3, True, pyloop=True)
    g = sn.grad(loss, argnums=(0, 1))
    x0, F = 8.0 + np.random.default_rng(0).normal(size=N), 8.0

    def wrapper(x0, F):
        with sn.tree_mode():  # as the Python-loop gradient is traced (bench_reroll_chain)
            return g(x0, F)

    def direct():
        with sn.tree_mode():
            return g.fn(x0, F)

    def through(rename: bool):
        with TI.renaming(rename):
            return sn.trace(wrapper, x0, F, mode="scalar")

    times: dict = {"direct": [], "renamed": [], "substituted": []}
    for r in range(rounds):
        t, fn = cpu(direct)
        times["direct"].append(t)
        del fn
        g._cache.clear()  # g.fn caches per signature: trace again each round
        for rename in ((True, False) if r % 2 == 0 else (False, True)):
            TI.stats.clear()
            t, fn = cpu(lambda rename=rename: through(rename))
            route = "renamed" if TI.stats["renamed"] else "substituted"
            assert route == ("renamed" if rename else "substituted"), dict(TI.stats)
            times[route].append(t)
            del fn
    # untimed: both routes' outputs alive at once are the same objects (hash-consing)
    a, b = through(True), through(False)
    same = "yes" if len(a.flat_outputs) == len(b.flat_outputs) and all(
        x is y for x, y in zip(a.flat_outputs, b.flat_outputs)) else "NO"
    del a, b
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"| {steps:,} | {med['direct']:.2f} | {med['substituted']:.2f} | "
          f"{med['renamed']:.2f} | {med['renamed'] / med['substituted']:.2f}x | "
          f"{med['substituted'] - med['direct']:.2f} | {med['renamed'] - med['direct']:.2f} | "
          f"{same} |", flush=True)


def compiled(steps: int) -> None:
    _, loss = make_model(steps, 1e-3, True, pyloop=True)
    g = sn.grad(loss, argnums=(0, 1))
    x0, F = 8.0 + np.random.default_rng(0).normal(size=N), 8.0

    def wrapper(x0, F):
        with sn.tree_mode():
            return g(x0, F)

    row, outs = [f"{steps:,}"], []
    for rename in (False, True):
        with TI.renaming(rename):
            k = sn.compile(wrapper, backend="llvm", cache_dir=tempfile.mkdtemp())
            t, out = cpu(lambda k=k: k(x0, F))
        outs.append(np.concatenate([np.ravel(v) for v in out]))
        row.append(f"{t:.2f}")
        del k
        gc.collect()
    row.append(f"{float(row[2]) / float(row[1]):.2f}x")
    row.append("yes" if np.array_equal(outs[0], outs[1]) else "NO")
    print("| " + " | ".join(row) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="*", default=[50, 200, 1000])
    ap.add_argument("--rounds", type=int, default=3, help="0: no trace table")
    ap.add_argument("--compile", action="store_true", help="also sn.compile(wrapper), end to end")
    a = ap.parse_args()
    print(machine_info())
    if a.rounds > 0:
        print("\nCPU seconds, medians of", a.rounds, "rounds\n")
        print("| steps | `g.fn` (no wrapper) | wrapper, substituted (before) | wrapper, renamed "
              "(now) | renamed / substituted | wrapper overhead before | wrapper overhead now | "
              "same objects |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for steps in a.steps:
            row(steps, a.rounds)
    if a.compile:
        print("\n`sn.compile(wrapper)(x0, F)`, first call (trace + llvm lowering), CPU seconds, "
              "one run per route\n")
        print("| steps | substituted (before) | renamed (now) | renamed / substituted | "
              "bit-identical results |")
        print("| --- | --- | --- | --- | --- |")
        for steps in a.steps:
            compiled(steps)


if __name__ == "__main__":
    main()
