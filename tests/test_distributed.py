"""symnum on dask: elementwise kernels on dask arrays, array functions block by block, ensembles
of ODE solves — on a real LocalCluster (2 worker processes, real scheduler and serialization),
compared with the single-process run. Skipped without dask (the `dask` extra)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import symnum as sn  # noqa: E402
from symnum import distributed as sd  # noqa: E402
from symnum.errors import ArgumentError, ShapeError  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def gauss(x, y):
    return np.exp(-x * x) * y


def polar(x, y):
    return np.hypot(x, y), np.arctan2(y, x)


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_vectorize_on_dask_array_matches_numpy(client, backend):
    f = sn.vectorize(gauss, backend=backend)
    x = da.linspace(-2, 2, 1001, chunks=250)
    r = f(x, 2.0)
    assert isinstance(r, da.Array) and r.chunks == x.chunks and r.dtype == np.float64
    assert np.array_equal(client.compute(r).result(), f(x.compute(), 2.0))


def test_vectorize_dask_broadcast_float32_and_two_outputs(client):
    f = sn.vectorize(gauss)
    x = da.linspace(0, 1, 64, chunks=16).astype(np.float32)
    y = da.ones((3, 64), chunks=(2, 32), dtype=np.float32)
    r = f(x, y)
    assert r.dtype == np.float32 and r.shape == (3, 64)
    assert np.array_equal(client.compute(r).result(), f(x.compute(), y.compute()))
    g = sn.vectorize(polar, backend="llvm")
    a, b = g(x, np.arange(64.0))  # numpy arrays join as dask arrays
    ea, eb = g(x.compute(), np.arange(64.0))
    ra, rb = client.gather(client.compute([a, b]))
    assert a.dtype == np.float64 and np.array_equal(ra, ea) and np.array_equal(rb, eb)


def _parallel_ufuncs_built_here():
    """On a worker: the (dtype, parallel) keys of the OpenMP ufuncs its kernels have built."""
    from symnum.backends.dask_arrays import _LOADED

    return sorted(key for k in _LOADED.values() for key in getattr(k, "_ufuncs", {}) if key[1])


def test_vectorize_blocks_run_serially_on_workers_and_match_one_process_bit_for_bit(client):
    from symnum.backends.numba_backend import PARALLEL_THRESHOLD

    f = sn.vectorize(lambda x: np.exp(-x * x) * np.sin(3 * x) + np.sqrt(1 + x * x) * np.cos(x))
    # blocks large enough for numba's parallel ufunc, had the task not been on one thread
    x = da.linspace(-3, 3, 3 * PARALLEL_THRESHOLD + 7, chunks=PARALLEL_THRESHOLD + 1)
    y = f(x)
    got = client.compute(y).result()
    assert np.array_equal(got, f(x.compute()))  # here: numba's threads on the whole array
    # the same graph on one thread in this process sums in the same order: the same bits
    assert client.compute(y.sum()).result() == y.sum().compute(scheduler="sync")
    assert client.run(_parallel_ufuncs_built_here) == {w: [] for w in client.run(lambda: 0)}


def test_kernel_is_pickled_once_per_kernel_not_per_call(monkeypatch):
    from symnum.backends import dask_arrays

    made = []
    real = dask_arrays.KernelRef
    monkeypatch.setattr(dask_arrays, "KernelRef", lambda k: made.append(k) or real(k))
    f = sn.vectorize(lambda x, y: np.cos(x) * y + 0.25)
    x = da.linspace(0, 1, 8, chunks=4)
    a, b = f(x, 1.0), f(x * 2, 3.0)
    assert made == [f] and a.name != b.name
    assert np.array_equal(b.compute(scheduler="sync"), f((x * 2).compute(), 3.0))


def test_vectorize_dask_is_lazy():
    calls = []

    def spy(block):
        if block.size:  # dask's own meta probes are empty
            calls.append(block.shape)
        return block

    f = sn.vectorize(gauss)
    x = da.ones(100, chunks=10).map_blocks(spy, dtype=float)
    r = f(x, 1.0)  # building the graph runs no block
    assert calls == []
    r.compute(scheduler="sync")
    assert len(calls) == 10


def test_elementwise_kernels_pickle_by_graph():
    for backend in ("numba", "llvm"):
        f = sn.vectorize(gauss, backend=backend)
        fn_reduce = f.__reduce__()
        assert any(a is f.fn for a in fn_reduce[1])  # the Fn, not a kernel object
        g = pickle.loads(pickle.dumps(f))
        assert np.array_equal(g(np.linspace(0, 1, 5), 3.0), f(np.linspace(0, 1, 5), 3.0))


def laplacian(v):
    return np.roll(v, 1, 0) + np.roll(v, -1, 0) + np.roll(v, 1, 1) + np.roll(v, -1, 1) - 4 * v


def test_map_blocks_elementwise_and_periodic_stencil(client):
    x = da.random.default_rng(1).uniform(0, 1, (24, 24), chunks=12)
    xn = x.compute()
    r = sd.map_blocks(lambda v: np.sin(v) * v, x)
    assert np.allclose(client.compute(r).result(), np.sin(xn) * xn, rtol=1e-15, atol=0)
    with pytest.raises(ShapeError, match=r"depth='auto'.*periodic.*rechunk"):
        sd.map_blocks(laplacian, x)
    r = sd.map_blocks(laplacian, x, depth="auto")
    assert np.allclose(client.compute(r).result(), laplacian(xn), rtol=1e-14, atol=1e-14)
    with pytest.raises(ShapeError, match="less than"):
        sd.map_blocks(lambda v: np.roll(v, 2, 0) - v, x, depth=1)


def test_map_blocks_refuses_what_is_not_blockwise():
    x = da.ones(32, chunks=8)
    with pytest.raises(ShapeError, match=r"tree reduction.*rechunk\(-1\)"):
        sd.map_blocks(lambda v: np.sum(v * v[::-1]), x)
    with pytest.raises(ShapeError, match="tree reduction"):
        sd.map_blocks(lambda v: np.sum(v - np.mean(v)), x)  # x read again above the sum
    with pytest.raises(ShapeError, match="rechunk"):
        sd.map_blocks(lambda v: v[2:] - v[:-2], x)
    # one chunk: whole-array functions are fine
    assert float(sd.map_blocks(lambda v: v * 2, x.rechunk(-1)).sum().compute()) == 64.0
    with pytest.raises(ArgumentError, match="dask array"):
        sd.map_blocks(lambda v: v, np.ones(3))


@pytest.mark.parametrize("f", [np.sum, lambda v: np.mean(np.log1p(np.exp(-v))) * 2.0 + 1.0,
                               lambda v: np.max(np.sin(v) * v), lambda v: np.prod(1 + 1e-3 * v)],
                         ids=["sum", "mean-tail", "max", "prod"])
def test_map_blocks_full_reductions_run_as_tree_reductions(client, f):
    x = da.random.default_rng(2).uniform(-1, 1, (40, 30), chunks=(10, 15))
    r = sd.map_blocks(f, x)
    assert r.shape == () and len(r.dask) > x.npartitions  # partial results, then combined
    assert np.allclose(client.compute(r).result(), f(x.compute()), rtol=1e-12, atol=0)


def test_compiled_function_refuses_dask_arrays():
    f = sn.compile(lambda x: np.sin(x) * 2)
    with pytest.raises(ArgumentError, match="vectorize.*map_blocks"):
        f(da.ones(4, chunks=2))


def test_ensemble_of_bdf_solves_matches_serial(client):
    from symnum.demo.ensemble import BrusselatorSolve

    solve = BrusselatorSolve(4, t_end=0.05)
    params = [3.0, 3.4, 3.8, 4.2]
    serial = np.stack([solve(b) for b in params])
    got = sn.ensemble(solve, params, client=client, batch=1)
    assert got.shape == (4, 2, 4, 4) and np.array_equal(got, serial)


def test_ensemble_without_client_runs_here():
    assert sn.ensemble(lambda p: np.array([p, 2 * p]), [1.0, 2.0]).tolist() == [[1, 2], [2, 4]]
    assert sn.ensemble(lambda p: p, []).shape == (0,)


def test_elementwise_sum_runs_one_task_per_block_on_the_cluster(client):
    """`k(da.linspace(..)).sum()` on the cluster: the workers run one task per block (make the
    block, the kernel, its partial sum) plus dask's tree reduction — no Alias task per block —
    and the sum equals the same graph run in one process, bit for bit."""
    k = sn.vectorize(lambda x: np.exp(-x * x) * np.sin(3 * x) + np.sqrt(1 + x * x) * np.cos(x))
    x = da.linspace(-3, 3, 200_000, chunks=10_000)
    y = k(x).sum()
    (opt,) = __import__("dask").optimize(y)
    tasks = dict(opt.__dask_graph__())
    with distributed.get_task_stream(client) as ts:
        got = client.compute(y).result()
    ran = [r["key"] for r in ts.data]
    assert len(ran) in (len(tasks), len(tasks) + 1)  # + the collection's finalize task
    assert len(tasks) < x.npartitions + 10  # 20 blocks: 20 + dask's tree (was 2 x 20 + tree)
    assert not any(type(t).__name__ == "Alias" for t in tasks.values())
    assert got == y.compute(scheduler="sync")
