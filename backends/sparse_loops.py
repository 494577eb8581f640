"""Sparse Jacobian values of array programs → one numba loop kernel that fills a caller's array.

The values are one array program (symnum.autodiff.array_sparse_jacobian: the coefficient
blocks side by side, or one gather out of colour-compressed JVPs); its loop nests come from the
numba array backend (backends.numba_arrays / array_loops, called, not changed). The only thing
added here is the in-place form: the kernel takes the values array as its first argument and
writes into it (a CSR matrix's `data` refilled per call allocates nothing), which is what
symnum.built.SparseFunction's `call_into` needs. Never imported by `import symnum`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from symnum.backends.kernel_cache import default_cache_dir, load_module, source_key
from symnum.backends.numba_arrays import _signature, arg_values, generate

from symnum.arrays.terms import ArraySym, ArrayTerm
from symnum.core.terms import Sym
from symnum.errors import CompileError, ShapeError
from symnum.tracing.pytree import tree_flatten


def _into_source(src: str, name: str, shape: tuple) -> str | None:
    """The generated kernel rewritten to fill `out` (flat) instead of allocating `name`;
    None when the source does not have the one allocation this expects."""
    alloc = f"    {name} = np.empty("
    lines = src.split("\n")
    hits = [k for k, ln in enumerate(lines) if ln.startswith(alloc)]
    defs = [k for k, ln in enumerate(lines) if ln.startswith("def kernel(")]
    if len(hits) != 1 or len(defs) != 1:
        return None
    lines[hits[0]] = f"    {name} = out.reshape({shape!r})"
    params = lines[defs[0]][len("def kernel("):]
    lines[defs[0]] = "def kernel(out, " + params if params != "):" else "def kernel(out):"
    return "\n".join(lines)


class SparseValuesKernel:
    """`k(*args)` → the values (flat, in the Jacobian's (rows, cols) order); `k.call_into(out,
    *args)` writes them into `out` (float64, C-contiguous, one entry per non-zero)."""

    def __init__(self, fn: Any, kernel: Any, consts: tuple, into: bool, source: str, info: dict):
        self.fn, self.kernel, self._consts, self._into = fn, kernel, consts, into
        self.source, self.info = source, info
        self.backend = "numba"
        self.dtype = np.dtype(np.float64)
        self.size = int(fn.flat_outputs[0].size)
        self._specs = []
        for leaf in tree_flatten(fn.inputs)[0]:
            if isinstance(leaf, ArraySym) and leaf.shape:
                self._specs.append(("a", leaf.shape, np.dtype(leaf.dtype), leaf.name))
            elif isinstance(leaf, (Sym, ArraySym)):  # a 0-d array symbol is a scalar argument
                self._specs.append(("s", (), np.dtype(leaf.dtype), leaf.name))
            else:
                self._specs.append(("static", leaf, None, None))

    def _args(self, args: tuple) -> list:
        return arg_values(self._specs, tree_flatten(args)[0], self.fn, len(args),
                          "the Jacobian's values take")

    def call_into(self, out: np.ndarray, *args: Any) -> np.ndarray:
        if out.shape != (self.size,) or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ShapeError(f"out must be a C-contiguous float64 array of {self.size} entries, "
                             f"got {out.dtype} of shape {out.shape}")
        if len(args) == 1 and len(self._specs) == 1:  # the common call, fewest checks
            v = args[0]
            spec = self._specs[0]
            if type(v) is np.ndarray and v.dtype is spec[2] and v.shape == spec[1] \
                    and v.flags.c_contiguous and self._into:
                self.kernel(out, v, *self._consts)
                return out
        vals = self._args(args)
        if self._into:
            self.kernel(out, *vals, *self._consts)
        else:
            out[:] = np.asarray(self.kernel(*vals, *self._consts)).reshape(-1)
        return out

    def __call__(self, *args: Any) -> np.ndarray:
        return self.call_into(np.empty(self.size), *args)

    @staticmethod
    def gather_into(out: np.ndarray, values: np.ndarray, order: np.ndarray) -> np.ndarray:
        """out[q] = values[order[q]] (the values in CSR order): a compiled loop, about 3x
        np.take's time (benchmarks/results_issue11.md)."""
        _gather()(out, values, order)
        return out

    def __repr__(self) -> str:
        return f"<SparseValuesKernel numba, {self.size} values>"


_GATHER: list = []


def _gather() -> Any:
    """The permutation loop, compiled once per process (float64 values, int64 order)."""
    if not _GATHER:
        import numba

        @numba.njit("void(float64[::1], float64[::1], int64[::1])", nogil=True,
                    error_model="numpy")
        def gather(out, values, order):  # pragma: no cover - numba compiles it
            for q in range(out.shape[0]):
                out[q] = values[order[q]]

        _GATHER.append(gather)
    return _GATHER[0]


def lower_sparse_values(fn: Any, *, fastmath: bool = False, cache_dir: Any = None,
                        **options: Any) -> SparseValuesKernel:
    """Compile an ArrayFn with one output (the flat values of a sparse Jacobian) into a numba
    kernel that fills a given array."""
    import numba

    if options:
        raise CompileError(f"unknown option(s) for sparse Jacobian values: {', '.join(options)}")
    (out,) = fn.flat_outputs
    t0 = time.perf_counter()
    src, gen = generate(fn, fastmath, False)
    name = gen.names.get(id(out)) if isinstance(out, ArrayTerm) else None
    patched = _into_source(src, name, out.shape) if name else None
    into = patched is not None
    src = patched if into else src
    key = source_key(src)
    try:
        mod, hit = load_module(src, key, cache_dir)
        if not mod.kernel.signatures:
            sig = _signature(fn, gen.consts)
            if into:
                sig = (numba.types.Array(numba.float64, 1, "C"),) + sig
            mod.kernel.compile(sig)
            mod.kernel.disable_compile()
    except Exception as e:  # noqa: BLE001  (numba's errors, reported with the source's path)
        path = f"{cache_dir or default_cache_dir()}/{key}.py"
        raise CompileError(f"numba could not compile the sparse Jacobian's value loops "
                           f"({type(e).__name__}: {e}); the generated source is {path}") from e
    info = {"module": key, "cache_hit": hit, "in_place": into,
            "compile_seconds": time.perf_counter() - t0}
    return SparseValuesKernel(fn, mod.kernel, tuple(c.value for c in gen.consts), into, src,
                              info)
