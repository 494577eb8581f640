"""Applying an Op to arguments: the single place where terms get built.

In canonical mode (the default) an op's `canonical` hook runs (Add/Mul polynomial forms, constant
folding); in tree mode every call builds a plain Term exactly as written. The mode is a context
variable set by `tree_mode()`, never a global switch or an environment variable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from symnum.core.hooks import HOOKS
from symnum.core.terms import (
    TREE_MODE,
    Add,
    Const,
    Expr,
    Mul,
    Sym,
    Term,
    is_number,
    normalize_number,
)
from symnum.errors import TracingError, UnsupportedOperationError

# TREE_MODE (a context variable, defined in terms so that the forms' own operators can read it)
# is the mode; hot paths read it directly
_CALLS = (Sym, Term, Add, Mul)  # non-constant scalar terms: an op on them folds nothing


@contextmanager
def tree_mode(enabled: bool = True) -> Iterator[None]:
    """Within this block, arithmetic builds plain Terms with no rearranging or folding.

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> with sn.tree_mode():
    ...     e = x + x
    >>> str(e), str(x + x)
    ('x + x', '2*x')
    """
    token = TREE_MODE.set(enabled)
    try:
        yield
    finally:
        TREE_MODE.reset(token)


def in_tree_mode() -> bool:
    return TREE_MODE.get()


def as_expr(v: Any) -> Expr:
    """A term for `v`: terms pass through, numbers become Const; anything else is an error."""
    if isinstance(v, Expr):
        return v
    if is_number(v):
        return Const(v)
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return as_expr(v[()])
    if isinstance(v, np.ndarray):
        raise TracingError(
            f"expected a scalar but got an array of shape {v.shape}; apply the operation to the "
            "array with numpy (np.sin(arr)) so it maps elementwise"
        )
    raise UnsupportedOperationError(
        f"cannot use a {type(v).__name__} ({v!r}) in a symbolic expression; only numbers and "
        "symnum expressions can be combined"
    )


def as_number(v: Any):
    """The plain number `v` stands for (a Const or a number), or None for a non-constant term."""
    t = type(v)
    if t is Const:
        return v.value
    if t is int or t is float:  # the common cases first: this runs for every term built
        return v
    if isinstance(v, Expr):
        return None
    if is_number(v):
        return normalize_number(v)
    return None


def is_zero(v: Any) -> bool:
    """True when `v` is the number zero (a Const or a plain number); False for any other term."""
    n = as_number(v)
    return n is not None and n == 0


def fold(op, nums: list) -> Any:
    """Evaluate `op` on numbers with numpy semantics (inf/nan instead of exceptions)."""
    vals = [np.float64(n) if not isinstance(n, (bool, np.floating)) else n for n in nums]
    with np.errstate(all="ignore"):
        r = op.impl(*vals)
    r = np.asarray(r)[()]
    if op.result == "bool":
        return bool(r)
    return r


def apply(op, args: tuple) -> Expr:
    """Build `op(*args)` under the current mode."""
    if len(args) == 1 and args[0].__class__ in _CALLS and op.nargs == 1 and (
            op.canonical is None or TREE_MODE.get()):
        # sin(e), cos(e): nothing to fold or rearrange, the Term as written (the general path
        # below gives the same Term with several more calls)
        return Term._make(op, args)
    if op.nargs is not None and len(args) != op.nargs:
        raise TypeError(f"{op.name} takes {op.nargs} argument(s), got {len(args)}")
    exprs = []
    for a in args:
        if isinstance(a, Expr) or type(a) is float or type(a) is int:
            exprs.append(a)  # plain numbers go to the canonical hooks unwrapped: no Const built
        elif isinstance(a, np.ndarray) and a.ndim > 0:
            # op applied to an array: map elementwise, the way numpy users expect
            return HOOKS.elementwise(op, args)
        elif getattr(type(a), "_symnum_array_term", False):
            # a symbolic array term (symnum.arrays, a higher layer): it maps the op itself
            return type(a)._symnum_apply(op, args)
        else:
            exprs.append(as_expr(a))
    if TREE_MODE.get():
        return Term(op, tuple(exprs))
    if op.canonical is not None:
        r = op.canonical(*exprs)
        if r is not None:
            return r if isinstance(r, Expr) else as_expr(r)
    nums = [as_number(a) for a in exprs]
    if op.impl is not None and all(n is not None for n in nums):
        return Const(fold(op, nums))
    return Term(op, tuple(exprs))
