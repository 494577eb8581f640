"""Scratch memory of llvm array kernels (issue 11, session 4): temporaries in one block kept
across calls (`scratch=True`, the default) against malloc/free per call (`scratch=False`), side by
side in one process, batches interleaved ABAB… (bench_cummax_gradient.interleaved).

Per program and n: value and gradient kernels lowered both ways (llvm loops), wall and CPU time
per call, minor page faults per call (getrusage ru_minflt), and the cheap-gradient ratio
grad/value of each. `--numba` adds the numba backend's gradient with its temporaries kept by the
kernel object (`scratch=True`, the default) and allocated by np.empty per call (`scratch=False`).

`--output` instead times the output allocation: the cummax gradient's public call (numpy
allocates the output per call) against its table entry writing into one reused output (ctypes),
n = 10⁵, 10⁶, 10⁷.

    python benchmarks/bench_scratch.py [--quick] [--numba] [--programs NAME ...] [--output]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from bench_cummax_gradient import interleaved

import symnum as sn
from symnum.autodiff.array_ad import grad_fn
from symnum.compile import lower


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def heat(u0):
    def step(i, u):
        return u + 0.1 * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return np.sum(sn.fori_loop(0, 20, step, u0) ** 2)


PROGRAMS = {
    "cummax": (lambda u: np.sum(np.maximum.accumulate(u) ** 2), (10**3, 10**4, 10**5, 10**6)),
    "cummin": (lambda u: np.sum(np.minimum.accumulate(u) ** 2), (10**3, 10**4, 10**5, 10**6)),
    "rosenbrock": (rosen, (10**5, 10**6)),
    "heat 20 steps": (heat, (10**5,)),
    "log cumsum exp": (lambda u: np.sum(np.log(np.cumsum(np.exp(0.01 * u))) * np.roll(u, 1)),
                       (10**5, 10**6)),
}


MODES = ("arena", "malloc", "numba", "numba-empty")


def child(mode: str, name: str, n: int, batches: int) -> None:
    """One process, one configuration: value and gradient per call, interleaved; one JSON
    line (wall, CPU, faults of the value, then of the gradient)."""
    f = PROGRAMS[name][0]
    x = np.random.default_rng(5).standard_normal(n) * (0.1 if name.startswith("heat") else 1.0)
    fn = sn.trace(f, np.zeros(n), mode="array")
    g = grad_fn(fn)
    backend = "numba" if mode.startswith("numba") else "llvm"
    ks = [lower(k, backend, scratch=mode in ("arena", "numba")) for k in (fn, g)]
    (wv, cv, fv), (wg, cg, fg) = interleaved(ks, x, batches=batches)
    # checked after the timing: the interpreter's large numpy temporaries, freed, move glibc's
    # mmap and trim thresholds up, after which per-call mallocs of this size stop faulting
    assert np.allclose(ks[1](x), g(x), rtol=1e-9, atol=1e-9), (mode, name, n)
    info = ks[1].info.get("scratch_bytes", 0)
    print(json.dumps([wv, cv, fv, wg, cg, fg, info]))


def output_allocation(sizes: tuple = (10**5, 10**6, 10**7), batches: int = 7) -> None:
    """CPU and faults per call: a new output per call against one reused output buffer."""
    rows = []
    for n in sizes:
        g = grad_fn(sn.trace(PROGRAMS["cummax"][0], np.zeros(n), mode="array"))
        k = lower(g, "llvm")
        x = np.random.default_rng(1).standard_normal(n)
        out = np.empty(n)
        tab = np.array([x.ctypes.data, out.ctypes.data, 0], dtype=np.int64)
        entry = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(k._taddr)

        def reused(_, entry=entry, tab=tab):  # x and out are in the table
            entry(tab.ctypes.data, None)
        reused(x)
        assert np.array_equal(out, k(x))
        (_, cp, fp), (_, cr, _) = interleaved([k, reused], x, batches=batches)
        rows.append([f"{n:,}", fmt_time(cp), fmt_time(cr), fmt_ratio(cp / cr), f"{fp:.0f}"])
    print(table(["n", "public call (CPU)", "reused output (CPU)", "ratio",
                 "faults per public call"], rows))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n ≤ 10⁵")
    ap.add_argument("--numba", action="store_true", help="add numba's gradient column")
    ap.add_argument("--programs", nargs="+", default=list(PROGRAMS), choices=list(PROGRAMS))
    ap.add_argument("--rounds", type=int, default=3, help="processes per configuration")
    ap.add_argument("--batches", type=int, default=7)
    ap.add_argument("--output", action="store_true", help="time the output allocation")
    ap.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.output:
        print(machine_info())
        output_allocation(batches=a.batches)
        return 0
    if a.child:
        child(a.child[0], a.child[1], int(a.child[2]), a.batches)
        return 0
    print(machine_info())
    print(f"load average at start: {os.getloadavg()}")
    modes = MODES if a.numba else MODES[:2]
    rows = []
    for name in a.programs:
        for n in PROGRAMS[name][1]:
            if a.quick and n > 10**5:
                continue
            res: dict[str, list] = {m: [] for m in modes}
            for _ in range(a.rounds):  # configurations alternate, each in a fresh process
                for m in modes:
                    out = subprocess.run([sys.executable, __file__, "--child", m, name, str(n),
                                          "--batches", str(a.batches)], check=True,
                                         capture_output=True, text=True).stdout
                    res[m].append(json.loads(out.strip().splitlines()[-1]))
            med = {m: [statistics.median(r[i] for r in rs) for i in range(7)]
                   for m, rs in res.items()}
            A, M = med["arena"], med["malloc"]
            row = [name, f"{n:,}", f"{int(A[6]):,}", fmt_time(A[3]), fmt_time(M[3]),
                   fmt_ratio(M[3] / A[3]), fmt_ratio(M[4] / A[4]),
                   f"{A[5]:.0f} / {M[5]:.0f}", f"{A[2]:.0f} / {M[2]:.0f}",
                   fmt_ratio(A[3] / A[0]), fmt_ratio(M[3] / M[0]), fmt_ratio(A[4] / A[1]),
                   fmt_ratio(M[4] / M[1])]
            if a.numba:
                N, E = med["numba"], med["numba-empty"]
                row += [fmt_time(N[3]), fmt_time(E[3]), fmt_ratio(E[4] / N[4]),
                        f"{N[5]:.0f} / {E[5]:.0f}", fmt_ratio(N[4] / N[1]), fmt_ratio(E[4] / E[1])]
            rows.append(row)
            print(" | ".join(row), flush=True)
    head = ["program", "n", "grad scratch bytes", "grad arena (wall)", "grad malloc (wall)",
            "malloc/arena (wall)", "malloc/arena (CPU)", "grad faults arena / malloc",
            "value faults arena / malloc", "grad/value arena (wall)", "grad/value malloc (wall)",
            "grad/value arena (CPU)", "grad/value malloc (CPU)"]
    if a.numba:
        head += ["numba grad kept (wall)", "numba grad np.empty (wall)",
                 "np.empty/kept (CPU)", "numba grad faults kept / np.empty",
                 "numba grad/value kept (CPU)", "numba grad/value np.empty (CPU)"]
    print(table(head, rows))
    print(f"\nload average at end: {os.getloadavg()}. Each configuration in its own process "
          f"(glibc's heap state is per process: a kernel's parked block changes whether the "
          f"other kernels' frees trim the heap), {a.rounds} processes each, alternating; per "
          f"process the median of {a.batches} interleaved batches of value and gradient "
          "calls; medians over the processes. faults = minor page faults per call.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
