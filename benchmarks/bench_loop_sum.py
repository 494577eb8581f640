"""The Python-loop sum and product (issue 12: 10⁴ symbols ≤ 20 ms, 10⁶ ≤ 2 s), side by side with
another checkout of symnum (e.g. /work/main, or an older commit exported with `git archive`).

Each measurement is a fresh process (best of `--repeat` CPU times, time.process_time) and the
two trees' processes alternate, round by round, so that a shared machine's load falls on both
alike; the table gives both times, their ratio and the load average at that moment. The deep
chain e = sin(e)·0.5 + 0.1 (100,000 steps) is timed too: it builds forms through the same
interning.

    python benchmarks/bench_loop_sum.py --base /work/main [--rounds 3] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from _common import ROOT, machine_info

# the timing loop of every fresh-process worker here and in bench_merge_reads
BEST_OF = r"""
best = 1e9
for _ in range(rep):  # `best`: the least CPU time of `rep` runs, each after a collection
    e = None
    gc.collect()
    t = time.process_time()
    e = run()
    best = min(best, time.process_time() - t)
"""

WORKER = r"""
import gc, sys, time
import symnum as sn
n, rep, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
syms = sn.symbols([f"s{i}" for i in range(n)])
def run():
    if kind == "chain":
        e = syms[0]
        for _ in range(n):
            e = sn.sin(e) * 0.5 + 0.1
        return e
    e = 0 if kind == "sum" else 1
    if kind == "sum":
        for s in syms:
            e = e + s
    else:
        for s in syms:
            e = e * s
    return e
""" + BEST_OF + r"""
print(best, sn.__file__)
"""


def in_tree(tree: Path | None, worker: str, *args: object) -> list[str]:
    """The words `worker` prints when run with `args` in a fresh process importing the symnum of
    `tree` (this checkout when None); its last word must be the imported symnum's path."""
    env = dict(os.environ)
    if tree is not None:  # the other checkout's symnum first on the path
        env["PYTHONPATH"] = str(tree)
    out = subprocess.run([sys.executable, "-c", worker, *map(str, args)], env=env,
                         capture_output=True, text=True, check=True, cwd="/").stdout.split()
    want = str((tree or ROOT) / "symnum")
    if not out[-1].startswith(want):
        raise SystemExit(f"imported {out[-1]}, wanted the symnum under {want}")
    return out


def one(tree: Path | None, n: int, repeat: int, kind: str) -> float:
    return float(in_tree(tree, WORKER, n, repeat, kind)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="the other checkout's root")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="10⁴ only")
    a = ap.parse_args()
    print(machine_info())
    print(f"\nthis tree: {ROOT}   base: {a.base}\n")
    print("| workload | round | base s | this s | this / base | load (1 min) |")
    print("| --- | --- | --- | --- | --- | --- |")
    cases = [("sum", 10**4), ("product", 10**4)]
    if not a.quick:
        cases += [("sum", 10**6), ("product", 10**6), ("chain", 10**5)]
    for kind, n in cases:
        rep = a.repeat if kind != "chain" else 1
        for r in range(a.rounds):
            pair = [("base", a.base), ("this", None)]
            t = {}
            for label, tree in (pair if r % 2 == 0 else pair[::-1]):
                t[label] = one(tree, n, rep, kind)
            load = os.getloadavg()[0]
            print(f"| {kind}, n = {n:,} | {r + 1} | {t['base']:.4f} | {t['this']:.4f} | "
                  f"{t['this'] / t['base']:.3f} | {load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
