"""STABILITY: directed e-graph rewrites to numerically accurate forms.

These replace (subsume) their left side whatever the cost model says, because the accurate form
is the point: log(1 + x) → log1p(x), exp(x) − 1 → expm1(x), log(exp a + exp b) → log-sum-exp,
√(a² + b²) → hypot(a, b), 1 − cos x → 2 sin²(x/2).
No rule's right side may match its own left side again (a subsumed node inside its own
replacement would leave the class with nothing to extract), which rules out a softplus rule.
Each is an identity on the reals wherever its left side is defined. E-graph only: the classical
engine's accurate forms are in rewrites/explog.py (log1p-from-log, expm1-from-exp), written for
canonical sums.
"""

from __future__ import annotations

from symnum.rewrites.eg_translate import egraph_ruleset

from symnum.core.primitives import cos, exp, expm1, hypot, log, log1p, maximum, sin, sqrt
from symnum.rules.ruledef import EGRAPH, rule


def _st(name, build):
    return rule(name, build, sets=("stability",), engines=(EGRAPH,), subsume=True)


DEFS = [
    _st("log1p", lambda x: (log(1.0 + x), log1p(x))),
    _st("log1p-r", lambda x: (log(x + 1.0), log1p(x))),
    _st("log1p-sub", lambda x: (log(1.0 - x), log1p(-x))),
    _st("expm1", lambda x: (exp(x) - 1.0, expm1(x))),
    _st("expm1-add", lambda x: (-1.0 + exp(x), expm1(x))),
    _st("expm1-add-r", lambda x: (exp(x) + -1.0, expm1(x))),
    _st("one-minus-exp", lambda x: (1.0 - exp(x), -expm1(x))),
    _st("logsumexp", lambda a, b: (log(exp(a) + exp(b)),
                                   maximum(a, b) + log1p(exp(-abs(a - b))))),
    _st("hypot", lambda a, b: (sqrt(a ** 2 + b ** 2), hypot(a, b))),
    _st("one-minus-cos", lambda x: (1.0 - cos(x), 2.0 * sin(0.5 * x) ** 2)),
    _st("one-minus-cos-add", lambda x: (1.0 + (-cos(x)), 2.0 * sin(0.5 * x) ** 2)),
    _st("sqrt1pm1", lambda x: (sqrt(1.0 + x) - 1.0, x / (sqrt(1.0 + x) + 1.0))),
]

STABILITY = egraph_ruleset("stability", DEFS, __doc__ or "")
