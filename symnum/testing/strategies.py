"""Test helpers for users and for symnum's own suites: hypothesis strategies for random
expressions and points, and a numeric comparison through the reference interpreter.

Sits beside the public API (needs hypothesis, a test dependency; `import symnum` never imports
this module). It must never build expressions that leave their primitives' domains or overflow.

Recipes are plain nested tuples (`("sin", ("add", ("sym", 0), ("const", 1.5)))`), so a failing
example prints readably and can be rebuilt in canonical or tree mode. Guards are part of the
recipe and use only smooth arithmetic: a positive argument is `1 + a·a` (or `0.1 + a·a`), a
bounded one is `a / (1 + a·a)` (always in [-1/2, 1/2]); discontinuous primitives (sign and the
comparisons) compare against an irrational-looking offset, so rounding differences between two
equal expressions do not flip a branch in practice. Values stay within about ±100 for inputs in
[-2, 2]. Kinks remain (abs at 0, min/max at ties) and so do jumps (floor, ceil, trunc, rint,
fmod, copysign: their argument is shifted by the same offset): derivative checks against finite
differences should leave those primitives out or avoid such points (STEP_OPS lists them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the test extra
    raise ImportError(
        "symnum.testing needs hypothesis; install it with `pip install hypothesis` "
        "(or `pip install symnum[test]`)"
    ) from exc

from symnum.core.build import as_expr, tree_mode
from symnum.core.evaluate import eval_many
from symnum.core.op import PRIMITIVES, get_op
from symnum.core.terms import Expr, Sym
from symnum.testing.programs import numpy_programs

__all__ = [
    "CONDITION_OPS",
    "STEP_OPS",
    "VALUE_OPS",
    "assert_allclose_at",
    "build",
    "expression_recipes",
    "expressions",
    "numpy_programs",
    "points",
]

Recipe = tuple

LIMIT = 100.0  # |value| bound kept for inputs in [-2, 2]: errors stay ~1e-13 absolute
INPUT_BOUND = 2.0
OFFSET = 0.3090169943749474  # (√5 - 1)/4: shifts discontinuities off "nice" values
SQUASH_BOUND = 0.5  # |a / (1 + a²)| ≤ 1/2

# float-valued primitives the generator knows the domain of
VALUE_OPS: tuple[str, ...] = (
    "add", "sub", "mul", "neg", "fma", "div", "pow", "exp", "log", "log1p", "expm1", "sqrt",
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "abs",
    "sign", "erf", "hypot", "minimum", "maximum", "ifelse", "asinh", "acosh", "atanh", "cbrt",
    "copysign", "floor", "ceil", "trunc", "rint", "fmod", "logaddexp", "logaddexp2",
)
# piecewise: jumps or kinks where finite differences mean nothing
STEP_OPS: tuple[str, ...] = ("sign", "abs", "minimum", "maximum", "ifelse", "floor", "ceil",
                             "trunc", "rint", "fmod", "copysign")
COMPARISONS: tuple[str, ...] = ("lt", "le", "gt", "ge", "eq", "ne")
LOGIC: tuple[str, ...] = ("logical_and", "logical_or", "logical_not")
CONDITION_OPS: tuple[str, ...] = COMPARISONS + LOGIC

_CONSTS: tuple = (0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.75, 2.0, 0.1, Fraction(1, 3),
                  Fraction(-2, 5))
_FRACTIONAL_EXPONENTS: tuple = (-1, -2, 0.5, -0.5, 1.5, Fraction(1, 3), -3)


# ---------------------------------------------------------------------------------------------
# recipe helpers: guards and bounds


def _c(v: Any) -> Recipe:
    return ("const", v)


def _positive(a: Recipe, floor: float = 1.0) -> Recipe:
    """floor + a·a: positive and smooth everywhere."""
    return ("add", _c(floor), ("mul", a, a))


def _squash(a: Recipe) -> Recipe:
    """a / (1 + a·a): smooth, within [-1/2, 1/2] for every real a."""
    return ("div", a, _positive(a))


Node = tuple[Recipe, float]  # a recipe with a bound on |value|


def _squashed(n: Node) -> Node:
    return (_squash(n[0]), SQUASH_BOUND)


def _fit(children: list[Node], bound_of) -> tuple[list[Node], float]:
    """Squash the widest children until the op's result bound is within LIMIT."""
    kids = list(children)
    b = bound_of([k[1] for k in kids])
    while b > LIMIT:
        i = max(range(len(kids)), key=lambda j: kids[j][1])
        if kids[i][1] <= SQUASH_BOUND:  # nothing left to narrow
            break
        kids[i] = _squashed(kids[i])
        b = bound_of([k[1] for k in kids])
    return kids, b


