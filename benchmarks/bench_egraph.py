"""E-graph simplification: does the CPU-cycle ruleset make compiled kernels faster, and does a
run stay bounded as graphs grow?

Part 1 (the Symbolics.jl paper's claim, "the CPU-cycle ruleset halved a reaction network's
runtime"): right-hand side + sparse Jacobian values of a seeded mass-action network (rate
constants as numbers, and as a parameter vector) and of the 2D Brusselator, compiled by the
numba and llvm backends as traced (canonical forms, already CSE'd and power-chained by the
schedule) and after simplify(method="egraph", ruleset="cpu") extracting under each cost table
(paper, measured throughput, measured latency); kernel time per point on one thread (median),
the ratio, a store floor (a kernel of the same shape computing nothing), and the cycles of the
emitted code under each table.
Both kernels are checked against each other at random points before a figure is printed.

Part 2: saturation + extraction time and peak memory for inputs of 10², 10³, 10⁴, 10⁵ nodes
(mass-action RHS + Jacobians of growing networks), default limits, always in a worker process so
that the peak memory is the e-graph's own. Part 3: what running in a worker process costs.

    python benchmarks/bench_egraph.py [--quick] [--skip-kernels] [--skip-scale]
                                      [--backend numba,llvm]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from symnum.backends.compiled import faster
from symnum.rewrites.costs import CPU_LATENCY, CPU_MEASURED, PAPER, schedule_cost
from symnum.rewrites.egraph import EgraphReport

import symnum as sn
from symnum.demo.examples import brusselator_rhs, mass_action_rhs, reaction_network


def mass_action_rhs_p(c, k, net):
    """The same network with its bimolecular and unimolecular rate constants as inputs `k`."""
    return mass_action_rhs(c, net, k)


def rhs_and_jacobian(fn: sn.Fn, states: list) -> sn.Fn:
    """One Fn computing the right-hand side and the Jacobian's non-zero values."""
    outs = list(fn.flat_outputs)
    J = sn.sparse_jacobian(outs, states)
    flat = np.empty(len(outs) + len(J.values), dtype=object)
    flat[:] = outs + list(J.values)
    return sn.Fn(fn.inputs, flat)


def workloads(quick: bool) -> list[tuple[str, sn.Fn, list]]:
    """(label, Fn, [(low, high) per input array]): each right-hand side alone, and with its
    sparse Jacobian's values."""
    out = []
    for n in (24,) if quick else (24, 64):
        net = reaction_network(n, seed=1)
        fn = sn.trace(lambda c, net=net: mass_action_rhs(c, net), np.zeros(n), mode="scalar")
        out.append((f"mass action N={n}, numeric rates: RHS", fn, [(0.1, 2.0)]))
        out.append((f"mass action N={n}, numeric rates: RHS + J", rhs_and_jacobian(
            fn, list(fn.flat_inputs)), [(0.1, 2.0)]))
        nk = len(net.bi) + len(net.uni)
        fp = sn.trace(lambda c, k, net=net: mass_action_rhs_p(c, k, net), np.zeros(n),
                      np.zeros(nk), mode="scalar")
        out.append((f"mass action N={n}, rates as inputs: RHS", fp,
                    [(0.1, 2.0), (0.01, 10.0)]))
        out.append((f"mass action N={n}, rates as inputs: RHS + J", rhs_and_jacobian(
            fp, list(fp.flat_inputs[:n])), [(0.1, 2.0), (0.01, 10.0)]))
    for n in (4,) if quick else (4, 8):
        fb = sn.trace(lambda s: brusselator_rhs(s, (1.0, 3.4, 10.0), 0.0), np.zeros((2, n, n)),
                      mode="scalar")
        out.append((f"Brusselator n={n}: RHS", fb, [(0.0, 4.0)]))
        out.append((f"Brusselator n={n}: RHS + J", rhs_and_jacobian(fb, list(fb.flat_inputs)),
                    [(0.0, 4.0)]))
    return out


def store_floor(fn: sn.Fn) -> sn.Fn:
    """A kernel with the same inputs and number of outputs that computes nothing: each output
    is an input. Its time is what reading the point and writing the outputs costs."""
    ins = list(fn.flat_inputs)
    flat = np.empty(len(fn.flat_outputs), dtype=object)
    flat[:] = [ins[i % len(ins)] for i in range(len(flat))]
    return sn.Fn(fn.inputs, flat)


