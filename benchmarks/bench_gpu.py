"""GPU throughput of the cuda backend: batched right-hand sides and elementwise kernels, side by
side with numba on the CPU (all cores), numpy and a hand-written numba-cuda kernel.

batched: the Brusselator RHS (n×n grid, 2n² states) for many state vectors at once, one per GPU
thread; the GPU figures are for device-resident data ("device") and for host arrays in and out
("host", transfers included). elementwise: a five-transcendental expression over 10⁶–10⁷ points,
float32 and float64, with the effective memory bandwidth and its fraction of the GPU's peak.
loop: sn.fori_loop RK4 of the 8-state Lorenz-96 model (bench_loops.make_model), 1,000 steps, for
10⁵ initial states at once — one loop per GPU thread, carries in registers — against the llvm
CPU kernel's batched call (a loop per row, its threads). array_carry: the heat equation stepped
by sn.fori_loop over a whole grid of 10⁵–10⁷ points, 100 and 1,000 steps — a host loop of one
kernel launch per step (backends.cuda_step_loops) — against the same launches written by hand in
numba-cuda and the llvm CPU kernel.
Every result is checked against numpy before its time is printed. Needs a CUDA GPU (or, for a
smoke run of the code paths only, NUMBA_ENABLE_CUDASIM=1 with --quick).

    python benchmarks/bench_gpu.py [--quick] [--json results.json]
    python benchmarks/bench_gpu.py --source-only   # no GPU: the loop kernels' source sizes
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from numba import cuda  # a script: NUMBA_ENABLE_CUDASIM (if any) is already in the environment

import symnum as sn
from symnum.demo.examples import brusselator_rhs


def five(x, y):
    """Five transcendental calls per point (the issue's elementwise workload)."""
    return np.sin(x) * np.exp(-y * y) + np.log1p(x * x) * np.cos(y) + np.tanh(x * y)


def gpu_median(repeats: int, work: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Median wall time of `work(*args)` and a device synchronisation (after one warm-up)."""
    result = work(*args)
    cuda.synchronize()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = work(*args)
        cuda.synchronize()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), result


def cpu_median(repeats: int, work: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    result = work(*args)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = work(*args)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), result


def peak_bandwidth() -> float | None:
    """The GPU's theoretical memory bandwidth in bytes/s (DDR: two transfers per clock)."""
    try:
        dev = cuda.get_current_device()
        return 2.0 * dev.MEMORY_CLOCK_RATE * 1e3 * dev.GLOBAL_MEMORY_BUS_WIDTH / 8
    except Exception:
        return None


def check(got: Any, want: Any, rtol: float, what: str) -> None:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = float(np.max(np.abs(want), initial=1.0))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def bench_batched(cb: Any, nb: Any, grids: list[int], rows_list: list[int],
                  repeats: int, cache: str) -> list[dict]:
    out = []
    for n in grids:
        t0 = time.perf_counter()
        fn = sn.trace(brusselator_rhs, np.zeros((2, n, n)), mode="scalar")
        trace_s = time.perf_counter() - t0
        k = cb.lower(fn, cache_dir=cache)
        cpu = nb.lower(fn, cache_dir=cache)
        ns = 2 * n * n
        rng = np.random.default_rng(0)
        first = True
        for rows in rows_list:
            X = rng.uniform(0, 2, (rows, ns))
            XT = np.ascontiguousarray(X.T)
            dXT, dOUTT = cuda.to_device(XT), cuda.device_array((ns, rows))
            t0 = time.perf_counter()
            k.columns(dXT, dOUTT)
            cuda.synchronize()
            compile_s = time.perf_counter() - t0 if first else None
            dev_s, _ = gpu_median(repeats, k.columns, dXT, dOUTT)
            OUTT = np.empty((ns, rows))
            host_s, _ = gpu_median(repeats, k.columns, XT, OUTT)
            OUT = np.empty((rows, ns))
            t0 = time.perf_counter()
            cpu.batched(X, OUT)
            cpu_compile = time.perf_counter() - t0 if first else None
            cpu_s, _ = cpu_median(repeats, cpu.batched, X, OUT)
            m = min(rows, 2000)  # the reference interpreter checks a slice, vectorised
            want = fn(XT[:, :m].reshape(2, n, n, m)).reshape(ns, m)
            check(dOUTT.copy_to_host()[:, :m], want, 1e-12, f"cuda n={n}")
            check(OUTT[:, :m], want, 1e-12, f"cuda host n={n}")
            check(OUT[:m].T, want, 1e-12, f"numba n={n}")
            np_s = None
            if rows <= 10**4:
                np_s, _ = cpu_median(max(1, repeats // 3), fn, XT.reshape(2, n, n, rows))
            out.append(dict(n=n, states=ns, statements=k.info["statements"], rows=rows,
                            trace_s=trace_s, cuda_first_call_s=compile_s,
                            numba_first_call_s=cpu_compile, cuda_device_s=dev_s,
                            cuda_host_s=host_s, numba_cpu_s=cpu_s, numpy_s=np_s))
            first = False
    return out


def hand(x, y, o):
    """The elementwise workload written by hand for numba-cuda (jitted in main)."""
    for i in range(cuda.grid(1), o.shape[0], cuda.gridsize(1)):
        a, b = x[i], y[i]
        o[i] = math.sin(a) * math.exp(-b * b) + math.log1p(a * a) * math.cos(b) + math.tanh(a * b)


def bench_elementwise(cb: Any, nb: Any, sizes: list[int], repeats: int,
                      cache: str) -> list[dict]:
    fn = sn.trace(five, 1.0, 2.0)
    k = cb.lower(fn, cache_dir=cache)
    hand_k = cuda.jit(hand)
    peak = peak_bandwidth()
    out = []
    for dtype in ("float32", "float64"):
        cpu = nb.lower(fn, dtype=dtype, cache_dir=cache)
        for n in sizes:
            rng = np.random.default_rng(1)
            x, y = rng.uniform(-2, 2, n).astype(dtype), rng.uniform(-2, 2, n).astype(dtype)
            dx, dy = cuda.to_device(x), cuda.to_device(y)
            t0 = time.perf_counter()
            k.elementwise(dx, dy)
            cuda.synchronize()
            first = time.perf_counter() - t0
            dev_s, dres = gpu_median(repeats, k.elementwise, dx, dy)
            host_s, hres = gpu_median(repeats, k.elementwise, x, y)
            do = cuda.device_array(n, dtype=dtype)
            blocks, threads = cb.launch_config(n, 128, cb._max_blocks())
            hand_s, _ = gpu_median(repeats, hand_k[blocks, threads], dx, dy, do)
            np_s, want = cpu_median(repeats, five, x, y)
            X, OUT = np.ascontiguousarray(np.stack([x, y], 1)), np.empty((n, 1), dtype)
            cpu.batched(X, OUT)
            cpu_s, _ = cpu_median(repeats, cpu.batched, X, OUT)
            rtol = 1e-5 if dtype == "float32" else 1e-12
            for got, what in [(dres.copy_to_host(), "device"), (hres, "host"),
                              (do.copy_to_host(), "hand"), (OUT[:, 0], "numba")]:
                check(got, want, rtol, f"elementwise {what} {dtype} n={n}")
            moved = 3 * n * np.dtype(dtype).itemsize  # read x, y; write out
            out.append(dict(dtype=dtype, n=n, cuda_first_call_s=first, cuda_device_s=dev_s,
                            cuda_host_s=host_s, hand_cuda_s=hand_s, numpy_s=np_s,
                            numba_cpu_s=cpu_s, gbps=moved / dev_s / 1e9,
                            peak_fraction=(moved / dev_s / peak) if peak else None))
    return out


def bench_loop(cb: Any, rows: int, steps: int, repeats: int, cache: str) -> dict:
    """A batch of RK4 integrations as one loop per thread (backends.cuda_loops) vs llvm."""
    from bench_loops import N, make_model

    from symnum import backends

    simulate, _ = make_model(steps, 0.01, scalar=True)
    t0 = time.perf_counter()
    fn = sn.trace(simulate, np.zeros(N), 1.0, mode="scalar")
    trace_s = time.perf_counter() - t0
    k = cb.lower(fn, cache_dir=cache)
    cpu = backends.lower(fn, "llvm", cache_dir=cache)
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.uniform(-1, 1, (rows, N)), rng.uniform(1, 3, (rows, 1))], 1)
    XT = np.ascontiguousarray(X.T)
    dXT, dOUTT = cuda.to_device(XT), cuda.device_array((N, rows))
    t0 = time.perf_counter()
    k.columns(dXT, dOUTT)
    cuda.synchronize()
    first = time.perf_counter() - t0
    dev_s, _ = gpu_median(repeats, k.columns, dXT, dOUTT)
    OUT = np.empty((rows, N))
    t0 = time.perf_counter()
    cpu.batched(X, OUT)
    cpu_first = time.perf_counter() - t0
    cpu_s, _ = cpu_median(max(1, repeats // 5), cpu.batched, X, OUT)
    got = dOUTT.copy_to_host()
    m = min(rows, 200)  # the reference interpreter checks a slice
    want = np.asarray(fn(XT[:N, :m], XT[N, :m]))
    # the GPU contracts a·b + c into fma (one rounding): compare at 1e-9, not bit for bit
    check(got[:, :m], want, 1e-9, "loop kernel vs interpreter")
    check(got, OUT.T, 1e-9, "loop kernel vs llvm")
    err = float(np.max(np.abs(got - OUT.T)) / max(1.0, float(np.max(np.abs(OUT)))))
    return dict(rows=rows, steps=steps, states=N, statements=k.info["statements"],
                trace_s=trace_s, cuda_first_call_s=first, llvm_first_call_s=cpu_first,
                cuda_device_s=dev_s, llvm_cpu_s=cpu_s, max_rel_diff_vs_llvm=err)


def _heat(steps: int):
    def run(u0, k):
        return sn.fori_loop(0, steps, lambda i, u: u + k * (np.roll(u, 1) - 2 * u
                                                            + np.roll(u, -1)), u0)
    return run


def _hand_heat_kernel():
    """The hand-written peer: one numba-cuda launch per step, two buffers swapped."""
    @cuda.jit
    def step(u, v, k):
        n = u.size
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            left = u[i - 1] if i > 0 else u[n - 1]
            right = u[i + 1] if i < n - 1 else u[0]
            v[i] = u[i] + k * (left - 2 * u[i] + right)

    return step


def bench_array_carry(cb: Any, pairs: list[tuple[int, int]], repeats: int,
                      cache: str) -> list[dict]:
    """A loop carrying an array (the heat equation stepped by sn.fori_loop over the whole grid):
    a host loop of one kernel launch per step (backends.cuda_step_loops), host arrays in and
    out, against the same launches written by hand (device data) and the llvm CPU kernel."""
    from symnum import backends

    hand = _hand_heat_kernel()
    out = []
    for n, steps in pairs:
        u = np.random.default_rng(n).standard_normal(n)
        fn = sn.trace(_heat(steps), u, 0.1, mode="array")
        t0 = time.perf_counter()
        k = cb.lower(fn, cache_dir=cache)
        k(u, 0.1)
        cuda.synchronize()
        first = time.perf_counter() - t0
        cpu = backends.lower(fn, "llvm", cache_dir=cache)
        cuda_s, got = gpu_median(repeats, k, u, 0.1)
        # the CPU kernel takes seconds at 10⁹ element-steps: time it once there
        cpu_s, want = cpu_median(1 if n * steps > 10**9 else max(1, repeats // 2), cpu,
                                 u, 0.1)
        blocks, threads = cb.launch_config(n, 128, cb._max_blocks())
        bufs = [cuda.to_device(u), cuda.device_array(n)]

        def by_hand(bufs=bufs, steps=steps, blocks=blocks, threads=threads):
            a, b = bufs
            for _ in range(steps):
                hand[blocks, threads](a, b, 0.1)
                a, b = b, a
            return a

        hand_s, _ = gpu_median(repeats, by_hand)
        bufs[0].copy_to_device(u)  # the timed calls ran from their own last state
        check(by_hand().copy_to_host(), want, 1e-9, f"hand heat kernel n={n}")
        check(got, want, 1e-9, f"array-carry loop n={n} steps={steps} vs llvm")
        out.append(dict(n=n, steps=steps, launches=k.info["launches"],
                        cuda_first_call_s=first, cuda_host_s=cuda_s, hand_cuda_s=hand_s,
                        llvm_cpu_s=cpu_s, per_step_s=cuda_s / steps))
    return out


def array_carry_sources(steps_list: tuple = (100, 10_000), n: int = 10**6) -> str:
    """The array-carry loop's generated module and host steps per step count (no GPU needed):
    the source is the same for any step count, the launches grow with it."""
    from symnum.backends.cuda_arrays import generate
    from symnum.backends.cuda_step_loops import launches

    rows = []
    for steps in steps_list:
        t0 = time.process_time()
        fn = sn.trace(_heat(steps), np.zeros(n), 0.1, mode="array")
        src, host, _ = generate(fn)
        rows.append([f"{n:,}", f"{steps:,}", fmt_time(time.process_time() - t0),
                     src.count("\n"), sum(s[0] == "launch" for s in host) + sum(
                         st[0] == "launch" for s in host if s[0] == "loop" for st in s[3]),
                     f"{launches(host):,}"])
    return table(["n", "steps", "trace + generate (CPU)", "source lines", "kernels",
                  "launches per call"], rows)


def loop_source_sizes(steps_list: tuple = (50, 1000)) -> str:
    """Trace + cuda source generation of the loop kernel per step count (no GPU needed): the
    source must not grow with the step count."""
    from bench_loops import N, make_model
    from symnum.backends.cuda_source import generate

    rows = []
    for steps in steps_list:
        simulate, _ = make_model(steps, 0.01, scalar=True)
        t0 = time.process_time()
        fn = sn.trace(simulate, np.zeros(N), 1.0, mode="scalar")
        t1 = time.process_time()
        src, sched = generate(fn)
        t2 = time.process_time()
        rows.append([f"{steps:,}", fmt_time(t1 - t0), fmt_time(t2 - t1), len(sched),
                     len(sched.instrs[0].body), src.count("\n")])
    return table(["steps", "trace (CPU)", "cuda source (CPU)", "schedule", "loop body",
                  "source lines"], rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--source-only", action="store_true",
                    help="no GPU needed: the loop kernel's generated source per step count")
    opts = ap.parse_args()
    if opts.source_only:
        print(machine_info() + "\n")
        print(loop_source_sizes())
        print()
        print(array_carry_sources())
        return 0
    from symnum.backends import cuda_backend as cb
    from symnum.backends import numba_backend as nb

    if not cuda.is_available():
        print("no CUDA GPU here (and NUMBA_ENABLE_CUDASIM is not set): nothing to measure")
        return 3
    sim = cb.simulating()
    if sim and not opts.quick:
        print("the simulator runs kernels in Python threads: use --quick for a smoke run")
        return 2
    gpu = "CUDA simulator" if sim else str(cuda.get_current_device().name)
    print(machine_info())
    peak = peak_bandwidth()
    print(f"GPU: {gpu}; numba CUDA target: {cb._cuda_version()}; peak memory bandwidth "
          f"{f'{peak / 1e9:.0f} GB/s' if peak else 'unknown'}\n")
    if sim:
        grids, rows, sizes, repeats, loop = [2], [64], [300], 1, (64, 5)
        carry = [(64, 3)]
    elif opts.quick:
        grids, rows, sizes, repeats, loop = [4], [10**4, 10**5], [10**6], 5, (10**4, 1000)
        carry = [(10**6, 100)]
    else:
        grids, rows, sizes, repeats = [4, 8], [10**3, 10**4, 10**5, 10**6], [10**6, 10**7], 10
        loop = (10**5, 1000)
        carry = [(10**5, 100), (10**5, 1000), (10**6, 100), (10**6, 1000), (10**7, 100)]
    cache = tempfile.mkdtemp(prefix="symnum-bench-gpu-")  # cold compiles: a fresh kernel cache
    try:
        return _run(cb, nb, grids, rows, sizes, repeats, cache, gpu, opts.json, loop, carry)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _run(cb: Any, nb: Any, grids: list[int], rows: list[int], sizes: list[int], repeats: int,
         cache: str, gpu: str, json_path: str | None, loop: tuple[int, int],
         carry: list[tuple[int, int]]) -> int:
    batched = bench_batched(cb, nb, grids, rows, repeats, cache)
    print("## batched Brusselator RHS (one state vector per GPU thread; medians)\n")
    print(table(
        ["n", "states", "stmts", "rows", "cuda device", "cuda host↔dev", "numba CPU",
         "numpy interp", "GPU vs CPU", "first call cuda / numba"],
        [[r["n"], r["states"], r["statements"], f"{r['rows']:,}", fmt_time(r["cuda_device_s"]),
          fmt_time(r["cuda_host_s"]), fmt_time(r["numba_cpu_s"]), fmt_time(r["numpy_s"]),
          fmt_ratio(r["numba_cpu_s"] / r["cuda_device_s"]),
          (f"{fmt_time(r['cuda_first_call_s'])} / {fmt_time(r['numba_first_call_s'])}"
           if r["cuda_first_call_s"] is not None else "")] for r in batched]))
    elem = bench_elementwise(cb, nb, sizes, repeats, cache)
    print("\n## elementwise five-transcendental expression (medians)\n")
    print(table(
        ["dtype", "points", "cuda device", "hand-written cuda", "cuda host↔dev", "numpy",
         "numba CPU", "GB/s (device)", "of peak", "vs hand", "GPU vs numba CPU"],
        [[r["dtype"], f"{r['n']:,}", fmt_time(r["cuda_device_s"]), fmt_time(r["hand_cuda_s"]),
          fmt_time(r["cuda_host_s"]), fmt_time(r["numpy_s"]), fmt_time(r["numba_cpu_s"]),
          f"{r['gbps']:.0f}", f"{r['peak_fraction']:.0%}" if r["peak_fraction"] else "-",
          fmt_ratio(r["cuda_device_s"] / r["hand_cuda_s"]),
          fmt_ratio(r["numba_cpu_s"] / r["cuda_device_s"])] for r in elem]))
    lp = bench_loop(cb, loop[0], loop[1], repeats, cache)
    print("\n## loop kernel: RK4 fori_loop, Lorenz-96 (8 states), one integration per GPU "
          "thread (medians)\n")
    print(table(
        ["rows", "steps", "stmts", "trace", "cuda device", "llvm CPU (batched)",
         "GPU vs llvm CPU", "first call cuda / llvm", "max rel diff"],
        [[f"{lp['rows']:,}", f"{lp['steps']:,}", lp["statements"], fmt_time(lp["trace_s"]),
          fmt_time(lp["cuda_device_s"]), fmt_time(lp["llvm_cpu_s"]),
          fmt_ratio(lp["llvm_cpu_s"] / lp["cuda_device_s"]),
          f"{fmt_time(lp['cuda_first_call_s'])} / {fmt_time(lp['llvm_first_call_s'])}",
          f"{lp['max_rel_diff_vs_llvm']:.1e}"]]))
    ac = bench_array_carry(cb, carry, repeats, cache)
    print("\n## loop carrying an array: heat equation, sn.fori_loop over the whole grid, one "
          "kernel launch per step (medians; symnum's call includes the host↔device copies)\n")
    print(table(
        ["n", "steps", "launches", "cuda (host arrays)", "per step", "hand cuda (device)",
         "llvm CPU", "GPU vs llvm CPU", "vs hand", "first call"],
        [[f"{r['n']:,}", f"{r['steps']:,}", f"{r['launches']:,}", fmt_time(r["cuda_host_s"]),
          fmt_time(r["per_step_s"]), fmt_time(r["hand_cuda_s"]), fmt_time(r["llvm_cpu_s"]),
          fmt_ratio(r["llvm_cpu_s"] / r["cuda_host_s"]),
          fmt_ratio(r["cuda_host_s"] / r["hand_cuda_s"]), fmt_time(r["cuda_first_call_s"])]
         for r in ac]))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": machine_info(), "gpu": gpu, "batched": batched,
                       "elementwise": elem, "loop": lp, "array_carry": ac}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
