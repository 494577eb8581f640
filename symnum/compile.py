"""`compile` and `build_function`: the pipeline trace → transform → simplify → lower, cached.

`@symnum.compile` traces on the first call of each argument signature (shapes, dtypes, pytree
structure, static values), simplifies if asked, lowers with a backend looked up by name (the
`backends` package is imported lazily, never by `import symnum`), and caches the result in memory
per signature; backends cache machine code on disk by content hash. Concurrent first calls of one
signature compile once (a lock per signature).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symnum.errors import CompileError
from symnum.tracing.fn import Fn, trace


def _backends():
    from symnum import backends

    return backends


def resolve_backend(name: str, fn: Fn) -> str:
    """"auto" → llvm (milliseconds to compile, the same LLVM code quality as numba) when it is
    registered, else the reference interpreter."""
    if name != "auto":
        return name
    return "llvm" if "llvm" in _backends().available_backends() else "numpy"


def lower(fn: Fn, backend: str = "auto", **options: Any) -> Any:
    """Lower an Fn with a backend chosen by name; returns a callable with the Fn's signature."""
    if not isinstance(fn, Fn):
        raise CompileError(f"lower() takes an Fn (from symnum.trace), got {type(fn).__name__}")
    return _backends().lower(fn, resolve_backend(backend, fn), **options)


def _simplified(fn: Fn, method: str | dict | None, backend: str = "auto") -> Fn:
    """`simplify=` of compile/build_function/vectorize: None, a method name, or a dict of
    symnum.simplify arguments. "egraph" means the CPU-cycle ruleset (fma, sin/cos pairs,
    shared factors) under the cost table of the target: the default (measured CPU latency), or
    the GPU slot."""
    if method is None or method is False:
        return fn
    from symnum.simplify import simplify

    kwargs = dict(method) if isinstance(method, dict) else {"method": method}
    if kwargs.get("method") == "egraph":
        kwargs.setdefault("ruleset", "cpu")
        if backend == "cuda":
            kwargs.setdefault("cost", "gpu")
    return simplify(fn, **kwargs)


def signature_key(args: tuple) -> tuple:
    """What a traced program depends on: pytree structure, array shapes and dtypes, statics."""
    from symnum.tracing.pytree import tree_flatten

    # fast path for the common call (arrays and Python floats): no pytree rebuilt on every call
    fast = []
    for a in args:
        if type(a) is np.ndarray:
            fast.append((a.shape, a.dtype.str))
        elif type(a) is float or type(a) is np.float64:  # the same program either way
            fast.append(((), "<f8"))
        else:
            break
    else:
        return ("flat", tuple(fast))
    leaves, td = tree_flatten(args)
    sig = []
    for leaf in leaves:
        if isinstance(leaf, np.ndarray) or isinstance(leaf, (bool, int, float, complex,
                                                             np.number, np.bool_)):
            a = np.asarray(leaf)
            sig.append(("a", a.shape, a.dtype.str))
        else:
            sig.append(("s", type(leaf).__name__, repr(leaf)))
    return (td, tuple(sig))


class _Entry:
    __slots__ = ("lock", "compiled")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.compiled: Any = None


