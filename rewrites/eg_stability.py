"""STABILITY: directed e-graph rewrites to numerically accurate forms.

These replace (subsume) their left side whatever the cost model says, because the accurate form
is the point: log(1 + x) → log1p(x), exp(x) − 1 → expm1(x), log(exp a + exp b) → log-sum-exp,
√(a² + b²) → hypot(a, b), 1 − cos x → 2 sin²(x/2).
No rule's right side may match its own left side again (a subsumed node inside its own
replacement would leave the class with nothing to extract), which rules out a softplus rule.
Each is an identity on the reals wherever its left side is defined.
"""

from __future__ import annotations

from symnum.rewrites.egraph_rules import EgRuleSet, rw


def _st(name: str, lhs: str, rhs: str, *when: str) -> object:
    return rw(name, lhs, rhs, *when, subsume=True)


STABILITY = EgRuleSet("stability", [
    _st("log1p", "(Log (Add (Num 1.0) x))", "(Log1p x)"),
    _st("log1p-r", "(Log (Add x (Num 1.0)))", "(Log1p x)"),
    _st("log1p-sub", "(Log (Sub (Num 1.0) x))", "(Log1p (Neg x))"),
    _st("expm1", "(Sub (Exp x) (Num 1.0))", "(Expm1 x)"),
    _st("expm1-add", "(Add (Num -1.0) (Exp x))", "(Expm1 x)"),
    _st("expm1-add-r", "(Add (Exp x) (Num -1.0))", "(Expm1 x)"),
    _st("one-minus-exp", "(Sub (Num 1.0) (Exp x))", "(Neg (Expm1 x))"),
    _st("logsumexp", "(Log (Add (Exp a) (Exp b)))",
        "(Add (Maximum a b) (Log1p (Exp (Neg (Abs (Sub a b))))))"),
    _st("hypot", "(Sqrt (Add (Powi a 2) (Powi b 2)))", "(Hypot a b)"),
    _st("one-minus-cos", "(Sub (Num 1.0) (Cos x))",
        "(Mul (Num 2.0) (Powi (Sin (Mul (Num 0.5) x)) 2))"),
    _st("one-minus-cos-add", "(Add (Num 1.0) (Neg (Cos x)))",
        "(Mul (Num 2.0) (Powi (Sin (Mul (Num 0.5) x)) 2))"),
    _st("sqrt1pm1", "(Sub (Sqrt (Add (Num 1.0) x)) (Num 1.0))",
        "(Div x (Add (Sqrt (Add (Num 1.0) x)) (Num 1.0)))"),
], __doc__ or "")
