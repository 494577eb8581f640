"""Higher derivatives: Taylor mode vs nested forward (`diff`) vs nested reverse (`gradient`).

For scalar functions written as numpy code and traced by symnum, the k-th derivative for
k = 1 … 16 by: one Taylor jet of order k (`nth_derivative`); k nested `diff` calls, in canonical
mode and in tree mode (no polynomial forms: what a system without canonical merging gets); and k
nested reverse sweeps (`gradient` of the previous derivative). Per k: operation count, DAG nodes,
build time and evaluation time with the reference interpreter vectorised over 10⁴ points. A method
stops once one step exceeds the time budget. Growth is fitted as a power law and as an
exponential. Values are checked against SymPy (k ≤ 8) and against each other.

    python benchmarks/bench_higher_order.py [--quick] [--kmax K] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import time
from dataclasses import dataclass, field

import numpy as np
from _common import fmt_time, machine_info, measure, table

import symnum as sn
from symnum.core.evaluate import eval_many
from symnum.core.traversal import count_ops, postorder

# ---------------------------------------------------------------------------------------------
# the workloads: plain numpy; `sympy_expr` is the same formula for the oracle


def composite(x):
    """The issue's example: exp(sin x)·log(1 + x²) / (2 + cos x)."""
    return np.exp(np.sin(x)) * np.log(1.0 + x**2) / (2.0 + np.cos(x))


def tanh4(x):
    """A deep composition (Faà di Bruno's worst case): tanh(tanh(tanh(tanh x)))."""
    return np.tanh(np.tanh(np.tanh(np.tanh(x))))


def composite_sympy(x):
    import sympy

    return sympy.exp(sympy.sin(x)) * sympy.log(1 + x**2) / (2 + sympy.cos(x))


def tanh4_sympy(x):
    import sympy

    return sympy.tanh(sympy.tanh(sympy.tanh(sympy.tanh(x))))


FUNCTIONS = [("exp(sin x)·log(1+x²)/(2+cos x)", composite, composite_sympy),
             ("tanh(tanh(tanh(tanh x)))", tanh4, tanh4_sympy)]

MAX_EVAL_NODES = 25_000  # the interpreter keeps every node's value: nodes × points × 8 bytes
MAX_NODES = 2_000_000  # beyond this a nested method is stopped for memory whatever its time


@dataclass
class Row:
    """One method's k-th derivative: its size, times and values at the check points."""

    k: int
    ops: int
    nodes: int
    build: float
    evaluate: float | None = None
    values: np.ndarray | None = None


@dataclass
class Series:
    name: str
    rows: list[Row] = field(default_factory=list)
    stop: str = ""


def evaluate_timed(d, x, pts: np.ndarray, check: np.ndarray, reps: int, nodes: int):
    """(median evaluation time over `pts`, values at `check`); time None when too large."""
    vals = np.asarray(eval_many([d], {x: check})[0], dtype=float) * np.ones_like(check)
    if nodes > MAX_EVAL_NODES:
        return None, vals
    t = measure(lambda: eval_many([d], {x: pts}), reps)
    return t.median, vals


def run_nested(name: str, step, start, x, kmax: int, budget: float, pts, check, reps,
               mode=contextlib.nullcontext) -> Series:
    """Apply `step` k times; build time of the k-th derivative = all steps up to k."""
    s = Series(name)
    d, total = start, 0.0
    for k in range(1, kmax + 1):
        with mode():
            gc.collect()
            t0 = time.perf_counter()
            d = step(d)
            dt = time.perf_counter() - t0
        total += dt
        nodes = len(postorder([d]))
        te, vals = evaluate_timed(d, x, pts, check, reps, nodes)
        s.rows.append(Row(k, count_ops(d), nodes, total, te, vals))
        if dt > budget:
            s.stop = f"stopped after k={k}: that step alone took {dt:.1f} s (budget {budget:g} s)"
            break
        if nodes > MAX_NODES:
            s.stop = f"stopped after k={k}: {nodes:,} nodes (memory cap {MAX_NODES:,})"
            break
    return s


