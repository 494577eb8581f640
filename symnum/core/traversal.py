"""Walking term DAGs through the term interface: topological order, rebuilding, queries.

Every walk is iterative (deep graphs never hit Python's recursion limit) and visits a shared
subterm once. These walks are the term layer's own machinery and must stay cheap on 10⁵-node
DAGs, which is why they do not convert to a networkx graph; graph algorithms proper (colouring,
components) do use networkx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from symnum.core.build import as_expr
from symnum.core.hooks import install
from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.core.terms import Const, Sym, is_number


def _call_arguments(node: Any) -> list:
    return arguments(node) if iscall(node) else []


def postorder(roots: Iterable[Any], children: Callable[[Any], list] | None = None,
              after: Callable[[Any], None] | None = None) -> list:
    """Every node reachable from `roots`, each once, children before parents.

    `children` overrides what counts as a node's children (default: its call arguments);
    `after(node)`, when given, runs as each node is emitted (all its children are by then), so
    `children` may leave out what an emitted node already covers.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> order = [str(n) for n in postorder([sn.sin(x) + y])]
    >>> len(order), order.index("x") < order.index("sin(x)") < len(order) - 1
    (4, True)
    """
    kids = children or _call_arguments
    seen: set[int] = set()
    mark = seen.add
    out: list = []
    emit = out.append
    for root in roots:
        if id(root) in seen:
            continue
        mark(id(root))
        # a stack of (node, iterator over its children): the loop resumes a node's children
        # where it left them (one entry per node, not two; a 10⁵-deep chain is walked by
        # printing, evaluation and differentiation alike)
        stack = [(root, iter(kids(root)))]
        push, pop = stack.append, stack.pop
        while stack:
            node, it = stack[-1]
            for a in it:
                if id(a) not in seen:
                    mark(id(a))
                    push((a, iter(kids(a))))
                    break
            else:
                pop()
                emit(node)
                if after is not None:
                    after(node)
    return out


topological_order = postorder


def postwalk(root: Any, rw: Callable[[Any], Any], memo: dict | None = None) -> Any:
    """Rebuild bottom-up: children first, then `rw` on the rebuilt node (None = keep it).

    Memoised by node identity, so a shared subterm is rewritten once.
    """
    return postwalk_many([root], rw, memo)[0]


def postwalk_many(roots: list, rw: Callable[[Any], Any], memo: dict | None = None) -> list:
    memo = {} if memo is None else memo
    for node in postorder(roots):
        if id(node) in memo:
            continue
        new = node
        if iscall(node):
            args = arguments(node)
            new_args = [memo[id(a)][1] for a in args]
            if any(n is not a for n, a in zip(new_args, args)):
                new = maketerm(type(node), operation(node), new_args, metadata(node))
        r = rw(new)
        memo[id(node)] = (node, new if r is None else r)  # keep node alive: ids stay unique
    return [memo[id(r)][1] for r in roots]


def free_symbols(e: Any) -> set:
    """The set of leaf variables (Syms, and foreign leaves that are not numbers) in `e`."""

    roots = list(e) if isinstance(e, (list, tuple)) else [e]
    return {n for n in postorder(roots) if not iscall(n) and (isinstance(n, Sym) or (
        not isinstance(n, Const) and not _is_num(n)))}


def _is_num(n) -> bool:

    return is_number(n)


def substitute(e: Any, mapping: Mapping) -> Any:
    """Replace subterms by others (keys may be any subterm, values terms or numbers).

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> substitute(sn.sin(x) * x, {x: y + 1}) is sn.sin(y + 1) * (y + 1)
    True
    """

    # `mapping` keeps the keys alive; array terms (symnum.arrays) are terms as they are
    table = {id(k): v if getattr(type(v), "_symnum_array_term", False) else as_expr(v)
             for k, v in mapping.items()}

    def rw(node):
        return table.get(id(node))

    # substitute at the original nodes: check before rebuilding children
    memo: dict = {}
    for node in postorder([e]):
        if id(node) in table:
            memo[id(node)] = (node, table[id(node)])
    return postwalk(e, rw, memo)


def count_ops(e: Any) -> int:
    """Number of operation nodes in the DAG of `e` (shared subterms counted once)."""
    roots = list(e) if isinstance(e, (list, tuple)) else [e]
    return sum(1 for n in postorder(roots) if iscall(n))


def infer_dtype(e: Any) -> str:
    """Result dtype of a term: bool for predicates, else numpy promotion of its leaves."""

    if isinstance(e, (Sym, Const)):
        return e.dtype
    memo: dict[int, str] = {}
    for n in postorder([e]):
        if isinstance(n, (Sym, Const)):
            memo[id(n)] = n.dtype
            continue
        op = operation(n)
        if getattr(op, "result", "float") == "bool":
            memo[id(n)] = "bool"
            continue
        kinds = [memo[id(a)] for a in arguments(n) if not isinstance(a, Const)]
        float_kinds = [k for k in kinds if k.startswith("float")]
        memo[id(n)] = np.result_type(*float_kinds).name if float_kinds else "float64"
    return memo[id(e)]


install(infer_dtype=infer_dtype)  # term.dtype
