"""An Fn as plain data and back: the node table of its terms (`symnum.core.serial`) plus its
input and output pytrees with leaves replaced by node indices. Pickling an Fn and the JSON file
format (`symnum.io.serialize`) both use this one description.

Trees are nested tuples: ("tuple", [subtrees]), ("list", [subtrees]), ("dict", [[key,
subtree], ...]), ("none",), ("expr", node), ("array", shape, [nodes in C order]),
("static", value). Nothing here evaluates, compiles or imports anything above tracing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symnum.core.serial import from_table, to_table
from symnum.core.terms import Expr
from symnum.errors import SerializationError


def fn_to_data(fn: Any) -> dict:
    """{"nodes", "inputs", "outputs", "names"} for an Fn."""
    leaves: list = []

    def collect(t: Any) -> None:
        if isinstance(t, np.ndarray):
            leaves.extend(t.ravel().tolist())
        elif isinstance(t, Expr):
            leaves.append(t)
        elif isinstance(t, (tuple, list)) and not hasattr(t, "_fields"):
            for c in t:
                collect(c)
        elif isinstance(t, dict):
            for c in t.values():
                collect(c)

    collect(fn.inputs)
    collect(fn.outputs)
    nodes, idx = to_table(leaves)
    where = {id(e): i for e, i in zip(leaves, idx)}

    def enc(t: Any) -> Any:
        if t is None:
            return ("none",)
        if isinstance(t, np.ndarray):
            return ("array", list(t.shape), [where[id(e)] for e in t.ravel().tolist()])
        if isinstance(t, Expr):
            return ("expr", where[id(t)])
        if isinstance(t, tuple) and not hasattr(t, "_fields"):
            return ("tuple", [enc(c) for c in t])
        if isinstance(t, list):
            return ("list", [enc(c) for c in t])
        if isinstance(t, dict):
            return ("dict", [[k, enc(v)] for k, v in t.items()])
        return ("static", t)

    return {"nodes": nodes, "inputs": enc(fn.inputs), "outputs": enc(fn.outputs),
            "names": list(fn.names)}


def fn_parts(data: dict) -> tuple:
    """(inputs, outputs, names) for `Fn(...)` from fn_to_data's dict (symnum.tracing.fn
    builds the Fn: this module must not import it)."""
    terms = from_table(data["nodes"])

    def dec(t: Any) -> Any:
        kind = t[0]
        if kind == "none":
            return None
        if kind == "expr":
            return terms[t[1]]
        if kind == "array":
            a = np.empty(len(t[2]), dtype=object)
            a[:] = [terms[i] for i in t[2]]
            return a.reshape(tuple(t[1]))
        if kind == "tuple":
            return tuple(dec(c) for c in t[1])
        if kind == "list":
            return [dec(c) for c in t[1]]
        if kind == "dict":
            return {k: dec(v) for k, v in t[1]}
        if kind == "static":
            return t[1]
        raise SerializationError(f"unknown tree node kind {kind!r}")

    return dec(data["inputs"]), dec(data["outputs"]), data["names"]
