"""The reference interpreter: evaluate terms with numpy, vectorised over array inputs.

This is the oracle every backend is tested against, so it stays simple and obviously right: one
pass over the DAG in topological order, each node computed once by its Op's numpy `impl`, with
numpy's broadcasting, dtype promotion and NaN/inf propagation (floating-point warnings silenced,
as compiled kernels raise none).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Const, Expr, Sym
from symnum.core.traversal import postorder
from symnum.errors import ShapeError, TracingError


def _const_value(c: Const):
    v = c.value
    return float(v) if isinstance(v, Fraction) else v


def bind(env: Mapping) -> dict:
    """Normalise an environment: Sym or name → value; symbolic arrays → their elements (a
    value of shape k.shape + batch gives each element its batch of values)."""
    out: dict = {}
    for k, v in env.items():
        if isinstance(k, np.ndarray):
            vals = np.asarray(v)
            if vals.shape[:k.ndim] != k.shape:
                raise ShapeError(
                    f"value for a symbolic array of shape {k.shape} has shape {vals.shape}; "
                    "give an array of that shape (optionally followed by batch dimensions)"
                )
            flat = vals.reshape((k.size,) + vals.shape[k.ndim:])
            for s, x in zip(k.ravel(), flat):
                out[s] = x
        else:
            out[k] = v
    return out


def eval_many(roots: list, env: Mapping) -> list:
    """Values of several terms sharing one pass over their common DAG."""
    env = bind(env)
    vals: dict[int, Any] = {}
    missing: list[str] = []
    order = postorder(roots)
    # free each value after its last use: memory stays at the DAG's live width, not its size
    uses: dict[int, int] = {}
    for n in order:
        if iscall(n):
            for a in arguments(n):
                uses[id(a)] = uses.get(id(a), 0) + 1
    keep = {id(r) for r in roots}
    with np.errstate(all="ignore"):
        for n in order:
            if iscall(n):
                args = arguments(n)
                vals[id(n)] = operation(n).impl(*[vals[id(a)] for a in args])
                for a in args:
                    k = id(a)
                    uses[k] -= 1
                    if uses[k] == 0 and k not in keep:
                        del vals[k]
            elif isinstance(n, Const):
                vals[id(n)] = _const_value(n)
            elif n in env:
                vals[id(n)] = env[n]
            elif isinstance(n, Sym) and n.name in env:
                vals[id(n)] = env[n.name]
            else:
                missing.append(str(n))
                vals[id(n)] = np.nan
    if missing:
        raise TracingError(
            f"no value given for symbol(s) {', '.join(sorted(set(missing)))}; add them to the "
            "environment passed to evaluate()"
        )
    return [vals[id(r)] for r in roots]


def evaluate(e: Any, env: Mapping | None = None) -> Any:
    """Evaluate an expression, a pytree/array of expressions, or an Fn.

    For an Fn, `env` is a tuple of its positional arguments (or a mapping from its input
    symbols). Array-valued inputs evaluate elementwise with numpy broadcasting.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> float(evaluate(x * y + 1, {x: 2.0, y: 3.0}))
    7.0
    >>> evaluate([x, 2 * x], {"x": np.array([1.0, 2.0])})
    [array([1., 2.]), array([2., 4.])]
    """
    from symnum.tracing.fn import Fn
    from symnum.tracing.pytree import tree_flatten, tree_unflatten

    if isinstance(e, Fn):
        return e.evaluate(env)
    env = {} if env is None else env
    leaves, treedef = tree_flatten(e)
    roots: list = []
    slots: list = []
    for leaf in leaves:
        if isinstance(leaf, np.ndarray):
            flat = [_as_term(x) for x in leaf.ravel()]
            slots.append((leaf.shape, len(roots), len(flat)))
            roots.extend(flat)
        else:
            slots.append((None, len(roots), 1))
            roots.append(_as_term(leaf))
    vals = eval_many(roots, env)
    out = []
    for shape, start, count in slots:
        if shape is None:
            out.append(vals[start])
        else:
            out.append(_assemble(vals[start:start + count], shape))
    return tree_unflatten(treedef, out)


def _as_term(x):
    from symnum.core.build import as_expr

    return x if isinstance(x, Expr) else as_expr(x)


def _assemble(vals: list, shape: tuple) -> np.ndarray:
    """Element values (scalars or broadcastable arrays) → one array of shape shape + batch."""
    if not vals:
        return np.zeros(shape)
    b = np.broadcast_shapes(*[np.shape(v) for v in vals])
    dt = np.result_type(*[np.asarray(v).dtype for v in vals])
    out = np.empty((len(vals),) + b, dtype=dt)
    for i, v in enumerate(vals):
        out[i] = v
    return out.reshape(shape + b)
