"""mode="auto", the default trace mode: array terms for array inputs, scalar terms where needed.

Sits in symnum.arrays (above tracing, below autodiff/compile). Three decisions live here, each
in one function, so every entry point (sn.trace, sn.compile, grad, ...) makes them the same way:

* `choose_mode(examples)`: array inputs (an ndarray with ndim >= 1 anywhere in the example
  pytrees) trace to array terms; numbers-only programs trace to scalar terms (the two forms are
  the same there, and scalar Fns have every feature).
* `trace_auto`: trace to array terms; where the array tracer meets something an array term
  cannot represent (item assignment `y[i] = v` into a traced array, `np.add.at`, a numpy
  function without an array rule, Python control flow on element values, ...) trace the same
  function again in scalar mode, the old path. A fallback on large inputs (more than
  FALLBACK_WARN elements) warns with `ScalarFallbackWarning`: scalar tracing costs about a
  millisecond per element. mode="array" keeps the array tracer's typed error instead.
* `needs_elements(fn, what)`: a consumer that works on elements (the llvm and CUDA backends,
  sparse Jacobians, Taylor series, sympy export, ...) given an ArrayFn scalarizes it when the
  scalarized program is small (at most SCALARIZE_LIMIT array elements, summed over the
  program's array terms) and refuses a larger one with a SizeLimitError that names the fixes.

Never compiles and never imports the backends.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symnum.arrays.terms import ArrayExpr
from symnum.core.traversal import postorder
from symnum.errors import SizeLimitError, SymnumError
from symnum.tracing.pytree import tree_flatten

# At most this many array elements (summed over the array terms of a program, constants
# included) are scalarized silently for a consumer that needs elements. Scalar terms cost about
# a millisecond each to trace, simplify and lower (issue 10's figures), so this bounds that
# detour at a few seconds; larger programs stay arrays (numba loop nests) or get an error.
SCALARIZE_LIMIT = 4096

# A scalar-mode fallback on inputs with more elements than this warns (it takes seconds).
FALLBACK_WARN = 10_000

MODES = ("auto", "array", "scalar")


class ScalarFallbackWarning(UserWarning):
    """A large array program was traced in scalar mode (one term per element) because the array
    tracer could not represent it; the message says what it met."""


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise ValueError(f"trace mode must be 'auto', 'array' or 'scalar', got {mode!r}")
    return mode


def _is_symbolic_leaf(v: Any) -> bool:
    from symnum.core.terms import Expr

    return isinstance(v, (Expr, ArrayExpr)) or (isinstance(v, np.ndarray) and v.dtype == object)


def array_elements_in(examples: Any) -> int:
    """Elements of the numeric ndarrays (ndim >= 1) among example arguments; -1 if any leaf is
    symbolic (a transform tracing through: those are scalar-mode arguments)."""
    leaves, _ = tree_flatten(tuple(examples))
    n = 0
    for v in leaves:
        if _is_symbolic_leaf(v):
            return -1
        if isinstance(v, np.ndarray) and v.ndim >= 1:
            n += v.size
    return n


def choose_mode(examples: Any, kwargs: dict | None = None) -> str:
    """"array" when the examples hold a numeric array (ndim >= 1) and nothing symbolic, else
    "scalar". Keyword examples trace in scalar mode (array mode takes positions only)."""
    if kwargs:
        return "scalar"
    return "array" if array_elements_in(examples) > 0 else "scalar"


def trace_auto(trace_array: Callable, trace_scalar: Callable, fn: Callable, examples: tuple,
               names: Sequence[str] | None, kwargs: dict) -> Any:
    """Array terms where they can represent the program, else the scalar-mode Fn."""
    if choose_mode(examples, kwargs) == "scalar":
        return trace_scalar(fn, *examples, names=names, **kwargs)
    try:
        return trace_array(fn, *examples, names=names)
    except Exception as array_error:  # noqa: BLE001  (any failure: the scalar tracer decides)
        # the scalar tracer is the old, complete path: what it cannot trace is an error of the
        # program. Its error is the one to report when typed (or the user's own exception);
        # a raw numpy error there yields to the array tracer's typed one (which names shapes
        # and the operation)
        try:
            out = trace_scalar(fn, *examples, names=names)
        except Exception as scalar_error:
            if isinstance(array_error, SymnumError) and type(scalar_error) in _RAW:
                raise array_error from None
            raise
        n = array_elements_in(examples)
        if n > FALLBACK_WARN:
            warnings.warn(
                f"traced in scalar mode (one term per element, {n} input elements): the array "
                f"tracer met {type(array_error).__name__}: {array_error} — rewrite that part "
                "with array operations (np.where, np.concatenate, ...) to keep the program O(1), "
                "or pass mode='scalar' to say this is meant", ScalarFallbackWarning, stacklevel=4)
        return out


# numpy's own exception types, raised bare (a typed symnum error subclasses them)
_RAW = (ValueError, TypeError, IndexError)


def array_elements(fn: Any) -> int:
    """Elements summed over every array term of an ArrayFn (or list of roots): about the number
    of scalar terms `scalarize` would build."""
    roots = fn.flat_outputs if hasattr(fn, "flat_outputs") else list(fn)
    total = 0
    for n in postorder(roots):
        if isinstance(n, ArrayExpr):
            total += n.size
            inner = getattr(getattr(n, "op", None), "inner_roots", None)
            if inner is not None:  # a loop's body is scalarized with it (symnum.loops.arrays)
                total += array_elements(inner())
    return total


def is_array_fn(fn: Any) -> bool:
    """An ArrayFn (symnum.arrays.fn imports this module, so the test is by its interface: array
    programs scalarize, scalar Fns do not)."""
    return callable(getattr(fn, "scalarize", None)) and hasattr(fn, "flat_outputs")


def needs_elements(fn: Any, what: str, limit: int | None = None) -> Any:
    """`fn` as a scalar Fn for a consumer that works on elements (`what` names it): an ArrayFn
    is scalarized when small, refused with a SizeLimitError when large; anything else passes."""
    if not is_array_fn(fn):
        return fn
    limit = SCALARIZE_LIMIT if limit is None else limit
    n = array_elements(fn)
    if n > limit:
        raise SizeLimitError(
            f"{what} works on scalar elements, and this array program has {n} array elements "
            f"(more than symnum.arrays.auto.SCALARIZE_LIMIT = {limit}), too many to scalarize "
            "silently. Use the numba backend (backend='numba' or 'auto': loop nests over the "
            "array terms), call fn.scalarize() yourself if the scalar program is really "
            "wanted, or trace with mode='scalar'")
    return fn.scalarize()


def scalar_fallback(fn: Any, what: str, error: Exception | None = None) -> Any:
    """The scalar program of an ArrayFn for a stage that has no array form (or whose array
    rules refused it: `error`): scalarized, with a ScalarFallbackWarning when it is large."""
    if not is_array_fn(fn):
        return fn
    n = array_elements(fn)
    if n > FALLBACK_WARN:
        why = f" (the array form failed: {type(error).__name__}: {error})" if error else ""
        warnings.warn(f"{what} scalarized an array program of {n} array elements{why}; this "
                      "costs about a millisecond per element", ScalarFallbackWarning,
                      stacklevel=3)
    return fn.scalarize()
