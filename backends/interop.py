"""Compiled kernels without Python in the loop: a C function pointer, a ctypes prototype, a
function numba-compiled code can call, and a `scipy.LowLevelCallable` for scipy's quadrature.

Every kernel has the C signature `void kernel(T *x, T *out)` (T = double or float: all inputs
flat in `x`, all outputs flat in `out`, in `Fn.flat_inputs` / `Fn.flat_outputs` order). The llvm
backend's kernels are such functions already; the numba backend's get a `numba.cfunc` wrapper,
compiled the first time an address is asked for. Nothing here traces or lowers an Fn: it wraps
kernels the backends built, and each wrapper keeps its Compiled (and so the machine code) alive.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from symnum.errors import CompileError, ShapeError

_CTYPES = {"float64": ctypes.c_double, "float32": ctypes.c_float}


def _numba() -> Any:
    try:
        import numba
    except ImportError as e:  # pragma: no cover - numba is a dependency
        raise CompileError(f"this needs numba ({e}); pip install numba") from e
    return numba


def address(c: Any) -> int:
    """The kernel as a C function `void kernel(T *x, T *out)`: its address."""
    addr = getattr(c, "_address", None)
    if addr is None:
        if c.backend != "numba":
            raise CompileError(f"the {c.backend!r} backend gives no C function pointer; use "
                               "backend='llvm' or 'numba'")
        cf = _numba_cfunc(c)
        c._cfunc = cf  # keeps the wrapper's machine code alive with the Compiled
        addr = c._address = cf.address
    return int(addr)


def _numba_cfunc(c: Any) -> Any:
    numba = _numba()
    from numba import types

    ft = getattr(types, c.dtype.name)
    kernel, n_in, n_out = c.kernel, c.n_in, c.n_out

    def ckernel(xp, op):  # noqa: ANN001, ANN202 (numba-compiled)
        kernel(numba.carray(xp, (n_in,)), numba.carray(op, (n_out,)))

    return numba.cfunc(types.void(types.CPointer(ft), types.CPointer(ft)))(ckernel)


def ctypes_function(c: Any) -> Any:
    """A ctypes function `(POINTER(T) x, POINTER(T) out) -> None` calling the kernel."""
    t = _CTYPES[c.dtype.name]
    proto = ctypes.CFUNCTYPE(None, ctypes.POINTER(t), ctypes.POINTER(t))
    fn = proto(address(c))
    fn._symnum_compiled = c  # the machine code lives as long as the Compiled
    return fn


def numba_function(c: Any) -> Any:
    """A function `k(x, out)` (contiguous 1-d arrays of the kernel's dtype) that code compiled
    with `numba.njit` can call; called from Python it works too, through numba's dispatch."""
    fn = getattr(c, "_numba_fn", None)
    if fn is not None:
        return fn
    numba = _numba()
    n_in, n_out = c.n_in, c.n_out
    if c.backend == "numba":
        kernel = c.kernel  # an njit dispatcher already

        def k(x, out):  # noqa: ANN001, ANN202 (numba-compiled)
            if x.size < n_in or out.size < n_out:
                raise ShapeError("x or out is shorter than the kernel's inputs/outputs")
            kernel(x, out)
    elif c.backend == "llvm":
        # the llvm backend hands over its call intrinsic (importing it here would be a circle)
        call2, addr = getattr(c, "_call2", None), address(c)
        if call2 is None:
            raise CompileError("numba could not build the llvm kernel's trampoline")

        def k(x, out):  # noqa: ANN001, ANN202 (numba-compiled; addr is a compile-time constant)
            if x.size < n_in or out.size < n_out:
                raise ShapeError("x or out is shorter than the kernel's inputs/outputs")
            call2(addr, x, out)
    else:
        raise CompileError(f"the {c.backend!r} backend has no numba-callable kernel; use "
                           "backend='llvm' or 'numba'")
    fn = c._numba_fn = numba.njit(nogil=True)(k)
    fn._symnum_compiled = c
    return fn


def low_level_callable(c: Any) -> Any:
    """The kernel as `scipy.LowLevelCallable` with the signature `double (int, double *, void
    *)` that scipy.integrate.quad / nquad take: x[0] the integration variable, the rest the
    `args=` values, one scalar output."""
    import scipy

    if c.n_out != 1 or c.dtype != np.float64:
        raise ShapeError(f"quad integrates a float64 kernel with one scalar output; this one "
                         f"has {c.n_out} outputs of {c.dtype}")
    numba = _numba()
    from numba import types

    k, n_in = numba_function(c), c.n_in

    def integrand(n, xx, user_data):  # noqa: ANN001, ANN202 (numba-compiled)
        out = np.empty(1)
        k(numba.carray(xx, (n_in,)), out)
        return out[0]

    sig = types.float64(types.intc, types.CPointer(types.float64), types.voidptr)
    cf = numba.cfunc(sig)(integrand)
    llc = scipy.LowLevelCallable(cf.ctypes)
    c._llc_cfunc = cf  # alive as long as the Compiled
    return llc
