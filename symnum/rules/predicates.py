"""Predicates for slots and rule guards: literal tests and sign facts read through the interface.

Used by the rulesets in `rewrites/`; each answers from the term's shape alone (cheap, no
evaluation) and errs towards False, because a guard that says True wrongly makes a rule unsound.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from symnum.core.interface import arguments, iscall, operation
from symnum.rules.pattern import literal_value


def opname(t: Any) -> str | None:
    """The name of a call's operation (None for leaves and for ops without a name)."""
    return getattr(operation(t), "name", None) if iscall(t) else None


def is_literal(t: Any) -> bool:
    """A numeric leaf (Const or plain number)."""
    return not iscall(t) and literal_value(t) is not None


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(v)
    except (TypeError, OverflowError):
        return isinstance(v, Fraction)


def is_finite_literal(t: Any) -> bool:
    v = literal_value(t) if not iscall(t) else None
    return v is not None and not isinstance(v, bool) and _finite(v)


def integer_value(t: Any) -> int | None:
    """The value of an integral finite literal (2, 2.0, Fraction(4, 2)), else None."""
    if not is_finite_literal(t):
        return None
    v = literal_value(t)
    f = Fraction(v) if not isinstance(v, Fraction) else v
    return int(f) if f.denominator == 1 else None


def is_integer(t: Any) -> bool:
    return integer_value(t) is not None


def is_even(t: Any) -> bool:
    n = integer_value(t)
    return n is not None and n % 2 == 0


def is_odd(t: Any) -> bool:
    n = integer_value(t)
    return n is not None and n % 2 == 1


def half_odd_value(t: Any) -> int | None:
    """k when the literal is k/2 with k odd (0.5 → 1, -1.5 → -3), else None."""
    if not is_finite_literal(t):
        return None
    f = Fraction(literal_value(t)) * 2
    return int(f) if f.denominator == 1 and int(f) % 2 == 1 else None


def is_negative_form(t: Any, depth: int = 6) -> bool:
    """The term reads as a negation: a negative literal, a `neg` call, a sum all of whose terms
    are negative forms, or a product with an odd number of such factors.

    Never true of both `e` and `negate(e)`, so rules rewriting f(e) → ±f(negate(e)) terminate.
    """
    if not iscall(t):
        v = literal_value(t)
        return v is not None and not isinstance(v, bool) and v < 0
    if depth == 0:
        return False
    name = opname(t)
    if name == "neg":
        return True
    if name == "mul":
        odd = False
        for a in arguments(t):
            if is_literal(a) and literal_value(a) != literal_value(a):  # NaN has no sign
                return False
            if is_negative_form(a, depth - 1):
                odd = not odd
        return odd
    if name == "add":
        args = arguments(t)
        return bool(args) and all(is_negative_form(a, depth - 1) for a in args)
    return False


def negate(t: Any) -> Any:
    """-t, distributed over a sum (canonical -(x + y) is the product -1·(x + y), which still
    reads as a negation of a negated sum); the partner of is_negative_form. Builds symnum terms.

    >>> import symnum as sn
    >>> a = sn.Sym("a")
    >>> print(negate(-a - 1))
    a + 1
    """
    if opname(t) == "add":
        from symnum.core.primitives import add

        return add(*[-a for a in arguments(t)])
    return -t


_NONNEG_CALLS = {"abs", "exp", "cosh", "sqrt", "hypot"}


def is_nonnegative(t: Any, depth: int = 6) -> bool:
    """The term is ≥ 0 wherever it is defined (decided from its shape, depth-limited)."""
    if not iscall(t):
        v = literal_value(t)
        if v is None:  # a symbol declared positive=True / nonnegative=True
            meta = getattr(t, "meta", None) or {}
            return bool(meta.get("positive") or meta.get("nonnegative"))
        return not isinstance(v, bool) and v >= 0
    if depth == 0:
        return False
    name = opname(t)
    if name in _NONNEG_CALLS:
        return True
    args = arguments(t)
    if name == "pow":
        return is_even(args[1]) or (is_nonnegative(args[0], depth - 1))
    if name in ("mul", "add"):
        return all(is_nonnegative(a, depth - 1) for a in args)
    return False
