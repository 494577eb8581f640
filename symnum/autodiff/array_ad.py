"""Reverse mode on array programs (issue 11): an ArrayFn → an ArrayFn, without scalarising.

One walk over the reverse topological order of the mixed DAG (array terms and the scalar terms
among them), accumulating adjoint contributions per node and summing them once, when the walk
reaches the node — as symnum.autodiff.ad does for scalars. Array operations take their VJP rules
from symnum.autodiff.array_rules; scalar terms (scalar inputs, and arithmetic on them) their Op
blocks' partials. The result is an ordinary array program: O(number of operations) terms,
independent of the arrays' sizes; it evaluates with the reference interpreter and compiles to
loop nests like any ArrayFn. Never evaluates or compiles anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import symnum.core.primitives as P
from symnum.arrays.fn import ArrayFn
from symnum.arrays.ops_map import elementwise
from symnum.arrays.terms import ArrayExpr, ArraySym, ArrayTerm
from symnum.autodiff.array_rules import arr, scalar_vjp, vjp_rule, zeros
from symnum.core._gc import no_gc
from symnum.core.interface import iscall
from symnum.core.terms import Const, Expr, Sym
from symnum.core.traversal import postorder
from symnum.errors import ShapeError

_DIFF = ("float64", "float32")


def _children(n: Any) -> list:
    if isinstance(n, ArrayExpr):
        return list(n.args) if isinstance(n, ArrayTerm) else []
    from symnum.autodiff.ad import dependencies

    return dependencies(n)


def _total(cs: list) -> Any:
    if len(cs) == 1:
        return cs[0]
    return elementwise(lambda *a: P.add(*a), cs, "adjoint sum")


@no_gc
def vjp_arrays(outputs: Sequence[Any], wrt: Sequence[Any], cotangents: Sequence[Any]) -> list:
    """Σᵢ cotangentᵢ · ∂outputᵢ/∂w for each w in `wrt` (ArraySym or Sym), by one reverse sweep.

    Each result has w's shape (a 0-d array term for a scalar w).

    >>> import numpy as np
    >>> from symnum.arrays.terms import ArraySym
    >>> from symnum.arrays.evaluate import evaluate_array
    >>> x = ArraySym("x", (3,))
    >>> (g,) = vjp_arrays([np.sum(x ** 2)], [x], [1.0])
    >>> evaluate_array(g, {"x": np.arange(3.0)})
    array([0., 2., 4.])
    """
    for w in wrt:
        if not isinstance(w, (ArraySym, Sym)):
            raise TypeError(f"can only differentiate with respect to input symbols, got "
                            f"{type(w).__name__} ({w})")
    order = postorder(list(outputs), _children)
    active = {id(w) for w in wrt}
    for n in order:
        if getattr(n, "dtype", "float64") in _DIFF or isinstance(n, Expr):
            if any(id(a) in active for a in _children(n)):
                active.add(id(n))
    contribs: dict[int, list] = {}
    for o, ct in zip(outputs, cotangents):
        if id(o) in active:
            if not isinstance(ct, (ArrayExpr, Expr)):
                ct = Const(ct) if np.ndim(ct) == 0 else arr(np.asarray(ct, dtype=float))
            if isinstance(ct, ArrayExpr) and ct.shape != getattr(o, "shape", ()):
                raise ShapeError(f"a cotangent of shape {ct.shape} for an output of shape "
                                 f"{getattr(o, 'shape', ())}")
            contribs.setdefault(id(o), []).append(ct)
    for n in reversed(order):
        cs = contribs.get(id(n))
        if not cs or not iscall(n):
            continue
        ct = _total(cs)
        contribs[id(n)] = [ct]
        if isinstance(n, ArrayTerm):
            act = [id(a) in active for a in n.args]
            for a, adj in zip(n.args, vjp_rule(n)(n, ct, act)):
                if adj is not None and id(a) in active:
                    contribs.setdefault(id(a), []).append(adj)
        else:
            for a, adj in scalar_vjp(n, ct, active):
                contribs.setdefault(id(a), []).append(adj)
    out = []
    for w in wrt:
        cs = contribs.get(id(w))
        shape = w.shape if isinstance(w, ArraySym) else ()
        r = _total(cs) if cs else zeros(shape)
        out.append(arr(r) if not isinstance(r, ArrayExpr) else r)
    return out


def _syms(leaf_tree: Any) -> list:
    from symnum.tracing.pytree import tree_flatten

    leaves, _ = tree_flatten(leaf_tree)
    return [v for v in leaves if isinstance(v, (ArraySym, Sym))]


def _argnums(fn: ArrayFn, argnums: Any) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -len(fn.inputs) <= a < len(fn.inputs):
            raise ShapeError(f"argnums {a} is out of range for a function of "
                             f"{len(fn.inputs)} inputs")
    return tuple(a % len(fn.inputs) for a in nums)


def _grad_parts(fn: ArrayFn, argnums: Any, what: str) -> tuple[Any, Any]:
    outs = fn.flat_outputs
    if len(outs) != 1 or fn.out_shapes != [()]:
        raise ShapeError(f"{what} needs a function with one scalar output, got output shapes "
                         f"{fn.out_shapes}; use vjp_fn for array outputs")
    nums = _argnums(fn, argnums)
    wrt = [s for a in nums for s in _syms(fn.inputs[a])]
    parts = fill_symbols([fn.inputs[a] for a in nums], vjp_arrays(outs, wrt, [1.0]))
    return outs[0], parts[0] if isinstance(argnums, int) else tuple(parts)


_KEEP = object()


def fill_symbols(trees: list, values: list, other: Any = _KEEP) -> list:
    """Each input tree with its symbol leaves replaced, in order, by `values` (one per symbol
    across all trees: a gradient, a cotangent, a Jacobian block), its other leaves kept (or
    set to `other`)."""
    from symnum.tracing.pytree import tree_flatten, tree_unflatten

    it = iter(values)
    out = []
    for tree in trees:
        leaves, td = tree_flatten(tree)
        out.append(tree_unflatten(td, [next(it) if isinstance(v, (ArraySym, Sym))
                                       else (v if other is _KEEP else other) for v in leaves]))
    return out


def grad_fn(fn: ArrayFn, argnums: Any = 0) -> ArrayFn:
    """The gradient of a scalar-output ArrayFn as an ArrayFn of the same inputs.

    >>> import numpy as np
    >>> from symnum.arrays.fn import trace
    >>> f = trace(lambda x: np.sum(x[1:] * x[:-1]), np.zeros(4), mode="array")
    >>> grad_fn(f)(np.arange(4.0))
    array([1., 2., 4., 2.])
    """
    return fn.with_outputs(_grad_parts(fn, argnums, "grad")[1])


def value_and_grad_fn(fn: ArrayFn, argnums: Any = 0) -> ArrayFn:
    """(value, gradient) in one ArrayFn: the reverse sweep shares the primal's subterms."""
    return fn.with_outputs(_grad_parts(fn, argnums, "value_and_grad"))


def vjp_fn(fn: ArrayFn) -> ArrayFn:
    """The VJP program: an ArrayFn of (*inputs, *cotangents of the outputs) → input cotangents
    (one per symbolic input leaf, in pytree order)."""
    outs = fn.flat_outputs
    cts = [ArraySym(f"cotangent({i})", o.shape, "float64") if isinstance(o, ArrayExpr) else
           Sym(f"cotangent({i})", "float64") for i, o in enumerate(outs)]
    g = vjp_arrays(outs, fn.flat_inputs, cts)
    return ArrayFn(tuple(fn.inputs) + (tuple(cts),), tuple(g),
                   tuple(fn.names) + ("cotangents",))
