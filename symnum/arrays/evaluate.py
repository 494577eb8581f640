"""The reference interpreter for array programs: one numpy call per array operation.

One pass over the mixed DAG (array terms and scalar terms) in topological order; an array
operation runs its `impl` (a Map evaluates its scalar body with numpy over whole arrays), a
scalar primitive its Op's `impl`. This is the oracle the loop backends are tested against, so it
stays simple; floating-point warnings are silenced as compiled kernels raise none.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Const, Sym
from symnum.core.traversal import postorder
from symnum.errors import DTypeError, ShapeError, TracingError


def _leaf_value(n: Any, env: Mapping) -> Any:
    if isinstance(n, ArrayConst):
        return n.value
    if isinstance(n, Const):
        v = n.value
        return float(v) if isinstance(v, Fraction) else v
    key = n if n in env else getattr(n, "name", None)
    if key is None or key not in env:
        raise TracingError(f"no value given for symbol {getattr(n, 'name', n)!r}; add it to "
                           "the environment")
    v = env[key]
    if isinstance(n, ArraySym):
        a = np.asarray(v)
        if a.shape != n.shape:
            raise ShapeError(f"the value for {n.name!r} has shape {a.shape}; the array symbol "
                             f"has shape {n.shape}")
        if a.dtype.kind not in "biuf":
            raise DTypeError(f"the value for {n.name!r} has dtype {a.dtype}, not a number")
        return a
    if isinstance(n, Sym):
        return v
    raise TracingError(f"cannot evaluate a leaf of type {type(n).__name__}")


def eval_array_terms(roots: list, env: Mapping) -> list:
    """Values of several (array or scalar) terms, sharing one pass over their DAG."""
    vals: dict[int, Any] = {}
    with np.errstate(all="ignore"):
        for n in postorder(roots):
            if iscall(n):
                vals[id(n)] = operation(n).impl(*[vals[id(a)] for a in arguments(n)])
            else:
                vals[id(n)] = _leaf_value(n, env)
    return [_finish(r, vals[id(r)]) for r in roots]


def _finish(r: Any, v: Any) -> Any:
    if isinstance(r, ArrayExpr):
        a = np.array(v, dtype=r.dtype)  # a private, writable copy in the declared dtype
        return a if a.ndim else a[()]
    return v


def evaluate_array(e: Any, env: Mapping | None = None) -> Any:
    """Evaluate an array term (or a scalar term over array terms) with numpy.

    >>> import numpy as np
    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (3,))
    >>> float(evaluate_array((x * 2).sum(), {"x": np.arange(3.0)}))
    6.0
    """
    return eval_array_terms([e], env or {})[0]

