"""Sparse Jacobian of the Brusselator as an array program (issue 11, build item 4), side by side
with a hand-written numba loop and (n = 32) the scalar path, in one run.

Build = trace (mode="array") + `sn.sparse_jacobian` (pattern from the index maps, coefficient
blocks as one array program) + `sn.build_function` (numba loops); cold = an empty kernel cache,
warm = numba's on-disk cache filled (medians of the setups). numba's one-time start-up is paid
before timing (a trivial kernel), as a user's process has paid it after its first compile.
Per call: medians of interleaved batches; "values" fills a preallocated array in the
Jacobian's own (rows, cols) order — each system its own order — and "csr" refills a CSR matrix
in place (`jf.csr(x, out=A)`). Every result is checked against the hand loop before a figure is
printed.

    python benchmarks/bench_array_sparse.py [--sizes 32 256] [--reps 3] [--no-scalar]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import tempfile
import time

import numpy as np
import scipy.sparse as sp
from _common import fmt_ratio, fmt_time, machine_info, table
from bench_arrays import forget_loaded, per_call_interleaved
from peers import BRUSS_P, BRUSS_T, brusselator_numba

import symnum as sn
from symnum.demo.examples import brusselator_rhs


def rhs(state):
    return brusselator_rhs(state, BRUSS_P, BRUSS_T)


def build(n: int, cache_dir: str):
    gc.collect()
    t0 = time.perf_counter()
    fn = sn.trace(rhs, np.zeros((2, n, n)), mode="array")
    t1 = time.perf_counter()
    J = sn.sparse_jacobian(fn, fn.inputs[0])
    t2 = time.perf_counter()
    jf = sn.build_function(J, *fn.inputs, cache_dir=cache_dir)
    t3 = time.perf_counter()
    return (t1 - t0, t2 - t1, t3 - t2), J, jf


def setups(n: int, reps: int):
    cold, warm = [], []
    for _ in range(reps):
        d = tempfile.mkdtemp(prefix="symnum-bench-")
        try:
            forget_loaded()
            c, J, jf = build(n, d)
            cold.append(c)
            forget_loaded()
            w, J, jf = build(n, d)
            warm.append(w)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    med = [statistics.median(col) for col in zip(*cold)], \
        [statistics.median(col) for col in zip(*warm)]
    return med, J, jf


def scalar_build(n: int):
    """Today's scalar path: arrays of scalar terms, symbolic sparse Jacobian, LLVM kernel."""
    gc.collect()
    t0 = time.perf_counter()
    fn = sn.trace(rhs, np.zeros((2, n, n)), mode="scalar")
    ins = list(np.asarray(fn.inputs[0], dtype=object).reshape(-1))
    J = sn.sparse_jacobian(fn.flat_outputs, ins)
    jf = sn.build_function(J, fn.inputs[0])
    return time.perf_counter() - t0, jf


def check(A, hand_csr, what: str) -> None:
    err = abs(A - hand_csr).max()
    scale = max(1.0, abs(hand_csr).max())
    if err > 1e-12 * scale:
        raise AssertionError(f"{what}: differs from the hand loop by {err}")


def one_size(n: int, reps: int, scalar: bool) -> tuple[list, list]:
    (cold, warm), J, jf = setups(n, reps)
    x = np.random.default_rng(n).uniform(0.0, 4.0, (2, n, n))
    _, hand, rows, cols = brusselator_numba(n)
    xf = x.reshape(-1)
    hvals = np.empty(len(rows))
    hand(xf, hvals)
    H = sp.csr_matrix((hvals, (rows, cols)), shape=J.shape)
    A = jf.csr_structure()
    jf.csr(x, out=A)
    check(A, H, f"symnum array n={n}")
    vals = np.empty(J.nnz)
    fill = jf.compiled.call_into
    fill(vals, x)
    check(sp.csr_matrix((vals, (J.rows, J.cols)), shape=J.shape), H, "values")
    fs = [lambda: fill(vals, x), lambda: hand(xf, hvals), lambda: jf.csr(x, out=A)]
    label = ["array values", "hand values", "array csr"]
    t_sc = None
    if scalar:
        t_sc, sjf = scalar_build(n)
        As = sjf.csr_structure()
        sjf.csr(x, out=As)
        check(As, H, "scalar path")
        svals = np.empty(len(sjf.rows))
        sfill = sjf.compiled.call_into
        sfill(svals, x)
        fs += [lambda: sfill(svals, x), lambda: sjf.csr(x, out=As)]
        label += ["scalar values", "scalar csr"]
    ts = dict(zip(label, per_call_interleaved(fs, [()] * len(fs))))
    build_row = [f"{n}", f"{J.nnz:,}", J.method, fmt_time(sum(cold[:2])), fmt_time(cold[2]),
                 fmt_time(sum(cold)), fmt_time(sum(warm)), fmt_time(t_sc)]
    call_row = [f"{n}", fmt_time(ts["array values"]), fmt_time(ts["hand values"]),
                fmt_ratio(ts["array values"] / ts["hand values"]), fmt_time(ts["array csr"]),
                fmt_time(ts.get("scalar values")),
                fmt_ratio(ts["scalar values"] / ts["hand values"]) if scalar else "-",
                fmt_time(ts.get("scalar csr"))]
    return build_row, call_row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 256])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-scalar", action="store_true")
    ap.add_argument("--quick", action="store_true", help="n = 16 only, one repeat")
    a = ap.parse_args()
    if a.quick:
        a.sizes, a.reps = [16], 1
    print(machine_info())
    import numba

    numba.njit(lambda v: v + 1.0)(1.0)  # numba's start-up, paid once per process
    build_rows, call_rows = [], []
    for n in a.sizes:
        b, c = one_size(n, a.reps, n <= 32 and not a.no_scalar)
        build_rows.append(b)
        call_rows.append(c)
    print(f"\nBuild (medians of {a.reps} setups)\n")
    print(table(["n", "non-zeros", "method", "trace + jacobian", "compile (cold)",
                 "build cold", "build warm", "scalar path build"], build_rows))
    print("\nPer call (medians of interleaved batches)\n")
    print(table(["n", "values", "hand numba", "ratio", "csr in place", "scalar values",
                 "scalar ratio", "scalar csr"], call_rows))


if __name__ == "__main__":
    main()
