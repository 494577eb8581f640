"""Loops whose carries are symbolic arrays (array mode): the body is an ArrayFn, the loop one
array term whatever the trip count and the arrays' sizes.

`ArrayTerm(ArrayLoop(spec), (init leaves..., consts..., xs leaves...))` is the loop node (a
value-holder of shape ()); `ArrayTerm(ArrayLoopOut(...), (node,))` reads a final carry leaf or a
stacked y leaf. The reference interpreter runs the body with the array interpreter each step;
`scalarize` turns the node into a scalar-mode loop (symnum.loops.terms) over the body's
scalarized Fn, which is how loops with small carries (SCALAR_CARRY_LIMIT) and loops the loop
plan refuses compile; the others lower as one loop around the body's loop plan
(backends.array_loop_carry, chosen in symnum.compile). Never lowers anything itself.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

import symnum.loops.terms as T
from symnum.arrays.evaluate import eval_array_terms
from symnum.arrays.fn import ArrayFn
from symnum.arrays.ops_base import ArrayOp
from symnum.arrays.ops_index import as_array_operand
from symnum.arrays.scalarize import leaf_elements, scalarize_many
from symnum.arrays.terms import ArrayExpr, ArraySym, ArrayTerm
from symnum.core.build import as_expr
from symnum.core.primitives import logical_or
from symnum.core.terms import Expr, Sym
from symnum.core.traversal import postorder
from symnum.errors import ShapeError, TracingError
from symnum.tracing.pytree import tree_flatten, tree_unflatten


@dataclass(frozen=True, eq=False)
class ArraySpec(T.LoopSpec):
    """The static part of an array loop: symnum.loops.terms.LoopSpec's fields (counts are
    leaves), key and accessors, with an ArrayFn body (inputs: carries, x leaves, consts, index;
    outputs: carries, ys, cond). Interned by `key`, so equal loops are one op."""

    body: ArrayFn

    def text(self) -> str:
        ins = ", ".join(getattr(s, "name", "?") for s in self.body.flat_inputs)
        ops = self.body.count_ops()
        outs = "; ".join(str(o) for o in self.body.flat_outputs) if ops <= T.TEXT_OPS else \
            f"<{len(self.body.flat_outputs)} outputs, {ops} operations>"
        flags = ", reverse" if self.reverse else ""
        if self.checkpoint != "store":  # the policy shapes the derivative: printed
            flags += ", recompute" if self.checkpoint == "recompute" else \
                f", checkpoint={self.checkpoint!r}"
        return f"{self.kind}[{self.length}{flags}](({ins}) -> ({outs}))"


_OPS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _shape(v: Any) -> tuple:
    return tuple(getattr(v, "shape", ()))


@dataclass(frozen=True, eq=False)
class ArrayLoop(ArrayOp):
    spec: Any = None

    @property
    def name(self) -> str:  # printed as the loop with its body
        return self.spec.text()

    def infer(self, args):
        return (), "float64"

    def inner_roots(self) -> list:
        """The body's outputs: what scalarizing the loop scalarizes too (arrays.auto counts
        their elements when it decides whether a program is small enough to scalarize)."""
        return list(self.spec.body.flat_outputs)

    def impl(self, *vals):
        s = self.spec
        init, consts, xs = vals[:s.nc], vals[s.nc:s.nc + s.nk], vals[s.nc + s.nk:]
        ins = s.body.flat_inputs
        outs = s.body.flat_outputs
        carries = [np.asarray(v) for v in init]
        ys: list = [None] * s.length
        with np.errstate(all="ignore"):
            for it in range(s.length):
                step = s.length - 1 - it if s.reverse else it
                env = dict(zip(ins[:s.nc], carries))
                env.update(zip(ins[s.nc:s.nc + s.nx], [np.asarray(x)[step] for x in xs]))
                env.update(zip(ins[s.nc + s.nx:-1], consts))
                env[ins[-1]] = s.lo + step
                got = eval_array_terms(list(outs), env)
                carries = got[:s.nc]
                ys[step] = got[s.nc:s.nc + s.ny]
                if s.kind == "while" and not np.any(got[-1]):
                    for rest in range(it + 1, s.length):
                        ys[s.length - 1 - rest if s.reverse else rest] = ys[step]
                    break
        return T.LoopValue(carries, ys, s.length)

    def scalarize(self, elems):
        out = np.empty((), dtype=object)
        out[()] = _scalar_loop(self.spec, elems)
        return out


@dataclass(frozen=True)
class ArrayLoopOut(ArrayOp):
    """Carry leaf `index` (stacked=False) or stacked y leaf `index` of a loop node."""

    index: int
    stacked: bool
    shape: tuple
    dtype: str
    offset: int  # the leaf's first flat scalar index among the scalar loop's carries (ys)

    @property
    def name(self) -> str:
        return f"{'ys' if self.stacked else 'carry'}{self.index}"

    def infer(self, args):
        return self.shape, self.dtype

    def impl(self, v):
        if not self.stacked:
            return np.asarray(v.carries[self.index], dtype=self.dtype)
        return np.stack([np.asarray(y[self.index], dtype=self.dtype) for y in v.ys]) \
            if v.ys else np.zeros(self.shape, dtype=self.dtype)

    def scalarize(self, elems):
        loop = elems[0][()]
        size = int(np.prod(self.shape[1:] if self.stacked else self.shape, dtype=np.int64))
        out = np.empty(self.shape, dtype=object)
        flat = out.reshape(-1) if out.ndim else out.reshape(1)
        if not self.stacked:
            for k in range(size):
                flat[k] = T.carry(loop, self.offset + k)
        else:
            for s in range(self.shape[0]):
                for k in range(size):
                    flat[s * size + k] = T.y_at(loop, self.offset + k, s)
        return out


T.LOOP_OPS.add(ArrayLoop)


def _scalar_loop(spec: ArraySpec, elems: list) -> Any:
    """The scalar-mode loop of an array loop, from its arguments' element arrays."""
    body = spec.body
    ins = body.flat_inputs
    leaves = {v: leaf_elements(v) for v in ins if isinstance(v, ArraySym)}
    scal = scalarize_many(list(body.flat_outputs), leaves)

    def flat_syms(vs: list) -> list:
        out: list = []
        for v in vs:
            out.extend(leaves[v].ravel() if isinstance(v, ArraySym) else [v])
        return out

    c_syms = flat_syms(ins[:spec.nc])
    x_syms = flat_syms(ins[spec.nc:spec.nc + spec.nx])
    k_syms = flat_syms(ins[spec.nc + spec.nx:-1])
    outs = [e for a in scal for e in np.asarray(a, dtype=object).ravel()]
    n_c = len(c_syms)
    n_y = sum(int(np.prod(_shape(o), dtype=np.int64)) for o in body.flat_outputs[
        spec.nc:spec.nc + spec.ny])
    arg_el = [np.asarray(e, dtype=object) for e in elems]
    init = [e for a in arg_el[:spec.nc] for e in a.ravel()]
    k_vals = [e for a in arg_el[spec.nc:spec.nc + spec.nk] for e in a.ravel()]
    x_el = arg_el[spec.nc + spec.nk:]
    xs: list = []
    for s in range(spec.length):
        for a in x_el:
            xs.extend(np.asarray(a[s], dtype=object).ravel())
    cond = None
    if spec.kind == "while":  # the loop goes on while any element of its condition holds
        elems = list(np.asarray(scal[-1], dtype=object).ravel())
        cond = elems[0]
        for e in elems[1:]:
            cond = logical_or(cond, e)
    return T.build_loop(
        spec.kind, spec.length, carry_syms=c_syms, x_syms=x_syms, index_sym=ins[-1],
        carry_outs=outs[:n_c], y_outs=outs[n_c:n_c + n_y], init=init, xs=xs,
        cond=cond, reverse=spec.reverse, lo=spec.lo,
        bind=dict(zip(k_syms, k_vals)),
        # a segmented policy is array mode's (its derivative was taken before scalarising)
        checkpoint=spec.checkpoint if spec.checkpoint in T.POLICIES else "store")


