"""Taylor mode through array loops (symnum.loops.arrays), registered in
symnum.autodiff.array_taylor.RULES, so array-mode jacfwd, Hessians and jets go through loops.

The jet of a loop to order K is one array loop whose carries, xs and ys are the coefficients
0..K of the original ones (carry K·nc + j is coefficient K of carry j; likewise the ys), its body
the body's jet (jet_arrays, with the same batch of directions) — as symnum.loops.taylor does for
scalar loops. Batched coefficients (ctx.B directions) keep the batch axis in front outside the
loop, but the loop's steps must lead an xs or stacked-y leaf, so those are transposed on the way
in and out. Never evaluates or lowers anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import symnum.loops.arrays as LA
from symnum.arrays.terms import ArraySym, shape_of
from symnum.autodiff.array_rules import arr, zeros
from symnum.autodiff.array_taylor import RULES, jet_arrays
from symnum.core.terms import Sym


def _shape(v: Any) -> tuple:
    return tuple(getattr(v, "shape", ()))


def _ph(name: str, shape: tuple) -> Any:
    return ArraySym(name, shape, "float64") if shape else Sym(name)


def _steps_first(c: Any, ctx: Any) -> Any:
    """(B, L, ...) ↔ (L, B, ...) for a batched xs / stacked-y coefficient."""
    if ctx.B is None:
        return c
    a = arr(c)
    return np.transpose(a, (1, 0) + tuple(range(2, len(shape_of(a)))))


def _active(c: Any) -> bool:
    return c is not None and any(x is not None for x in c[1:])


def _loop_rule(n: Any, cs: list, ctx: Any) -> list:
    """[node, its jet loop, None…]: the projections read every coefficient off the jet loop."""
    spec = n.op.spec
    K, nc, nx, nk, ny = ctx.K, spec.nc, spec.nx, spec.nk, spec.ny
    ins, outs = spec.body.flat_inputs, spec.body.flat_outputs
    c_ph, x_ph, k_in = ins[:nc], ins[nc:nc + nx], ins[nc + nx:-1]
    c_cs, k_cs, x_cs = cs[:nc], cs[nc:nc + nk], cs[nc + nk:]
    p = ins[-1].name[:-1]

    def coef_phs(tag: str, j: int, v: Any) -> list:
        return [_ph(f"{p}{tag}{j}~{m}", ctx.shape(_shape(v))) for m in range(1, K + 1)]

    # every carry is seeded (an active const or xs makes it move even from a constant init)
    cc = [coef_phs("jc", j, v) for j, v in enumerate(c_ph)]
    xa = [j for j in range(nx) if _active(x_cs[j])]
    ka = [j for j in range(nk) if _active(k_cs[j])]
    xc = {j: coef_phs("jx", j, x_ph[j]) for j in xa}
    kc = {j: coef_phs("jk", j, k_in[j]) for j in ka}
    seeds = dict(zip(c_ph, cc))
    seeds.update({x_ph[j]: xc[j] for j in xa})
    seeds.update({k_in[j]: kc[j] for j in ka})
    jets = jet_arrays(list(outs[:nc + ny]), seeds, K, batch=ctx.B)

    def given(c: Any, m: int, shape: tuple) -> Any:
        return zeros(ctx.shape(shape)) if c is None or c[m] is None else arr(c[m])

    args = n.args
    init, consts, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
    bind = dict(zip(k_in, consts))
    for j in ka:
        for m in range(1, K + 1):
            bind[kc[j][m - 1]] = given(k_cs[j], m, _shape(k_in[j]))
    j_init = list(init) + [given(c_cs[j], m, _shape(c_ph[j]))
                           for m in range(1, K + 1) for j in range(nc)]
    j_xs = list(xs) + [_steps_first(given(x_cs[j], m, (spec.length,) + _shape(x_ph[j])), ctx)
                       for m in range(1, K + 1) for j in xa]
    jl = LA.build_array_loop(
        spec.kind, spec.length,
        carry_in=list(c_ph) + [cc[j][m - 1] for m in range(1, K + 1) for j in range(nc)],
        x_in=list(x_ph) + [xc[j][m - 1] for m in range(1, K + 1) for j in xa],
        index=ins[-1],
        carry_out=list(outs[:nc]) + [jets[j][m] for m in range(1, K + 1) for j in range(nc)],
        y_out=list(outs[nc:nc + ny]) + [jets[nc + j][m] for m in range(1, K + 1)
                                         for j in range(ny)],
        init=j_init, xs=j_xs, cond=outs[-1] if spec.kind == "while" else None,
        reverse=spec.reverse, lo=spec.lo, bind=bind, checkpoint=spec.checkpoint)
    return [n, jl] + [None] * (K - 1)


def _out_rule(n: Any, cs: list, ctx: Any) -> list:
    jl = cs[0][1]
    spec = n.args[0].op.spec
    op = n.op
    if not op.stacked:
        return [n] + [LA.out_term(jl, m * spec.nc + op.index, False)
                      for m in range(1, ctx.K + 1)]
    return [n] + [_steps_first(LA.out_term(jl, m * spec.ny + op.index, True), ctx)
                  for m in range(1, ctx.K + 1)]


RULES[LA.ArrayLoop] = _loop_rule
RULES[LA.ArrayLoopOut] = _out_rule
