"""Second- and higher-order transforms with JAX's and SymPy's names: hvp, hessian, derivative,
taylor, laplacian (each on an Fn, a Python function, or, with an ArrayFn / mode="array", on
array terms without scalarising), and the expression-level forms that share those names.

Beside symnum.transforms (same layer), built from its lifting machinery; nothing here evaluates
derivatives numerically by itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import symnum.autodiff.taylor as T
from symnum.autodiff import ad, array_jvp, array_taylor
from symnum.autodiff import array_transforms as AT
from symnum.core.terms import Sym
from symnum.errors import ShapeError
from symnum.tracing.fn import Fn
from symnum.transforms import (
    _argnums,
    _array_mode,
    _fill_like,
    _fresh_like,
    _lift,
    _lift_array,
    _scalar_output,
    _syms_of,
    check_function,
)


def hvp(f: Any, argnums: int = 0, mode: str = "scalar") -> Any:
    """The Hessian-vector product ∇²f(x)·v, forward over reverse, never the n×n Hessian: a
    function of (*args, v) with v shaped like argument `argnums` (the result too).

    >>> import numpy as np, symnum as sn
    >>> sn.hvp(lambda x: np.sum(x ** 3), mode="array")(np.array([1.0, 2.0]), np.ones(2))
    array([ 6., 12.])
    """
    if not isinstance(argnums, int):
        raise TypeError("hvp differentiates with respect to one argument (an int argnums)")
    if _array_mode(f, mode):
        return _lift_array(f, lambda fn: array_jvp.hvp_fn(fn, argnums), "hvp",
                           lambda args: args[:-1])

    def make(fn: Fn) -> Fn:
        out = _scalar_output(fn, "hvp")
        x = fn.inputs[_argnums(fn, argnums)[0]]
        wrt = _syms_of(x)
        v = _fresh_like(x, "direction")
        g = ad.vjp_terms([out], wrt, [1])
        hv = ad.jvp_terms(g, wrt, _syms_of(v))
        return Fn(fn.inputs + (v,), _fill_like(x, hv), fn.names + ("v",))

    return _lift(f, make, "hvp", lambda args: args[:-1])


def hessian_fn(f: Any, argnums: int = 0, mode: str = "scalar") -> Any:
    """Hessian of a scalar-output function (forward over reverse); shape in + in. An ArrayFn or
    mode="array": the batched forward Jacobian of the array gradient (materialises n²; hvp
    does not)."""
    if _array_mode(f, mode):
        return _lift_array(f, lambda fn: AT.hessian_fn(fn, argnums), "hessian")
    def make(fn: Fn) -> Fn:
        out = _scalar_output(fn, "hessian")
        x = fn.inputs[_argnums(fn, argnums)[0]]
        wrt = _syms_of(x)
        H = ad.hessian(out, wrt)
        shape = np.shape(x)
        return fn.with_outputs(H.reshape(shape + shape) if shape else H[0, 0])

    return _lift(f, make, "hessian")


def derivative(f: Any, order: int = 1, argnums: int = 0, mode: str = "scalar") -> Any:
    """The order-th derivative of a scalar function of a scalar argument, by one Taylor jet
    (O(order²) work, where nested first-order AD can grow like 2^order).

    >>> import symnum as sn
    >>> d3 = sn.derivative(lambda x: sn.sin(2 * x), order=3)
    >>> float(d3(0.0))
    -8.0

    An ArrayFn or mode="array": one jet through the array terms (symnum.autodiff.array_taylor);
    outputs may then be arrays (each entry differentiated).
    """
    if _array_mode(f, mode):
        return _lift_array(f, lambda fn: array_taylor.derivative_fn(fn, order, argnums),
                           "derivative")

    def make(fn: Fn) -> Fn:
        out = _scalar_output(fn, "derivative")
        x = fn.inputs[_argnums(fn, argnums)[0]]
        if not isinstance(x, Sym):
            raise ShapeError("derivative needs a scalar argument; use taylor() along a direction")
        return fn.with_outputs(T.nth_derivative(out, x, order))

    return _lift(f, make, "derivative")


def taylor_fn(f: Any, order: int, argnums: int = 0, mode: str = "scalar") -> Any:
    """The jet transform: an Fn of (*inputs, direction) whose outputs are the Taylor
    coefficients [c₀ … c_order] (each shaped like the outputs) of t ↦ f(x + t·direction).
    An ArrayFn or mode="array": jets through the array terms (symnum.autodiff.array_taylor)."""
    if _array_mode(f, mode):
        return _lift_array(f, lambda fn: array_taylor.taylor_fn(fn, order, argnums), "taylor",
                           lambda args: args[:-1])
    def make(fn: Fn) -> Fn:
        a = _argnums(fn, argnums)[0]
        direction = _fresh_like(fn.inputs[a], "direction")
        seeds = {x: [x, v] for x, v in zip(_syms_of(fn.inputs[a]), _syms_of(direction))}
        jets = T.jet_terms(fn.flat_outputs, seeds, order)
        coeffs = [fn.with_flat_outputs([j[k] for j in jets]).outputs for k in range(order + 1)]
        return Fn(fn.inputs + (direction,), coeffs, fn.names + ("direction",))

    return _lift(f, make, "taylor", lambda args: args[:-1])


def laplacian_fn(f: Any, argnums: int = 0, method: str = "exact", samples: int = 16,
                 rng: Any = None, mode: str = "scalar") -> Any:
    """Laplacian of a scalar-output function: exact (one second-order jet per variable) or the
    unbiased stochastic estimator (`method="stochastic"`, `samples` random directions). An
    ArrayFn or mode="array": one batched jet through the array terms (all n unit directions,
    or the samples, as a leading axis; symnum.autodiff.array_taylor)."""
    if method not in ("exact", "stochastic"):
        raise ValueError(f"method must be 'exact' or 'stochastic', got {method!r}")
    if _array_mode(f, mode):
        return _lift_array(f, lambda fn: array_taylor.laplacian_fn(fn, argnums, method,
                                                                   samples, rng), "laplacian")

    def make(fn: Fn) -> Fn:
        out = _scalar_output(fn, "laplacian")
        xs = _syms_of(fn.inputs[_argnums(fn, argnums)[0]])
        if method == "exact":
            return fn.with_outputs(T.laplacian(out, xs))
        return fn.with_outputs(T.stochastic_laplacian(out, xs, samples, rng=rng))

    return _lift(f, make, "laplacian")


# ---------------------------------------------------------------------------------------------
# public names shared by the expression level and the function level (dispatch on the argument)


def _function_level(f: Any) -> bool:
    return callable(f)  # Fn and Python functions; terms and arrays of terms are not callable


def hessian(f: Any, xs: Any = None, argnums: int = 0, mode: str = "scalar") -> Any:
    """`hessian(e, xs)`: the symbolic Hessian matrix of an expression; `hessian(f)`: the
    function-level transform (see hessian_fn). Both forward over reverse."""
    if _function_level(f) and xs is None:
        return hessian_fn(f, argnums, mode)
    if xs is None:
        check_function(f, "hessian")
    return ad.hessian(f, xs)


def taylor(f: Any, x: Any = None, order: int | None = None, argnums: int = 0,
           mode: str = "scalar") -> Any:
    """`taylor(e, x, order)`: coefficient expressions [c₀ … c_order] of e around x;
    `taylor(f, order=k)`: the jet transform of a function (see taylor_fn)."""
    if _function_level(f):
        k = order if order is not None else x
        if not isinstance(k, int):
            raise TypeError("taylor(f, order=k) needs an int order")
        return taylor_fn(f, k, argnums, mode)
    if order is None:
        raise TypeError("taylor(e, x, order) needs the order")
    return T.taylor(f, x, order)


def laplacian(f: Any, xs: Any = None, **kwargs: Any) -> Any:
    """`laplacian(e, xs)`: the exact symbolic Laplacian of an expression; `laplacian(f,
    method="exact"|"stochastic", samples=...)`: the function-level transform."""
    if _function_level(f) and xs is None:
        return laplacian_fn(f, **kwargs)
    if xs is None:
        check_function(f, "laplacian")
    if kwargs.get("method", "exact") == "stochastic":
        return T.stochastic_laplacian(f, xs, kwargs.get("samples", 16), rng=kwargs.get("rng"))
    return T.laplacian(f, xs)
