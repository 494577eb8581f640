"""to_sympy / from_sympy: every primitive's mapping, exact numbers, round trips, and values agree
at random points."""

from __future__ import annotations

import math
import sys
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from sympy.codegen.cfunctions import expm1, log1p

import symnum as sn
from symnum.testing import assert_allclose_at, expressions, points

x, y = sn.Sym("x"), sn.Sym("y")
X, Y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)

TO_SYMPY = [
    (lambda: x + y + 1, X + Y + 1),
    (lambda: x - 2 * y, X - 2 * Y),
    (lambda: x * y / 3, X * Y / 3),
    (lambda: x**2 / y, X**2 / Y),
    (lambda: x**0.5, X ** sp.Float(0.5)),
    (lambda: sn.exp(x), sp.exp(X)),
    (lambda: sn.log(x), sp.log(X)),
    (lambda: sn.log1p(x), log1p(X)),
    (lambda: sn.expm1(x), expm1(X)),
    (lambda: sn.sqrt(x), sp.sqrt(X)),
    (lambda: sn.sin(x), sp.sin(X)),
    (lambda: sn.cos(x), sp.cos(X)),
    (lambda: sn.tan(x), sp.tan(X)),
    (lambda: sn.asin(x), sp.asin(X)),
    (lambda: sn.acos(x), sp.acos(X)),
    (lambda: sn.atan(x), sp.atan(X)),
    (lambda: sn.atan2(y, x), sp.atan2(Y, X)),
    (lambda: sn.sinh(x), sp.sinh(X)),
    (lambda: sn.cosh(x), sp.cosh(X)),
    (lambda: sn.tanh(x), sp.tanh(X)),
    (lambda: abs(x), sp.Abs(X)),
    (lambda: sn.sign(x), sp.sign(X)),
    (lambda: sn.erf(x), sp.erf(X)),
    (lambda: sn.hypot(x, y), sp.sqrt(X**2 + Y**2)),
    (lambda: sn.minimum(x, y), sp.Min(X, Y)),
    (lambda: sn.maximum(x, y), sp.Max(X, Y)),
    (lambda: sn.ifelse(x < y, x, y), sp.Piecewise((X, X < Y), (Y, True))),
    (lambda: sn.ifelse(x, 1, 2), sp.Piecewise((1, sp.Ne(X, 0)), (2, True))),
    (lambda: x < y, sp.Lt(X, Y)),
    (lambda: x <= y, sp.Le(X, Y)),
    (lambda: x > y, sp.Gt(X, Y)),
    (lambda: x >= y, sp.Ge(X, Y)),
    (lambda: sn.eq(x, y), sp.Eq(X, Y)),
    (lambda: sn.ne(x, y), sp.Ne(X, Y)),
    (lambda: (x < y) & (y < 1), sp.And(X < Y, Y < 1)),
    (lambda: (x < y) | (y < 1), sp.Or(X < Y, Y < 1)),
    (lambda: ~(x < y), sp.Not(X < Y)),
    (lambda: x + (x < y), X + sp.Piecewise((1, X < Y), (0, True))),
    (lambda: sn.Const(Fraction(2, 7)), sp.Rational(2, 7)),
    (lambda: sn.Const(3), sp.Integer(3)),
    (lambda: sn.Const(0.1), sp.Float(0.1)),
    (lambda: sn.Const(math.nan), sp.nan),
    (lambda: sn.Const(-math.inf), -sp.oo),
    (lambda: sn.Const(True), sp.true),
]


@pytest.mark.parametrize("make, expected", TO_SYMPY, ids=[str(e) for _, e in TO_SYMPY])
def test_to_sympy_table(make, expected):
    assert sn.to_sympy(make()) == expected


