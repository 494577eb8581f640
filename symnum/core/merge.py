"""The merge policy of canonical sums: when a sum operand is copied into another sum and when it
stays one entry of it (MERGE_LIMIT, `merge_limit`).

Sits in the core beside symnum.core.canonical, which asks it at every merge of sums; it decides
only, never builds a term (canonical does), and it must never depend on anything but the
operands themselves (no reference counts, no history), so that forms stay a function of their
operands.

Flattening a sum operand into another sum copies its entries. That is what makes x + y + z one
form, and it is free when the operand is used once; but a program that reuses a sum (an RK4
step reads the state x in k1…k4 and in x + h/6·(…)) copies it into every user, each step's
sums are longer than the last, and a Python loop of n steps builds and lowers O(n²) entries
(1.6k/5.7k/21.7k/84k/332k statements at 2/4/8/16/32 Lorenz-96 steps).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from symnum.core.terms import Add, Expr, Mul, Term, holds, term_reads
from symnum.errors import ArgumentError

# In a merge of several operands (add(a, b), _sum, linear_combination), a sum operand stays ONE
# ENTRY of the result (an "opaque" sum, keyed by itself with its scale as coefficient) when
#   * it has more than MERGE_LIMIT entries, or
#   * it is "layered": it already holds an opaque sum among its entries,
# unless it is the only sum among the operands and enters with scale 1 (`e + s`, `e + 2·t`,
# `e + 1`: the sum is extended, as the O(1) append of a loop sum needs) and no other operand
# reads it (`x + sin(x)`, `x + h·sin(x)`, `x + h·x·y`: the sum is then certainly used twice,
# and extending it would make an Euler loop's n sums hold 1, 2, …, n entries). "Reads" looks
# one level below a call's arguments (`product_reads`: sin(2·x), sin(x + 1), exp(-x·x)) and
# no deeper, so that the check stays O(1) per operand: Add.__add__ screens every appended call
# term (terms.term_reads) and sends the ones that read the sum here, so that `+` and
# canonical.add build one form. Deeper reads (sin(2·sin(2·x))) still extend the sum (measured:
# benchmarks/results_issue12.md, "Session 4: merge policy, remaining cases"). Layering makes
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

# Sums with at most this many entries are merged into other sums as before; chosen by measurement
# (benchmarks/results_issue12.md, "Session 4"): the suite's canonical forms stay as they were, and
# a Lorenz-96 RK4 state passes the limit after a few steps.
DEFAULT_MERGE_LIMIT = 8
MERGE_LIMIT: contextvars.ContextVar = contextvars.ContextVar("symnum_merge_limit",
                                                            default=DEFAULT_MERGE_LIMIT)


@contextmanager
def merge_limit(limit: int | None) -> Iterator[None]:
    """Within this block, sums with more than `limit` entries (or holding such a sum) are kept
    as one entry when merged into another sum; None merges everything (unbounded, O(n²) for
    loops that reuse sums).

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


def has_sum_entry(t: Add) -> bool:
    keys = t._entries.keys
    for i in range(t._len):
        if type(keys[i]) is Add:
            return True
    return False


def kept_whole(s: Add, limit: int) -> bool:
    """Whether the sum `s` is kept as one entry when merged with another sum operand (the scan
    for a sum entry only runs on sums of at most `limit` entries, whose merge copies as many)."""
    return s._len > limit or has_sum_entry(s)


def sum_operand(a: Expr) -> Add | None:
    """The sum inside a sum operand (s or c·s), else None."""
    if type(a) is Add:
        return a
    if type(a) is Mul and a._len == 1 and type(a._entries.keys[0]) is Add \
            and a._entries.vals[0] == 1:
        return a._entries.keys[0]
    return None


def product_reads(p: Any, s: Add) -> bool:
    """Whether the operand `p` of a merge with the sum `s` reads `s`: a call term whose argument
    holds it (sin(x), sin(2·x), sin(x + 1)), or a product with `s` (or a sum holding it) among
    its bases (h·x·y, h·x², h·(x + 1)·y) or a call term among its bases that reads it
    (h·sin(x), h·sin(2·x))."""
    tp = type(p)
    if tp is Term:
        return term_reads(p, s)
    if tp is not Mul:
        return False
    if p.get(s) is not None:
        return True
    for b in p.entry_keys():
        tb = type(b)
        if tb is Term:
            if term_reads(b, s):
                return True
        elif tb is Add and holds(b, s):
            return True
    return False


def read_keeps_whole(s: Add, other: Any) -> bool:
    """Whether `s + other`, where `s` would be extended (the only sum, scale 1), keeps `s` as
    one entry instead: `other` reads it and it is kept whole under the limit in force. The
    fast paths of canonical.add ask this; `opaque_operands` is the same rule for _sum."""
    if not product_reads(other, s):
        return False
    limit = MERGE_LIMIT.get()
    return limit is not None and kept_whole(s, limit)


def opaque_operands(stack: list, limit: int) -> set:
    """ids of the sum operands of a merge that stay one entry each (the policy above)."""
    sums = []
    for a, scale in stack:
        s = sum_operand(a)
        if s is not None:
            sums.append((s, scale if s is a else scale * a.coeff))
    if not sums:
        return set()
    if len(sums) == 1 and sums[0][1] == 1:  # extended, unless a product operand reads it
        s = sums[0][0]
        if kept_whole(s, limit) and any(a is not s and product_reads(a, s) for a, _ in stack):
            return {id(s)}
        return set()
    return {id(s) for s, _ in sums if kept_whole(s, limit)}
