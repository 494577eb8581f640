"""Compile latency, cold and warm (disk cache), numba vs llvm, and the kernels' per-call time.

Graphs: seeded random DAGs of 100 / 1,000 / 10,000 operations (add, sub, mul, sin, cos, tanh,
atan, built in tree mode so the count is exact) and the Brusselator n=32 right-hand side and
sparse Jacobian values. "Cold" compiles into an empty cache directory; "warm" finds the entry
on disk (numba: the module and numba's own cache, reloaded as a new process would). Figures are
medians; wall and CPU time are both shown because this machine is shared. Every compiled kernel
is checked against the reference interpreter before its figures are printed.

    python benchmarks/bench_compile_latency.py [--quick] [--numba-10k] [--sweep]
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.metadata
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from symnum.backends import kernel_cache, llvm_tier, lower

import symnum as sn
from symnum.demo.examples import brusselator_init, brusselator_rhs


def random_graph(n_ops: int, n_in: int = 8, seed: int = 0) -> sn.Fn:
    """A seeded DAG of exactly `n_ops` operations over `n_in` inputs; every sink is an output.

    Binary operations (add, sub, mul) combine bounded values (inputs, or outputs of sin, cos,
    tanh, atan); unary ones squash a binary result, so the values stay O(1) and rounding
    differences between libm and numpy are not amplified chaotically.
    """
    rng = random.Random(seed)
    xs = list(sn.symbols(" ".join(f"x{i}" for i in range(n_in))))
    bounded: list[Any] = list(xs)
    raw: list[Any] = []
    used: set[Any] = set()
    unary = [sn.sin, sn.cos, sn.tanh, sn.atan]

    def recent(pool: list[Any]) -> Any:  # mostly recent values: locality, as in real code
        node = pool[len(pool) - 1 - rng.randrange(min(len(pool), 24))]
        used.add(node)
        return node

    with sn.tree_mode():  # no canonical merging: one node per operation
        for _ in range(n_ops):
            if raw and rng.random() < 0.5:
                bounded.append(rng.choice(unary)(recent(raw)))
            else:
                a, b = recent(bounded), recent(bounded)
                r = rng.random()
                raw.append(a + b if r < 0.4 else a - b if r < 0.7 else a * b)
    sinks = [nd for nd in bounded[n_in:] + raw if nd not in used]
    return sn.Fn(xs, sinks)


def brusselator_fns(n: int) -> tuple[sn.Fn, sn.Fn]:
    fn = sn.trace(lambda s: brusselator_rhs(s), brusselator_init(n), mode="scalar")
    jac = sn.sparse_jacobian(fn.flat_outputs, fn.flat_inputs)
    return fn, sn.Fn(fn.flat_inputs, list(jac.values))


# timing ----------------------------------------------------------------------------------------
def timed(work: Callable[[], Any], repeats: int, budget_s: float = 60.0,
          after: Callable[[], Any] | None = None) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of `work()` over up to `repeats` runs; the last result.
    `after()` runs after each, untimed (llvm_tier.drain: a tiered compile's background
    opt=1 compile must not be counted in the next run's process CPU time)."""
    walls, cpus, result, spent = [], [], None, 0.0
    for _ in range(max(1, repeats)):
        result = None
        gc.collect()
        w, c = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        if after is not None:
            after()
        spent += walls[-1]
        if spent > budget_s:
            break
    return statistics.median(walls), statistics.median(cpus), result


def per_call(kernel: Callable, x: np.ndarray, out: np.ndarray, budget_s: float = 0.3) -> float:
    """Seconds of CPU per `kernel(x, out)` call: the best of 7 loops sized to ~budget_s/7.

    CPU time and the best loop, because this machine is shared: wall time would count the
    other tenants' time slices."""
    kernel(x, out)
    t = time.process_time()
    for _ in range(10):
        kernel(x, out)
    once = max((time.process_time() - t) / 10, 1e-7)
    n = max(10, min(200_000, int(budget_s / 7 / once)))
    runs = []
    for _ in range(7):
        t = time.process_time()
        for _ in range(n):
            kernel(x, out)
        runs.append((time.process_time() - t) / n)
    return min(runs)


def check(fn: sn.Fn, compiled: Any, x: np.ndarray) -> None:
    """The kernel must agree with the reference interpreter (a fast wrong answer is no result)."""
    out = np.empty(compiled.n_out)
    compiled.kernel(x, out)
    with np.errstate(all="ignore"):
        want = np.asarray([np.asarray(v, float) for v in sn.evaluate(
            fn.flat_outputs, dict(zip(fn.flat_inputs, x)))], float)
    if not np.allclose(out, want, rtol=1e-9, atol=1e-12, equal_nan=True):
        raise SystemExit(f"{compiled.backend} kernel disagrees with the reference interpreter")