def test_symbols_and_their_kinds():
    assert sn.to_sympy(x) == X and X.is_real
    n = sn.to_sympy(sn.Sym("n", "int64"))
    assert n.is_integer and n.name == "n"
    b = sn.to_sympy(sn.Sym("b", "bool"))
    assert b == sp.Symbol("b")
    assert sn.from_sympy(n) is sn.Sym("n", "int64")
    assert sn.from_sympy(sp.Symbol("any name, really")) is sn.Sym("any name, really")


def test_from_sympy_reuses_given_symbols():
    s = sn.Sym("x", "float32", units="m")
    assert sn.from_sympy(sp.Symbol("x") + 1, symbols=[s]) is s + 1


@pytest.mark.parametrize(
    "value, sym",
    [(3, sp.Integer(3)), (Fraction(-2, 3), sp.Rational(-2, 3)), (0.1, sp.Float(0.1)),
     (1e-300, sp.Float(1e-300)), (math.pi, sp.Float(math.pi)), (True, sp.true)],
)
def test_numbers_round_trip_exactly(value, sym):
    c = sn.Const(value)
    assert sn.to_sympy(c) == sym
    back = sn.from_sympy(sym)
    assert back is c  # same type and the same bits


def test_number_symbols_become_floats():
    assert sn.from_sympy(sp.pi) is sn.Const(math.pi)
    assert sn.from_sympy(sp.E * sp.Symbol("x")) is math.e * x
    assert sn.from_sympy(sp.oo) is sn.Const(math.inf)
    assert math.isnan(sn.from_sympy(sp.nan).value)


ROUND_TRIP = [
    lambda: sn.sin(x) ** 2 + 2 * x * y,
    lambda: sn.ifelse(x < y, x, y),
    lambda: sn.log1p(x) + sn.expm1(y),
    lambda: sn.atan2(y, x),
    lambda: sn.sqrt(x),
    lambda: 1 / sn.sqrt(x),
    lambda: x**0.5,
    lambda: x ** Fraction(1, 3),
    lambda: abs(x) * sn.erf(x) * sn.sign(y),
    lambda: x / 3 + 0.1,
    lambda: x**-2,
    lambda: (x < y) & (y < 2),
    lambda: sn.ifelse(x < 1, sn.exp(-x), sn.tanh(y)),
    lambda: sn.cosh(x) - sn.sinh(y) + sn.tan(x) * sn.acos(y) / sn.asin(x),
]


@pytest.mark.parametrize("make", ROUND_TRIP, ids=[str(m()) for m in ROUND_TRIP])
def test_round_trip_is_identity(make):
    e = make()
    assert sn.from_sympy(sn.to_sympy(e)) is e


@pytest.mark.parametrize(
    "make",
    [lambda: sn.hypot(x, y), lambda: sn.minimum(x, y) * sn.maximum(x, 2),
     lambda: ~(y > 1) & (x < y), lambda: sn.ifelse(x, 1, 2),
     lambda: sn.ifelse((x < 1) | (y >= 2), sn.exp(-x), sn.tanh(y))],  # SymPy sorts Or
)
def test_one_way_mappings_keep_values(make):
    e = make()
    back = sn.from_sympy(sn.to_sympy(e))
    for env in ({x: 0.3, y: 1.7}, {x: -1.2, y: 0.4}, {x: 0.0, y: 2.5}):
        assert_allclose_at(back, e, env)


def _sympy_value(s, env):
    subs = {sp.Symbol(k.name, real=True): sp.Float(v) for k, v in env.items()}
    r = s.subs(subs)
    if r in (sp.true, sp.false):
        return bool(r)
    r = complex(r.evalf(30))
    assert abs(r.imag) <= 1e-12 * max(1.0, abs(r.real)), s
    return r.real


@given(expressions([x, y], max_depth=3), points([x, y]))
def test_to_sympy_evaluates_like_symnum(e, env):
    expected = _sympy_value(sn.to_sympy(e), env)
    assert_allclose_at(e, expected, env, rtol=1e-9, atol=1e-10)


