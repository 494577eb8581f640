"""Symbolic arrays (issue 10): trace + compile time flat in n, and per-call time of the loops.

Workloads, plain numpy code:
* Rosenbrock value (scipy.optimize.rosen's formula) at n = 10³, 10⁵, 10⁶: trace + compile with
  a cold kernel cache (a fresh cache folder: numba compiles) and a warm one (numba loads its
  machine code from disk), and per call against a hand-written numba loop and numpy.
* Logistic-regression loss on a constant 10,000 × 100 matrix: the same columns, plus the peak
  Python memory (tracemalloc) of trace + compile against the data's size.
* The old scalar mode (arrays of scalar terms) for the same workloads at small sizes.
* The llvm backend's loops (backends.llvm_arrays) beside numba's, same plan, same run
  (`--llvm-only` prints that table alone).
Every compiled result is checked against numpy before a figure is printed.

    python benchmarks/bench_arrays.py [--quick] [--llvm-only]
"""

from __future__ import annotations

import argparse
import functools
import gc
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table

import symnum as sn
from symnum.compile import lower


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0)


def make_loss(X, y):
    def loss(w):
        return np.mean(np.log1p(np.exp(-y * (X @ w))))
    return loss


def logistic_problem(shape: tuple):
    """The logistic-regression workload of issues 10–11: data (X, y), the loss, a point w and a
    direction v, and numpy by hand for value_and_grad and the Hessian-vector product."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal(shape)
    y = np.sign(rng.standard_normal(shape[0]))
    w, v = rng.standard_normal(shape[1]) * 0.1, rng.standard_normal(shape[1])

    def hand_vg(w):
        z = -y * (X @ w)
        s = 1.0 / (1.0 + np.exp(-z))
        return np.mean(np.log1p(np.exp(z))), X.T @ (-y * s) / shape[0]

    def hand_hvp(w, v):
        s = 1.0 / (1.0 + np.exp(y * (X @ w)))
        return X.T @ (s * (1 - s) * (X @ v)) / shape[0]

    return X, y, make_loss(X, y), w, v, hand_vg, hand_hvp


def hand_rosen():
    import numba

    @numba.njit(cache=False, error_model="numpy")
    def rosen_loop(x):
        s = 0.0
        for i in range(x.shape[0] - 1):
            a = x[i + 1] - x[i] * x[i]
            b = 1.0 - x[i]
            s += 100.0 * a * a + b * b
        return s
    return rosen_loop


def per_call(f, *args, target_s: float = 0.2, batches: int = 7) -> float:
    """Median seconds per call over batches of repeated calls."""
    f(*args)
    t0 = time.perf_counter()
    f(*args)
    one = max(time.perf_counter() - t0, 1e-7)
    k = max(1, int(target_s / batches / one))
    out = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(k):
            f(*args)
        out.append((time.perf_counter() - t0) / k)
    return statistics.median(out)


def per_call_interleaved(fs, args_list, target_s: float = 0.3, batches: int = 9) -> list:
    """Median seconds per call of several functions, their batches interleaved (ABAB…) so the
    machine's load drifts over all of them alike; one ratio from one run."""
    ks = []
    for f, args in zip(fs, args_list):
        f(*args)
        t0 = time.perf_counter()
        f(*args)
        ks.append(max(1, int(target_s / batches / len(fs) / max(time.perf_counter() - t0,
                                                                   1e-7))))
    runs: list[list[float]] = [[] for _ in fs]
    for _ in range(batches):
        for j, (f, args) in enumerate(zip(fs, args_list)):
            t0 = time.perf_counter()
            for _ in range(ks[j]):
                f(*args)
            runs[j].append((time.perf_counter() - t0) / ks[j])
    return [statistics.median(r) for r in runs]


