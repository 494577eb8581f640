"""Batched llvm kernels: `batched(X, OUT)` over rows, split across a thread pool above a work
threshold (the machine code runs without the GIL). Sits below llvm_backend, which builds them;
never compiles anything itself.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from symnum.backends.compiled import PARALLEL_WORK
from symnum.backends.llvm_tier import WAIT_WORK

from symnum.errors import ShapeError

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def _pool() -> Any:
    pool = _STATE.get("pool")
    if pool is None:
        from concurrent.futures import ThreadPoolExecutor

        with _LOCK:
            pool = _STATE.get("pool")
            if pool is None:
                pool = _STATE["pool"] = ThreadPoolExecutor(
                    max_workers=os.cpu_count() or 1, thread_name_prefix="symnum-llvm")
    return pool


class BatchedKernel:
    """`batched(X, OUT)` over rows; large batches are split across threads (the machine code
    runs without the GIL), small ones run in the calling thread."""

    __slots__ = ("call", "addr", "n_in", "n_out", "work", "parallel", "library")

    def __init__(self, call: Any, library: Any, n_in: int, n_out: int, work: int,
                 parallel: bool | None):
        self.call, self.library, self.addr = call, library, library.batched
        self.n_in, self.n_out, self.work, self.parallel = n_in, n_out, max(1, work), parallel

    def __call__(self, X: np.ndarray, OUT: np.ndarray) -> None:  # noqa: N803
        rows = X.shape[0] if X.ndim == 2 else 0
        up = getattr(self.library, "pending", None)
        if up is not None and rows * self.work >= WAIT_WORK:  # a tiered compile's quick code:
            up.wait()  # a long batch waits for the optimised code (≤ one compile)
        threads = os.cpu_count() or 1
        if self.parallel is None:
            split = rows * self.work >= PARALLEL_WORK
        else:
            split = self.parallel
        if not split or threads < 2 or rows < 2 or X.ndim != 2 or OUT.ndim != 2:
            self.call(self.addr, self.n_in, self.n_out, X, OUT)
            return
        if OUT.shape[0] != rows:
            raise ShapeError("X must be (rows, n_in) and OUT (rows, n_out)")
        bounds = np.linspace(0, rows, min(threads, rows) + 1).astype(int)
        jobs = [_pool().submit(self.call, self.addr, self.n_in, self.n_out, X[lo:hi],
                               OUT[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
        for j in jobs:
            j.result()
