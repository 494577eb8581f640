"""The primitives: one Op block each, every fact about a primitive in that block.

Each block declares the numpy implementation, partial derivatives (symnum expressions, built with
the public functions below so hash-consing shares them with the primal), linearity, CPU-cycle cost
(the Symbolics.jl paper's table where it has one, estimates marked `~`, refined by the e-graph
issue's measurements), printing and the lowering name. The Taylor slot is filled by the Taylor
issue. Module-level functions (`sin`, `add`, …) are the public constructors.
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np

import symnum.core.canonical as C
import symnum.core.taylor_rules as TR
from symnum.core.build import TREE_MODE, as_number
from symnum.core.hooks import install
from symnum.core.op import AFFINE, BILINEAR, NONLINEAR, PIECEWISE_CONSTANT, Linearity, Op, declare
from symnum.core.terms import Const, Sym, Term

# ---------------------------------------------------------------------------------------------
# numpy implementations that need a little care


def _sum(*xs):
    return reduce(np.add, xs)


def _prod(*xs):
    return reduce(np.multiply, xs)


def _pow(a, b):
    # numpy refuses integers to negative integer powers; the symbolic meaning is real division
    if np.issubdtype(np.asarray(a).dtype, np.integer) and np.any(np.asarray(b) < 0):
        a = np.asarray(a, dtype=np.float64)
    return np.power(a, b)


def _pow_partials(a, b):
    # a numeric exponent is folded here even in tree mode, where b − 1 would stay a term and the
    # third derivative of x^2 at 0 would evaluate (2−1−1)·0^(2−1−1−1) = 0·inf = NaN, not 0
    n = as_number(b)
    if n is not None:
        return (0 if n == 0 else n * a ** (n - 1), a**b * log(a))
    return (b * a ** (b - 1), a**b * log(a))


_ERF = None


def _erf(x):
    global _ERF
    if _ERF is None:
        try:  # scipy is optional at run time; math.erf is exact but per element
            from scipy.special import erf as _ERF
        except ImportError:
            _ERF = np.frompyfunc(math.erf, 1, 1)
    r = _ERF(x)
    return r.astype(np.result_type(np.asarray(x).dtype, np.float32)) if r.dtype == object else r


def _ifelse(c, a, b):
    return np.where(c, a, b)


# ---------------------------------------------------------------------------------------------
# arithmetic (canonical hooks build the Add/Mul polynomial forms)

add_op = declare(Op(
    "add", None, _sum, partials=lambda *xs: (1,) * len(xs), taylor=TR.add, linearity=AFFINE, cost=1,
    lower="add", infix="+", precedence=10, latex="{0} + {1}", commutative=True,
    associative=True, canonical=C.add,
))
sub_op = declare(Op(
    "sub", 2, np.subtract, partials=lambda a, b: (1, -1), taylor=TR.sub, linearity=AFFINE, cost=1,
    lower="sub", infix="-", precedence=10, latex="{0} - {1}", canonical=C.sub,
))
neg_op = declare(Op(
    "neg", 1, np.negative, partials=lambda a: (-1,), taylor=TR.neg, linearity=AFFINE, cost=1,
    lower="neg", infix="-", precedence=40, latex="-{0}", canonical=C.neg,
))
def _mul_partials(*xs):
    # prefix/suffix products: O(n) new nodes for an n-factor product (cheap-gradient principle)
    n = len(xs)
    if n <= 3:  # tree mode builds mul() / mul(a) literally: give 1 and a instead
        others = [xs[:i] + xs[i + 1:] for i in range(n)]
        return tuple(mul(*o) if len(o) > 1 else o[0] if o else 1 for o in others)
    pre, suf = [1] * (n + 1), [1] * (n + 1)
    for i in range(n):
        pre[i + 1] = mul(pre[i], xs[i])
        suf[n - 1 - i] = mul(xs[n - 1 - i], suf[n - i])
    return tuple(mul(pre[i], suf[i + 1]) for i in range(n))


mul_op = declare(Op(
    "mul", None, _prod, partials=_mul_partials, taylor=TR.mul,
    linearity=BILINEAR, cost=3, lower="mul", infix="*", precedence=20, latex="{0} {1}",
    commutative=True, associative=True, canonical=C.mul,
))
def _fma(a, b, c):
    # numpy has no fused multiply-add: the reference rounds twice, compiled kernels once.
    # Conditions count 1 or 0 (numpy's bool arithmetic would make True·True + True True)
    a, b, c = (np.asarray(v, np.float64) if np.asarray(v).dtype == bool else v for v in (a, b, c))
    return np.add(np.multiply(a, b), c)


def _canon_fma(a, b, c):
    # numbers fold exactly (2**70·2 + 1 keeps its 1), as a·b + c would
    if all(C.as_number(v) is not None for v in (a, b, c)):
        return C.add(C.mul(a, b), c)
    return None


# a·b + c in one instruction where the target has one (every x86-64 since 2013, every GPU);
# the e-graph's optimize ruleset introduces it where the cost model says it pays
fma_op = declare(Op(
    "fma", 3, _fma, partials=lambda a, b, c: (b, a, 1), taylor=TR.fma,
    linearity=Linearity(linear=True, cross=((0, 1),)), cost=3, lower="fma",
    canonical=_canon_fma,
    latex=r"\operatorname{{fma}}{{\left({0}, {1}, {2}\right)}}",
    doc="fma(a, b, c) = a·b + c, rounded once by the compiled backends",
))
div_op = declare(Op(
    "div", 2, np.true_divide, partials=lambda a, b: (1 / b, -a / b**2), taylor=TR.div,
    linearity=Linearity(linear=(True, False), cross=True), cost=24, lower="div", infix="/",
    precedence=20, latex=r"\frac{{{0}}}{{{1}}}", canonical=C.div,
))
pow_op = declare(Op(
    "pow", 2, _pow, partials=_pow_partials, taylor=TR.pow,
    cost=100,
    lower="pow", infix="^", precedence=50, latex="{{{0}}}^{{{1}}}", canonical=C.pow,
))

# ---------------------------------------------------------------------------------------------
# elementary functions


def _unary(name, impl, d, cost, latex, lower=None, linearity=NONLINEAR, taylor=None):
    return declare(Op(name, 1, impl, partials=lambda x: (d(x),), linearity=linearity,
                      cost=cost, lower=lower or name, latex=latex, taylor=taylor))


exp_op = _unary("exp", np.exp, lambda x: exp(x), 18, r"e^{{{0}}}", taylor=TR.exp)
log_op = _unary("log", np.log, lambda x: 1 / x, 20, r"\log{{\left({0}\right)}}", taylor=TR.log)  # ~
log1p_op = _unary("log1p", np.log1p, lambda x: 1 / (1 + x), 124,
                  r"\operatorname{{log1p}}{{\left({0}\right)}}", taylor=TR.log1p)
expm1_op = _unary("expm1", np.expm1, lambda x: exp(x), 124,  # ~
                  r"\operatorname{{expm1}}{{\left({0}\right)}}", taylor=TR.expm1)
sqrt_op = _unary("sqrt", np.sqrt, lambda x: 0.5 / sqrt(x), 20, r"\sqrt{{{0}}}", taylor=TR.sqrt)  # ~
sin_op = _unary("sin", np.sin, lambda x: cos(x), 134, r"\sin{{\left({0}\right)}}", taylor=TR.sin)
cos_op = _unary("cos", np.cos, lambda x: -sin(x), 134, r"\cos{{\left({0}\right)}}", taylor=TR.cos)
tan_op = _unary("tan", np.tan, lambda x: 1 + tan(x) ** 2, 156, r"\tan{{\left({0}\right)}}",
                taylor=TR.tan)
asin_op = _unary("asin", np.arcsin, lambda x: 1 / sqrt(1 - x**2), 140,  # ~
                 r"\arcsin{{\left({0}\right)}}")
acos_op = _unary("acos", np.arccos, lambda x: -1 / sqrt(1 - x**2), 140,  # ~
                 r"\arccos{{\left({0}\right)}}")
atan_op = _unary("atan", np.arctan, lambda x: 1 / (1 + x**2), 135,
                 r"\arctan{{\left({0}\right)}}", taylor=TR.atan)
sinh_op = _unary("sinh", np.sinh, lambda x: cosh(x), 150, r"\sinh{{\left({0}\right)}}",  # ~
                 taylor=TR.sinh)
cosh_op = _unary("cosh", np.cosh, lambda x: sinh(x), 150, r"\cosh{{\left({0}\right)}}",  # ~
                 taylor=TR.cosh)
tanh_op = _unary("tanh", np.tanh, lambda x: 1 - tanh(x) ** 2, 150,  # ~
                 r"\tanh{{\left({0}\right)}}", taylor=TR.tanh)
abs_op = _unary("abs", np.abs, lambda x: sign(x), 2, r"\left|{0}\right|", lower="fabs",
                taylor=TR.abs)
sign_op = _unary("sign", np.sign, lambda x: 0, 2, r"\operatorname{{sign}}{{\left({0}\right)}}",
                 linearity=PIECEWISE_CONSTANT, taylor=TR.zero)
erf_op = _unary("erf", _erf, lambda x: (2 / math.sqrt(math.pi)) * exp(-(x**2)), 100,  # ~
                r"\operatorname{{erf}}{{\left({0}\right)}}")

atan2_op = declare(Op(
    "atan2", 2, np.arctan2, partials=lambda y, x: (x / (x**2 + y**2), -y / (x**2 + y**2)),
    cost=150, lower="atan2", latex=r"\operatorname{{atan2}}{{\left({0}, {1}\right)}}",
))
hypot_op = declare(Op(
    "hypot", 2, np.hypot, partials=lambda a, b: (a / hypot(a, b), b / hypot(a, b)), cost=40,
    lower="hypot", latex=r"\sqrt{{{0}^{{2}} + {1}^{{2}}}}", commutative=True,
))
# min/max propagate NaN like np.minimum/np.maximum; at a tie the derivative goes to the first
minimum_op = declare(Op(
    "minimum", 2, np.minimum,
    partials=lambda a, b: (ifelse(le(a, b), 1, 0), ifelse(le(a, b), 0, 1)),
    linearity=Linearity(linear=True, cross=False), cost=3, lower="min", taylor=TR.minimum,
    latex=r"\min\left({0}, {1}\right)", commutative=True, associative=True,
))
maximum_op = declare(Op(
    "maximum", 2, np.maximum,
    partials=lambda a, b: (ifelse(ge(a, b), 1, 0), ifelse(ge(a, b), 0, 1)),
    linearity=Linearity(linear=True, cross=False), cost=3, lower="max", taylor=TR.maximum,
    latex=r"\max\left({0}, {1}\right)", commutative=True, associative=True,
))

# ---------------------------------------------------------------------------------------------
# selection, comparisons and logic (conditions for ifelse / np.where)


def _canon_ifelse(c, a, b):
    n = C.as_number(c)
    if n is not None:
        return a if n else b
    return a if a is b else None


ifelse_op = declare(Op(
    "ifelse", 3, _ifelse, partials=lambda c, a, b: (0, ifelse(c, 1, 0), ifelse(c, 0, 1)),
    linearity=Linearity(linear=True, cross=False), cost=2, lower="select", taylor=TR.ifelse,
    latex=r"\begin{{cases}} {1} & {0} \\ {2} & \text{{otherwise}} \end{{cases}}",
    canonical=_canon_ifelse,
    doc="ifelse(c, a, b): a where the condition c holds, else b (np.where for terms; use it "
        "instead of Python's if/else on symbolic values). c is a comparison, logic of "
        "comparisons or a number (non-zero and NaN are true); the derivative follows the "
        "branch taken, the condition's derivative is 0.",
))


def _predicate(name, impl, infix, latex, commutative=False, associative=False, nargs=2,
               canonical=None, precedence=5):
    # Python's binding order, so printed conditions parse back: x < y binds looser than
    # & (7) and | (6); ~ binds like unary minus
    return declare(Op(
        name, nargs, impl, partials=lambda *xs: (0,) * len(xs), taylor=TR.zero,
        linearity=PIECEWISE_CONSTANT,
        cost=1, lower=name, infix=infix, precedence=precedence, latex=latex,
        result="bool", commutative=commutative, associative=associative, canonical=canonical,
    ))


def _canon_logic(absorbing: bool):
    """and/or with a constant operand: `False & c` → False, `True & c` → c (c boolean)."""
    def canon(a, b):
        for x, y in ((a, b), (b, a)):
            n = C.as_number(x)
            if n is None:
                continue
            if bool(n) == absorbing:
                return Const(absorbing)
            if (type(y) is Term and y.op.result == "bool") or (
                    isinstance(y, (Sym, Const)) and y.dtype == "bool"):
                return y
        return None

    return canon


lt_op = _predicate("lt", np.less, "<", "{0} < {1}")
le_op = _predicate("le", np.less_equal, "<=", r"{0} \leq {1}")
gt_op = _predicate("gt", np.greater, ">", "{0} > {1}")
ge_op = _predicate("ge", np.greater_equal, ">=", r"{0} \geq {1}")
eq_op = _predicate("eq", np.equal, "==", "{0} = {1}", commutative=True)
ne_op = _predicate("ne", np.not_equal, "!=", r"{0} \neq {1}", commutative=True)
and_op = _predicate("logical_and", np.logical_and, "&", r"{0} \wedge {1}", True, True,
                    canonical=_canon_logic(False), precedence=7)
or_op = _predicate("logical_or", np.logical_or, "|", r"{0} \vee {1}", True, True,
                   canonical=_canon_logic(True), precedence=6)
not_op = _predicate("logical_not", np.logical_not, "~", r"\neg {0}", nargs=1, precedence=40)

# ---------------------------------------------------------------------------------------------
# public constructors: sn.sin(x), sn.add(a, b, c), …


def add(*xs):
    """Sum of terms and numbers (canonical: like terms collected)."""
    return add_op(*xs)


def mul(*xs):
    """Product of terms and numbers (canonical: like bases collected)."""
    return mul_op(*xs)


sub, neg, div, pow, fma = sub_op, neg_op, div_op, pow_op, fma_op
exp, log, log1p, expm1, sqrt = exp_op, log_op, log1p_op, expm1_op, sqrt_op
sin, cos, tan, asin, acos, atan, atan2 = sin_op, cos_op, tan_op, asin_op, acos_op, atan_op, atan2_op
sinh, cosh, tanh = sinh_op, cosh_op, tanh_op
abs, sign, erf, hypot = abs_op, sign_op, erf_op, hypot_op
minimum, maximum, ifelse = minimum_op, maximum_op, ifelse_op
lt, le, gt, ge, eq, ne = lt_op, le_op, gt_op, ge_op, eq_op, ne_op
logical_and, logical_or, logical_not = and_op, or_op, not_op

def _extending(op: Op, one):
    """`a + b` / `a * b` for Python's operators: extending a sum or product by one entry is O(1)
    (canonical.add/mul's `_one` cases) and skips Op dispatch; everything else is `op(a, b)`."""

    tree = TREE_MODE.get

    def binary(a, b):
        if not tree():
            r = one(a, b)
            if r is not None:
                return r
        return op(a, b)

    binary.__name__ = op.name
    return binary


# a term's Python operators (x + y, x < y, ~c, ...) are these primitives (symnum.core.hooks)
install(add=_extending(add_op, C._add_one), sub=sub, mul=_extending(mul_op, C._mul_one), div=div,
        pow=pow, neg=neg, abs=abs, lt=lt, le=le, gt=gt, ge=ge, eq=eq, ne=ne,
        logical_and=logical_and, logical_or=logical_or, logical_not=logical_not)
