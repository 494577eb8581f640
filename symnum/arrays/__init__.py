"""Symbolic arrays: O(1) array terms (one term per array operation, whatever the size).

Sits above symnum.core, symnum.tracing and symnum.io, below autodiff and compile. Array symbols,
constant arrays (one term each), elementwise maps over scalar IR, reductions, index maps and
contractions; numpy code traces into them (`trace(f, x)`: mode="auto", the default, gives array
terms for array inputs, symnum.arrays.auto says when it does not), the reference
interpreter evaluates them (one numpy call per operation) and `scalarize` turns them into arrays
of scalar terms on demand.
"""

from __future__ import annotations

import symnum.arrays.numpy_api as _numpy_api
import symnum.arrays.printing as _printing
from symnum.arrays.auto import SCALARIZE_LIMIT, ScalarFallbackWarning
from symnum.arrays.fn import ArrayFn, array_symbol, evaluate, trace, trace_arrays
from symnum.arrays.scalarize import scalarize
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym, ArrayTerm

_numpy_api.install()
ArrayExpr.__str__ = lambda self: _printing.to_str(self)
ArrayExpr.__repr__ = lambda self: _printing.to_str(self)
ArrayExpr._repr_latex_ = lambda self: f"${_printing.to_latex(self)}$"

__all__ = ["SCALARIZE_LIMIT", "ArrayConst", "ArrayExpr", "ArrayFn", "ArraySym", "ArrayTerm",
           "ScalarFallbackWarning", "array_symbol", "evaluate", "scalarize", "trace",
           "trace_arrays"]
