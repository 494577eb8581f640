"""Compile latency of the llvm backend where it hurts: the first compile in a fresh process
(what the wall time goes to, stage by stage), and a ~200-operation graph cold (empty cache) and
warm (disk-cache hit through the Fn-level index), in CPU and wall time.

    python benchmarks/bench_first_compile.py [--runs N]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import machine_info, table

STAGES = r"""
import json, time
T = [("start", time.perf_counter())]
def mark(n): T.append((n, time.perf_counter()))
import numpy as np; mark("import numpy")
import symnum as sn; mark("import symnum")
from symnum.backends import llvm_backend as lb; mark("import the llvm backend")
import llvmlite.binding; mark("import llvmlite.binding (loads libLLVM)")
lb._llvm(); mark("LLVM init, host target, ORC JIT")
lb._trampolines("float64"); mark("call trampolines (cached object, link)")
x, y = sn.symbols("x y")
fn = sn.Fn([x, y], [sn.sin(x) * y + x * x])
c = lb.lower(fn, cache=False); mark("lower() of a 4-op kernel (codegen)")
c(1.0, 2.0); mark("first call")
print(json.dumps([(n, t1 - t0) for (_, t0), (n, t1) in zip(T, T[1:])]))
"""


def first_compile(runs: int) -> None:
    got: dict[str, list[float]] = {}
    for _ in range(runs):
        r = subprocess.run([sys.executable, "-c", STAGES], capture_output=True, text=True,
                           check=True)
        for name, dt in json.loads(r.stdout.strip().splitlines()[-1]):
            got.setdefault(name, []).append(dt)
    rows = [[name, f"{statistics.median(v) * 1e3:.1f} ms"] for name, v in got.items()]
    after = [v for k, v in got.items() if k not in ("import numpy", "import symnum")]
    total = statistics.median([sum(z) for z in zip(*after)])
    rows.append(["**first compile after `import symnum`** (sum of the rest)",
                 f"**{total * 1e3:.1f} ms**"])
    print(f"### First compile in a fresh process (wall, median of {runs} processes)\n")
    print(table(["stage", "wall"], rows))
    print()


def cold_warm(runs: int) -> None:
    from bench_compile_latency import random_graph
    from symnum.backends import llvm_tier, lower

    fn = random_graph(200)
    lower(random_graph(5, seed=9), "llvm", cache=False)(*np.zeros(8))  # process set-up

    def measure(work):  # (median CPU, median thread CPU, median wall, last result)
        cpu, thread, wall, res = [], [], [], None
        for _ in range(runs):
            gc.collect()
            c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
            res = work()
            cpu.append(time.process_time() - c0)
            thread.append(time.thread_time() - t0)
            wall.append(time.perf_counter() - w0)
            llvm_tier.drain()  # a tiered compile's opt=1 build: not in the next run's figures
        return (statistics.median(cpu), statistics.median(thread), statistics.median(wall),
                res)

    dirs: list[str] = []

    def cold():
        dirs.append(tempfile.mkdtemp(prefix="symnum-bench-"))
        return lower(fn, "llvm", cache_dir=dirs[-1])

    def cold_plain():
        dirs.append(tempfile.mkdtemp(prefix="symnum-bench-"))
        return lower(fn, "llvm", cache_dir=dirs[-1], tier=False)

    rows = []
    for label, work in (("cold (empty cache), default: tiered (opt=0 now, opt=1 swapped in)",
                         cold),
                        ("warm (index + object hit)", lambda: lower(fn, "llvm",
                                                                     cache_dir=dirs[-1])),
                        ("cold (empty cache), tier=False: one opt=1 compile", cold_plain),
                        ("cold, opt=0", lambda: lower(fn, "llvm", cache=False, opt=0))):
        cpu, thread, wall, k = measure(work)
        parts = ", ".join(f"{p.split('_')[0]} {k.info[p] * 1e3:.2f}" for p in
                          ("schedule_seconds", "emit_seconds", "codegen_seconds",
                           "load_seconds"))
        rows.append([label, f"{k.info['statements']}", f"{cpu * 1e3:.2f} ms",
                     f"{thread * 1e3:.2f} ms", f"{wall * 1e3:.2f} ms", parts + " ms"])
    print(f"### ~200 operations (random_graph(200)), median of {runs}\n")
    print(table(["compile", "statements", "process CPU", "caller's thread CPU", "wall",
                 "last run's parts (wall)"], rows))
    print("\n(tiered: the process CPU column counts the background opt=1 compile only where it "
          "overlapped the call; benchmarks/bench_tier.py has the total)")
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args(argv)
    print(machine_info() + "\n")
    first_compile(args.runs)
    cold_warm(2 * args.runs + 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