def build(f, example, cache_dir, backend="numba"):
    """(trace seconds, compile seconds, kernel)."""
    gc.collect()
    t0 = time.perf_counter()
    fn = sn.trace(f, example, mode="array")
    t1 = time.perf_counter()
    k = lower(fn, backend, cache_dir=cache_dir)
    return t1 - t0, time.perf_counter() - t1, k


def forget_loaded() -> None:
    """Drop the in-process module table so the next build loads numba's cache from disk."""
    from symnum.backends import kernel_cache

    for key in list(kernel_cache._LOADED):
        kernel_cache._LOADED.pop(key)
        sys.modules.pop(key, None)


def cold_and_warm(f, example, reps: int, backend="numba"):
    cold, warm = [], []
    k = None
    for _ in range(reps):
        d = tempfile.mkdtemp(prefix="symnum-bench-")
        try:
            forget_loaded()
            t, c, k = build(f, example, d, backend)
            cold.append((t, c))
            forget_loaded()
            t, c, k = build(f, example, d, backend)
            warm.append((t, c))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    def med(xs):
        return statistics.median(a for a, _ in xs), statistics.median(b for _, b in xs)

    return med(cold), med(warm), k


def rosen_rows(sizes, reps):
    hand = hand_rosen()
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        x = rng.uniform(-1, 1, n)
        (tc, cc), (tw, cw), k = cold_and_warm(rosen, np.zeros(n), reps)
        want = rosen(x)
        assert np.isclose(k(x), want, rtol=1e-12) and np.isclose(hand(x), want, rtol=1e-12)
        ops = sn.trace(rosen, np.zeros(n), mode="array").count_ops()
        t_k, t_raw, t_h, t_np = per_call_interleaved([k, k.kernel, hand, rosen], [(x,)] * 4)
        rows.append([f"{n:,}", ops, fmt_time(tc), fmt_time(tc + cc), fmt_time(tw + cw),
                     fmt_time(t_k), fmt_time(t_raw), fmt_time(t_h), fmt_ratio(t_k / t_h),
                     fmt_ratio(t_raw / t_h), fmt_time(t_np), fmt_ratio(t_k / t_np)])
    return rows


def loss_rows(shape, reps):
    rng = np.random.default_rng(1)
    X = rng.standard_normal(shape)
    y = np.sign(rng.standard_normal(shape[0]))
    loss = make_loss(X, y)
    w = rng.standard_normal(shape[1]) * 0.1
    (tc, cc), (tw, cw), k = cold_and_warm(loss, np.zeros(shape[1]), reps)
    assert np.isclose(k(w), loss(w), rtol=1e-10)
    d = tempfile.mkdtemp(prefix="symnum-bench-")
    try:
        forget_loaded()
        tracemalloc.start()
        build(loss, np.zeros(shape[1]), d)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    t_k, t_np = per_call_interleaved([k, loss], [(w,), (w,)])
    return [[f"{shape[0]:,} × {shape[1]}", fmt_time(tc), fmt_time(tc + cc), fmt_time(tw + cw),
             fmt_time(t_k), fmt_time(t_np), fmt_ratio(t_k / t_np),
             f"{peak / X.nbytes:.2f}x ({peak / 2**20:.0f} MiB)"]]


