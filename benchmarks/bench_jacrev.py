"""jacrev vs jacfwd of an array program with few outputs (issue 11): reverse sweeps per output
entry against the batched forward sweep (one direction per input entry).

f(x) = A @ tanh(x) + Σ x² (3 outputs, n inputs, A a fixed 3 × n matrix), traced in array mode;
`jacobian_fn(fn, reverse=True)` (what sn.jacrev does for an ArrayFn: 3 reverse sweeps) against
`jacobian_fn(fn)` (sn.jacfwd: one jet with n directions, n × n arrays), each lowered with the
default backend (llvm loops). Build = jacobian program + lower (cold cache folder); per call:
medians of interleaved batches. Both Jacobians are checked against numpy by hand first. The
forward sweep is left out above n = 2,000 (its n × n temporaries: 32 MB at 2,000). A second
table grows the outputs: g(x) = W @ tanh(x) + Σ sin(x)·x with W m × 1,000, m = 4, 16, 64 — each
reverse sweep adds its own loops to the program, which is why sn.jacrev stops at
array_transforms.REV_ROWS outputs (the sweep raises that bound while it runs, to show why).

    python benchmarks/bench_jacrev.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from bench_arrays import per_call_interleaved

import symnum as sn
import symnum.autodiff.array_transforms as AT
from symnum.autodiff.array_transforms import jacobian_fn
from symnum.compile import lower

FORWARD_MAX = 2_000


def lowered(fn, reverse: bool) -> tuple:
    """(kernel, operations, seconds to build the Jacobian program and lower it, cold cache)."""
    d = tempfile.mkdtemp(prefix="symnum-bench-")
    try:
        t0 = time.perf_counter()
        J = jacobian_fn(fn, reverse=reverse)
        k = lower(J, cache_dir=d)
        return k, J.count_ops(), time.perf_counter() - t0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def outputs_sweep(ms: tuple, n: int = 1_000) -> list:
    rows = []
    for m in ms:
        rng = np.random.default_rng(0)
        W, x = rng.standard_normal((m, n)), rng.standard_normal(n)

        def g(u, W=W):
            return W @ np.tanh(u) + np.sum(np.sin(u) * u)

        fn = sn.trace(g, np.zeros(n), mode="array")
        bound, AT.REV_ROWS = AT.REV_ROWS, max(AT.REV_ROWS, m)
        try:
            (kr, opr, br), (kf, opf, bf) = lowered(fn, True), lowered(fn, False)
        finally:
            AT.REV_ROWS = bound
        want = W * (1 - np.tanh(x) ** 2) + np.sin(x) + x * np.cos(x)
        np.testing.assert_allclose(kr(x), want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(kf(x), want, rtol=1e-10, atol=1e-12)
        tr, tf = per_call_interleaved([kr, kf], [(x,), (x,)])
        rows.append([m, opr, fmt_time(br), fmt_time(tr), opf, fmt_time(bf), fmt_time(tf),
                     fmt_ratio(tf / tr)])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n ≤ 1,000")
    a = ap.parse_args(argv)
    print(machine_info())
    rows = []
    for n in (100, 1_000) if a.quick else (100, 1_000, 2_000, 100_000):
        rng = np.random.default_rng(2)
        A, x = rng.standard_normal((3, n)), rng.standard_normal(n)

        def f(u, A=A):
            return A @ np.tanh(u) + np.sum(u ** 2)

        want = A * (1 - np.tanh(x) ** 2) + 2 * x
        fn = sn.trace(f, np.zeros(n), mode="array")
        ks, builds = [], []
        for reverse in (True, False):
            if not reverse and n > FORWARD_MAX:
                continue
            k, _, b = lowered(fn, reverse)
            np.testing.assert_allclose(k(x), want, rtol=1e-10, atol=1e-12)
            ks.append(k)
            builds.append(b)
        ts = per_call_interleaved(ks, [(x,)] * len(ks))
        row = [f"{n:,}", fmt_time(builds[0]), fmt_time(ts[0])]
        if len(ks) == 2:
            row += [fmt_time(builds[1]), fmt_time(ts[1]), fmt_ratio(ts[1] / ts[0])]
        else:
            row += ["(n × n temporaries)", "—", "—"]
        rows.append(row)
    print(table(["n", "jacrev build", "jacrev/call", "jacfwd build", "jacfwd/call",
                 "jacfwd / jacrev per call"], rows))
    print("\nf(x) = A @ tanh(x) + sum(x**2): 3 outputs. jacrev: 3 reverse sweeps; jacfwd: one "
          "batched jet along the n unit directions. Build: jacobian program + llvm compile "
          "(cold cache folder, warm process).")
    print()
    print(table(["m outputs", "jacrev ops", "jacrev build", "jacrev/call", "jacfwd ops",
                 "jacfwd build", "jacfwd/call", "jacfwd / jacrev per call"],
                outputs_sweep((4, 16) if a.quick else (4, 16, 64))))
    print("\ng(x) = W @ tanh(x) + sum(sin(x)*x), n = 1,000; ops = operations of the Jacobian "
          "program (ArrayFn.count_ops).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