def run_taylor(x, f, kmax: int, budget: float, pts, check, reps) -> Series:
    """One jet of order k per k, each built from scratch (median of `reps` builds)."""
    s = Series("Taylor (nth_derivative)")
    d = None
    for k in range(1, kmax + 1):
        d = None  # order k − 1's terms must not be found interned while order k is built
        t = measure(lambda k=k: sn.nth_derivative(f, x, k), reps)
        d = t.result
        nodes = len(postorder([d]))
        te, vals = evaluate_timed(d, x, pts, check, reps, nodes)
        s.rows.append(Row(k, count_ops(d), nodes, t.median, te, vals))
        if t.median > budget:
            s.stop = f"stopped after k={k}: the build took {t.median:.1f} s (budget {budget:g} s)"
            break
    return s


def sympy_oracle(sympy_f, kmax: int, check: np.ndarray) -> dict[int, np.ndarray]:
    """k-th derivatives by SymPy (repeated diff), evaluated with mpmath-free numpy lambdify."""
    import sympy

    xs = sympy.Symbol("x")
    e = sympy_f(xs)
    out = {}
    for k in range(1, kmax + 1):
        e = sympy.diff(e, xs)
        out[k] = np.asarray(sympy.lambdify(xs, e, "numpy")(check), dtype=float) * np.ones_like(
            check)
    return out


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


# ---------------------------------------------------------------------------------------------
# fits


def power_fit(ks: list[int], ys: list[int]) -> tuple[float, float]:
    """(exponent p, R²) of log y = a + p log k."""
    return _linfit(np.log(ks), np.log(ys))


def exp_fit(ks: list[int], ys: list[int]) -> tuple[float, float]:
    """(base b, R²) of log y = a + k log b."""
    slope, r2 = _linfit(np.asarray(ks, float), np.log(ys))
    return math.exp(slope), r2


def _linfit(u, v) -> tuple[float, float]:
    u, v = np.asarray(u, float), np.asarray(v, float)
    if len(u) < 3:
        return float("nan"), float("nan")
    A = np.vstack([u, np.ones_like(u)]).T
    (slope, icpt), *_ = np.linalg.lstsq(A, v, rcond=None)
    res = v - (slope * u + icpt)
    tot = np.sum((v - v.mean()) ** 2)
    return float(slope), float(1 - np.sum(res**2) / tot) if tot > 0 else float("nan")


