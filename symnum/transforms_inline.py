"""Splicing a transformed function into an outer trace: `inline` (substitution) and
`inline_transform`, which renames the inputs instead where that is all the splice would do.

Sits beside symnum.transforms (same layer, below it in use: transforms imports this module,
never the other way). A transformed function called with symbolic arguments (`sn.trace(wrapper,
x)`, `sn.compile(lambda x: sn.grad(f)(x))`, grad(grad(f))) traces its own Python function at
fresh symbols, so that a closure over an outer symbol stays distinct from the inner parameter (no
perturbation confusion), applies its Fn → Fn transform and substitutes the caller's arguments
for the fresh symbols. That substitution rebuilds the whole transformed graph once more: for the
gradient of a 1,000-step Python-loop RK4 it was ~45 % of the trace.

`inline_transform` takes the cheaper route when the substitution would only rename: every
argument leaf a distinct Sym (or an array of them) of the fresh symbol's dtype, none of them
reachable in the traced function's outputs other than through its parameters (checked in the
same walk). Then only the *traced* graph (the forward pass, before the transform) is renamed,
and the transform runs at the caller's symbols: the terms are the ones the substitution builds
(hash-consing: the same structure is the same object; tests/test_transforms_inline.py checks
`is` against the substitution). Otherwise — a number or an expression argument, a symbol passed
twice, a closure over a caller's symbol, a transform that adds inputs (jvp's tangents) — it
substitutes as before. Nothing here evaluates or compiles.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from symnum.core.build import as_expr
from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.core.terms import TREE_MODE, Expr, Sym, Term
from symnum.core.traversal import infer_dtype, postorder, postwalk_many
from symnum.errors import ShapeError
from symnum.tracing.fn import Fn, trace
from symnum.tracing.protocols import SymArray
from symnum.tracing.pytree import tree_flatten, tree_map, tree_unflatten
from symnum.tracing.symbols import symarray

_inline_ids = itertools.count()

# which route each inline_transform took ("renamed" / "substituted"): tests read it to know
# that a case exercised the route it is meant to; benchmarks switch renaming off with
# `renaming(False)` to time the substitution beside it
stats: Counter = Counter()
_rename = [True]


@contextmanager
def renaming(on: bool) -> Iterator[None]:
    """Allow (the default) or forbid the renaming route of inline_transform in this block
    (process-wide: for tests and benchmarks that compare the two routes)."""
    saved = _rename[0]
    _rename[0] = bool(on)
    try:
        yield
    finally:
        _rename[0] = saved


def fresh_args_like(args: tuple, names: Sequence[str] = ()) -> tuple:
    """Fresh symbols with the structure, shapes and dtypes of (possibly symbolic) arguments:
    what an inner transform traces its own function at before it is spliced in. Each call's
    symbols carry their own `inline` tag, so they can never be mistaken for a symbol of the
    outer trace (a closure over an outer `x` stays distinct from the inner parameter `x`:
    no perturbation confusion). Leaves that are not numbers, arrays or terms stay static."""
    tag = next(_inline_ids)

    def fresh(leaf, name):
        if isinstance(leaf, Expr):
            return Sym(name, infer_dtype(leaf), inline=tag)
        if isinstance(leaf, (bool, int, float, np.number, np.bool_)):
            return Sym(name, np.asarray(leaf).dtype.name, inline=tag)
        if isinstance(leaf, np.ndarray):
            if leaf.dtype == object:
                dts = {infer_dtype(as_expr(v)) for v in leaf.ravel()}
                dt = np.result_type(*dts).name if dts else "float64"
            else:
                dt = leaf.dtype.name
            return symarray(name, leaf.shape, dt, inline=tag)
        return leaf

    leaves, td = tree_flatten(tuple(args))
    return tuple(tree_unflatten(td, [fresh(x, f"a{i}") for i, x in enumerate(leaves)]))


def _writable(outs: Any) -> Any:
    # the outputs as writable SymArrays the caller computes on
    return tree_map(lambda leaf: np.array(leaf).view(SymArray) if isinstance(leaf, np.ndarray)
                    else leaf, outs)


def inline(fn: Fn, args: tuple) -> Any:
    """fn's outputs with its input symbols replaced by `args` (terms, numbers, arrays of
    them): one simultaneous substitution over the outputs' shared DAG."""
    table: dict = {}
    keep = []  # the keys must stay alive while their ids are in the table
    specs = tree_flatten(fn.inputs)[0]
    vals = tree_flatten(tuple(args))[0]
    if len(specs) != len(vals):
        raise ShapeError(f"inlining an Fn of {len(specs)} input leaves at {len(vals)} leaves")
    for spec, val in zip(specs, vals):
        if isinstance(spec, Sym):
            table[id(spec)] = as_expr(val)
            keep.append(spec)
        elif isinstance(spec, np.ndarray):
            v = np.asarray(val, dtype=object)
            if v.shape != spec.shape:
                raise ShapeError(f"inlining: argument shape {v.shape} where the traced "
                                 f"function had {spec.shape}")
            for s, x in zip(spec.ravel(), v.ravel()):
                table[id(s)] = as_expr(x)
                keep.append(s)
    flat = postwalk_many(list(fn.flat_outputs), lambda node: table.get(id(node)))
    # the outputs' own layout (Fn.with_flat_outputs)
    return _writable(fn.with_flat_outputs(flat).outputs)


