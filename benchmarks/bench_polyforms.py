"""Polynomial forms vs tree mode: the same symbolic work with and without Add/Mul canonical forms.

polyforms: terms built in canonical mode (x + x is 2·x on construction), then `expand` or
`simplify(method="rules")`. tree: the same terms built in tree mode (kept as written), brought to
the same canonical result by the rule-based simplifier `symnum.rewrites.algebra.simplify_tree` — the
baseline the Symbolics.jl paper measured its 113x against. Both must reach the same result.

    python benchmarks/bench_polyforms.py [--quick]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, measure_pipeline, table

import symnum as sn
from symnum.demo.examples import brusselator_rhs

P = (1.0, 3.4, 10.0)


def _simplify_tree(roots: list, expand: bool) -> list:
    from symnum.rewrites.algebra import simplify_tree

    return simplify_tree(roots, expand=expand)


# ---------------------------------------------------------------------------------------------
# workloads: (label, polyform stages, tree stages, a function that checks the two results agree)


def expand_power(k: int):
    a, b, c = sn.symbols("a b c")

    def poly_build(_):
        return (1 + a + b + c) ** k

    def tree_build(_):
        with sn.tree_mode():
            return (1 + a + b + c) ** k

    return (f"expand (1+a+b+c)^{k}",
            [poly_build, sn.expand],
            [tree_build, lambda e: _simplify_tree([e], expand=True)[0]],
            lambda p, t: _same([p], [t]))


def brusselator(n: int, simplify: bool):
    """simplify=False: reach the canonical form (polyforms get it from tracing alone);
    simplify=True: the polyform side also runs the full `simplify(method="rules")`."""

    def model(state, t):
        return brusselator_rhs(state, P, t)

    def poly_build(_):
        return sn.trace(model, np.zeros((2, n, n)), 0.0, mode="scalar")

    def tree_build(_):
        with sn.tree_mode():
            return sn.trace(model, np.zeros((2, n, n)), 0.0, mode="scalar")

    def tree_simplify(fn):
        return _simplify_tree(list(fn.flat_outputs), expand=False)

    poly = [poly_build, lambda fn: sn.simplify(fn, method="rules")] if simplify else [poly_build]
    what = "trace + simplify(rules)" if simplify else "trace to canonical form"
    return (f"Brusselator n={n}: {what}", poly, [tree_build, tree_simplify],
            lambda p, t: _same(list(p.flat_outputs), t))


def _same(poly: list, tree: list) -> str:
    """'identical' when canonicalising the tree result gives the very same terms (hash-consing),
    else 'equal at random points' or 'DIFFERENT' from numerical evaluation."""
    from symnum.simplify import canonicalize_many

    if all(x is y for x, y in zip(canonicalize_many(tree), poly)) and len(tree) == len(poly):
        return "identical"
    syms = sorted(sn.free_symbols(list(poly) + list(tree)), key=str)
    rng = np.random.default_rng(0)
    env = {s: rng.uniform(0.5, 1.5, 8) for s in syms}
    got, want = sn.evaluate(list(tree), env), sn.evaluate(list(poly), env)
    ok = all(np.allclose(g, w, rtol=1e-9, atol=1e-9) for g, w in zip(got, want))
    return "equal at random points" if ok else "DIFFERENT"


def run(workload, reps: int, tree_budget_s: float = 30.0) -> list[Any]:
    label, poly_stages, tree_stages, check = workload
    p = measure_pipeline(poly_stages, reps)
    p_build, p_total = p[0], p[-1]
    p_work = p[1].median if len(poly_stages) > 1 else None
    t_build, t_work, t_total = measure_pipeline(tree_stages, reps, budget_s=tree_budget_s)
    verdict = check(p_total.result, t_work.result)
    return [label, fmt_time(p_build.median), fmt_time(p_work), fmt_time(p_total.median),
            fmt_time(t_build.median), fmt_time(t_work.median), fmt_time(t_total.median),
            fmt_ratio(t_total.median / p_total.median), verdict]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke run)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per workload (default 5)")
    args = ap.parse_args(argv)
    reps = args.repeats or (1 if args.quick else 5)
    # the tree side grows steeply: k = 8 takes ~500 s on a 2-core EPYC, so stop at 6
    ks = (2, 3) if args.quick else (2, 3, 4, 5, 6)
    n = 8 if args.quick else 32
    workloads: list[Callable[[], Any]] = [lambda k=k: expand_power(k) for k in ks]
    workloads += [lambda: brusselator(n, simplify=False), lambda: brusselator(n, simplify=True)]

    print(machine_info())
    print(f"\nmedian of up to {reps} runs; ratio = tree total / polyforms total\n")
    rows = [run(w(), reps) for w in workloads]
    print(table(["workload", "poly build", "poly expand/simplify", "poly total", "tree build",
                 "tree rules", "tree total", "ratio", "same result"], rows))
    bad = [r[0] for r in rows if r[-1] == "DIFFERENT"]
    if bad:
        print(f"\nresults differ for: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