def _operand(v: Any, what: str) -> Any:
    if isinstance(v, (ArrayExpr, Expr)):
        return v
    if isinstance(v, np.ndarray) and v.dtype != object and v.ndim:
        return as_array_operand(v, what)
    if isinstance(v, np.ndarray) and v.dtype == object:
        return as_array_operand(v, what)
    try:
        return as_expr(v)
    except Exception:  # noqa: BLE001
        raise TracingError(f"{what} is a {type(v).__name__} ({v!r}); loop carries and xs are "
                           "numbers, symbolic arrays or arrays") from None


def array_loop(kind: str, step: Any, init: Any, xs: Any, length: int, *, reverse: bool = False,
               lo: int = 0, checkpoint: str | int = "store") -> tuple[Any, Any]:

    c_leaves, c_tree = tree_flatten(init)
    x_leaves, x_tree = tree_flatten(xs)
    c_leaves = [_operand(v, f"carry leaf {k}") for k, v in enumerate(c_leaves)]
    x_leaves = [_operand(v, f"xs leaf {k}") for k, v in enumerate(x_leaves)]
    for k, v in enumerate(x_leaves):
        if not _shape(v) or _shape(v)[0] != length:
            raise ShapeError(f"xs leaf {k} has shape {_shape(v)}; every xs leaf needs the "
                             f"leading axis of length {length} (the trip count)")
    d = T.depth() + 1

    def ph(prefix: str, k: int, v: Any, shape: tuple) -> Any:
        dt = getattr(v, "dtype", "float64")
        dt = dt if dt in ("float64", "float32") else "float64"
        return ArraySym(f"%{d}{prefix}{k}", shape, dt) if shape else Sym(f"%{d}{prefix}{k}")

    c_ph = [ph("C", k, v, _shape(v)) for k, v in enumerate(c_leaves)]
    x_ph = [ph("X", k, v, _shape(v)[1:]) for k, v in enumerate(x_leaves)]
    i_sym = Sym(f"%{d}i")
    T.DEPTH.d = d
    try:
        new_c, ys, cond = step(tree_unflatten(c_tree, c_ph),
                               tree_unflatten(x_tree, x_ph) if x_leaves else None, i_sym)
    finally:
        T.DEPTH.d = d - 1
    nc_leaves, nc_tree = tree_flatten(new_c)
    if nc_tree != c_tree:
        raise ShapeError("the body's carry output has another structure than its carry input; "
                         "return the carry as it came in")
    nc_leaves = [_operand(v, f"the body's carry leaf {k}") for k, v in enumerate(nc_leaves)]
    for k, (a, b) in enumerate(zip(nc_leaves, c_ph)):
        if _shape(a) != _shape(b):
            raise ShapeError(f"carry leaf {k} changes shape in the body: {_shape(b)} -> "
                             f"{_shape(a)}")
    y_leaves, y_tree = tree_flatten(ys)
    y_leaves = [_operand(v, f"the body's y leaf {k}") for k, v in enumerate(y_leaves)]
    node = build_array_loop(kind, length, carry_in=c_ph, x_in=x_ph, index=i_sym,
                            carry_out=nc_leaves, y_out=y_leaves, init=c_leaves, xs=x_leaves,
                            cond=cond, reverse=reverse, lo=lo, checkpoint=checkpoint)
    carries = [out_term(node, k, False) for k in range(len(c_ph))]
    y_out = [out_term(node, j, True) for j in range(len(y_leaves))]
    return tree_unflatten(c_tree, carries), tree_unflatten(y_tree, y_out)


