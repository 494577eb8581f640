"""scalarize: array terms → today's arrays of scalar terms (SymArray), on demand.

The bridge from the O(1) array form to every scalar-only stage (small systems, per-element
sparsity): each array operation instantiates its elements by its own `scalarize` (the same numpy
call on object arrays, or its body per element). This is the one place where cost grows with the
number of elements, by design.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Const
from symnum.core.traversal import postorder
from symnum.tracing.protocols import SymArray
from symnum.tracing.symbols import symarray


def leaf_elements(n: ArrayExpr) -> np.ndarray:
    """The scalar terms of an array leaf: `x[0], x[1], …` for a symbol (the names scalar-mode
    tracing gives), Const entries for a constant."""
    if isinstance(n, ArraySym):
        if n.shape == ():
            from symnum.core.terms import Sym

            a = np.empty((), dtype=object)
            a[()] = Sym(n.name, n.dtype)
            return a
        return np.asarray(symarray(n.name, n.shape, n.dtype), dtype=object)
    if isinstance(n, ArrayConst):
        out = np.empty(n.shape, dtype=object)
        for idx, v in np.ndenumerate(n.value):
            out[idx] = Const(v.item())
        return out
    raise TypeError(f"not an array leaf: {type(n).__name__}")


def scalarize_many(roots: list, leaves: dict | None = None) -> list:
    """Element arrays (object ndarrays; 0-d for scalars) of several terms, one shared pass.

    `leaves` may map array leaves to element arrays of your choice (default: leaf_elements).
    """
    leaves = leaves or {}
    elems: dict[int, np.ndarray] = {}
    for n in postorder(roots):
        if isinstance(n, ArrayExpr):
            if iscall(n):
                r = operation(n).scalarize([elems[id(a)] for a in arguments(n)])
                r = np.asarray(r, dtype=object)
                if r.shape != n.shape:  # pragma: no cover - an op's scalarize disagrees
                    raise AssertionError(f"{operation(n)} scalarized to {r.shape}, not {n.shape}")
                elems[id(n)] = r
            else:
                elems[id(n)] = leaves[n] if n in leaves else leaf_elements(n)
        else:  # a scalar term (symbol, constant or call): one element
            a = np.empty((), dtype=object)
            a[()] = n
            elems[id(n)] = a
    return [elems[id(r)] for r in roots]


def scalarize(e: Any, leaves: dict | None = None) -> Any:
    """An array term as a SymArray of scalar terms (a 0-d term as one scalar term).

    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (3,))
    >>> print(scalarize((x[1:] - x[:-1]).sum()))
    x[2] - x[0]
    """
    (r,) = scalarize_many([e], leaves)
    return r[()] if r.ndim == 0 else np.asarray(r, dtype=object).view(SymArray)