def llvm_cold_warm(fn: sn.Fn, reps: int, **opts: Any) -> dict:
    """Cold and warm lower() times, and the warm path's parts (schedule, IR, read + link)."""
    dirs: list[Path] = []

    def cold() -> Any:
        dirs.append(Path(tempfile.mkdtemp(prefix="symnum-bench-")))
        return lower(fn, "llvm", cache_dir=dirs[-1], **opts)

    cw, cc, c = timed(cold, reps, after=llvm_tier.drain)
    assert not c.info["cache_hit"]  # (tiered: the optimised code is in place after drain)
    parts: list[tuple[float, float, float]] = []

    def warm() -> Any:
        k = lower(fn, "llvm", cache_dir=dirs[-1], **opts)
        parts.append((k.info["schedule_seconds"], k.info["emit_seconds"],
                      k.info["load_seconds"]))
        return k

    ww, wc, w = timed(warm, 3 * reps)
    assert w.info["cache_hit"]
    split = tuple(statistics.median(p) for p in zip(*parts))
    return {"cold": (cw, cc), "warm": (ww, wc), "compiled": c, "warm_parts": split}


def numba_cold_warm(fn: sn.Fn, reps: int) -> dict:
    dirs: list[Path] = []

    def forget(key: str) -> None:  # what a fresh process would not have in memory
        kernel_cache._LOADED.pop(key, None)
        sys.modules.pop(key, None)

    def cold() -> Any:
        dirs.append(Path(tempfile.mkdtemp(prefix="symnum-bench-")))
        c = lower(fn, "numba", cache_dir=dirs[-1])
        forget(c.info["module"])
        return c

    cw, cc, c = timed(cold, reps)

    def warm() -> Any:
        w = lower(fn, "numba", cache_dir=dirs[-1])
        forget(w.info["module"])
        return w

    ww, wc, w = timed(warm, 3 * reps)
    return {"cold": (cw, cc), "warm": (ww, wc), "compiled": c}


def both(t: tuple[float, float]) -> str:
    return f"{fmt_time(t[0])} ({fmt_time(t[1])} cpu)"


def fmt_call(s: float) -> str:
    return f"{s * 1e6:.2f} µs" if s < 1e-5 else fmt_time(s)


# the tables ------------------------------------------------------------------------------------
def latency_table(sizes: list[int], reps: int, numba_max: int) -> None:
    rows, warm_rows = [], []
    for n in sizes:
        fn = random_graph(n)
        x = np.random.default_rng(n).uniform(-1, 1, len(fn.flat_inputs))
        out_n = len(fn.flat_outputs)
        lv = llvm_cold_warm(fn, reps)
        check(fn, lv["compiled"], x)
        stmts = lv["compiled"].info["statements"]
        call_l = per_call(lv["compiled"].kernel, x, np.empty(out_n))
        warm_rows.append([f"{n:,}", *(fmt_time(t) for t in lv["warm_parts"])])
        if n <= numba_max:
            nb = numba_cold_warm(fn, 1 if n >= 1000 else reps)
            check(fn, nb["compiled"], x)
            call_n = per_call(nb["compiled"].kernel, x, np.empty(out_n))
            ratio = fmt_ratio(nb["cold"][0] / lv["cold"][0])
            rows.append([f"{n:,} ({stmts:,} instr)", both(nb["cold"]), both(nb["warm"]),
                         both(lv["cold"]), both(lv["warm"]), ratio, fmt_call(call_n),
                         fmt_call(call_l)])
        else:
            rows.append([f"{n:,} ({stmts:,} instr)", "(--numba-10k)", "-", both(lv["cold"]),
                         both(lv["warm"]), "-", "-", fmt_call(call_l)])
        print(f"  done: {n} ops", file=sys.stderr)
    print("### Compile latency (lower(): schedule + codegen + load) and per-call time\n")
    print(table(["graph (ops)", "numba cold", "numba warm", "llvm cold", "llvm warm",
                 "cold numba/llvm", "numba call", "llvm call"], rows))
    print("\n### llvm warm path, by part (medians, wall)\n")
    print(table(["ops", "schedule (shared front end)", "IR text", "read + checksum + link"],
                warm_rows))
    print()


