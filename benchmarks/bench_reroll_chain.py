"""Loop-carried re-rolling (issue 12, backends/reroll_chain.py): where the time of compiling a
Python-loop chain goes, and what the gradient of one becomes.

1. detection: `roll_chains` on the schedule of a 100,000-step chain e = sin(e)·0.5 + 0.1
   (300,000 statements; goal: well under a second), CPU time;
2. the same chain through `sn.build_function(backend="llvm")`, split into its stages (trace is
   the Python loop itself; schedule includes the kernel index's fingerprint of the graph);
3. the gradient of sum(final state) through a Python-loop RK4 (Lorenz-96, 8 states; traced in
   tree mode) of `--steps` steps: trace, schedule, roll, compile, per call, and what was rolled,
   against the same gradient through `sn.fori_loop` (trace + compile, per call). "compile" is
   the whole llvm lowering: the kernel index's fingerprint, schedule and roll again, LLVM.

    python benchmarks/bench_reroll_chain.py [--steps 50] [--skip-grad]

(`--steps 50 200 1000`: the adjoint loop reads the forward loop's table in place,
backends/reroll_link.py; results_issue12.md, "Session 4".)
"""

from __future__ import annotations

import argparse
import gc
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


def timed(f):
    """(wall seconds, process CPU seconds, result): on a shared machine the CPU time is the
    steadier figure (the process's threads only; the tiered compile's background thread
    included)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = f()
    return time.perf_counter() - t0, time.process_time() - c0, out


def gradient(steps: int) -> None:
    h = 1e-3
    rng = np.random.default_rng(0)
    x0, F = 8.0 + rng.normal(size=N), 8.0
    _, loss_py = make_model(steps, h, True, pyloop=True)
    _, loss_fori = make_model(steps, h, True)
    g_py = sn.grad(loss_py, argnums=(0, 1))
    g_fori = sn.grad(loss_fori, argnums=(0, 1))
    # the fori_loop gradient first: its figures must not pay for collecting the Python loop's
    # graph (a 1,000-step one is ~600,000 live terms)
    w_fori, c_fori, kf = timed(lambda: lower(g_fori.fn(x0, F), "llvm",
                                             cache_dir=tempfile.mkdtemp()))
    want = np.concatenate([np.ravel(v) for v in kf(x0, F)])

    def trace_py():
        # the trace a call or sn.compile of the gradient makes (Transformed.fn: the loss traced
        # at the gradient's own input symbols; sn.trace(g_py, …) would trace at fresh symbols
        # and substitute the whole graph once more, symnum.transforms.inline: ~2x the trace);
        # the adjoint sweep in tree mode too (canonical sums would grow)
        with sn.tree_mode():
            return g_py.fn(x0, F)

    w_trace, c_trace, fn = timed(trace_py)
    w_sched, c_sched, sched = timed(lambda: schedule(fn.flat_inputs, fn.flat_outputs))
    w_roll, c_roll, (rolled, info) = timed(lambda s=sched: roll_chains(s))
    sizes = (len(sched.instrs), len(rolled.instrs))
    del sched, rolled
    gc.collect()
    # the whole llvm lowering: the kernel index's fingerprint, schedule and roll again, LLVM
    w_comp, c_comp, k = timed(lambda: lower(fn, "llvm", cache_dir=tempfile.mkdtemp()))
    got = np.concatenate([np.ravel(v) for v in k(x0, F)])
    for c in (k, kf):  # per call with the optimised code (tiered compiles swap it in)
        up = c.info.get("upgrade")
        if up is not None:
            up.wait(60)
    n = 100 if steps > 100 else 500
    call_py, call_fori = per_call(k, (x0, F), n), per_call(kf, (x0, F), n)
    chains = ", ".join(f"{c['steps']} × {c['period']} (carries {c['carries']}, xs {c['xs']}"
                       + (f" linked, peeled {c['peeled'][0]}+{c['peeled'][1]}"
                          if c.get("linked") else "") + f", ys {c['ys']})" for c in info)
    print(f"| {steps:,} | {sizes[0]:,} → {sizes[1]:,} | "
          f"{c_trace:.2f} ({w_trace:.2f}) | {c_sched:.2f} ({w_sched:.2f}) | "
          f"{c_roll:.2f} ({w_roll:.2f}) | {c_comp:.2f} ({w_comp:.2f}) | "
          f"{c_trace + c_comp:.2f} ({w_trace + w_comp:.2f}) | {c_fori:.2f} ({w_fori:.2f}) | "
          f"{call_py * 1e6:.1f} µs | {call_fori * 1e6:.1f} µs | "
          f"{float(np.max(np.abs(got - want))):.1e} | {chains} |", flush=True)


def unlinked(steps: int) -> None:
    """The same gradient lowered with and without backends.reroll_link, side by side: what the
    O(steps) plumbing between the two sweeps cost (without linking the adjoint's per-step
    values go through the explicit xs table, as before session 4)."""
    import symnum.backends.reroll_chain as rc

    rng = np.random.default_rng(0)
    x0, F = 8.0 + rng.normal(size=N), 8.0
    _, loss_py = make_model(steps, 1e-3, True, pyloop=True)
    with sn.tree_mode():
        fn = sn.grad(loss_py, argnums=(0, 1)).fn(x0, F)
    row = [f"{steps:,}"]
    outs = []
    for link in (True, False):
        saved = rc.link_tables
        if not link:
            rc.link_tables = lambda sched: (sched, {})
        try:
            _, c, k = timed(lambda: lower(fn, "llvm", cache_dir=tempfile.mkdtemp(), tier=False))
        finally:
            rc.link_tables = saved
        outs.append(np.concatenate([np.ravel(v) for v in k(x0, F)]))
        i = k.info
        row += [f"{i['statements']:,}", f"{c:.2f}", f"{i['codegen_seconds']:.2f}"]
    row.append("yes" if np.array_equal(outs[0], outs[1]) else "NO")
    print("| " + " | ".join(row) + " |", flush=True)


def grown(steps: int, backends: list[str]) -> None:
    """The gradient lowered with and without backends.reroll_grow, side by side (session 5):
    statements, and the build time of each backend (CPU seconds of the whole lowering; llvm
    with tier=False: one opt=1 compile)."""
    import symnum.backends.reroll_chain as rc

    rng = np.random.default_rng(0)
    x0, F = 8.0 + rng.normal(size=N), 8.0
    _, loss_py = make_model(steps, 1e-3, True, pyloop=True)
    with sn.tree_mode():
        fn = sn.grad(loss_py, argnums=(0, 1)).fn(x0, F)
    for be in backends:
        # a first compile pays the backend's one-time set-up (numba's is seconds): not here
        xw = sn.Sym("xw")
        lower(sn.trace(lambda v: sn.sin(v) * 2.0, xw), be, cache_dir=tempfile.mkdtemp())
        outs = []
        row = [f"{steps:,}", be]
        for grow in (False, True):
            saved = rc.grow_loops
            if not grow:
                rc.grow_loops = lambda sched, loops, max_ys: (sched, {})
            opts = {"tier": False} if be == "llvm" else {}
            try:
                w, c, k = timed(lambda be=be, o=opts: lower(fn, be, cache_dir=tempfile.mkdtemp(),
                                                            **o))
            finally:
                rc.grow_loops = saved
            outs.append(np.concatenate([np.ravel(v) for v in k(x0, F)]))
            row += [f"{k.info.get('statements', 0):,}", f"{c:.2f} ({w:.2f})"]
        row.append("yes" if np.array_equal(outs[0], outs[1]) else "NO")
        print("| " + " | ".join(row) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="*", default=[50])
    ap.add_argument("--skip-grad", action="store_true")
    ap.add_argument("--depth", type=int, default=100_000)
    ap.add_argument("--unlinked", type=int, nargs="*", default=[],
                    help="step counts to lower with and without reroll_link, side by side")
    ap.add_argument("--grown", type=int, nargs="*", default=[],
                    help="step counts to lower with and without reroll_grow, side by side")
    ap.add_argument("--backends", nargs="*", default=["llvm", "numba"])
    a = ap.parse_args()
    if a.grown:
        print(machine_info())
        print("\nbuild, CPU seconds (wall)\n\n| steps | backend | statements (before: not "
              "grown) | build | statements (grown) | build | bit-identical |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for steps in a.grown:
            grown(steps, a.backends)
        return
    if a.unlinked:
        print(machine_info())
        print("\nllvm lowering (tier=False: one opt=1 compile), CPU seconds\n\n| steps | "
              "statements (linked) | lower | LLVM | statements (unlinked) | lower | LLVM | "
              "bit-identical |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for steps in a.unlinked:
            unlinked(steps)
        return
    print(machine_info())
    deep_chain(a.depth)
    if a.skip_grad:
        return
    print("\nseconds: CPU (wall)\n\n| steps | statements → rolled | trace | schedule | roll | "
          "compile (llvm) | trace + compile | fori_loop grad trace + compile | per call | "
          "fori_loop grad per call | max diff | chains (steps × period) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for steps in a.steps:
        gradient(steps)


if __name__ == "__main__":
    main()
