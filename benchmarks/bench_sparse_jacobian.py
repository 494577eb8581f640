"""Sparse symbolic Jacobians: symnum vs SymPy vs SymEngine vs CasADi SX, in one run.

Two right-hand sides written as plain numpy code, run unchanged by every system on an object array
of its own symbols: the 2D Brusselator (2·n² states) and a seeded random mass-action reaction
network of N species. Per system: build (symbols + the numpy code), the Jacobian step alone, and
their total; the non-zeros each produced; for symnum the number of colours of `color_columns`.
symnum's Jacobian is checked against colour-compressed central differences of the numpy function,
and every peer's against symnum's at a random state, before any figure is printed.

    python benchmarks/bench_sparse_jacobian.py [--quick] [--repeats R] [--sympy-limit S]
"""

from __future__ import annotations

import argparse
import inspect
import time
from dataclasses import dataclass

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, measure, measure_pipeline, table

import symnum as sn
from symnum.demo.examples import Network, brusselator_rhs, mass_action_rhs, reaction_network  # noqa: F401

# ---------------------------------------------------------------------------------------------
# the workloads


def brusselator(state):
    return brusselator_rhs(state, (1.0, 3.4, 10.0), 0.0)


@dataclass
class Problem:
    label: str
    rhs: object
    shape: tuple
    state: np.ndarray  # the check point


def problems(quick: bool) -> list[Problem]:
    rng = np.random.default_rng(0)
    out = []
    for n in (8, 16) if quick else (8, 16, 32):
        out.append(Problem(f"Brusselator n={n}", brusselator, (2, n, n),
                           rng.uniform(0.0, 4.0, (2, n, n))))
    for n in (128,) if quick else (128, 512, 2048):
        net = reaction_network(n)
        out.append(Problem(f"mass action N={n:,}", lambda c, net=net: mass_action_rhs(c, net),
                           (n,), rng.uniform(0.1, 2.0, n)))
    return out


# ---------------------------------------------------------------------------------------------
# the systems: each gives build() -> (inputs, flat outputs) and jacobian(built)


def symnum_build(p: Problem):
    return sn.trace(p.rhs, np.zeros(p.shape), mode="scalar")


def symnum_jacobian(method: str | None):
    def jac(fn):
        kw = {} if method is None else {"method": method}
        return sn.sparse_jacobian(fn.flat_outputs, fn.flat_inputs, **kw)

    return jac


def peer_build(lib, p: Problem):
    size = int(np.prod(p.shape))
    syms = np.empty(size, dtype=object)
    syms[:] = lib.symbols(" ".join(f"u{i}" for i in range(size)))
    out = p.rhs(syms.reshape(p.shape))
    return list(syms), list(np.ravel(out))


def peer_jacobian(lib):
    return lambda built: lib.Matrix(built[1]).jacobian(lib.Matrix(built[0]))


def casadi_build(p: Problem):
    import casadi as ca

    size = int(np.prod(p.shape))
    x = ca.SX.sym("u", size)
    arr = np.empty(size, dtype=object)
    for i in range(size):
        arr[i] = x[i]
    out = np.ravel(p.rhs(arr.reshape(p.shape)))
    return x, ca.vertcat(*out)


def casadi_jacobian(built):
    import casadi as ca

    x, e = built
    return ca.jacobian(e, x)


# ---------------------------------------------------------------------------------------------
# checks


def fd_jacobian(p: Problem, J, colors: np.ndarray) -> np.ndarray:
    """The structural entries of J by colour-compressed central differences of the numpy rhs."""
    x0 = p.state.ravel()
    vals = np.empty(J.nnz)
    for c in range(int(colors.max()) + 1):
        cols = colors == c
        h = 1e-6 * np.maximum(1.0, np.abs(x0))
        e = np.where(cols, h, 0.0)
        fp = np.ravel(p.rhs((x0 + e).reshape(p.shape)))
        fm = np.ravel(p.rhs((x0 - e).reshape(p.shape)))
        col = (fp - fm)
        sel = colors[J.cols] == c
        vals[sel] = col[J.rows[sel]] / (2 * h[J.cols[sel]])
    return vals


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def peer_values(lib, built, J, ref: np.ndarray, state: np.ndarray) -> tuple[float, int | None]:
    """(rel. difference vs symnum at the structural entries, nnz of the dense matrix if small)."""
    entries = [J[int(i), int(j)] for i, j in zip(ref[0], ref[1])]
    syms = built[0]
    if lib.__name__ == "sympy":
        f = lib.lambdify(syms, entries, "numpy")
        got = np.array(f(*state), dtype=float)
    else:
        got = np.array(lib.Lambdify(syms, entries)(state), dtype=float).ravel()
    nnz = None
    if J.rows * J.cols <= 300_000:
        nnz = sum(1 for v in J if v != 0)
    return rel(got, ref[2]), nnz