def opt_sweep(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        fn = random_graph(n)
        x = np.random.default_rng(n).uniform(-1, 1, len(fn.flat_inputs))
        for opt, ir_opt in [(0, 0), (1, 0), (2, 0), (3, 0), (1, 1), (2, 2), (3, 3)]:
            w, c, k = timed(functools.partial(lower, fn, "llvm", cache=False, opt=opt,
                                              ir_opt=ir_opt, tier=False), 3)
            check(fn, k, x)
            rows.append([f"{n:,}", f"opt={opt} ir_opt={ir_opt}", fmt_time(w), fmt_time(c),
                         fmt_call(per_call(k.kernel, x, np.empty(k.n_out)))])
    print("### llvm: optimisation level (code generator `opt`, IR pipeline `ir_opt`)\n")
    print(table(["ops", "levels", "compile wall", "compile cpu", "call"], rows))
    print()


def shard_sweep(fns: dict[str, sn.Fn]) -> None:
    rows = []
    for name, fn in fns.items():
        x = np.random.default_rng(0).uniform(0.5, 2.0, len(fn.flat_inputs))
        for shard in (None, 100, 250, 500, 1000):
            for opt in (0, 1):
                if shard is None and opt == 1 and len(fn.flat_outputs) > 5000:
                    continue  # one huge function at O1: minutes (quadratic scheduling)
                w, c, k = timed(functools.partial(lower, fn, "llvm", cache=False, opt=opt,
                                                  shard=shard, tier=False), 1)
                check(fn, k, x)
                rows.append([name, str(shard), str(opt), str(k.info["functions"]),
                             fmt_time(w), fmt_time(c),
                             fmt_call(per_call(k.kernel, x, np.empty(k.n_out)))])
    print("### llvm: sharding a huge kernel into functions of `shard` items\n")
    print(table(["kernel", "shard", "opt", "functions", "compile wall", "compile cpu", "call"],
                rows))
    print()


def brusselator_table(n: int, reps: int) -> dict[str, sn.Fn]:
    t0 = time.perf_counter()
    rhs, jac = brusselator_fns(n)
    print(f"(Brusselator n={n}: traced + sparse Jacobian in {time.perf_counter() - t0:.2f} s)\n")
    rows = []
    x = brusselator_init(n).ravel()
    for name, fn in [("RHS", rhs), ("Jacobian values", jac)]:
        lv = llvm_cold_warm(fn, reps)
        k = lv["compiled"]
        check(fn, k, x)
        rows.append([name, f"{k.info['statements']:,}", f"{k.n_out:,}", both(lv["cold"]),
                     both(lv["warm"]), fmt_call(per_call(k.kernel, x, np.empty(k.n_out)))])
    print(f"### Brusselator n={n} with llvm (default options)\n")
    print(table(["kernel", "instructions", "outputs", "cold", "warm", "call"], rows))
    print()
    return {f"Brusselator RHS n={n}": rhs, f"Brusselator Jacobian n={n}": jac}


def call_paths(reps: int) -> None:
    from symnum.backends.llvm_fallback import ctypes_trampolines

    rows = []
    for n in (10, 100, 1000):
        fn = random_graph(n, seed=1)
        x = np.random.default_rng(0).uniform(-1, 1, len(fn.flat_inputs))
        k = lower(fn, "llvm", cache=False, tier=False)
        out = np.empty(k.n_out)
        lib = k.kernel.library
        ck, cb = ctypes_trampolines("float64")
        via_ctypes = per_call(functools.partial(ck, lib.kernel, k.n_in, k.n_out), x, out)
        rows_n = 10_000
        X = np.random.default_rng(1).uniform(-1, 1, (rows_n, k.n_in))
        OUT = np.empty((rows_n, k.n_out))
        per_row = {}
        for inline in (True, False):
            kb = lower(fn, "llvm", cache=False, inline_batched=inline, parallel=False,
                       tier=False)
            per_row[inline] = timed(functools.partial(kb.batched, X, OUT), 5 * reps)[0] / rows_n
        par = lower(fn, "llvm", cache=False, parallel=True, tier=False)
        per_row["par"] = timed(functools.partial(par.batched, X, OUT), 5 * reps)[0] / rows_n
        rows.append([f"{n} ops", fmt_call(per_call(k.kernel, x, out)), fmt_call(via_ctypes),
                     f"{per_row[True] * 1e9:.0f} ns", f"{per_row[False] * 1e9:.0f} ns",
                     f"{per_row['par'] * 1e9:.0f} ns"])
    print("### llvm: call paths (per call) and batched rows (10,000 rows, per row)\n")
    print(table(["kernel", "trampoline", "ctypes", "batched inlined", "batched calls",
                 "batched threads"], rows))
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    ap.add_argument("--numba-10k", action="store_true", help="also numba at 10,000 ops (~30 s+)")
    ap.add_argument("--sweep", action="store_true", help="also the opt-level and shard sweeps")
    ap.add_argument("--n", type=int, default=None, help="Brusselator grid size (default 32)")
    args = ap.parse_args(argv)
    sizes = [100, 1000] if args.quick else [100, 200, 1000, 10000]
    reps = 1 if args.quick else 5
    versions = ", ".join(f"{d} {importlib.metadata.version(d)}" for d in ("numba", "llvmlite"))
    print(machine_info() + f"; {versions}\n")
    # one-time process costs (numba's initialisation, the JIT) are paid here, not in the tables
    warm_up = lower(random_graph(5, seed=9), "llvm", cache=False)
    warm_up(*np.zeros(8))
    lower(random_graph(5, seed=9), "numba", cache_dir=tempfile.mkdtemp())
    latency_table(sizes, reps, 10_000 if args.numba_10k else 1000)
    fns = brusselator_table(args.n or (8 if args.quick else 32), reps)
    call_paths(reps)
    if args.sweep:
        opt_sweep([1000, 10000] if not args.quick else [1000])
        shard_sweep({"random 10,000 ops": random_graph(10_000), **fns})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
