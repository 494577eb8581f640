"""Loop-carried re-rolling (issue 12, backends/reroll_chain.py): where the time of compiling a
Python-loop chain goes, and what the gradient of one becomes.

1. detection: `roll_chains` on the schedule of a 100,000-step chain e = sin(e)·0.5 + 0.1
   (300,000 statements; goal: well under a second), CPU time;
2. the same chain through `sn.build_function(backend="llvm")`, split into its stages (trace is
   the Python loop itself; schedule includes the kernel index's fingerprint of the graph);
3. the gradient of sum(final state) through a Python-loop RK4 (Lorenz-96, 8 states; traced in
   tree mode) of `--steps` steps: trace, schedule, roll, compile, per call, and what was rolled,
   against the same gradient through `sn.fori_loop`.

    python benchmarks/bench_reroll_chain.py [--steps 50] [--skip-grad]

(`--steps 1000`: the gradient did not finish in 22 CPU minutes; results_issue12.md says why.)
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from _common import machine_info
from bench_construction import chain_of
from bench_loops import N, make_model, per_call
from symnum.backends.reroll_chain import roll_chains
from symnum.backends.schedule import schedule

import symnum as sn
from symnum.compile import lower


def cpu(f):
    t0 = time.process_time()
    out = f()
    return time.process_time() - t0, out


def deep_chain(n: int) -> None:
    x = sn.Sym("x")
    t_build, e = cpu(lambda: chain_of(x, n))
    t_sched, sched = cpu(lambda: schedule([x], [e]))
    t_roll, (rolled, info) = cpu(lambda: roll_chains(sched))
    t_bf, k = cpu(lambda: sn.build_function(e, x, backend="llvm", cache_dir=tempfile.mkdtemp()))
    i = k.info
    print(f"| chain depth {n:,} ({len(sched.instrs):,} statements) | build {t_build:.3f} | "
          f"schedule {t_sched:.3f} | detect + roll {t_roll:.3f} | build_function {t_bf:.3f} "
          f"(index + schedule + roll {i['schedule_seconds']:.3f}, emit {i['emit_seconds']:.3f}, "
          f"LLVM {i['codegen_seconds']:.3f}) | {info[0]['steps']:,} steps × {info[0]['period']} |",
          flush=True)


def gradient(steps: int) -> None:
    h = 1e-3
    rng = np.random.default_rng(0)
    x0, F = 8.0 + rng.normal(size=N), 8.0
    _, loss_py = make_model(steps, h, True, pyloop=True)
    _, loss_fori = make_model(steps, h, True)
    g_py = sn.grad(loss_py, argnums=(0, 1))
    t0 = time.perf_counter()
    with sn.tree_mode():  # the adjoint sweep in tree mode too (canonical sums would grow)
        fn = sn.trace(g_py, x0, F)
    t_trace = time.perf_counter() - t0
    t0 = time.perf_counter()
    sched = schedule(fn.flat_inputs, fn.flat_outputs)
    t_sched = time.perf_counter() - t0
    t0 = time.perf_counter()
    rolled, info = roll_chains(sched)
    t_roll = time.perf_counter() - t0
    t0 = time.perf_counter()
    k = lower(fn, "llvm", cache_dir=tempfile.mkdtemp())
    t_comp = time.perf_counter() - t0
    got = np.concatenate([np.ravel(v) for v in k(x0, F)])
    kf = sn.compile(sn.grad(loss_fori, argnums=(0, 1)), cache_dir=tempfile.mkdtemp())
    want = np.concatenate([np.ravel(v) for v in kf(x0, F)])
    n = 20 if steps > 100 else 500
    t_py, t_fori = per_call(k, (x0, F), n), per_call(kf, (x0, F), n)
    chains = ", ".join(f"{c['steps']} × {c['period']} (carries {c['carries']}, xs {c['xs']}, "
                       f"ys {c['ys']})" for c in info)
    print(f"| {steps:,} | {len(sched.instrs):,} → {len(rolled.instrs):,} | {t_trace:.2f} s | "
          f"{t_sched:.2f} s | {t_roll:.2f} s | {t_comp:.2f} s | {t_py * 1e6:.1f} µs | "
          f"{t_fori * 1e6:.1f} µs | {float(np.max(np.abs(got - want))):.1e} | {chains} |",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="*", default=[50])
    ap.add_argument("--skip-grad", action="store_true")
    ap.add_argument("--depth", type=int, default=100_000)
    a = ap.parse_args()
    print(machine_info())
    deep_chain(a.depth)
    if a.skip_grad:
        return
    print("\n| steps | statements → rolled | trace | schedule | roll | compile (llvm) | "
          "per call | fori_loop grad per call | max diff | chains (steps × period) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for steps in a.steps:
        gradient(steps)


if __name__ == "__main__":
    main()