def fits(series: list[Series], kfit: int) -> list[list]:
    """Per method: power law over k ≥ kfit and exponential over its last six k's."""
    rows = []
    for s in series:
        pts = [(r.k, r.ops) for r in s.rows if r.k >= kfit]
        ks, ys = [p[0] for p in pts], [p[1] for p in pts]
        p, rp = power_fit(ks, ys)
        b, rb = exp_fit(ks[-6:], ys[-6:])
        last = s.rows[-1]
        ratio = last.ops / s.rows[-2].ops if len(s.rows) > 1 else float("nan")
        # the power a pure power law would need for this last step: constant for k^p,
        # growing like k·log b for b^k
        local = math.log(ratio) / math.log(last.k / (last.k - 1)) if last.k > 1 else math.nan
        rows.append([s.name, f"{ks[0]}–{ks[-1]}" if ks else "-", f"{p:.2f} (R² {rp:.3f})",
                     f"{b:.2f} (R² {rb:.3f})", f"{ratio:.2f}", f"{local:.1f}",
                     f"{last.ops:,} at k={last.k}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="k ≤ 8, 10³ points, small budget")
    ap.add_argument("--kmax", type=int, default=None, help="highest order (default 16)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds one step of a method may take before it stops (default 30)")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    kmax = args.kmax or (8 if args.quick else 16)
    budget = args.budget or (2.0 if args.quick else 30.0)
    reps = args.repeats or (1 if args.quick else 3)
    npts = 1_000 if args.quick else 10_000
    pts = np.linspace(-2.0, 2.0, npts)
    check = np.array([-1.3, -0.4, 0.25, 0.9, 1.7])

    print(machine_info())
    print(f"\nk-th derivative, k = 1…{kmax}; evaluation over {npts:,} points with the reference "
          f"interpreter (median of {reps}); a method stops once one step takes > {budget:g} s; "
          f"evaluated only up to {MAX_EVAL_NODES:,} DAG nodes (the interpreter holds every "
          f"node's {npts:,}-value array)\n")
    for title, f, sympy_f in FUNCTIONS:
        traced = sn.trace(f, 0.0)
        fx, x = traced.flat_outputs[0], traced.flat_inputs[0]
        with sn.tree_mode():
            fx_tree = sn.trace(f, 0.0).flat_outputs[0]
        series = [
            run_taylor(x, fx, kmax, budget, pts, check, reps),
            run_nested("nested diff (canonical)", lambda d, x=x: sn.diff(d, x), fx, x, kmax,
                       budget, pts, check, reps),
            run_nested("nested diff (tree mode)", lambda d, x=x: sn.diff(d, x), fx_tree, x, kmax,
                       budget, pts, check, reps, mode=sn.tree_mode),
            run_nested("nested reverse (gradient)", lambda d, x=x: sn.gradient(d, [x])[0], fx,
                       x, kmax, budget, pts, check, reps),
        ]
        oracle = sympy_oracle(sympy_f, min(kmax, 8), check)
        print(f"### f(x) = {title}  ({count_ops(fx)} ops)\n")
        names = [s.name for s in series]

        def cell(s: Series, k: int, what):
            r = next((r for r in s.rows if r.k == k), None)
            return "-" if r is None else what(r)

        for label, what in [
            ("operations / DAG nodes", lambda r: f"{r.ops:,} / {r.nodes:,}"),
            ("build time", lambda r: fmt_time(r.build)),
            (f"evaluation time ({npts:,} points)", lambda r: fmt_time(r.evaluate)),
        ]:
            print(f"{label}:\n")
            print(table(["k"] + names, [[str(k)] + [cell(s, k, what) for s in series]
                                        for k in range(1, kmax + 1)]))
            print()
        for s in series:
            if s.stop:
                print(f"- {s.name}: {s.stop}")
        print("\nbuild: for Taylor one jet of order k from scratch; for the nested methods all "
              "k steps. eval: '-' where not evaluated (too many nodes, or not built).\n")
        agree = []
        taylor = {r.k: r.values for r in series[0].rows}
        for s in series:
            vs = [rel_err(r.values, oracle[r.k]) for r in s.rows if r.k in oracle]
            vt = {r.k: rel_err(r.values, taylor[r.k]) for r in s.rows if r.k in taylor}
            bad = [k for k, e in vt.items() if not e <= 1e-8]  # NaN counts as a disagreement
            agree.append([s.name, f"{max(vs):.1e}" if vs else "-",
                          f"{max(e for k, e in vt.items() if k not in bad):.1e}",
                          f"k={bad[0]}" if bad else "none"])
        print(table(["method", f"max rel. error vs SymPy (k ≤ {min(kmax, 8)})",
                     "max rel. difference vs Taylor (agreeing k)",
                     "first k off Taylor by > 1e-8 or non-finite"], agree))
        print()
        print(table(["method", "fit over k", "power law: exponent", "exponential: base "
                     "(last 6 k)", "last growth ratio", "local exponent", "largest"],
                    fits(series, 4)))
        print("\npower law: ops ≈ a·k^p (least squares on log–log, k ≥ 4); exponential: "
              "ops ≈ a·b^k over the method's last six orders. local exponent: "
              "log(ops_k / ops_k-1) / log(k / (k-1)) at the last k; it settles for a power law "
              "and keeps rising for an exponential.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
