"""Taylor mode through loop nodes: the jet of a loop to order k is one loop whose carries, xs
and ys are the Taylor coefficients 0..k of the original ones, its body the jet of the body
(symnum.autodiff.taylor.jet_terms). Installed as the `taylor` rule of the loop ops, so jets,
nth_derivative and the Laplacian go through loops; a jet of order K builds K such loops.
Never evaluates or lowers anything.
"""

from __future__ import annotations

from typing import Any

import symnum.loops.terms as T
from symnum.autodiff.taylor import jet_terms
from symnum.core.terms import Sym


def _coef_syms(syms: list, k: int, tag: str) -> dict:
    """{sym: [sym, sym⁽¹⁾ … sym⁽ᵏ⁾]} with fresh symbols for the higher coefficients."""
    return {s: [s] + [Sym(f"{s.name}~{tag}{m}") for m in range(1, k + 1)] for s in syms}


def jet_loop(node: Any, k: int, coefs: list) -> Any:
    """The loop computing coefficients 0..k of every output of `node`, given its arguments'
    coefficient lists `coefs` (one per argument, in argument order). Its carry m·nc + j is
    coefficient m of carry j; its y m·ny + j coefficient m of y j."""
    spec, init, consts, xs = T.loop_parts(node)
    nc, nx, nk, ny = spec.nc, spec.nx, spec.nk, spec.ny
    seeds = _coef_syms(spec.carry_syms, k, "c") | _coef_syms(spec.x_syms, k, "x") | \
        _coef_syms(spec.const_syms, k, "k")
    outs = spec.carry_outs + spec.y_outs
    jets = jet_terms(outs, seeds, k)  # one list of k+1 coefficients per output
    c_syms = [seeds[s][m] for m in range(k + 1) for s in spec.carry_syms]
    x_syms = [seeds[s][m] for m in range(k + 1) for s in spec.x_syms]
    carry_outs = [jets[j][m] for m in range(k + 1) for j in range(nc)]
    y_outs = [jets[nc + j][m] for m in range(k + 1) for j in range(ny)]
    a_init, a_k, a_x = coefs[:nc], coefs[nc:nc + nk], coefs[nc + nk:]
    init = [a_init[j][m] for m in range(k + 1) for j in range(nc)]
    jxs: list = []
    for s in range(spec.length):
        jxs += [a_x[s * nx + j][m] for m in range(k + 1) for j in range(nx)]
    bind = {}
    for j, s in enumerate(spec.const_syms):
        for m in range(k + 1):
            bind[seeds[s][m]] = a_k[j][m]
    return T.build_loop(
        spec.kind, spec.length, carry_syms=c_syms, x_syms=x_syms, index_sym=spec.index_sym,
        carry_outs=carry_outs, y_outs=y_outs, init=init, xs=jxs, cond=spec.cond_out,
        reverse=spec.reverse, lo=spec.lo, bind=bind, checkpoint=spec.checkpoint)


def _loop_rule(k: int, cs: list, xs: list, aux: list, state: dict) -> Any:
    """Coefficient k of a loop node: its jet loop of order k (cs[0] is the node itself)."""
    return jet_loop(cs[0], k, [x[:k + 1] for x in xs])


def _out_rule(index: int, step: Any, k: int, cs: list, xs: list, aux: list,
              state: dict) -> Any:
    """Coefficient k of a loop output: read off the jet loop of order k."""
    j = xs[0][k]
    spec = j.op.spec
    if step is None:
        return T.carry(j, k * (spec.nc // (k + 1)) + index)
    return T.y_at(j, k * (spec.ny // (k + 1)) + index, step)


T.TAYLOR["loop"] = _loop_rule
T.TAYLOR["out"] = _out_rule
