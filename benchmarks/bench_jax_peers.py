"""The JAX (and pytensor) columns of issues 11 and 12, side by side with symnum and hand numba in
one run (interleaved batches, medians, ratios):

issue 11 — Rosenbrock gradient n = 10³, 10⁵, 10⁶ (setup: symnum trace + AD + compile into an
empty cache + first call; JAX: jit + first call; per call); logistic regression 10,000 × 100
value_and_grad and Hessian-vector product (build, per call); MLP n ≈ 1,000 gradient (symnum,
hand numba, JAX, pytensor's numba and C backends); scipy Newton-CG on Rosenbrock n = 1,000 with
symnum's / scipy's / JAX's Hessian-vector product (time to solution).
issue 12 — RK4 of the 8-state Lorenz-96 model, 50 and 1,000 steps: symnum's array-mode
`sn.fori_loop` (bench_loops.make_model) vs JAX `lax.fori_loop` and `lax.scan`, forward and
`grad` of sum(final state) w.r.t. (x0, F): trace + compile (first call) and per call.

Every peer result is checked against symnum's (allclose) before its time is printed. The whole
process is pinned to one core (peers_jax.pin_one_core) unless --all-cores: symnum's kernels run
on one thread and XLA sizes its pool from the affinity. Peers that are not installed are skipped
with a printed line, so the script runs in the project's own venv (symnum + numba rows only).

    python benchmarks/bench_jax_peers.py [--only 11|12] [--repeats 3] [--quick] [--all-cores]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import peers_jax as pj

# one core and one BLAS thread for every library in the process, set before numpy, BLAS or XLA
# start their threads (a re-exec: OpenBLAS reads its thread count when numpy is imported)
CORE = pj.one_thread_process(pin="--all-cores" not in sys.argv)

import numpy as np  # noqa: E402
from _common import fmt_ratio, fmt_time, machine_info, table  # noqa: E402

jax = pj.jax_one_core()

import bench_arrays_ad  # noqa: E402
from bench_array_setup import _cold  # noqa: E402
from bench_arrays import logistic_problem, per_call_interleaved  # noqa: E402
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess_prod  # noqa: E402

import symnum as sn  # noqa: E402
from symnum.autodiff.array_ad import grad_fn, value_and_grad_fn  # noqa: E402
from symnum.autodiff.array_jvp import hvp_fn  # noqa: E402
from symnum.compile import lower  # noqa: E402


def jax_first_call(make, args, repeats: int):
    """Median seconds of jit + first call (trace + XLA compile + run), a fresh function and
    empty JAX caches each time; and the last jitted function."""
    times, f = [], None
    for _ in range(repeats):
        jax.clear_caches()
        t0 = time.perf_counter()
        f = pj.blocked(make())
        f(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), f


def check(name, got, want, rtol=1e-9, atol=1e-9):
    np.testing.assert_allclose(pj.as_np(got), pj.as_np(want), rtol=rtol, atol=atol,
                               err_msg=name)


# ---------------------------------------------------------------------------------------------
# issue 11


def rosen_rows(ns, repeats):
    hand = bench_arrays_ad.hand_rosen_der()
    rows = []
    for n in ns:
        x = np.linspace(-1.0, 1.5, n)
        hand(x)

        def build(d, n=n, x=x):
            k = lower(grad_fn(sn.trace(rosen, np.zeros(n), mode="array")), "auto",
                      cache_dir=d)
            k(x)
            return k

        cold, _warm, k = _cold(build, repeats)
        check("symnum", k(x), rosen_der(x), atol=1e-8)
        fs, args, row = [k, hand], [(x,), (x,)], [f"{n:,}", fmt_time(cold)]
        if jax is not None:
            xj = jax.device_put(x)
            t_j, gj = jax_first_call(lambda: jax.jit(jax.grad(pj.rosen_jnp)), (xj,), repeats)
            check("jax", gj(xj), k(x), atol=1e-8)
            fs.append(gj)
            args.append((xj,))
            row.append(fmt_time(t_j))
        else:
            row.append("-")
        t = per_call_interleaved(fs, args)
        row += [fmt_time(t[0]), fmt_time(t[1]), fmt_ratio(t[0] / t[1])]
        row += [fmt_time(t[2]), fmt_ratio(t[0] / t[2])] if jax is not None else ["-", "-"]
        rows.append(row)
    return rows


def logistic_rows(shape, repeats):
    X, y, loss, w, v, hand_vg, hand_hvp = logistic_problem(shape)

    def build(d):
        fn = sn.trace(loss, np.zeros(shape[1]), mode="array")
        vg = lower(value_and_grad_fn(fn), "auto", cache_dir=d)
        hv = lower(hvp_fn(fn), "auto", cache_dir=d)
        vg(w), hv(w, v)
        return vg, hv

    cold, _warm, (vg, hv) = _cold(build, repeats)
    val, g = vg(w)
    check("symnum v&g", g, hand_vg(w)[1], rtol=1e-8, atol=1e-12)
    check("symnum hvp", hv(w, v), hand_hvp(w, v), rtol=1e-8, atol=1e-12)
    build_row = [f"{shape[0]:,} × {shape[1]}", fmt_time(cold)]
    fs = [vg, hand_vg, hv, hand_hvp]
    args = [(w,), (w,), (w, v), (w, v)]
    if jax is not None:
        Xj, yj, wj, vj = (jax.device_put(a) for a in (X, y, w, v))

        def make_both():
            vgj = jax.jit(jax.value_and_grad(pj.logistic_jnp))
            hvj = jax.jit(lambda w, v, X, y: jax.jvp(
                lambda u: jax.grad(pj.logistic_jnp)(u, X, y), (w,), (v,))[1])
            return vgj, hvj

        times = []
        for _ in range(repeats):
            jax.clear_caches()
            t0 = time.perf_counter()
            vgj, hvj = (pj.blocked(f) for f in make_both())
            vgj(wj, Xj, yj), hvj(wj, vj, Xj, yj)
            times.append(time.perf_counter() - t0)
        jv, jg = vgj(wj, Xj, yj)
        check("jax value", jv, val, rtol=1e-10)
        check("jax grad", jg, g, rtol=1e-8, atol=1e-12)
        check("jax hvp", hvj(wj, vj, Xj, yj), hv(w, v), rtol=1e-8, atol=1e-12)
        build_row.append(fmt_time(statistics.median(times)))
        fs += [vgj, hvj]
        args += [(wj, Xj, yj), (wj, vj, Xj, yj)]
    else:
        build_row.append("-")
    t = per_call_interleaved(fs, args)
    call_rows = []
    for name, i, j in (("value_and_grad", 0, 4), ("Hessian-vector product", 2, 5)):
        r = [name, fmt_time(t[i]), fmt_time(t[i + 1]), fmt_ratio(t[i] / t[i + 1])]
        r += [fmt_time(t[j]), fmt_ratio(t[i] / t[j])] if jax is not None else ["-", "-"]
        call_rows.append(r)
    return [build_row], call_rows


def mlp_rows(n, repeats):
    from peers import gradient_pt, gradient_workloads, mlp_grad_numba, mlp_jnp

    (_, _, _), (_, loss, params) = gradient_workloads(n)
    X, y, d, h, size = params
    hand = mlp_grad_numba(X, y, d, h)
    theta = np.random.default_rng(1).uniform(-1, 1, size)
    out = np.empty(size)
    hand(theta, out)

    def build(dd):
        k = lower(grad_fn(sn.trace(loss, np.zeros(size), mode="array")), "auto", cache_dir=dd)
        k(theta)
        return k

    cold, _warm, k = _cold(build, repeats)
    check("symnum", k(theta), out, rtol=1e-10, atol=1e-12)
    names, fs, args, builds = ["symnum", "hand numba"], [k, hand], [(theta,), (theta, out)], [
        cold, None]
    if jax is not None:
        tj = jax.device_put(theta)
        t_j, gj = jax_first_call(lambda: jax.jit(jax.grad(mlp_jnp(jax.numpy, X, y, d, h))),
                                 (tj,), repeats)
        check("jax", gj(tj), k(theta), rtol=1e-10, atol=1e-12)
        names.append("JAX jit(grad)")
        fs.append(gj)
        args.append((tj,))
        builds.append(t_j)
    else:
        print("JAX not installed: no JAX row")
    modes = pj.pytensor_modes()
    if not modes:
        print("pytensor not installed: no pytensor rows")
    for label, mode in modes:
        t0 = time.perf_counter()
        xs, gs = gradient_pt("MLP", params)
        gp = pj.pytensor_compile([xs], gs, mode)
        gp(theta)
        t_b = time.perf_counter() - t0
        check(label, gp(theta), k(theta), rtol=1e-10, atol=1e-12)
        names.append(label)
        fs.append(gp)
        args.append((theta,))
        builds.append(t_b)
    t = per_call_interleaved(fs, args)
    best = min(t[1:])
    return [[nm, fmt_time(b) if b is not None else "-", fmt_time(tt), fmt_ratio(t[0] / tt)]
            for nm, b, tt in zip(names, builds, t)] + [
        ["symnum vs the best peer", "", "", fmt_ratio(t[0] / best)]]


def newton_rows(n, repeats):
    x0 = np.tile([1.3, 0.7, 0.8, 1.9, 1.2], n // 5)
    t0 = time.perf_counter()
    d = tempfile.mkdtemp(prefix="symnum-bench-")
    fn = sn.trace(rosen, np.zeros(n), mode="array")
    vg = lower(value_and_grad_fn(fn), "auto", cache_dir=d)
    hv = lower(hvp_fn(fn), "auto", cache_dir=d)
    vg(x0), hv(x0, x0)
    b_sym = time.perf_counter() - t0
    systems = [("scipy rosen_der + rosen_hess_prod", 0.0,
                dict(fun=rosen, jac=rosen_der, hessp=rosen_hess_prod)),
               ("symnum (llvm loops)", b_sym,
                dict(fun=lambda z: tuple(vg(z)), jac=True, hessp=lambda z, p: hv(z, p)))]
    if jax is not None:
        t0 = time.perf_counter()
        vgj = jax.jit(jax.value_and_grad(pj.rosen_jnp))
        hvj = jax.jit(lambda z, p: jax.jvp(jax.grad(pj.rosen_jnp), (z,), (p,))[1])
        vgj(x0)[0].block_until_ready(), hvj(x0, x0).block_until_ready()
        b_jax = time.perf_counter() - t0
        check("jax hvp", hvj(x0, x0), hv(x0, x0), atol=1e-8)

        def fun_j(z):
            val, g = vgj(z)
            return float(val), np.asarray(g)

        systems.append(("JAX jit(value_and_grad), jit(jvp∘grad)", b_jax,
                        dict(fun=fun_j, jac=True, hessp=lambda z, p: np.asarray(hvj(z, p)))))
    else:
        print("JAX not installed: no JAX row in Newton-CG")
    times = [[] for _ in systems]
    results = [None] * len(systems)
    for _ in range(max(repeats, 3)):  # interleaved: one solve of each system per round
        for i, (_name, _b, kw) in enumerate(systems):
            t0 = time.perf_counter()
            results[i] = minimize(x0=x0, method="Newton-CG", options={"xtol": 1e-10}, **kw)
            times[i].append(time.perf_counter() - t0)
    rows, base = [], None
    for (name, b, _kw), ts, res in zip(systems, times, results):
        assert res.success and np.allclose(res.x, 1.0, atol=1e-6), (name, res.message)
        t = statistics.median(ts)
        base = base or t
        rows.append([name, fmt_time(b), fmt_time(t), fmt_ratio(t / base), res.nit, res.nfev,
                     res.nhev])
    return rows


# ---------------------------------------------------------------------------------------------
# issue 12


def loop_rows(step_counts, repeats):
    from bench_loops import N, hand_numba, make_model

    rng = np.random.default_rng(0)
    x0, F, h = 8.0 + rng.normal(size=N), 8.0, 1e-3
    fwd, grd = [], []
    for steps in step_counts:
        salt = iter(range(1, 1000))

        def sym(grad, steps=steps, salt=salt):  # a fresh step size per compile: no
            # kernel cache can be hit
            sim, loss = make_model(steps, h * (1 + 1e-12 * next(salt)), False)
            f = sn.grad(loss, argnums=(0, 1), mode="array") if grad else sim
            return sn.compile(f, mode="array", cache_dir=tempfile.mkdtemp())

        def first(make, args):
            ts, f = [], None
            for _ in range(repeats):
                f = make()
                t0 = time.perf_counter()
                f(*args)
                ts.append(time.perf_counter() - t0)
            return statistics.median(ts), f

        hand = hand_numba(steps, h)
        want = hand(x0, F)
        for grad in (False, True):
            t_s, fs_ = first(lambda grad=grad: sym(grad), (x0, F))
            ref = fs_(x0, F)
            if not grad:
                check("symnum vs hand", ref, want, rtol=1e-9)
            names, fs, args, firsts = ["symnum sn.fori_loop (array)"], [fs_], [(x0, F)], [t_s]
            if not grad:
                names.append("hand numba")
                fs.append(hand)
                args.append((x0, F))
                firsts.append(None)
            if jax is not None:
                xj, Fj = jax.device_put(x0), jax.device_put(np.float64(F))
                for use_scan, label in ((False, "JAX lax.fori_loop"), (True, "JAX lax.scan")):
                    def make(use_scan=use_scan, steps=steps, grad=grad):
                        sim = pj.lorenz96_rk4_jax(steps, h, use_scan)
                        if grad:
                            return jax.jit(jax.grad(lambda x, F: sim(x, F).sum(),
                                                    argnums=(0, 1)))
                        return jax.jit(sim)

                    t_j, fj = jax_first_call(make, (xj, Fj), repeats)
                    got = fj(xj, Fj)
                    if grad:
                        check(label + " dx0", got[0], ref[0], rtol=1e-9)
                        check(label + " dF", got[1], ref[1], rtol=1e-9)
                    else:
                        check(label, got, ref, rtol=1e-9)
                    names.append(label + (" + grad" if grad else ""))
                    fs.append(fj)
                    args.append((xj, Fj))
                    firsts.append(t_j)
            t = per_call_interleaved(fs, args)
            for nm, tf, tc in zip(names, firsts, t):
                (grd if grad else fwd).append(
                    [f"{steps:,}", nm, fmt_time(tf) if tf is not None else "-", fmt_time(tc),
                     fmt_ratio(tc / t[0])])
    return fwd, grd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=("11", "12"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repeat, smaller sizes")
    ap.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    a = ap.parse_args()
    if a.quick:
        a.repeats = 1
    print(machine_info())
    print(f"pinned to core {CORE} (every thread of this process)" if CORE is not None else
          "not pinned: JAX/XLA and BLAS may use every core")
    if jax is None:
        print("JAX not installed: every JAX column is skipped")
    else:
        import jaxlib

        probe = pj.blocked(jax.jit(lambda z: jax.numpy.sum(jax.numpy.exp(jax.numpy.sin(z)))))
        z = jax.device_put(np.linspace(0, 1, 2_000_000))
        probe(z)
        print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, devices {jax.devices()}, "
              f"x64 {jax.config.jax_enable_x64}, XLA_FLAGS={os.environ.get('XLA_FLAGS')!r}; "
              f"CPU ticks of the 4 busiest threads over 20 calls of a 2e6 exp∘sin sum: "
              f"{pj.busy_threads(probe, z)}")
        floor = pj.blocked(jax.jit(lambda z: z + 1.0))
        z8 = jax.device_put(np.zeros(8))
        print("JAX dispatch floor (jit(x + 1) on 8 elements, blocked):",
              fmt_time(per_call_interleaved([floor], [(z8,)])[0]))
    lower(sn.trace(lambda x: np.sum(x * 2.0), np.zeros(8), mode="array"), "numba")  # numba up
    if a.only in (None, "11"):
        ns = [10**3, 10**5] if a.quick else [10**3, 10**5, 10**6]
        print(f"\n## Rosenbrock gradient (setup: median of {a.repeats}; per call interleaved)\n")
        print(table(["n", "symnum setup cold", "JAX jit + first call", "symnum/call",
                     "hand numba", "symnum/hand", "JAX/call", "symnum/JAX"],
                    rosen_rows(ns, a.repeats)))
        b, c = logistic_rows((10_000, 100), a.repeats)
        print("\n## Logistic regression: value_and_grad + hvp built together, then per call\n")
        print(table(["data", "symnum build (cold)", "JAX jit + first calls"], b))
        print(table(["per call", "symnum", "numpy by hand", "symnum/numpy", "JAX",
                     "symnum/JAX"], c))
        print("\n## MLP gradient n ≈ 1,000 (d=35, h=27, batch 4)\n")
        print(table(["system", "build (+ first call)", "per call", "symnum / this"],
                    mlp_rows(1000, a.repeats)))
        print("\n## Newton-CG on Rosenbrock n = 1,000 (xtol 1e-10; solves interleaved)\n")
        print(table(["system", "build", "time to solution", "vs scipy", "nit", "nfev",
                     "nhev"], newton_rows(1000, a.repeats)))
    if a.only in (None, "12"):
        fwd, grd = loop_rows((50,) if a.quick else (50, 1000), a.repeats)
        print("\n## RK4 Lorenz-96 (8 states): forward\n")
        print(table(["steps", "system", "trace + compile + first call", "per call",
                     "vs symnum"], fwd))
        print("\n## RK4 Lorenz-96: grad of sum(x(T)) w.r.t. (x0, F)\n")
        print(table(["steps", "system", "trace + compile + first call", "per call",
                     "vs symnum"], grd))


if __name__ == "__main__":
    main()
