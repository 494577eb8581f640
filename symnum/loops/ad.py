"""Reverse and forward mode through loop nodes, registered with symnum.autodiff.ad.NODE_RULES.

Reverse (checkpoint="store"): the forward loop is run again with every step's incoming carry as
an extra y (the stored carries), and the adjoint is one reverse scan whose body is the VJP of the
step: carries (c̄, k̄), per step xs (c_s, x_s, ȳ_s), ys x̄_s. Its cost is O(n) steps; the graph is
O(1) in n apart from one projection term per stored value that a compiled kernel reads in place.
checkpoint="recompute": nothing is stored; each backward step recomputes its carry from the
initial one by an inner bounded loop (O(n²) steps, O(1) memory). Forward mode: the JVP of a scan
is one scan of (primal, tangent) carries. Never lowers or evaluates anything.
"""

from __future__ import annotations

from typing import Any

import symnum.loops.terms as T
from symnum.autodiff import ad
from symnum.core.primitives import ifelse, lt
from symnum.core.terms import Const, Sym
from symnum.core.traversal import substitute

ZERO = Const(0)


def _syms(prefix: str, n: int) -> list:
    return [Sym(f"{prefix}{j}") for j in range(n)]


_ROLES = ("rc", "rx", "ri", "rq", "rT", "cb", "kb", "yb", "ct", "xt", "kt")


def _prefix(spec: T.LoopSpec) -> str:
    """The prefix of the symbols a derivative loop of `spec` introduces. Symbols are interned by
    name, so the prefix must differ from the one that made the body's own inputs: the body of a
    backward loop already holds `%1cb0`…, and differentiating it again (grad of grad) would
    otherwise reuse them."""
    base = T.depth_of(spec)
    names = {s.name for s in spec.body.flat_inputs}
    k = 0
    while True:
        p = base if k == 0 else f"{base}d{k}"
        if not any(nm.startswith(p) and nm[len(p):len(p) + 2] in _ROLES for nm in names):
            return p
        k += 1


class _OutRule:
    """A projection leaves its adjoint for its loop node; its tangent is the JVP loop's."""

    @staticmethod
    def vjp(n: Any, adj: Any, side: dict) -> list:
        if adj is not None:
            op = n.op
            key = ("c", op.index) if op.step is None else ("y", op.index, op.step)
            side.setdefault(id(n.args[0]), {})[key] = adj
        return []

    @staticmethod
    def jvp(n: Any, tan: dict) -> Any:
        j = tan.get(id(n.args[0]))
        if j is None:
            return None
        spec = n.args[0].op.spec
        op = n.op
        if op.step is None:
            return T.carry(j, spec.nc + op.index)
        return T.y_at(j, spec.ny + op.index, op.step)


class _LoopRule:
    @staticmethod
    def vjp(n: Any, adj: Any, side: dict) -> list:
        cts = side.pop(id(n), None)
        if not cts:
            return []
        return loop_vjp(n, cts)

    @staticmethod
    def jvp(n: Any, tan: dict) -> Any:
        return loop_jvp(n, tan)


def _stored_carries(n: Any) -> tuple[Any, int]:
    """The forward loop again, with each step's incoming carry as extra ys: (node, first y)."""
    spec, init, consts, xs = T.loop_parts(n)
    aug = T.build_loop(spec.kind, spec.length, carry_syms=spec.carry_syms, x_syms=spec.x_syms,
                       index_sym=spec.index_sym, carry_outs=spec.carry_outs,
                       y_outs=spec.y_outs + spec.carry_syms, init=init, xs=xs,
                       cond=spec.cond_out, reverse=spec.reverse, lo=spec.lo,
                       bind=dict(zip(spec.const_syms, consts)), checkpoint=spec.checkpoint)
    return aug, spec.ny


def _recomputed(spec: T.LoopSpec, init: list, consts: list, xs: list, p: str) -> dict:
    """{carry sym: the carry entering the current step}, recomputed from `init` by an inner loop
    that runs (index − lo) steps of the body (for the backward body of a forward loop)."""
    c2, x2, i2 = _syms(f"{p}rc", spec.nc), _syms(f"{p}rx", spec.nx), Sym(f"{p}ri")
    q, target = Sym(f"{p}rq"), Sym(f"{p}rT")
    ren = dict(zip(spec.carry_syms, c2)) | dict(zip(spec.x_syms, x2)) | {spec.index_sym: i2}
    outs = [substitute(o, ren) for o in spec.carry_outs]
    go = lt(q, target)
    if spec.has_cond:
        go = go & substitute(spec.cond_out, ren)
    inner = T.build_loop(
        "while", spec.length, carry_syms=c2 + [q], x_syms=x2, index_sym=i2,
        carry_outs=[ifelse(go, o, c) for o, c in zip(outs, c2)] + [q + ifelse(go, 1, 0)],
        y_outs=[], init=init + [ZERO], xs=xs, cond=go, lo=spec.lo,
        bind=dict(zip(spec.const_syms, consts)) | {target: spec.index_sym - spec.lo})
    return {c: T.carry(inner, k) for k, c in enumerate(spec.carry_syms)}


