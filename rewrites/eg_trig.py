"""TRIG: trigonometric identities for the e-graph, and sin/cos of one argument computed once.

Sound on the reals where the left side is defined: sin²x + cos²x → 1, parity, sin(asin x) → x
(|x| ≤ 1 wherever the left side is defined). TRIG_SHARED holds the multi-pattern rules that
fire only where sin(x) and cos(x) both exist already, so tan(x), sin(2x), cos(2x) can reuse them
(the DAG-aware extractor takes them only when that is cheaper). Never `asin(sin x) → x`.
"""

from __future__ import annotations

from symnum.rewrites.egraph_rules import EgRuleSet, rw, together

_IDENTITIES = [
    rw("pythagoras", "(Add (Powi (Sin x) 2) (Powi (Cos x) 2))", "(Num 1.0)"),
    rw("pythagoras-r", "(Add (Powi (Cos x) 2) (Powi (Sin x) 2))", "(Num 1.0)"),
    rw("sin-neg", "(Sin (Neg x))", "(Neg (Sin x))"),
    rw("cos-neg", "(Cos (Neg x))", "(Cos x)"),
    rw("tan-neg", "(Tan (Neg x))", "(Neg (Tan x))"),
    rw("sin-asin", "(Sin (Asin x))", "x"),
    rw("cos-acos", "(Cos (Acos x))", "x"),
    rw("tan-atan", "(Tan (Atan x))", "x"),
    rw("sqrt-square", "(Sqrt (Powi x 2))", "(Abs x)"),
    rw("abs-abs", "(Abs (Abs x))", "(Abs x)"),
    rw("abs-neg", "(Abs (Neg x))", "(Abs x)"),
    rw("powi-abs-even", "(Powi (Abs x) n)", "(Powi x n)", "(= (% n 2) 0)"),
]

TRIG_SHARED = EgRuleSet("trig-shared", [
    together("tan-from-sin-cos", ["(= t (Tan x))", "(Sin x)", "(Cos x)"],
             ["(union t (Div (Sin x) (Cos x)))"]),
    together("sin-double", ["(= t (Sin (Mul (Num 2.0) x)))", "(Sin x)", "(Cos x)"],
             ["(union t (Mul (Num 2.0) (Mul (Sin x) (Cos x))))"]),
    together("cos-double", ["(= t (Cos (Mul (Num 2.0) x)))", "(Cos x)"],
             ["(union t (Sub (Mul (Num 2.0) (Powi (Cos x) 2)) (Num 1.0)))"]),
], "sin(x) and cos(x) computed once, reused by tan(x), sin(2x), cos(2x)")

TRIG = EgRuleSet("trig", _IDENTITIES + TRIG_SHARED.rules, __doc__ or "")
