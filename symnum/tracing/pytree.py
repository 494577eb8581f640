"""Pytrees: nested tuples, lists and dicts of leaves (numbers, terms, arrays).

Tracing flattens arguments and outputs with these so that every transform sees flat lists while
users keep their structures. None is an empty subtree; dict keys are kept in insertion order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TreeDef:
    """The structure of a pytree without its leaves: kind, children's structures, dict keys."""

    kind: str  # "leaf", "none", "tuple", "list", "dict"
    children: tuple = ()
    keys: tuple = ()

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)


LEAF = TreeDef("leaf")


def tree_flatten(tree: Any) -> tuple[list, TreeDef]:
    """(leaves in order, structure).

    >>> tree_flatten((1, {"a": 2, "b": [3]}))[0]
    [1, 2, 3]
    """
    leaves: list = []

    def go(t) -> TreeDef:
        if t is None:
            return TreeDef("none")
        if isinstance(t, tuple) and not hasattr(t, "_fields"):
            return TreeDef("tuple", tuple(go(c) for c in t))
        if isinstance(t, list):
            return TreeDef("list", tuple(go(c) for c in t))
        if isinstance(t, dict):
            keys = tuple(t)
            return TreeDef("dict", tuple(go(t[k]) for k in keys), keys)
        leaves.append(t)
        return LEAF

    return leaves, go(tree)


def tree_unflatten(td: TreeDef, leaves: list) -> Any:
    """Inverse of tree_flatten."""
    it = iter(leaves)

    def go(d: TreeDef):
        if d.kind == "leaf":
            return next(it)
        if d.kind == "none":
            return None
        kids = [go(c) for c in d.children]
        if d.kind == "tuple":
            return tuple(kids)
        if d.kind == "list":
            return kids
        return dict(zip(d.keys, kids))

    return go(td)


def tree_map(f, tree: Any) -> Any:
    leaves, td = tree_flatten(tree)
    return tree_unflatten(td, [f(x) for x in leaves])
