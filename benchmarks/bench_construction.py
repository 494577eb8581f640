"""Construction and walks that must stay linear (issue 12, item 3): a Python-loop sum, and a deep
chain e = sin(e)·0.5 + 0.1 through build, evaluate, print, diff and compile.

Goals: a loop sum of 10⁴ symbols ≤ 20 ms and of 10⁶ ≤ 2 s; a 100,000-deep chain ≤ 2 s for each
stage. Times are CPU seconds of this process (time.process_time), the best of `--repeat` runs,
so that other jobs on a shared machine disturb them less than wall time would.

    python benchmarks/bench_construction.py [--quick] [--repeat N] [--no-compile] [--compile-deep]

Compiles go to a fresh cache folder (a cached kernel would time a file read); the 100,000-deep
chain is compiled only with --compile-deep (about 4 s of CPU: its 300,000 statements are
scheduled, then re-rolled into one loop by backends/reroll_chain.py; straight-line, with
reroll=False, it took 11 s).
"""

from __future__ import annotations

import argparse
import gc
import math
import tempfile
import time

from _common import machine_info

import symnum as sn


def cpu(f, repeat: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        out = None
        gc.collect()
        t0 = time.process_time()
        out = f()
        best = min(best, time.process_time() - t0)
    return best, out


def loop_sum(n: int, repeat: int) -> None:
    syms = sn.symbols([f"s{i}" for i in range(n)])

    def run():
        e = 0
        for s in syms:
            e = e + s
        return e

    t, e = cpu(run, repeat)
    assert len(e.terms) == n
    print(f"| loop sum, n = {n:>9,} | {t * 1e3:10.1f} ms | {t / n * 1e6:6.2f} µs per term |")


def chain_of(x, n: int):
    """The deep chain e = sin(e)·0.5 + 0.1, n steps from x (bench_reroll_chain builds it too)."""
    e = x
    for _ in range(n):
        e = sn.sin(e) * 0.5 + 0.1
    return e


def chain(n: int, repeat: int, compile_too: bool) -> None:
    x = sn.Sym("x")
    t_build, e = cpu(lambda: chain_of(x, n), repeat)
    v = 0.3
    for _ in range(n):
        v = math.sin(v) * 0.5 + 0.1
    t_eval, got = cpu(lambda: sn.evaluate(e, {x: 0.3}), repeat)
    assert abs(float(got) - v) < 1e-12
    t_print, text = cpu(lambda: str(e), repeat)
    t_diff, _ = cpu(lambda: sn.diff(e, x), repeat)
    cells = [f"{t_build:.3f}", f"{t_eval:.3f}", f"{t_print:.3f}", f"{t_diff:.3f}"]
    if compile_too:
        t_comp, k = cpu(lambda: sn.build_function(e, x, backend="llvm",
                                                  cache_dir=tempfile.mkdtemp()), 1)
        assert abs(float(k(0.3)) - v) < 1e-12
        cells.append(f"{t_comp:.3f}")
    else:
        cells.append("-")
    print(f"| chain, depth {n:>7,} | " + " | ".join(cells) + f" | {len(text):,} chars |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-compile", action="store_true", help="skip compiling the chains")
    ap.add_argument("--compile-deep", action="store_true",
                    help="compile the 100,000-deep chain too")
    a = ap.parse_args()
    repeat = 1 if a.quick else a.repeat
    print(machine_info())
    print("\n| workload | CPU time | per term |\n| --- | --- | --- |")
    for n in ([10**3, 10**4] if a.quick else [10**3, 10**4, 10**5, 10**6]):
        loop_sum(n, repeat if n < 10**6 else 1)
    print("\n| workload | build s | evaluate s | print s | diff s | compile (llvm) s | text |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in ([10**3, 10**4] if a.quick else [10**3, 10**4, 10**5]):
        chain(n, repeat if n < 10**5 else 1,
              not a.no_compile and (n <= 10**4 or a.compile_deep))


if __name__ == "__main__":
    main()
