"""Term types: hash-consing (equal ⇒ identical), constants interned by dtype and bit pattern,
weak interning, immutability, and the errors Python's protocols raise on symbolic values."""

from __future__ import annotations

import gc
import math
import pickle
import weakref
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

import symnum as sn
from symnum.core.terms import live_terms
from symnum.testing import build, expression_recipes

x, y = sn.Sym("x"), sn.Sym("y")

# ---------------------------------------------------------------------------------------------
# constants

SAME_CONST = [
    (lambda: sn.Const(2), lambda: sn.Const(2)),
    (lambda: sn.Const(2), lambda: sn.Const(np.int64(2))),
    (lambda: sn.Const(2.5), lambda: sn.Const(np.float64(2.5))),
    (lambda: sn.Const(math.nan), lambda: sn.Const(float("nan"))),
    (lambda: sn.Const(Fraction(1, 3)), lambda: sn.Const(Fraction(2, 6))),
    (lambda: sn.Const(Fraction(4, 2)), lambda: sn.Const(2)),  # an integral Fraction is an int
    (lambda: sn.Const(True), lambda: sn.Const(np.bool_(True))),
    (lambda: sn.Const(np.float32(0.5)), lambda: sn.Const(np.float32(0.5))),
]
DIFFERENT_CONST = [
    (lambda: sn.Const(0.0), lambda: sn.Const(-0.0)),
    (lambda: sn.Const(2), lambda: sn.Const(2.0)),
    (lambda: sn.Const(1), lambda: sn.Const(True)),
    (lambda: sn.Const(0.5), lambda: sn.Const(np.float32(0.5))),
    (lambda: sn.Const(Fraction(1, 2)), lambda: sn.Const(0.5)),
    (lambda: sn.Const(math.inf), lambda: sn.Const(-math.inf)),
]


@pytest.mark.parametrize("a, b", SAME_CONST)
def test_equal_constants_are_identical(a, b):
    assert a() is b()
    assert hash(a()) == hash(b())


@pytest.mark.parametrize("a, b", DIFFERENT_CONST)
def test_constants_differ_by_dtype_and_bits(a, b):
    assert a() is not b()
    assert len({a(), b()}) == 2  # distinct dict keys (`==` compares values: Fraction(1, 2) == 0.5)


@pytest.mark.parametrize(
    "value, dtype",
    [(2, "int64"), (2.0, "float64"), (Fraction(1, 3), "float64"), (True, "bool"),
     (np.float32(1.5), "float32"), (np.int32(3), "int64")],
)
def test_const_dtype(value, dtype):
    assert sn.Const(value).dtype == dtype


def test_const_rejects_non_numbers():
    with pytest.raises(TypeError, match="Const needs a number"):
        sn.Const("2")
    assert sn.Const(sn.Const(3)) is sn.Const(3)


def test_nan_constant_is_usable():
    c = sn.Const(math.nan)
    e = x + c
    assert e is x + math.nan
    assert math.isnan(float(sn.evaluate(e, {x: 1.0})))


# ---------------------------------------------------------------------------------------------
# symbols and calls


def test_symbols_intern_by_name_and_metadata():
    assert sn.Sym("x") is x
    assert sn.Sym("x", "float32") is not x
    assert sn.Sym("x", units="m") is sn.Sym("x", units="m")
    assert sn.Sym("x", units="m") is not sn.Sym("x", units="s")
    assert sn.Sym("x", "float32").dtype == "float32"
    assert sn.Sym("any string, even with spaces").name == "any string, even with spaces"
    assert x.meta["shape"] == ()
    with pytest.raises(TypeError, match="must be a str"):
        sn.Sym(3)


def test_structurally_equal_terms_are_identical():
    assert sn.sin(x + 1) is sn.sin(1 + x)
    assert x * y + 2 is 2 + y * x
    with sn.tree_mode():
        a = x + y
        b = x + y
        c = y + x
    assert a is b and a is not c  # tree mode keeps the order as written


@given(expression_recipes(2, max_depth=3))
def test_building_twice_gives_the_same_object(recipe):
    for mode in ("canonical", "tree"):
        assert build(recipe, [x, y], mode) is build(recipe, [x, y], mode)


def test_terms_are_freed_when_unreferenced():
    s = sn.Sym("only_in_this_test")
    before = live_terms()
    e = sn.exp(sn.sin(s) * 3.25 + 1)
    ref = weakref.ref(e)
    assert live_terms() > before
    del e
    gc.collect()
    assert ref() is None
    assert live_terms() <= before
    # rebuilding makes a fresh, equal term
    assert str(sn.exp(sn.sin(s) * 3.25 + 1)) == "exp(3.25*sin(only_in_this_test) + 1)"