def build_array_loop(kind: str, length: int, *, carry_in: list, x_in: list, index: Sym,
                     carry_out: list, y_out: list, init: list, xs: list, cond: Any = None,
                     reverse: bool = False, lo: int = 0, bind: dict | None = None,
                     checkpoint: str | int = "store") -> ArrayTerm:
    """An array loop node from a body given as terms over its input placeholders; the body's
    other symbols become consts bound to `bind[sym]` (default: the symbol, a closure)."""
    outs = list(carry_out) + list(y_out) + ([_operand(cond, "the loop's condition")]
                                            if cond is not None else [])
    mine = {id(v) for v in list(carry_in) + list(x_in) + [index]}
    consts = [n for n in postorder(outs) if isinstance(n, (Sym, ArraySym)) and id(n) not in mine]
    bind = bind or {}
    body = ArrayFn(tuple(list(carry_in) + list(x_in) + consts + [index]), outs)
    spec = ArraySpec(kind, length, reverse, lo, len(carry_in), len(x_in), len(consts),
                     len(y_out), body, checkpoint)
    args = tuple(init) + tuple(bind.get(c, c) for c in consts) + tuple(xs)
    return _node(spec, args)


def make_array_loop(spec: ArraySpec, body: ArrayFn, ny: int, args: tuple) -> ArrayTerm:
    """The loop `spec` with another body (same inputs) and number of ys, on `args`."""
    new = ArraySpec(spec.kind, spec.length, spec.reverse, spec.lo, spec.nc, spec.nx, spec.nk,
                    ny, body, spec.checkpoint)
    return _node(new, tuple(args))


