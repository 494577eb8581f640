"""Array-level rewriting: matrix chains in their cheapest bracketing (rewrites/array_chain.py).

A @ B @ C @ x with n × n matrices, as numpy evaluates it ((A@B)@C)@x: two n³ matrix products
and a matrix-vector product) and after `sn.simplify` on the array program (A@(B@(C@x)): three
matrix-vector products), plus A.T @ B.T @ x (transposes folded into the contractions) and a
right-to-left chain x @ A @ B @ C (already optimal: a control). Each is compiled by the numba
array backend (`sn.compile(f, mode="array")`, BLAS for matmul-shaped contractions) with and
without simplify, checked against numpy, and timed interleaved on one thread (BLAS and numba
limited to one thread; CPU time of the calling thread, median).

    python benchmarks/bench_array_chain.py [--n 1000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import fmt_ratio, fmt_time, machine_info, table  # noqa: E402

import symnum as sn  # noqa: E402


def chain(A, B, C, x):
    return A @ B @ C @ x


def chain_t(A, B, C, x):
    return A.T @ B.T @ C.T @ x


def chain_left(A, B, C, x):
    return x @ A @ B @ C


def cpu_times(fns, args, repeats):
    """Interleaved samples of each function's thread CPU time."""
    out = [[] for _ in fns]
    for _ in range(repeats):
        for i, f in enumerate(fns):
            t0 = time.thread_time()
            f(*args)
            out[i].append(time.thread_time() - t0)
    return [float(np.median(s)) for s in out]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="n = 200, 3 repeats")
    a = ap.parse_args()
    if a.quick:
        a.n, a.repeats = 200, 3
    n = a.n
    rng = np.random.default_rng(0)
    A, B, C = (rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(3))
    x = rng.standard_normal(n)
    args = (A, B, C, x)
    print(machine_info())
    rows = []
    best = {"A@B@C@x": lambda A, B, C, x: A @ (B @ (C @ x)),
            "A.T@B.T@C.T@x": lambda A, B, C, x: A.T @ (B.T @ (C.T @ x)),
            "x@A@B@C": chain_left}
    for name, f in [("A@B@C@x", chain), ("A.T@B.T@C.T@x", chain_t), ("x@A@B@C", chain_left)]:
        plain = sn.compile(f, mode="array")
        simp = sn.compile(f, mode="array", simplify="rules")
        ref = f(*args)
        for k in (plain, simp):
            got = k(*args)
            assert np.allclose(got, ref, rtol=1e-9, atol=1e-9), name
        traced = sn.trace(f, *args, mode="array")
        print(f"{name}: as traced {traced.outputs}\n  simplified {sn.simplify(traced).outputs}")
        tn, tb, tp, ts = cpu_times([f, best[name], plain, simp], args, a.repeats)
        rows.append([name, fmt_time(tn), fmt_time(tb), fmt_time(tp), fmt_time(ts),
                     fmt_ratio(tp / ts)])
    print(table([f"program (n = {n})", "numpy as written", "numpy, best bracketing",
                 "compiled as traced", "compiled, simplified", "speed-up"], rows))


if __name__ == "__main__":
    main()