class CompiledFunction:
    """A Python function compiled per argument signature. Call it like the function.

    `.lower(*args)` returns the backend's compiled object for such arguments (with `.source`,
    `.fn`, `.info`); `.source` / `.fn` show the most recent one.
    """

    def __init__(self, f: Callable, *, backend: str = "auto", simplify: str | dict | None = None,
                 make_fn: Callable[[tuple], Fn] | None = None, **options: Any):
        if not callable(f):
            raise TypeError(f"compile() needs a callable, got {type(f).__name__}")
        self._f = f
        self._backend = backend
        self._simplify = dict(simplify) if isinstance(simplify, dict) else simplify
        self._options = options
        self._make_fn = make_fn or (lambda args: trace(f, *args))
        self._entries: dict = {}
        self._lock = threading.Lock()
        self._last: Any = None
        self.__name__ = getattr(f, "__name__", "compiled")
        self.__doc__ = getattr(f, "__doc__", None)
        self.__wrapped__ = f

    def lower(self, *args: Any) -> Any:
        key = signature_key(args)
        entry = self._entries.get(key)  # the hit path takes no lock (dict reads are atomic)
        if entry is not None and entry.compiled is not None:
            self._last = entry.compiled
            return entry.compiled
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
        if entry.compiled is None:
            with entry.lock:  # one compile per signature, however many threads ask at once
                if entry.compiled is None:
                    fn = _simplified(self._make_fn(args), self._simplify, self._backend)
                    entry.compiled = lower(fn, self._backend, **self._options)
        self._last = entry.compiled
        return entry.compiled

    def __call__(self, *args: Any) -> Any:
        return self.lower(*args)(*args)

    @property
    def source(self) -> str:
        if self._last is None:
            raise CompileError("nothing compiled yet: call the function (or .lower(*args)) first")
        return getattr(self._last, "source", "")

    @property
    def fn(self) -> Fn:
        if self._last is None:
            raise CompileError("nothing compiled yet: call the function (or .lower(*args)) first")
        return self._last.fn

    def __repr__(self) -> str:
        return f"<symnum.compile of {self.__name__!r} backend={self._backend!r}>"


def compile(f: Callable | None = None, *, backend: str = "auto", simplify: str | dict | None = None,
            **options: Any) -> Any:
    """Compile a numpy-style function (decorator or call): trace it on the first call of each
    argument signature (shapes, dtypes, pytree structure), optionally simplify, lower, cache.

    backend:
        "auto" (default): "llvm" when llvmlite is installed, else "numpy".
        "llvm": LLVM IR through llvmlite; milliseconds to compile, an on-disk object cache.
        "numba": Python source compiled by numba (cached by numba); also sn.vectorize's default.
        "cuda": numba-cuda kernels (a GPU, or the simulator with NUMBA_ENABLE_CUDASIM=1).
        "numpy": the reference interpreter (symnum.evaluate); nothing to compile.
    simplify: None (default), "rules", "egraph", or a dict of symnum.simplify arguments
        (e.g. {"method": "egraph", "ruleset": ...}).
    options (passed to the backend):
        cache_dir: where compiled kernels are cached (default: the user's symnum cache).
        fastmath (llvm, numba, cuda): allow reassociation and no-NaN assumptions (off: numpy's
            results bit for bit where the libm agrees).
        dtype (llvm, numba): "float64" (default) or "float32".
        shard (llvm): instructions per generated function (default 250; None: one function).
        parallel (llvm): run batches on several threads (None: decided by the work size).
        opt / ir_opt (llvm): LLVM optimisation levels of code generation and of the IR passes.

    >>> import numpy as np, symnum as sn
    >>> @sn.compile(backend="numpy")
    ... def rhs(u, p):
    ...     return p * u**2 - u
    >>> rhs(np.array([1.0, 2.0]), 3.0)
    array([ 2., 10.])
    """
    def wrap(g: Callable) -> CompiledFunction:
        from symnum.transforms import Transformed

        if isinstance(g, Transformed):  # sn.compile(sn.grad(f)): compile the transformed Fn
            return CompiledFunction(g, backend=backend, simplify=simplify,
                                    make_fn=lambda args: g.fn(*args), **options)
        return CompiledFunction(g, backend=backend, simplify=simplify, **options)

    return wrap if f is None else wrap(f)


