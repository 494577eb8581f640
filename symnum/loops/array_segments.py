"""Reverse mode through an array loop keeping every k-th carry (checkpoint=k, or "sqrt" for
k = ⌈√length⌉): two-level checkpointing as a rewrite into loops the stored policy handles.

The loop of L steps is the same computation as an outer loop of S = L // k segments whose body
runs an inner loop of k steps, followed by a plain loop of the r = L − S·k steps left:

    outer: scan over S segments, carry c, x = xs[g·k:(g+1)·k]      (stores S carries)
        inner: scan over k steps, index lo + g·k + j               (stores k carries)
    tail:  scan over r steps from lo + S·k                         (stores r carries)
    ys = concatenate(outer ys reshaped to (S·k, ...), tail ys)

and its VJP — every loop with the stored policy — is the two-level scheme: the outer backward
scan reads the S segment carries, and its body reruns that segment's inner loop (storing its k
carries) before the inner backward scan. Memory: (S + k + r) carries instead of L (at
k = ⌈√L⌉ about 2√L). A scan or fori loop is *built* as the nest (`segmented_loop`, called by
symnum.loops.api), so the nest is the forward pass and its stored copy runs with it (the
backends run a loop and its augmented copy as one): each step runs twice — forward, and once
more inside the backward segments (the classical count). A while loop stays whole (its early
exit) and is rewritten when differentiated (`segmented_vjp`): it runs three times. The
per-step derivative is the same expression on the same values, so carry cotangents agree with
the stored policy bit for bit (a const's, summed per segment first, within reassociation).
Used by symnum.loops.api and array_ad (a reversed loop stores, as for "recompute"); never
evaluates or lowers anything.
"""

from __future__ import annotations

import math
from typing import Any

import symnum.loops.arrays as LA
from symnum.arrays.ops_index import concatenate, reshape
from symnum.arrays.terms import ArraySym
from symnum.autodiff.array_ad import vjp_arrays
from symnum.core.terms import Sym
from symnum.core.traversal import substitute


def segment_length(policy: Any, length: int) -> int | None:
    """k of a segmented policy (an int k ≥ 1, or "sqrt": ⌈√length⌉); None for the others."""
    if policy == "sqrt":
        return max(1, math.isqrt(max(length - 1, 0)) + 1)
    if isinstance(policy, int) and not isinstance(policy, bool):
        return policy
    return None


def _shape(v: Any) -> tuple:
    return tuple(getattr(v, "shape", ()))


def _like(name: str, v: Any, shape: tuple | None = None) -> Any:
    sh = _shape(v) if shape is None else shape
    return ArraySym(name, sh, getattr(v, "dtype", "float64")) if sh else Sym(name)


def _prefixes(spec: Any) -> tuple[str, str, str]:
    """Prefixes for the rewrite's symbols (interned by name) that none of the body's own inputs
    start with: the placeholders of the loop's arguments, the inner and the outer loop's."""
    base = spec.body.flat_inputs[-1].name[:-1]
    names = [getattr(s, "name", "") for s in spec.body.flat_inputs]
    k = 0
    while True:
        p = f"{base}s{k}"
        if not any(nm.startswith(p) for nm in names):
            return p + "a", p + "n", p + "o"
        k += 1


