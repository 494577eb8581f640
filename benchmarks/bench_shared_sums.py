"""Python-loop integrators whose state sum is read twice a step (issue 12): statements and
build time with the schedule's shared-prefix lowering (backends.schedule.lower_grown_add) and
without it (PREFIX_MIN raised past every sum: each sum lowered from scratch), side by side.

Loops: the damped oscillator `x, v = x + h·v, v − h·(k·x + c·v)` (x is read by `k·x` and
extended by `h·v`) and `x = x + h·sin(x + a)` (x is extended twice: by `a` inside the sine and by
the step). Columns: construction CPU time, scheduled statements both ways, and the llvm
build_function CPU time (cold, no disk cache) of the new lowering.

    python benchmarks/bench_shared_sums.py [--steps 100 400 1000 4000] [--old-max 1000]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time

from _common import machine_info, table
from symnum.backends import schedule as S

import symnum as sn

a, c, h, k, x0, v0 = sn.symbols("a c h k x0 v0")
INPUTS = [a, c, h, k, x0, v0]


def damped(steps: int):
    x, v = x0, v0
    for _ in range(steps):
        x, v = x + h * v, v - h * (k * x + c * v)
    return x


def sine_shift(steps: int):
    x = x0
    for _ in range(steps):
        x = x + h * sn.sin(x + a)
    return x


def cpu(f, *args, **kw):
    gc.collect()
    t = time.process_time()
    out = f(*args, **kw)
    return time.process_time() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[100, 400, 1000, 4000])
    ap.add_argument("--old-max", type=int, default=1000,
                    help="largest step count scheduled the old way (it is quadratic)")
    args = ap.parse_args()
    print(machine_info())
    rows = []
    for f in (damped, sine_shift):
        for n in args.steps:
            t_build, e = cpu(f, n)
            t_new, new = cpu(S.schedule, INPUTS, [e])
            old = t_old = None
            if n <= args.old_max:
                keep, S.PREFIX_MIN = S.PREFIX_MIN, 1 << 62
                try:
                    t_old, old = cpu(S.schedule, INPUTS, [e])
                finally:
                    S.PREFIX_MIN = keep
            t_comp, _ = cpu(sn.build_function, [e], *INPUTS, backend="llvm",
                              cache_dir=tempfile.mkdtemp())
            rows.append([f.__name__, f"{n:,}", f"{t_build:.3f}",
                         f"{len(old):,}" if old is not None else "-",
                         f"{t_old:.2f}" if t_old is not None else "-",
                         f"{len(new):,}", f"{t_new:.3f}", f"{t_comp:.2f}"])
            print(rows[-1], flush=True)
    print()
    print(table(["loop", "steps", "construction s", "statements, from scratch",
                 "schedule s, from scratch", "statements, shared prefix",
                 "schedule s, shared prefix", "llvm build_function s"], rows))


if __name__ == "__main__":
    main()
