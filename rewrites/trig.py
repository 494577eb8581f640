"""TRIG: circular and hyperbolic identities (Pythagoras, symmetry, quotients, double angles).

Runs on canonical terms. Every rule keeps the value wherever its left side is defined on the
reals and extends no domain: `tan(atan x) → x` is here, `sin(asin x) → x` is not (it would
define the result for |x| > 1). Odd/even symmetry moves a negation out of any argument that
reads as negated (`sin(-2x + -y) → -sin(2x + y)`), which cannot loop (see is_negative_form).
"""

from __future__ import annotations

from symnum.core.build import tree_mode
from symnum.core.primitives import asin, atan, cos, cosh, erf, mul, sin, sinh, tan, tanh
from symnum.rules import Bindings, Rule, RuleSet, literal_value, segment, slot
from symnum.rules.predicates import is_negative_form, negate

with tree_mode(False):  # patterns must present like the canonical terms they match
    x, n, m = slot("x"), slot("n"), slot("m")
    c, d = segment("c"), segment("d")

    def _negated(b: Bindings) -> bool:
        return is_negative_form(b.x)

    def _odd(f):
        def rhs(b: Bindings):
            return -f(negate(b.x))

        rhs.__doc__ = f"-{f.name}(-x)"
        return Rule(f"{f.name}-odd", f(x), rhs, when=_negated)

    def _even(f):
        def rhs(b: Bindings):
            return f(negate(b.x))

        rhs.__doc__ = f"{f.name}(-x)"
        return Rule(f"{f.name}-even", f(x), rhs, when=_negated)

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

    TRIG = RuleSet("trig", [
        Rule("pythagoras", sin(x) ** 2 + cos(x) ** 2, 1),
        Rule("pythagoras-scaled", c * sin(x) ** 2 + d * cos(x) ** 2, _scale,
             when=_same_scale),
        Rule("one-minus-sin2", 1 - sin(x) ** 2, cos(x) ** 2),
        Rule("one-minus-cos2", 1 - cos(x) ** 2, sin(x) ** 2),
        Rule("hyperbolic-pythagoras", cosh(x) ** 2 - sinh(x) ** 2, 1),
        Rule("hyperbolic-pythagoras-scaled", c * cosh(x) ** 2 + d * sinh(x) ** 2, _scale,
             when=_opposite_scale),
        Rule("one-plus-sinh2", 1 + sinh(x) ** 2, cosh(x) ** 2),
        Rule("cosh2-minus-one", cosh(x) ** 2 - 1, sinh(x) ** 2),
        _odd(sin), _even(cos), _odd(tan),
        _odd(sinh), _even(cosh), _odd(tanh),
        _odd(asin), _odd(atan), _odd(erf),
        Rule("tan-quotient", sin(x) / cos(x), tan(x)),
        Rule("cot-quotient", cos(x) / sin(x), 1 / tan(x)),
        Rule("tan-quotient-pow", sin(x) ** n * cos(x) ** m, tan(x) ** n,
             when=_opposite_powers),
        Rule("tanh-quotient", sinh(x) / cosh(x), tanh(x)),
        Rule("tan-atan", tan(atan(x)), x),
        Rule("double-angle-sin", 2 * sin(x) * cos(x), sin(2 * x)),
        Rule("double-angle-cos", cos(x) ** 2 - sin(x) ** 2, cos(2 * x)),
        Rule("double-angle-sinh", 2 * sinh(x) * cosh(x), sinh(2 * x)),
    ], doc=__doc__)
