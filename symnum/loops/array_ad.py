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
(symnum.loops.array_segments). A reversed loop stores, as in scalar mode. Only what the
caller asked for is built: the backward scan carries the cotangents of the carries an active
argument needs and the accumulators of the active consts, and the forward loop stores only the
incoming carries the backward body reads (none for a linear step: then no table and no second
loop) — decided on the graph, so every backend and the interpreter skip the rest (numba writes
whatever table it is given; llvm's optimiser deleted only stores it proved dead).
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
from symnum.core.traversal import postorder, substitute
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


def _reads(terms: list, syms: list) -> list[bool]:
    """Which of the placeholders `syms` the terms read (loop bodies are closed: a nested loop
    reads its enclosing body's placeholders through its arguments, which postorder visits)."""
    ids = {id(n) for n in postorder(list(terms))}
    return [id(s) in ids for s in syms]


def _needed_carries(spec: Any, active: list) -> list[bool]:
    """Which carries' cotangents the backward scan must carry: a carry whose initial value is
    active, and, to a fixed point, one whose new value reads a needed carry, an active x or an
    active const (its cotangent flows into theirs). The others' cotangents reach nothing the
    caller asked for: carrying them would cost a backward carry and the stored values only
    they read."""
    nc, nk = spec.nc, spec.nk
    ins, outs = spec.body.flat_inputs, spec.body.flat_outputs
    reads = [_reads([o], list(ins[:-1])) for o in outs[:nc]]
    want = [bool(a) for a in active[:nc]]
    # ins = carries, xs, consts; active = init, consts, xs
    other = [bool(a) for a in active[nc + nk:]] + [bool(a) for a in active[nc:nc + nk]]
    changed = True
    while changed:
        changed = False
        for j in range(nc):
            if not want[j] and any(r and w for r, w in zip(reads[j], want + other)):
                want[j] = changed = True
    return want


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
    # only what the caller asked for: the carries whose cotangents reach an active argument,
    # the active consts' accumulators, the active xs' cotangents, the ys given a cotangent —
    # and, below, only the stored carries the resulting backward body reads
    cs = [k for k, w in enumerate(_needed_carries(spec, active)) if w]
    ks = [j for j in range(nk) if active[nc + j]]
    xa = [j for j in range(nx) if active[nc + nk + j]]
    ya = [j for j in range(ny) if (True, j) in cts]
    cb = [_ph(f"{p}cb{k}", c_ph[k]) for k in cs]
    yb = [_ph(f"{p}yb{j}", y_out[j]) for j in ya]
    kb = [_ph(f"{p}kb{j}", k_in[j]) for j in ks]
    grads = vjp_arrays([c_out[k] for k in cs] + [y_out[j] for j in ya],
                       [c_ph[k] for k in cs] + [x_ph[j] for j in xa] + [k_in[j] for j in ks],
                       cb + yb)
    b_carry = grads[:len(cs)] + [a + g for a, g in zip(kb, grads[len(cs) + len(xa):])]
    b_ys = grads[len(cs):len(cs) + len(xa)]
    bind = dict(zip(k_in, consts))
    read = _reads(b_carry + b_ys, list(c_ph) + list(x_ph))
    if spec.checkpoint == "recompute" and not spec.reverse:
        # nothing stored: the backward body recomputes its step's carries (array_checkpoint)
        now, more = recomputed(spec, args)
        b_carry = [substitute(g, now) for g in b_carry]
        b_ys = [substitute(g, now) for g in b_ys]
        bind.update(more)
        stored: list = []
        c_x: list = []
    else:
        # the forward loop again, the incoming carries the backward body reads as extra ys
        # (stacked whole); none read (a linear step, a carry only its own cotangent needs
        # never read): no table and no second forward loop at all
        c_x = [c for c, r in zip(c_ph, read[:nc]) if r]
        stored = []
        if c_x:
            aug_outs = list(c_out) + list(y_out) + c_x + list(outs[nc + ny:])
            aug = LA.make_array_loop(spec, ArrayFn(tuple(ins), aug_outs), ny + len(c_x), args)
            stored = [LA.out_term(aug, ny + k, True) for k in range(len(c_x))]
    x_r = [j for j in range(nx) if read[nc + j]]
    b_xs = stored + [xs[j] for j in x_r] + [cts[(True, j)] for j in ya]
    b_init = [cts.get((False, k), zeros(_shape(c_ph[k]))) for k in cs] + \
        [zeros(_shape(k_in[j])) for j in ks]
    back = LA.build_array_loop(
        "scan", L, carry_in=cb + kb, x_in=c_x + [x_ph[j] for j in x_r] + yb, index=ins[-1],
        carry_out=b_carry, y_out=b_ys, init=b_init, xs=b_xs, reverse=not spec.reverse,
        lo=spec.lo, bind=bind)
    res: list = [None] * (nc + nk + nx)
    for m, k in enumerate(cs):
        res[k] = LA.out_term(back, m, False) if active[k] else None
    for m, j in enumerate(ks):
        res[nc + j] = LA.out_term(back, len(cs) + m, False)
    for m, j in enumerate(xa):
        res[nc + nk + j] = LA.out_term(back, m, True)
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