def casadi_values(built, Jc, ref, state) -> float:
    import casadi as ca

    x, _ = built
    M = ca.Function("J", [x], [Jc])(state).sparse()
    return rel(np.asarray(M[ref[0], ref[1]]).ravel(), ref[2])


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat (smoke run)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats of the fast systems")
    ap.add_argument("--sympy-limit", type=float, default=60.0,
                    help="skip SymPy where its Jacobian is predicted to take longer (seconds)")
    args = ap.parse_args(argv)
    reps = args.repeats or (1 if args.quick else 5)

    import symengine
    import sympy

    try:
        import casadi
    except ImportError:
        casadi = None
    has_method = "method" in inspect.signature(sn.sparse_jacobian).parameters

    print(machine_info() + (f", casadi {casadi.__version__}" if casadi else ""))
    print(f"\nSparse symbolic Jacobian, median of up to {reps} runs (SymPy: one run)\n")
    rows, summary = [], []
    sympy_rate: dict[str, float] = {}  # seconds per Jacobian entry, per problem family
    for p in problems(args.quick):
        size = int(np.prod(p.shape))
        family = p.label.split()[0]
        build, jac, total = measure_pipeline([lambda _, p=p: symnum_build(p),
                                              symnum_jacobian(None)], reps)
        fn, J = build.result, jac.result
        sn.color_columns(np.eye(2, dtype=bool))  # import networkx before timing the colouring
        t0 = time.perf_counter()
        colors = sn.color_columns(J.pattern())
        t_color = time.perf_counter() - t0
        env = dict(zip(fn.flat_inputs, p.state.ravel()))
        jv = J.evaluate(env)
        err_fd = rel(jv, fd_jacobian(p, J, colors))
        ref = (J.rows, J.cols, jv)
        ncolors, nnz = int(colors.max()) + 1, J.nnz
        # drop the Jacobian's terms: a later build must not find them in the interning table
        J = jac.result = total.result = None
        summary.append([p.label, f"{size:,}", f"{nnz:,}", str(ncolors), fmt_time(t_color),
                        f"{err_fd:.1e}"])

        base_j, base_t = jac.median, total.median
        rows.append([p.label, "symnum: trace + sparse_jacobian", fmt_time(build.median),
                     fmt_time(jac.median), fmt_time(total.median), "1.0x", "1.0x", f"{nnz:,}",
                     f"{err_fd:.1e} (FD)"])
        if has_method:
            for m in ("forward", "reverse"):
                t = measure(lambda m=m, fn=fn: symnum_jacobian(m)(fn), reps)
                e = rel(t.result.evaluate(env), jv)
                rows.append([p.label, f"  sparse_jacobian(method={m!r})", "", fmt_time(t.median),
                             "", fmt_ratio(t.median / base_j), "", f"{t.result.nnz:,}",
                             f"{e:.1e}"])
                t.result = None
        if casadi is not None:
            b, j, tot = measure_pipeline([lambda _, p=p: casadi_build(p), casadi_jacobian], reps)
            e = casadi_values(b.result, j.result, ref, p.state.ravel())
            rows.append([p.label, "CasADi SX: jacobian", fmt_time(b.median), fmt_time(j.median),
                         fmt_time(tot.median), fmt_ratio(j.median / base_j),
                         fmt_ratio(tot.median / base_t), f"{j.result.nnz():,}", f"{e:.1e}"])
        for lib, r in ((symengine, reps), (sympy, 1)):
            name = "SymPy" if lib is sympy else "SymEngine"
            if lib is sympy and family in sympy_rate:
                predicted = sympy_rate[family] * size * size
                if predicted > args.sympy_limit:
                    rows.append([p.label, f"{name}: Matrix.jacobian", "-", "-", "-", "-", "-",
                                 "-", f"skipped: ~{predicted:.0f} s predicted"])
                    continue
            b, j, tot = measure_pipeline(
                [lambda _, lib=lib, p=p: peer_build(lib, p), peer_jacobian(lib)], r,
                setup=sympy.core.cache.clear_cache, budget_s=60.0)
            if lib is sympy:
                sympy_rate[family] = j.median / (size * size)
            e, nnz = peer_values(lib, b.result, j.result, ref, p.state.ravel())
            rows.append([p.label, f"{name}: Matrix.jacobian", fmt_time(b.median),
                         fmt_time(j.median), fmt_time(tot.median), fmt_ratio(j.median / base_j),
                         fmt_ratio(tot.median / base_t), "-" if nnz is None else f"{nnz:,}",
                         f"{e:.1e}"])

    print(table(["problem", "system", "build", "Jacobian", "total", "Jacobian / symnum's",
                 "total / symnum's", "nnz", "check"], rows))
    print("\nbuild: create the symbols and run the numpy code on them (symnum: sn.trace); "
          "Jacobian: the Jacobian step alone (symnum: sn.sparse_jacobian, default method; "
          "SymPy/SymEngine: dense Matrix.jacobian; CasADi: casadi.jacobian on SX). check: "
          "symnum's entries vs colour-compressed central differences of the numpy function "
          "(FD); every other row vs symnum's values at the same random state (max |difference| "
          "over max |J|). nnz '-': dense matrix too large to count.\n")
    print(table(["problem", "states", "nnz", "colours (color_columns)", "colouring time",
                 "symnum vs FD"], summary))
    print("\ncolours: greedy colouring (networkx, largest-first) of the column-intersection "
          "graph; a forward-mode Jacobian needs one pass per colour.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
