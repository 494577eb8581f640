"""Tiered llvm compiles: what a cold compile costs the caller, what it costs in all, and how
fast the quick code and the optimised code run, on three ~200-350-operation kernels.

Kernels: random_graph(200) (184 statements, ~90 libm calls), a mass-action reaction network
RHS (N=24, 226 statements, arithmetic only) and the gradient of the extended Rosenbrock
function (n=40, 350 statements). Compile figures: CPU time of the calling thread (what the
caller waits for, whatever the neighbours do), process CPU time including the background
opt=1 compile (the whole cost), and wall time; medians of --runs cold compiles, each into an
empty cache directory, every background compile finished before the next run starts. Kernel
figures: per row of a 1,000-row batched call and per single-row `kernel` call, thread CPU
time, medians of interleaved samples; "quick" is the tiered kernel before its upgrade (the
worker held busy), "opt=1" the plain compile. Every kernel is checked against the plain one.

    python benchmarks/bench_tier.py [--runs N]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import threading
import time

import numpy as np
from _common import machine_info, table
from bench_compile_latency import random_graph
from symnum.backends import llvm_tier, lower

import symnum as sn
from symnum.demo.examples import mass_action_rhs, reaction_network


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def kernels() -> dict[str, tuple[sn.Fn, tuple[float, float]]]:
    net = reaction_network(24, seed=1)
    f = sn.trace(rosenbrock, np.zeros(40), mode="scalar")
    grad = sn.gradient(f.flat_outputs[0], list(f.flat_inputs))
    return {
        "random_graph(200)": (random_graph(200), (-1.0, 1.0)),
        "mass action N=24 RHS": (sn.trace(lambda c: mass_action_rhs(c, net), np.zeros(24),
                                          mode="scalar"), (0.1, 2.0)),
        "Rosenbrock gradient n=40": (sn.Fn(list(f.flat_inputs), list(grad)), (-1.0, 1.0)),
    }


def thread_cpu() -> float:
    return time.clock_gettime(time.CLOCK_THREAD_CPUTIME_ID)


def compile_costs(fn: sn.Fn, runs: int, **opts) -> tuple[float, float, float, float]:
    """Medians (ms): caller's thread CPU, process CPU incl. the background compile, wall until
    lower() returns, wall until the optimised code is in place."""
    th, pr, wl, done = [], [], [], []
    for _ in range(runs):
        d = tempfile.mkdtemp(prefix="symnum-bench-")
        gc.collect()
        t, p, w = thread_cpu(), time.process_time(), time.perf_counter()
        c = lower(fn, "llvm", cache_dir=d, **opts)
        th.append(thread_cpu() - t)
        wl.append(time.perf_counter() - w)
        up = c.info.get("upgrade")
        if up is not None:
            up.wait()
        done.append(time.perf_counter() - w)
        llvm_tier.drain()
        pr.append(time.process_time() - p)
    return tuple(statistics.median(v) * 1e3 for v in (th, pr, wl, done))


class Hold:
    """Keeps the tier worker busy, so a tiered kernel stays on its quick code meanwhile."""

    def __init__(self):
        self.go = threading.Event()

        def build():
            self.go.wait(600)
            raise RuntimeError("held")

        self.up = llvm_tier.submit("bench-hold", build, (0, 0), None)

    def release(self):
        self.go.set()
        self.up.wait()


def run_times(variants: dict, rng: tuple[float, float], n_in: int, rounds: int = 15) -> dict:
    """Per-row (1,000-row batch) and per-call thread CPU seconds, interleaved rounds."""
    X = np.random.default_rng(1).uniform(*rng, (1000, n_in))
    x = X[0].copy()
    got = {v: ([], []) for v in variants}
    for _ in range(rounds):
        for v, c in variants.items():
            out, OUT = np.empty(c.n_out), np.empty((1000, c.n_out))
            t = thread_cpu()
            for _ in range(20):
                c.batched(X, OUT)
            got[v][0].append((thread_cpu() - t) / 20_000)
            t = thread_cpu()
            for _ in range(2000):
                c.kernel(x, out)
            got[v][1].append((thread_cpu() - t) / 2000)
    return {v: (statistics.median(a), statistics.median(b)) for v, (a, b) in got.items()}


def parts(runs: int) -> None:
    """The cold path of random_graph(200), stage by stage (caller's thread CPU, medians)."""
    from symnum.backends import llvm_backend as lb
    from symnum.backends import llvm_index
    from symnum.backends.llvm_ir import emit_ir
    from symnum.backends.llvm_reroll import rolled_ir
    from symnum.backends.schedule import schedule

    fn = random_graph(200)
    llvm = lb._llvm()

    def med(work):
        got, res = [], None
        for _ in range(runs):
            gc.collect()
            t = thread_cpu()
            res = work()
            got.append(thread_cpu() - t)
            llvm_tier.drain()
        return statistics.median(got) * 1e3, res

    def parse(text):
        ctx = llvm.create_context()
        m = llvm.parse_assembly(text, context=ctx)
        m.verify()
        m.close()
        ctx.close()

    opts = dict(opt=1, ir_opt=0, shard=250, fastmath=False, inline_batched=None, reroll=None)
    rows = []

    def row(name, work):
        t, res = med(work)
        rows.append([name, f"{t:.2f} ms"])
        return res

    row("lower(), tiered (default), empty cache",
        lambda: lower(fn, "llvm", cache_dir=tempfile.mkdtemp(prefix="symnum-bench-")))
    row("lower(), tier=False, empty cache",
        lambda: lower(fn, "llvm", cache_dir=tempfile.mkdtemp(prefix="symnum-bench-"),
                      tier=False))
    order = row("  walk of the terms (index + schedule)",
                lambda: llvm_index.walk(list(fn.flat_outputs)))
    row("  index key (fingerprint)", lambda: lb._index_key(fn, "float64", opts, None, None,
                                                           order))
    sched = row("  schedule", lambda: schedule(fn.flat_inputs, fn.flat_outputs, order))
    row("  re-roll plan (nothing repeats)", lambda: rolled_ir(sched, "float64", 250, False,
                                                                None, 0))
    mod = row("  IR text", lambda: emit_ir(sched, "float64", shard=250))
    quick = row("  stubs (quick_ir)", lambda: llvm_tier.quick_ir(mod.text, "double"))
    row("  parse + verify (in compile_object)", lambda: parse(quick))
    qobj = row("  compile_object, opt=0 (quick)", lambda: lb.compile_object(quick, 0))
    obj = row("  compile_object, opt=1 (plain; the background build)",
              lambda: lb.compile_object(mod.text, 1))
    row("  link the quick object", lambda: lb.Library(qobj, mod.symbols, quick=True))
    row("  link the opt=1 object", lambda: lb.Library(obj, mod.symbols))
    print(f"### random_graph(200), cold path by stage (caller's thread CPU, median of {runs})\n")
    print(table(["stage", "CPU"], rows))
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args(argv)
    print(machine_info() + f"; load average at start {os.getloadavg()[0]:.1f}\n")
    lower(random_graph(100, seed=9), "llvm", cache=False, tier=True)(*np.zeros(8))
    llvm_tier.drain()
    parts(args.runs)
    crow, rrow = [], []
    for name, (fn, rng) in kernels().items():
        for label, opts in (("tiered (default)", {}), ("tier=False (opt=1)", {"tier": False}),
                            ("opt=0", {"opt": 0})):
            th, pr, wl, done = compile_costs(fn, args.runs, **opts)
            crow.append([name, label, f"{th:.2f} ms", f"{pr:.2f} ms", f"{wl:.2f} ms",
                         f"{done:.2f} ms"])
        plain = lower(fn, "llvm", cache=False, tier=False)
        hold = Hold()
        try:
            quick = lower(fn, "llvm", cache=False, tier=True)
            assert quick.info["tier"] == "quick"
            X = np.random.default_rng(2).uniform(*rng, (64, len(fn.flat_inputs)))
            a, b = np.empty((64, plain.n_out)), np.empty((64, plain.n_out))
            plain.batched(X, a)
            quick.batched(X, b)
            np.testing.assert_array_equal(a, b)
            t = run_times({"opt=1": plain, "quick": quick}, rng, len(fn.flat_inputs))
        finally:
            hold.release()
        quick.info["upgrade"].wait()
        t2 = run_times({"opt=1": plain, "upgraded": quick}, rng, len(fn.flat_inputs))
        base, base2 = t["opt=1"], t2["opt=1"]
        rrow.append([name, f"{base[0] * 1e9:.1f} ns", f"{t['quick'][0] * 1e9:.1f} ns "
                     f"({t['quick'][0] / base[0]:.2f}x)",
                     f"{t2['upgraded'][0] * 1e9:.1f} ns ({t2['upgraded'][0] / base2[0]:.2f}x)",
                     f"{base[1] * 1e9:.0f} ns", f"{t['quick'][1] * 1e9:.0f} ns",
                     f"{t2['upgraded'][1] * 1e9:.0f} ns"])
    print(f"### Cold compile (empty cache), median of {args.runs}\n")
    print(table(["kernel", "compile", "caller's thread CPU", "process CPU (all tiers)",
                 "wall to return", "wall to optimised"], crow))
    print("\n### Kernel speed (thread CPU; batched: per row of 1,000; call: one row from "
          "Python)\n")
    print(table(["kernel", "opt=1 row", "quick row", "upgraded row", "opt=1 call",
                 "quick call", "upgraded call"], rrow))
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
