"""Symbolic arrays through scipy's array-API coercion (`xp_promote` / `_asarray(subok=True)`).

scipy's own functions — `scipy.optimize.rosen`, `rosen_der`, `rosen_hess_prod` and many more —
begin with `xp_promote(x, xp=np)`, which calls `np.asanyarray(x, subok=True)`. An array term
cannot become an ndarray, so array mode refused them and a user's `sn.grad(rosen)` fell back to
one term per element. Here, and only for that caller, `__array__` returns a *carrier*: an
ndarray subclass whose every numpy operation (ufuncs, array functions, indexing, methods) is
done on the symbolic array it carries, so the rest of scipy's code builds array terms.

The carrier's own buffer is one NaN seen through zero strides (no memory per element): were
anything to read it as data, the result would be NaN, never a plausible number. Conversions
from anywhere else still raise the TracingError that says what to do.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

# (module, function) of the callers allowed a carrier: scipy's array-API coercion helper
_CALLERS = {("scipy._lib._array_api", "_asarray")}


def carrier_allowed(depth: int = 2) -> bool:
    """Whether `__array__` was called by scipy's array-API coercion with subok=True."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return False
    code = frame.f_code
    mod = frame.f_globals.get("__name__", "")
    return (mod, code.co_name) in _CALLERS and frame.f_locals.get("subok") is True


def _unwrap(v: Any) -> Any:
    if type(v) is Carrier:
        return v.sym
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(a) for a in v)
    if isinstance(v, dict):
        return {k: _unwrap(a) for k, a in v.items()}
    return v


class Carrier(np.ndarray):
    """An ndarray standing for a symbolic array inside scipy's array-API code."""

    sym: Any

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in _META:  # shape and dtype questions: the carrier has the answers
            return super().__array_function__(func, types, args, kwargs)
        return func(*_unwrap(args), **_unwrap(kwargs))

    def __getitem__(self, key: Any) -> Any:
        return self.sym[_unwrap(key)]

    def __getattr__(self, name: str) -> Any:  # methods ndarray lacks: the term's own
        return getattr(object.__getattribute__(self, "sym"), name)

    def __repr__(self) -> str:
        return f"Carrier({self.sym})"

    # ndarray methods that would read the (NaN) buffer: the symbolic array's instead
    def _forward(name: str):  # noqa: N805 - a factory run at class creation
        def method(self: Carrier, *args: Any, **kwargs: Any) -> Any:
            return getattr(self.sym, name)(*_unwrap(args), **_unwrap(kwargs))
        method.__name__ = name
        return method

    for _name in ("sum", "prod", "max", "min", "mean", "reshape", "transpose", "astype",
                  "ravel", "flatten", "dot", "clip", "cumsum", "cumprod", "std", "var",
                  "squeeze", "swapaxes", "take", "copy", "__len__", "__iter__", "__bool__",
                  "__float__", "__int__", "__index__", "tolist", "item"):
        locals()[_name] = _forward(_name)
    del _name, _forward

    @property
    def T(self) -> Any:  # noqa: N802 - numpy's name
        return self.sym.T


# numpy functions that read only shapes and dtypes (never the buffer)
_META = {np.result_type, np.shape, np.ndim, np.size, np.iscomplexobj, np.isrealobj,
         np.min_scalar_type, np.can_cast}


def carrier(sym: Any, dtype: Any = None) -> Carrier:
    """A carrier of `sym` (shape and dtype as the symbolic array's)."""
    dt = np.dtype(dtype if dtype is not None else sym.dtype)
    base = np.full((), np.nan, dtype=dt) if dt.kind in "fc" else np.zeros((), dtype=dt)
    c = np.broadcast_to(base, sym.shape).view(Carrier)
    c.sym = sym if dtype is None or np.dtype(sym.dtype) == dt else sym.astype(dt)
    return c