@given(expressions([x, y], max_depth=3), points([x, y]))
def test_round_trip_evaluates_like_the_original(e, env):
    assert_allclose_at(sn.from_sympy(sn.to_sympy(e)), e, env, rtol=1e-9, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# from_sympy beyond round trips


def test_from_sympy_reads_sympy_spellings():
    sx, sy = sp.symbols("x y")
    assert sn.from_sympy(sp.sec(sx)) is 1 / sn.cos(x)
    assert sn.from_sympy(sp.cot(sx)) is 1 / sn.tan(x)
    assert sn.from_sympy(sp.ITE(sx < 1, sx > 0, sy > 0)) is sn.ifelse(x < 1, x > 0, y > 0)
    for env in ({x: 3.0, y: 1.0}, {x: 0.5, y: 2.5}):
        assert_allclose_at(sn.from_sympy(sp.Max(sx, sy, 2)), sn.maximum(sn.maximum(x, y), 2), env)
        assert_allclose_at(sn.from_sympy(sp.log(sx, 2)), sn.log(x) / math.log(2), env)
    pw = sn.from_sympy(sp.Piecewise((1, sx < 0), (2, sx < 1)))
    assert str(pw) == "ifelse(x < 0, 1, ifelse(x < 1, 2, nan))"


@pytest.mark.parametrize(
    "expr, needle",
    [(sp.Function("foo")(sp.Symbol("x")), "'foo' has no symnum primitive"),
     (sp.gamma(sp.Symbol("x")), "'gamma'"),
     (sp.I * sp.Symbol("x"), "complex"),
     (sp.Derivative(sp.Function("f")(sp.Symbol("x")), sp.Symbol("x")), "Derivative")],
)
def test_unsupported_sympy_raises_naming_it(expr, needle):
    with pytest.raises(sn.UnsupportedOperationError, match=needle):
        sn.from_sympy(expr)


def test_from_sympy_rejects_non_sympy_objects():
    with pytest.raises(sn.UnsupportedOperationError, match="str"):
        sn.from_sympy("x + 1")


def test_user_primitive_round_trips_as_an_undefined_function():
    f = sn.register("interop_cube", lambda a: a**3, partials=lambda a: (3 * a**2,),
                    replace=True)
    s = sn.to_sympy(f(x) + 1)
    assert s == sp.Function("interop_cube")(X) + 1
    assert sn.from_sympy(s) is f(x) + 1


def test_pytrees_arrays_matrices_and_fn():
    u = sn.symarray("u", (2, 2))
    out = sn.to_sympy({"a": [x, 1.5], "b": u})
    assert out["a"][1] == sp.Float(1.5)
    assert isinstance(out["b"], sp.NDimArray) and out["b"].shape == (2, 2)
    assert out["b"][0, 1] == sp.Symbol("u[0,1]", real=True)
    m = sn.from_sympy(sp.Matrix([[sp.Symbol("x"), 1], [2, sp.pi]]))
    assert m.shape == (2, 2) and m[0, 0] is x and m[1, 1] is sn.Const(math.pi)
    arr = sn.from_sympy(out["b"], symbols=list(u.ravel()))
    assert arr.shape == (2, 2) and arr[1, 0] is u[1, 0]
    back = sn.from_sympy((sp.Symbol("x"), [sp.Integer(2)]))
    assert back[0] is x and back[1][0] is sn.Const(2)
    f = sn.trace(lambda a, b: a * b + 1, 1.0, 2.0)
    (fa, fb) = f.flat_inputs
    assert sn.to_sympy(f) == sn.to_sympy(fa * fb + 1)


def test_missing_sympy_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sympy", None)  # `import sympy` now raises ImportError
    with pytest.raises(ImportError, match="pip install sympy"):
        sn.to_sympy(x)
    with pytest.raises(ImportError, match="pip install sympy"):
        sn.from_sympy(1)


def test_object_array_of_terms():
    a = np.array([x, x + 1], dtype=object)
    s = sn.to_sympy(a)
    assert list(s) == [X, X + 1]
