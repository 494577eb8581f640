"""More primitives (inverse hyperbolics, cbrt, copysign, rounding, fmod, logaddexp) and the exact
compositions numpy's remaining float ufuncs reduce to (mod, floor_divide, fmax, isnan, ...).

The continuation of `symnum.core.primitives`, split off to keep modules small: same conventions,
one Op block per primitive, imported at the end of primitives (whose public names it extends).
Step functions (floor, ceil, trunc, rint) have zero derivatives, as in JAX. A composition is
used only where it computes bit for bit what numpy computes, with numpy's operation order (built
in tree mode, so canonical rearranging cannot change the rounding); where a formula would lose
accuracy or get a derivative wrong at a tie (logaddexp at a = b), the op is a primitive with its
own partials and only its lowering is a formula (Op.expand). Never imports tracing.
"""

from __future__ import annotations

import math

import numpy as np

import symnum.core.taylor_rules as TR
from symnum.core.build import as_number, tree_mode
from symnum.core.hooks import install
from symnum.core.op import PIECEWISE_CONSTANT, Linearity, Op, declare
from symnum.core.primitives import (
    _unary,
    abs,
    add,
    div,
    eq,
    exp,
    gt,
    ifelse,
    log1p,
    logical_and,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    pow,
    sign,
    sqrt,
    sub,
)

_LN2 = math.log(2.0)
_LOG2E = 1.0 / _LN2  # numpy's npy_log2_1p multiplies by it

# ---------------------------------------------------------------------------------------------
# inverse hyperbolic functions and the cube root (libm functions on every backend)

asinh_op = _unary("asinh", np.arcsinh, lambda x: 1 / sqrt(x**2 + 1), 150,  # ~
                  r"\operatorname{{arsinh}}{{\left({0}\right)}}")
acosh_op = _unary("acosh", np.arccosh, lambda x: 1 / (sqrt(x - 1) * sqrt(x + 1)), 150,  # ~
                  r"\operatorname{{arcosh}}{{\left({0}\right)}}")
atanh_op = _unary("atanh", np.arctanh, lambda x: 1 / (1 - x**2), 150,  # ~
                  r"\operatorname{{artanh}}{{\left({0}\right)}}")
cbrt_op = _unary("cbrt", np.cbrt, lambda x: 1 / (3 * cbrt(x) ** 2), 60,  # ~
                 r"\sqrt[3]{{{0}}}")

# |a| with the sign of b (-0.0 and a negative NaN count as negative, as in C and numpy)
copysign_op = declare(Op(
    "copysign", 2, np.copysign, partials=lambda a, b: (sign(a) * copysign(1.0, b), 0),
    # like abs: the second derivative in a is 2δ(a)·sign(b), declared non-zero (conservative)
    linearity=Linearity(linear=(False, True), cross=False), cost=2, lower="copysign",
    latex=r"\operatorname{{copysign}}{{\left({0}, {1}\right)}}",
    doc="copysign(a, b): |a| with the sign bit of b",
))

# ---------------------------------------------------------------------------------------------
# rounding: piecewise constant, zero derivatives (JAX's convention)


def _step(name, impl, latex, doc):
    return declare(Op(name, 1, impl, partials=lambda x: (0,), taylor=TR.zero,
                      linearity=PIECEWISE_CONSTANT, cost=4, lower=name, latex=latex, doc=doc))


floor_op = _step("floor", np.floor, r"\left\lfloor {0} \right\rfloor",
                 "floor(x): the largest integer ≤ x (a float); derivative 0")
ceil_op = _step("ceil", np.ceil, r"\left\lceil {0} \right\rceil",
                "ceil(x): the smallest integer ≥ x (a float); derivative 0")
trunc_op = _step("trunc", np.trunc, r"\operatorname{{trunc}}{{\left({0}\right)}}",
                 "trunc(x): x rounded towards zero (a float); derivative 0")
rint_op = _step("rint", np.rint, r"\operatorname{{rint}}{{\left({0}\right)}}",
                "rint(x): x rounded to the nearest integer, ties to even (np.round); "
                "derivative 0")

# C's fmod: exact, with the sign of a; ∂/∂b = -trunc(a/b) (jumps where a/b crosses an integer)
fmod_op = declare(Op(
    "fmod", 2, np.fmod, partials=lambda a, b: (1, -trunc(a / b)), cost=30, lower="fmod",
    latex=r"\operatorname{{fmod}}{{\left({0}, {1}\right)}}",
    doc="fmod(a, b): the remainder of a / b truncated, with the sign of a (C's fmod)",
))

# ---------------------------------------------------------------------------------------------
# log(exp(a) + exp(b)): a primitive for its derivative (½ each at a tie; a max-based formula
# would give 1 and 0), lowered as numpy computes it


