"""Build and simplify the 2D Brusselator right-hand side: symnum vs SymPy vs SymEngine.

All three run the same numpy code (`brusselator_rhs` of symnum.demo.examples) on an object array
of their own symbols, with numeric parameters and time, so they build the same 2·n² expressions.
Each result is checked against the numpy function at a random state before any figure is printed.

    python benchmarks/bench_brusselator_build.py [--quick] [--n N]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, measure_pipeline, table
from peers import symengine_module

import symnum as sn
from symnum.demo.examples import brusselator_rhs

P = (1.0, 3.4, 10.0)
T = 0.0


def rhs(state):
    return brusselator_rhs(state, P, T)


# ---------------------------------------------------------------------------------------------
# the three systems: build (symbols + the numpy code) and simplify


def symnum_build(n: int):
    return sn.trace(rhs, np.zeros((2, n, n)), mode="scalar")


def symnum_simplify(fn):
    return sn.simplify(fn, method="rules")


def symnum_check(fn, state: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(fn(state), float) - rhs(state))))


def peer_build(lib, n: int):
    names = " ".join(f"u{i}" for i in range(2 * n * n))
    syms = np.array(lib.symbols(names), dtype=object).reshape(2, n, n)
    return syms, rhs(syms)


def peer_check(lib, built, state: np.ndarray) -> float:
    syms, out = built
    flat_syms, flat_out = list(syms.ravel()), list(np.ravel(out))
    if lib.__name__ == "sympy":
        f = lib.lambdify(flat_syms, flat_out, "numpy")
        got = np.array(f(*state.ravel()), dtype=float)
    else:
        got = np.array(lib.Lambdify(flat_syms, flat_out)(state.ravel()), dtype=float)
    return float(np.max(np.abs(got.reshape(state.shape) - rhs(state))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grid, one repeat (a smoke run)")
    ap.add_argument("--n", type=int, default=None, help="grid points per side (default 32)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats of the fast systems")
    args = ap.parse_args(argv)
    n = args.n or (8 if args.quick else 32)
    reps = args.repeats or (1 if args.quick else 5)

    import sympy

    symengine = symengine_module()  # a peer of the `bench` extra: its row needs it installed

    print(machine_info())
    print(f"\nBrusselator n={n}: {2 * n * n:,} output expressions; median of up to {reps} runs\n")
    state = np.random.default_rng(0).uniform(0.0, 4.0, (2, n, n))
    scale = max(1.0, float(np.max(np.abs(rhs(state)))))

    rows = []
    sy_build, sy_simp, sy_total = measure_pipeline(
        [lambda _: symnum_build(n), symnum_simplify], reps)
    base = sy_total.median
    err = symnum_check(sy_simp.result, state) / scale
    base_build = sy_build.median
    rows.append(["symnum: trace + simplify(rules)", fmt_time(sy_build.median),
                 fmt_time(sy_simp.median), fmt_time(base), "1.0x", "1.0x", f"{err:.1e}"])

    def clear():
        sympy.core.cache.clear_cache()

    def expand_all(lib):
        return lambda built: (built[0], [lib.expand(e) for e in np.ravel(built[1])])

    peers = [
        ("SymPy: build + expand", sympy, expand_all(sympy), max(1, min(reps, 3))),
        ("SymPy: build + simplify", sympy,
         lambda built: (built[0], [sympy.simplify(e) for e in np.ravel(built[1])]), 1),
    ]
    if symengine is not None:
        peers.append(("SymEngine: build + expand", symengine, expand_all(symengine), reps))
    for label, lib, simp, r in peers:
        b, s, total = measure_pipeline([lambda _, lib=lib: peer_build(lib, n), simp], r,
                                       setup=clear, budget_s=600.0)
        err = peer_check(lib, s.result, state) / scale
        rows.append([label, fmt_time(b.median), fmt_time(s.median), fmt_time(total.median),
                     fmt_ratio(b.median / base_build), fmt_ratio(total.median / base),
                     f"{err:.1e}"])

    print(table(["system", "build", "simplify", "build + simplify", "build / symnum's",
                 "total / symnum's", "rel. error"], rows))
    print("\nbuild: create the symbols and run the numpy code on them; simplify: symnum's rule "
          "sets, SymPy's expand or simplify on each output, SymEngine's expand (it has no "
          "simplify). Ratios above 1 mean symnum is faster. rel. error: max |f(u) - numpy(u)| / "
          "max |numpy(u)| at a random state.")
    if symengine is None:
        print("SymEngine is not installed (pip install symengine, or the `bench` extra): its "
              "row is skipped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
