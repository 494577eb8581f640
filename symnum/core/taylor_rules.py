"""Taylor-coefficient recurrences, one per primitive, referenced from each Op block's `taylor` slot.

A rule computes the k-th coefficient yₖ (k ≥ 1) of a primitive's output from its arguments'
coefficients x[0..k], its own earlier coefficients y[0..k-1], the coefficients of auxiliary terms
it asked for (sin needs cos(x)), and a per-node `state` dict for running series (prefix products).
Every rule is O(k) per coefficient, O(k²) per primitive over a jet: never the O(2^k) of nested
first-order AD. Coefficient k=0 is the primitive applied to the x[0]s (done by the engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from symnum.core.build import as_number
from symnum.core.build import is_zero as _zero
from symnum.core.canonical import integral
from symnum.core.op import get_op


@dataclass(frozen=True)
class TaylorRule:
    """rule(k, y, xs, aux, state) -> yₖ; aux(node_args) -> extra terms whose jets the rule uses."""

    rule: Callable[..., Any]
    aux: Callable[..., list] | None = None


class _Primitives:
    """The primitives by name (`_P().mul`), from the op registry: symnum.core.primitives imports
    this module for its Op blocks' `taylor` slots, so this module must not import it."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # introspection (doctest, copy) asks for dunders
            raise AttributeError(name)
        return get_op(name)


_PRIMITIVES = _Primitives()


def _P() -> Any:
    return _PRIMITIVES


def _sum(xs: list):
    xs = [x for x in xs if not _zero(x)]
    if not xs:
        return 0
    return xs[0] if len(xs) == 1 else _P().add(*xs)


def cauchy(a: list, b: list, k: int, lo: int = 0):
    """Σ_{j=lo}^{k-lo} a_j b_{k-j} (the k-th coefficient of a product)."""
    m = _P().mul
    return _sum([m(a[j], b[k - j]) for j in range(lo, k - lo + 1)])


def _deriv_conv(x: list, g: list, k: int):
    """(1/k) Σ_{j=1}^{k} j x_j g_{k-j}: the k-th coefficient of y where y' = g·x'."""
    m = _P().mul
    return m(Fraction(1, k), _sum([m(j, x[j], g[k - j]) for j in range(1, k + 1)]))


# ---------------------------------------------------------------------------------------------
# linear and selection


def _add(k, y, xs, aux, state):
    return _sum([x[k] for x in xs])


def _sub(k, y, xs, aux, state):
    return _P().sub(xs[0][k], xs[1][k])


def _neg(k, y, xs, aux, state):
    return _P().neg(xs[0][k])


def _zero_rule(k, y, xs, aux, state):
    return 0


def _ifelse(k, y, xs, aux, state):
    return _P().ifelse(xs[0][0], xs[1][k], xs[2][k])


def _minimum(k, y, xs, aux, state):
    P = _P()
    return P.ifelse(P.le(xs[0][0], xs[1][0]), xs[0][k], xs[1][k])


def _maximum(k, y, xs, aux, state):
    P = _P()
    return P.ifelse(P.ge(xs[0][0], xs[1][0]), xs[0][k], xs[1][k])


def _abs(k, y, xs, aux, state):
    P = _P()
    return P.mul(P.sign(xs[0][0]), xs[0][k])


add = TaylorRule(_add)
sub = TaylorRule(_sub)
neg = TaylorRule(_neg)
zero = TaylorRule(_zero_rule)
ifelse = TaylorRule(_ifelse)
minimum = TaylorRule(_minimum)
maximum = TaylorRule(_maximum)
abs = TaylorRule(_abs)

# ---------------------------------------------------------------------------------------------
# products, quotients, powers


def _mul(k, y, xs, aux, state):
    # running prefix products p_m = x_0 ⋯ x_m, each as a growing series
    if len(xs) == 1:
        return xs[0][k]
    pre = state.setdefault("prefix", [[] for _ in range(len(xs) - 2)])
    prev = xs[0]
    for m in range(1, len(xs) - 1):
        series = pre[m - 1]
        if len(series) == 0:
            series.append(_P().mul(prev[0], xs[m][0]))
        series.append(cauchy(prev, xs[m], k))
        prev = series
    return cauchy(prev, xs[-1], k)


def _fma(k, y, xs, aux, state):
    a, b, c = xs
    return _sum([cauchy(a, b, k), c[k]])


def _div(k, y, xs, aux, state):
    a, b = xs
    P = _P()
    s = _sum([P.mul(y[j], b[k - j]) for j in range(0, k)])
    return P.div(P.sub(a[k], s), b[0])


def _series_recip(a: list, r: list, k: int):
    """k-th coefficient of 1/a given r = coefficients of 1/a below k."""
    P = _P()
    return P.neg(P.div(_sum([P.mul(a[j], r[k - j]) for j in range(1, k + 1)]), a[0]))


