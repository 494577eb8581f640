"""Rewriting inside array programs: every Map body through a scalar simplifier, in one batch.

The array structure (index maps, reductions, contractions) is left as it is — array rewrites are
a later issue's — while each elementwise body, being ordinary scalar IR over placeholders, goes
through whichever scalar method `simplify` runs (rules or e-graph), all bodies in one call so a
method's fixed costs are paid once. Never scalarizes.
"""

from __future__ import annotations

from collections.abc import Callable

from symnum.arrays.ops_map import Map, from_body, placeholder
from symnum.arrays.terms import ArrayTerm
from symnum.core.interface import arguments, iscall
from symnum.core.traversal import postorder, postwalk_many, substitute


def _is_map(n) -> bool:
    return isinstance(n, ArrayTerm) and isinstance(n.op, Map)


def fuse_maps(roots: list) -> list:
    """Compose chains of elementwise maps into one Map each (ARRAYS.md's fusion by inlining).

    A Map argument is inlined into its consumer when the consumer is its only user and it has
    the consumer's shape (inlining a broadcast argument would recompute it per element).

    >>> import numpy as np
    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (3,))
    >>> f = fuse_maps([np.sin(x) ** 2 + 1])[0]
    >>> str(f.op.body), f.args == (x,)
    ('sin(_0)^2 + 1', True)
    """
    uses: dict[int, int] = {}
    for n in postorder(roots):
        if iscall(n):
            for a in set(map(id, arguments(n))):
                uses[a] = uses.get(a, 0) + 1
    for r in roots:
        uses[id(r)] = uses.get(id(r), 0) + 1

    def rw(n):
        if not _is_map(n):
            return None
        inline = [a for a in n.args if _is_map(a) and a.shape == n.shape
                  and uses.get(id(a), 0) <= 1]
        if not inline:
            return None
        operands: list = []
        index: dict[int, int] = {}

        def slot(a):
            if id(a) not in index:
                index[id(a)] = len(operands)
                operands.append(a)
            return placeholder(index[id(a)], a.dtype)

        table = {}
        for i, a in enumerate(n.args):
            if any(a is b for b in inline):
                sub = {placeholder(j, b.dtype): slot(b) for j, b in enumerate(a.args)}
                table[placeholder(i, a.dtype)] = substitute(a.op.body, sub)
            else:
                table[placeholder(i, a.dtype)] = slot(a)
        # two passes through fresh names would be needed if placeholders collided; substitute
        # replaces original nodes only, so _i → _j renumbering is simultaneous
        return from_body(substitute(n.op.body, table), operands, "fused map")

    return postwalk_many(list(roots), rw)


def rewrite_bodies(roots: list, run: Callable[[list], list]) -> list:
    """`roots` with every Map body `b` replaced by `run([...b...])`'s result for it.

    >>> import numpy as np, symnum as sn
    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (3,))
    >>> e = np.sin(x) ** 2 + np.cos(x) ** 2
    >>> print(rewrite_bodies([e], lambda bs: [sn.simplify(b) for b in bs])[0])
    broadcast_to(1, (3,))
    """
    roots = fuse_maps(list(roots))
    maps = [n for n in postorder(roots) if isinstance(n, ArrayTerm) and isinstance(n.op, Map)]
    if not maps:
        return list(roots)
    bodies = list(dict.fromkeys(m.op.body for m in maps))
    new = dict(zip(bodies, run(bodies)))

    def rw(n):
        if isinstance(n, ArrayTerm) and isinstance(n.op, Map):
            b = new.get(n.op.body, n.op.body)
            if b is not n.op.body:
                return Map(b, n.op.nin).rebuild(n.args)
        return None

    return postwalk_many(list(roots), rw)
