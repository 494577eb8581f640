"""The graph shape of symnum kernels on dask arrays (backends/dask_roots.py): a creation layer
lifted to Blockwise fuses with the kernel and a reduction's partial step into one task per
block, with no Alias task left behind, and the values are those of the original layer, bit for
bit. Graph-level checks with dask's synchronous scheduler; the cluster run is in
tests/test_distributed.py."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from symnum.backends import dask_roots  # noqa: E402
from symnum.backends.dask_roots import lift_root  # noqa: E402

import symnum as sn  # noqa: E402
from symnum import distributed as sd  # noqa: E402


def f(x):
    return np.exp(-x * x) * np.sin(3 * x) + np.sqrt(1 + x * x) * np.cos(x)


def graph(y):
    """The low-level graph dask would run for `y` (after its optimisations)."""
    (yo,) = dask.optimize(y)
    return dict(yo.__dask_graph__())


def kinds(y) -> Counter:
    return Counter(type(node).__name__ for node in graph(y).values())


def reduction_tasks(nblocks: int, **kw) -> int:
    """How many tasks dask's own tree reduction adds above `nblocks` blocks (the sum of an
    array whose blocks are already one Blockwise layer: no creation tasks of its own)."""
    return len(graph(da.zeros(nblocks * 4, chunks=4).sum(**kw))) - nblocks


CREATIONS = {
    "linspace": lambda: da.linspace(-3, 3, 200, chunks=10),
    "arange": lambda: da.arange(200, chunks=10, dtype=np.float64),
    "random": lambda: da.random.default_rng(3).uniform(-1, 1, 200, chunks=10),
    "random-2d": lambda: da.random.default_rng(4).uniform(-1, 1, (20, 12), chunks=(5, 4)),
}


@pytest.mark.parametrize("make", [CREATIONS["linspace"], CREATIONS["random"]],
                         ids=["linspace", "random"])
@pytest.mark.parametrize("split_every", [None, 32])
def test_kernel_and_partial_sum_are_one_task_per_block_without_alias(make, split_every):
    k = sn.vectorize(f)
    x = make()
    n = x.npartitions
    y = k(x).sum(split_every=split_every)
    got = kinds(y)
    assert got["Alias"] == 0
    assert sum(got.values()) == n + reduction_tasks(n, split_every=split_every)
    # every block task makes its block, runs the kernel and sums it: exactly n read no other
    g = graph(y)
    leaves = [key for key, node in g.items() if not node.dependencies]
    assert len(leaves) == n
    # the elementwise result alone: one task per block (it was two: creation + Alias)
    assert sum(kinds(k(x)).values()) == n and kinds(k(x))["Alias"] == 0


@pytest.mark.parametrize("n", [1, 2, 7, 20, 21, 33])
def test_graph_has_the_shape_of_a_blockwise_input(n):
    """Whatever the block count, `k(da.linspace(..)).sum()` has exactly the tasks of the same
    expression on an input that is Blockwise already (`da.zeros`): dask's tree reduction
    alone decides the rest (an odd block that reaches a partial step alone is fused with it
    and leaves one Alias, in both)."""
    k = sn.vectorize(f)
    x = da.linspace(-3, 3, 10 * n, chunks=10)
    assert kinds(k(x).sum()) == kinds(k(da.zeros(10 * n, chunks=10)).sum())


def test_without_lifting_dask_adds_an_alias_task_per_block(monkeypatch):
    """What the lifting removes (this dask's linear fusion of a materialised creation layer):
    if a later dask stops doing it, this test says so and the lifting can go."""
    monkeypatch.setattr(dask_roots, "lift_root", lambda x: x)
    x = CREATIONS["linspace"]()
    assert kinds(sn.vectorize(f)(x).sum())["Alias"] == x.npartitions


@pytest.mark.parametrize("name", sorted(CREATIONS))
def test_lifted_layer_holds_the_same_blocks_bit_for_bit(name):
    x = CREATIONS[name]()
    lifted = lift_root(x)
    assert lifted is not x and type(lifted.dask.layers[x.name]).__name__ == "Blockwise"
    assert lifted.name == x.name and lifted.chunks == x.chunks and lifted.dtype == x.dtype
    assert lifted.__dask_keys__() == x.__dask_keys__()
    assert np.array_equal(lifted.compute(scheduler="sync"), x.compute(scheduler="sync"))
    k = sn.vectorize(f)
    assert np.array_equal(k(x).compute(scheduler="sync"), k(x.compute()))


def test_what_it_does_not_recognise_stays_as_it_is():
    xn = np.arange(40.0)
    cases = [
        da.from_array(xn, chunks=10),  # reads an array held in the graph: has a dependency
        da.linspace(0, 1, 40, chunks=10) + 1.0,  # computed: dask fuses those itself
        da.ones(40, chunks=10),  # already Blockwise
        da.from_array(np.float64(2.0)),  # 0-d
    ]
    for x in cases:
        assert lift_root(x) is x
    xn = np.ones(3)
    assert lift_root(xn) is xn  # not a dask array
    with dask.annotate(retries=2):  # annotations are the user's word on those tasks: kept
        annotated = da.linspace(0, 1, 40, chunks=10)
    assert annotated.dask.layers[annotated.name].annotations
    assert lift_root(annotated) is annotated


def test_sums_and_arrays_equal_the_unlifted_graph_bit_for_bit(monkeypatch):
    k = sn.vectorize(f)
    x = da.linspace(-3, 3, 10_001, chunks=1_000)
    lifted = (k(x).sum().compute(scheduler="sync"), k(x).compute(scheduler="sync"),
              (k(x) + x).compute(scheduler="sync"))
    monkeypatch.setattr(dask_roots, "lift_root", lambda x: x)
    plain = (k(x).sum().compute(scheduler="sync"), k(x).compute(scheduler="sync"),
             (k(x) + x).compute(scheduler="sync"))
    assert lifted[0] == plain[0]
    assert np.array_equal(lifted[1], plain[1]) and np.array_equal(lifted[2], plain[2])
    assert np.array_equal(lifted[1], k(x.compute()))  # da.linspace rounds per block


def test_an_input_used_twice_is_not_made_twice(monkeypatch):
    """`x` read by the kernel and by the user's own expression: the lifted layer and x's own
    share the keys, so the graph holds one task per block of x, not two."""
    k = sn.vectorize(f)
    x = da.linspace(-3, 3, 100, chunks=10)
    shared = [k(x) + x, k(x).sum() + x.sum()]
    counts = [len(graph(y)) for y in shared]
    monkeypatch.setattr(dask_roots, "lift_root", lambda x: x)
    assert counts == [len(graph(y)) for y in [k(x) + x, k(x).sum() + x.sum()]]


def test_tree_reduction_of_map_blocks_is_one_task_per_block():
    x = da.linspace(-3, 3, 10_000, chunks=500)
    r = sd.map_blocks(lambda v: np.mean(np.log1p(np.exp(-v * v))), x)
    got = kinds(r)
    assert got["Alias"] == 0 and sum(got.values()) < 2 * x.npartitions
    xn = np.linspace(-3, 3, 10_000)
    assert np.isclose(r.compute(scheduler="sync"), np.mean(np.log1p(np.exp(-xn * xn))),
                      rtol=1e-13, atol=0)