def test_terms_are_immutable():
    e = x + 1
    with pytest.raises(AttributeError, match="immutable"):
        e.const = 3
    with pytest.raises(AttributeError, match="immutable"):
        x.name = "z"
    with pytest.raises(TypeError):
        e.terms[x] = 5  # a read-only view


def test_equality_builds_comparisons_and_terms_stay_hashable():
    d = {x + 1: "a", sn.sin(x): "b"}
    assert d[1 + x] == "a" and d[sn.sin(x)] == "b"
    assert (x + 1) is (1 + x)  # structural identity is `is`
    e, n = x == y, x != y
    assert e.op.name == "eq" and n.op.name == "ne"  # symbolic, as numpy's == is
    assert bool(x == x) and not bool(x != x)  # identical terms: structural truth
    with pytest.raises(sn.TracingError, match="sn.ifelse"):
        bool(x == y)  # unknown until evaluated: never a silent False
    assert (sn.Const(2) == 2) is sn.Const(True) and (sn.Const(2) != 3) is sn.Const(True)
    assert (x == "x") is False and (x != None) is True  # noqa: E711  (not numbers: plain Python)
    assert float(sn.evaluate(x == x, {x: float("nan")})) == 0.0  # numpy's NaN != NaN


def test_hash_collisions_never_call_eq():
    # hash(-1) == hash(-2) in CPython: keys built from them collided before terms got serials
    with sn.tree_mode():
        a, b = sn.sin(sn.Const(-1)), sn.sin(sn.Const(-2))
        p, q = x ** -1, x ** -2
    s = {a, b, p, q, sn.Const(-1), sn.Const(-2)}
    assert len(s) == 6 and a in s and q in s
    assert len({hash(t) for t in s}) == 6


@pytest.mark.parametrize("backend", ["numpy", "llvm", "numba"])
def test_where_on_scalar_equality_is_numpys(backend):
    # issue 13 item 1: np.where(a == b, 1, 2) at a == b gave 2.0 (a Python False was traced)
    def f(a, b):
        return np.where(a == b, 1.0, 2.0) + np.where(a != b, 10.0, 20.0)

    fn = sn.trace(f, 0.0, 0.0)
    for args in [(1.0, 1.0), (1.0, 2.0), (np.nan, np.nan), (-0.0, 0.0)]:
        want = f(*args)
        assert float(fn(*args)) == want
        assert float(sn.compile(f, backend=backend)(*args)) == want


def test_terms_pickle_by_graph_and_come_back_interned():
    e = sn.sin(x + 1) * (x + 1) ** 2  # a shared subterm
    assert pickle.loads(pickle.dumps(e)) is e
    deep = x
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = sn.exp(deep)
    assert pickle.loads(pickle.dumps(deep)) is deep


# ---------------------------------------------------------------------------------------------
# Python protocols on symbolic values


@pytest.mark.parametrize("convert", [bool, float, int, complex])
def test_concrete_conversions_raise_tracing_errors(convert):
    with pytest.raises(sn.TracingError) as info:
        convert(x + 1)
    assert "ifelse" in str(info.value) or "where" in str(info.value)


def test_floor_division_and_modulo_are_numpys():
    vals = np.array([-7.5, -2.0, -0.0, 0.0, 0.3, 2.0, 7.5, np.inf, np.nan])
    X, Y = np.meshgrid(vals, vals)
    with np.errstate(all="ignore"):
        for e, want in [(x // y, X // Y), (x % y, X % Y), (7.5 % y, 7.5 % Y),
                        (7.5 // y, 7.5 // Y)]:
            got = np.asarray(sn.evaluate(e, {x: X, y: Y}), float) * np.ones_like(X)
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_unsupported_operators_name_themselves():
    with pytest.raises(sn.TracingError, match="not iterable"):
        list(x)
    with pytest.raises(sn.UnsupportedOperationError, match="str"):
        x + "a"


def test_operators_build_the_primitives():
    assert (x - y) is sn.sub(x, y)
    assert (2 - x) is sn.sub(2, x)
    assert (x / 2) is sn.div(x, 2)
    assert (2 / x) is sn.div(2, x)
    assert (2**x) is sn.pow(2, x)
    assert (-x) is sn.neg(x)
    assert (+x) is x
    assert abs(x) is sn.abs(x)
    assert (x < y) is sn.lt(x, y) and (x >= y) is sn.ge(x, y)
    assert ((x < y) & (y < 1)) is sn.logical_and(x < y, y < 1)
    assert (~(x < y)) is sn.logical_not(x < y)


@pytest.mark.parametrize(
    "make, dtype",
    [(lambda: x + 1, "float64"), (lambda: x < 1, "bool"),
     (lambda: sn.Sym("f", "float32") * 2, "float32"),
     (lambda: sn.Sym("f", "float32") * x, "float64"),
     (lambda: sn.ifelse(x < 1, x, 2), "float64")],
)
def test_result_dtype(make, dtype):
    assert make().dtype == dtype
