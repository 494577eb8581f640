"""The merge policy of canonical sums and products: when a sum (product) operand is copied into
another sum (product) and when it stays one entry (base) of it (MERGE_LIMIT, `merge_limit`).

Sits in the core beside symnum.core.canonical, which asks it at every merge of sums and of
products; it decides
only, never builds a term (canonical does), and it must never depend on anything but the
operands themselves (no reference counts, no history), so that forms stay a function of their
operands.

Flattening a sum operand into another sum copies its entries. That is what makes x + y + z one
form, and it is free when the operand is used once; but a program that reuses a sum (an RK4
step reads the state x in k1…k4 and in x + h/6·(…)) copies it into every user, each step's
sums are longer than the last, and a Python loop of n steps builds and lowers O(n²) entries
(1.6k/5.7k/21.7k/84k/332k statements at 2/4/8/16/32 Lorenz-96 steps). Products are the same
with bases for entries: a running product that reads itself (`p = p·sin(p)`, `p = p·(1 + h·g(p))`)
holds 1, 2, …, n bases in its n versions.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from symnum.core.terms import Add, Expr, Mul, Term
from symnum.errors import ArgumentError

# In a merge of several operands (add(a, b), _sum, linear_combination), a sum operand stays ONE
# ENTRY of the result (an "opaque" sum, keyed by itself with its scale as coefficient) when
#   * it has more than MERGE_LIMIT entries, or
#   * it is "layered": it already holds an opaque sum among its entries,
# unless it is the only sum among the operands and enters with scale 1 (`e + s`, `e + 2·t`,
# `e + 1`: the sum is extended, as the O(1) append of a loop sum needs) and no other operand
# reads it (`x + sin(x)`, `x + h·sin(2·sin(2·x))`, `x + h·x·y`: the sum is then certainly used
# twice, and extending it would make an Euler loop's n sums hold 1, 2, …, n entries). "Reads"
# is at any depth (`reads` below: bounded by the terms' heights, O(1) for a term no higher than
# the sum); Add.__add__ appends a call term no higher than the sum at once and sends the others
# here, so that `+` and canonical.add build one form. Layering makes
# a loop's steps alike once its state first passes the limit: the next state holds the old one
# opaque, so it is itself kept opaque by the step after, and every step adds O(1) entries of the
# same shape (the chain re-roller can then roll it).
#
# What holds: the result is a function of the operands alone (never of history or sharing);
# an Add's entry is never a number, never has a zero coefficient, and is an Add only if that
# Add had more entries than the limit in force when it was merged, or was layered. Uniqueness: two
# sums built from the same leaves are the same object when no sum operand on the way was opaque
# (every sum involved had at most MERGE_LIMIT entries and none was layered) — exactly as before
# the bound. Above it, groupings may give different (equal-valued) forms: for sums b1, b2 over
# the limit, ((b1 + b2) + x) + y is {b1, b2, x, y} (each step extends) but (b1 + b2) + (x + y)
# is {(b1 + b2), x, y} (two sum operands, the first layered). `flatten` rebuilds the unbounded
# canonical form (unique again); `expand` multiplies out and flattens as well.
#
# Products, the same rule with bases for entries and exponents for scales: in mul(a, b, …) a
# product operand (a Mul of two or more bases; c·b^k is one factor, as c·t is one entry of a
# sum) stays ONE BASE of the result (keyed by itself under coefficient 1, exponent 1, its
# coefficient multiplied into the result's, as a sum's entry is keyed without its coefficient)
# when it has more than MERGE_LIMIT bases or holds such a product, unless it is the only
# product operand and no other operand reads it (`p·s`, `p·2·s`, `p·s²` extend it: the loop
# product stays O(1) a factor; `p·sin(p)`, `p·(1 + h·g(p))` keep it whole). `p**k` of such a
# product is the one base p^k (canonical.pow), so p·p is p². Below the limit products are
# exactly as without the bound (tests/test_merge_policy.py); `flatten` and `expand` multiply
# kept products back in.

# Sums with at most this many entries are merged into other sums as before; chosen by measurement
# (benchmarks/results_issue12.md, "Session 4"): the suite's canonical forms stay as they were, and
# a Lorenz-96 RK4 state passes the limit after a few steps.
DEFAULT_MERGE_LIMIT = 8
MERGE_LIMIT: contextvars.ContextVar = contextvars.ContextVar("symnum_merge_limit",
                                                            default=DEFAULT_MERGE_LIMIT)


@contextmanager
def merge_limit(limit: int | None) -> Iterator[None]:
    """Within this block, sums (products) with more than `limit` entries (or holding such a sum,
    product) are kept as one entry when merged into another sum (product); None merges
    everything (unbounded, O(n²) for loops that reuse sums).

    >>> import symnum as sn
    >>> a, b, c, d = sn.symbols("a b c d")
    >>> with merge_limit(2):
    ...     e = (a + b + c) + 2 * (b + d)
    >>> len(e), len(sn.flatten(e)), sn.flatten(e) is a + 3*b + c + 2*d
    (3, 4, True)
    """
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or limit < 1):
        raise ArgumentError(f"merge_limit needs a positive int (the largest sum that is "
                            f"merged into another) or None (no bound), got {limit!r}")
    token = MERGE_LIMIT.set(limit)
    try:
        yield
    finally:
        MERGE_LIMIT.reset(token)


def has_form_entry(f: Any) -> bool:
    """Whether the sum (product) `f` holds a sum (product) among its entries: it is layered."""
    cls, keys = f.__class__, f._entries.keys
    for i in range(f._len):
        if keys[i].__class__ is cls:
            return True
    return False



def kept_whole(s: Any, limit: int) -> bool:
    """Whether the sum (product) `s` is kept as one entry when merged with another sum (product)
    operand (the scan for an entry of its type only runs on forms of at most `limit` entries,
    whose merge copies as many)."""
    return s._len > limit or has_form_entry(s)


def sum_operand(a: Expr) -> Add | None:
    """The sum inside a sum operand (s or c·s), else None."""
    if type(a) is Add:
        return a
    if type(a) is Mul and a._len == 1 and type(a._entries.keys[0]) is Add \
            and a._entries.vals[0] == 1:
        return a._entries.keys[0]
    return None


# "Reads": `t` holds the form `s` somewhere below itself (at any depth), or `s` with another
# number (x + 1 reads x, 2·p reads p: one interning look-up). Terms carry their height
# (Expr._h, set when built), and a term holding `s` is higher than `s`, so the walk only enters
# the part of `t` above s's height: a term no higher than `s` is answered at once (the loop sum
# `e = e + sin(sᵢ)` of fresh terms), and an Euler step `x + h·f(x)` walks only the new terms of
# its step, down to x. The walk is bounded: when the part above `s` has more than READ_BUDGET
# edges, the answer is "reads" (the form is then kept whole: never quadratic, only less flat).
# Both outcomes depend on the set of nodes above `s` alone, not on the order of the walk, so
# forms stay a function of their operands.
READ_BUDGET = 256


def _renumbered(c: Any, s: Any) -> bool:
    """Whether `c` is the form `s` with another number (x + 1 for x, 2·p for p)."""
    return c.__class__ is s.__class__ and c._len == s._len and c.with_number(s._num) is s


def reads(t: Any, s: Any) -> bool:
    """Whether the term `t` reads the sum (product) `s` (the rule above); O(1) when `t` is no
    higher than `s`, else a walk of t's part above `s`, of at most READ_BUDGET edges."""
    if not isinstance(t, Expr):
        return False
    hs = s._h
    if t._h <= hs:
        return t is s or t._h == hs and _renumbered(t, s)
    stack, seen, edges = [t], {id(t)}, 0
    while stack:
        n = stack.pop()
        tn = n.__class__
        kids = n.args if tn is Term else n.entry_keys() if tn is Add or tn is Mul else ()
        edges += len(kids)
        if edges > READ_BUDGET:
            return True
        for c in kids:
            if c is s:
                return True
            ch = c._h
            if ch > hs:
                if id(c) not in seen:
                    seen.add(id(c))
                    stack.append(c)
            elif ch == hs and _renumbered(c, s):
                return True
    return False