def brusselator_rows(sizes, reps):
    """2D Brusselator RHS (symnum.demo.examples, numpy with np.roll) against peers.py's
    hand-written numba loop (which writes into a preallocated output; ours allocates it)."""
    from peers import brusselator, brusselator_numba

    from symnum.demo.examples import brusselator_init

    rows = []
    for n in sizes:
        rhs = brusselator(n)
        state = brusselator_init(n)
        (tc, cc), (tw, cw), k = cold_and_warm(rhs, state, reps)
        hand = brusselator_numba(n)[0]
        flat, out = state.ravel().copy(), np.empty(state.size)
        hand(flat, out)
        np.testing.assert_allclose(k(state), rhs(state), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(out, rhs(state).ravel(), rtol=1e-12, atol=1e-9)
        ops = sn.trace(rhs, state, mode="array").count_ops()
        t_k, t_h, t_np = per_call_interleaved([k, hand, rhs], [(state,), (flat, out),
                                                                (state,)])
        rows.append([f"{n}", ops, fmt_time(tc), fmt_time(tc + cc), fmt_time(tw + cw),
                     fmt_time(t_k), fmt_time(t_h), fmt_ratio(t_k / t_h), fmt_time(t_np),
                     fmt_ratio(t_k / t_np)])
    return rows


def parallel_rows(quick: bool):
    """The opt-in parallel lowering (prange outer loops) beside the serial kernel, same run."""
    from peers import brusselator

    from symnum.demo.examples import brusselator_init

    n, m = (100_000, 128) if quick else (1_000_000, 512)
    rows = []
    for name, f, arg in ((f"rosen n={n:,}", rosen, np.random.default_rng(3).uniform(-1, 1, n)),
                         (f"brusselator n={m}", brusselator(m), brusselator_init(m))):
        fn = sn.trace(f, arg, mode="array")
        t0 = time.perf_counter()
        ks = lower(fn, "numba")
        t1 = time.perf_counter()
        kp = lower(fn, "numba", parallel=True)
        t2 = time.perf_counter()
        np.testing.assert_allclose(kp(arg), ks(arg), rtol=1e-9)
        ts, tp = per_call_interleaved([ks, kp], [(arg,), (arg,)])
        rows.append([name, fmt_time(t1 - t0), fmt_time(t2 - t1), fmt_time(ts), fmt_time(tp),
                     fmt_ratio(tp / ts)])
    return rows


def best_rows(quick: bool):
    """Best-of-15 interleaved batches (the least disturbed by other jobs on the machine): the
    compiled call, the numba kernel alone and the hand loop, Rosenbrock and Brusselator."""
    import timeit

    from peers import brusselator, brusselator_numba

    from symnum.demo.examples import brusselator_init

    hand = hand_rosen()
    cases = []
    for n in ((1_000, 100_000) if quick else (1_000, 100_000, 1_000_000)):
        x = np.random.default_rng(4).uniform(-1, 1, n)
        fn = sn.trace(rosen, x, mode="array")
        cases.append((f"rosen n={n:,}", lower(fn, "numba"), (x,), hand, (x,),
                      lower(fn, "llvm")))
    for m in ((32, 128) if quick else (32, 128, 512)):
        st = brusselator_init(m)
        fn = sn.trace(brusselator(m), st, mode="array")
        flat, out = st.ravel().copy(), np.empty(st.size)
        cases.append((f"brusselator n={m}", lower(fn, "numba"), (st,),
                       brusselator_numba(m)[0], (flat, out), lower(fn, "llvm")))
    rows = []
    for name, k, a, h, ha, kl in cases:
        fs = [functools.partial(k, *a), functools.partial(k.kernel, *a, *k._consts),
              functools.partial(h, *ha), functools.partial(kl, *a)]
        for f in fs:
            f()
        t0 = time.perf_counter()
        fs[2]()
        num = max(1, int(0.005 / max(time.perf_counter() - t0, 1e-7)))
        best = [min(timeit.timeit(f, number=num) / num for _ in range(1)) for f in fs]
        for _ in range(14):
            best = [min(b, timeit.timeit(f, number=num) / num) for b, f in zip(best, fs)]
        rows.append([name, fmt_time(best[0]), fmt_time(best[1]), fmt_time(best[2]),
                     fmt_ratio(best[0] / best[2]), fmt_ratio(best[1] / best[2]),
                     fmt_time(best[3]), fmt_ratio(best[3] / best[2]),
                     fmt_ratio(best[3] / best[0])])
    return rows


def llvm_rows(quick: bool, reps: int):
    """The llvm backend's loops beside numba's, same plan (backends.array_loops), same run:
    cold / warm-cache trace + compile, and per call (interleaved medians) against the hand
    loop where there is one."""
    from peers import brusselator, brusselator_numba

    from symnum.demo.examples import brusselator_init

    rng = np.random.default_rng(5)
    hand = hand_rosen()
    cases = []
    for n in ((1_000, 100_000) if quick else (1_000, 100_000, 1_000_000)):
        x = rng.uniform(-1, 1, n)
        cases.append((f"rosen n={n:,}", rosen, x, hand, (x,)))
    shape = (2_000, 100) if quick else (10_000, 100)
    X, y = rng.standard_normal(shape), np.sign(rng.standard_normal(shape[0]))
    cases.append((f"loss {shape[0]:,}×{shape[1]}", make_loss(X, y),
                  rng.standard_normal(shape[1]) * 0.1, None, None))
    for m in ((32, 128) if quick else (32, 128, 512)):
        st = brusselator_init(m)
        flat, out = st.ravel().copy(), np.empty(st.size)
        cases.append((f"brusselator n={m}", brusselator(m), st, brusselator_numba(m)[0],
                       (flat, out)))
    rows = []
    for name, f, arg, h, hargs in cases:
        (tl, cl), (twl, cwl), kl = cold_and_warm(f, arg, reps, "llvm")
        (tn, cn), (twn, cwn), kn = cold_and_warm(f, arg, reps, "numba")
        np.testing.assert_allclose(kl(arg), f(arg), rtol=1e-10, atol=1e-9)
        fs, args = [kl, kn], [(arg,), (arg,)]
        if h is not None:
            fs.append(h)
            args.append(hargs)
        ts = per_call_interleaved(fs, args, batches=11)
        th = ts[2] if h is not None else None
        rows.append([name, fmt_time(tl + cl), fmt_time(tn + cn), fmt_time(twl + cwl),
                     fmt_time(twn + cwn), fmt_time(ts[0]), fmt_time(ts[1]),
                     fmt_time(th) if th else "–", fmt_ratio(ts[0] / th) if th else "–",
                     fmt_ratio(ts[1] / th) if th else "–", fmt_ratio(ts[0] / ts[1])])
    return rows


def vecmath_rows(n: int = 1_000_000):
    """A transcendental-heavy elementwise program: llvm loops with exact scalar libm, with
    vecmath=True (libmvec in the vectorised loop), numba's loops, and numpy."""
    def f(x):
        return np.tanh(x) * np.exp(-x * x) + np.log1p(x * x)

    x = np.random.default_rng(6).uniform(-2, 2, n)
    fn = sn.trace(f, x, mode="array")
    ks = [lower(fn, "llvm"), lower(fn, "llvm", vecmath=True), lower(fn, "numba"), f]
    want = f(x)
    err = [float(np.max(np.abs(k(x) - want))) for k in ks]  # values are O(1)
    ts = per_call_interleaved(ks, [(x,)] * 4, batches=11)
    return [[f"tanh·exp + log1p, n={n:,}", *(fmt_time(t) for t in ts),
             fmt_ratio(ts[1] / ts[0]), f"{err[1]:.1e}"]]


def scalar_rows(sizes, loss_shape):
    """The old scalar mode: trace + build_function (llvm, the default backend), per call."""
    rng = np.random.default_rng(2)
    rows = []
    for name, f, example, arg in (
            [(f"rosen n={n}", rosen, np.zeros(n), rng.uniform(-1, 1, n)) for n in sizes]
            + [(f"loss {loss_shape[0]}×{loss_shape[1]}",
                make_loss(rng.standard_normal(loss_shape),
                          np.sign(rng.standard_normal(loss_shape[0]))),
                np.zeros(loss_shape[1]), rng.standard_normal(loss_shape[1]) * 0.1)]):
        gc.collect()
        t0 = time.perf_counter()
        fn = sn.trace(f, example, mode="scalar")
        t1 = time.perf_counter()
        k = lower(fn, "auto")
        t2 = time.perf_counter()
        assert np.isclose(k(arg), f(arg), rtol=1e-10)
        ops = fn.count_ops()
        rows.append([name, ops, fmt_time(t1 - t0), fmt_time(t2 - t0), fmt_time(per_call(k, arg))])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--llvm-only", action="store_true",
                    help="only the llvm-vs-numba table")
    args = ap.parse_args()
    sizes = (1_000, 100_000) if args.quick else (1_000, 100_000, 1_000_000)
    reps = 1 if args.quick else 3
    import numba  # imported once, outside every timing

    print(machine_info())
    # numba's first compile in a process pays for its own start-up (typing tables, LLVM
    # initialisation): measured once here, on a kernel of its own, and kept out of the tables
    d = tempfile.mkdtemp(prefix="symnum-bench-")
    try:
        t, c, _ = build(lambda v: np.sum(v * v), np.zeros(3), d)
        print(f"\nfirst compile in this process (numba start-up): {fmt_time(t + c)}")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("\n## llvm loops beside numba loops (same plan), array mode\n")
    print(table(["workload", "llvm cold", "numba cold", "llvm warm", "numba warm",
                 "llvm per call", "numba per call", "hand numba", "llvm / hand",
                 "numba / hand", "llvm / numba"], llvm_rows(args.quick, reps)))
    if args.llvm_only:
        print("\n## Best of 15 interleaved batches (least disturbed by other jobs)\n")
        print(table(["workload", "numba call", "numba kernel alone", "hand numba",
                     "call vs hand", "kernel vs hand", "llvm call", "llvm vs hand",
                     "llvm vs numba call"], best_rows(args.quick)))
        print("\n## Transcendentals in llvm loops: exact libm vs vecmath=True (libmvec)\n")
        print(table(["workload", "llvm (libm)", "llvm vecmath", "numba", "numpy",
                     "vecmath / libm", "vecmath max abs. error"], vecmath_rows()))
        return
    print("\n## Rosenbrock value, array mode (numba loops)\n")
    print(table(["n", "ops", "trace", "trace+compile (cold)", "trace+compile (warm cache)",
                 "per call", "kernel alone", "hand numba", "vs hand", "kernel vs hand",
                 "numpy", "vs numpy"],
                rosen_rows(sizes, reps)))
    print("\n## Logistic-regression loss, constant data, array mode\n")
    print(table(["data", "trace", "trace+compile (cold)", "trace+compile (warm cache)",
                 "per call", "numpy", "vs numpy", "peak memory / data"],
                loss_rows((2_000, 100) if args.quick else (10_000, 100), reps)))
    print("\n## 2D Brusselator right-hand side (np.roll stencils), array mode\n")
    print(table(["n", "ops", "trace", "trace+compile (cold)", "trace+compile (warm cache)",
                 "per call", "hand numba", "vs hand", "numpy", "vs numpy"],
                brusselator_rows((32, 128) if args.quick else (32, 128, 512), reps)))
    print("\n## Best of 15 interleaved batches (least disturbed by other jobs)\n")
    print(table(["workload", "compiled call", "kernel alone", "hand numba", "call vs hand",
                 "kernel vs hand", "llvm call", "llvm vs hand", "llvm vs numba call"],
                best_rows(args.quick)))
    print(f"\n## Opt-in parallel lowering (numba threads: {numba.get_num_threads()})\n")
    print(table(["workload", "compile serial", "compile parallel", "per call serial",
                 "per call parallel", "parallel / serial"], parallel_rows(args.quick)))
    print("\n## The old scalar mode (arrays of scalar terms), for contrast\n")
    print(table(["workload", "ops", "trace", "trace+compile", "per call"],
                scalar_rows((100, 1_000) if not args.quick else (100,), (200, 10))))


if __name__ == "__main__":
    main()