def _logaddexp_formula(a, b, base2: bool):
    with tree_mode():
        d = abs(sub(a, b))
        if base2:  # npy_logaddexp2: x + log2_1p(exp2(-|x - y|)), x + 1 at a tie
            tail = mul(log1p(pow(2.0, -d)), _LOG2E)
            tie = add(a, 1.0)
        else:  # npy_logaddexp: x + log1p(exp(-|x - y|)), x + ln 2 at a tie (inf + inf too)
            tail = log1p(exp(-d))
            tie = add(a, _LN2)
        return ifelse(eq(a, b), tie, add(maximum(a, b), tail))


logaddexp_op = declare(Op(
    "logaddexp", 2, np.logaddexp,
    partials=lambda a, b: (1 / (1 + exp(b - a)), 1 / (1 + exp(a - b))), cost=300,  # ~
    latex=r"\log{{\left(e^{{{0}}} + e^{{{1}}}\right)}}", commutative=True,
    expand=lambda a, b: _logaddexp_formula(a, b, False),
    doc="logaddexp(a, b) = log(exp(a) + exp(b)) without overflow",
))
logaddexp2_op = declare(Op(
    "logaddexp2", 2, np.logaddexp2,
    partials=lambda a, b: (1 / (1 + pow(2.0, b - a)), 1 / (1 + pow(2.0, a - b))), cost=300,
    latex=r"\log_2{{\left(2^{{{0}}} + 2^{{{1}}}\right)}}", commutative=True,
    expand=lambda a, b: _logaddexp_formula(a, b, True),
    doc="logaddexp2(a, b) = log2(2**a + 2**b) without overflow",
))

# ---------------------------------------------------------------------------------------------
# public constructors and exact compositions (numpy's float algorithms, step for step)

asinh, acosh, atanh, cbrt, copysign = asinh_op, acosh_op, atanh_op, cbrt_op, copysign_op
floor, ceil, trunc, rint, fmod = floor_op, ceil_op, trunc_op, rint_op, fmod_op
logaddexp, logaddexp2 = logaddexp_op, logaddexp2_op


def isnan(x):
    """x is NaN (x != x), as a condition."""
    return ne(x, x)


def isinf(x):
    """x is ±inf, as a condition."""
    return eq(abs(x), math.inf)


def isfinite(x):
    """x is neither NaN nor ±inf, as a condition."""
    return lt(abs(x), math.inf)


def signbit(x):
    """The sign bit of x is set (-0.0 and negative NaNs included), as a condition."""
    return lt(copysign(1.0, x), 0)


def fmax(a, b):
    """np.fmax: the larger of a and b, ignoring a NaN (NaN only when both are)."""
    return ifelse(ne(a, a), b, ifelse(ne(b, b), a, maximum(a, b)))


def fmin(a, b):
    """np.fmin: the smaller of a and b, ignoring a NaN (NaN only when both are)."""
    return ifelse(ne(a, a), b, ifelse(ne(b, b), a, minimum(a, b)))


def _python_adjust(r, b):
    """fmod's remainder r needs +b to take b's sign (Python's and numpy's convention)."""
    return logical_and(ne(r, 0), ne(lt(b, 0), lt(r, 0)))


def mod(a, b):
    """np.remainder / Python's %: a - floor(a/b)·b computed exactly (numpy's npy_divmod), with
    the sign of b; ∂/∂a = 1 and ∂/∂b = -floor(a/b) almost everywhere."""
    with tree_mode():
        r = fmod(a, b)
        return ifelse(eq(r, 0), copysign(0.0, b), ifelse(_python_adjust(r, b), add(r, b), r))


def floor_divide(a, b):
    """np.floor_divide / Python's //: numpy's npy_divmod quotient (exact, derivative 0)."""
    with tree_mode():
        r = fmod(a, b)
        q = div(sub(a, r), b)
        q = ifelse(_python_adjust(r, b), sub(q, 1.0), q)
        f = floor(q)
        f = ifelse(gt(sub(q, f), 0.5), add(f, 1.0), f)
        f = ifelse(eq(q, 0), copysign(0.0, div(a, b)), f)
        nb = as_number(b)
        if nb is not None and nb != 0:  # a known non-zero divisor: no division-by-zero branch
            return f
        return ifelse(eq(b, 0), div(a, b), f)


def round_(x, decimals: int = 0):
    """np.round: to `decimals` digits, ties to even, as numpy computes it (x·10^d, rint, /10^d)."""
    if not isinstance(decimals, (int, np.integer)):
        from symnum.errors import TracingError

        raise TracingError(f"np.round needs an integer number of decimals, got {decimals!r}")
    decimals = int(decimals)
    if decimals == 0:
        return rint(x)
    with tree_mode():
        if decimals > 0:
            f = 10.0**decimals
            return div(rint(mul(x, f)), f)
        f = 10.0 ** (-decimals)
        return mul(rint(div(x, f)), f)


# `a // b` and `a % b` on terms are these (symnum.core.hooks)
install(floor_divide=floor_divide, mod=mod)