def is_product(p: Any) -> bool:
    """Whether `p` is a product operand of a merge of products: a Mul of two or more bases. A
    one-base Mul (c·b^k) is one factor, as c·t is one entry of a sum."""
    return p.__class__ is Mul and p._len > 1


def read_keeps_whole(s: Any, other: Any) -> bool:
    """Whether `s + other` (`s · other`), where the sum (product) `s` would be extended (the
    only one, scale 1), keeps `s` as one entry instead: `s` is kept whole under the limit in
    force and `other` reads it. The fast paths of canonical.add and canonical.mul ask this;
    `opaque_operands` / `opaque_factors` are the same rule for the general paths."""
    limit = MERGE_LIMIT.get()
    if limit is None or (s.__class__ is Mul and s._len < 2) or not kept_whole(s, limit):
        return False
    return reads(other, s)


def opaque_operands(stack: list, limit: int) -> set:
    """ids of the sum operands of a merge that stay one entry each (the policy above)."""
    sums = []
    for a, scale in stack:
        s = sum_operand(a)
        if s is not None:
            sums.append((s, scale if s is a else scale * a.coeff))
    if not sums:
        return set()
    if len(sums) == 1 and sums[0][1] == 1:  # extended, unless another operand reads it
        s = sums[0][0]
        if kept_whole(s, limit) and any(a is not s and reads(a, s) for a, _ in stack):
            return {id(s)}
        return set()
    return {id(s) for s, _ in sums if kept_whole(s, limit)}


def opaque_factors(args: Any, limit: int) -> set:
    """ids of the product operands of `mul(*args)` that stay one base each: the sums' rule with
    products for sums (every operand enters with exponent 1)."""
    prods = [a for a in args if is_product(a)]
    if not prods:
        return set()
    if len(prods) == 1:  # extended, unless another operand reads it
        p = prods[0]
        if kept_whole(p, limit) and any(a is not p and reads(a, p) for a in args):
            return {id(p)}
        return set()
    return {id(p) for p in prods if kept_whole(p, limit)}
