"""Compiling expressions (not Python functions): `build_function` over given inputs, as
Symbolics.jl's, and `vectorize`, a scalar function as a numpy-broadcasting array kernel.

Beside symnum.compile (same layer), through symnum.lowering (`_lower_simplified`); imports the
backends lazily, as compile does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symnum.arrays.fn import ArrayFn, trace_sized
from symnum.arrays.terms import ArrayExpr, ArraySym
from symnum.built import InPlace, SparseFunction
from symnum.errors import CompileError
from symnum.lowering import _backends, _lower_simplified, _simplified
from symnum.lowering_options import check_elementwise_options, check_options
from symnum.tracing.fn import Fn


def build_function(outputs: Any, *inputs: Any, backend: str = "auto",
                   simplify: str | dict | None = None, names: Sequence[str] | None = None,
                   **options: Any) -> Any:
    """Compile expressions over given inputs (symbols or symbolic arrays, one per argument).

    Array outputs return `(out_of_place, in_place)` as Symbolics.jl does: `oop(*args)` allocates,
    `iip(out, *args)` writes into `out`. A SparseJacobian returns one function computing its
    values in the fixed (rows, cols) order, with `.rows`, `.cols`, `.shape` and `.csr(*args)`.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> f = sn.build_function(x * y + 1, x, y, backend="numpy")
    >>> float(f(2.0, 3.0))
    7.0
    """
    from symnum.autodiff.array_sparse_jacobian import ArraySparseJacobian
    from symnum.autodiff.sparsity import SparseJacobian
    check_options(backend, options, "build_function")
    if isinstance(outputs, ArraySparseJacobian):  # an array program's: values as loops
        from symnum.backends.sparse_loops import lower_sparse_values

        if backend not in ("auto", "numba"):
            raise CompileError(f"the sparse Jacobian of an array program compiles with the "
                               f"numba backend ('auto' or 'numba'), not {backend!r}")
        vfn = _simplified(ArrayFn(inputs, outputs.values, names), simplify, "numba")
        return SparseFunction(lower_sparse_values(vfn, **options), outputs)
    if isinstance(outputs, SparseJacobian):
        values = np.empty(len(outputs.values), dtype=object)
        values[:] = outputs.values
        fn = Fn(inputs, values, names)
        return SparseFunction(_lower_simplified(fn, simplify, backend, options), outputs)
    from symnum.tracing.pytree import tree_flatten

    if any(isinstance(v, ArraySym) for v in tree_flatten(inputs)[0]) or any(
            isinstance(v, ArrayExpr) for v in tree_flatten(outputs)[0]):
        # an array program: one kernel, arrays out
        return _lower_simplified(ArrayFn(inputs, outputs, names), simplify, backend, options)
    compiled = _lower_simplified(Fn(inputs, outputs, names), simplify, backend, options)
    if isinstance(outputs, np.ndarray) and outputs.ndim > 0:
        return compiled, InPlace(compiled)
    return compiled


def vectorize(f: Callable | None = None, *, backend: str = "numba",
              simplify: str | dict | None = None, **options: Any) -> Any:
    """Compile a scalar function into an array kernel with numpy's broadcasting and dtype
    rules (float32 in, float32 out), parallel over large arrays.

    >>> import numpy as np, symnum as sn
    >>> @sn.vectorize
    ... def f(x, y):
    ...     return np.exp(-x * x) * y
    >>> f(np.zeros(3), 2.0).tolist()
    [2.0, 2.0, 2.0]
    """
    import inspect

    def wrap(g: Callable) -> Any:
        params = [p for p in inspect.signature(g).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
        fn = _simplified(trace_sized(g, *([1.0] * len(params))), simplify, backend)
        be = _backends().get_backend(backend)
        if be.elementwise is None:
            raise CompileError(f"backend '{backend}' has no elementwise kernels; use 'numba' or "
                               "'cuda'")
        check_elementwise_options(be.elementwise, backend, options)
        return be.elementwise(fn, **options)

    return wrap if f is None else wrap(f)