def points(fn: sn.Fn, ranges: list, count: int, rng) -> np.ndarray:
    cols = []
    for leaf, (lo, hi) in zip(fn.inputs, ranges):
        size = int(np.size(leaf))
        cols.append(rng.uniform(lo, hi, (count, size)))
    return np.ascontiguousarray(np.concatenate(cols, axis=1))


def time_side_by_side(kernels: dict, X: np.ndarray, rounds: int,
                      sample_s: float = 2e-3, clock=time.perf_counter) -> tuple[dict, dict]:
    """Seconds per point of each kernel (median over `rounds`), and its outputs. The kernels
    run interleaved, round by round in rotating order, so drift and other tenants hit all of
    them alike; each sample repeats the call over a block of points small enough for the
    outputs to stay in cache, as when an ODE solver evaluates one point at a time."""
    outs = {name: np.empty((X.shape[0], len(k.fn.flat_outputs))) for name, k in kernels.items()}
    inner = {}
    for name, k in kernels.items():
        k.batched(X, outs[name])  # warm: compiled already, first touch of memory
        t0 = time.perf_counter()
        k.batched(X, outs[name])
        inner[name] = max(1, int(sample_s / max(time.perf_counter() - t0, 1e-7)))
    runs: dict = {name: [] for name in kernels}
    names = list(kernels)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            k, out, n = kernels[name], outs[name], inner[name]
            t0 = clock()
            for _ in range(n):
                k.batched(X, out)
            runs[name].append((clock() - t0) / n)
    per_point = {name: statistics.median(v) / X.shape[0] for name, v in runs.items()}
    return per_point, outs


def one_thread(fn: sn.Fn, backend: str):
    """The backend's kernel with a batched loop that stays on the calling thread: the llvm
    backend would split large batches across threads, and numba's parallel loop leaves OpenMP
    workers spinning, which slowed the kernels timed after it by 1.5x (results_issue5.md)."""
    from symnum import backends

    if backend == "llvm":
        return backends.lower(fn, "llvm", parallel=False)
    k = backends.lower(fn, backend)
    if hasattr(k.batched, "serial"):  # numba: the serial row loop
        k.batched = k.batched.serial
    return k


