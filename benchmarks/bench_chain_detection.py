"""The cost of the chain-roll detection (backends/reroll_chain.py) on bench_reroll's workloads,
none of which holds a chain: cold llvm builds (disk cache off) with an older reroll_chain.py
(`--before`, e.g. `git show 0c86d27:backends/reroll_chain.py > /tmp/old_reroll_chain.py`) and
with this tree's, interleaved in one process, and the detection's own CPU time inside them.

    python benchmarks/bench_chain_detection.py --before /tmp/old_reroll_chain.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time

import bench_reroll
from _common import machine_info
from symnum.backends import reroll_chain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="an older backends/reroll_chain.py")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("symnum.backends._old_reroll_chain", a.before)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    impl = {"before": old.roll_chains, "after": reroll_chain.roll_chains}
    spent: list[float] = []

    def timed(f):
        def g(*args, **kw):
            t = time.process_time()
            r = f(*args, **kw)
            spent.append(time.process_time() - t)
            return r
        return g

    print(machine_info())
    print("\n| workload | build before s (min / median) | build after s (min / median) | "
          "detection before ms (median) | detection after ms (median) | chains before / after |")
    print("| --- | --- | --- | --- | --- | --- |")
    md = statistics.median
    try:
        for name, outputs, inputs, *_ in bench_reroll.workloads(a.quick):
            build = {k: [] for k in impl}
            det = {k: [] for k in impl}
            found = {}
            for r in range(a.rounds):
                for label in (("before", "after") if r % 2 == 0 else ("after", "before")):
                    reroll_chain.roll_chains = timed(impl[label])  # what roll_for calls
                    spent.clear()
                    _, cpu, built = bench_reroll._build(outputs, inputs, True)
                    build[label].append(cpu)
                    det[label].append(sum(spent))
                    comp = bench_reroll._kernel(built)[1]
                    found[label] = len((comp.info.get("rolled") or {}).get("chains", []))
            print(f"| {name} | {min(build['before']):.3f} / {md(build['before']):.3f} | "
                  f"{min(build['after']):.3f} / {md(build['after']):.3f} | "
                  f"{md(det['before']) * 1e3:.1f} | {md(det['after']) * 1e3:.1f} | "
                  f"{found['before']} / {found['after']} |", flush=True)
    finally:
        reroll_chain.roll_chains = impl["after"]


if __name__ == "__main__":
    main()
