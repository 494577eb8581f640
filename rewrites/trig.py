"""TRIG: circular and hyperbolic identities (Pythagoras, symmetry, quotients, double angles).

Runs on canonical terms. Every rule keeps the value wherever its left side is defined on the
reals and extends no domain: `tan(atan x) → x` is here, `sin(asin x) → x` is not (it would
define the result for |x| > 1). Odd/even symmetry moves a negation out of any argument that
reads as negated (`sin(-2x + -y) → -sin(2x + y)`), which cannot loop (see is_negative_form).
"""

from __future__ import annotations

import symnum as sn
from symnum.rules import Bindings, Rule, RuleSet, literal_value, segment, slot
from symnum.rules.predicates import is_negative_form, negate

with sn.tree_mode(False):  # patterns must present like the canonical terms they match
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
        return sn.mul(*b.c) is sn.mul(*b.d)

    def _opposite_scale(b: Bindings) -> bool:
        return sn.mul(*b.d) is -sn.mul(*b.c)

    def _opposite_powers(b: Bindings) -> bool:
        vn, vm = literal_value(b.n), literal_value(b.m)
        if vn is not None and vm is not None:
            return vm == -vn
        return b.m is -b.n

    def _scale(b: Bindings):
        """product of ~~c"""
        return sn.mul(*b.c)

    TRIG = RuleSet("trig", [
        Rule("pythagoras", sn.sin(x) ** 2 + sn.cos(x) ** 2, 1),
        Rule("pythagoras-scaled", c * sn.sin(x) ** 2 + d * sn.cos(x) ** 2, _scale,
             when=_same_scale),
        Rule("one-minus-sin2", 1 - sn.sin(x) ** 2, sn.cos(x) ** 2),
        Rule("one-minus-cos2", 1 - sn.cos(x) ** 2, sn.sin(x) ** 2),
        Rule("hyperbolic-pythagoras", sn.cosh(x) ** 2 - sn.sinh(x) ** 2, 1),
        Rule("hyperbolic-pythagoras-scaled", c * sn.cosh(x) ** 2 + d * sn.sinh(x) ** 2, _scale,
             when=_opposite_scale),
        Rule("one-plus-sinh2", 1 + sn.sinh(x) ** 2, sn.cosh(x) ** 2),
        Rule("cosh2-minus-one", sn.cosh(x) ** 2 - 1, sn.sinh(x) ** 2),
        _odd(sn.sin), _even(sn.cos), _odd(sn.tan),
        _odd(sn.sinh), _even(sn.cosh), _odd(sn.tanh),
        _odd(sn.asin), _odd(sn.atan), _odd(sn.erf),
        Rule("tan-quotient", sn.sin(x) / sn.cos(x), sn.tan(x)),
        Rule("cot-quotient", sn.cos(x) / sn.sin(x), 1 / sn.tan(x)),
        Rule("tan-quotient-pow", sn.sin(x) ** n * sn.cos(x) ** m, sn.tan(x) ** n,
             when=_opposite_powers),
        Rule("tanh-quotient", sn.sinh(x) / sn.cosh(x), sn.tanh(x)),
        Rule("tan-atan", sn.tan(sn.atan(x)), x),
        Rule("double-angle-sin", 2 * sn.sin(x) * sn.cos(x), sn.sin(2 * x)),
        Rule("double-angle-cos", sn.cos(x) ** 2 - sn.sin(x) ** 2, sn.cos(2 * x)),
        Rule("double-angle-sinh", 2 * sn.sinh(x) * sn.cosh(x), sn.sinh(2 * x)),
    ], doc=__doc__)
