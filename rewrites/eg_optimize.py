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
E-graph only (declared in the one rule language, symnum.rules.ruledef), except pow-half,
pow-neg-half and exp-mul, which rewrites/powers.py declares for both engines; the sin/cos pair
rules are egglog text, because SinCos is an e-graph constructor with no term.
"""

from __future__ import annotations

from symnum.rewrites import powers
from symnum.rewrites.eg_translate import egraph_ruleset

from symnum.core.primitives import cosh, exp, fma, log, sqrt
from symnum.core.primitives_more import trunc
from symnum.rules.ruledef import EGRAPH, INT, NUM, rule


def _r(name, build, when=None, phase="simplify", sets=("optimize",)):
    return rule(name, build, sets=sets, engines=EGRAPH, when=when, phase=phase)


def _x(name, build, when=None, sets=("optimize",)):
    return _r(name, build, when, "explore", sets)


# Machine-level forms: kernels only. The "default" ruleset (what `simplify` shows a reader)
# leaves them out; "optimize" and "cpu" (what `compile(..., simplify="egraph")` runs) have them.
_F = ("fusion", "optimize")
FUSION_DEFS = [
    # fused multiply-add (after reassociation has exposed the products)
    _x("fma", lambda a, b, c: (a * b + c, fma(a, b, c)), sets=_F),
    _x("fma-sub", lambda a, b, c: (a * b - c, fma(a, b, -c)), sets=_F),
    _x("fma-sub-r", lambda a, b, c: (c - a * b, fma(-a, b, c)), sets=_F),
    # sin and cos of one argument: one merged call (LLVM's sincos) serves both
    rule("sincos-sin", sets=_F, engines=EGRAPH, phase="explore",
         egglog=(["(= t (Sin x))", "(Cos x)"], ["(union t (SinOf (SinCos x)))"])),
    rule("sincos-cos", sets=_F, engines=EGRAPH, phase="explore",
         egglog=(["(= t (Cos x))", "(Sin x)"], ["(union t (CosOf (SinCos x)))"])),
]

DEFS = [
    # powers
    _r("powi-minus-one", lambda x: (x ** -1, 1.0 / x)),
    _r("pow-int", lambda x, c=NUM: (x ** c, x ** trunc(c)),
       "c == float(int(c)) and abs(c) < 1000000.0"),
    # x^(n+½) = xⁿ·√x: a square root instead of pow (Hill kinetics, x^1.5, x^2.5); negative
    # exponents through one division (x = 0 gives inf on both sides). The classical engine's
    # counterpart is pow-half-integer (rewrites/powers.py: Python code, both signs in one rule)
    _r("pow-half-odd", lambda x, c=NUM: (x ** c, x ** trunc(c) * sqrt(x)),
       "c > 1.0 and c - 0.5 == float(int(c))"),
    _r("pow-neg-half-odd", lambda x, c=NUM: (x ** c, 1.0 / (x ** trunc(-c) * sqrt(x))),
       "c < -1.0 and -c - 0.5 == float(int(-c))"),
    # several non-integer powers of one x share its logarithm: x^a = exp(a·log x) (x = 0 and
    # x < 0 agree: 0 or inf, NaN), taken by the extractor where log + exp per power is cheaper
    _x("pow-shared-log", lambda x, a=NUM, b=NUM: (x ** a, exp(a * log(x)), [x ** b]),
       "a != b and a != float(int(a)) and b != float(int(b))"),
    _x("powi-even", lambda x, n=INT: (x ** n, x ** (n / 2) * x ** (n / 2)), "n > 1 and n % 2 == 0"),
    _x("powi-odd", lambda x, n=INT: (x ** n, x ** (n - 1) * x), "n > 1 and n % 2 != 0"),
    _x("powi-negative", lambda x, n=INT: (x ** n, 1.0 / x ** (0 - n)), "n < -1"),
    # reciprocal reuse: x⁻² = (1/x)², so x⁻¹, x⁻², x⁻³ (a Jacobian of k·S/(K + S)) share
    # one division
    _x("powi-negative-recip", lambda x, n=INT: (x ** n, (1.0 / x) ** (0 - n)), "n < -1"),
    # exponents stay small: x^a·x^b → x^(a+b) can otherwise count up without end
    _x("mul-powi", lambda x, a=INT, b=INT: (x ** a * x ** b, x ** (a + b)),
       "a > 0 and b > 0 and a + b < 64"),
    _x("mul-powi-x", lambda x, a=INT: (x ** a * x, x ** (a + 1)), "a > 0 and a < 63"),
    # divisions
    _r("div-const", lambda a, c=NUM: (a / c, a * (1.0 / c)), "c != 0.0"),
    _r("mul-recip", lambda a, b: (a * (1.0 / b), a / b)),
    _r("mul-recip-l", lambda a, b: ((1.0 / b) * a, a / b)),
    _x("div-div", lambda a, b, c: ((a / b) / c, a / (b * c))),
    _x("div-by-div", lambda a, b, c: (a / (b / c), (a * c) / b)),
    _x("mul-div", lambda a, b, c: ((a / b) * c, (a * c) / b)),
    _x("mul-div-div", lambda a, b, c, d: ((a / b) * (c / d), (a * c) / (b * d))),
    _x("add-div-same", lambda a, b, c: (a / c + b / c, (a + b) / c)),
    _x("sub-div-same", lambda a, b, c: (a / c - b / c, (a - b) / c)),
    _x("add-div", lambda a, b, c, d: (a / b + c / d, (a * d + c * b) / (b * d))),
    _x("add-div-term", lambda a, b, c: (a + b / c, (a * c + b) / c)),
    # exponentials
    _x("exp-div", lambda a, b: (exp(a) / exp(b), exp(a - b))),
    _x("exp-double", lambda x: (exp(2.0 * x), exp(x) ** 2, [exp(x)])),
    _x("cosh-from-exp", lambda x: (cosh(x), 0.5 * (exp(x) + 1.0 / exp(x)), [exp(x)])),
    *FUSION_DEFS,
]

FUSION = egraph_ruleset("fusion", FUSION_DEFS,
                        "fused multiply-add and sin/cos pairs: forms for compiled kernels, "
                        "not for reading")
OPTIMIZE = egraph_ruleset("optimize", powers.DEFS + DEFS, __doc__ or "")
