"""EXPLOG: exponential and logarithm identities, and their accurate forms (log1p, expm1).

Runs on canonical terms. Only rules that keep the value wherever the left side is defined on the
reals and define nothing new: `log(exp x) → x` yes; `exp(log x) → x` no (it would define the
result for x < 0), nor `expm1(log1p x) → x`, nor `log(x·y) → log x + log y` (wrong for x, y < 0).
Constants such as log(1) and exp(0) fold when the term is built.
"""

from __future__ import annotations

from symnum.core.build import tree_mode
from symnum.core.primitives import add, exp, expm1, log, log1p, sqrt
from symnum.rules import Bindings, Rule, RuleSet, literal_value, segment, slot
from symnum.rules.predicates import is_even, is_literal, is_odd

with tree_mode(False):  # patterns must present like the canonical terms they match
    x, xs = slot("x"), segment("xs")
    n_odd, n_even = slot("n", is_odd), slot("n", is_even)
    c_pos = slot("c", lambda t: is_literal(t) and literal_value(t) > 0)

    def _log1p(b: Bindings):
        """log1p(sum of ~~xs)"""
        return log1p(add(*b.xs))

    EXPLOG = RuleSet("explog", [
        Rule("log-exp", log(exp(x)), x),
        Rule("log1p-expm1", log1p(expm1(x)), x),
        Rule("log-scaled-exp", log(c_pos * exp(x)), log(c_pos) + x),
        Rule("log-pow-odd", log(x ** n_odd), n_odd * log(x)),
        Rule("log-pow-even", log(x ** n_even), n_even * log(abs(x))),
        Rule("log-sqrt", log(sqrt(x)), log(x) / 2),
        Rule("log1p-from-log", log(1 + xs), _log1p),
        Rule("expm1-from-exp", exp(x) - 1, expm1(x)),
    ], doc=__doc__)