def _node(spec: ArraySpec, args: tuple) -> ArrayTerm:
    op = _OPS.get(spec.key())
    if op is None:
        op = _OPS[spec.key()] = ArrayLoop(spec)
    T.BUILT[0] += 1
    return ArrayTerm(op, args)


def out_term(node: ArrayTerm, index: int, stacked: bool) -> ArrayTerm:
    """Final carry `index` (stacked=False) or stacked y `index` of an array loop node."""
    spec = node.op.spec
    outs = spec.body.flat_outputs
    leaves = outs[spec.nc:spec.nc + spec.ny] if stacked else outs[:spec.nc]
    off = sum(int(np.prod(_shape(v), dtype=np.int64)) for v in leaves[:index])
    v = leaves[index]
    shape = ((spec.length,) if stacked else ()) + _shape(v)
    return ArrayTerm(ArrayLoopOut(index, stacked, shape, _dt(v), off), (node,))


def _dt(v: Any) -> str:
    dt = getattr(v, "dtype", "float64")
    return "bool" if dt == "bool" else "float32" if dt == "float32" else "float64"


# array loops whose carries hold at most this many elements in all compile as scalar loops
# (scalarize): their unrolled bodies are small and the scalar loop schedule keeps every carry
# in registers. Above it, as one loop around the body's loop plan (backends.array_loop_carry),
# whose compile time does not grow with the arrays. Measured crossover (heat equation, 100
# steps, llvm; benchmarks/results_issue12.md): the scalar loop is faster per call up to 24
# points (1.1-1.4x at 24), the loop plan from 32 (0.9x) on, and compiles faster from 128
SCALAR_CARRY_LIMIT = 24


def carry_elements(roots: list) -> int:
    """The largest number of carried scalars (carries and stacked ys per step) of any array
    loop in `roots` (0 without array loops): what decides between the two lowerings."""
    most = 0
    for n in postorder(roots):
        if isinstance(n, ArrayTerm) and isinstance(n.op, ArrayLoop):
            s = n.op.spec
            outs = s.body.flat_outputs[:s.nc + s.ny]
            most = max(most, sum(int(np.prod(_shape(v), dtype=np.int64)) for v in outs))
    return most
