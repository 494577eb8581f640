"""What a primitive without a lowering costs in compiled kernels (issue 13): numba calls its
numpy implementation in object mode, llvm through a ctypes callback; both take the GIL per call.
Side by side in one run, medians of 5: the same expression with native ops and with the
fallback op (batched over 10^5 rows), and the reference interpreter over whole arrays.

    .venv/bin/python benchmarks/bench_fallback.py
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from symnum.backends import lower

import symnum as sn


def median_s(f, rounds: int = 5) -> float:  # noqa: ANN001
    ts = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[rounds // 2]


def main() -> None:
    cache = tempfile.mkdtemp(prefix="symnum-bench-")
    softplus = sn.register("bench_softplus", lambda a: np.log1p(np.exp(a)))  # no `lower`
    x, y = sn.symbols("x y")
    fallback = sn.Fn([x, y], [softplus(x) * y + sn.sin(y)])
    native = sn.Fn([x, y], [sn.log1p(sn.exp(x)) * y + sn.sin(y)])
    X = np.random.default_rng(0).uniform(-2, 2, (100_000, 2))
    OUT = np.empty((100_000, 1))
    for name, fn in (("native ops", native), ("fallback op", fallback)):
        for backend in ("llvm", "numba"):
            k = lower(fn, backend, cache_dir=cache)
            k.batched(X, OUT)  # compiled before timing
            ms = median_s(lambda k=k: k.batched(X, OUT)) * 1e3
            print(f"{name:12s} {backend:6s} batched, 10^5 rows: {ms:8.1f} ms")
    env = {x: X[:, 0], y: X[:, 1]}
    ms = median_s(lambda: sn.evaluate(fallback.flat_outputs[0], env)) * 1e3
    print(f"fallback op  sn.evaluate over the arrays: {ms:8.1f} ms")


if __name__ == "__main__":
    main()
