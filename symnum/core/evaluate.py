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
from symnum.core.terms import Const, Sym
from symnum.core.traversal import postorder
from symnum.errors import ShapeError, TracingError


def _const_value(c: Const):
    v = c.value
    return float(v) if isinstance(v, Fraction) else v


def bind(env: Mapping) -> dict:
    """Normalise an environment: Sym or name → value; symbolic arrays → their elements."""
    out: dict = {}
    for k, v in env.items():
        if isinstance(k, np.ndarray):
            vals = np.asarray(v)
            if vals.shape != k.shape:
                raise ShapeError(
                    f"value for a symbolic array of shape {k.shape} has shape {vals.shape}"
                )
            for s, x in zip(k.ravel(), vals.ravel()):
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
