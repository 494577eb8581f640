"""The merge policy's remaining cases (issue 12): loops whose step reads the sum it extends
(`x = x + sin(x)`, `x = x + h·sin(2·x)`) and loop sums of call terms that do not (`e = e +
sin(s)`, `e = e + sin(2·s)`, which pass Add.__add__'s O(1) screen), side by side with another
checkout of symnum (e.g. one exported with `git archive`).

Each measurement is a fresh process (best of `--repeat` CPU times, time.process_time); the two
trees' processes alternate round by round so that a shared machine's load falls on both. For
the Euler loops the table also gives the statements a lowering would emit (an n-ary node of k
arguments counts k - 1): linear in the steps with the policy, quadratic without.

    python benchmarks/bench_merge_reads.py --base /tmp/base [--rounds 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from _common import ROOT, machine_info

WORKER = r"""
import gc, sys, time
import symnum as sn
from symnum.core.traversal import arguments, iscall, postorder
n, rep, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
syms = sn.symbols([f"s{i}" for i in range(n)])
STEP = {"x+sin(x)": lambda x: x + sn.sin(x), "x+h*sin(2x)": lambda x: x + 1e-3 * sn.sin(2 * x),
        "x+h*sin(x+1)": lambda x: x + 1e-3 * sn.sin(x + 1)}
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
best = 1e9
for _ in range(rep):
    gc.collect()
    t = time.process_time()
    e = run()
    best = min(best, time.process_time() - t)
size = sum(max(1, len(arguments(m)) - 1) for m in postorder([e]) if iscall(m))
print(best, size, sn.__file__)
"""


def one(tree: Path | None, n: int, repeat: int, kind: str) -> tuple[float, int]:
    env = dict(os.environ)
    if tree is not None:  # the other checkout's symnum first on the path
        env["PYTHONPATH"] = str(tree)
    out = subprocess.run([sys.executable, "-c", WORKER, str(n), str(repeat), kind], env=env,
                         capture_output=True, text=True, check=True, cwd="/").stdout.split()
    want = str((tree or ROOT) / "symnum")
    if not out[2].startswith(want):
        raise SystemExit(f"imported {out[2]}, wanted the symnum under {want}")
    return float(out[0]), int(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="the other checkout's root")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(machine_info())
    print(f"\nthis tree: {ROOT}   base: {a.base}\n")
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
