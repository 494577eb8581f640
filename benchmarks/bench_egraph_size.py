"""Size of simplify(method="egraph") results against method="rules" on random expression trees.

Random trees of N operations over four symbols (seeded), built in tree mode (every operation a
node, as written: `x*x + x - x` stays as it is until simplified) or, with --mode canonical, as
a user's code builds them (like terms collected on construction). Each is simplified by
method="rules", by method="egraph" (default ruleset and cost) and by the e-graph alone
(classical=False, the behaviour before issue 13); printed: operations in the result (count_ops:
n-ary sums/products count once), instructions of the emitted schedule (what the backends
compile), wall time, and how many (form, point) pairs differ from the input at 20 random points
where the input is finite (relative 1e-6).

    .venv/bin/python benchmarks/bench_egraph_size.py            # N = 1,000 and 5,000, 3 seeds
    .venv/bin/python benchmarks/bench_egraph_size.py --n 300 --seeds 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from symnum.backends.schedule import schedule
from symnum.rewrites.egraph import EgraphReport

import symnum as sn
from symnum.core.traversal import count_ops

UNARY = ("sin", "cos", "exp", "log", "sqrt", "neg", "sq")
BINARY = ("add", "add", "sub", "mul", "mul", "div")


def random_tree(n_ops: int, seed: int, n_syms: int = 4, mode: str = "tree",
                family: str = "mixed"):
    """A random expression with about `n_ops` operations (a tree: subterms are not shared).
    family "mixed": arithmetic and sin/cos/exp/log/sqrt over four symbols; "arith": + - * only
    over two symbols and small constants (much cancels)."""
    with sn.tree_mode(mode == "tree"):
        if family == "arith":
            return _random_arith(n_ops, seed)
        return _random_tree(n_ops, seed, n_syms)


def _random_arith(n_ops: int, seed: int):
    rng = np.random.default_rng(seed)
    syms = sn.symbols("x y")

    def grow(budget: int):
        if budget <= 0:
            r = rng.random()
            return syms[int(rng.integers(2))] if r < 0.7 else float(rng.integers(1, 4))
        left = int(rng.integers(0, budget))
        a, b = grow(left), grow(budget - 1 - left)
        op = int(rng.integers(4))
        return a + b if op == 0 else a - b if op == 1 else a * b if op == 2 else -(a * b)

    return grow(n_ops), syms


def _random_tree(n_ops: int, seed: int, n_syms: int):
    rng = np.random.default_rng(seed)
    syms = sn.symbols(" ".join(f"x{i}" for i in range(n_syms)))

    def leaf():
        r = rng.random()
        if r < 0.75:
            return syms[int(rng.integers(n_syms))]
        return float(rng.choice([0.5, 1.0, 2.0, 3.0, -1.0]))

    def grow(budget: int):
        if budget <= 0:
            return leaf()
        if rng.random() < 0.3:
            op = UNARY[int(rng.integers(len(UNARY)))]
            a = grow(budget - 1)
            if op == "neg":
                return -a
            if op == "sq":
                return a * a
            if op in ("log", "sqrt"):
                return getattr(sn, op)(1.0 + a * a)  # in domain
            if op == "exp":
                return sn.exp(sn.sin(a))  # bounded
            return getattr(sn, op)(a)
        op = BINARY[int(rng.integers(len(BINARY)))]
        left = int(rng.integers(0, budget))
        a, b = grow(left), grow(budget - 1 - left)
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        return a / (1.0 + b * b)

    return grow(n_ops), syms


def _check(forms: dict, syms, rng) -> int:
    """Points where a simplified form differs from the input (relative 1e-6), of 20."""
    bad = 0
    ref = forms["input"]
    for _ in range(20):
        env = {s: float(rng.uniform(-1.5, 1.5)) for s in syms}
        with np.errstate(all="ignore"):
            want = float(sn.evaluate(ref, env))
            for f in forms.values():
                got = float(sn.evaluate(f, env))
                if np.isfinite(want) and not np.isclose(got, want, rtol=1e-6, atol=1e-9):
                    bad += 1
    return bad


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="*", default=[1000, 5000])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--mode", choices=("tree", "canonical"), default="tree")
    ap.add_argument("--family", choices=("mixed", "arith"), default="mixed")
    args = ap.parse_args()
    print(f"family {args.family}, {args.mode} mode; 'alone' = the e-graph without the classical "
          "passes (classical=False: the behaviour before issue 13)\n")
    print("| N | seed | input ops | rules ops | egraph ops | alone ops | rules instr | "
          "egraph instr | alone instr | rules s | egraph s | alone s | chosen | mismatches |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.n:
        ratios = []
        for seed in range(args.seeds):
            e, syms = random_tree(n, seed, mode=args.mode, family=args.family)
            t0 = time.perf_counter()
            r = sn.simplify(e)
            t1 = time.perf_counter()
            rep = EgraphReport()
            g = sn.simplify(e, method="egraph", stats=rep)
            t2 = time.perf_counter()
            a = sn.simplify(e, method="egraph", classical=False)
            t3 = time.perf_counter()
            forms = {"input": e, "rules": r, "egraph": g, "alone": a}
            instr = {k: len(schedule(list(syms), [v])) for k, v in forms.items()}
            bad = _check(forms, syms, np.random.default_rng(seed))
            ratios.append(count_ops(g) / max(1, count_ops(r)))
            print(f"| {n} | {seed} | {count_ops(e)} | {count_ops(r)} | {count_ops(g)} | "
                  f"{count_ops(a)} | {instr['rules']} | {instr['egraph']} | {instr['alone']} | "
                  f"{t1 - t0:.2f} | {t2 - t1:.2f} | {t3 - t2:.2f} | {rep.chosen} | {bad} |",
                  flush=True)
        print(f"\nN={n}: median egraph/rules ops ratio {statistics.median(ratios):.2f}\n")


if __name__ == "__main__":
    main()
