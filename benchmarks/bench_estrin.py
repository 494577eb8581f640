"""When does a dependency chain cost its latency? Horner vs Estrin forms of one polynomial,
single and iterated (p(p(…p(x))): one long chain per point), compiled by the llvm backend
(one thread; the SIMD row loop by default, and the scalar loop with --no-simd rows), timed
interleaved by the thread's CPU clock (median). The measurement behind the critical-path cost
model (rewrites/costs.py CRITICAL; results_issue16.md §5.1).

    python benchmarks/bench_estrin.py [--rounds 11]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import fmt_ratio, machine_info, table
from bench_egraph import one_thread, time_side_by_side
from symnum.rewrites.estrin import estrin_form
from symnum.rewrites.horner import horner_form

import symnum as sn
from symnum.core.traversal import substitute


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=11)
    a = ap.parse_args()
    print(machine_info())
    x = sn.Sym("x")
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (4096, 1))
    rows = []
    for deg, times in ((8, 1), (12, 1), (16, 1), (24, 1), (8, 6), (12, 4), (12, 8), (16, 4)):
        c = rng.uniform(-1, 1, deg + 1)
        c /= np.abs(c).sum()
        p = sum(float(c[k]) * x**k for k in range(deg + 1))
        forms = {}
        for name, f in (("horner", horner_form(p)), ("estrin", estrin_form(p))):
            y = x
            for _ in range(times):
                y = substitute(f, {x: y})
            forms[name] = y
        ks = {k: one_thread(sn.Fn([x], [v]), "llvm") for k, v in forms.items()}
        ks.update({k + " scalar": sn.backends.lower(sn.Fn([x], [v]), "llvm", parallel=False,
                                                    simd=False) for k, v in forms.items()})
        t, o = time_side_by_side(ks, X, a.rounds, clock=time.thread_time)
        assert np.allclose(o["horner"], o["estrin"], rtol=1e-12, atol=1e-14)
        rows.append([deg, times, f"{t['horner'] * 1e9:.2f} ns", f"{t['estrin'] * 1e9:.2f} ns",
                     fmt_ratio(t["horner"] / t["estrin"]),
                     f"{t['horner scalar'] * 1e9:.2f} ns", f"{t['estrin scalar'] * 1e9:.2f} ns",
                     fmt_ratio(t["horner scalar"] / t["estrin scalar"])])
        print(rows[-1], flush=True)
    print(table(["degree", "iterated", "Horner (SIMD loop)", "Estrin (SIMD loop)",
                 "Estrin speed-up", "Horner (scalar loop)", "Estrin (scalar loop)",
                 "Estrin speed-up"], rows))


if __name__ == "__main__":
    main()
