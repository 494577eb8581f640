"""EXPLOG: exponential and logarithm identities, and their accurate forms (log1p, expm1).

Each rule is declared once (symnum.rules.ruledef) for the classical engine (canonical terms),
the e-graph (rewrites/eg_explog.py translates them), or both. Only rules that keep the value
wherever the left side is defined on the reals and define nothing new: `log(exp x) → x` yes;
`exp(log x) → x` no (it would define the result for x < 0), nor `expm1(log1p x) → x`, nor
`log(x·y) → log x + log y` (wrong for x, y < 0). Constants such as log(1) and exp(0) fold when
the term is built. Accurate forms for the e-graph live in STABILITY, rewrites that only save
cycles (exp(a)·exp(b) → exp(a + b)) in POWERS / OPTIMIZE.
"""

from __future__ import annotations

from fractions import Fraction

from symnum.core.primitives import add, exp, expm1, log, log1p, sqrt
from symnum.rules import Bindings
from symnum.rules.ruledef import BOTH, EGRAPH, INT, NUM, RULES, SEGMENT, classical_ruleset, rule


def _log1p(b: Bindings):
    """log1p(sum of ~~xs)"""
    return log1p(add(*b.xs))


def _r(name, build, engines=BOTH, when=None, phase="simplify"):
    return rule(name, build, sets=("explog",), engines=engines, when=when, phase=phase)


DEFS = [
    _r("log-exp", lambda x: (log(exp(x)), x)),
    _r("log1p-expm1", lambda x: (log1p(expm1(x)), x)),
    _r("log-scaled-exp", lambda x, c=NUM: (log(c * exp(x)), log(c) + x), RULES, when="c > 0"),
    _r("log-pow-odd", lambda x, n=INT: (log(x ** n), n * log(x)), when="n % 2 != 0"),
    _r("log-pow-even", lambda x, n=INT: (log(x ** n), n * log(abs(x))),
       when="n % 2 == 0 and n != 0"),
    _r("log-sqrt", lambda x: (log(sqrt(x)), Fraction(1, 2) * log(x))),  # exact: log(x)/2
    _r("log1p-from-log", lambda xs=SEGMENT: (log(1 + add(xs)), _log1p), RULES),
    _r("expm1-from-exp", lambda x: (exp(x) - 1, expm1(x)), RULES),
    # e-graph only: the classical engine's canonical terms have no division node
    _r("log-recip", lambda x: (log(1.0 / x), -log(x)), (EGRAPH,)),
    _r("exp-neg-recip", lambda x: (1.0 / exp(x), exp(-x)), (EGRAPH,)),
    _r("exp-add", lambda a, b: (exp(a + b), exp(a) * exp(b)), (EGRAPH,), phase="explore"),
    _r("exp-sub", lambda a, b: (exp(a - b), exp(a) / exp(b)), (EGRAPH,), phase="explore"),
]

EXPLOG = classical_ruleset("explog", DEFS, __doc__ or "")
