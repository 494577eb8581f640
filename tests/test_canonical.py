"""Canonical forms at construction: tables of input ⇒ expected, exact number arithmetic, and
properties (canonical ≡ tree mode, expand(e) ≡ e) at random points."""

from __future__ import annotations

import math
from fractions import Fraction as F

import pytest
from hypothesis import given

import symnum as sn
from symnum.core.canonical import integral, num_pow
from symnum.core.terms import Add, Mul
from symnum.testing import assert_allclose_at, build, expression_recipes, expressions, points

x, y, z = sn.Sym("x"), sn.Sym("y"), sn.Sym("z")
C = sn.Const

# input ⇒ expected term (identity), or expected text where the term is awkward to spell
CANONICAL = [
    ("x + x → 2x", lambda: x + x, lambda: 2 * x),
    ("x·x → x²", lambda: x * x, lambda: x**2),
    ("0·x → 0", lambda: 0 * x, lambda: C(0)),
    ("0.0·x → 0.0", lambda: 0.0 * x, lambda: C(0.0)),
    ("x − x → 0", lambda: x - x, lambda: C(0)),
    ("x·y − y·x → 0", lambda: x * y - y * x, lambda: C(0)),
    ("(2x)³ → 8x³", lambda: (2 * x) ** 3, lambda: 8 * x**3),
    ("(x·y)² → x²y²", lambda: (x * y) ** 2, lambda: x**2 * y**2),
    ("(x²)³ → x⁶", lambda: (x**2) ** 3, lambda: x**6),
    ("x⁰ → 1", lambda: x**0, lambda: C(1)),
    ("x¹ → x", lambda: x**1, lambda: x),
    ("x^1.0 → x", lambda: x**1.0, lambda: x),
    ("x^2.0 → x²", lambda: x**2.0, lambda: x**2),
    ("1 + 2 → 3", lambda: sn.add(1, 2), lambda: C(3)),
    ("2 · 3.0 → 6.0", lambda: sn.mul(2, 3.0), lambda: C(6.0)),
    ("2^-1 → 1/2 exact", lambda: sn.pow(2, -1), lambda: C(F(1, 2))),
    ("2.0^-1 → 0.5", lambda: sn.pow(2.0, -1), lambda: C(0.5)),
    ("(1/2)^-2 → 4", lambda: sn.pow(F(1, 2), -2), lambda: C(4)),
    ("0^-1 → inf", lambda: sn.pow(0, -1), lambda: C(math.inf)),
    ("x + 1/3 + 2/3 → x + 1", lambda: x + F(1, 3) + F(2, 3), lambda: x + 1),
    ("(x/3)·3 → x", lambda: (x / 3) * 3, lambda: x),
    ("x/0.5 → 2.0x", lambda: x / 0.5, lambda: 2.0 * x),
    ("−(−x) → x", lambda: sn.neg(-x), lambda: x),
    ("x − (−y) → x + y", lambda: x - (-y), lambda: x + y),
    ("0 + x → x", lambda: 0 + x, lambda: x),
    ("1·x → x", lambda: 1 * x, lambda: x),
    ("x·1.0 → x", lambda: x * 1.0, lambda: x),
    ("(x+y)+(y+z) flattened", lambda: (x + y) + (y + z), lambda: sn.add(x, 2 * y, z)),
    ("x + 2(x+y) flattened", lambda: x + 2 * (x + y), lambda: 3 * x + 2 * y),
    ("(xy)(yz) flattened", lambda: (x * y) * (y * z), lambda: sn.mul(x, y**2, z)),
    ("(3x)(2y) → 6xy", lambda: (3 * x) * (2 * y), lambda: 6 * (x * y)),
    ("2(x+1) − 2x → 2", lambda: 2 * (x + 1) - 2 * x, lambda: C(2)),
    ("(x+y)(x+y) → (x+y)²", lambda: (x + y) * (x + y), lambda: (x + y) ** 2),
    ("(x+x)² → 4x²", lambda: (x + x) ** 2, lambda: 4 * x**2),
    ("x·x⁻¹ → 1 (documented)", lambda: x * x**-1, lambda: C(1)),
    ("(x⁻¹)⁻¹ → x", lambda: (x**-1) ** -1, lambda: x),
    ("True + x → x + 1", lambda: True + x, lambda: x + 1),
    ("ifelse(True, x, y) → x", lambda: sn.ifelse(True, x, y), lambda: x),
    ("ifelse(c, x, x) → x", lambda: sn.ifelse(x < y, x, x), lambda: x),
    ("sin(0) folds", lambda: sn.sin(0), lambda: C(0.0)),
    ("log(0) → -inf", lambda: sn.log(0), lambda: C(-math.inf)),
    ("x^(2/1) → x²", lambda: x ** F(2, 1), lambda: x**2),
]


@pytest.mark.parametrize("label, make, expected", CANONICAL, ids=[c[0] for c in CANONICAL])
def test_canonical_table(label, make, expected):
    assert make() is expected()