def _pow(k, y, xs, aux, state):
    P = _P()
    a, b = xs
    c = as_number(b[0]) if all(_zero(bj) for bj in b[1:k + 1]) else None
    if c is None:  # variable exponent: y' = y·(b log a)', with t = b·log(a) an auxiliary jet
        return _deriv_conv(aux[0], y, k)
    n = integral(c)
    if n is not None:
        base = a
        if n < 0:  # 1/a by its recurrence, then a positive power of it
            r = state.setdefault("recip", [P.div(1, a[0])])
            while len(r) <= k:
                r.append(_series_recip(a, r, len(r)))
            base, n = r, -n
        if n == 1:
            return base[k]
        # base^n by repeated products: exact at a₀ = 0 (the J.C.P. Miller recurrence divides by a₀)
        pows = state.setdefault("pows", [[] for _ in range(n - 1)])
        prev = base
        for m in range(n - 2):
            series = pows[m]
            if not series:
                series.append(P.mul(prev[0], base[0]))
            while len(series) <= k:
                series.append(cauchy(prev, base, len(series)))
            prev = series
        return cauchy(prev, base, k)
    # real exponent: y_k = 1/(k a₀) Σ_{j=1}^{k} ((c+1) j − k) a_j y_{k−j}
    terms = [P.mul((c + 1) * j - k, a[j], y[k - j]) for j in range(1, k + 1)]
    return P.div(_sum(terms), P.mul(k, a[0]))


def _pow_aux(a, b):
    if as_number(b) is not None:
        return []
    return [_P().mul(b, _P().log(a))]


mul = TaylorRule(_mul)
fma = TaylorRule(_fma)
div = TaylorRule(_div)
pow = TaylorRule(_pow, aux=_pow_aux)

# ---------------------------------------------------------------------------------------------
# exponentials and logarithms


def _exp(k, y, xs, aux, state):
    return _deriv_conv(xs[0], y, k)


def _expm1(k, y, xs, aux, state):
    e = [_P().add(y[0], 1)] + y[1:k]  # exp(x) = expm1(x) + 1
    return _deriv_conv(xs[0], e, k)


def _log_like(x: list, y: list, k: int, w0):
    P = _P()
    s = _sum([P.mul(j, y[j], x[k - j]) for j in range(1, k)])
    return P.div(P.sub(x[k], P.mul(Fraction(1, k), s)), w0)


def _log(k, y, xs, aux, state):
    return _log_like(xs[0], y, k, xs[0][0])


def _log1p(k, y, xs, aux, state):
    return _log_like(xs[0], y, k, _P().add(1, xs[0][0]))


def _sqrt(k, y, xs, aux, state):
    P = _P()
    s = _sum([P.mul(y[j], y[k - j]) for j in range(1, k)])
    return P.div(P.sub(xs[0][k], s), P.mul(2, y[0]))


exp = TaylorRule(_exp)
expm1 = TaylorRule(_expm1)
log = TaylorRule(_log)
log1p = TaylorRule(_log1p)
sqrt = TaylorRule(_sqrt)

# ---------------------------------------------------------------------------------------------
# trigonometric and hyperbolic: sin and cos (sinh and cosh) are computed together


def _sin(k, y, xs, aux, state):
    return _deriv_conv(xs[0], aux[0], k)


def _cos(k, y, xs, aux, state):
    return _P().neg(_deriv_conv(xs[0], aux[0], k))


def _sinh_cosh(k, y, xs, aux, state):
    return _deriv_conv(xs[0], aux[0], k)


def _one_plus_sq(y: list, m: int, sign: int):
    """m-th coefficient of 1 + sign·y²."""
    sq = cauchy(y, y, m)
    v = _P().mul(sign, sq)
    return _P().add(1, v) if m == 0 else v


def _tan(k, y, xs, aux, state):
    return _deriv_conv(xs[0], [_one_plus_sq(y, m, 1) for m in range(k)], k)


def _tanh(k, y, xs, aux, state):
    return _deriv_conv(xs[0], [_one_plus_sq(y, m, -1) for m in range(k)], k)


def _atan(k, y, xs, aux, state):
    # (1 + x²)·y' = x'  ⇒  k y_k = (k x_k − Σ_{i=1}^{k-1} w_i (k−i) y_{k−i}) / w₀
    P = _P()
    x = xs[0]
    w = [_one_plus_sq(x, i, 1) for i in range(k)]
    s = _sum([P.mul(w[i], k - i, y[k - i]) for i in range(1, k)])
    return P.div(P.sub(P.mul(k, x[k]), s), P.mul(k, w[0]))


sin = TaylorRule(_sin, aux=lambda x: [_P().cos(x)])
cos = TaylorRule(_cos, aux=lambda x: [_P().sin(x)])
sinh = TaylorRule(_sinh_cosh, aux=lambda x: [_P().cosh(x)])
cosh = TaylorRule(_sinh_cosh, aux=lambda x: [_P().sinh(x)])
tan = TaylorRule(_tan)
tanh = TaylorRule(_tanh)
atan = TaylorRule(_atan)

# ---------------------------------------------------------------------------------------------
# any other primitive with partial derivatives: y' = Σᵢ ∂f/∂aᵢ · aᵢ'


def _from_partials(k, y, xs, aux, state):
    return _sum([_deriv_conv(x, g, k) for x, g in zip(xs, aux) if g is not None])


def _partials_aux_of(op):
    def aux(*args):
        return [None if as_number(a) is not None else g for a, g in zip(args, op.derivatives(args))]

    return aux


def derived(op) -> TaylorRule:
    """The generic rule for a primitive that declares partials but no recurrence."""
    return TaylorRule(_from_partials, aux=_partials_aux_of(op))
