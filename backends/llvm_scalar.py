"""The stack-only entry for llvm kernels of float64 scalars with one scalar output.

`entry(addr, a0, ..., a{k-1}) -> float`: an njit'd function per arity whose inputs and output live
on the machine stack (no arrays allocated), so calling such a kernel from Python costs about one
numba dispatch. Used by the generated dispatchers (symnum.backends.dispatch); imports numba only
when first asked for.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


MAX_SCALAR_ARGS = 6


def scalar_entry() -> Any:
    """`.get(k)` → an njit'd `entry(addr, a0, ..., a{k-1}) -> float` for float64 kernels of
    scalars only and one scalar output: the inputs and the output live on the machine stack
    (no arrays allocated), so a call from Python costs about one numba dispatch. None without
    numba."""
    if "scalar_entry" in _STATE:
        return _STATE["scalar_entry"]
    with _LOCK:
        if "scalar_entry" not in _STATE:
            _STATE["scalar_entry"] = _make_scalar_entry()
    return _STATE["scalar_entry"]


def _make_scalar_entry() -> Any:
    try:
        import llvmlite.ir as lir
        import numba
        from numba import types
        from numba.extending import intrinsic
    except ImportError:
        return None

    @intrinsic
    def call_scalars(typingctx: Any, addr: Any, args: Any) -> Any:
        if not isinstance(args, types.BaseTuple) or not all(
                isinstance(t, (types.Float, types.Integer)) for t in args):
            return None

        def codegen(context: Any, builder: Any, sig: Any, llargs: Any) -> Any:
            f64 = lir.DoubleType()
            n = len(sig.args[1])
            xs = builder.alloca(f64, size=lir.Constant(lir.IntType(64), max(n, 1)))
            out = builder.alloca(f64)
            for i, ty in enumerate(sig.args[1]):
                v = builder.extract_value(llargs[1], i)
                v = context.cast(builder, v, ty, types.float64)
                builder.store(v, builder.gep(xs, [lir.Constant(lir.IntType(64), i)]))
            fnty = lir.FunctionType(lir.VoidType(), [f64.as_pointer(), f64.as_pointer()])
            builder.call(builder.inttoptr(llargs[0], fnty.as_pointer()), [xs, out])
            return builder.load(out)

        return types.float64(addr, args), codegen

    # one function per arity (numba's *args packing costs ~0.4 µs a call), each compiled on
    # first use with an explicit float64 signature
    return _ScalarEntries(numba, types, call_scalars)


class _ScalarEntries:
    """k → the njit'd scalar entry of arity k (1..MAX_SCALAR_ARGS), built on first request."""

    def __init__(self, numba: Any, types: Any, call_scalars: Any):
        self._numba, self._types, self._call = numba, types, call_scalars
        self._made: dict[int, Any] = {}

    def get(self, k: int) -> Any:
        if not 1 <= k <= MAX_SCALAR_ARGS:
            return None
        f = self._made.get(k)
        if f is None:
            with _LOCK:
                f = self._made.get(k)
                if f is None:
                    names = ", ".join(f"a{i}" for i in range(k))
                    g = {"call_scalars": self._call}
                    exec(f"def entry{k}(addr, {names}):\n"  # noqa: S102
                         f"    return call_scalars(addr, ({names},))\n", g)
                    t = self._types
                    sig = t.float64(t.intp, *([t.float64] * k))
                    try:
                        f = self._numba.njit([sig], nogil=True)(g[f"entry{k}"])
                    except Exception:  # noqa: BLE001  (the array path still works)
                        f = False
                    self._made[k] = f
        return f or None
