"""Beyond one machine, on dask: ensembles of solves (`ensemble`) and array functions over the
blocks of a dask array (`map_blocks`). Elementwise kernels need nothing from here:
`sn.vectorize(f)(dask_array)` is already lazy (symnum.backends.dask_arrays).

Sits above compile and the backends (a user of them); symnum builds no scheduler of its own.
It must never import dask at module level: `import symnum` stays free of it, and dask is an
optional extra (`pip install symnum[dask]`). What crosses to a worker is a function's graph (Fn,
backend, options) or the user's pickled function, never machine code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from symnum.errors import ArgumentError, ShapeError


def _need_dask(what: str) -> None:
    try:
        import dask  # noqa: F401
    except ImportError:  # pragma: no cover - the extra is installed for the tests
        raise ArgumentError(f"{what} needs dask: pip install 'symnum[dask]' "
                            "(dask[distributed])") from None


# ---------------------------------------------------------------------------------------------
# ensembles


def _run_batch(solve: Any, batch: list) -> list:
    from symnum.backends.dask_arrays import _one_thread

    f = solve.kernel() if hasattr(solve, "kernel") and hasattr(solve, "payload") else solve
    with _one_thread():  # one member per worker thread: no kernel threads on top
        return [np.asarray(f(p)) for p in batch]


def ensemble(solve: Callable, params: Iterable, *, client: Any = None, batch: int | None = None,
             progress: bool = False) -> np.ndarray:
    """`np.stack([solve(p) for p in params])`, the members run as tasks of a dask.distributed
    `client` (or the current default client; without one, serially in this process).

    `solve` is pickled to the workers (cloudpickle: closures and lambdas travel); compiled
    functions inside it travel as their graphs and are lowered on each worker once (from the
    disk cache when warm). `batch` members per task (default: about 4 tasks per worker thread,
    so a task's overhead — a few ms — is shared). `progress=True` shows dask's progress bar.

    >>> import numpy as np
    >>> ensemble(lambda p: np.array([p, p * p]), [1.0, 2.0, 3.0]).tolist()
    [[1.0, 1.0], [2.0, 4.0], [3.0, 9.0]]
    """
    params = list(params)
    if client is None:
        client = _default_client()
    if client is None:
        return np.stack(_run_batch(solve, params)) if params else np.empty((0,))
    threads = max(1, sum(client.nthreads().values()))
    size = batch or max(1, -(-len(params) // (4 * threads)))
    batches = [params[i:i + size] for i in range(0, len(params), size)]
    from symnum.backends.dask_arrays import KernelRef

    # one copy of `solve` on the cluster, not one per task; loaded once per worker process, and
    # not again by a later ensemble of the same solve (its compiled parts are not lowered again)
    [solve_f] = client.scatter([KernelRef(solve)], broadcast=True, hash=False)
    futures = client.map(_run_batch, [solve_f] * len(batches), batches, pure=False)
    if progress:
        from distributed import progress as bar

        bar(futures)
    results = [r for part in client.gather(futures) for r in part]
    return np.stack(results) if results else np.empty((0,))


def _default_client() -> Any:
    import sys

    if "distributed" not in sys.modules:  # no client can exist without it being imported
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:  # none started
        return None


# ---------------------------------------------------------------------------------------------
# array functions over blocks


_LOWERING = threading.Lock()


class _LazyLower:
    """An array function traced (array mode) and lowered on first call, on the worker that runs
    the block. It travels as the Python function (cloudpickle), since symbolic array terms do
    not pickle yet."""

    def __init__(self, f: Callable, shape: tuple, dtype: str, backend: str):
        self.f, self.shape, self.dtype, self.backend, self._c = f, shape, dtype, backend, None

    def __reduce__(self) -> tuple:
        return (_LazyLower, (self.f, self.shape, self.dtype, self.backend))

    def __call__(self, x: np.ndarray) -> Any:
        if self._c is None:
            # a worker's threads reach the first call together: numba's kernel cache refuses
            # a module loaded by one thread while another compiles it ("compilation disabled")
            with _LOWERING:
                if self._c is None:
                    from symnum.arrays import trace
                    from symnum.backends import lower

                    fn = trace(self.f, np.zeros(self.shape, dtype=self.dtype), mode="array")
                    self._c = lower(fn, self.backend)
        return self._c(x)


def _apply(block: np.ndarray, refs: dict) -> np.ndarray:
    from symnum.backends.dask_arrays import _one_thread

    k = refs[block.shape].kernel()
    with _one_thread():  # dask runs one task per worker thread already
        return np.asarray(k(np.ascontiguousarray(block)), dtype=block.dtype)


def reach(f: Callable, shape: tuple) -> tuple[str, list[int], list[bool]]:
    """How far `f` (one array in, one array out, traced in array mode) reads, found from the
    sparsity of its Jacobian at `shape`: ("elementwise", 0s, _) when output i reads input i
    only; ("stencil", [reach per axis], [wraps around per axis]) when the output has the input's
    shape; ("global", [], []) otherwise (a reduction, a contraction, a reshape)."""
    from symnum.autodiff.sparsity import jacobian_sparsity
    from symnum.tracing.fn import trace

    fn = trace(f, np.zeros(shape))
    out_shapes = fn.out_shapes
    if len(out_shapes) != 1 or tuple(out_shapes[0]) != tuple(shape):
        return "global", [], []
    S = np.asarray(jacobian_sparsity(list(fn.flat_outputs), list(fn.flat_inputs))) != 0
    rows, cols = np.nonzero(S)
    if np.array_equal(rows, cols):
        return "elementwise", [0] * len(shape), [False] * len(shape)
    oi, ii = np.unravel_index(rows, shape), np.unravel_index(cols, shape)
    reaches, wraps = [], []
    for a, n in enumerate(shape):
        d = np.abs(oi[a] - ii[a])
        near = np.minimum(d, n - d)  # across the far edge: a periodic stencil (np.roll)
        wrap = bool(d.size and d.max() > near.max() and d.max() > n // 2)
        reaches.append(int(near.max() if wrap else d.max()) if d.size else 0)
        wraps.append(wrap)
    return "stencil", reaches, wraps


def map_blocks(f: Callable, x: Any, *, depth: Any = None, backend: str = "numba",
               probe: int = 16) -> Any:
    """`f(x)` for a dask array `x`, block by block: `f` is an array function of one array (the
    array-mode tracing of `sn.compile(mode="array")`), compiled once per distinct block shape
    and lowered on the workers from its graph. Returns a lazy dask array.

    A function that reduces an elementwise map of `x` over all its axes (sum, prod, max, min,
    mean), possibly followed by scalar arithmetic — `np.mean(np.log1p(np.exp(-x))) * 2` —
    runs as a tree reduction (dask's `reduction`): each block reduced by a compiled kernel,
    the partial results combined, the scalar tail applied once at the end.

    Which blocks `f` needs is read from its Jacobian's sparsity on a `probe`-sized array:
    elementwise functions run with `map_blocks`; a stencil (output i reads inputs up to r away)
    needs `depth`: `depth="auto"` (or the reach itself, a number or {axis: r}) runs it with
    `map_overlap` (boundary "periodic" when the stencil wraps around, as np.roll does), and
    without `depth` a ShapeError says the depth to pass or the rechunk that avoids it; a
    function whose output does not have the input's shape (a sum, a contraction) is not
    blockwise: ShapeError (rechunk to one chunk, or write a sum of an elementwise map as
    `sn.vectorize(g)(x).sum()`, which dask reduces as a tree).
    """
    _need_dask("symnum.distributed.map_blocks")
    import dask.array as da

    if not isinstance(x, da.Array):
        raise ArgumentError(f"map_blocks takes a dask array, got {type(x).__name__}; call the "
                            "compiled function directly on numpy arrays")
    from symnum.backends.dask_roots import lift_root

    x = lift_root(x)  # a creation layer fuses into the blocks' tasks (one task per block)
    probe_shape = tuple(min(n, probe) for n in x.shape)
    kind, reaches, wraps = reach(f, probe_shape)
    one_chunk = all(len(c) == 1 for c in x.chunks)
    if kind == "global" and not one_chunk:
        plan = _reduction(f, x.shape, x.dtype, backend)
        if plan is not None:
            return plan.run(x)
        raise ShapeError(
            "this function's output is not an elementwise or stencil image of its input, nor a "
            "full reduction (sum, prod, max, min, mean) of an elementwise map of it (those run "
            "as a tree reduction): its blocks are not independent. Rechunk to one chunk "
            "(x.rechunk(-1)) to run it whole")
    overlap = {a: r for a, r in enumerate(reaches) if r and len(x.chunks[a]) > 1}
    if kind == "stencil" and overlap and depth is None:
        rechunk = ", ".join(f"{a}: -1" for a in overlap)
        bnd = "'periodic'" if any(wraps[a] for a in overlap) else "'none'"
        raise ShapeError(
            f"this function is a stencil: output elements read inputs up to {overlap} away "
            f"(axis: reach), across chunk boundaries. Pass depth='auto' (or depth={overlap}) to "
            f"run it with map_overlap (boundary {bnd}), or rechunk so those axes are one "
            f"chunk: x.rechunk({{{rechunk}}})")
    if kind == "stencil" and overlap:
        need = overlap
        given = need if depth == "auto" else (
            depth if isinstance(depth, dict) else {a: int(depth) for a in range(x.ndim)})
        short = {a: r for a, r in need.items() if given.get(a, 0) < r}
        if short:
            raise ShapeError(f"depth {given} is less than the stencil's reach {need}")
        boundary = {a: ("periodic" if wraps[a] else "none") for a in range(x.ndim)}
        if any(not wraps[a] for a in need):
            raise ShapeError(
                "a non-periodic stencil of the same shape reads past the array's edges in its "
                "own way, which map_overlap cannot reproduce block by block; rechunk those axes "
                f"to one chunk: x.rechunk({{{', '.join(f'{a}: -1' for a in need)}}})")
        depth_t = {a: given.get(a, 0) for a in range(x.ndim)}
        return _overlapped(f, x, depth_t, boundary, backend)
    return _blockwise(f, x, x.chunks, backend, da.map_blocks)


def _kernels(f: Callable, shapes: Iterable, backend: str, dtype: Any) -> dict:
    from symnum.backends.dask_arrays import KernelRef

    return {s: KernelRef(_LazyLower(f, s, np.dtype(dtype).name, backend)) for s in set(shapes)}


def _block_shapes(chunks: tuple) -> list[tuple]:
    import itertools

    return list(itertools.product(*chunks))


def _blockwise(f: Callable, x: Any, chunks: tuple, backend: str, how: Callable) -> Any:
    refs = _kernels(f, _block_shapes(chunks), backend, x.dtype)
    return how(_apply, x, refs=refs, dtype=x.dtype, meta=np.empty((0,) * x.ndim, dtype=x.dtype))


def _overlapped(f: Callable, x: Any, depth: dict, boundary: dict, backend: str) -> Any:
    import dask.array as da

    grown = tuple(tuple(c + 2 * depth[a] for c in cs) for a, cs in enumerate(x.chunks))
    refs = _kernels(f, _block_shapes(grown), backend, x.dtype)
    return da.map_overlap(_apply, x, refs=refs, depth=depth, boundary=boundary, trim=True,
                          dtype=x.dtype, meta=np.empty((0,) * x.ndim, dtype=x.dtype))


# ---------------------------------------------------------------------------------------------
# reductions of elementwise maps, as dask tree reductions


class _Plan:
    """Where the one full reduction of an array function sits in its graph, found again from
    the traced function in each process that needs it (terms do not travel; the function
    does), and the block kernels, kept per process by the plan's key."""

    def __init__(self, f: Callable, shape: tuple, dtype: str, backend: str):
        import hashlib

        from symnum.backends.dask_arrays import KernelRef

        self.f, self.shape, self.dtype, self.backend = f, shape, dtype, backend
        payload = KernelRef(f).payload
        self.key = hashlib.sha256(payload + repr((shape, dtype, backend)).encode()).hexdigest()

    def __reduce__(self) -> tuple:
        return (_Plan, (self.f, self.shape, self.dtype, self.backend))

    def parts(self) -> tuple | None:
        """(x symbol, the Reduce term, the output) or None when f is not such a function."""
        if self.key in _PARTS:
            return _PARTS[self.key]
        _PARTS[self.key] = found = self._find()
        return found

    def _find(self) -> tuple | None:
        from symnum.arrays import trace
        from symnum.arrays.ops_map import Map
        from symnum.arrays.ops_reduce import Reduce
        from symnum.arrays.terms import ArraySym, ArrayTerm
        from symnum.core.interface import arguments, iscall
        from symnum.core.traversal import postorder, substitute

        # array mode is O(1) in the size: a broadcast zero stands for the data
        fn = trace(self.f, np.broadcast_to(np.zeros((), self.dtype), self.shape), mode="array")
        if len(fn.flat_outputs) != 1 or len(fn.flat_inputs) != 1:
            return None
        (x,), (out,) = fn.flat_inputs, fn.flat_outputs
        reds = [n for n in postorder([out])
                if isinstance(n, ArrayTerm) and isinstance(n.op, Reduce)]
        if len(reds) != 1:
            return None
        red = reds[0]
        op = red.op
        if op.kind not in _COMBINE or op.keepdims or set(op.axes) != set(range(len(self.shape))):
            return None
        reads_x: set[int] = set()
        for n in postorder([red.args[0]]):  # below it: elementwise maps of x (and scalars)
            if n is x or (iscall(n) and any(id(a) in reads_x for a in arguments(n))):
                reads_x.add(id(n))
            if n is x:
                continue
            elementwise = (isinstance(n, ArrayTerm) and isinstance(n.op, Map)
                           and n.shape == self.shape)
            scalar = getattr(n, "shape", ()) == () and id(n) not in reads_x
            if not (elementwise or scalar):
                return None
        r = ArraySym("reduced", (), "float64")
        if any(n is x for n in postorder([substitute(out, {red: r})])):
            return None  # x read again above the reduction (x - mean(x), …)
        return x, red, out

    def chunk(self, block: np.ndarray, axis: Any = None, keepdims: bool = True) -> np.ndarray:
        """One block reduced by its compiled kernel, kept as a (1, …, 1) array."""
        k = _BLOCK_KERNELS.get((self.key, block.shape))
        if k is None:
            from symnum.arrays.fn import ArrayFn
            from symnum.arrays.terms import ArraySym
            from symnum.backends import lower
            from symnum.core.traversal import substitute

            with _LOWERING:
                x, red, _ = self.parts()
                b = ArraySym("blk", block.shape, self.dtype)
                k = lower(ArrayFn([b], substitute(red, {x: b})), self.backend)
                _BLOCK_KERNELS[(self.key, block.shape)] = k
        from symnum.backends.dask_arrays import _one_thread

        with _one_thread():
            v = k(np.ascontiguousarray(block))
        return np.asarray(v, dtype=float).reshape((1,) * block.ndim)

    def combine(self, parts: np.ndarray, axis: Any = None, keepdims: bool = True) -> np.ndarray:
        return _COMBINE[self.parts()[1].op.kind](parts, axis=axis, keepdims=True)

    def aggregate(self, parts: np.ndarray, axis: Any = None, keepdims: bool = False) -> Any:
        """The partial results combined, then the scalar arithmetic above the reduction."""
        from symnum.arrays import evaluate
        from symnum.arrays.terms import ArraySym
        from symnum.core.traversal import substitute

        x, red, out = self.parts()
        total = _COMBINE[red.op.kind](parts, axis=axis)
        r = ArraySym("reduced", (), "float64")
        return np.asarray(evaluate(substitute(out, {red: r}), {r: float(total)}))

    def run(self, x: Any) -> Any:
        import dask.array as da

        return da.reduction(x, self.chunk, self.aggregate, combine=self.combine, axis=None,
                            keepdims=False, dtype=np.float64, concatenate=True,
                            meta=np.empty((), np.float64))


_COMBINE = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}
_BLOCK_KERNELS: dict = {}  # (plan key, block shape) → kernel, per process
_PARTS: dict = {}  # plan key → (x, reduction, output), per process


def _reduction(f: Callable, shape: tuple, dtype: Any, backend: str) -> _Plan | None:
    plan = _Plan(f, tuple(shape), np.dtype(dtype).name, backend)
    try:
        return plan if plan.parts() is not None else None
    except Exception:  # noqa: BLE001 - f does not trace in array mode: not this path
        return None
