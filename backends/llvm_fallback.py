"""Fallbacks of the llvm backend: slower ways that still work.

Callers: numba-compiled trampolines, else ctypes, where symnum.backends.llvm_call's CPython-API
trampolines are unsupported (not CPython, a free-threaded build, numpy structs not where
expected). numba's cost ~0.3 µs a call but importing numba costs 1-2 s; ctypes ~4 µs a call.
Imports numba only when called. And primitives without a lowering: kernels call their numpy
implementation through a ctypes callback (correct, not fast).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

from symnum.errors import ShapeError

_LOCK = threading.Lock()
_MADE: dict[str, Any] = {}


def _invoke_kernel(addr, n_in, n_out, x, out):  # noqa: ANN001, ANN202 (numba-compiled)
    if x.size < n_in or out.size < n_out:
        raise ShapeError("x or out is shorter than the kernel's inputs/outputs")
    _call2(addr, x, out)


def _invoke_batched(addr, n_in, n_out, X, OUT):  # noqa: ANN001, ANN202, N803
    rows = X.shape[0]
    if X.shape[1] != n_in or OUT.shape[0] != rows or OUT.shape[1] != n_out:
        raise ShapeError("X must be (rows, n_in) and OUT (rows, n_out)")
    _call3(addr, X, OUT, rows)


_call2: Any = None
_call3: Any = None


def numba_trampolines(dtype: str) -> tuple[Any, Any] | None:
    """njit'd `(addr, n_in, n_out, x, out)` callers for one dtype (~0.3 µs per call, vs ~4 µs
    through ctypes with `.ctypes.data`); None when numba is unavailable."""
    if dtype not in _MADE:
        with _LOCK:
            if dtype not in _MADE:
                _MADE[dtype] = _make_trampolines(dtype)
    return _MADE[dtype]


def _make_trampolines(dtype: str) -> tuple[Any, Any] | None:
    try:
        import llvmlite.ir as lir
        import numba
        from numba import types
        from numba.extending import intrinsic
    except ImportError:
        return None
    global _call2, _call3
    if _call2 is None:
        def data(context: Any, builder: Any, ty: Any, value: Any) -> Any:
            return context.make_array(ty)(context, builder, value).data

        @intrinsic
        def call2(typingctx: Any, addr: Any, x: Any, out: Any) -> Any:
            def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
                xp, op = data(context, builder, sig.args[1], args[1]), \
                    data(context, builder, sig.args[2], args[2])
                fnty = lir.FunctionType(lir.VoidType(), [xp.type, op.type])
                builder.call(builder.inttoptr(args[0], fnty.as_pointer()), [xp, op])
                return context.get_dummy_value()
            return types.void(addr, x, out), codegen

        @intrinsic
        def call3(typingctx: Any, addr: Any, x: Any, out: Any, rows: Any) -> Any:
            def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
                xp, op = data(context, builder, sig.args[1], args[1]), \
                    data(context, builder, sig.args[2], args[2])
                fnty = lir.FunctionType(lir.VoidType(), [xp.type, op.type, args[3].type])
                builder.call(builder.inttoptr(args[0], fnty.as_pointer()), [xp, op, args[3]])
                return context.get_dummy_value()
            return types.void(addr, x, out, rows), codegen

        _call2, _call3 = call2, call3
    ft = getattr(types, dtype)
    sigs1, sigs2 = [], []
    for ro in (False, True):  # read-only inputs (np.broadcast_to, frozen arrays) are fine
        v, m = types.Array(ft, 1, "C", readonly=ro), types.Array(ft, 2, "C", readonly=ro)
        sigs1.append(types.void(types.intp, types.intp, types.intp, v, types.Array(ft, 1, "C")))
        sigs2.append(types.void(types.intp, types.intp, types.intp, m, types.Array(ft, 2, "C")))
    try:
        pair = (numba.njit(sigs1, nogil=True, cache=True)(_invoke_kernel),
                numba.njit(sigs2, nogil=True, cache=True)(_invoke_batched))
    except Exception:  # an exotic numba: fall back to ctypes rather than fail to compile
        pair = None
    return pair


def ctypes_trampolines(dtype: str) -> tuple[Any, Any]:
    want = np.dtype(dtype)
    k2 = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
    k3 = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)

    def check(a: np.ndarray, ndim: int, writeable: bool) -> None:
        if (not isinstance(a, np.ndarray) or a.dtype != want or a.ndim != ndim
                or not a.flags.c_contiguous or (writeable and not a.flags.writeable)):
            raise ShapeError(f"expected a C-contiguous {want} array of {ndim} dimension(s)")

    def kernel(addr: int, n_in: int, n_out: int, x: np.ndarray, out: np.ndarray) -> None:
        check(x, 1, False)
        check(out, 1, True)
        if x.size < n_in or out.size < n_out:
            raise ShapeError("x or out is shorter than the kernel's inputs/outputs")
        k2(addr)(x.ctypes.data, out.ctypes.data)

    def batched(addr: int, n_in: int, n_out: int, X: np.ndarray, OUT: np.ndarray) -> None:  # noqa: N803
        check(X, 2, False)
        check(OUT, 2, True)
        if X.shape[1] != n_in or OUT.shape != (X.shape[0], n_out):
            raise ShapeError("X must be (rows, n_in) and OUT (rows, n_out)")
        k3(addr)(X.ctypes.data, OUT.ctypes.data, X.shape[0])

    return kernel, batched


# primitives without a lowering: kernels call their numpy implementation through ctypes --------
_CALLBACKS: dict[str, Any] = {}  # symbol → ctypes callback (kept alive: kernels call it)


def callback_address(sym: str) -> int:
    """A C function calling the numpy implementation of the primitive registered under this
    fallback key (symnum.core.op.FALLBACKS). It takes the GIL per call: correct, not fast. An
    exception inside gives NaN (ctypes cannot raise through C)."""
    cb = _CALLBACKS.get(sym)
    if cb is None:
        from symnum.backends.llvm_ops import CALLBACKS, op_arity
        from symnum.backends.numba_ops import call_impl

        op, dtype = CALLBACKS[sym]
        ct = ctypes.c_double if dtype == "float64" else ctypes.c_float
        n = op_arity(op)

        def call(*args: float) -> float:
            try:
                return float(call_impl(op, *args))
            except Exception:  # noqa: BLE001  (an exception cannot cross the C frame)
                return float("nan")

        cb = _CALLBACKS[sym] = ctypes.CFUNCTYPE(ct, *[ct] * n)(call)
    return ctypes.cast(cb, ctypes.c_void_p).value