STAYS = [
    ("(x^0.5)² stays", lambda: (x**0.5) ** 2, "(x^0.5)^2"),
    ("x^0.5·x^0.5 stays", lambda: x**0.5 * x**0.5, "(x^0.5)^2"),
    ("(2x)^0.5 stays", lambda: (2 * x) ** 0.5, "(2*x)^0.5"),
    ("(x+1)² is not expanded", lambda: (x + 1) ** 2, "(x + 1)^2"),
    ("2(x+y) is not distributed", lambda: 2 * (x + y), "2*(x + y)"),
    ("x/3 has the exact coefficient 1/3", lambda: x / 3, "x/3"),
    ("inf·x·0 is nan·x", lambda: x * math.inf * 0, "nan*x"),
    ("(x + nan) − x → nan", lambda: (x + math.nan) - x, "nan"),
    ("(-8)^(1/3) → nan (real powers)", lambda: sn.pow(-8, F(1, 3)), "nan"),
]


@pytest.mark.parametrize("label, make, text", STAYS, ids=[c[0] for c in STAYS])
def test_forms_that_must_not_change(label, make, text):
    assert str(make()) == text


def test_exact_coefficients_and_representation():
    e = x / 3
    assert isinstance(e, Mul) and e.coeff == F(1, 3) and isinstance(e.coeff, F)
    s = 2 * x + 3 * y + 1
    assert isinstance(s, Add) and s.const == 1 and dict(s.terms) == {x: 2, y: 3}
    p = 3 * x**2 * y
    assert isinstance(p, Mul) and p.coeff == 3 and dict(p.bases) == {x: 2, y: 1}
    assert isinstance((x + 1) ** -2, Mul)


@pytest.mark.parametrize(
    "v, expected",
    [(2, 2), (2.0, 2), (F(4, 2), 2), (True, 1), (2.5, None), (F(1, 3), None),
     (math.inf, None), (math.nan, None)],
)
def test_integral(v, expected):
    assert integral(v) == expected


@pytest.mark.parametrize(
    "b, e, expected",
    [(2, 10, 1024), (3, -2, F(1, 9)), (F(2, 3), 2, F(4, 9)), (0, -1, math.inf),
     (4.0, 0.5, 2.0), (2, 0.5, math.sqrt(2))],
)
def test_num_pow(b, e, expected):
    r = num_pow(b, e)
    assert r == expected and type(r) is type(expected)


def test_num_pow_negative_base_fractional_exponent_is_real_nan():
    assert math.isnan(num_pow(-8, F(1, 3)))
    assert math.isnan(num_pow(-8.0, 0.5))


def test_tree_mode_keeps_everything_as_written():
    with sn.tree_mode():
        e = x + x
        f = 0 * x
        g = sn.add(1, 2)
    assert str(e) == "x + x" and str(f) == "0*x" and str(g) == "1 + 2"
    assert e is not x + x  # outside tree mode, canonical again
    assert sn.evaluate(f, {x: math.inf}) != sn.evaluate(0 * x, {x: math.inf})  # nan vs 0


# ---------------------------------------------------------------------------------------------
# properties


@given(expression_recipes(3, max_depth=4), points([x, y, z]))
def test_canonical_form_agrees_with_tree_mode(recipe, env):
    canonical = build(recipe, [x, y, z])
    tree = build(recipe, [x, y, z], mode="tree")
    assert_allclose_at(canonical, tree, env)


@given(expressions([x, y], ["add", "sub", "mul", "neg", "pow", "div", "sin"], max_depth=4),
       points([x, y]))
def test_expand_keeps_values(e, env):
    assert_allclose_at(sn.expand(e), e, env, rtol=1e-9, atol=1e-9)


@given(expressions([x, y], max_depth=3))
def test_expand_is_idempotent(e):
    once = sn.expand(e)
    assert sn.expand(once) is once


EXPAND = [
    (lambda: (x + y) ** 2, lambda: x**2 + 2 * x * y + y**2),
    (lambda: (x + 1) * (x - 1), lambda: x**2 - 1),
    (lambda: 2 * (x + y), lambda: 2 * x + 2 * y),
    (lambda: (1 + x) ** 3, lambda: 1 + 3 * x + 3 * x**2 + x**3),
    (lambda: sn.sin((x + 1) ** 2), lambda: sn.sin(x**2 + 2 * x + 1)),
    (lambda: (x + y) ** -1, lambda: (x + y) ** -1),
    (lambda: x * (y + sn.exp(x + x)), lambda: x * y + x * sn.exp(2 * x)),
]


@pytest.mark.parametrize("make, expected", EXPAND)
def test_expand_table(make, expected):
    assert sn.expand(make()) is expected()


def test_rebuilding_in_canonical_mode_is_a_no_op():
    e = sn.sin(x) ** 2 + 2 * x * y / 3 - sn.exp(-y)
    assert sn.substitute(e, {}) is e


def test_expand_refuses_results_beyond_its_size_limit_before_working():
    x, y = sn.symbols("x y")
    with pytest.raises(sn.SizeLimitError, match=r"1,000,001 monomials .*max_terms"):
        sn.expand((x + 1) ** 10**6)  # would never finish: refused at once
    with pytest.raises(sn.SizeLimitError, match="limit is 100"):
        sn.expand((x + y + 1) ** 20, max_terms=100)
    assert len(sn.expand((x + y + 1) ** 20).terms) == 230  # C(22, 2) - 1 monomials + constant
    with pytest.raises(sn.SizeLimitError, match="a product"):
        sn.expand((x + y + 2) ** 3 * (x - y + 3) ** 3, max_terms=50)
