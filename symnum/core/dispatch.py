"""The term interface implemented for symnum's own term types.

Add and Mul present themselves through the interface as ordinary calls: `2x + 3y + 1` is
add(1, 2x, 3y); `3x²y` is mul(3, x², y); a lone `x²` is pow(x, 2). So code written against the
interface never needs to know that the polynomial forms exist. Argument views are built once per
term and cached, in construction order (deterministic for a deterministic program; `digest` is
order-independent for commutative ops, so content hashes do not depend on history).
"""

from __future__ import annotations

import hashlib

import symnum.core.interface as I
from symnum.core.build import apply
from symnum.core.canonical import make_mul
from symnum.core.primitives import add_op, mul_op, pow_op
from symnum.core.terms import Add, Const, Expr, Mul, Sym, Term, cached, numkey
from symnum.core.traversal import postorder

# ---------------------------------------------------------------------------------------------
# a content digest: stable across processes (Python's hash() of str is salted per process)


def _digest(t: Expr, child) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    tp = type(t)
    if tp is Sym:
        h.update(b"S" + repr(sorted(t.meta.items())).encode() + b"\0" + t.name.encode())
    elif tp is Const:
        h.update(b"C" + repr(numkey(t.value)).encode())
    elif not I.iscall(t):  # another leaf type (a rule pattern's slot): its type and text name it
        h.update(b"L" + type(t).__qualname__.encode() + b"\0" + str(t).encode())
    else:
        op = I.operation(t)
        h.update(b"F" + op.name.encode())
        kids = [child(a) for a in I.arguments(t)]
        if op.commutative:  # argument order of Add/Mul views is construction history
            kids.sort()
        for k in kids:
            h.update(k)
    return h.digest()


def digest(t: Expr) -> bytes:
    """128-bit content hash of a term, equal across processes for equal terms."""
    c = t._cache
    if c is not None and "digest" in c:
        return c["digest"]
    def child(a):
        return a._cache["digest"]

    for n in postorder([t]):  # iterative: deep graphs never hit the recursion limit
        if n._cache is None or "digest" not in n._cache:
            cached(n, "digest", lambda node: _digest(node, child))
    return t._cache["digest"]


# ---------------------------------------------------------------------------------------------
# iscall / operation / arguments / metadata


@I.iscall.register
def _(t: Term) -> bool:
    return True


@I.iscall.register(Add)
@I.iscall.register(Mul)
def _(t) -> bool:
    return True


@I.operation.register
def _(t: Term):
    return t.op


@I.operation.register
def _(t: Add):
    return add_op


@I.operation.register
def _(t: Mul):
    return pow_op if _is_single_power(t) else mul_op


def _is_single_power(t: Mul) -> bool:
    return t.coeff == 1 and len(t.bases) == 1


def _add_args(t: Add) -> list:
    # a product key keeps its bases flat under the coefficient: 2·(x·y) presents as mul(2, x, y)
    args = [k if c == 1 else (make_mul(c * k.coeff, dict(k.bases)) if type(k) is Mul
                              else make_mul(c, {k: 1}))
            for k, c in t.terms.items()]
    return ([Const(t.const)] if t.const != 0 else []) + args


def _mul_args(t: Mul) -> list:
    if _is_single_power(t):
        ((b, e),) = t.bases.items()
        return [b, Const(e)]
    args = [b if e == 1 else make_mul(1, {b: e}) for b, e in t.bases.items()]
    return ([Const(t.coeff)] if t.coeff != 1 else []) + args


@I.arguments.register
def _(t: Term) -> list:
    return list(t.args)


@I.arguments.register
def _(t: Add) -> list:
    return list(cached(t, "args", _add_args))


@I.arguments.register
def _(t: Mul) -> list:
    return list(cached(t, "args", _mul_args))


@I.metadata.register
def _(t: Sym):
    return t.meta


@I.metadata.register
def _(t: Term):
    return t.meta


# ---------------------------------------------------------------------------------------------
# maketerm: rebuild through the op, so the current mode (canonical or tree) applies


@I.register_maketerm(Expr)
def _(T, op, args, meta=None):
    if meta is not None and T is Term:
        return Term(op, tuple(args), meta)
    return apply(op, tuple(args))
