"""Reverse and forward mode through array loops (symnum.loops.arrays), registered in
symnum.autodiff.array_rules.VJP_RULES and array_jvp.JVP_RULES. Forward: the JVP of a loop is one
loop of (primal, tangent) carries. Reverse: the adjoint is one reverse array scan, every value a
whole array term — the stored carries are the augmented forward loop's stacked ys, so the
gradient program is O(1) terms in the trip count and the arrays' sizes.

A loop has several outputs; its projections pass their cotangents on as `CtSlot` markers (0-d
placeholders that are never evaluated), which the loop's rule collects from the sum the sweep
built over them. Checkpointing: checkpoint="store" keeps every step's incoming carries (the
augmented loop's ys, length × carry); "recompute" keeps none — the backward body recomputes them
by an inner loop (symnum.loops.array_checkpoint); an int k or "sqrt" keeps every k-th
(symnum.loops.array_segments). A reversed loop stores, as in scalar mode.
Never evaluates or lowers anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import symnum.loops.arrays as LA
from symnum.arrays.fn import ArrayFn
from symnum.arrays.ops_base import ArrayOp
from symnum.arrays.terms import ArraySym, ArrayTerm
from symnum.autodiff.array_ad import vjp_arrays
from symnum.autodiff.array_jvp import JVP_RULES, jvp_arrays
from symnum.autodiff.array_rules import VJP_RULES, arr, zeros
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Sym
from symnum.core.traversal import substitute
from symnum.loops.array_checkpoint import recomputed
from symnum.loops.array_segments import segment_length, segmented_vjp


@dataclass(frozen=True)
class CtSlot(ArrayOp):
    """The cotangent of one output of a loop node, on its way to the node (never evaluated)."""

    stacked: bool
    index: int
    name = "ct_slot"
    marker = True  # exists only inside a reverse sweep: never evaluated nor differentiated

    def infer(self, args):
        return (), "float64"

    def impl(self, *vals):  # pragma: no cover - markers exist only inside a reverse sweep
        raise RuntimeError("internal error: a loop cotangent marker was evaluated")


def _out_vjp(n: Any, ct: Any, active: list) -> list:
    op = n.op
    return [ArrayTerm(CtSlot(op.stacked, op.index), (arr(ct),))]


def _markers(ct: Any) -> list:
    """The CtSlot markers a cotangent sum was built from (through the sweep's adds)."""
    out, stack = [], [ct]
    while stack:
        t = stack.pop()
        if isinstance(t, ArrayTerm) and type(t.op) is CtSlot:
            out.append(t)
        elif iscall(t):
            stack.extend(arguments(t))
        else:
            raise RuntimeError(f"internal error: a loop's cotangent is not made of its "
                               f"outputs' cotangents ({operation(t) if iscall(t) else t})")
    return out


def _shape(v: Any) -> tuple:
    return tuple(getattr(v, "shape", ()))


def _ph(name: str, like: Any) -> Any:
    sh = _shape(like)
    return ArraySym(name, sh, "float64") if sh else Sym(name)


def _total(parts: list) -> Any:
    acc = parts[0]
    for p in parts[1:]:
        acc = acc + p
    return acc


def _loop_vjp(n: Any, ct: Any, active: list) -> list:
    spec = n.op.spec
    nc, nx, nk, ny, L = spec.nc, spec.nx, spec.nk, spec.ny, spec.length
    cts: dict = {}
    for m in _markers(ct):
        cts.setdefault((m.op.stacked, m.op.index), []).append(m.args[0])
    cts = {k: _total(v) for k, v in cts.items()}
    every = segment_length(spec.checkpoint, L)
    if every is not None and not spec.reverse:  # keep every k-th carry (array_segments)
        return segmented_vjp(n, cts, every, active)
    ins = spec.body.flat_inputs
    outs = spec.body.flat_outputs
    c_ph, x_ph, k_in = ins[:nc], ins[nc:nc + nx], ins[nc + nx:-1]
    c_out, y_out = outs[:nc], outs[nc:nc + ny]
    args = n.args
    consts, xs = args[nc:nc + nk], args[nc + nk:]
    p = ins[-1].name[:-1]
    cb = [_ph(f"{p}cb{k}", v) for k, v in enumerate(c_ph)]
    yb = [_ph(f"{p}yb{j}", v) for j, v in enumerate(y_out)]
    kb = [_ph(f"{p}kb{j}", v) for j, v in enumerate(k_in)]
    grads = vjp_arrays(list(c_out) + list(y_out), list(c_ph) + list(x_ph) + list(k_in),
                       cb + yb)
    bind = dict(zip(k_in, consts))
    if spec.checkpoint == "recompute" and not spec.reverse:
        # nothing stored: the backward body recomputes its step's carries (array_checkpoint)
        now, more = recomputed(spec, args)
        grads = [substitute(g, now) for g in grads]
        bind.update(more)
        stored: list = []
        c_x: list = []
    else:
        # the forward loop again, each step's incoming carries as extra ys (stacked whole)
        aug_outs = list(c_out) + list(y_out) + list(c_ph) + list(outs[nc + ny:])
        aug = LA.make_array_loop(spec, ArrayFn(tuple(ins), aug_outs), ny + nc, args)
        stored = [LA.out_term(aug, ny + k, True) for k in range(nc)]
        c_x = list(c_ph)
    b_carry = grads[:nc] + [a + g for a, g in zip(kb, grads[nc + nx:])]
    b_ys = grads[nc:nc + nx]
    b_xs = stored + list(xs) + [cts.get((True, j), zeros((L,) + _shape(v)))
                                for j, v in enumerate(y_out)]
    b_init = [cts.get((False, k), zeros(_shape(v))) for k, v in enumerate(c_ph)] + \
        [zeros(_shape(v)) for v in k_in]
    back = LA.build_array_loop(
        "scan", L, carry_in=cb + kb, x_in=c_x + list(x_ph) + yb, index=ins[-1],
        carry_out=b_carry, y_out=b_ys, init=b_init, xs=b_xs, reverse=not spec.reverse,
        lo=spec.lo, bind=bind)
    res: list = []
    for k in range(nc):
        res.append(LA.out_term(back, k, False) if active[k] else None)
    for j in range(nk):
        res.append(LA.out_term(back, nc + j, False) if active[nc + j] else None)
    for j in range(nx):
        res.append(LA.out_term(back, j, True) if active[nc + nk + j] else None)
    return res


def _loop_jvp(n: Any, tans: list) -> Any:
    """The JVP loop of an array loop node: carries (c, ċ), xs (x, ẋ), ys (y, ẏ)."""
    spec = n.op.spec
    nc, nx, nk, ny, L = spec.nc, spec.nx, spec.nk, spec.ny, spec.length
    ins, outs = spec.body.flat_inputs, spec.body.flat_outputs
    c_ph, x_ph, k_in = ins[:nc], ins[nc:nc + nx], ins[nc + nx:-1]
    c_out, y_out = outs[:nc], outs[nc:nc + ny]
    p = ins[-1].name[:-1]
    ct = [_ph(f"{p}ct{k}", v) for k, v in enumerate(c_ph)]
    xt = [_ph(f"{p}xt{j}", v) for j, v in enumerate(x_ph)]
    kt = [_ph(f"{p}kt{j}", v) for j, v in enumerate(k_in)]
    touts = jvp_arrays(list(c_out) + list(y_out), list(c_ph) + list(x_ph) + list(k_in),
                       ct + xt + kt)
    args = n.args
    init, consts, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
    t_init, t_k, t_x = tans[:nc], tans[nc:nc + nk], tans[nc + nk:]

    def tangent(t: Any, shape: tuple) -> Any:
        return zeros(shape) if t is None else arr(t) if shape else t

    bind = dict(zip(k_in, consts))
    bind.update({s: tangent(t, _shape(s)) for s, t in zip(kt, t_k)})
    return LA.build_array_loop(
        spec.kind, L, carry_in=list(c_ph) + ct, x_in=list(x_ph) + xt, index=ins[-1],
        carry_out=list(c_out) + touts[:nc], y_out=list(y_out) + touts[nc:],
        init=list(init) + [tangent(t, _shape(v)) for t, v in zip(t_init, c_ph)],
        xs=list(xs) + [tangent(t, (L,) + _shape(v)) for t, v in zip(t_x, x_ph)],
        cond=outs[-1] if spec.kind == "while" else None, reverse=spec.reverse, lo=spec.lo,
        bind=bind, checkpoint=spec.checkpoint)


def _out_jvp(n: Any, tans: list) -> Any:
    j = tans[0]  # the JVP loop of the node this projects
    spec = n.args[0].op.spec
    op = n.op
    return LA.out_term(j, (spec.ny if op.stacked else spec.nc) + op.index, op.stacked)


VJP_RULES[LA.ArrayLoop] = _loop_vjp
VJP_RULES[LA.ArrayLoopOut] = _out_vjp
JVP_RULES[LA.ArrayLoop] = _loop_jvp
JVP_RULES[LA.ArrayLoopOut] = _out_jvp
