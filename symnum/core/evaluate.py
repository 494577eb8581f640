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

from symnum.core._gc import no_gc
from symnum.core.interface import arguments, iscall, operation
from symnum.core.primitives import pow_op
from symnum.core.terms import Add, Const, Mul, Sym, Term
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


def _inputs(n: Any) -> Any:
    """What a node's value is computed from. symnum's own forms are read directly — a sum's
    entries, a product's bases — so no coefficient·term product is built just to be evaluated;
    foreign term types go through the term interface."""
    t = type(n)
    if t is Term:
        return n.args
    if t is Add or t is Mul:  # the form's own entries (no mapping view built)
        return n.entry_keys()
    if t is Sym or t is Const:
        return ()
    return arguments(n) if iscall(n) else ()


def _num(v: Any) -> Any:
    c = v.__class__
    if c is float or c is int:
        return v
    return float(v) if isinstance(v, Fraction) else v


def _value(n: Any, vals: dict) -> Any:
    t = type(n)
    if t is Term:
        return n.op.impl(*[vals[id(a)] for a in n.args])
    if t is Add:  # const + Σ c·term, left to right
        acc = None if n.const == 0 else _num(n.const)
        for k, c in n.entry_items():
            x = vals[id(k)] if c == 1 else np.multiply(_num(c), vals[id(k)])
            acc = x if acc is None else np.add(acc, x)
        return acc
    if t is Mul:  # coeff · Π base^exponent, left to right
        acc = None if n.coeff == 1 else _num(n.coeff)
        for b, p in n.entry_items():
            x = vals[id(b)] if p == 1 else pow_op.impl(vals[id(b)], p)
            acc = x if acc is None else np.multiply(acc, x)
        return acc
    return operation(n).impl(*[vals[id(a)] for a in arguments(n)])


@no_gc
def eval_many(roots: list, env: Mapping) -> list:
    """Values of several terms sharing one pass over their common DAG."""
    env = bind(env)
    vals: dict[int, Any] = {}
    missing: list[str] = []
    order = postorder(roots, _inputs)
    ins = [_inputs(n) for n in order]  # (once: the counts and the freeing below read them)
    # free each value after its last use: memory stays at the DAG's live width, not its size
    uses: dict[int, int] = {}
    get = uses.get
    for kids in ins:
        for a in kids:
            uses[id(a)] = get(id(a), 0) + 1
    keep = {id(r) for r in roots}
    with np.errstate(all="ignore"):
        for n, kids in zip(order, ins):
            tn = type(n)
            if tn is Const:
                vals[id(n)] = _const_value(n)
            elif tn is not Term and tn is not Add and tn is not Mul and (
                    tn is Sym or not iscall(n)):
                if n in env:
                    vals[id(n)] = env[n]
                elif isinstance(n, Sym) and n.name in env:
                    vals[id(n)] = env[n.name]
                else:
                    missing.append(str(n))
                    vals[id(n)] = np.nan
            else:
                vals[id(n)] = _value(n, vals)
                for a in kids:
                    k = id(a)
                    uses[k] -= 1
                    if uses[k] == 0 and k not in keep:
                        del vals[k]
    if missing:
        raise TracingError(
            f"no value given for symbol(s) {', '.join(sorted(set(missing)))}; add them to the "
            "environment passed to evaluate()"
        )
    return [vals[id(r)] for r in roots]


def assemble(vals: list, shape: tuple) -> np.ndarray:
    """Element values (scalars or broadcastable arrays) → one array of shape shape + batch."""
    if not vals:
        return np.zeros(shape)
    b = np.broadcast_shapes(*[np.shape(v) for v in vals])
    dt = np.result_type(*[np.asarray(v).dtype for v in vals])
    out = np.empty((len(vals),) + b, dtype=dt)
    for i, v in enumerate(vals):
        out[i] = v
    return out.reshape(shape + b)
