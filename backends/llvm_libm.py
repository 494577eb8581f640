"""The math libraries llvm kernels call: libm's scalar functions and glibc's libmvec vector
variants, found through ctypes and handed to the JIT by address. Never compiles anything."""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Any

from symnum.backends.llvm_ir import libm_symbols


def libm_addresses() -> dict[str, int]:
    """Addresses of the libm functions kernels call, handed to the JIT explicitly."""
    def names():  # ctypes.util (~10 ms to import) only where the usual names fail
        yield from (["libm.so.6", "libm.dylib"] if sys.platform != "win32"
                    else ["ucrtbase.dll", "msvcrt.dll"])
        if sys.platform != "win32":
            import ctypes.util

            yield ctypes.util.find_library("m")

    for name in names():
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        found = {}
        for dtype in ("float64", "float32"):
            for sym in libm_symbols(dtype):
                try:
                    found[sym] = ctypes.cast(getattr(lib, sym), ctypes.c_void_p).value
                except AttributeError:
                    pass
        return found
    return {}  # the JIT then resolves symbols through the process itself


@functools.cache
def libmvec() -> Any:
    """glibc's vector math library (ctypes handle), or None (not glibc, or glibc < 2.35)."""
    lib = None
    if sys.platform.startswith("linux"):
        for name in ("libmvec.so.1", "libmvec.so"):
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                continue
            # tan, tanh, log1p, … arrived in glibc 2.35; older libmvec: scalar libm instead
            if lib is not None and not hasattr(lib, "_ZGVdN4v_tanh"):
                lib = None
            if lib is not None:
                break
    return lib