def _nest(spec: Any, init: list, xs: list, bind: dict, k: int) -> tuple[list, list]:
    """(final carries, stacked ys) of the loop `spec` from `init` over `xs` (its consts bound
    by `bind`), computed as an outer loop of S = L // k segments of an inner loop of k steps and
    a tail loop of the r steps left: the same steps in the same order."""
    nc, nx, ny, L = spec.nc, spec.nx, spec.ny, spec.length
    ins, outs = spec.body.flat_inputs, spec.body.flat_outputs
    c_ph, x_ph, index = ins[:nc], ins[nc:nc + nx], ins[-1]
    _, pn, po = _prefixes(spec)
    k = max(1, min(k, L))
    S, r = divmod(L, k)
    kind = "fori" if spec.kind == "while" else spec.kind  # select-form steps: a scan of them
    carries, ys_parts = list(init), [[] for _ in range(ny)]
    if S:
        j, g = Sym(f"{pn}i"), Sym(f"{po}i")
        sub = [substitute(o, {index: spec.lo + g * k + j}) for o in outs[:nc + ny]]
        co = [_like(f"{po}c{m}", v) for m, v in enumerate(c_ph)]
        xo = [_like(f"{po}x{m}", v, (k,) + _shape(v)) for m, v in enumerate(x_ph)]
        inner = LA.build_array_loop(
            kind, k, carry_in=list(c_ph), x_in=list(x_ph), index=j, carry_out=sub[:nc],
            y_out=sub[nc:], init=co, xs=xo)
        outer = LA.build_array_loop(
            kind, S, carry_in=co, x_in=xo, index=g,
            carry_out=[LA.out_term(inner, m, False) for m in range(nc)],
            y_out=[LA.out_term(inner, m, True) for m in range(ny)], init=carries,
            xs=[reshape(x[:S * k], (S, k) + _shape(v)) for x, v in zip(xs, x_ph)],
            bind=bind)
        carries = [LA.out_term(outer, m, False) for m in range(nc)]
        for m, v in enumerate(outs[nc:nc + ny]):
            ys_parts[m].append(reshape(LA.out_term(outer, m, True), (S * k,) + _shape(v)))
    if r:
        tail = LA.build_array_loop(
            kind, r, carry_in=list(c_ph), x_in=list(x_ph), index=index,
            carry_out=list(outs[:nc]), y_out=list(outs[nc:nc + ny]), init=carries,
            xs=[x[S * k:] for x in xs], lo=spec.lo + S * k, bind=bind)
        carries = [LA.out_term(tail, m, False) for m in range(nc)]
        for m in range(ny):
            ys_parts[m].append(LA.out_term(tail, m, True))
    return carries, [p[0] if len(p) == 1 else concatenate(p) for p in ys_parts]


def segmented_loop(node: Any) -> tuple[list, list] | None:
    """The final carries and stacked ys of the array loop `node` built as the segmented nest
    (None: not a segmented policy, a reversed scan, a while loop or no steps — the node stays
    as it is). Called when the user's loop is built, so that the nest *is* the forward pass:
    reverse mode then stores each loop's carries as for "store" — the outer loop's table is
    the segment carries, read off the same forward pass (the backends run a loop and its
    augmented copy as one), and each segment is recomputed once inside the backward scan: every
    step runs twice in all. (A while loop keeps its early exit: it is segmented only when it is
    differentiated, `segmented_vjp`, and then runs three times.)"""
    spec = node.op.spec
    k = segment_length(spec.checkpoint, spec.length)
    if k is None or spec.reverse or spec.kind == "while" or spec.length == 0:
        return None
    nc, nx, nk = spec.nc, spec.nx, spec.nk
    k_in = spec.body.flat_inputs[nc + nx:-1]
    args = node.args
    return _nest(spec, list(args[:nc]), list(args[nc + nk:]),
                 dict(zip(k_in, args[nc:nc + nk])), k)


def segmented_vjp(n: Any, cts: dict, k: int, active: list) -> list:
    """Cotangents of the arguments of the array loop node `n` (init, consts, xs; None where
    `active` says not needed) given its outputs' `cts` ({(stacked, index): term}): the nest
    over placeholders of its arguments, differentiated (loops `segmented_loop` left whole)."""
    spec = n.op.spec
    nc, nx, nk = spec.nc, spec.nx, spec.nk
    k_in = spec.body.flat_inputs[nc + nx:-1]
    args = n.args
    pa, _, _ = _prefixes(spec)
    p_args = [_like(f"{pa}{j}", a) for j, a in enumerate(args)]
    p_init, p_k, p_x = p_args[:nc], p_args[nc:nc + nk], p_args[nc + nk:]
    carries, ys = _nest(spec, p_init, p_x, dict(zip(k_in, p_k)), k)
    o_list, ct_list = [], []
    for (stacked, m), ct in cts.items():
        o_list.append(ys[m] if stacked else carries[m])
        ct_list.append(ct)
    wanted = [p for p, a in zip(p_args, active) if a]
    grads = iter(vjp_arrays(o_list, wanted, ct_list))
    back = dict(zip(p_args, args))
    res = []
    for a in active:
        g = next(grads) if a else None
        res.append(None if g is None else substitute(g, back))
    return res
