"""Elementwise kernels over dask arrays: `sn.vectorize(f)(x)` with `x` a `dask.array.Array`
returns a lazy dask array (one `map_blocks` task per block; nothing runs until the user asks).

Sits beside the elementwise backends (numba, llvm) that call it when an argument is a dask array.
It never imports dask unless the caller already did (`any_dask` reads `sys.modules`), so
`import symnum` and every call on numpy arrays stay free of it. Kernels travel to the workers as
their graph (`Elementwise.__reduce__` → lowered again there, from the authenticated disk cache
when it holds them), never as machine code; a worker lowers each kernel once per process
(`_LOADED`, keyed by the pickled graph's hash), not once per task; this process pickles each
kernel once (`ref_of`), not at every call on a dask array.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import sys
import threading
import weakref
from typing import Any

import numpy as np

# sha256 of a kernel's pickled graph → the kernel lowered in this process
_LOADED: dict[str, Any] = {}
_LOADING = threading.Lock()
# the kernels made in this process, while their owners keep them
_LOCAL: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
# kernel → its KernelRef: pickled once per kernel, not at every call on a dask array
_REFS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def any_dask(args: tuple) -> bool:
    """True when one of `args` is a dask array (False without importing dask when the caller
    never did: then none can be)."""
    da = sys.modules.get("dask.array")
    if da is None:
        return False
    cls = da.Array
    return any(isinstance(a, cls) for a in args)


class KernelRef:
    """A kernel (or any callable) as the tasks carry it: its pickle and the pickle's hash.
    Unpickled, it is loaded at most once per worker process (kernels: lowered from their graph
    once); dask tokenizes it by the hash."""

    def __init__(self, kernel: Any):
        try:
            self.payload = pickle.dumps(kernel)
        except (TypeError, AttributeError, pickle.PicklingError):  # a lambda or closure inside
            import cloudpickle  # dask's own dependency

            self.payload = cloudpickle.dumps(kernel)
        self.key = hashlib.sha256(self.payload).hexdigest()
        try:  # this process has it already: no lowering again when it computes here
            _LOCAL[self.key] = kernel
        except TypeError:  # not weakly referable
            pass

    def __reduce__(self) -> tuple:
        return (_ref_from_payload, (self.payload, self.key))

    def __dask_tokenize__(self) -> str:
        return self.key

    def kernel(self) -> Any:
        k = _LOADED.get(self.key) or _LOCAL.get(self.key)
        if k is None:
            # one lowering per process: a worker's threads reach the first block together, and
            # numba's kernel cache refuses a module one thread loads while another compiles it
            with _LOADING:
                k = _LOADED.get(self.key)
                if k is None:
                    k = _LOADED[self.key] = pickle.loads(self.payload)
        return k


def ref_of(kernel: Any) -> KernelRef:
    """`KernelRef(kernel)`, made once per kernel object: pickling a kernel's graph again at every
    call on a dask array cost 5.8 ms of the 5.9 ms a call took for a 400-operation kernel."""
    try:
        ref = _REFS.get(kernel)
    except TypeError:  # not weakly referable
        return KernelRef(kernel)
    if ref is None:
        ref = _REFS[kernel] = KernelRef(kernel)
    return ref


def _ref_from_payload(payload: bytes, key: str) -> KernelRef:
    ref = KernelRef.__new__(KernelRef)
    ref.payload, ref.key = payload, key
    return ref


@contextlib.contextmanager
def _one_thread() -> Any:
    """A task runs its kernel on its own thread: dask already runs one task per worker thread,
    and a kernel's own OpenMP threads on top oversubscribe the cores (measured: a 2-worker
    cluster 1.1x one process instead of ~2x). numba's thread count is per thread."""
    numba = sys.modules.get("numba")
    if numba is None:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _block(ref: KernelRef, n_out: int, *blocks: Any) -> np.ndarray:
    """One task: the kernel on one block of each (broadcast, aligned) argument; several outputs
    come back stacked on a new leading axis."""
    from symnum.tracing.pytree import tree_flatten

    k = ref.kernel()
    with _one_thread():
        outs = k(*blocks)
    if n_out == 1:
        return np.asarray(outs)
    leaves, _ = tree_flatten(outs)
    return np.stack([np.asarray(leaf) for leaf in leaves])


def elementwise(kernel: Any, args: tuple) -> Any:
    """`kernel(*args)` with at least one dask array among `args`: dask arrays in the Fn's output
    structure. numpy arrays join as dask arrays (one chunk); Python and numpy scalars go to every
    task as they are. The output dtype is what the kernel gives on one element of each input
    (so numpy's rules: float32 stays float32), found here, before any task runs."""
    import dask.array as da

    from symnum.tracing.pytree import tree_flatten, tree_unflatten

    fn = kernel.fn
    n_out = len(fn.flat_outputs)
    is_arr = [isinstance(a, (da.Array, np.ndarray)) and np.ndim(a) > 0 for a in args]
    from symnum.backends.dask_roots import lift_root

    # a creation layer (da.linspace, …) as Blockwise: then making a block, the kernel and a
    # reduction's partial step fuse into one task per block (no Alias task per block)
    arrays = [lift_root(da.asarray(a)) for a, arr in zip(args, is_arr) if arr]
    arrays = da.broadcast_arrays(*arrays) if len(arrays) > 1 else arrays
    # the dtype (and the kernel's errors) now, on one element per input
    it = iter(arrays)
    probe = [np.ones((1,) * next(it).ndim, dtype=a.dtype) if arr else a
             for a, arr in zip(args, is_arr)]
    out_dtypes = [np.asarray(leaf).dtype for leaf in tree_flatten(kernel(*probe))[0]]
    dtype = np.result_type(*out_dtypes)
    ref = ref_of(kernel)
    # scalars are closed over in the task; arrays are the blockwise arguments, in order
    scalars = [None if arr else a for a, arr in zip(args, is_arr)]

    ndim = arrays[0].ndim
    meta = np.empty((0,) * (ndim + (n_out > 1)), dtype=dtype)
    if n_out == 1:
        out = da.map_blocks(_placed_block, ref, n_out, scalars, is_arr, *arrays, dtype=dtype,
                            meta=meta)
        leaves = [out]
    else:
        out = da.map_blocks(_placed_block, ref, n_out, scalars, is_arr, *arrays, dtype=dtype,
                            meta=meta, new_axis=0, chunks=((n_out,),) + arrays[0].chunks)
        leaves = [out[k] for k in range(n_out)]
    return tree_unflatten(fn.out_tree, leaves)


def _placed_block(ref: KernelRef, n_out: int, scalars: list, is_arr: list, *blocks: Any) -> Any:
    it = iter(blocks)
    args = [next(it) if arr else s for s, arr in zip(scalars, is_arr)]
    return _block(ref, n_out, *args)
