"""Array-level rewriting: broadcast-and-reduce fusion (rewrites/array_fusion.py).

Five numpy idioms that build a temporary as large as a broadcast and reduce it — `(x[:, None] *
W).sum(0)` (→ x @ W), `(W * x).sum(1)` (→ W @ x), `np.sum(a * b)` (→ a @ b), `np.sum(c * a)`
(→ c · sum(a)), `np.broadcast_to(x, (16, n)).sum(0)` (→ 16 · x) — compiled by the numba array
backend (`sn.compile(f, mode="array")`, BLAS for matmul-shaped contractions) as traced and
after `simplify="rules"` (which runs the array passes), checked against numpy, and timed
interleaved on one thread (BLAS and numba on one thread; the calling thread's CPU time, median).

    python benchmarks/bench_array_fusion.py [--sizes 1000,10000,100000,1000000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
from _common import fmt_ratio, fmt_time, machine_info, table  # noqa: E402
from bench_array_chain import cpu_times  # noqa: E402

import symnum as sn  # noqa: E402

K = 16


def vec_mat(x, W):
    return (x[:, None] * W).sum(0)


def mat_vec(W, x):
    return (W * x).sum(1)


def dot(a, b):
    return np.sum(a * b)


def scaled_sum(c, a):
    return np.sum(c * a)


def broadcast_sum(x):
    return np.broadcast_to(x, (K, x.shape[0])).sum(0)


def programs(n: int, rng):
    x, a, b = (rng.standard_normal(n) for _ in range(3))
    return [("(x[:,None]*W).sum(0), W n×16", vec_mat, (x, rng.standard_normal((n, K)))),
            ("(W*x).sum(1), W 16×n", mat_vec, (rng.standard_normal((K, n)), x)),
            ("np.sum(a*b)", dot, (a, b)),
            ("np.sum(c*a), c scalar", scaled_sum, (1.5, a)),
            ("broadcast_to(x, (16, n)).sum(0)", broadcast_sum, (x,))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="n = 1000, 10000; 3 repeats")
    a = ap.parse_args()
    if a.quick:
        a.sizes, a.repeats = "1000,10000", 3
    print(machine_info())
    rng = np.random.default_rng(0)
    rows = []
    for n in (int(s) for s in a.sizes.split(",")):
        for name, f, args in programs(n, rng):
            plain = sn.compile(f, mode="array")
            simp = sn.compile(f, mode="array", simplify="rules")
            ref = f(*args)
            for k in (plain, simp):
                np.testing.assert_allclose(k(*args), ref, rtol=1e-9, atol=1e-9 * n)
            if n == 1000:
                t = sn.trace(f, *args, mode="array")
                print(f"{name}: {t.outputs} → {sn.simplify(t).outputs}", flush=True)
            tn, tp, ts = cpu_times([f, plain, simp], args, a.repeats)
            rows.append([f"{n:,}", name, fmt_time(tn), fmt_time(tp), fmt_time(ts),
                         fmt_ratio(tp / ts), fmt_ratio(tn / ts)])
            print(rows[-1], flush=True)
    print(table(["n", "program", "numpy as written", "compiled as traced",
                 "compiled, fused", "speed-up", "vs numpy"], rows))


if __name__ == "__main__":
    main()