def loop_vjp(n: Any, cts: dict) -> list:
    """[(argument, cotangent)] of a loop node given its outputs' adjoints `cts`
    ({("c", k): term, ("y", j, step): term})."""
    spec, init, consts, xs = T.loop_parts(n)
    p = _prefix(spec)
    nc, nx, nk, ny, L = spec.nc, spec.nx, spec.nk, spec.ny, spec.length
    cb, kb, yb = _syms(f"{p}cb", nc), _syms(f"{p}kb", nk), _syms(f"{p}yb", ny)
    wrt = spec.carry_syms + spec.x_syms + spec.const_syms
    grads = ad.vjp_terms(spec.carry_outs + spec.y_outs, wrt, cb + yb)
    recompute = spec.checkpoint == "recompute" and not spec.reverse
    if recompute:
        now = _recomputed(spec, init, consts, xs, p)
        grads = [substitute(g, now) for g in grads]
        stored_syms: list = []
    else:
        stored_syms = spec.carry_syms
        aug, y0 = _stored_carries(n)
    # xs of the backward scan, step-major: (stored carry, x, ȳ) of each step
    bxs: list = []
    for s in range(L):
        if not recompute:
            bxs += [T.y_at(aug, y0 + k, s) for k in range(nc)]
        bxs += xs[s * nx:(s + 1) * nx]
        bxs += [cts.get(("y", j, s), ZERO) for j in range(ny)]
    # the x syms are xs of the backward scan too; the consts stay consts (closure)
    back = T.build_loop(
        "scan", L, carry_syms=cb + kb, x_syms=stored_syms + spec.x_syms + yb,
        index_sym=spec.index_sym,
        carry_outs=grads[:nc] + [a + g for a, g in zip(kb, grads[nc + nx:])],
        y_outs=grads[nc:nc + nx],
        init=[cts.get(("c", k), ZERO) for k in range(nc)] + [ZERO] * nk, xs=bxs,
        reverse=not spec.reverse, lo=spec.lo,
        bind=dict(zip(spec.const_syms, consts)))
    out = [(a, T.carry(back, k)) for k, a in enumerate(init)]
    out += [(a, T.carry(back, nc + k)) for k, a in enumerate(consts)]
    for s in range(L):
        out += [(xs[s * nx + j], T.y_at(back, j, s)) for j in range(nx)]
    return out


def loop_jvp(n: Any, tan: dict) -> Any:
    """The JVP loop of a loop node: carries (c, ċ), xs (x, ẋ), ys (y, ẏ)."""
    spec, init, consts, xs = T.loop_parts(n)
    p = _prefix(spec)
    nc, nx, nk = spec.nc, spec.nx, spec.nk
    ct, xt, kt = _syms(f"{p}ct", nc), _syms(f"{p}xt", nx), _syms(f"{p}kt", nk)
    wrt = spec.carry_syms + spec.x_syms + spec.const_syms
    outs = spec.carry_outs + spec.y_outs
    touts = ad.jvp_terms(outs, wrt, ct + xt + kt)
    zero = ZERO
    jxs: list = []
    for s in range(spec.length):
        jxs += xs[s * nx:(s + 1) * nx]
        jxs += [tan.get(id(a), zero) for a in xs[s * nx:(s + 1) * nx]]
    bind = dict(zip(spec.const_syms, consts))
    bind.update({k: tan.get(id(a), zero) for k, a in zip(kt, consts)})
    return T.build_loop(
        spec.kind, spec.length, carry_syms=spec.carry_syms + ct, x_syms=spec.x_syms + xt,
        index_sym=spec.index_sym, carry_outs=spec.carry_outs + touts[:nc],
        y_outs=spec.y_outs + touts[nc:], init=init + [tan.get(id(a), zero) for a in init],
        xs=jxs, cond=spec.cond_out, reverse=spec.reverse, lo=spec.lo, bind=bind,
        checkpoint=spec.checkpoint)


ad.NODE_RULES[T.LoopOp] = _LoopRule
ad.NODE_RULES[T.LoopOutOp] = _OutRule
