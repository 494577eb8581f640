"""EXPLOG: exponential and logarithm identities for the e-graph, sound ones only.

Each keeps the value wherever its left side is defined on the reals and defines nothing new:
`log(exp x) → x` yes; `exp(log x) → x` no (it would define a value for x < 0), nor
`log(x·y) → log x + log y`, nor `expm1(log1p x) → x`. Accurate forms (log1p, expm1) live in
STABILITY; rewrites that only save cycles (exp(a)·exp(b) → exp(a + b)) live in OPTIMIZE.
"""

from __future__ import annotations

from symnum.rewrites.egraph_rules import EgRuleSet, explore, rw

EXPLOG = EgRuleSet("explog", [
    rw("log-exp", "(Log (Exp x))", "x"),
    rw("log1p-expm1", "(Log1p (Expm1 x))", "x"),
    rw("log-sqrt", "(Log (Sqrt x))", "(Mul (Num 0.5) (Log x))"),
    rw("log-powi-odd", "(Log (Powi x n))", "(Mul (Num (to-f64 n)) (Log x))", "(!= (% n 2) 0)"),
    rw("log-powi-even", "(Log (Powi x n))", "(Mul (Num (to-f64 n)) (Log (Abs x)))",
       "(= (% n 2) 0)", "(!= n 0)"),
    rw("log-recip", "(Log (Div (Num 1.0) x))", "(Neg (Log x))"),
    rw("exp-neg-recip", "(Div (Num 1.0) (Exp x))", "(Exp (Neg x))"),
    explore("exp-add", "(Exp (Add a b))", "(Mul (Exp a) (Exp b))"),
    explore("exp-sub", "(Exp (Sub a b))", "(Div (Exp a) (Exp b))"),
], __doc__ or "")
