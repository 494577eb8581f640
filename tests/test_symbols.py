"""symbols() parsing and symarray(): names, dtypes, shapes, interning and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import symnum as sn
from symnum.tracing.protocols import SymArray

PARSE = [
    ("x", "x"),
    ("x y z", ("x", "y", "z")),
    ("  x\ty\n z ", ("x", "y", "z")),
    ("x, y", ("x", "y")),
    ("x,y,z", ("x", "y", "z")),
    ("x,", ("x",)),
    ("flow rate, α β", ("flow", "rate", "α", "β")),  # as SymPy: a list keeps spaces in names
    ("u[0]", "u[0]"),
    (["any string", "α β"], ("any string", "α β")),
    (("x y",), ("x y",)),
    ([], ()),
    (["x"], ("x",)),
]


@pytest.mark.parametrize("spec, expected", PARSE)
def test_symbols_parsing(spec, expected):
    got = sn.symbols(spec)
    if isinstance(expected, str):
        assert isinstance(got, sn.Sym) and got.name == expected
    else:
        assert isinstance(got, tuple) and [s.name for s in got] == list(expected)


def test_symbols_dtype_meta_and_interning():
    x = sn.symbols("x")
    assert sn.symbols("x") is x and x.dtype == "float64"
    n, m = sn.symbols("n m", dtype="int64")
    assert n.dtype == "int64" and n is not sn.symbols("n")
    assert sn.symbols("b", dtype=bool).dtype == "bool"
    (k,) = sn.symbols(["k"], dtype="float32", unit="m")
    assert k.meta["unit"] == "m" and k.dtype == "float32"


@pytest.mark.parametrize("spec, exc, match", [
    ("", ValueError, "names no symbol"),
    ("   ", ValueError, "names no symbol"),
    ("x,,y", ValueError, "empty name"),
    (3, TypeError, "string or a list of strings"),
    (["x", 1], TypeError, "element of type int"),
])
def test_symbols_errors(spec, exc, match):
    with pytest.raises(exc, match=match):
        sn.symbols(spec)


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5, unique=True))
def test_any_string_is_a_name(names):
    syms = sn.symbols(names)
    assert [s.name for s in syms] == names
    assert sn.evaluate(sum(syms), {s: 1.0 for s in syms}) == len(names)


@pytest.mark.parametrize("shape, first, last", [
    (3, "u[0]", "u[2]"),
    ((2, 3), "u[0,0]", "u[1,2]"),
    ((1, 2, 2), "u[0,0,0]", "u[0,1,1]"),
    ((), "u", "u"),
])
def test_symarray_names(shape, first, last):
    u = sn.symarray("u", shape)
    assert isinstance(u, SymArray) and u.dtype == object
    assert u.shape == ((shape,) if isinstance(shape, int) else shape)
    flat = u.ravel()
    assert flat[0].name == first and flat[-1].name == last
    assert len({id(s) for s in flat}) == u.size


def test_symarray_dtype_and_errors():
    b = sn.symarray("b", (2,), dtype="bool")
    assert {s.dtype for s in b} == {"bool"}
    assert sn.symarray("u", np.int64(2)).shape == (2,)
    assert sn.symarray("e", 0).shape == (0,)
    assert sn.symarray("u", (2,))[1] is sn.Sym("u[1]")
    with pytest.raises(ValueError, match="non-negative"):
        sn.symarray("u", (-1,))
    with pytest.raises(TypeError, match="str name"):
        sn.symarray(3, 2)


def test_names_split_on_commas_and_spaces_like_sympy():
    a, b, c = sn.symbols("a,b c")  # issue 13: gave (a, "b c")
    assert [s.name for s in (a, b, c)] == ["a", "b", "c"]
    assert [s.name for s in sn.symbols(" p ,  q r,s ")] == ["p", "q", "r", "s"]
    assert [s.name for s in sn.symbols("x y,")] == ["x", "y"]
    with pytest.raises(ValueError, match="empty name"):
        sn.symbols("a,,b")


def test_positive_is_honoured_by_simplify_and_sympy():
    x = sn.symbols("x", positive=True)
    plain = sn.symbols("x")
    assert x is not plain and x.meta["positive"] is True
    assert sn.simplify(sn.sqrt(x**2)) is x
    assert sn.simplify(abs(x)) is x
    assert sn.simplify(sn.sqrt(plain**2)) is abs(plain)  # no assumption: |x|
    assert sn.to_sympy(x).is_positive
    u = sn.symarray("u", 2, nonnegative=True)
    assert sn.simplify(abs(u[0])) is u[0]
    assert sn.symbols("r", real=True) is sn.symbols("r")  # real=True says nothing new


@pytest.mark.parametrize("kw, err", [
    ({"complex": True}, sn.DTypeError), ({"imaginary": True}, sn.DTypeError),
    ({"integer": True}, sn.UnsupportedOperationError),
    ({"positive": False}, sn.UnsupportedOperationError),
    ({"negative": True}, sn.UnsupportedOperationError),
])
def test_assumptions_symnum_cannot_honour_are_refused(kw, err):
    with pytest.raises(err, match=next(iter(kw))):
        sn.symbols("z", **kw)
    with pytest.raises(err):
        sn.symarray("z", 2, **kw)


def test_user_metadata_still_passes_through():
    assert sn.symbols("L", units="m").meta["units"] == "m"
