"""symnum on a dask LocalCluster (2 worker processes × 1 thread) vs one process (issue 14):

1. elementwise: `sn.vectorize(f)` over N points, the input made and the output summed inside the
   graph (no transfer of the arrays), against one process calling the same kernel on the whole
   array (numba's own threads) and block by block on one thread; results compared bit for bit
   at a smaller size (whole arrays brought back);
2. ensemble: Brusselator BDF solves (compiled RHS + sparse Jacobian) for M values of B, a serial
   loop vs `sn.ensemble` on the cluster: wall time per member;
3. the time a fresh worker process needs for its first kernel: cold (a function never lowered on
   this machine: numba compiles it) and warm (the disk cache holds it);
4. a tree reduction: `symnum.distributed.map_blocks` of a loss (mean of an elementwise map) over
   N points, against numpy and the compiled array function in one process.

Run: python benchmarks/bench_dask.py [--quick] [--members M] [--first]. Only measures and
prints.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dask.array as da  # noqa: E402
import distributed  # noqa: E402

import symnum as sn  # noqa: E402


def f(x):
    return np.exp(-x * x) * np.sin(3 * x) + np.sqrt(1 + x * x) * np.cos(x)


def med(fn, reps=3):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), r


def cluster(**kw):
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None, silence_logs=40, **kw)
    return c, distributed.Client(c)


def elementwise(client, N, chunk):
    k = sn.vectorize(f)
    k(np.zeros(4))
    x = da.linspace(-3, 3, N, chunks=chunk)
    y = k(x)
    t_dask, s_dask = med(lambda: client.compute(y.sum()).result())
    t_one, s_one = med(lambda: float(k(np.linspace(-3, 3, N)).sum()))

    def blocks():
        xn = np.linspace(-3, 3, N)
        return sum(float(k(xn[i:i + chunk]).sum()) for i in range(0, N, chunk))

    t_blk, _ = med(blocks)
    # identical results: whole arrays back at a size that transfers quickly
    n_small = min(N, 10_000_000)
    xs = da.linspace(-3, 3, n_small, chunks=chunk)
    same = np.array_equal(client.compute(k(xs)).result(), k(xs.compute()))
    return t_dask, t_one, t_blk, s_dask, s_one, same, n_small


def ensemble(client, n, members, t_end):
    from symnum.demo.ensemble import BrusselatorSolve

    solve = BrusselatorSolve(n, t_end=t_end)
    params = list(np.linspace(3.0, 4.0, members))
    solve(params[0])  # warm
    t0 = time.perf_counter()
    serial = np.stack([solve(b) for b in params])
    t_serial = time.perf_counter() - t0
    sn.ensemble(solve, params[:2], client=client)  # workers lower the kernels once
    t0 = time.perf_counter()
    got = sn.ensemble(solve, params, client=client)
    t_dask = time.perf_counter() - t0
    return t_serial / members, t_dask / members, np.array_equal(got, serial)


def loss(x):
    return np.mean(np.log1p(np.exp(-x * x)) + 0.5 * x * x)


def reduction(client, N, chunk):
    from symnum.distributed import map_blocks

    x = da.linspace(-3, 3, N, chunks=chunk)
    r = map_blocks(loss, x)
    t_dask, v_dask = med(lambda: float(client.compute(r).result()))
    xn = np.linspace(-3, 3, N)
    t_np, v_np = med(lambda: float(loss(xn)))
    k = sn.compile(loss, mode="array")
    k(xn)
    t_one, v_one = med(lambda: float(k(xn)))
    return t_dask, t_np, t_one, v_dask, v_np, v_one


def _import_backends():
    import symnum.backends.numba_backend  # noqa: F401


def first_kernel(cache_home, backend):
    """Seconds from submitting to a fresh worker process the first block of a kernel it has
    never seen, minus a no-op task's round trip on the same fresh cluster; the workers' kernel
    cache in `cache_home` (empty: cold, numba compiles; filled by an earlier run: warm)."""
    c, client = cluster(env={"XDG_CACHE_HOME": cache_home})
    try:
        client.submit(int, 1).result()  # the workers are up and answering
        t0 = time.perf_counter()
        client.submit(sum, [1, 2], pure=False).result()
        noop = time.perf_counter() - t0
        t0 = time.perf_counter()  # importing symnum and numba on the workers: apart
        client.run(_import_backends)
        imports = time.perf_counter() - t0
        k = sn.vectorize(lambda x: np.exp(-x * x) * 1.5 + np.tanh(x), backend=backend)
        x = da.ones(4, chunks=4)
        t0 = time.perf_counter()
        client.compute(k(x)).result()
        return time.perf_counter() - t0 - noop, noop, imports
    finally:
        client.close()
        c.close()


def run_cluster(N, chunk, members, n):
    c, client = cluster()
    try:
        t_dask, t_one, t_blk, s1, s2, same, n_small = elementwise(client, N, chunk)
        print(f"elementwise N={N:,} chunks={chunk:,}: cluster {t_dask:.3f}s, one process "
              f"(whole array, numba threads) {t_one:.3f}s, one process block by block "
              f"{t_blk:.3f}s; speed-up vs whole {t_one / t_dask:.2f}x, vs blocks "
              f"{t_blk / t_dask:.2f}x; sums {s1!r} vs {s2!r}; bit-identical at "
              f"{n_small:,}: {same}")
        t_r, t_np, t_one, v_r, v_np, v_one = reduction(client, N, chunk)
        print(f"tree reduction (map_blocks of a mean) N={N:,}: cluster {t_r:.3f}s (input made "
              f"on the workers), one process: numpy {t_np:.3f}s, compiled {t_one:.3f}s (input "
              f"in memory); values {v_r!r} / {v_np!r} / {v_one!r}")
        per_serial, per_dask, same_e = ensemble(client, n, members, 0.1)
        print(f"ensemble {members} x Brusselator n={n} BDF 0..0.1: serial {per_serial * 1e3:.1f}"
              f" ms/member, cluster {per_dask * 1e3:.1f} ms/member "
              f"({per_serial / per_dask:.2f}x); identical: {same_e}")
    finally:
        client.close()
        c.close()


def main():
    quick = "--quick" in sys.argv
    N = 20_000_000 if quick else 100_000_000
    chunk = 5_000_000
    members, n = (20, 8) if quick else (100, 16)
    if "--members" in sys.argv:
        members = int(sys.argv[sys.argv.index("--members") + 1])
    print(f"load before: {os.getloadavg()}")
    if "--first" not in sys.argv:
        run_cluster(N, chunk, members, n)
    import tempfile

    for backend in ("numba", "llvm"):
        with tempfile.TemporaryDirectory() as home:
            cold, noop, imports = first_kernel(home, backend)
            warm, _, _ = first_kernel(home, backend)
        print(f"fresh worker, first {backend} kernel: cold (compiled there) {cold:.2f}s, warm "
              f"(disk cache) {warm:.2f}s, beyond a no-op task's {noop * 1e3:.1f} ms and "
              f"importing symnum + numba on the workers first ({imports:.2f}s)")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
