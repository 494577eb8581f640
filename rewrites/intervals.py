"""Range facts about terms: a conservative interval [lo, hi] for every value a term can take.

Read from the expression's shape alone (no sampling): literals are points, a symbol is the real
line unless declared positive=True / nonnegative=True, and each operation maps its arguments'
intervals to a superset of its results — exp(−x²) ∈ [0, 1], 1 + x² ∈ [1, ∞), 0.1 + 0.9·exp(·)
∈ [0.1, 1] when the exponent is ≤ 0, sin ∈ [−1, 1]. The bounds hold for every non-NaN result (a
NaN propagates through either form of a rewrite alike); 0·∞ counts as 0 at the endpoints. Used
as guards by rewrites that are exact on the reals but can overflow or underflow in floating point
(rewrites/logprod.py). Bounds are computed in float64, so a guard must keep a wide margin from
the edge of the double range (rounding of the bounds themselves is then irrelevant). Never
imports egglog or a backend; pure functions of terms.
"""

from __future__ import annotations

import math
from typing import Any

from symnum.core.interface import arguments, iscall
from symnum.rules.predicates import integer_value, is_literal, literal_value, opname

INF = math.inf
REAL = (-INF, INF)


def _mul(a: float, b: float) -> float:
    if a == 0.0 or b == 0.0:
        return 0.0  # 0·∞ at an endpoint: the product's bound is 0 (NaN is not a bound)
    return a * b


def _imul(x: tuple, y: tuple) -> tuple:
    ps = [_mul(p, q) for p in x for q in y]
    return (min(ps), max(ps))


def _recip(x: tuple) -> tuple:
    lo, hi = x
    if lo > 0.0 or hi < 0.0:
        return (1.0 / hi if hi != 0 else -INF if hi < 0 else INF,
                1.0 / lo if lo != 0 else INF)
    if lo == 0.0 and hi > 0.0:
        return (1.0 / hi, INF)
    if hi == 0.0 and lo < 0.0:
        return (-INF, 1.0 / lo)
    return REAL


def _safe(f: Any, v: float, default: float) -> float:
    try:
        return f(v)
    except (OverflowError, ValueError, ZeroDivisionError):  # 0.0 ** -0.5 raises in Python
        return default


def _ipow_int(x: tuple, n: int) -> tuple:
    if n == 0:
        return (1.0, 1.0)
    if n < 0:
        return _recip(_ipow_int(x, -n))
    lo, hi = x

    def p(v: float) -> float:
        return _safe(lambda u: u ** n, v, INF if v > 0 or n % 2 == 0 else -INF)

    if n % 2 == 1:
        return (p(lo), p(hi))
    if lo >= 0.0:
        return (p(lo), p(hi))
    if hi <= 0.0:
        return (p(hi), p(lo))
    return (0.0, max(p(lo), p(hi)))


def _ipow(x: tuple, e: Any) -> tuple:
    n = integer_value(e)
    if n is not None:
        return _ipow_int(x, n)
    if not is_literal(e):
        return REAL if x[0] < 0.0 else (0.0, INF)
    p = float(literal_value(e))
    lo, hi = x
    if lo < 0.0:
        return REAL  # NaN for negative bases; whatever is left is unbounded for our purpose
    a = _safe(lambda u: u ** p, lo, INF)
    b = _safe(lambda u: u ** p, hi, INF)
    return (min(a, b), max(a, b))


def _mono(f: Any, x: tuple, lo_default: float = -INF, hi_default: float = INF) -> tuple:
    return (_safe(f, x[0], lo_default), _safe(f, x[1], hi_default))


def _exp(v: float) -> float:
    return 0.0 if v == -INF else INF if v == INF else _safe(math.exp, v, INF)


def _log(v: float) -> float:
    return -INF if v <= 0.0 else INF if v == INF else math.log(v)


