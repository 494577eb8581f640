"""The function-level transforms of array programs: ArrayFn → ArrayFn with JAX's conventions.

What symnum.transforms dispatches to for an ArrayFn or `mode="array"`: JVP and VJP programs
whose tangents / cotangents have the structure of the inputs / outputs, Jacobians (forward, as
one batched first-order jet along the unit directions: symnum.autodiff.array_taylor), Hessians
(that Jacobian of the reverse-mode gradient) and Hessian-vector products (forward over reverse,
symnum.autodiff.array_jvp: an array of the argument's shape, never n² entries), and the splice
of an array transform's program into an outer array trace (inline_array: jacfwd(grad(f)) with
mode="array"). Nothing here scalarises, evaluates or compiles.

`jacrev` of an array program runs reverse mode when the outputs have fewer entries than the
inputs and at most REV_ROWS entries: one reverse sweep per output entry (a one-hot cotangent
each; reverse mode has no batched rules, so the program grows with the output entries, hence
the bound), each O(cost of f) — against the forward sweep's one direction per INPUT entry.
Otherwise it is the batched forward sweep of `jacfwd` (same values).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from symnum.arrays.fn import ArrayFn
from symnum.arrays.ops_index import concatenate, getitem, reshape, transpose
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym, shape_of
from symnum.autodiff.array_ad import _argnums, _grad_parts, _syms, fill_symbols, vjp_arrays
from symnum.autodiff.array_jvp import jvp_arrays
from symnum.autodiff.array_rules import arr
from symnum.autodiff.array_taylor import _eye_directions, jet_arrays
from symnum.core.terms import Sym
from symnum.errors import ShapeError
from symnum.tracing.pytree import tree_flatten, tree_unflatten


def fresh_like(tree: Any, role: str) -> Any:
    """New symbols with the structure and shapes of an input tree's symbolic leaves (static
    leaves kept), named `role(leaf name)`: never a Python identifier, so never a user's
    argument name."""
    leaves, td = tree_flatten(tree)

    def one(v):
        if isinstance(v, ArraySym):
            return ArraySym(f"{role}({v.name})", v.shape, "float64")
        if isinstance(v, Sym):
            return Sym(f"{role}({v.name})", "float64")
        return v

    return tree_unflatten(td, [one(v) for v in leaves])


def _output_cotangents(fn: ArrayFn) -> Any:
    leaves, td = tree_flatten(fn.outputs)
    return tree_unflatten(td, [ArraySym(f"cotangent({i})", v.shape, "float64")
                               if isinstance(v, ArrayExpr) else Sym(f"cotangent({i})", "float64")
                               for i, v in enumerate(leaves)])


def zero_cotangent(vf: ArrayFn) -> Any:
    """Zeros in the structure of a VJP program's last input (the output cotangent)."""
    leaves, td = tree_flatten(vf.inputs[-1])
    return tree_unflatten(td, [np.zeros(v.shape) if isinstance(v, ArraySym) else 0.0
                               for v in leaves])


def jvp_program(fn: ArrayFn) -> ArrayFn:
    """(*inputs, *tangents) → (outputs, output tangents): one tangent per input, shaped like it;
    the output tangents have the outputs' structure (as sn.jvp of a scalar-mode Fn)."""
    tans = tuple(fresh_like(x, "tangent") for x in fn.inputs)
    seeds = [t for x in tans for t in _syms(x)]
    touts = jvp_arrays(fn.flat_outputs, fn.flat_inputs, seeds)
    names = tuple(fn.names) + tuple(f"d{n}" for n in fn.names)
    return ArrayFn(tuple(fn.inputs) + tans, (fn.outputs, fn.with_flat_outputs(touts).outputs),
                   names)


def vjp_program(fn: ArrayFn) -> ArrayFn:
    """(*inputs, output cotangent) → (outputs, one input cotangent per input, each shaped like
    the input), the cotangent having the outputs' structure (as sn.vjp of a scalar-mode Fn)."""
    cts = _output_cotangents(fn)
    gs = vjp_arrays(fn.flat_outputs, fn.flat_inputs, _syms(cts))
    per_arg = fill_symbols(list(fn.inputs), gs)
    return ArrayFn(tuple(fn.inputs) + (cts,), (fn.outputs, tuple(per_arg)),
                   tuple(fn.names) + ("cotangent",))


def jacobian_blocks(outs: list, ws: list) -> list[list]:
    """[[∂out/∂w for w in ws] for out in outs], each block of shape out.shape + w.shape, from
    ONE batched first-order jet along the unit directions of all the w's."""
    sizes = [math.prod(shape_of(w)) for w in ws]
    total = sum(sizes)
    if total == 0:
        from symnum.autodiff.array_rules import zeros

        return [[zeros(shape_of(o) + shape_of(w)) for w in ws] for o in outs]
    dirs, off = [], 0
    for w, s in zip(ws, sizes):
        dirs.append(_eye_directions(w, off, total))
        off += s
    jets = jet_arrays(outs, {w: [d] for w, d in zip(ws, dirs)}, 1, batch=total)
    rows = []
    for o, (_, c1) in zip(outs, jets):
        oshape = shape_of(o)
        row, off = [], 0
        for w, s in zip(ws, sizes):
            block = getitem(arr(c1), slice(off, off + s)) if s != total else arr(c1)
            block = reshape(block, shape_of(w) + oshape)
            k, m = len(shape_of(w)), len(oshape)
            perm = tuple(range(k, k + m)) + tuple(range(k))
            row.append(transpose(block, perm) if k and m else block)
            off += s
        rows.append(row)
    return rows


