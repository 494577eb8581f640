"""POWERS: rules for powers, square roots, absolute values and products of exponentials.

Each rule is declared once (symnum.rules.ruledef) for the classical engine (canonical terms: its
patterns are built in canonical mode, so `x^2` presents as pow(x, 2)), the e-graph, or both; the
e-graph reads pow-half/pow-neg-half/exp-mul into OPTIMIZE and abs-abs/abs-even-pow into TRIG.
Every rule keeps the value wherever its left side is defined on the reals and is defined nowhere
the left side is not: `sqrt(x^2) → |x|`, never `x`; `sqrt(x)^2` is left alone (not `x`).
"""

from __future__ import annotations

from symnum.core.interface import arguments
from symnum.core.primitives import exp, mul, sqrt
from symnum.core.terms import Const
from symnum.rules import Bindings, literal_value
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
from symnum.rules.ruledef import BOTH, INT, RULES, classical_ruleset, rule


def _half_odd(t) -> bool:
    k = half_odd_value(t)
    return k is not None and abs(k) >= 3


def _is_mul(t) -> bool:
    return opname(t) == "mul"


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


def _r(name, build, engines=BOTH, when=None, sets=("powers",), phase="simplify"):
    return rule(name, build, sets=sets, engines=engines, when=when, phase=phase)


DEFS = [
    _r("pow-half", lambda x: (x ** 0.5, sqrt(x)), sets=("powers", "optimize")),
    _r("pow-neg-half", lambda x: (x ** -0.5, 1 / sqrt(x)), sets=("powers", "optimize")),
    _r("pow-half-integer", lambda x, h=_half_odd: (x ** h, _half_integer), RULES),
    _r("sqrt-even-pow", lambda x, n=is_even: (sqrt(x ** n), _sqrt_even_pow), RULES),
    _r("abs-even-pow", lambda x, n=INT: (abs(x) ** n, x ** n), when="n % 2 == 0",
       sets=("powers", "trig")),
    _r("abs-abs", lambda x: (abs(abs(x)), abs(x)), sets=("powers", "trig")),
    _r("abs-neg", lambda x: (abs(x), lambda b: abs(negate(b.x))), RULES,
       lambda b: is_negative_form(b.x)),
    _r("abs-nonneg", lambda x: (abs(x), x), RULES, lambda b: is_nonnegative(b.x)),
    _r("abs-mul", lambda z=_is_mul: (abs(z), _abs_mul), RULES),
    _r("exp-mul", lambda x, y: (exp(x) * exp(y), exp(x + y)), sets=("powers", "optimize"),
       phase="explore"),
    _r("exp-pow", lambda x, n=None: (exp(x) ** n, lambda b: exp(b.n * b.x)), RULES),
]

POWERS = classical_ruleset("powers", DEFS, __doc__ or "")
