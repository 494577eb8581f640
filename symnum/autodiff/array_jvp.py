"""Forward mode on array programs (issue 11): JVP rules per array operation, the forward sweep,
and the Hessian-vector product as forward over reverse — all without scalarising.

A JVP rule takes (node, tangents) — one tangent per argument, None where the argument does not
depend on the inputs — and returns the node's tangent (same shape). Linear index maps apply
themselves to the tangent; maps take Σⱼ ∂body/∂_j · ṫⱼ from the Op blocks (the same partials as
reverse mode); contractions are bilinear. Sits in the autodiff layer beside array_rules (the
VJPs); never evaluates anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import symnum.core.primitives as P
from symnum.arrays.fn import ArrayFn
from symnum.arrays.ops_gather import Take
from symnum.arrays.ops_index import (
    BroadcastTo,
    Concatenate,
    Index,
    Pad,
    Reshape,
    Roll,
    Transpose,
    broadcast_to,
    reshape,
)
from symnum.arrays.ops_map import Map, elementwise, from_body, placeholder
from symnum.arrays.ops_reduce import Contract, Reduce, Scan, einsum, reduce
from symnum.arrays.ops_segment import SegmentScan
from symnum.arrays.terms import ArraySym, ArrayTerm, shape_of
from symnum.autodiff import ad
from symnum.autodiff.array_ad import _children, _grad_parts, _syms
from symnum.autodiff.array_rules import arr, body_partials, reuse_output, zeros
from symnum.autodiff.array_scan_rules import scan_jvp, segment_jvp
from symnum.core._gc import no_gc
from symnum.core.interface import iscall
from symnum.core.terms import Expr, Sym
from symnum.core.traversal import postorder
from symnum.errors import MissingRuleError, ShapeError


def _map(n, ts):
    parts = body_partials(n.op)
    terms = []
    for d, t in zip(parts, ts):
        if t is None:
            continue
        operands = list(n.args)
        d = reuse_output(n, d, operands)
        body = P.mul(placeholder(len(operands), "float64"), d)
        terms.append(from_body(body, operands + [t], "jvp of a map", n.shape))
    return _sum(terms, n.shape)


def _sum(terms: list, shape: tuple) -> Any:
    if not terms:
        return zeros(shape)
    r = terms[0] if len(terms) == 1 else elementwise(lambda *a: P.add(*a), terms, "tangent sum")
    return r if shape_of(r) == shape else broadcast_to(arr(r), shape)


def _linear(n, ts):
    """An index map (or sum, cumsum, take): the same operation on the tangent."""
    t = ts[0]
    return n.op.rebuild((arr(t),) + tuple(n.args[1:]))


def _pad(n, ts):
    return ArrayTerm(Pad(n.op.widths, 0.0), (arr(ts[0]),))


def _reduce(n, ts):
    (x,), (t,) = n.args, ts
    op = n.op
    if op.kind == "sum":
        return _linear(n, ts)
    kshape = tuple(1 if j in op.axes else s for j, s in enumerate(x.shape))
    yk = n if op.keepdims else reshape(n, kshape)
    if op.kind == "prod":
        w = elementwise(lambda y, v, s: P.div(P.mul(y, s), v), [yk, x, arr(t)], "jvp prod")
    else:
        hit = elementwise(lambda v, y: P.ifelse(P.eq(v, y), 1.0, 0.0), [x, yk], "jvp max")
        cnt = reduce("sum", hit, op.axes, keepdims=True)
        w = elementwise(lambda h, s, m: P.div(P.mul(h, s), m), [hit, arr(t), cnt], "jvp max")
    return reduce("sum", w, op.axes, op.keepdims)


def _scan(n, ts):
    if n.op.kind != "sum":  # cumprod, cummax, cummin
        return scan_jvp(n, arr(ts[0]))
    return _linear(n, ts)


def _segment(n, ts):
    if ts[0] is None:  # only the start mask varies: zero derivative
        return zeros(n.shape)
    return segment_jvp(n, arr(ts[0]))


def _contract(n, ts):
    terms = []
    for k, t in enumerate(ts):
        if t is not None:
            args = list(n.args)
            args[k] = arr(t)
            terms.append(einsum(n.op.spec, *args))
    return _sum(terms, n.shape)


def _concatenate(n, ts):
    parts = [arr(t) if t is not None else zeros(a.shape) for a, t in zip(n.args, ts)]
    return ArrayTerm(Concatenate(n.op.axis), tuple(parts))


JVP_RULES = {Map: _map, Reduce: _reduce, Scan: _scan, SegmentScan: _segment,
             Contract: _contract, Index: _linear,
             Take: _linear, Roll: _linear, Transpose: _linear, Reshape: _linear,
             BroadcastTo: _linear, Concatenate: _concatenate, Pad: _pad}


def _scalar_jvp(n: Expr, tan: dict) -> Any:
    terms = [elementwise(P.mul, [d, tan[id(a)]], "jvp of a scalar")
             for a, d in ad.local_partials(n) if id(a) in tan]
    return _sum(terms, ())


@no_gc
def jvp_arrays(outputs: Sequence[Any], wrt: Sequence[Any], tangents: Sequence[Any]) -> list:
    """Σⱼ ∂outputᵢ/∂wⱼ · tangentⱼ for each output, by one forward sweep (array terms)."""
    for w, t in zip(wrt, tangents):
        if not isinstance(w, (ArraySym, Sym)):
            raise TypeError(f"can only differentiate with respect to input symbols, got "
                            f"{type(w).__name__} ({w})")
        if shape_of(t) != shape_of(w):
            raise ShapeError(f"a tangent of shape {shape_of(t)} for an input of shape "
                             f"{shape_of(w)}")
    order = postorder(list(outputs), _children)
    tan: dict[int, Any] = {id(w): t for w, t in zip(wrt, tangents)}
    for n in order:
        if id(n) in tan or not iscall(n):
            continue
        if getattr(n, "dtype", "float64") not in ("float64", "float32"):
            continue
        kids = _children(n)
        if not any(id(a) in tan for a in kids):
            continue
        if isinstance(n, ArrayTerm):
            rule = JVP_RULES.get(type(n.op))
            if rule is None:
                raise MissingRuleError(f"no JVP rule for the array operation "
                                       f"{type(n.op).__name__}")
            tan[id(n)] = rule(n, [tan.get(id(a)) for a in n.args])
        else:
            tan[id(n)] = _scalar_jvp(n, tan)
    return [arr(tan[id(o)]) if id(o) in tan else zeros(shape_of(o)) for o in outputs]


def jvp_fn(fn: ArrayFn) -> ArrayFn:
    """The JVP program: an ArrayFn of (*inputs, tangents) → (outputs, output tangents), the
    tangents one per symbolic input leaf, in pytree order."""
    ins = fn.flat_inputs
    ts = [ArraySym(f"tangent({w.name})", w.shape, "float64") if isinstance(w, ArraySym) else
          Sym(f"tangent({w.name})", "float64") for w in ins]
    touts = jvp_arrays(fn.flat_outputs, ins, ts)
    return ArrayFn(tuple(fn.inputs) + (tuple(ts),), (fn.outputs, tuple(touts)),
                   tuple(fn.names) + ("tangents",))


def hvp_fn(fn: ArrayFn, argnums: int = 0) -> ArrayFn:
    """The Hessian-vector product ∇²f(x)·v as forward over reverse: an ArrayFn of
    (*inputs, v) with v shaped like input `argnums` (an array, never the n×n Hessian).

    >>> import numpy as np
    >>> from symnum.arrays.fn import trace
    >>> h = hvp_fn(trace(lambda x: np.sum(x ** 3), np.zeros(3), mode="array"))
    >>> h(np.array([1.0, 2.0, 3.0]), np.ones(3))
    array([ 6., 12., 18.])
    """
    if not isinstance(argnums, int):
        raise TypeError("hvp_fn differentiates with respect to one argument (an int argnums)")
    _, g = _grad_parts(fn, argnums, "hvp")
    ws = _syms(fn.inputs[argnums % len(fn.inputs)])
    from symnum.tracing.pytree import tree_flatten

    gl, _ = tree_flatten(g)
    # named `v(x)`: never a Python identifier, so never one of the user's argument names
    vs = [ArraySym(f"v({w.name})", w.shape, "float64") if isinstance(w, ArraySym) else
          Sym(f"v({w.name})", "float64") for w in ws]
    hv = jvp_arrays(gl, ws, vs)
    # v and the product have the argument's structure (a pytree argument: the same pytree)
    from symnum.tracing.pytree import tree_unflatten

    leaves, td = tree_flatten(fn.inputs[argnums % len(fn.inputs)])

    def like(new, static):  # static leaves: kept in v, 0.0 in the product
        it = iter(new)
        return tree_unflatten(td, [next(it) if isinstance(v, (ArraySym, Sym)) else static(v)
                                   for v in leaves])

    return ArrayFn(tuple(fn.inputs) + (like(vs, lambda v: v),), like(hv, lambda v: 0.0),
                   tuple(fn.names) + ("v",))

