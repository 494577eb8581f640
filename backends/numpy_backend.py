"""The `numpy` backend: the reference interpreter (`symnum.evaluate`) behind a kernel's signature.

It compiles nothing, so it is the oracle every other backend is compared with; it must stay a thin
wrapper over `symnum.core.evaluate` and never grow optimisations of its own.
"""

from __future__ import annotations

from typing import Any

from symnum.backends import Backend

from symnum.errors import CompileError


class NumpyKernel:
    """An Fn bound to the reference interpreter: `kernel(*args)` equals `fn(*args)`.

    >>> import numpy as np, symnum as sn
    >>> k = NumpyKernel(sn.trace(lambda x, y: x * y, 2.0, 3.0))
    >>> float(k(2.0, 3.0))
    6.0
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn.evaluate(args)  # Fn or ArrayFn: the reference interpreter

    def __repr__(self) -> str:
        return f"NumpyKernel({self.fn!r})"


def lower(fn: Any, **options: Any) -> NumpyKernel:
    """Bind `fn` (an Fn from `symnum.tracing`) to the reference interpreter.

    >>> import numpy as np, symnum as sn
    >>> lower(sn.trace(lambda x: x + 1, np.zeros(2)))(np.array([1.0, 2.0]))
    array([2., 3.])
    """
    from symnum.arrays.fn import ArrayFn
    from symnum.tracing.fn import Fn

    if options:
        raise CompileError(
            f"the numpy backend takes no options, got {', '.join(sorted(options))}; remove them "
            "or choose a backend that has them"
        )
    if not isinstance(fn, (Fn, ArrayFn)):
        raise CompileError(
            f"the numpy backend lowers an Fn (from symnum.trace), got {type(fn).__name__}; trace "
            "the function first, or call symnum.evaluate(expr, env) for a bare expression"
        )
    return NumpyKernel(fn)


BACKEND = Backend("numpy", lower, "reference interpreter (symnum.evaluate); compiles nothing",
                  checks_options=True)
