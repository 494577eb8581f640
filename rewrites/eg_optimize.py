"""OPTIMIZE: the CPU-cycle ruleset — rewrites whose only purpose is a cheaper kernel.

After the Symbolics.jl paper: integer powers become multiplication chains (x⁴ = (x²)², with x²
shared), x⁻¹ → 1/x, division by a constant → multiplication, quotients merged so one division
serves several (a/b/c → a/(b·c), a/b + c/d → (a·d + c·b)/(b·d)), exp(a)·exp(b) → exp(a + b),
cosh from an exp that exists anyway, fused multiply-add (a·b ± c → fma, one instruction that
every backend lowers: llvm.fmuladd, cuda.fma), and a sine and cosine of one argument computed
together (SinCos: one merged call, which the schedule and LLVM's sincos then deliver). Which form
wins is the DAG-aware extractor's choice under the cost model (rewrites/costs.py); with the
paper's table fma (3) beats × + (4), with the measured ones 0.3 vs 0.5 cycles (throughput) and
2.3 vs 3.3 (latency). Reals-sound; rounding may differ (as in any reassociation or fusion).
"""

from __future__ import annotations

from symnum.rewrites.egraph_rules import EgRuleSet, explore, rw, together

# Machine-level forms: kernels only. The "default" ruleset (what `simplify` shows a reader)
# leaves them out; "optimize" and "cpu" (what `compile(..., simplify="egraph")` runs) have them.
FUSION = EgRuleSet("fusion", [
    # fused multiply-add (after reassociation has exposed the products)
    explore("fma", "(Add (Mul a b) c)", "(Fma a b c)"),
    explore("fma-sub", "(Sub (Mul a b) c)", "(Fma a b (Neg c))"),
    explore("fma-sub-r", "(Sub c (Mul a b))", "(Fma (Neg a) b c)"),
    # sin and cos of one argument: one merged call (LLVM's sincos) serves both
    together("sincos-sin", ["(= t (Sin x))", "(Cos x)"], ["(union t (SinOf (SinCos x)))"]),
    together("sincos-cos", ["(= t (Cos x))", "(Sin x)"], ["(union t (CosOf (SinCos x)))"]),
], "fused multiply-add and sin/cos pairs: forms for compiled kernels, not for reading")

OPTIMIZE = EgRuleSet("optimize", [
    # powers
    rw("powi-minus-one", "(Powi x -1)", "(Div (Num 1.0) x)"),
    rw("pow-int", "(Pow x (Num c))", "(Powi x (to-i64 c))",
       "(= c (to-f64 (to-i64 c)))", "(< (abs c) 1000000.0)"),
    rw("pow-half", "(Pow x (Num 0.5))", "(Sqrt x)"),
    rw("pow-minus-half", "(Pow x (Num -0.5))", "(Div (Num 1.0) (Sqrt x))"),
    explore("powi-even", "(Powi x n)", "(Mul (Powi x (/ n 2)) (Powi x (/ n 2)))",
            "(> n 1)", "(= (% n 2) 0)"),
    explore("powi-odd", "(Powi x n)", "(Mul (Powi x (- n 1)) x)", "(> n 1)", "(!= (% n 2) 0)"),
    explore("powi-negative", "(Powi x n)", "(Div (Num 1.0) (Powi x (- 0 n)))", "(< n -1)"),
    # exponents stay small: x^a·x^b → x^(a+b) can otherwise count up without end
    explore("mul-powi", "(Mul (Powi x a) (Powi x b))", "(Powi x (+ a b))", "(> a 0)", "(> b 0)",
            "(< (+ a b) 64)"),
    explore("mul-powi-x", "(Mul (Powi x a) x)", "(Powi x (+ a 1))", "(> a 0)", "(< a 63)"),
    # divisions
    rw("div-const", "(Div a (Num c))", "(Mul a (Num (/ 1.0 c)))", "(!= c 0.0)"),
    rw("mul-recip", "(Mul a (Div (Num 1.0) b))", "(Div a b)"),
    rw("mul-recip-l", "(Mul (Div (Num 1.0) b) a)", "(Div a b)"),
    explore("div-div", "(Div (Div a b) c)", "(Div a (Mul b c))"),
    explore("div-by-div", "(Div a (Div b c))", "(Div (Mul a c) b)"),
    explore("mul-div", "(Mul (Div a b) c)", "(Div (Mul a c) b)"),
    explore("mul-div-div", "(Mul (Div a b) (Div c d))", "(Div (Mul a c) (Mul b d))"),
    explore("add-div-same", "(Add (Div a c) (Div b c))", "(Div (Add a b) c)"),
    explore("sub-div-same", "(Sub (Div a c) (Div b c))", "(Div (Sub a b) c)"),
    explore("add-div", "(Add (Div a b) (Div c d))", "(Div (Add (Mul a d) (Mul c b)) (Mul b d))"),
    explore("add-div-term", "(Add a (Div b c))", "(Div (Add (Mul a c) b) c)"),
    # exponentials
    explore("exp-mul", "(Mul (Exp a) (Exp b))", "(Exp (Add a b))"),
    explore("exp-div", "(Div (Exp a) (Exp b))", "(Exp (Sub a b))"),
    together("exp-double", ["(= t (Exp (Mul (Num 2.0) x)))", "(Exp x)"],
             ["(union t (Powi (Exp x) 2))"]),
    together("cosh-from-exp", ["(= t (Cosh x))", "(Exp x)"],
             ["(union t (Mul (Num 0.5) (Add (Exp x) (Div (Num 1.0) (Exp x)))))"]),
    *FUSION,
], __doc__ or "")
