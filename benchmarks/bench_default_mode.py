"""The default trace mode (mode="auto", issue 10 item 2): trace + compile time of
`sn.compile(f)` and `sn.grad(f)` with default options, side by side with mode="array" and
mode="scalar", on the workloads of bench_arrays.py.

* Rosenbrock value (scipy.optimize.rosen's formula) at n = 10³, 10⁵, 10⁶: the first call of
  `sn.compile(rosen)` (trace + compile + one run) with a cold kernel cache (a fresh folder,
  the in-memory module table dropped) and a warm one; the graph size; the first call of
  `sn.grad(rosen)`.
* Logistic-regression loss on a constant 10,000 × 100 matrix: the same.
* scipy.optimize.rosen itself (it calls np.asarray on its argument, which an array term cannot
  answer): the default mode falls back to scalar mode; shown at small n.
Every result is checked against numpy before its figure is printed.

    python benchmarks/bench_default_mode.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

import numpy as np
from _common import fmt_time, machine_info, table
from bench_arrays import forget_loaded, make_loss, rosen

import symnum as sn


def first_call(make, args, reps: int):
    """(cold median, warm median, compiled function) of the first call of make(cache_dir)."""
    cold, warm, f = [], [], None
    for _ in range(reps):
        d = tempfile.mkdtemp(prefix="symnum-bench-")
        try:
            for out in (cold, warm):
                forget_loaded()
                f = make(d)
                t0 = time.perf_counter()
                f(*args)
                out.append(time.perf_counter() - t0)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return statistics.median(cold), statistics.median(warm), f


def graph(cf, args) -> str:
    fn = cf.lower(*args).fn
    kind = "array" if isinstance(fn, sn.ArrayFn) else "scalar"
    return f"{kind}, {fn.count_ops():,} ops"


def rows_for(name, f, args, want, reps, modes=("auto", "array")):
    out = []
    for mode in modes:
        def make(d, mode=mode):
            return sn.compile(f, mode=mode, cache_dir=d)
        cold, warm, cf = first_call(make, args, reps)
        got = cf(*args)
        assert np.allclose(got, want, rtol=1e-10), (name, mode)
        out.append([name, f"compile, mode={mode}" + (" (default)" if mode == "auto" else ""),
                    graph(cf, args), fmt_time(cold), fmt_time(warm)])
    return out


def grad_row(name, f, args, reps):
    """First call of sn.grad(f) (its kernels cache in the user's folder: the first repetition
    may find them there from an earlier run; the later ones do)."""
    times = []
    for _ in range(reps):
        forget_loaded()
        g = sn.grad(f)
        t0 = time.perf_counter()
        r = g(*args)
        times.append(time.perf_counter() - t0)
    h = 1e-6
    x = args[0]
    e = np.zeros_like(x)
    e[0] = h
    fd = (f(x + e) - f(x - e)) / (2 * h)
    assert np.isclose(r[0], fd, rtol=1e-5, atol=1e-6), (name, r[0], fd)
    fn = g.fn(*args)
    kind = "array" if isinstance(fn, sn.ArrayFn) else "scalar"
    return [name, "grad, default", f"{kind}, {fn.count_ops():,} ops", fmt_time(times[0]),
            fmt_time(min(times[1:])) if len(times) > 1 else "-"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    reps = 1 if a.quick else 3
    sizes = [10**3, 10**5] if a.quick else [10**3, 10**5, 10**6]
    print(machine_info())
    # numba's per-process start-up, kept out of the tables
    t0 = time.perf_counter()
    sn.compile(rosen, mode="array")(np.zeros(10**4))
    print(f"numba start-up (first array compile in this process): "
          f"{fmt_time(time.perf_counter() - t0)}")
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        x = rng.uniform(0.5, 1.5, n)
        rows += rows_for(f"rosen n={n:,}", rosen, (x,), rosen(x), reps)
        rows.append(grad_row(f"rosen n={n:,}", rosen, (x,), reps))
    m, k = (2000, 100) if a.quick else (10_000, 100)
    X = rng.normal(size=(m, k))
    y = np.sign(rng.normal(size=m))
    loss = make_loss(X, y)
    w = rng.normal(size=k) * 0.1
    rows += rows_for(f"loss {m:,}x{k}", loss, (w,), loss(w), reps)
    rows.append(grad_row(f"loss {m:,}x{k}", loss, (w,), reps))
    x = rng.uniform(0.5, 1.5, 1000)
    rows += rows_for("rosen n=1,000", rosen, (x,), rosen(x), reps, modes=("scalar",))
    from scipy.optimize import rosen as scipy_rosen

    rows += rows_for("scipy.optimize.rosen n=1,000", scipy_rosen, (x,), scipy_rosen(x), 1,
                     modes=("auto",))
    print(table(["workload", "entry", "graph", "first call (cold)", "first call (warm)"], rows))


if __name__ == "__main__":
    main()
