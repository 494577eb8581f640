"""TRIG: circular and hyperbolic identities (Pythagoras, symmetry, quotients, double angles).

Each rule is declared once (symnum.rules.ruledef) for the classical engine (canonical terms),
the e-graph (rewrites/eg_trig.py translates them), or both. Every rule keeps the value wherever
its left side is defined on the reals and extends no domain: `tan(atan x) → x` is here, and
`sin(asin x) → x` only for the e-graph (whose left side is undefined for |x| > 1, so the rule
defines nothing new there; the classical engine keeps it out). Odd/even symmetry moves a negation
out of any argument that reads as negated (`sin(-2x + -y) → -sin(2x + y)`), which cannot loop
(see is_negative_form); the e-graph's sin-neg/cos-neg do the same for an explicit Neg. The
"trig-shared" rules fire only where sin(x) and cos(x) both exist already, so tan(x), sin(2x),
cos(2x) can reuse them (the DAG-aware extractor takes them only when that is cheaper).
Never `asin(sin x) → x`.
"""

from __future__ import annotations

from symnum.core.primitives import (
    acos,
    asin,
    atan,
    cos,
    cosh,
    erf,
    mul,
    sin,
    sinh,
    sqrt,
    tan,
    tanh,
)
from symnum.rules import Bindings, literal_value
from symnum.rules.predicates import is_negative_form, negate
from symnum.rules.ruledef import BOTH, EGRAPH, RULES, SEGMENT, classical_ruleset, rule


def _negated(b: Bindings) -> bool:
    return is_negative_form(b.x)


def _odd(f):
    def rhs(b: Bindings):
        return -f(negate(b.x))

    rhs.__doc__ = f"-{f.name}(-x)"
    return rule(f"{f.name}-odd", lambda x: (f(x), rhs), sets="trig", engines=RULES,
                when=_negated)


def _even(f):
    def rhs(b: Bindings):
        return f(negate(b.x))

    rhs.__doc__ = f"{f.name}(-x)"
    return rule(f"{f.name}-even", lambda x: (f(x), rhs), sets="trig", engines=RULES,
                when=_negated)


def _same_scale(b: Bindings) -> bool:
    return mul(*b.c) is mul(*b.d)


def _opposite_scale(b: Bindings) -> bool:
    return mul(*b.d) is -mul(*b.c)


def _opposite_powers(b: Bindings) -> bool:
    vn, vm = literal_value(b.n), literal_value(b.m)
    if vn is not None and vm is not None:
        return vm == -vn
    return b.m is -b.n


def _scale(b: Bindings):
    """product of ~~c"""
    return mul(*b.c)


def _r(name, build, engines=BOTH, when=None):
    return rule(name, build, sets="trig", engines=engines, when=when)


def _shared(name, build):
    return rule(name, build, sets=("trig", "trig-shared"), engines=EGRAPH, phase="explore")


DEFS = [
    _r("pythagoras", lambda x: (sin(x) ** 2 + cos(x) ** 2, 1)),
    _r("pythagoras-r", lambda x: (cos(x) ** 2 + sin(x) ** 2, 1.0), EGRAPH),
    _r("pythagoras-scaled", lambda x, c=SEGMENT, d=SEGMENT: (
        mul(c) * sin(x) ** 2 + mul(d) * cos(x) ** 2, _scale), RULES, _same_scale),
    _r("one-minus-sin2", lambda x: (1 - sin(x) ** 2, cos(x) ** 2), RULES),
    _r("one-minus-cos2", lambda x: (1 - cos(x) ** 2, sin(x) ** 2), RULES),
    _r("hyperbolic-pythagoras", lambda x: (cosh(x) ** 2 - sinh(x) ** 2, 1), RULES),
    _r("hyperbolic-pythagoras-scaled", lambda x, c=SEGMENT, d=SEGMENT: (
        mul(c) * cosh(x) ** 2 + mul(d) * sinh(x) ** 2, _scale), RULES, _opposite_scale),
    _r("one-plus-sinh2", lambda x: (1 + sinh(x) ** 2, cosh(x) ** 2), RULES),
    _r("cosh2-minus-one", lambda x: (cosh(x) ** 2 - 1, sinh(x) ** 2), RULES),
    _odd(sin), _even(cos), _odd(tan),
    _odd(sinh), _even(cosh), _odd(tanh),
    _odd(asin), _odd(atan), _odd(erf),
    _r("tan-quotient", lambda x: (sin(x) / cos(x), tan(x)), RULES),
    _r("cot-quotient", lambda x: (cos(x) / sin(x), 1 / tan(x)), RULES),
    _r("tan-quotient-pow", lambda x, n=None, m=None: (sin(x) ** n * cos(x) ** m, tan(x) ** n),
       RULES, _opposite_powers),
    _r("tanh-quotient", lambda x: (sinh(x) / cosh(x), tanh(x)), RULES),
    _r("tan-atan", lambda x: (tan(atan(x)), x)),
    _r("double-angle-sin", lambda x: (2 * sin(x) * cos(x), sin(2 * x)), RULES),
    _r("double-angle-cos", lambda x: (cos(x) ** 2 - sin(x) ** 2, cos(2 * x)), RULES),
    _r("double-angle-sinh", lambda x: (2 * sinh(x) * cosh(x), sinh(2 * x)), RULES),
    # the e-graph's explicit-negation forms (the classical ones above read negated arguments)
    _r("sin-neg", lambda x: (sin(-x), -sin(x)), EGRAPH),
    _r("cos-neg", lambda x: (cos(-x), cos(x)), EGRAPH),
    _r("tan-neg", lambda x: (tan(-x), -tan(x)), EGRAPH),
    _r("sin-asin", lambda x: (sin(asin(x)), x), EGRAPH),
    _r("cos-acos", lambda x: (cos(acos(x)), x), EGRAPH),
    _r("sqrt-square", lambda x: (sqrt(x ** 2), abs(x)), EGRAPH),
    _r("abs-of-neg", lambda x: (abs(-x), abs(x)), EGRAPH),
    # sin(x) and cos(x) computed once, reused (e-graph only: they need both to exist already)
    _shared("tan-from-sin-cos", lambda x: (tan(x), sin(x) / cos(x), [sin(x), cos(x)])),
    _shared("sin-double", lambda x: (sin(2.0 * x), 2.0 * (sin(x) * cos(x)), [sin(x), cos(x)])),
    _shared("cos-double", lambda x: (cos(2.0 * x), 2.0 * cos(x) ** 2 - 1.0, [cos(x)])),
]

TRIG = classical_ruleset("trig", DEFS, __doc__ or "")
