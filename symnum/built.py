"""What `build_function` returns beside plain compiled kernels: the in-place form of an array
function (Symbolics.jl's `iip`) and sparse Jacobian functions with their CSR structure.

Thin wrappers over a compiled kernel; used by symnum.compile and nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symnum.errors import ShapeError


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
        self._identity_order = bool(np.array_equal(order, np.arange(len(order))))
        dt = getattr(compiled, "dtype", None)
        self._buffer = np.empty(len(order), dtype=dt) if dt is not None else None

    @property
    def source(self) -> str:
        return getattr(self.compiled, "source", "")

    def __call__(self, *args: Any) -> np.ndarray:
        return np.asarray(self.compiled(*args))

    def csr_structure(self) -> Any:
        """A new scipy.sparse CSR matrix with this Jacobian's structure and zero values: build
        it once, then refill it per call with `csr(*args, out=A)`."""
        import scipy.sparse as sp

        data = np.zeros(len(self.rows), dtype=getattr(self.compiled, "dtype", np.float64))
        A = sp.csr_matrix((data, self._indices.copy(), self._indptr.copy()), shape=self.shape)
        A.has_sorted_indices = True  # lexsorted by (row, col): no sort pass later
        return A

    def csr(self, *args: Any, out: Any = None) -> Any:
        """The Jacobian as a scipy.sparse CSR matrix with a fixed structure; with `out` (from
        `csr_structure()`), its values are written into `out.data` in place and `out` returned
        — no matrix, index array or value array allocated per call."""
        if out is None:
            A = self.csr_structure()
            A.data[:] = np.asarray(self(*args))[self._csr_order]
            return A
        data = out.data
        if (out.shape != self.shape or data.shape != (len(self.rows),)
                or out.indptr.shape != self._indptr.shape):
            raise ShapeError(f"out must be a CSR matrix from csr_structure() ({self.shape}, "
                             f"{len(self.rows)} entries), got {out.shape} with {data.size}")
        call_into = getattr(self.compiled, "call_into", None)
        if self._identity_order and call_into is not None and data.flags.c_contiguous \
                and data.dtype == self.compiled.dtype:
            call_into(data, *args)  # the kernel writes the values straight into the matrix
            return out
        buf = self._buffer
        if buf is None or call_into is None:
            np.take(np.asarray(self(*args)), self._csr_order, out=data)
            return out
        call_into(buf, *args)
        gather = getattr(self.compiled, "gather_into", None)  # a compiled permutation loop
        if gather is not None and data.flags.c_contiguous and data.dtype == buf.dtype:
            gather(data, buf, self._csr_order)
        else:
            np.take(buf, self._csr_order, out=data)
        return out
