"""Loop terms: a scan whose body is itself a traced Fn, as one node of the IR (O(1) in the trip
count).

A loop is `Term(LoopOp, (init..., consts..., xs elements...))`: the LoopOp holds the static part —
the body (a flat Fn from carries, one step's x, the closed-over symbols and the step index to the
new carries, one step's y and, for a while loop, the condition), the trip count, the direction and
the checkpoint policy — and is interned by that structure, so two loops with the same body and
arguments are one term. The loop node's value is a LoopValue; its outputs are read by projection
terms (`CarryOut(k)`, `YOut(step, j)`). Sits above symnum.tracing; never imports autodiff or a
backend (they register their rules for these ops themselves).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from symnum.core.evaluate import _inputs, _value
from symnum.core.interface import operation
from symnum.core.op import Op
from symnum.core.taylor_rules import TaylorRule
from symnum.core.terms import Const, Sym, Term
from symnum.core.traversal import postorder
from symnum.errors import TracingError
from symnum.tracing.fn import Fn

POLICIES = ("store", "recompute")
TEXT_OPS = 40  # bodies up to this many operations print in full
# Taylor rules of the loop ops, installed by symnum.loops.taylor ("loop", "out")
TAYLOR: dict = {}


def _loop_taylor(k, cs, xs, aux, state):
    return TAYLOR["loop"](k, cs, xs, aux, state)
_LOCK = threading.Lock()
_OPS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
BUILT = [0]  # loops ever built: compile skips looking for loops while it is 0
# how deep in loop bodies tracing is now: body symbols are named %<depth>..., so an inner
# body's symbols never clash with those of the body around it
DEPTH = threading.local()


def depth() -> int:
    return getattr(DEPTH, "d", 0)


@dataclass(frozen=True, eq=False)
class LoopSpec:
    """The static part of a loop.

    kind:       "scan", "fori" or "while" (a while loop is a scan of select-form steps whose
                body also outputs the condition; evaluation and kernels stop once it is false).
    length:     the trip count (the bound for a while loop).
    reverse:    iterate from the last step to the first (xs read and ys written at the step).
    lo:         the step index of step s is lo + s (fori_loop's counter).
    body:       flat Fn, inputs [carries (nc), x (nx), consts (nk), index], outputs
                [new carries (nc), y (ny), condition (while only)].
    checkpoint: what reverse mode keeps of the forward pass: "store" (every carry, O(n) memory)
                or "recompute" (none: each step's carry recomputed from the start, O(n²) time);
                array loops (symnum.loops.arrays) also take an int k or "sqrt" (every k-th
                carry, symnum.loops.array_segments).
    """

    kind: str
    length: int
    reverse: bool
    lo: int
    nc: int
    nx: int
    nk: int
    ny: int
    body: Fn
    checkpoint: str = "store"

    @property
    def has_cond(self) -> bool:
        return self.kind == "while"

    def key(self) -> tuple:
        return (self.kind, self.length, self.reverse, self.lo, self.nc, self.nx, self.nk,
                self.ny, self.checkpoint, tuple(self.body.flat_inputs),
                tuple(self.body.flat_outputs))

    @property
    def carry_syms(self) -> list:
        return self.body.flat_inputs[: self.nc]

    @property
    def x_syms(self) -> list:
        return self.body.flat_inputs[self.nc: self.nc + self.nx]

    @property
    def const_syms(self) -> list:
        return self.body.flat_inputs[self.nc + self.nx: self.nc + self.nx + self.nk]

    @property
    def index_sym(self) -> Sym:
        return self.body.flat_inputs[-1]

    @property
    def carry_outs(self) -> list:
        return self.body.flat_outputs[: self.nc]

    @property
    def y_outs(self) -> list:
        return self.body.flat_outputs[self.nc: self.nc + self.ny]

    @property
    def cond_out(self) -> Any:
        return self.body.flat_outputs[-1] if self.has_cond else None

    def text(self) -> str:
        """The body as text: `scan[50]((%1c0, %1x0, %1i) -> (%1c0 + %1x0; ...))`; a body of
        more than TEXT_OPS operations is summarised (its outputs printed as trees would be
        exponentially long: print `loop.op.spec.body.outputs` for them)."""
        ins = ", ".join(s.name for s in self.body.flat_inputs)
        ops = self.body.count_ops()
        outs = "; ".join(str(o) for o in self.body.flat_outputs) if ops <= TEXT_OPS else \
            f"<{len(self.body.flat_outputs)} outputs, {ops} operations>"
        flags = ", reverse" if self.reverse else ""
        flags += f", from {self.lo}" if self.lo else ""
        flags += ", recompute" if self.checkpoint == "recompute" else ""
        return f"{self.kind}[{self.length}{flags}](({ins}) -> ({outs}))"


class LoopValue:
    """A loop node's value: the final carries and every step's y (ys[step][j])."""

    __slots__ = ("carries", "ys", "steps")

    def __init__(self, carries: list, ys: list, steps: int) -> None:
        self.carries, self.ys, self.steps = carries, ys, steps


class _Step:
    """One step of the body, by the reference interpreter (the DAG order computed once)."""

    def __init__(self, spec: LoopSpec) -> None:
        self.outs = spec.body.flat_outputs
        self.order = postorder(self.outs, _inputs)
        self.ins = {id(s) for s in spec.body.flat_inputs}

    def __call__(self, env: dict) -> list:
        vals = dict(env)
        for n in self.order:
            k = id(n)
            if k in vals:
                continue
            t = type(n)
            if t is Const:
                v = n.value
                vals[k] = float(v) if not isinstance(v, (int, float, np.floating)) else v
            elif t is Sym:
                raise TracingError(f"a loop body uses the symbol {n.name!r}, which is not among "
                                   "its inputs (a closure symbol was not captured)")
            else:
                vals[k] = _value(n, vals)
        return [vals[id(o)] for o in self.outs]


def run_loop(spec: LoopSpec, init: list, consts: list, xs: list) -> LoopValue:
    """The reference semantics: `xs` is a flat list of n·nx values (step-major)."""
    step = _step_of(spec)
    syms = spec.body.flat_inputs
    n, nc, nx = spec.length, spec.nc, spec.nx
    carries = list(init)
    ys: list = [None] * n
    steps = 0
    with np.errstate(all="ignore"):
        for it in range(n):
            s = n - 1 - it if spec.reverse else it
            env = {}
            for sym, v in zip(syms[:nc], carries):
                env[id(sym)] = v
            for j, sym in enumerate(syms[nc:nc + nx]):
                env[id(sym)] = xs[s * nx + j]
            for sym, v in zip(spec.const_syms, consts):
                env[id(sym)] = v
            env[id(spec.index_sym)] = spec.lo + s
            outs = step(env)
            carries = outs[:nc]
            ys[s] = outs[nc:nc + spec.ny]
            steps += 1
            if spec.has_cond and not np.any(outs[-1]):
                # the carry is a fixed point from here on (select form): fill the rest
                for rest in range(it + 1, n):
                    ys[n - 1 - rest if spec.reverse else rest] = ys[s]
                break
    return LoopValue(carries, ys, steps)


_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _step_of(spec: LoopSpec) -> _Step:
    st = _STEPS.get(spec)
    if st is None:
        st = _STEPS[spec] = _Step(spec)
    return st


@dataclass(frozen=True, eq=False)
class LoopOp(Op):
    """The operation of a loop node (see the module docstring); `spec` is its static part."""

    spec: Any = None

    def __post_init__(self):  # no eager docstring: the name (the body's text) is lazy
        pass

    def _get_name(self) -> str:
        t = self.__dict__.get("_text")
        if t is None:
            t = self.__dict__["_text"] = self.spec.text()
        return t

    def _set_name(self, v: str) -> None:  # dataclass __init__ passes the short name
        self.__dict__["_short"] = v

    name = property(_get_name, _set_name)  # type: ignore[assignment]

    def lowering_name(self) -> str:
        return "loop"


@dataclass(frozen=True, eq=False)
class LoopOutOp(Op):
    """A projection of a loop node's value: carry `index` (step None) or y `index` at `step`."""

    index: int = 0
    step: Any = None

    def __post_init__(self):  # no generated docstring: there is one of these per stored value
        pass


def _loop_impl(spec: LoopSpec):
    nc, nk = spec.nc, spec.nk

    def impl(*vals):
        return run_loop(spec, list(vals[:nc]), list(vals[nc:nc + nk]), list(vals[nc + nk:]))

    return impl


def loop_op(spec: LoopSpec) -> LoopOp:
    """The interned operation of a loop with this static part."""
    if spec.checkpoint not in POLICIES:
        raise ValueError(f"checkpoint must be one of {POLICIES}, got {spec.checkpoint!r}")
    key = spec.key()
    with _LOCK:
        op = _OPS.get(key)
        if op is None:
            op = LoopOp(name=spec.kind, nargs=None, impl=_loop_impl(spec), cost=0.0,
                        taylor=TaylorRule(_loop_taylor),
                        doc=f"a {spec.kind} loop of {spec.length} steps", spec=spec)
            _OPS[key] = op
    return op


_OUT_OPS: dict = {}


def out_op(index: int, step: int | None = None) -> LoopOutOp:
    key = (index, step)
    op = _OUT_OPS.get(key)
    if op is None:
        if step is None:
            def impl(v, _k=index):
                return v.carries[_k]
            name = f"carry{index}"
        else:
            def impl(v, _k=index, _s=step):
                return v.ys[_s][_k]
            name = f"y{index}@{step}"
        def rule(k, cs, xs, aux, state, _k=index, _s=step):
            return TAYLOR["out"](_k, _s, k, cs, xs, aux, state)

        op = _OUT_OPS[key] = LoopOutOp(name=name, nargs=1, impl=impl, cost=0.0, index=index,
                                      step=step, taylor=TaylorRule(rule))
    return op


def make_loop(spec: LoopSpec, init: list, consts: list, xs: list) -> Term:
    """The loop node; `xs` is the flat list of n·nx step-major x terms."""
    if len(init) != spec.nc or len(consts) != spec.nk or len(xs) != spec.length * spec.nx:
        raise TracingError("a loop's arguments do not match its body (internal error)")
    BUILT[0] += 1
    return Term(loop_op(spec), tuple(init) + tuple(consts) + tuple(xs))


def carry(loop: Term, k: int) -> Term:
    """Final carry k of a loop node."""
    return Term(out_op(k), (loop,))


def y_at(loop: Term, j: int, step: int) -> Term:
    """y number j of step `step` of a loop node."""
    return Term(out_op(j, step), (loop,))


LOOP_OPS: set = set()  # op types of loop nodes (symnum.loops.arrays adds its own)


def is_loop(n: Any) -> bool:
    return type(n) is Term and type(n.op) is LoopOp


LOOP_OPS.add(LoopOp)


def loop_parts(n: Term) -> tuple[LoopSpec, list, list, list]:
    """(spec, init, consts, xs) of a loop node."""
    spec = n.op.spec
    a = n.args
    return spec, list(a[: spec.nc]), list(a[spec.nc: spec.nc + spec.nk]), list(
        a[spec.nc + spec.nk:])


def has_loops(roots: list) -> bool:
    """Whether any loop node is reachable from `roots` (free when no loop was ever built)."""
    if not BUILT[0]:
        return False
    from symnum.core.interface import iscall

    return any(iscall(n) and type(operation(n)) in LOOP_OPS for n in postorder(roots))


def closure_of(outputs: list, inputs: list) -> list:
    """Symbols the outputs read that are not among `inputs` (a body's closed-over symbols), in
    a deterministic order (first use)."""
    mine = {id(s) for s in inputs}
    return [n for n in postorder(outputs) if isinstance(n, Sym) and id(n) not in mine]


def build_loop(kind: str, length: int, *, carry_syms: list, x_syms: list, index_sym: Sym,
               carry_outs: list, y_outs: list, init: list, xs: list, cond: Any = None,
               reverse: bool = False, lo: int = 0, bind: dict | None = None,
               checkpoint: str = "store") -> Term:
    """A loop node from a body given as terms over its input symbols. The body's other symbols
    become consts, bound to `bind[sym]` (default: the symbol itself, a closure)."""
    from symnum.core.build import as_expr

    outs = [as_expr(o) for o in list(carry_outs) + list(y_outs)]
    if cond is not None:
        outs.append(as_expr(cond))
    inputs = list(carry_syms) + list(x_syms)
    consts = closure_of(outs, inputs + [index_sym])
    bind = bind or {}
    body = Fn(tuple(inputs + consts + [index_sym]), outs)
    spec = LoopSpec(kind, length, reverse, lo, len(carry_syms), len(x_syms), len(consts),
                    len(y_outs), body, checkpoint)
    return make_loop(spec, [as_expr(v) for v in init], [bind.get(s, s) for s in consts],
                     [as_expr(v) for v in xs])


def depth_of(spec: LoopSpec) -> str:
    """The prefix of a loop's body symbols ("%1" for a top-level loop)."""
    return spec.index_sym.name[:-1]


def is_out(n: Any) -> bool:
    """Whether `n` is a projection of a loop node's outputs."""
    return type(n) is Term and type(n.op) is LoopOutOp


def with_body_outputs(n: Term, outs: list, args: list | None = None) -> Term:
    """The loop node `n` with its body's outputs replaced (same inputs) and optionally new
    arguments."""
    spec = n.op.spec
    body = Fn(tuple(spec.body.flat_inputs), list(outs))
    new = LoopSpec(spec.kind, spec.length, spec.reverse, spec.lo, spec.nc, spec.nx, spec.nk,
                   spec.ny, body, spec.checkpoint)
    return Term(loop_op(new), tuple(n.args if args is None else args))


def map_bodies(roots: list, f) -> list:
    """`roots` with every loop body's outputs replaced by `f(outputs)` (a simplifier), loops
    nested in bodies included (f sees them as terms and may recurse); other nodes rebuilt only
    where a loop below them changed."""
    from symnum.core.interface import arguments, iscall, similarterm

    if not has_loops(roots):
        return list(roots)
    memo: dict[int, Any] = {}
    for n in postorder(roots):
        if not iscall(n):
            continue
        args = arguments(n)
        new_args = [memo.get(id(a), a) for a in args]
        changed = any(a is not b for a, b in zip(args, new_args))
        if is_loop(n):
            outs = f(list(n.op.spec.body.flat_outputs))
            memo[id(n)] = with_body_outputs(n, outs, new_args)
        elif changed:
            memo[id(n)] = similarterm(n, operation(n), new_args)
    return [memo.get(id(r), r) for r in roots]


# ---------------------------------------------------------------------------------------------
# pickling: a loop op is stored as its static part, its body as a nested node table


def _encode_loop(op: LoopOp) -> tuple:
    from symnum.core.serial import to_table

    s = op.spec
    nodes, roots = to_table(list(s.body.flat_inputs) + list(s.body.flat_outputs))
    return (s.kind, s.length, s.reverse, s.lo, s.nc, s.nx, s.nk, s.ny, s.checkpoint, nodes,
            tuple(roots), len(s.body.flat_inputs))


def _decode_loop(data: tuple) -> LoopOp:
    from symnum.core.serial import from_table

    kind, length, reverse, lo, nc, nx, nk, ny, checkpoint, nodes, roots, n_in = data
    terms = from_table(list(nodes))
    items = [terms[i] for i in roots]
    body = Fn(tuple(items[:n_in]), items[n_in:])
    return loop_op(LoopSpec(kind, length, reverse, lo, nc, nx, nk, ny, body, checkpoint))


def _install_codecs() -> None:
    from symnum.core.serial import OP_CODECS, OP_DECODERS

    OP_CODECS[LoopOp] = ("loop", _encode_loop)
    OP_CODECS[LoopOutOp] = ("loop_out", lambda op: (op.index, op.step))
    OP_DECODERS["loop"] = _decode_loop
    OP_DECODERS["loop_out"] = lambda d: out_op(d[0], d[1])


_install_codecs()
