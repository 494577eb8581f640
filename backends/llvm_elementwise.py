"""`symnum.vectorize(f, backend="llvm")`: a scalar Fn over arrays through the llvm backend's
batched kernel — numpy broadcasting, float32 stays float32, SIMD rows and libmvec
transcendentals with `vecmath=True` / `fastmath=True`, threads for large arrays.

The arrays become the batched kernel's (rows, n_in) block (no copy for one contiguous input) and
its (rows, n_out) result is returned as one array per output. Kernels are compiled per dtype on
first use. Knows nothing of LLVM: it is handed the backend's `lower`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from symnum.errors import CompileError


class Elementwise:
    """`e(*arrays)` → the Fn's outputs, elementwise over the broadcast arrays."""

    def __init__(self, fn: Any, lower: Callable[..., Any], options: dict):
        if any(shape != () for shape in fn.out_shapes) or \
                any(np.shape(leaf) != () for leaf in fn.flat_inputs):
            raise CompileError("elementwise kernels need scalar inputs and outputs; got output "
                               f"shapes {fn.out_shapes}")
        self.fn, self._lower, self._options = fn, lower, dict(options)
        self._compiled: dict[str, Any] = {}

    def compiled(self, dtype: str) -> Any:
        """The backend's Compiled for one dtype (compiled on first use)."""
        c = self._compiled.get(dtype)
        if c is None:
            c = self._compiled[dtype] = self._lower(self.fn, dtype=dtype, **self._options)
        return c

    @property
    def source(self) -> str:
        return self.compiled("float64").source

    def __reduce__(self) -> tuple:
        """Pickled by graph (the Fn and the options), never the compiled kernels: lowered
        again on first use after unpickling (from the disk cache when warm)."""
        return (Elementwise, (self.fn, self._lower, self._options))

    def __call__(self, *args: Any) -> Any:
        from symnum.backends import dask_arrays

        from symnum.tracing.pytree import tree_unflatten

        if dask_arrays.any_dask(args):  # lazy: one task per block
            return dask_arrays.elementwise(self, args)

        n_in = len(self.fn.flat_inputs)
        if len(args) != n_in:
            raise CompileError(f"this kernel takes {n_in} arguments, got {len(args)}")
        arrays = [np.asarray(a) for a in args]
        weak = [type(a) in (bool, int, float) for a in args]  # numpy's rules, as numba's ufuncs
        dt = (np.result_type(*[a if w else arr for a, arr, w in zip(args, arrays, weak)],
                             np.float32) if not all(weak) else np.dtype(np.float64))
        dtype = "float32" if dt == np.float32 else "float64"
        shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        rows = math.prod(shape)
        if n_in == 1:
            X = np.ascontiguousarray(arrays[0], dtype=dtype).reshape(rows, 1)
        else:
            X = np.empty((rows, n_in), dtype=dtype)
            for j, a in enumerate(arrays):
                X[:, j] = np.broadcast_to(a, shape).reshape(-1)
        c = self.compiled(dtype)
        n_out = len(self.fn.flat_outputs)
        OUT = np.empty((rows, n_out), dtype=dtype)
        if rows:
            c.batched(X, OUT)
        outs = [(OUT.reshape(shape) if n_out == 1 else
                 np.ascontiguousarray(OUT[:, k]).reshape(shape)) for k in range(n_out)]
        outs = [o[()] if shape == () else o for o in outs]
        return tree_unflatten(self.fn.out_tree, outs)
