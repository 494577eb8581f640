"""Cheap-gradient ratio of cummax / cummin programs (issue 11): gradient call / value call.

f(u) = Σ acc(u)² with acc = np.maximum.accumulate (cummax) or np.minimum.accumulate (cummin),
traced in array mode, its value and its reverse-mode gradient (`grad_fn`) each lowered with the
default backend (llvm loops) and timed per call (public callables, batches interleaved ABAB…).
With `--before REV` the rule of git revision REV (symnum/autodiff/array_scan_rules.py, e.g. the
log₂ n Hillis–Steele selection) is loaded from git and patched in for a second gradient column,
so both rules run side by side in one process. Every gradient is checked against central
differences (and the old one against the new) before a figure is printed. The goal is ≤ 4.

    python benchmarks/bench_cummax_gradient.py [--quick] [--before REV]
"""

from __future__ import annotations

import argparse
import subprocess
import types

import numpy as np
from _common import ROOT, fmt_ratio, fmt_time, machine_info, table
from bench_arrays import per_call_interleaved

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
    for i in coords:
        e = np.zeros_like(x)
        e[i] = 1e-6
        fd = (f(x + e) - f(x - e)) / 2e-6
        errs.append(abs(fd - g[i]) / max(1.0, abs(fd)))
    return max(errs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n ≤ 10,000")
    ap.add_argument("--before", default=None, help="git revision of the old rule to compare")
    a = ap.parse_args(argv)
    old = old_rules(a.before) if a.before else None
    print(machine_info())
    rows = []
    for name, acc in ACC.items():
        for n in SIZES[:2] if a.quick else SIZES:
            def f(u, acc=acc):
                return np.sum(acc(u) ** 2)

            rng = np.random.default_rng(5)
            x = rng.standard_normal(n)
            fn = sn.trace(f, np.zeros(n), mode="array")
            val, g = lower(fn), lower(gradient(fn))
            gx = g(x)
            assert abs(val(x) - f(x)) <= 1e-9 * abs(f(x)), name
            err = fd_check(f, gx, x, rng)
            assert err < 1e-5, (name, n, err)
            ks, args = [val, g], [(x,), (x,)]
            if old is not None:
                g_old = lower(gradient(fn, old.scan_vjp))
                np.testing.assert_allclose(g_old(x), gx, rtol=1e-12, atol=1e-12)
                ks.append(g_old)
                args.append((x,))
            ts = per_call_interleaved(ks, args)
            row = [name, f"{n:,}", fmt_time(ts[0]), fmt_time(ts[1]), fmt_ratio(ts[1] / ts[0])]
            if old is not None:
                row += [fmt_time(ts[2]), fmt_ratio(ts[2] / ts[0])]
            rows.append(row + [f"{err:.0e}"])
    head = ["program", "n", "value/call", "grad/call (segment scans)", "grad/value"]
    if old is not None:
        head += [f"grad/call ({a.before})", "grad/value (before)"]
    print(table(head + ["FD rel. error"], rows))
    print("\nf(u) = sum(acc(u)**2), u ~ N(0, 1); per call of the public callables lowered with "
          "the default backend (llvm loops); medians of 9 interleaved batches. Goal: grad/value "
          "≤ 4.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
