"""Issue 11 item 5: composed transforms. Per-example gradients of a least-squares loss
(batch B, features d): sn.vmap(sn.grad(loss)) against a Python loop over sn.grad(loss) and
against numpy by hand; and the build (trace + lower) time of grad(grad(f)) and hessian of a
compiled function. Medians of repeated runs, side by side in one process.

    .venv/bin/python benchmarks/bench_compose.py
"""

import statistics
import time

import numpy as np

import symnum as sn


def median_time(f, repeat=7, number=1):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            f()
        ts.append((time.perf_counter() - t0) / number)
    return statistics.median(ts)


def per_example(B, d, rng):
    """One batch size: vmap(grad) against numpy by hand and a Python loop of grad."""
    X, y, w = rng.normal(size=(B, d)), rng.normal(size=B), rng.normal(size=d)
    loss = lambda w, x, t: (np.sum(w * x) - t) ** 2  # noqa: E731
    t0 = time.perf_counter()
    per = sn.vmap(sn.grad(loss), in_axes=(None, 0, 0))
    per(w, X, y)
    build = time.perf_counter() - t0
    g = sn.grad(loss)
    g(w, X[0], y[0])
    t_vmap = median_time(lambda: per(w, X, y))
    t_np = median_time(lambda: 2 * (X @ w - y)[:, None] * X)
    n_loop = min(B, 2000)
    t_loop = median_time(lambda: [g(w, X[i], y[i]) for i in range(n_loop)], repeat=3)
    t_loop *= B / n_loop
    print(f"B={B} d={d}: vmap(grad) build {build*1e3:.1f} ms, call {t_vmap*1e3:.3f} ms; "
          f"numpy by hand {t_np*1e3:.3f} ms ({t_vmap/t_np:.2f}x); python loop of grad "
          f"{t_loop*1e3:.1f} ms ({t_loop/t_vmap:.0f}x slower than vmap)")


def main():
    rng = np.random.default_rng(0)
    for B, d in ((1000, 10), (100_000, 10)):
        per_example(B, d, rng)
    x = np.linspace(-1, 1, 100)
    rosen = lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)  # noqa
    t0 = time.perf_counter()
    sn.hessian(sn.compile(rosen))(x)
    t1 = time.perf_counter()
    sn.jacfwd(sn.jacrev(rosen))(x)
    t2 = time.perf_counter()
    print(f"rosen n=100: hessian(compile(f)) build+first call {t1-t0:.2f} s, "
          f"jacfwd(jacrev(f)) {t2-t1:.2f} s")


if __name__ == "__main__":
    main()
