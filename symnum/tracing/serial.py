"""An Fn as plain data and back: the node table of its terms (`symnum.core.serial`) plus its
input and output pytrees with leaves replaced by node indices. Pickling an Fn and the JSON file
format (`symnum.io.serialize`) both use this one description.

Trees are nested tuples: ("tuple", [subtrees]), ("list", [subtrees]), ("dict", [[key,
subtree], ...]), ("none",), ("expr", node), ("array", shape, [nodes in C order]),
("static", value). Nothing here evaluates, compiles or imports anything above tracing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symnum.core.serial import from_table, to_table
from symnum.core.terms import Expr
from symnum.errors import SerializationError


def _static(t: Any) -> tuple:
    return ("static", t)


def trees_to_data(trees: list, static: Callable[[Any], Any] = _static) -> tuple[list, list]:
    """(node table, encoded trees) for pytrees of terms: one table for all their terms, shared
    subterms once. A leaf that is not a term (nor an object array of terms) becomes
    `static(leaf)` — ("static", leaf) by default; a caller may raise instead."""
    leaves: list = []

    def is_term_array(t: Any) -> bool:
        return (isinstance(t, np.ndarray) and t.dtype == object
                and all(isinstance(e, Expr) for e in t.flat))

    def collect(t: Any) -> None:
        if is_term_array(t):
            leaves.extend(t.ravel().tolist())
        elif isinstance(t, Expr):
            leaves.append(t)
        elif isinstance(t, (tuple, list)) and not hasattr(t, "_fields"):
            for c in t:
                collect(c)
        elif isinstance(t, dict):
            for c in t.values():
                collect(c)

    for tree in trees:
        collect(tree)
    nodes, idx = to_table(leaves)
    where = {id(e): i for e, i in zip(leaves, idx)}

    def enc(t: Any) -> Any:
        if t is None:
            return ("none",)
        if is_term_array(t):
            return ("array", list(t.shape), [where[id(e)] for e in t.ravel().tolist()])
        if isinstance(t, Expr):
            return ("expr", where[id(t)])
        if isinstance(t, tuple) and not hasattr(t, "_fields"):
            return ("tuple", [enc(c) for c in t])
        if isinstance(t, list):
            return ("list", [enc(c) for c in t])
        if isinstance(t, dict):
            return ("dict", [[k, enc(v)] for k, v in t.items()])
        return static(t)

    return nodes, [enc(tree) for tree in trees]


def trees_from_data(nodes: list, encoded: list) -> list:
    """The pytrees `trees_to_data` described, terms rebuilt from the node table."""
    terms = from_table(nodes)

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

    return [dec(t) for t in encoded]


def fn_to_data(fn: Any) -> dict:
    """{"nodes", "inputs", "outputs", "names"} for an Fn."""
    nodes, (ins, outs) = trees_to_data([fn.inputs, fn.outputs])
    return {"nodes": nodes, "inputs": ins, "outputs": outs, "names": list(fn.names)}


def fn_parts(data: dict) -> tuple:
    """(inputs, outputs, names) for `Fn(...)` from fn_to_data's dict (symnum.tracing.fn
    builds the Fn: this module must not import it)."""
    ins, outs = trees_from_data(data["nodes"], [data["inputs"], data["outputs"]])
    return ins, outs, data["names"]
