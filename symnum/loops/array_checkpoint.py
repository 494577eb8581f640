"""Reverse mode through an array loop without storing its carries (checkpoint="recompute"): the
carry entering backward step s is recomputed from the loop's initial carry by an inner array
loop of s steps, nested in the backward scan's body.

The array counterpart of symnum.loops.ad._recomputed: the inner loop is a bounded while loop
(bound: the trip count) of select-form steps over fresh placeholders, carries (c, q) where q
counts the steps taken, going on while q < s; its consts are the forward body's consts, the
initial carries and the whole stacked xs (read at the inner step), each bound from the backward
body to the forward loop's arguments. Memory: O(carry) in all (the inner loop's own two buffers)
instead of the (length × carry) table of the stored policy; time: length·(length+1)/2 forward
steps instead of length. The derivative is the same expression as the stored policy's, on the
same recomputed values (the forward steps are the same operations in the same order): results
are bit-identical on the interpreter; a compiled kernel may differ by FP contraction only.
Used by symnum.loops.array_ad; never evaluates or lowers anything.
"""

from __future__ import annotations

from typing import Any

import symnum.core.primitives as P
import symnum.loops.arrays as LA
from symnum.arrays.ops_map import elementwise
from symnum.arrays.terms import ArraySym
from symnum.core.terms import Const, Sym
from symnum.core.traversal import substitute

_ROLE = "rk"  # the role letters of the recompute loop's symbols: %1rkc0, %1rkx0, %1rki, ...


def _shape(v: Any) -> tuple:
    return tuple(getattr(v, "shape", ()))


def _like(name: str, v: Any, lead: tuple = ()) -> Any:
    sh = lead + _shape(v)
    return ArraySym(name, sh, getattr(v, "dtype", "float64")) if sh else Sym(name)


def prefix(spec: Any) -> str:
    """Symbols are interned by name: a prefix none of the body's own inputs starts with (a
    backward body differentiated again already holds `%1rk…` symbols)."""
    base = spec.body.flat_inputs[-1].name[:-1]
    names = [getattr(s, "name", "") for s in spec.body.flat_inputs]
    k = 0
    while True:
        p = base if k == 0 else f"{base}d{k}"
        if not any(nm.startswith(p + _ROLE) for nm in names):
            return p + _ROLE
        k += 1


def _select(go: Any, new: Any, old: Any) -> Any:
    if _shape(old):
        return elementwise(lambda c, a, b: P.ifelse(c, a, b), [go, new, old], "numpy.where")
    return P.ifelse(go, new, old)


def recomputed(spec: Any, args: tuple) -> tuple[dict, dict]:
    """For a forward (not reversed) array loop node with arguments `args`:
    ({forward carry placeholder: the carry entering the current backward step}, {placeholder of
    the backward body: the outer term it is bound to}) — the first to substitute into the
    step's VJP, the second to add to the backward loop's `bind`."""
    nc, nx, nk = spec.nc, spec.nx, spec.nk
    ins, outs = spec.body.flat_inputs, spec.body.flat_outputs
    c_ph, x_ph, index = ins[:nc], ins[nc:nc + nx], ins[-1]
    init, xs = args[:nc], args[nc + nk:]
    p = prefix(spec)
    c2 = [_like(f"{p}c{k}", v) for k, v in enumerate(c_ph)]
    x2 = [_like(f"{p}x{j}", v) for j, v in enumerate(x_ph)]
    i2, q, target = Sym(f"{p}i"), Sym(f"{p}q"), Sym(f"{p}T")
    init_ph = [_like(f"{p}0_{k}", v) for k, v in enumerate(c_ph)]
    xs_ph = [_like(f"{p}X{j}", v, (spec.length,)) for j, v in enumerate(x_ph)]
    ren = dict(zip(c_ph, c2)) | dict(zip(x_ph, x2)) | {index: i2}
    new = [substitute(o, ren) for o in outs[:nc]]
    go = P.lt(q, target)
    inner = LA.build_array_loop(
        "while", spec.length, carry_in=c2 + [q], x_in=x2, index=i2,
        carry_out=[_select(go, o, c) for o, c in zip(new, c2)] + [q + P.ifelse(go, 1, 0)],
        y_out=[], init=init_ph + [Const(0)], xs=xs_ph, cond=go, lo=spec.lo,
        bind={target: index - spec.lo})
    now = {c: LA.out_term(inner, k, False) for k, c in enumerate(c_ph)}
    bind = dict(zip(init_ph, init)) | dict(zip(xs_ph, xs))
    return now, bind
