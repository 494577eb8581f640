"""One dask task per block: a dask array made by a creation function (`da.linspace`,
`da.arange`, `da.random.*`, …) re-expressed as a `Blockwise` layer, so that dask's blockwise
fusion folds "make the block → symnum's kernel → the block's partial sum" into one task.

Why: dask keeps such creation layers as plain (materialised) task dicts. Its blockwise fusion
then stops at them, and its low-level linear fusion joins the creation task to the fused
kernel-and-partial-sum task under a new key, leaving an `Alias` task behind under the old key
for every block (`dask._task_spec.fuse_linear_task_spec`; `np.sin(da.linspace(...)).sum()`
does it too). On a distributed cluster each Alias is a real task: a scheduler round trip and
its bookkeeping (issue 14 measured ~2.6 ms of scheduler CPU per task), for nothing. Lifted, 20
blocks of `k(da.linspace(...)).sum()` make 28 tasks instead of 48.

Sits beside backends/dask_arrays.py (its caller; symnum.distributed's tree reductions call it
too). It never imports dask itself at module level and never changes what a block holds: a
lifted layer runs the very task nodes of the original layer (same functions, same arguments),
under the same name and keys, so results are bit-identical and a graph that holds both the
original layer and the lifted one (the user's `x` used elsewhere too) holds one value per key.
Anything it does not recognise — a layer with dependencies (a computed input: dask fuses those
itself), annotations, keys other than the array's blocks, legacy tuple tasks, another dask
version's layout — is returned unchanged.
"""

from __future__ import annotations

from typing import Any


def _block(node: Any) -> Any:
    """The task body of a lifted block: dask has already run `node` (a task nested in the
    arguments is executed before the call), so this receives the block itself."""
    return node


def lift_root(x: Any) -> Any:
    """`x` with its creation layer re-expressed as a Blockwise layer of the same name and keys,
    or `x` itself when the layer is not a dependency-free materialised layer of `x`'s blocks."""
    try:
        import dask.array as da
        from dask._task_spec import GraphNode
        from dask.blockwise import BlockwiseDepDict, blockwise
        from dask.core import flatten
        from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
    except ImportError:  # another dask's layout: nothing to lift
        return x
    graph = getattr(x, "dask", None)
    layers = getattr(graph, "layers", None)
    if layers is None or x.ndim == 0 or x.ndim > 26:
        return x
    layer = layers.get(x.name)
    if (type(layer) is not MaterializedLayer or graph.dependencies.get(x.name)
            or layer.annotations):
        return x
    keys = list(flatten(x.__dask_keys__()))
    if len(layer) != len(keys):
        return x
    nodes = {}
    for key in keys:
        node = layer.get(key)
        if not isinstance(node, GraphNode) or node.dependencies:
            return x
        nodes[key[1:]] = node
    ind = "abcdefghijklmnopqrstuvwxyz"[:x.ndim]
    dep = BlockwiseDepDict(nodes, numblocks=x.numblocks)
    lifted = blockwise(_block, x.name, ind, dep, ind, numblocks={})
    return da.Array(HighLevelGraph({x.name: lifted}, {x.name: set()}), x.name, x.chunks,
                    meta=x._meta)