def _unary(name: str, x: tuple) -> tuple:
    lo, hi = x
    if name == "exp":
        return (_exp(lo), _exp(hi))
    if name == "log":
        return (_log(lo), _log(hi))
    if name == "sqrt":
        return (math.sqrt(max(lo, 0.0)), math.sqrt(hi) if hi >= 0 else 0.0)
    if name in ("sin", "cos"):
        return (-1.0, 1.0)
    if name == "tanh":
        return (math.tanh(lo), math.tanh(hi))
    if name == "atan":
        return (math.atan(lo), math.atan(hi))
    if name == "erf":
        return (math.erf(lo), math.erf(hi))
    if name == "abs":
        if lo >= 0.0:
            return x
        if hi <= 0.0:
            return (-hi, -lo)
        return (0.0, max(-lo, hi))
    if name == "neg":
        return (-hi, -lo)
    if name == "expm1":
        return (_exp(lo) - 1.0 if lo > -INF else -1.0, _exp(hi) - 1.0)
    if name == "log1p":
        return (_log(1.0 + lo) if lo > -1.0 else -INF, _log(1.0 + hi))
    if name == "sinh":
        return _mono(math.sinh, x)
    if name == "cosh":
        m = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
        return (_safe(math.cosh, m, INF), _safe(math.cosh, max(abs(lo), abs(hi)), INF))
    if name == "asin":
        return (-math.pi / 2, math.pi / 2)
    if name == "acos":
        return (0.0, math.pi)
    return REAL


def bounds(t: Any, memo: dict | None = None) -> tuple[float, float]:
    """A conservative interval (lo, hi) holding every non-NaN value of `t`.

    >>> import symnum as sn
    >>> x = sn.Sym("x")
    >>> bounds(sn.exp(-x**2)), bounds(1 + x**2), bounds(0.1 + 0.9 * sn.exp(-x**2))
    ((0.0, 1.0), (1.0, inf), (0.1, 1.0))
    """
    memo = {} if memo is None else memo
    key = id(t)
    got = memo.get(key)
    if got is not None:
        return got[0]
    out = _bounds(t, memo)
    memo[key] = (out, t)  # keep t alive so its id stays valid while the memo lives
    return out


def _bounds(t: Any, memo: dict) -> tuple[float, float]:
    if not iscall(t):
        v = literal_value(t)
        if v is not None and not isinstance(v, bool):
            f = float(v)
            return REAL if f != f else (f, f)
        meta = getattr(t, "meta", None) or {}
        if meta.get("positive") or meta.get("nonnegative"):
            return (0.0, INF)
        return REAL
    name = opname(t)
    args = arguments(t)
    if name == "add":
        lo = hi = 0.0
        for a in args:
            b = bounds(a, memo)
            lo, hi = lo + b[0], hi + b[1]
        return (-INF if lo != lo else lo, INF if hi != hi else hi)
    if name == "mul":
        acc = (1.0, 1.0)
        for a in args:
            acc = _imul(acc, bounds(a, memo))
        return acc
    if name == "sub":
        a, b = bounds(args[0], memo), bounds(args[1], memo)
        lo, hi = a[0] - b[1], a[1] - b[0]
        return (-INF if lo != lo else lo, INF if hi != hi else hi)
    if name == "div":
        return _imul(bounds(args[0], memo), _recip(bounds(args[1], memo)))
    if name == "pow":
        return _ipow(bounds(args[0], memo), args[1])
    if name == "fma":
        p = _imul(bounds(args[0], memo), bounds(args[1], memo))
        c = bounds(args[2], memo)
        lo, hi = p[0] + c[0], p[1] + c[1]
        return (-INF if lo != lo else lo, INF if hi != hi else hi)
    if name in ("minimum", "maximum"):
        a, b = bounds(args[0], memo), bounds(args[1], memo)
        f = min if name == "minimum" else max
        return (f(a[0], b[0]), f(a[1], b[1]))
    if name == "hypot":
        a, b = _unary("abs", bounds(args[0], memo)), _unary("abs", bounds(args[1], memo))
        return (max(a[0], b[0]), a[1] + b[1])
    if name == "ifelse":
        a, b = bounds(args[1], memo), bounds(args[2], memo)
        return (min(a[0], b[0]), max(a[1], b[1]))
    if len(args) == 1 and name is not None:
        return _unary(name, bounds(args[0], memo))
    return REAL


__all__ = ["bounds"]
