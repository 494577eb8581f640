"""The merge policy's remaining cases (issue 12): loops whose step reads the sum it extends
(`x = x + sin(x)`, `x = x + h·sin(2·x)`) and loop sums of call terms that do not (`e = e +
sin(s)`, `e = e + sin(2·s)`, which pass Add.__add__'s O(1) screen), side by side with another
checkout of symnum (e.g. one exported with `git archive`).

Each measurement is a fresh process (best of `--repeat` CPU times, time.process_time); the two
trees' processes alternate round by round so that a shared machine's load falls on both. For
the Euler loops the table also gives the statements a lowering would emit (an n-ary node of k
arguments counts k - 1): linear in the steps with the policy, quadratic without.

    python benchmarks/bench_merge_reads.py --base /tmp/base [--rounds 3] [--repeat 3]
    python benchmarks/bench_merge_reads.py --depth   (statements at 50/100/150 steps, this tree)
    python benchmarks/bench_merge_reads.py --base /tmp/base --loops [--steps 2 20 200 2000]

`--loops` (session 5): the loops whose step reads its state two levels down
(`x = x + h·sin(2·sin(2·x))`) and the running products that read themselves (`p = p·sin(p)`,
`p = p·(1 + h·cos(p))`) at each step count, both trees, build time and statements.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from _common import ROOT, machine_info
from bench_loop_sum import BEST_OF, in_tree

WORKER = r"""
import gc, sys, time
import symnum as sn
from symnum.core.traversal import arguments, iscall, postorder
n, rep, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
syms = sn.symbols([f"s{i}" for i in range(n)])
h = 1e-3
STEP = {"x+sin(x)": lambda x: x + sn.sin(x), "x+h*sin(2x)": lambda x: x + h * sn.sin(2 * x),
        "x+h*sin(x+1)": lambda x: x + h * sn.sin(x + 1),
        "x+h*sin(2sin(2x))": lambda x: x + h * sn.sin(2 * sn.sin(2 * x)),
        "x+h*sin(sin(x)+1)": lambda x: x + h * sn.sin(sn.sin(x) + 1),
        "p*sin(p)": lambda p: p * sn.sin(p), "p*(1+h*cos(p))": lambda p: p * (1 + h * sn.cos(p)),
        "p*(1+h*p)": lambda p: p * (1 + h * p)}
if kind in STEP:
    terms = None
else:
    terms = [sn.sin(s) for s in syms] if kind == "sum sin(s)" else [sn.sin(2 * s) for s in syms]
def run():
    if terms is None:
        x, step = sn.Sym("x"), STEP[kind]
        for _ in range(n):
            x = step(x)
        return x
    e = 0
    for t in terms:
        e = e + t
    return e
""" + BEST_OF + r"""
size = sum(max(1, len(arguments(m)) - 1) for m in postorder([e]) if iscall(m))
print(best, size, sn.__file__)
"""


def one(tree: Path | None, n: int, repeat: int, kind: str) -> tuple[float, int]:
    out = in_tree(tree, WORKER, n, repeat, kind)
    return float(out[0]), int(out[1])


DEPTH = {  # how deep the step reads the state x, and whether the policy sees it
    "x + h*sin(2x) (one level below the argument)": "x + 1e-3 * sn.sin(2 * x)",
    "x + h*sin(x)**2 (a base reads x)": "x + 1e-3 * sn.sin(x) ** 2",
    "x + h*sin(2*sin(2x)) (two levels)": "x + 1e-3 * sn.sin(2 * sn.sin(2 * x))",
    "x + h*sin(sin(x) + 1) (two levels)": "x + 1e-3 * sn.sin(sn.sin(x) + 1)",
}


def depth() -> None:
    import symnum as sn
    from symnum.core.traversal import arguments, iscall, postorder

    print("| step | statements at 50 / 100 / 150 steps |\n| --- | --- |")
    for name, src in DEPTH.items():
        row = []
        for n in (50, 100, 150):
            x = sn.Sym("x")
            for _ in range(n):
                x = eval(src, {"sn": sn, "x": x})
            row.append(sum(max(1, len(arguments(m)) - 1) for m in postorder([x]) if iscall(m)))
        print(f"| {name} | {' / '.join(f'{v:,}' for v in row)} |")


LOOPS = ["x+h*sin(2sin(2x))", "x+h*sin(sin(x)+1)", "p*sin(p)", "p*(1+h*cos(p))", "p*(1+h*p)"]


def loops(base: Path, steps: list, repeat: int) -> None:
    """Build time (CPU s, best of `repeat`, fresh processes, the trees alternating) and
    statements of the LOOPS at each step count."""
    print("| loop | steps | base s | this s | this / base | base statements | this statements "
          "| load (1 min) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in LOOPS:
        for i, n in enumerate(steps):
            pair = [("base", base), ("this", None)]
            t = {label: one(tree, n, repeat, kind)
                 for label, tree in (pair if i % 2 == 0 else pair[::-1])}
            print(f"| `{kind}` | {n:,} | {t['base'][0]:.4f} | {t['this'][0]:.4f} | "
                  f"{t['this'][0] / max(t['base'][0], 1e-9):.2f} | {t['base'][1]:,} | "
                  f"{t['this'][1]:,} | {os.getloadavg()[0]:.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, help="the other checkout's root")
    ap.add_argument("--depth", action="store_true", help="only the depth table, this tree")
    ap.add_argument("--loops", action="store_true", help="the session-5 table (LOOPS)")
    ap.add_argument("--steps", type=int, nargs="*", default=[2, 20, 200, 2000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if a.depth:
        return depth()
    if a.base is None:
        ap.error("--base is required (or --depth)")
    print(machine_info())
    print(f"\nthis tree: {ROOT}   base: {a.base}\n")
    if a.loops:
        return loops(a.base, a.steps, a.repeat)
    print("| workload | round | base s | this s | this / base | base statements | "
          "this statements | load (1 min) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    cases = [("sum sin(s)", 10**5), ("sum sin(2s)", 10**5)]
    cases += [(k, n) for k in ("x+sin(x)", "x+h*sin(2x)", "x+h*sin(x+1)") for n in (1000, 2000)]
    for kind, n in cases:
        for r in range(a.rounds):
            pair = [("base", a.base), ("this", None)]
            t = {}
            for label, tree in (pair if r % 2 == 0 else pair[::-1]):
                t[label] = one(tree, n, a.repeat, kind)
            load = os.getloadavg()[0]
            print(f"| {kind}, n = {n:,} | {r + 1} | {t['base'][0]:.4f} | {t['this'][0]:.4f} | "
                  f"{t['this'][0] / t['base'][0]:.3f} | {t['base'][1]:,} | {t['this'][1]:,} | "
                  f"{load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
