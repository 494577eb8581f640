"""Cheap-gradient ratio of cummax / cummin programs (issue 11): gradient call / value call.

f(u) = Σ acc(u)² with acc = np.maximum.accumulate (cummax) or np.minimum.accumulate (cummin),
traced in array mode, its value and its reverse-mode gradient (`grad_fn`) each lowered with the
default backend (llvm loops) and timed per call (public callables, batches interleaved ABAB…).
With `--before REV` the rule of git revision REV (symnum/autodiff/array_scan_rules.py, e.g. the
log₂ n Hillis–Steele selection) is loaded from git and patched in for a second gradient column,
so both rules run side by side in one process. Every gradient is checked against central
differences (and the old one against the new) before a figure is printed. The goal is ≤ 4.

`--no-arena` lowers with scratch=False (temporaries malloc'd and freed per call, as before issue
11's session 4) for a before/after run in separate processes (glibc's heap state is per process).

    python benchmarks/bench_cummax_gradient.py [--quick] [--before REV] [--sizes N ...]
                                               [--no-arena]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import time
import types

import numpy as np
from _common import ROOT, fmt_ratio, fmt_time, machine_info, table

import symnum as sn
import symnum.autodiff.array_rules as array_rules
from symnum.autodiff.array_ad import grad_fn
from symnum.compile import lower

SIZES = (1_000, 10_000, 100_000, 1_000_000)
ACC = {"cummax": np.maximum.accumulate, "cummin": np.minimum.accumulate}


def old_rules(rev: str) -> types.ModuleType:
    """The scan rules module as it was at git revision `rev` (not installed: executed here)."""
    src = subprocess.run(["git", "show", f"{rev}:symnum/autodiff/array_scan_rules.py"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    mod = types.ModuleType(f"array_scan_rules@{rev}")
    exec(compile(src, mod.__name__, "exec"), mod.__dict__)
    return mod


def gradient(fn, vjp=None):
    """grad_fn of fn, with `vjp` standing in for the scan VJP while it is built."""
    keep = array_rules.scan_vjp
    if vjp is not None:
        array_rules.scan_vjp = vjp
    try:
        return grad_fn(fn)
    finally:
        array_rules.scan_vjp = keep


def fd_check(f, g: np.ndarray, x: np.ndarray, rng) -> float:
    """max relative error against central differences at 3 records (non-zero entries) and 3
    random coordinates."""
    hits = np.flatnonzero(g)
    coords = np.concatenate([rng.choice(hits, size=min(hits.size, 3), replace=False),
                             rng.choice(x.size, size=min(x.size, 3), replace=False)])
    errs = []
    h = 1e-4  # f is piecewise quadratic: central differences are exact but for rounding, which
    # at n = 10⁶ (f ≈ 10⁷) is 1e-16·f/h
    for i in coords:
        e = np.zeros_like(x)
        e[i] = h
        fd = (f(x + e) - f(x - e)) / (2 * h)
        errs.append(abs(fd - g[i]) / max(1.0, abs(fd)))
    return max(errs)


def interleaved(fs: list, x: np.ndarray, target_s: float = 0.3, batches: int = 9) -> list:
    """[(wall s, CPU s, minor page faults) per call] of each f(x), medians over batches run
    ABAB… CPU time (user + system of this process) is what a loaded machine does not inflate:
    the wall clock also counts the time other jobs hold the cores."""
    ks = []
    for f in fs:
        f(x)
        t0 = time.perf_counter()
        f(x)
        ks.append(max(1, int(target_s / batches / len(fs) / max(time.perf_counter() - t0,
                                                                   1e-7))))
    runs: list[list[tuple]] = [[] for _ in fs]
    for _ in range(batches):
        for j, f in enumerate(fs):
            r0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), \
                time.perf_counter()
            for _ in range(ks[j]):
                f(x)
            t1, c1, r1 = time.perf_counter(), time.process_time(), \
                resource.getrusage(resource.RUSAGE_SELF)
            runs[j].append(((t1 - t0) / ks[j], (c1 - c0) / ks[j],
                            (r1.ru_minflt - r0.ru_minflt) / ks[j]))
    return [tuple(statistics.median(r[i] for r in rs) for i in range(3)) for rs in runs]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n ≤ 10,000")
    ap.add_argument("--before", default=None, help="git revision of the old rule to compare")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="n values to run")
    ap.add_argument("--no-arena", action="store_true", help="malloc temporaries per call")
    a = ap.parse_args(argv)
    old = old_rules(a.before) if a.before else None
    print(machine_info())
    opts = {"scratch": False} if a.no_arena else {}
    rows = []
    for name, acc in ACC.items():
        for n in a.sizes or (SIZES[:2] if a.quick else SIZES):
            def f(u, acc=acc):
                return np.sum(acc(u) ** 2)

            rng = np.random.default_rng(5)
            x = rng.standard_normal(n)
            fn = sn.trace(f, np.zeros(n), mode="array")
            val, g = lower(fn, **opts), lower(gradient(fn), **opts)
            gx = g(x)
            assert abs(val(x) - f(x)) <= 1e-9 * abs(f(x)), name
            err = fd_check(f, gx, x, rng)
            assert err < 1e-4, (name, n, err)
            ks = [val, g]
            if old is not None:
                g_old = lower(gradient(fn, old.scan_vjp), **opts)
                np.testing.assert_allclose(g_old(x), gx, rtol=1e-9, atol=1e-12)  # sums
                # of up to n terms, added in another order
                ks.append(g_old)
            ts = interleaved(ks, x)
            (wv, cv, _), (wg, cg, fg) = ts[:2]
            row = [name, f"{n:,}", fmt_time(wv), fmt_time(wg), fmt_ratio(wg / wv),
                   fmt_time(cv), fmt_time(cg), fmt_ratio(cg / cv), f"{fg:.0f}"]
            if old is not None:
                wo, co, _ = ts[2]
                row += [fmt_time(wo), fmt_ratio(wo / wv), fmt_ratio(co / cv)]
            rows.append(row + [f"{err:.0e}"])
    head = ["program", "n", "value (wall)", "grad (wall)", "grad/value (wall)",
            "value (CPU)", "grad (CPU)", "grad/value (CPU)", "grad page faults"]
    if old is not None:
        head += [f"grad before ({a.before}, wall)", "before: grad/value (wall)",
                 "before: (CPU)"]
    print(table(head + ["FD rel. error"], rows))
    print("\nf(u) = sum(acc(u)**2), u ~ N(0, 1); per call of the public callables lowered with "
          "the default backend (llvm loops); medians of 9 interleaved batches; wall = "
          "perf_counter, CPU = process_time (user + system), page faults = minor faults per "
          "gradient call. Goal: grad/value ≤ 4.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