def rename_inputs(fn: Fn, args: tuple) -> Fn | None:
    """fn with its input symbols renamed to the caller's symbols `args` (same structure), or
    None where that would not be a renaming: a leaf of `args` that is not a Sym of the input's
    dtype (a number, an expression), a symbol given twice, or one of them already in fn's
    outputs (a closure over it: renaming would confuse the two). O(fn's graph)."""
    specs, td = tree_flatten(fn.inputs)
    vals = tree_flatten(tuple(args))[0]
    if len(specs) != len(vals):
        return None
    table: dict = {}
    leaves = []
    for spec, val in zip(specs, vals):
        if isinstance(spec, Sym):
            if type(val) is not Sym or val.dtype != spec.dtype:
                return None
            table[id(spec)] = val
        elif isinstance(spec, np.ndarray):
            if not isinstance(val, np.ndarray) or val.shape != spec.shape:
                return None
            for s, v in zip(spec.flat, val.flat):
                if type(v) is not Sym or v.dtype != s.dtype:
                    return None
                table[id(s)] = v
        else:  # a static leaf: the traced function's own
            val = spec
        leaves.append(val)
    callers = {id(v) for v in table.values()}
    if len(callers) != len(table):
        return None  # x passed twice: the substitution merges two inputs into one
    flat = _renamed(list(fn.flat_outputs), table, callers)
    if flat is None:
        return None
    return Fn(tree_unflatten(td, leaves), fn.with_flat_outputs(flat).outputs, fn.names)


def _renamed(roots: list, table: dict, callers: set) -> list | None:
    """The roots rebuilt with the leaves in `table` (by id) renamed, or None where that is not
    an isomorphic copy: a leaf among `callers` (the caller's symbols) already in the graph, or a
    node whose rebuild is not the same kind of node over the renamed arguments in the same
    order (a tree-mode node rebuilt in canonical mode folds, a form already interned with
    another entry order): then the transform would walk another graph than the substitution's,
    and the substitution is what decides."""
    memo: dict = {}  # id → new node; postorder's list keeps the old nodes (and ids) alive
    # in tree mode a Term is rebuilt as written (symnum.core.build.apply: Term(op, args), no
    # hook, nothing folded): the same interned Term, without the interface's dispatch
    tree = TREE_MODE.get()
    for node in postorder(roots):
        if not iscall(node):
            i = id(node)
            if i in callers:
                return None
            memo[i] = table.get(i, node)
            continue
        direct = type(node) is Term and node.meta is None
        args = node.args if direct else arguments(node)
        new_args = [memo[id(a)] for a in args]
        if any(n is not a for n, a in zip(new_args, args)):
            if tree and direct:
                memo[id(node)] = Term._make(node.op, tuple(new_args))
                continue
            new = maketerm(type(node), operation(node), new_args, metadata(node))
            if type(new) is not type(node):
                return None
            got = arguments(new)
            if len(got) != len(new_args) or any(g is not n for g, n in zip(got, new_args)):
                return None
            memo[id(node)] = new
        else:
            memo[id(node)] = node
    return [memo[id(r)] for r in roots]


def _same_inputs(made: Any, renamed: Fn) -> bool:
    if not isinstance(made, Fn):
        return False
    a, b = made.flat_inputs, renamed.flat_inputs
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def inline_transform(f: Callable, make: Callable[[Fn], Any], args: tuple,
                     primal_args: Callable[[tuple], tuple] = lambda args: args) -> Any:
    """The outputs of make(trace of f) at the (symbolic) arguments `args`, as the caller's
    terms: f traced at fresh symbols, then its inputs renamed to the caller's symbols before
    `make` where that is a pure renaming (module docstring), else make's result substituted
    (`inline`). `primal_args(args)`: the arguments f itself takes."""
    fresh = fresh_args_like(args)
    fn = trace(f, *primal_args(fresh))
    if _rename[0]:
        primals = primal_args(args)
        # only when f takes every argument: a transform that adds inputs (jvp's tangents, a
        # vjp's cotangent) would still need them substituted over the whole graph
        if len(primals) == len(args) and all(p is a for p, a in zip(primals, args)):
            renamed = rename_inputs(fn, args)
            if renamed is not None:
                made = make(renamed)
                if _same_inputs(made, renamed):
                    stats["renamed"] += 1
                    return _writable(made.outputs)
                stats["substituted"] += 1
                return inline(made, args)
    stats["substituted"] += 1
    return inline(make(fn), args)
