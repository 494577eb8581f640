"""ALGEBRA: e-graph rules for arithmetic — identities, constant folding, signs, and (explored
under back-off) commutativity, associativity, distributivity and factoring.

Canonical construction already collects like terms and folds constants, so these are declared
for the e-graph only (the classical engine never sees `x + 0`); what the e-graph adds is mostly
factoring and reassociation that share work. No rule assumes a value is finite: `x - x → 0` and
`0·x → 0` are absent (wrong for inf/NaN); floating-point rounding may differ. Written in the one
rule language (symnum.rules.ruledef); patterns are binary, as the e-graph holds them.
"""

from __future__ import annotations

from symnum.rewrites.eg_translate import egraph_ruleset

from symnum.rules.ruledef import EGRAPH, INT, NUM, rule


def _r(name, build, when=None, phase="simplify"):
    return rule(name, build, sets=("algebra",), engines=(EGRAPH,), when=when, phase=phase)


def _x(name, build, when=None):
    return _r(name, build, when, phase="explore")


DEFS = [
    # identities
    _r("add-zero", lambda x: (x + 0.0, x)),
    _r("add-zero-l", lambda x: (0.0 + x, x)),
    _r("sub-zero", lambda x: (x - 0.0, x)),
    _r("zero-sub", lambda x: (0.0 - x, -x)),
    _r("mul-one", lambda x: (x * 1.0, x)),
    _r("mul-one-l", lambda x: (1.0 * x, x)),
    _r("div-one", lambda x: (x / 1.0, x)),
    _r("mul-minus-one", lambda x: (-1.0 * x, -x)),
    _r("mul-minus-one-r", lambda x: (x * -1.0, -x)),
    _r("neg-neg", lambda x: (-(-x), x)),  # noqa: B002 (a negation of a negation)
    _r("add-neg", lambda a, b: (a + (-b), a - b)),
    _r("add-neg-l", lambda a, b: ((-a) + b, b - a)),
    _r("sub-neg", lambda a, b: (a - (-b), a + b)),
    _r("neg-sub", lambda a, b: (-(a - b), b - a)),
    _r("add-negative-const", lambda a, b, c=NUM: (a + c * b, a - (-c) * b), when="c < 0"),
    _r("mul-neg-neg", lambda a, b: ((-a) * (-b), a * b)),
    _r("div-neg-neg", lambda a, b: ((-a) / (-b), a / b)),
    _r("powi-zero", lambda x: (x ** 0, 1.0)),
    _r("powi-one", lambda x: (x ** 1, x)),
    _r("mul-self", lambda x: (x * x, x ** 2)),
    _r("powi-neg-even", lambda x, n=INT: ((-x) ** n, x ** n), when="n % 2 == 0"),
    # constant folding
    _r("fold-add", lambda a=NUM, b=NUM: (a + b, a + b)),
    _r("fold-sub", lambda a=NUM, b=NUM: (a - b, a - b)),
    _r("fold-mul", lambda a=NUM, b=NUM: (a * b, a * b)),
    _r("fold-div", lambda a=NUM, b=NUM: (a / b, a / b), when="b != 0.0"),
    _r("fold-neg", lambda a=NUM: (-a, -a), when="a != 0.0"),
    # explored under back-off
    _x("add-comm", lambda a, b: (a + b, b + a)),
    _x("mul-comm", lambda a, b: (a * b, b * a)),
    _x("add-assoc-l", lambda a, b, c: (a + (b + c), (a + b) + c)),
    _x("add-assoc-r", lambda a, b, c: ((a + b) + c, a + (b + c))),
    _x("mul-assoc-l", lambda a, b, c: (a * (b * c), (a * b) * c)),
    _x("mul-assoc-r", lambda a, b, c: ((a * b) * c, a * (b * c))),
    _x("sub-add-assoc", lambda a, b, c: ((a + b) - c, a + (b - c))),
    _x("add-sub-assoc", lambda a, b, c: (a + (b - c), (a + b) - c)),
    _x("sub-sub-assoc", lambda a, b, c: ((a - b) - c, a - (b + c))),
    _x("sub-as-add-neg", lambda a, b: (a - b, a + (-b))),
    _x("mul-neg-out", lambda a, b: ((-a) * b, -(a * b))),
    _x("mul-neg-in", lambda a, b: (-(a * b), (-a) * b)),
    _x("neg-as-mul", lambda x: (-x, -1.0 * x)),
    _x("distribute", lambda a, b, c: (a * (b + c), a * b + a * c)),
    _x("distribute-sub", lambda a, b, c: (a * (b - c), a * b - a * c)),
    _x("factor-add", lambda a, b, c: (a * b + a * c, a * (b + c))),
    _x("factor-sub", lambda a, b, c: (a * b - a * c, a * (b - c))),
    _x("factor-add-one", lambda a, b: (a * b + a, a * (b + 1.0))),
    _x("factor-sub-one", lambda a, b: (a * b - a, a * (b - 1.0))),
    _x("add-self", lambda x: (x + x, 2.0 * x)),
    # folding through a reassociation: explored, since each can mint new constants
    _x("fold-mul-chain", lambda x, a=NUM, b=NUM: (a * (b * x), (a * b) * x)),
    _x("fold-add-chain", lambda x, a=NUM, b=NUM: (a + (b + x), (a + b) + x)),
]

ALGEBRA = egraph_ruleset("algebra", DEFS, __doc__ or "")