def part1(quick: bool, backend: str = "numba", clock=time.perf_counter) -> None:
    import numba


    numba.set_num_threads(1)  # kernel time per point on one core
    rng = np.random.default_rng(0)
    rounds = 7 if quick else 31
    rows = []
    for label, fn, ranges in workloads(quick):
        # a block of points whose outputs (≤ 4 MB) stay in cache (see time_side_by_side), and
        # large enough that the call's own overhead (a few µs) is spread thin
        n_points = max(256, min(4096, (1 << 22) // (8 * len(fn.flat_outputs))))
        X = points(fn, ranges, n_points, rng)
        # the control: the same graph again, its own buffers — the spread between it and "as
        # traced" is the noise of this measurement (buffer placement, other tenants)
        variants = {"as traced": (fn, None, 0.0), "as traced (control)": (fn, None, 0.0)}
        for cost in ("paper", "cpu", "latency"):
            r = EgraphReport()
            t0 = time.perf_counter()
            f2 = sn.simplify(fn, method="egraph", ruleset="cpu", cost=cost, stats=r)
            variants[f"egraph cpu ({cost} costs)"] = (f2, r, time.perf_counter() - t0)
        kernels = {name: one_thread(f, backend) for name, (f, _, _) in variants.items()}
        # what compile(simplify="egraph") returns: the faster of the default-cost result and
        # the input, measured at compile time (backends.compiled.faster), then timed here anew
        lat = "egraph cpu (latency costs)"
        kept, facts = faster(one_thread(variants[lat][0], backend), one_thread(fn, backend))
        guarded = f"egraph, guarded (kept {'result' if facts['kept'] == 'first' else 'input'})"
        variants[guarded] = (kept.fn, variants[lat][1], variants[lat][2])
        kernels[guarded] = kept
        kernels["store floor"] = one_thread(store_floor(fn), backend)
        times, outs = time_side_by_side(kernels, X, rounds, clock=clock)
        base_t, base_out = times["as traced"], outs["as traced"]
        for name, (f, r, t_simp) in variants.items():
            # reassociation changes rounding, and the Brusselator's Laplacian cancels terms
            # of size 1e4: agreement to 1e-6 relative (+1e-6 absolute) — a wrong rewrite is
            # off by O(1)
            err = np.max(np.abs(outs[name] - base_out) / (1.0 + np.abs(base_out)))
            assert err < 1e-6, f"{label} / {name}: kernels disagree (max err {err:.2e})"
            ins, flat = f.flat_inputs, list(f.flat_outputs)
            t = times[name]
            rows.append((label if name == "as traced" else "", name,
                         kernels[name].info["statements"],
                         f"{schedule_cost(flat, ins, PAPER):,.0f}",
                         f"{schedule_cost(flat, ins, CPU_MEASURED):,.0f}",
                         f"{schedule_cost(flat, ins, CPU_LATENCY):,.0f}",
                         f"{t * 1e9:,.0f} ns",
                         f"{times['store floor'] * 1e9:,.0f} ns" if name == "as traced" else "",
                         fmt_ratio(base_t / t),
                         fmt_time(t_simp) if r else "-",
                         f"{r.stop_reason}/{r.iterations}" if r else "-"))
    print("\n## Part 1: kernels with and without the CPU-cycle ruleset\n")
    print(f"{backend} backend, one thread, blocks of 256-4096 points (outputs ≤ 4 MB, in cache), "
          f"median of {rounds} interleaved rounds "
          f"({'thread CPU clock' if clock is time.thread_time else 'wall clock'}); cost = "
          "cycles of the emitted code under each table\n")
    print(table(["workload", "graph", "statements", "paper cost", "throughput cost",
                 "latency cost",
                 "kernel / point", "store floor", "speed-up", "simplify", "stop/iters"], rows))


def part2(quick: bool) -> None:
    rows = []
    # (network size, partition size): None = the default; the 10⁵ case also in smaller parts
    runs = [(6, None), (40, None), (330, None)] if quick else [
        (6, None), (40, None), (330, None), (900, None), (2600, None), (8000, None),
        (8000, 20_000)]
    for n, part in runs:
        net = reaction_network(n, seed=2)
        fn = sn.trace(lambda c, net=net: mass_action_rhs(c, net), np.zeros(n), mode="scalar")
        full = rhs_and_jacobian(fn, list(fn.flat_inputs))
        nodes = sn.count_ops(list(full.flat_outputs))
        r = EgraphReport()
        t0 = time.perf_counter()
        # always in a worker, so the peak memory is the e-graph's own, not this process's
        sn.simplify(full, method="egraph", ruleset="cpu", stats=r, isolate=True,
                    partition=part)
        total = time.perf_counter() - t0
        sat = r.times.get("saturate", 0.0)
        ext = r.times.get("read", 0.0) + r.times.get("extract", 0.0)
        peak_enodes = max((max(n for _, n in s) for s in r.sizes), default=0)
        rows.append((f"N={n}", f"{nodes:,}", f"{r.nodes_in:,}", r.partitions,
                     f"{peak_enodes:,}",
                     f"{r.stop_reason}/{r.iterations}", fmt_time(r.times.get("load", 0.0)),
                     fmt_time(sat), fmt_time(ext), fmt_time(total),
                     f"{r.peak_memory_mb:,.0f} MB",
                     f"{r.schedule_before:,.0f} → {r.schedule_after:,.0f}"))
    print("\n## Part 2: time and memory as the input grows (ruleset cpu, default limits)\n")
    print(table(["network", "ops", "e-graph input nodes", "partitions", "e-nodes (largest)",
                 "stop/iters", "load", "saturate", "read+extract", "total", "peak RSS",
                 "cost (default table)"], rows))


def part3() -> None:
    """What a worker process costs: the same small runs in this process and in a worker."""
    x, y = sn.symbols("x y")
    rows = []
    for label, es in (("3 nodes", [sn.log(1 + x)]),
                      ("~300 nodes", [sn.expand((x + y + 1) ** 6)])):
        times = {}
        for iso in (False, True):
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                sn.simplify(es, method="egraph", ruleset="cpu", isolate=iso)
                runs.append(time.perf_counter() - t0)
            times[iso] = statistics.median(runs)
        rows.append((label, fmt_time(times[False]), fmt_time(times[True]),
                     fmt_time(times[True] - times[False])))
    print("\n## Part 3: isolation overhead (median of 5)\n")
    print(table(["input", "in process", "worker process", "overhead"], rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--skip-kernels", action="store_true")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time kernels by the thread's CPU clock (time.thread_time): on a "
                         "shared machine the wall clock measures the neighbours")
    ap.add_argument("--backend", default="numba,llvm",
                    help="comma-separated backends to time the kernels with (part 1)")
    args = ap.parse_args()
    print(machine_info())
    if not args.skip_kernels:
        for backend in args.backend.split(","):
            part1(args.quick, backend, time.thread_time if args.cpu_clock else time.perf_counter)
    if not args.skip_scale:
        part2(args.quick)
        part3()


if __name__ == "__main__":
    main()