def build_function(outputs: Any, *inputs: Any, backend: str = "auto",
                   simplify: str | dict | None = None, names: Sequence[str] | None = None,
                   **options: Any) -> Any:
    """Compile expressions over given inputs (symbols or symbolic arrays, one per argument).

    Array outputs return `(out_of_place, in_place)` as Symbolics.jl does: `oop(*args)` allocates,
    `iip(out, *args)` writes into `out`. A SparseJacobian returns one function computing its
    values in the fixed (rows, cols) order, with `.rows`, `.cols`, `.shape` and `.csr(*args)`.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> f = sn.build_function(x * y + 1, x, y, backend="numpy")
    >>> float(f(2.0, 3.0))
    7.0
    """
    from symnum.autodiff.sparsity import SparseJacobian

    if isinstance(outputs, SparseJacobian):
        values = np.empty(len(outputs.values), dtype=object)
        values[:] = outputs.values
        fn = Fn(inputs, values, names)
        return SparseFunction(lower(_simplified(fn, simplify, backend), backend, **options),
                              outputs)
    fn = _simplified(Fn(inputs, outputs, names), simplify, backend)
    compiled = lower(fn, backend, **options)
    if isinstance(outputs, np.ndarray) and outputs.ndim > 0:
        return compiled, InPlace(compiled)
    return compiled


def vectorize(f: Callable | None = None, *, backend: str = "numba",
              simplify: str | dict | None = None, **options: Any) -> Any:
    """Compile a scalar function into an array kernel with numpy's broadcasting and dtype
    rules (float32 in, float32 out), parallel over large arrays.

    >>> import numpy as np, symnum as sn
    >>> @sn.vectorize
    ... def f(x, y):
    ...     return np.exp(-x * x) * y
    >>> f(np.zeros(3), 2.0).tolist()
    [2.0, 2.0, 2.0]
    """
    import inspect

    def wrap(g: Callable) -> Any:
        params = [p for p in inspect.signature(g).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
        fn = _simplified(trace(g, *([1.0] * len(params))), simplify, backend)
        be = _backends().get_backend(backend)
        if be.elementwise is None:
            raise CompileError(f"backend '{backend}' has no elementwise kernels; use 'numba' or "
                               "'cuda'")
        return be.elementwise(fn, **options)

    return wrap if f is None else wrap(f)


class InPlace:
    """`iip(out, *args)`: evaluate an array-output kernel into a preallocated array."""

    def __init__(self, compiled: Any):
        self.compiled = compiled

    def __call__(self, out: np.ndarray, *args: Any) -> np.ndarray:
        c = self.compiled
        kernel = getattr(c, "kernel", None)
        if (kernel is not None and len(args) == 1 and type(args[0]) is np.ndarray
                and getattr(c, "_one_in", False) and args[0].shape == c._shapes[0]
                and args[0].dtype == c.dtype and args[0].flags.c_contiguous
                and out.dtype == c.dtype and out.flags.c_contiguous and out.size == c.n_out):
            kernel(args[0].reshape(-1), out.reshape(-1))  # the common case, without packing
            return out
        call_into = getattr(self.compiled, "call_into", None)
        if (call_into is not None and out.flags.c_contiguous
                and out.dtype == getattr(self.compiled, "dtype", None)):
            call_into(out.reshape(-1), *args)  # a view: the kernel writes straight into `out`
            return out
        out[...] = self.compiled(*args)
        return out


class SparseFunction:
    """Values of a sparse Jacobian, compiled: `f(*args)` → values in (rows, cols) order."""

    def __init__(self, compiled: Any, J: Any):
        self.compiled = compiled
        self.rows, self.cols, self.shape = J.rows, J.cols, J.shape
        order = np.lexsort((self.cols, self.rows))
        self._csr_order = order
        counts = np.bincount(self.rows, minlength=self.shape[0])
        self._indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._indices = self.cols[order].astype(np.int64)

    @property
    def source(self) -> str:
        return getattr(self.compiled, "source", "")

    def __call__(self, *args: Any) -> np.ndarray:
        return np.asarray(self.compiled(*args))

    def csr(self, *args: Any):
        """The Jacobian as a scipy.sparse CSR matrix with a fixed structure."""
        import scipy.sparse as sp

        vals = self(*args)[self._csr_order]
        return sp.csr_matrix((vals, self._indices.copy(), self._indptr.copy()), shape=self.shape)