def _limit_arg(n: Node, allowed: float) -> Node:
    return n if n[1] <= allowed else _squashed(n)


def _safe_exp(b: float) -> float:
    return math.exp(min(b, 700.0))


# ---------------------------------------------------------------------------------------------
# the generator


def expression_recipes(
    n_symbols: int = 2,
    primitives: Iterable[str] | None = None,
    max_depth: int = 4,
) -> st.SearchStrategy:
    """Strategy of small recipe trees over symbols 0..n_symbols-1 that stay in their domains.

    `primitives` restricts the operations exercised (names from symnum.core.op.PRIMITIVES; a user's
    registered primitive is applied to squashed arguments). Guards always use add, mul and div;
    comparisons and logic appear as the conditions of `ifelse`.

    >>> from hypothesis import given
    >>> @given(expression_recipes(1, ["sin", "mul"], max_depth=2))
    ... def check(r):
    ...     assert isinstance(r, tuple)
    >>> check()
    """
    if n_symbols < 1:
        raise ValueError("expression_recipes needs at least one symbol (n_symbols >= 1)")
    names = VALUE_OPS + CONDITION_OPS if primitives is None else tuple(primitives)
    for name in names:
        if name not in PRIMITIVES:
            get_op(name)  # raises MissingRuleError naming the unknown primitive
    value_ops = [n for n in names if n not in CONDITION_OPS]
    comparisons = [n for n in names if n in COMPARISONS]
    logic = [n for n in names if n in LOGIC]
    user_conds = [n for n in names if n not in VALUE_OPS + CONDITION_OPS
                  and PRIMITIVES[n].result == "bool"]
    value_ops = [n for n in value_ops if n not in user_conds]
    if (comparisons or logic or user_conds) and "ifelse" not in value_ops:
        value_ops.append("ifelse")  # conditions need a host
    if not comparisons and "ifelse" in value_ops:
        comparisons = ["lt"]
    spec = _Spec(n_symbols, tuple(value_ops), tuple(comparisons), tuple(logic),
                 tuple(user_conds))
    top = _call(spec, max_depth) if max_depth > 0 and value_ops else _leaf(spec)
    return top.map(lambda node: node[0])  # the root is a call: a bare leaf tests little


class _Spec:
    def __init__(self, n, value_ops, comparisons, logic, user_conds):
        self.n, self.value_ops, self.comparisons = n, value_ops, comparisons
        self.logic, self.user_conds = logic, user_conds


def _leaf(spec: _Spec) -> st.SearchStrategy:
    sym = st.integers(0, spec.n - 1).map(lambda i: (("sym", i), INPUT_BOUND))
    nice = st.sampled_from(_CONSTS)
    floats = st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False)
    const = st.one_of(nice, floats).map(lambda v: (_c(v), float(abs(v))))
    return st.one_of(sym, const)


def _value(spec: _Spec, depth: int) -> st.SearchStrategy:
    if depth <= 0 or not spec.value_ops:
        return _leaf(spec)
    return st.one_of(_leaf(spec), _call(spec, depth))


