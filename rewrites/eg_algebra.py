"""ALGEBRA: e-graph rules for arithmetic — identities, constant folding, signs, and (explored
under back-off) commutativity, associativity, distributivity and factoring.

Canonical construction already collects like terms and folds constants, so what the e-graph adds
here is mostly factoring and reassociation that share work. No rule assumes a value is finite:
`x - x → 0` and `0·x → 0` are absent (wrong for inf/NaN); floating-point rounding may differ.
"""

from __future__ import annotations

from symnum.rewrites.egraph_rules import EgRuleSet, explore, rw

_IDENTITIES = [
    rw("add-zero", "(Add x (Num 0.0))", "x"),
    rw("add-zero-l", "(Add (Num 0.0) x)", "x"),
    rw("sub-zero", "(Sub x (Num 0.0))", "x"),
    rw("zero-sub", "(Sub (Num 0.0) x)", "(Neg x)"),
    rw("mul-one", "(Mul x (Num 1.0))", "x"),
    rw("mul-one-l", "(Mul (Num 1.0) x)", "x"),
    rw("div-one", "(Div x (Num 1.0))", "x"),
    rw("mul-minus-one", "(Mul (Num -1.0) x)", "(Neg x)"),
    rw("mul-minus-one-r", "(Mul x (Num -1.0))", "(Neg x)"),
    rw("neg-neg", "(Neg (Neg x))", "x"),
    rw("add-neg", "(Add a (Neg b))", "(Sub a b)"),
    rw("add-neg-l", "(Add (Neg a) b)", "(Sub b a)"),
    rw("sub-neg", "(Sub a (Neg b))", "(Add a b)"),
    rw("neg-sub", "(Neg (Sub a b))", "(Sub b a)"),
    rw("add-negative-const", "(Add a (Mul (Num c) b))", "(Sub a (Mul (Num (neg c)) b))",
       "(< c 0.0)"),
    rw("mul-neg-neg", "(Mul (Neg a) (Neg b))", "(Mul a b)"),
    rw("div-neg-neg", "(Div (Neg a) (Neg b))", "(Div a b)"),
    rw("powi-zero", "(Powi x 0)", "(Num 1.0)"),
    rw("powi-one", "(Powi x 1)", "x"),
    rw("mul-self", "(Mul x x)", "(Powi x 2)"),
    rw("powi-neg-even", "(Powi (Neg x) n)", "(Powi x n)", "(= (% n 2) 0)"),
]

_FOLDING = [
    rw("fold-add", "(Add (Num a) (Num b))", "(Num (+ a b))"),
    rw("fold-sub", "(Sub (Num a) (Num b))", "(Num (- a b))"),
    rw("fold-mul", "(Mul (Num a) (Num b))", "(Num (* a b))"),
    rw("fold-div", "(Div (Num a) (Num b))", "(Num (/ a b))", "(!= b 0.0)"),
    rw("fold-neg", "(Neg (Num a))", "(Num (neg a))", "(!= a 0.0)"),
]

_EXPLORE = [
    explore("add-comm", "(Add a b)", "(Add b a)"),
    explore("mul-comm", "(Mul a b)", "(Mul b a)"),
    explore("add-assoc-l", "(Add a (Add b c))", "(Add (Add a b) c)"),
    explore("add-assoc-r", "(Add (Add a b) c)", "(Add a (Add b c))"),
    explore("mul-assoc-l", "(Mul a (Mul b c))", "(Mul (Mul a b) c)"),
    explore("mul-assoc-r", "(Mul (Mul a b) c)", "(Mul a (Mul b c))"),
    explore("sub-add-assoc", "(Sub (Add a b) c)", "(Add a (Sub b c))"),
    explore("add-sub-assoc", "(Add a (Sub b c))", "(Sub (Add a b) c)"),
    explore("sub-sub-assoc", "(Sub (Sub a b) c)", "(Sub a (Add b c))"),
    explore("sub-as-add-neg", "(Sub a b)", "(Add a (Neg b))"),
    explore("mul-neg-out", "(Mul (Neg a) b)", "(Neg (Mul a b))"),
    explore("mul-neg-in", "(Neg (Mul a b))", "(Mul (Neg a) b)"),
    explore("neg-as-mul", "(Neg x)", "(Mul (Num -1.0) x)"),
    explore("distribute", "(Mul a (Add b c))", "(Add (Mul a b) (Mul a c))"),
    explore("distribute-sub", "(Mul a (Sub b c))", "(Sub (Mul a b) (Mul a c))"),
    explore("factor-add", "(Add (Mul a b) (Mul a c))", "(Mul a (Add b c))"),
    explore("factor-sub", "(Sub (Mul a b) (Mul a c))", "(Mul a (Sub b c))"),
    explore("factor-add-one", "(Add (Mul a b) a)", "(Mul a (Add b (Num 1.0)))"),
    explore("factor-sub-one", "(Sub (Mul a b) a)", "(Mul a (Sub b (Num 1.0)))"),
    explore("add-self", "(Add x x)", "(Mul (Num 2.0) x)"),
    # folding through a reassociation: explored, since each can mint new constants
    explore("fold-mul-chain", "(Mul (Num a) (Mul (Num b) x))", "(Mul (Num (* a b)) x)"),
    explore("fold-add-chain", "(Add (Num a) (Add (Num b) x))", "(Add (Num (+ a b)) x)"),
]

ALGEBRA = EgRuleSet("algebra", _IDENTITIES + _FOLDING + _EXPLORE, __doc__ or "")
