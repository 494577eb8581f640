"""Call overhead of compiled functions (issue 15): symnum vs numba, side by side in one run.

1. Per-call time of `f(x)` for N = 1, 10, 2,048 array elements and for scalar arguments:
   `sn.compile(f)` (llvm and numba backends), the raw lowered kernel (`cf.lower(x)(x)`) and
   numba's own `@njit` of the same numpy code. Medians of interleaved repeats.
2. scipy's solve_ivp (BDF) on small stiff models (Van der Pol μ = 1,000, Robertson): time per
   right-hand-side call and per solve, compiled RHS + Jacobian vs plain numpy.
3. numba-compiled code calling a symnum kernel in a loop (`k.numba`) vs calling an njit function.
4. save/load round trip of the Brusselator n = 32 RHS + sparse Jacobian values kernel.
5. Static arguments (a fori_loop bound): the same kernel called with a static default omitted,
   passed, named in static_argnums, and through sn.jit(sn.grad(f)), vs the plain function.

    python benchmarks/bench_calls.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import tempfile
import time

import numba
import numpy as np
from _common import fmt_ratio, machine_info, table
from scipy.integrate import solve_ivp

import symnum as sn
from symnum.demo.examples import brusselator_init, brusselator_rhs


def per_call(fns: dict, args: tuple, calls: int, repeats: int) -> dict:
    """Seconds per call of each function: the best of interleaved rounds (the machine is
    shared: other jobs inflate single rounds by 2-3x, which medians of a few rounds keep)."""
    for f in fns.values():
        f(*args)
        f(*args)
    runs: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                f(*args)
            runs[k].append((time.perf_counter() - t0) / calls)
    return {k: min(v) for k, v in runs.items()}


def us(s: float) -> str:
    return f"{s * 1e6:.2f} µs"


def f_arr(x):
    return np.sin(x) * x + 1.0


nb_arr = numba.njit(f_arr)


def f_two(x, y):
    return np.sin(x) * y + 1.0


nb_two = numba.njit(f_two)


def section_overhead(calls: int, repeats: int) -> str:
    rows = []
    for label, f, nb, args in [
        ("array N=1", f_arr, nb_arr, (np.random.rand(1),)),
        ("array N=10", f_arr, nb_arr, (np.random.rand(10),)),
        ("array N=2048", f_arr, nb_arr, (np.random.rand(2048),)),
        ("0-d array", f_arr, nb_arr, (np.array(0.3),)),
        ("1 scalar", f_arr, nb_arr, (0.3,)),
        ("2 scalars", f_two, nb_two, (0.3, 1.7)),
    ]:
        cl, cn = sn.compile(f, backend="llvm"), sn.compile(f, backend="numba")
        raw = cl.lower(*args)
        t = per_call({"sn llvm": cl, "sn numba": cn, "raw": raw, "njit": nb}, args, calls,
                     repeats)
        rows.append([label, us(t["sn llvm"]), us(t["sn numba"]), us(t["raw"]), us(t["njit"]),
                     fmt_ratio(t["sn llvm"] / t["njit"]), fmt_ratio(t["sn numba"] / t["njit"])])
    return table(["arguments", "sn.compile llvm", "sn.compile numba", "raw Compiled (llvm)",
                  "numba njit", "llvm / njit", "numba / njit"], rows)


def _step(i, y):
    return y * 0.5 + np.sin(y)


def f_static(x, steps=6):
    return sn.fori_loop(0, steps, _step, x)


def f_plain(x):
    return sn.fori_loop(0, 6, _step, x)


def section_static(calls: int, repeats: int) -> str:
    """Each static row interleaved with its plain twin (one kernel, statics aside)."""
    rows = []
    for label, st, plain, args in [
        ("default omitted f(x)", sn.jit(f_static), sn.jit(f_plain), (0.3,)),
        ("default passed f(x, 6)", sn.jit(f_static), sn.jit(f_plain), (0.3, 6)),
        ("static_argnums=1", sn.jit(lambda x, s: sn.fori_loop(0, s, _step, x),
                                    static_argnums=1), sn.jit(f_plain), (0.3, 6)),
        ("jit(grad(f))(x, 6)", sn.jit(sn.grad(f_static)), sn.jit(sn.grad(f_plain)),
         (0.3, 6)),
    ]:
        t = per_call({"static": lambda *a, st=st: st(*a), "plain": lambda *a, p=plain: p(a[0])},
                     args, calls, repeats)
        rows.append([label, us(t["static"]), us(t["plain"]), fmt_ratio(t["static"] / t["plain"])])
    return table(["static argument", "call with static", "plain f(x)", "static / plain"], rows)


# stiff models -----------------------------------------------------------------------------------
MU = 1000.0


def vdp(t, y):
    return np.array([y[1], MU * (1 - y[0] ** 2) * y[1] - y[0]])


def vdp_jac(t, y):
    return np.array([[0.0, 1.0], [-2 * MU * y[0] * y[1] - 1.0, MU * (1 - y[0] ** 2)]])


def rober(t, y):
    k1, k2, k3 = 0.04, 3e7, 1e4
    a, b, c = y[0], y[1], y[2]
    return np.array([-k1 * a + k3 * b * c, k1 * a - k2 * b * b - k3 * b * c, k2 * b * b])


def rober_jac(t, y):
    k1, k2, k3 = 0.04, 3e7, 1e4
    b, c = y[1], y[2]
    return np.array([[-k1, k3 * c, k3 * b], [k1, -2 * k2 * b - k3 * c, -k3 * b],
                     [0.0, 2 * k2 * b, 0.0]])


def section_ivp(repeats: int) -> str:
    rows = []
    for name, f, jac, y0, span in [("Van der Pol μ=1000", vdp, vdp_jac, np.array([2.0, 0.0]),
                                    (0.0, 3000.0)),
                                   ("Robertson", rober, rober_jac, np.array([1.0, 0.0, 0.0]),
                                    (0.0, 1e5))]:
        cf = sn.compile(f)
        cj = sn.compile(sn.jacfwd(f, argnums=1))
        y = y0 + 0.01
        per = per_call({"numpy": f, "sn": cf, "numpy jac": jac, "sn jac": cj}, (0.5, y),
                       2000, repeats)
        solves: dict = {"numpy": [], "sn": []}
        nfev = {}
        for _ in range(max(3, repeats // 3)):
            for k, (rhs, jj) in {"numpy": (f, jac), "sn": (cf, cj)}.items():
                t0 = time.perf_counter()
                sol = solve_ivp(rhs, span, y0, method="BDF", jac=jj, rtol=1e-6, atol=1e-10)
                solves[k].append(time.perf_counter() - t0)
                nfev[k] = (sol.nfev, sol.njev)
        s = {k: statistics.median(v) for k, v in solves.items()}
        rows.append([name, us(per["numpy"]), us(per["sn"]), us(per["numpy jac"]),
                     us(per["sn jac"]), f"{s['numpy'] * 1e3:.1f} ms", f"{s['sn'] * 1e3:.1f} ms",
                     fmt_ratio(s["numpy"] / s["sn"]), f"{nfev['sn'][0]} / {nfev['sn'][1]}"])
    return table(["model", "RHS numpy", "RHS symnum", "Jac numpy", "Jac symnum",
                  "solve numpy", "solve symnum", "speed-up", "nfev / njev"], rows)


# numba code calling a kernel ---------------------------------------------------------------------
def section_njit_loop(n: int, repeats: int) -> str:
    x, y = sn.symbols("x y")
    rows = []

    @numba.njit
    def plain(xv, out):
        out[0] = np.sin(xv[0]) * xv[1] + 1.0

    def make_loop(k):
        @numba.njit
        def loop(n):
            xv, o, s = np.empty(2), np.empty(1), 0.0
            for i in range(n):
                xv[0], xv[1] = i * 1e-3, 1.7
                k(xv, o)
                s += o[0]
            return s
        return loop

    loops = {"njit function": make_loop(plain)}
    for be in ("llvm", "numba"):
        kern = sn.build_function(sn.sin(x) * y + 1.0, x, y, backend=be)
        loops[f"symnum {be} kernel (k.numba)"] = make_loop(kern.numba)
    t = per_call(loops, (n,), 1, repeats)
    base = t["njit function"]
    for k, v in t.items():
        rows.append([k, f"{v / n * 1e9:.1f} ns", fmt_ratio(v / base)])
    return table(["callee inside an @njit loop", "per iteration", "vs njit"], rows)


# saving -----------------------------------------------------------------------------------------
def section_save(repeats: int) -> str:
    n = 32
    shape = (2, n, n)

    def rhs(u):
        return brusselator_rhs(u.reshape(shape)).reshape(-1)

    u0 = brusselator_init(n).reshape(-1)
    t0 = time.perf_counter()
    cf = sn.compile(rhs)
    cf(u0)
    us_ = sn.symarray("u", 2 * n * n)
    J = sn.sparse_jacobian(rhs(us_), us_)
    jf = sn.build_function(J, us_)
    build = time.perf_counter() - t0
    rows = []
    d = tempfile.mkdtemp()
    for name, obj, probe in [("RHS (compiled function)", cf, lambda o: o(u0)),
                             ("Jacobian values (kernel)", jf.compiled, lambda o: o(u0))]:
        p = os.path.join(d, "obj.json")
        ts, tl, tp, tu = [], [], [], []
        for _ in range(repeats):
            t1 = time.perf_counter()
            sn.save(obj, p)
            t2 = time.perf_counter()
            back = sn.load(p)
            t3 = time.perf_counter()
            blob = pickle.dumps(obj)
            t4 = time.perf_counter()
            pickle.loads(blob)
            t5 = time.perf_counter()
            ts.append(t2 - t1), tl.append(t3 - t2), tp.append(t4 - t3), tu.append(t5 - t4)
        np.testing.assert_array_equal(np.asarray(probe(back)), np.asarray(probe(obj)))
        med = statistics.median
        rows.append([name, f"{os.path.getsize(p) / 1e6:.2f} MB", f"{med(ts) * 1e3:.1f} ms",
                     f"{med(tl) * 1e3:.1f} ms", f"{len(blob) / 1e6:.2f} MB",
                     f"{med(tp) * 1e3:.1f} ms", f"{med(tu) * 1e3:.1f} ms"])
    return (f"(building both from scratch: {build:.2f} s)\n\n" +
            table(["object", "JSON size", "sn.save", "sn.load (kernel from disk cache)",
                   "pickle size", "pickle.dumps", "pickle.loads"], rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sections", default="12345", help="which sections to run, e.g. 12")
    a = ap.parse_args()
    calls, repeats = (2000, 5) if a.quick else (10000, 9)
    print(machine_info())
    if "1" in a.sections:
        print(f"\n## 1. Per-call time (best of {repeats} interleaved rounds of {calls} calls)\n")
        print(section_overhead(calls, repeats))
    if "2" in a.sections:
        print("\n## 2. solve_ivp (BDF, analytic Jacobian), per call and per solve\n")
        print(section_ivp(repeats))
    if "3" in a.sections:
        print("\n## 3. numba-compiled code calling a kernel, 10⁶ iterations\n")
        print(section_njit_loop(10 ** 5 if a.quick else 10 ** 6, repeats))
    if "4" in a.sections:
        print("\n## 4. Save / load of the Brusselator n = 32 RHS and Jacobian\n")
        print(section_save(3 if a.quick else 7))
    if "5" in a.sections:
        print(f"\n## 5. Static arguments (best of {repeats} interleaved rounds of {calls} calls, "
              "each through a Python lambda)\n")
        print(section_static(calls, repeats))


if __name__ == "__main__":
    main()
