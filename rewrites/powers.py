"""POWERS: rules for powers, square roots, absolute values and products of exponentials.

Runs on canonical terms (patterns are built in canonical mode, so `x^2` presents as pow(x, 2)).
Every rule keeps the value wherever its left side is defined on the reals and is defined nowhere
the left side is not: `sqrt(x^2) → |x|`, never `x`; `sqrt(x)^2` is left alone (not `x`).
"""

from __future__ import annotations

from symnum.core.build import tree_mode
from symnum.core.interface import arguments
from symnum.core.primitives import exp, mul, sqrt
from symnum.core.terms import Const
from symnum.rules import Bindings, Rule, RuleSet, literal_value, slot
from symnum.rules.predicates import (
    half_odd_value,
    integer_value,
    is_even,
    is_literal,
    is_negative_form,
    is_nonnegative,
    negate,
    opname,
)

with tree_mode(False):  # patterns must present like the canonical terms they match
    x, y = slot("x"), slot("y")
    n_even = slot("n", is_even)
    h = slot("h", lambda t: (k := half_odd_value(t)) is not None and abs(k) >= 3)
    z = slot("z", lambda t: opname(t) == "mul")

    def _sqrt_even_pow(b: Bindings):
        """abs(x)^(n/2)"""
        return abs(b.x) ** (integer_value(b.n) // 2)

    def _half_integer(b: Bindings):
        """x^((k-1)/2)·sqrt(x) for k > 0; x^((k+1)/2)/sqrt(x) for k < 0"""
        k = half_odd_value(b.h)
        # for k < 0 every factor is a negative power, so x = 0 gives inf (as the lhs does)
        return b.x ** ((k - 1) // 2) * sqrt(b.x) if k > 0 else (
            b.x ** ((k + 1) // 2) / sqrt(b.x))

    def _abs_mul(b: Bindings):
        """|c|·f·|rest| for literal c and nonnegative factors f"""
        known, rest = [], []
        for a in arguments(b.z):
            if is_literal(a):
                known.append(Const(abs(literal_value(a))))  # exact: folding abs() gives floats
            elif is_nonnegative(a):
                known.append(a)
            else:
                rest.append(a)
        if not known:
            return None
        return mul(*known, abs(mul(*rest))) if rest else mul(*known)

    POWERS = RuleSet("powers", [
        Rule("pow-half", x ** 0.5, sqrt(x)),
        Rule("pow-neg-half", x ** -0.5, 1 / sqrt(x)),
        Rule("pow-half-integer", x ** h, _half_integer),
        Rule("sqrt-even-pow", sqrt(x ** n_even), _sqrt_even_pow),
        Rule("abs-even-pow", abs(x) ** n_even, x ** n_even),
        Rule("abs-abs", abs(abs(x)), abs(x)),
        Rule("abs-neg", abs(x), lambda b: abs(negate(b.x)), when=lambda b: is_negative_form(b.x)),
        Rule("abs-nonneg", abs(x), x, when=lambda b: is_nonnegative(b.x)),
        Rule("abs-mul", abs(z), _abs_mul),
        Rule("exp-mul", exp(x) * exp(y), exp(x + y)),
        Rule("exp-pow", exp(x) ** slot("n"), lambda b: exp(b.n * b.x)),
    ], doc=__doc__)
