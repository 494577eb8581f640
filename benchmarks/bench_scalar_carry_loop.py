"""A loop with a scalar carry inside a large array program: sn.grad (mode="auto") before and
after scalar-carry loops became array loops in array traces.

"before" emulates the old path in the same checkout: the loop is built as a scalar loop node
(symnum.loops.api reads no tracer mode), array AD has no rule for it, and grad falls back to
scalarising the whole program (ScalarFallbackWarning). Each mode runs in its own process with
an empty kernel cache, so the first call includes trace, AD and compile.

    .venv/bin/python benchmarks/bench_scalar_carry_loop.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

N, CALLS = 20000, 20


def run(mode: str) -> None:
    import symnum as sn
    import symnum.loops.api as api

    if mode == "before":
        api.current_mode = lambda: None
    warnings.simplefilter("ignore")

    def f(x, a):
        s = sn.fori_loop(0, 5, lambda i, v: sn.sin(v) * a + 1, a)
        return s * np.sum(x ** 2)

    x = np.linspace(0.0, 1.0, N)
    g = sn.grad(f, argnums=(0, 1))
    t = time.perf_counter()
    g(x, 0.3)
    first = time.perf_counter() - t
    ts = []
    for _ in range(CALLS):
        t = time.perf_counter()
        g(x, 0.3)
        ts.append(time.perf_counter() - t)
    print(f"{mode} {first:.3f} {np.median(ts) * 1e6:.1f}")


def main() -> None:
    rows = {}
    for mode in ("before", "after"):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, XDG_CACHE_HOME=d)
            out = subprocess.run([sys.executable, __file__, mode], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            rows[mode] = (float(out[1]), float(out[2]))
    print(f"grad of a 5-step scalar fori_loop times sum(x**2), x of {N} elements "
          f"(first call: trace + AD + compile; then median of {CALLS} calls)")
    for mode, (first, call) in rows.items():
        print(f"  {mode:6s} first call {first:7.3f} s   call {call:8.1f} us")
    b, a = rows["before"], rows["after"]
    print(f"  ratio before/after: first call {b[0] / a[0]:.1f}x, call {b[1] / a[1]:.2f}x")


if __name__ == "__main__":
    run(sys.argv[1]) if len(sys.argv) > 1 else main()
