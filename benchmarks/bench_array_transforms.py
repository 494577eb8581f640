"""Issue 11's remaining array benchmarks, side by side in one run.

* Newton-CG on Rosenbrock n = 1,000 (scipy.optimize.minimize) with symnum's array-mode
  value_and_grad and Hessian-vector product (forward over reverse, compiled to numba loops) vs
  scipy's own rosen / rosen_der / rosen_hess_prod: build, time to solution, iterations;
* logistic regression 10,000 × 100: where the build of value_and_grad + hvp goes (trace, AD,
  each numba compile with numba's own timers) and per call, numba kernels vs the array
  interpreter (backend "numpy": one numpy call per array operation, nothing to compile) vs numpy
  by hand;
* MLP n ≈ 1,000 parameters (bench_cheap_gradient's network): array-mode gradient per call vs a
  hand-written numba backpropagation (peers.mlp_grad_numba);
* the cheap-gradient ratio of array programs: raw gradient kernel time / raw value kernel time.

JAX and pytensor columns (MLP, Newton-CG, logistic, Rosenbrock) are in bench_jax_peers.py, which
pins the process to one core and one BLAS thread first; this script prints which are installed.
Every result is checked (scipy's derivatives, numpy by hand, finite differences) before a figure
is printed.

    python benchmarks/bench_array_transforms.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import shutil
import statistics
import tempfile
import time

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from bench_arrays import forget_loaded, logistic_problem, make_loss, per_call_interleaved, rosen
from scipy.optimize import minimize, rosen_der, rosen_hess_prod

import symnum as sn
from symnum.autodiff.array_ad import grad_fn, value_and_grad_fn
from symnum.autodiff.array_jvp import hvp_fn
from symnum.compile import lower


def _fresh(fn_build):
    d = tempfile.mkdtemp(prefix="symnum-bench-")
    try:
        forget_loaded()
        gc.collect()
        return fn_build(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def newton_cg(n: int, reps: int) -> list:
    x0 = np.tile([1.3, 0.7, 0.8, 1.9, 1.2], n // 5)

    def build(d):
        t0 = time.perf_counter()
        fn = sn.trace(rosen, np.zeros(n), mode="array")
        vg = lower(value_and_grad_fn(fn), "numba", cache_dir=d)
        hv = lower(hvp_fn(fn), "numba", cache_dir=d)
        return time.perf_counter() - t0, vg, hv

    builds = []
    for _ in range(reps):
        t, vg, hv = _fresh(build)
        builds.append(t)
    x = np.random.default_rng(0).uniform(-1, 1, n)
    np.testing.assert_allclose(vg(x)[1], rosen_der(x), rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(hv(x, x0), rosen_hess_prod(x, x0), rtol=1e-10, atol=1e-8)
    interp_fn = sn.trace(rosen, np.zeros(n), mode="array")
    ivg, ihv = value_and_grad_fn(interp_fn), hvp_fn(interp_fn)
    systems = [
        ("scipy rosen_der + rosen_hess_prod",
         dict(fun=rosen, jac=rosen_der, hessp=rosen_hess_prod)),
        ("symnum array mode (numba loops)", dict(fun=lambda z: tuple(vg(z)), jac=True,
                                                 hessp=lambda z, p: hv(z, p))),
        ("symnum array interpreter (numpy)", dict(fun=lambda z: tuple(ivg(z)), jac=True,
                                                  hessp=lambda z, p: ihv(z, p))),
    ]
    rows = []
    base = None
    for name, kw in systems:
        times, res = [], None
        for _ in range(max(reps, 3)):
            t0 = time.perf_counter()
            res = minimize(x0=x0, method="Newton-CG", options={"xtol": 1e-10}, **kw)
            times.append(time.perf_counter() - t0)
        assert res.success and np.allclose(res.x, 1.0, atol=1e-6), (name, res.message)
        t = statistics.median(times)
        base = base or t
        build = statistics.median(builds) if "numba" in name else (0.0 if "scipy" in name else
                                                                    _interp_build(n))
        rows.append([name, fmt_time(build), fmt_time(t), fmt_ratio(t / base), res.nit,
                     res.nfev, res.nhev, f"{res.fun:.1e}"])
    return rows


def _interp_build(n: int) -> float:
    t0 = time.perf_counter()
    fn = sn.trace(rosen, np.zeros(n), mode="array")
    value_and_grad_fn(fn), hvp_fn(fn)
    return time.perf_counter() - t0


def logistic_profile(shape: tuple, reps: int) -> tuple[list, list]:
    X, y, loss, w, v, hand_vg, hand_hvp = logistic_problem(shape)

    def build(d):
        t = [time.perf_counter()]
        fn = sn.trace(loss, np.zeros(shape[1]), mode="array")
        t.append(time.perf_counter())
        vgf, hf = value_and_grad_fn(fn), hvp_fn(fn)
        t.append(time.perf_counter())
        vg = lower(vgf, "numba", cache_dir=d)
        t.append(time.perf_counter())
        hv = lower(hf, "numba", cache_dir=d)
        t.append(time.perf_counter())
        timers = [k.kernel.get_metadata(k.kernel.signatures[0]).get("timers", {})
                  for k in (vg, hv)]
        return np.diff(t), timers, vg, hv, vgf, hf

    parts, llvm = [], []
    for _ in range(reps):
        p, timers, vg, hv, vgf, hf = _fresh(build)
        parts.append(p)
        llvm.append(sum(tm.get("llvm_lock", 0.0) for tm in timers))
    med = [statistics.median(c) for c in zip(*parts)]
    hval, hg = hand_vg(w)
    for f in (vg, vgf):
        val, g = f(w)
        np.testing.assert_allclose(val, hval, rtol=1e-10)
        np.testing.assert_allclose(g, hg, rtol=1e-8, atol=1e-12)
    for f in (hv, hf):
        np.testing.assert_allclose(f(w, v), hand_hvp(w, v), rtol=1e-8, atol=1e-12)
    build_rows = [[f"{shape[0]:,} × {shape[1]}", fmt_time(med[0]), fmt_time(med[1]),
                   fmt_time(med[2]), fmt_time(med[3]), fmt_time(statistics.median(llvm)),
                   fmt_time(sum(med)), fmt_time(med[0] + med[1])]]
    t = per_call_interleaved([vg, vgf, hand_vg, hv, hf, hand_hvp],
                             [(w,)] * 3 + [(w, v)] * 3)
    call_rows = [["value_and_grad", fmt_time(t[0]), fmt_time(t[1]), fmt_time(t[2]),
                  fmt_ratio(t[0] / t[2]), fmt_ratio(t[1] / t[2])],
                 ["Hessian-vector product", fmt_time(t[3]), fmt_time(t[4]), fmt_time(t[5]),
                  fmt_ratio(t[3] / t[5]), fmt_ratio(t[4] / t[5])]]
    return build_rows, call_rows


def mlp(n: int) -> list:
    from peers import gradient_workloads, mlp_grad_numba

    (_, _, _), (_, loss, (X, y, d, h, size)) = gradient_workloads(n)
    hand = mlp_grad_numba(X, y, d, h)
    theta = np.random.default_rng(1).uniform(-1, 1, size)
    out = np.empty(size)
    hand(theta, out)
    def build_it(d):
        t0 = time.perf_counter()
        k = lower(grad_fn(sn.trace(loss, np.zeros(size), mode="array")), "numba", cache_dir=d)
        return time.perf_counter() - t0, k

    build, k = _fresh(build_it)  # a cold numba cache
    np.testing.assert_allclose(k(theta), out, rtol=1e-10, atol=1e-12)
    t_k, t_raw, t_h = per_call_interleaved([k, k.kernel, hand],
                                           [(theta,), (theta,) + k._consts, (theta, out)])
    return [[f"{size:,} (d={d}, h={h}, batch 4)", fmt_time(build), fmt_time(t_k),
             fmt_time(t_raw), fmt_time(t_h), fmt_ratio(t_k / t_h), fmt_ratio(t_raw / t_h)]]


def _programs() -> list:
    from peers import gradient_workloads

    rng = np.random.default_rng(3)
    X, yv = rng.standard_normal((10_000, 100)), np.sign(rng.standard_normal(10_000))
    mlp_loss = gradient_workloads(1000)[1][1]
    return [
        ("Rosenbrock", rosen, 100_000),
        ("logistic 10,000 × 100", make_loss(X, yv), 100),
        ("MLP n≈1,000", mlp_loss, 1001),
        ("1-D Laplacian energy", lambda u: np.sum((np.roll(u, 1) - 2 * u + np.roll(u, -1)) ** 2)
         + np.sum(u ** 4), 100_000),
        ("logsumexp", lambda u: np.log(np.sum(np.exp(u - np.max(u)))) + np.max(u), 100_000),
        ("cumprod", lambda u: np.sum(np.cumprod(1 + 0.001 * u) * u), 100_000),
        ("cummax (segment collect)", lambda u: np.sum(np.maximum.accumulate(u) ** 2),
         100_000),
    ]


def cheap_gradient() -> list:
    rows = []
    for name, f, n in _programs():
        x = np.random.default_rng(4).uniform(-1, 1, n)
        fn = sn.trace(f, np.zeros(n), mode="array")
        val, g = lower(fn, "numba"), lower(grad_fn(fn), "numba")
        h = 1e-6
        e = np.zeros(n)
        e[n // 3] = 1.0
        fd = (f(x + h * e) - f(x - h * e)) / (2 * h)
        assert abs(g(x)[n // 3] - fd) <= 1e-4 * max(1.0, abs(fd)), name
        t_v, t_g = per_call_interleaved([val.kernel, g.kernel],
                                        [(x,) + val._consts, (x,) + g._consts])
        rows.append([name, f"{n:,}", fn.count_ops(), grad_fn(fn).count_ops(), fmt_time(t_v),
                     fmt_time(t_g), fmt_ratio(t_g / t_v)])
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    reps = 1 if a.quick else 3
    print(machine_info())
    missing = [m for m in ("jax", "pytensor") if importlib.util.find_spec(m) is None]
    print(f"not installed (no column): {', '.join(missing) or 'none'}")
    print()
    print("Newton-CG on Rosenbrock n = 1,000 (x0 = tile([1.3, 0.7, 0.8, 1.9, 1.2]), xtol 1e-10);"
          " build = trace + AD + numba compiles (cold cache); solve = medians of 3")
    print(table(["system", "build", "time to solution", "ratio", "nit", "nfev", "nhev", "f"],
                newton_cg(1000, reps)))
    print()
    b, c = logistic_profile((10_000, 100), reps)
    print("Logistic regression: where the build goes (cold numba cache; medians of", reps, ")")
    print(table(["data", "trace", "AD (v&g + hvp)", "numba v&g", "numba hvp",
                 "of which LLVM", "build (numba)", "build (interpreter)"], b))
    print(table(["per call", "numba kernel", "array interpreter", "numpy by hand",
                 "numba / numpy", "interpreter / numpy"], c))
    print()
    print("MLP gradient (array mode, numba loops) vs hand-written numba backpropagation")
    print(table(["parameters", "build", "symnum/call", "raw kernel", "hand numba", "ratio",
                 "ratio (raw)"], mlp(1000)))
    print()
    print("Cheap-gradient ratio of array programs: raw gradient kernel / raw value kernel")
    print(table(["program", "n", "value ops", "grad ops", "value/call", "grad/call",
                 "grad/value"], cheap_gradient()))


if __name__ == "__main__":
    main()