REV_ROWS = 16  # jacrev: reverse sweeps (one per output entry) up to this many output entries
# (each sweep adds its own loops to the program: ~0.1 s of llvm compile per sweep of a small
# program, measured in results_issue11.md)


def jacobian_rev_blocks(outs: list, ws: list) -> list[list]:
    """jacobian_blocks by reverse mode: block (o, w) stacks the gradients of o's entries, one
    reverse sweep per entry (a one-hot cotangent), in o's row-major order."""
    rows = []
    for o in outs:
        oshape = shape_of(o)
        size = math.prod(oshape)
        per_w: list[list] = [[] for _ in ws]
        for r in range(size):
            onehot = np.zeros(size)
            onehot[r] = 1.0
            ct = ArrayConst(onehot.reshape(oshape)) if oshape else 1.0
            for parts, g in zip(per_w, vjp_arrays([o], ws, [ct])):
                parts.append(reshape(arr(g), (1,) + shape_of(g)))
        row = []
        for w, parts in zip(ws, per_w):
            if not parts:  # an output with no entries
                from symnum.autodiff.array_rules import zeros

                row.append(zeros(oshape + shape_of(w)))
                continue
            stacked = parts[0] if len(parts) == 1 else concatenate(parts, 0)
            row.append(reshape(stacked, oshape + shape_of(w)))
        rows.append(row)
    return rows


def jacobian_fn(fn: ArrayFn, argnums: Any = 0, reverse: bool = False) -> ArrayFn:
    """The Jacobian program: for each output leaf, for each argument in `argnums`, the blocks
    out.shape + leaf.shape in the argument's structure (as sn.jacfwd of a scalar-mode Fn).
    `reverse`: reverse sweeps where they are cheaper and few (module docstring)."""
    nums = _argnums(fn, argnums)
    ws = [w for a in nums for w in _syms(fn.inputs[a])]
    m = sum(math.prod(shape_of(o)) for o in fn.flat_outputs)
    n = sum(math.prod(shape_of(w)) for w in ws)
    rev = reverse and m < n and m <= REV_ROWS
    blocks = (jacobian_rev_blocks if rev else jacobian_blocks)(fn.flat_outputs, ws)
    per_out = []
    for row in blocks:
        parts = fill_symbols([fn.inputs[a] for a in nums], row, other=None)
        per_out.append(parts[0] if isinstance(argnums, int) else tuple(parts))
    return fn.with_flat_outputs(per_out)


def hessian_fn(fn: ArrayFn, argnums: int = 0) -> ArrayFn:
    """The Hessian of a scalar-output array program: the forward Jacobian of the reverse-mode
    gradient, shape x.shape + x.shape for an argument with one symbolic leaf (blocks [i][j] for
    one with several). Materialises n² entries: for products with a vector use hvp_fn."""
    if not isinstance(argnums, int):
        raise TypeError("hessian differentiates with respect to one argument (an int argnums)")
    _, g = _grad_parts(fn, argnums, "hessian")
    ws = _syms(fn.inputs[_argnums(fn, argnums)[0]])
    gl = tree_flatten(g)[0]
    blocks = jacobian_blocks(gl, ws)
    if len(ws) == 1:
        return fn.with_outputs(blocks[0][0])
    return fn.with_outputs(tuple(tuple(r) for r in blocks))


def check_scalar_output(fn: ArrayFn, what: str) -> None:
    if len(fn.flat_outputs) != 1 or fn.out_shapes != [()]:
        raise ShapeError(f"{what} needs a function with one scalar output, got output shapes "
                         f"{fn.out_shapes}")


# ---------------------------------------------------------------------------------------------
# composition: an array transform called on array terms (inside an outer array trace)

_tags = iter(range(1 << 62))


def has_array_terms(args: tuple) -> bool:
    return any(isinstance(v, ArrayExpr) for v in tree_flatten(tuple(args))[0])


def inline_array(make: Any, args: tuple, primal_args: Any) -> Any:
    """make(examples, names)'s outputs with its input symbols replaced by `args` (array terms,
    scalar terms, numbers): `make` traces at fresh symbols whose names carry a tag of this
    call, so they never meet a symbol of the outer trace (no perturbation confusion)."""
    from symnum.arrays.ops_map import as_array_arg
    from symnum.core.terms import Expr
    from symnum.core.traversal import postwalk_many

    tag = next(_tags)

    def example(v):
        if isinstance(v, ArrayExpr):
            return np.zeros(v.shape, v.dtype)
        return 0.0 if isinstance(v, Expr) else v

    ex = tuple(_map_tree(example, a) for a in args)
    primal = primal_args(ex)
    fn = make(primal, [f"a{i}@{tag}" for i in range(len(primal))])
    specs, vals = tree_flatten(fn.inputs)[0], tree_flatten(tuple(args))[0]
    if len(specs) != len(vals):
        raise ShapeError(f"inlining an array program of {len(specs)} input leaves at "
                         f"{len(vals)} leaves")
    table, keep = {}, []
    for spec, val in zip(specs, vals):
        if isinstance(spec, (ArraySym, Sym)):
            table[id(spec)] = val if isinstance(val, (ArrayExpr, Expr)) else \
                as_array_arg(val, "an argument")
            keep.append(spec)
    flat = postwalk_many(list(fn.flat_outputs), lambda n: table.get(id(n)))
    return fn.with_flat_outputs(flat).outputs


def _map_tree(f: Any, tree: Any) -> Any:
    leaves, td = tree_flatten(tree)
    return tree_unflatten(td, [f(v) for v in leaves])
