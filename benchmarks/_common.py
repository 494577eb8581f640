"""Shared helpers of the benchmark scripts: timing by median, a plain-text table, the machine.

Benchmarks only measure and print; they never assert on timings and never change the library.
Each script is run as `python benchmarks/bench_xxx.py [--quick]` from anywhere.
"""

from __future__ import annotations

import datetime
import gc
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))


@dataclass
class Timing:
    """Wall times of repeated runs of one workload, and the result of the last run."""

    runs: list[float]
    result: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def best(self) -> float:
        return min(self.runs)


def measure(work: Callable[[], Any], repeats: int, budget_s: float = 120.0) -> Timing:
    """Run `work` `repeats` times (fewer if it exceeds `budget_s`), timing each run.

    Garbage is collected before each run so one run's dead terms are not charged to the next;
    the previous result is dropped first, so hash-consed terms are rebuilt, not looked up.
    """
    runs: list[float] = []
    result = None
    spent = 0.0
    for _ in range(max(1, repeats)):
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = work()
        dt = time.perf_counter() - t0
        runs.append(dt)
        spent += dt
        if spent > budget_s:
            break
    return Timing(runs, result)


def measure_pipeline(stages: Sequence[Callable[[Any], Any]], repeats: int,
                     setup: Callable[[], None] | None = None,
                     budget_s: float = 120.0) -> list[Timing]:
    """Time a chain of stages (each gets the previous stage's result; the first gets None).

    Every repeat rebuilds from scratch, so a later stage never sees results cached by an earlier
    repeat. Returns one Timing per stage plus a last one for the whole chain.
    """
    per: list[list[float]] = [[] for _ in stages]
    totals: list[float] = []
    results: list[Any] = [None] * len(stages)
    for _ in range(max(1, repeats)):
        results = [None] * len(stages)
        if setup is not None:
            setup()
        gc.collect()
        value = None
        for i, stage in enumerate(stages):
            t0 = time.perf_counter()
            value = stage(value)
            per[i].append(time.perf_counter() - t0)
            results[i] = value
        totals.append(sum(p[-1] for p in per))
        if sum(totals) > budget_s:
            break
    return [Timing(r, v) for r, v in zip(per, results)] + [Timing(totals, results[-1])]


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:,.1f}x" if r >= 1 else f"{r:.2g}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table (readable as plain text too)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for ln in out.splitlines():
            if ln.startswith("Model name:"):
                return ln.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine()


def machine_info() -> str:
    """One paragraph naming the machine and versions, for benchmarks/RESULTS.md."""
    import numpy

    versions = [f"Python {platform.python_version()}", f"numpy {numpy.__version__}"]
    for dist in ("sympy", "symengine", "egglog"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    # other work on the machine slows every column; the load average says how busy it was
    load = f"load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"machine: {_cpu_model()}, {cores} cores, {platform.system()} {platform.release()}; "
            f"{', '.join(versions)}; {when}; {load}")