@st.composite
def _call(draw, spec: _Spec, depth: int) -> Node:
    name = draw(st.sampled_from(spec.value_ops))

    def sub() -> Node:
        return draw(_value(spec, depth - 1))

    if name == "ifelse":
        cond = draw(_condition(spec, depth - 1))
        (a, b), bound = _fit([sub(), sub()], max)
        return (("ifelse", cond, a[0], b[0]), bound)
    if name in _RULES:
        arity, make = _RULES[name]
        n_args = draw(st.integers(2, 3)) if arity is None else arity
        return make([sub() for _ in range(n_args)], draw)
    op = PRIMITIVES[name]  # a user primitive: arguments squashed, result assumed moderate
    n_args = op.nargs if op.nargs is not None else 2
    args = [_squashed(sub())[0] for _ in range(n_args)]
    return ((name, *args), LIMIT)


@st.composite
def _condition(draw, spec: _Spec, depth: int) -> Recipe:
    kinds = ["cmp"] + (["logic"] if spec.logic and depth > 0 else []) + (
        ["user"] if spec.user_conds else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "logic":
        name = draw(st.sampled_from(spec.logic))
        n_args = 1 if name == "logical_not" else 2
        return (name, *[draw(_condition(spec, depth - 1)) for _ in range(n_args)])
    if kind == "user":
        name = draw(st.sampled_from(spec.user_conds))
        nargs = PRIMITIVES[name].nargs or 2
        return (name, *[_squash(draw(_value(spec, depth - 1))[0]) for _ in range(nargs)])
    name = draw(st.sampled_from(spec.comparisons))
    a = draw(_value(spec, depth - 1))[0]
    b = draw(_value(spec, depth - 1))[0]
    return (name, a, ("add", b, _c(OFFSET)))


# one function per known primitive: (children, draw) -> (recipe, bound)


def _variadic(name, bound_of):
    def make(kids, draw):
        kids, b = _fit(kids, bound_of)
        return ((name, *[k[0] for k in kids]), b)

    return make


def _unary(name, allowed, bound_of):
    def make(kids, draw):
        (a,) = kids
        a = _limit_arg(a, allowed)
        return ((name, a[0]), bound_of(a[1]))

    return make


def _guarded(name, floor, bound_of, *, square_only=False):
    """name(floor + a·a), or log1p(a·a) when square_only: the argument stays in the domain."""

    def make(kids, draw):
        (a,) = kids
        a = _limit_arg(a, math.sqrt(LIMIT))
        arg = ("mul", a[0], a[0]) if square_only else _positive(a[0], floor)
        return ((name, arg), bound_of(a[1]))

    return make


def _div(kids, draw):
    a, b = kids
    b = _limit_arg(b, math.sqrt(LIMIT))
    return (("div", a[0], _positive(b[0])), a[1])


def _pow(kids, draw):
    a, b = kids
    kind = draw(st.sampled_from(["square", "cube", "fixed", "general"]))
    if kind in ("square", "cube"):  # any base: integer powers are defined everywhere
        k = 2 if kind == "square" else 3
        a = _limit_arg(a, LIMIT ** (1 / k))
        return (("pow", a[0], _c(k)), a[1] ** k)
    a = _limit_arg(a, 3.0)
    base_bound = 1.0 + a[1] ** 2
    if kind == "fixed":
        e = draw(st.sampled_from(_FRACTIONAL_EXPONENTS))
        return (("pow", _positive(a[0]), _c(e)), base_bound ** max(float(e), 0.0))
    b = _squashed(b) if b[1] > 1.0 else b  # base ≤ 10, |exponent| ≤ 1
    return (("pow", _positive(a[0]), b[0]), base_bound ** b[1])


def _atan2(kids, draw):
    a, b = kids  # x kept positive: no branch cut, never (0, 0)
    b = _limit_arg(b, math.sqrt(LIMIT))
    return (("atan2", a[0], _positive(b[0])), math.pi / 2)


def _sign(kids, draw):
    (a,) = kids
    return (("sign", ("add", a[0], _c(OFFSET))), 1.0)


def _prod(bs):
    return math.prod(bs)


def _step(name):
    """floor/ceil/trunc/rint of a + OFFSET: the jumps sit off the "nice" values."""

    def make(kids, draw):
        (a,) = kids
        return ((name, ("add", a[0], _c(OFFSET))), a[1] + 1.0)

    return make


def _cbrt(kids, draw):
    (a,) = kids  # ±(0.1 + a·a): both signs, never near the infinite slope at 0
    a = _limit_arg(a, math.sqrt(LIMIT))
    arg = _positive(a[0], 0.1)
    if draw(st.booleans()):
        arg = ("mul", _c(-1), arg)
    return (("cbrt", arg), (0.1 + a[1] ** 2) ** (1 / 3))


def _copysign(kids, draw):
    a, b = kids
    return (("copysign", a[0], ("add", b[0], _c(OFFSET))), a[1])


def _fmod(kids, draw):
    a, b = kids  # divisor 1 + b·b ≥ 1
    b = _limit_arg(b, math.sqrt(LIMIT))
    return (("fmod", a[0], _positive(b[0])), a[1])


_RULES: dict[str, tuple[int | None, Any]] = {
    "add": (None, _variadic("add", sum)),
    "sub": (2, _variadic("sub", sum)),
    "mul": (None, _variadic("mul", _prod)),
    "neg": (1, _unary("neg", LIMIT, lambda b: b)),
    "fma": (3, _variadic("fma", lambda bs: bs[0] * bs[1] + bs[2])),
    "div": (2, _div),
    "pow": (2, _pow),
    "exp": (1, _unary("exp", 4.0, _safe_exp)),
    "expm1": (1, _unary("expm1", 4.0, _safe_exp)),
    "sinh": (1, _unary("sinh", 4.0, _safe_exp)),
    "cosh": (1, _unary("cosh", 4.0, _safe_exp)),
    "log": (1, _guarded("log", 1.0, lambda b: math.log1p(b * b))),
    "log1p": (1, _guarded("log1p", 0.0, lambda b: math.log1p(b * b), square_only=True)),
    "sqrt": (1, _guarded("sqrt", 0.1, lambda b: math.sqrt(0.1 + b * b))),
    "sin": (1, _unary("sin", LIMIT, lambda b: 1.0)),
    "cos": (1, _unary("cos", LIMIT, lambda b: 1.0)),
    "tan": (1, _unary("tan", 1.2, math.tan)),
    "asin": (1, _unary("asin", 0.9, lambda b: math.pi / 2)),
    "acos": (1, _unary("acos", 0.9, lambda b: math.pi)),
    "atan": (1, _unary("atan", LIMIT, lambda b: math.pi / 2)),
    "tanh": (1, _unary("tanh", LIMIT, lambda b: 1.0)),
    "erf": (1, _unary("erf", LIMIT, lambda b: 1.0)),
    "abs": (1, _unary("abs", LIMIT, lambda b: b)),
    "sign": (1, _sign),
    "atan2": (2, _atan2),
    "hypot": (2, _variadic("hypot", lambda bs: math.hypot(*bs))),
    "minimum": (2, _variadic("minimum", max)),
    "maximum": (2, _variadic("maximum", max)),
    "asinh": (1, _unary("asinh", LIMIT, math.asinh)),
    "acosh": (1, _guarded("acosh", 1.5, lambda b: math.acosh(1.5 + b * b))),
    "atanh": (1, _unary("atanh", SQUASH_BOUND, math.atanh)),
    "cbrt": (1, _cbrt),
    "copysign": (2, _copysign),
    "floor": (1, _step("floor")),
    "ceil": (1, _step("ceil")),
    "trunc": (1, _step("trunc")),
    "rint": (1, _step("rint")),
    "fmod": (2, _fmod),
    "logaddexp": (2, _variadic("logaddexp", lambda bs: max(bs) + 1.0)),
    "logaddexp2": (2, _variadic("logaddexp2", lambda bs: max(bs) + 1.0)),
}


# ---------------------------------------------------------------------------------------------
# recipes → terms


def build(recipe: Recipe, symbols: Sequence[Expr], mode: str = "canonical") -> Expr:
    """The term a recipe describes, built in canonical mode or, as written, in tree mode.

    >>> import symnum as sn
    >>> x = sn.Sym("x")
    >>> str(build(("add", ("sym", 0), ("sym", 0)), [x])), str(build(
    ...     ("add", ("sym", 0), ("sym", 0)), [x], mode="tree"))
    ('2*x', 'x + x')
    """
    if mode == "canonical":
        return as_expr(_build(recipe, symbols))
    if mode == "tree":
        with tree_mode():
            return as_expr(_build(recipe, symbols))
    raise ValueError(f"build() mode must be 'canonical' or 'tree', got {mode!r}")


def _build(r: Recipe, symbols: Sequence[Expr]) -> Any:
    head = r[0]
    if head == "sym":
        return symbols[r[1]]
    if head == "const":
        return as_expr(r[1])
    return get_op(head)(*[_build(a, symbols) for a in r[1:]])


def expressions(
    symbols: Sequence[Expr],
    primitives: Iterable[str] | None = None,
    max_depth: int = 4,
) -> st.SearchStrategy:
    """Strategy of canonical terms over `symbols` (see `expression_recipes` for the guards).

    >>> import symnum as sn
    >>> from hypothesis import given
    >>> x, y = sn.Sym("x"), sn.Sym("y")
    >>> @given(expressions([x, y], ["exp", "add"]))
    ... def check(e):
    ...     assert isinstance(e, sn.Expr)
    >>> check()
    """
    syms = tuple(symbols)
    return expression_recipes(len(syms), primitives, max_depth).map(lambda r: build(r, syms))


def points(
    symbols: Sequence[Sym], low: float = -2.0, high: float = 2.0
) -> st.SearchStrategy:
    """Strategy of environments {symbol: float} with every value in [low, high].

    >>> import symnum as sn
    >>> from hypothesis import given
    >>> x = sn.Sym("x")
    >>> @given(points([x], 0.0, 1.0))
    ... def check(env):
    ...     assert 0.0 <= env[x] <= 1.0
    >>> check()
    """
    if not low <= high:
        raise ValueError(f"points() needs low <= high, got low={low}, high={high}")
    value = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return st.fixed_dictionaries({s: value for s in symbols})


# ---------------------------------------------------------------------------------------------
# comparing values


def _env_str(env: Mapping) -> str:
    items = []
    for k, v in env.items():
        name = k.name if isinstance(k, Sym) else str(k)
        items.append(f"{name}={v!r}")
    return "{" + ", ".join(items) + "}"


def assert_allclose_at(
    a: Any, b: Any, env: Mapping, rtol: float = 1e-9, atol: float = 1e-12
) -> None:
    """Assert that two expressions (or numbers) agree at `env` by the reference interpreter.

    Agreement is |a − b| ≤ atol + rtol·max(|a|, |b|) elementwise; NaN matches NaN, and an
    infinity matches only the same infinity.

    >>> import symnum as sn
    >>> x = sn.Sym("x")
    >>> assert_allclose_at(sn.sin(x) ** 2 + sn.cos(x) ** 2, 1, {x: 0.3})
    """
    ta, tb = as_expr(a), as_expr(b)
    va, vb = eval_many([ta, tb], env)
    fa = np.asarray(va, dtype=np.float64)
    fb = np.asarray(vb, dtype=np.float64)
    with np.errstate(all="ignore"):
        both_nan = np.isnan(fa) & np.isnan(fb)
        same = fa == fb  # equal infinities too
        diff = np.abs(fa - fb)
        tol = atol + rtol * np.maximum(np.abs(fa), np.abs(fb))
        ok = both_nan | same | (np.isfinite(fa) & np.isfinite(fb) & (diff <= tol))
    if np.all(ok):
        return
    worst = ""
    if fa.ndim or fb.ndim:
        bad = int(np.size(ok) - np.count_nonzero(ok))
        worst = f"\n  {bad} of {np.size(ok)} elements differ"
    raise AssertionError(
        "expressions differ numerically\n"
        f"  a = {ta}\n  b = {tb}\n  at {_env_str(env)}\n"
        f"  a evaluates to {va!r}\n  b evaluates to {vb!r}\n"
        f"  |a - b| = {np.max(np.where(ok, 0.0, diff))!r} > atol + rtol*max(|a|, |b|) "
        f"(rtol={rtol}, atol={atol}){worst}"
    )

