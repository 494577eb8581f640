"""Measure what each primitive really costs in this project's numba kernels, in CPU cycles.

For each operation, one straight-line kernel of the numba backend applies it to K independent
inputs (K outputs), the way generated kernels are: no loop around the op, error_model="numpy",
no fastmath. The batched kernel runs over P points on one thread; the same kernel with the op
replaced by a copy is the baseline. Cost = (median − baseline) / (K · P) seconds, times the
clock (from /proc/cpuinfo, or --ghz). By default throughput: independent ops overlap (and LLVM's
SLP vectoriser packs identical neighbours, which flatters add and mul); --chain measures latency
along one dependency chain instead. The table printed at the end is what rewrites/costs.py
holds (CPU_MEASURED: throughput, CPU_LATENCY: --chain).

    python benchmarks/measure_op_costs.py [--quick] [--chain] [--ghz 2.6] [--ops add,mul,fma]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import machine_info, table

import symnum as sn

K = 64  # independent ops per kernel

# name → (build one op from inputs a, b; the input range that keeps it in its domain)
OPS = {
    "add": (lambda a, b: a + b, (0.5, 1.5)),
    "sub": (lambda a, b: a - b, (0.5, 1.5)),
    "neg": (lambda a, b: -a, (0.5, 1.5)),
    "mul": (lambda a, b: a * b, (0.5, 1.5)),
    "fma": (lambda a, b: sn.fma(a, b, a), (0.5, 1.5)),
    "div": (lambda a, b: a / b, (0.5, 1.5)),
    "abs": (lambda a, b: abs(a), (-1.0, 1.0)),
    "pow": (lambda a, b: a ** b, (0.5, 1.5)),
    "sqrt": (lambda a, b: sn.sqrt(a), (0.5, 1.5)),
    "exp": (lambda a, b: sn.exp(a), (0.5, 1.5)),
    "expm1": (lambda a, b: sn.expm1(a), (0.5, 1.5)),
    "log": (lambda a, b: sn.log(a), (0.5, 1.5)),
    "log1p": (lambda a, b: sn.log1p(a), (0.5, 1.5)),
    "sin": (lambda a, b: sn.sin(a), (0.5, 1.5)),
    "cos": (lambda a, b: sn.cos(a), (0.5, 1.5)),
    "sincos": (lambda a, b: sn.sin(a) + sn.cos(a), (0.5, 1.5)),  # minus one add, see main()
    "tan": (lambda a, b: sn.tan(a), (0.5, 1.5)),
    "asin": (lambda a, b: sn.asin(a), (0.1, 0.9)),
    "acos": (lambda a, b: sn.acos(a), (0.1, 0.9)),
    "atan": (lambda a, b: sn.atan(a), (0.5, 1.5)),
    "atan2": (lambda a, b: sn.atan2(a, b), (0.5, 1.5)),
    "sinh": (lambda a, b: sn.sinh(a), (0.5, 1.5)),
    "cosh": (lambda a, b: sn.cosh(a), (0.5, 1.5)),
    "tanh": (lambda a, b: sn.tanh(a), (0.5, 1.5)),
    "erf": (lambda a, b: sn.erf(a), (0.5, 1.5)),
    "hypot": (lambda a, b: sn.hypot(a, b), (0.5, 1.5)),
    "minimum": (lambda a, b: sn.minimum(a, b), (0.5, 1.5)),
    "maximum": (lambda a, b: sn.maximum(a, b), (0.5, 1.5)),
    "ifelse": (lambda a, b: sn.ifelse(a < b, a, b), (0.5, 1.5)),
}


def kernel_for(make, xs, chain: bool = False):
    """K independent ops (throughput), or one chain of K dependent ops (latency): step i
    computes op(x_i + t·1e-300, x_(i+1)) — the previous result t enters through a tiny term,
    so the argument stays x_i (in the op's domain) yet the op cannot start before t is known."""
    from symnum import backends

    if not chain:
        outs = [make(xs[i], xs[(i + 1) % K]) for i in range(K)]
        return backends.lower(sn.Fn([xs], np.array(outs, dtype=object)), "numba")
    t = sn.Const(0.0)
    with sn.tree_mode():  # keep x + t·1e-300 as written (canonical forms would reorder it)
        for i in range(K):
            t = make(xs[i] + t * 1e-300, xs[(i + 1) % K])
    return backends.lower(sn.Fn([xs], np.array([t], dtype=object)), "numba")


def time_kernel(k, X, OUT, repeats: int) -> float:
    k.batched(X, OUT)  # warm: compiled already, first touch of memory
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        k.batched(X, OUT)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def clock_ghz() -> float:
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(ln.split(":")[1]) for ln in f if ln.startswith("cpu MHz")]
        return statistics.median(mhz) / 1000.0
    except (OSError, ValueError, IndexError):
        return 2.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer points and repeats")
    ap.add_argument("--ghz", type=float, default=None, help="clock for ns → cycles")
    ap.add_argument("--chain", action="store_true",
                    help="latency: one chain of dependent ops instead of independent ones")
    ap.add_argument("--ops", default="", help="comma-separated subset of the ops (default all)")
    args = ap.parse_args()
    import numba

    numba.set_num_threads(1)  # per-op cost on one core; threads add noise, not information
    points = 5_000 if args.quick else 20_000
    repeats = 7 if args.quick else 21
    ghz = args.ghz or clock_ghz()
    xs = sn.symarray("x", (K,))
    rng = np.random.default_rng(0)
    base = kernel_for(lambda a, b: a, xs, args.chain)
    n_out = 1 if args.chain else K
    rows, table_out = [], {}
    chosen = [o for o in args.ops.split(",") if o] or list(OPS)
    unknown = sorted(set(chosen) - set(OPS))
    if unknown:
        ap.error(f"unknown ops {unknown}; choose from {', '.join(OPS)}")
    for name in chosen:
        make, (lo, hi) = OPS[name]
        X = rng.uniform(lo, hi, (points, K))
        OUT = np.empty((points, n_out))
        k = kernel_for(make, xs, args.chain)
        t_base = time_kernel(base, X, OUT, repeats)
        t_op = time_kernel(k, X, OUT, repeats)
        ns = max(0.0, (t_op - t_base)) / (K * points) * 1e9
        cycles = ns * ghz
        if name == "sincos":  # sin(a) + cos(a): one merged sincos call and an add
            cycles = max(0.0, cycles - table_out.get("add", 0.0))
        table_out[name] = cycles
        rows.append((name, f"{ns:.2f}", f"{cycles:.1f}", k.info["statements"]))
    print(machine_info())
    mode = "one chain of dependent ops (latency)" if args.chain else "independent ops"
    print(f"\nclock {ghz:.3f} GHz, {points} points x {K} ops per kernel ({mode}), "
          f"median of {repeats}\n")
    print(table(["op", "ns/op", "cycles/op", "statements"], rows))
    print("\ncycles per op, for rewrites/costs.py:")
    print(", ".join(f'"{k}": {v:.1f}' for k, v in table_out.items()))


if __name__ == "__main__":
    main()
