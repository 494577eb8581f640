"""The machine-code front of compile's call path (backends.native_dispatch): same answers as
numpy for every argument kind it takes, the Python dispatcher for everything else, no leaked
or lost references."""

import gc
import sys

import numpy as np
import pytest
from symnum.backends import native_dispatch

import symnum as sn
from symnum.errors import ArgumentError

pytestmark = pytest.mark.skipif(native_dispatch._symbols() is None,
                                reason="no native dispatch on this interpreter")


def _f(x):
    return np.sin(x) * x + 1.0


@pytest.fixture(scope="module")
def cf():
    return sn.compile(_f)


@pytest.mark.parametrize("arg", [0.5, 3, np.float64(0.25), np.array(0.5), np.linspace(0, 1, 5),
                                 np.arange(6.0).reshape(2, 3)], ids=repr)
def test_native_matches_numpy(cf, arg):
    first = cf(arg)  # the slow path compiles and installs the front
    assert type(cf._call).__name__ == "builtin_function_or_method"
    again = cf(arg)
    np.testing.assert_allclose(again, _f(np.asarray(arg, dtype=float)), rtol=1e-15)
    assert type(again) is type(first) or isinstance(again, float)
    assert np.shape(again) == np.shape(first)


def test_tuple_outputs_and_several_arguments():
    g = sn.compile(lambda x, y: (np.sin(x) * y, x + y, np.stack([x, y])))
    slow = g(1.0, 2.0)
    fast = g(1.0, 2.0)
    for a, b in zip(slow, fast):
        assert type(a) is type(b)
        np.testing.assert_array_equal(a, b)
    assert type(fast[0]) is np.float64
    assert g(1.0, y=2.0)[1] == 3.0  # a keyword: the Python dispatcher
    v = np.arange(3.0)
    h = sn.compile(lambda a, s: (a * s, np.sum(a) * s))
    h(v, 2.0)
    out = h(v, 2.0)
    np.testing.assert_array_equal(out[0], v * 2.0)
    assert out[1] == 6.0


def test_arguments_it_does_not_take_fall_back(cf):
    x = np.linspace(0, 1, 8)
    cf(x)
    cf(x)
    strided = np.linspace(0, 1, 16)[::2]  # same shape, not contiguous
    np.testing.assert_allclose(cf(strided), _f(strided))
    swapped = x.astype(">f8")
    np.testing.assert_allclose(cf(swapped), _f(x))
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(cf(ro), _f(x))
    np.testing.assert_allclose(cf(x.astype(np.float32)), _f(x.astype(np.float32)), rtol=1e-6)
    with pytest.raises(ArgumentError):
        cf(None)
    with pytest.raises(ArgumentError):
        cf("1.5")
    with pytest.raises(TypeError):
        cf(x, x)  # too many: Python's own error from the dispatcher's signature
    assert cf(2**70) == pytest.approx(_f(float(2**70)))  # an int too large for a double path


def test_references_are_neither_leaked_nor_lost(cf):
    x = np.linspace(0, 1, 4)
    s = 0.75
    cf(x)
    cf(s)
    gc.collect()
    rx, rs = sys.getrefcount(x), sys.getrefcount(s)
    for _ in range(1000):
        r = cf(x)
        q = cf(s)
    assert sys.getrefcount(x) == rx and sys.getrefcount(s) == rs
    assert sys.getrefcount(r) == 2 and sys.getrefcount(q) == 2  # only `r`/`q` and the call's
    g = sn.compile(lambda a: (a * 2, np.sum(a)))
    g(x)
    t = g(x)
    assert sys.getrefcount(t[0]) == 3 and sys.getrefcount(t[1]) == 3  # tuple, index, call


def test_object_code_is_shared_across_functions():
    """The IR holds no addresses: two functions with the same signatures share one library."""
    a = sn.compile(lambda x: np.cos(x) * 3.0)
    b = sn.compile(lambda x: np.exp(x) - 1.0)
    a(0.5), b(0.5)
    a(0.5), b(0.5)
    libs = [v for k, v in native_dispatch._STATE.items() if k != "symbols"]
    n = len(libs)
    c = sn.compile(lambda x: np.tanh(x))
    c(0.5)
    assert len([k for k in native_dispatch._STATE if k != "symbols"]) == n
    assert c(0.5) == pytest.approx(np.tanh(0.5))


def test_methods_and_statics_use_the_python_dispatcher():
    class M:
        k = 2.0

        @sn.compile
        def f(self, x):
            return x * self.k

    m = M()
    assert m.f(1.5) == 3.0 and m.f(1.5) == 3.0


def test_raw_kernels_take_a_front_after_a_few_calls():
    x, y = sn.symbols("x y")
    f = sn.build_function(np.sin(x) * y + 1.0, x, y)
    want = np.sin(0.5) * 2.0 + 1.0
    for _ in range(4):
        assert f(0.5, 2.0) == pytest.approx(want, rel=1e-15)
    assert type(f._call).__name__ == "builtin_function_or_method"
    assert f(np.float64(0.5), 2) == pytest.approx(want, rel=1e-15)  # any real scalar
    assert f(np.array(0.5), 2.0) == pytest.approx(want, rel=1e-15)  # a 0-d array too
    np.testing.assert_allclose(f(np.array([0.5, 0.5]), 2.0), [want, want])  # batch: Python
    with pytest.raises(ArgumentError):
        f(None, 2.0)
    v = sn.symarray("v", 3) if hasattr(sn, "symarray") else np.array(sn.symbols("v0:3"))
    g, _ = sn.build_function(np.sin(v) * 2.0, *[v])
    a = np.linspace(0, 1, 3)
    for _ in range(4):
        np.testing.assert_allclose(g(a), np.sin(a) * 2.0, rtol=1e-15)
    np.testing.assert_allclose(g(np.linspace(0, 1, 5)[::2]), np.sin(a) * 2.0, rtol=1e-15)


def test_array_programs_take_the_front():
    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    cf = sn.compile(rosen, mode="array")
    x = np.linspace(-0.5, 1.5, 50)
    assert cf(x) == pytest.approx(rosen(x), rel=1e-13)
    assert type(cf._call).__name__ == "builtin_function_or_method"
    assert cf(x) == pytest.approx(rosen(x), rel=1e-13)
    assert cf(x[::-1].copy()) == pytest.approx(rosen(x[::-1]), rel=1e-13)
    assert cf(np.linspace(-0.5, 1.5, 99)[::2]) == pytest.approx(
        rosen(np.linspace(-0.5, 1.5, 99)[::2]), rel=1e-13)  # strided: the Python path
    m = sn.compile(lambda a: a.T @ a, mode="array")
    a = np.arange(6.0).reshape(3, 2)
    for _ in range(2):
        np.testing.assert_allclose(m(a), a.T @ a, rtol=1e-15)
    g = sn.compile(lambda v, s: (v * s, np.sum(v)), mode="array")  # the generated Python path
    for _ in range(2):
        out = g(np.ones(3), 2.0)
        np.testing.assert_array_equal(out[0], [2.0, 2.0, 2.0])
        assert out[1] == 3.0
    assert "return _sn_k0(v, s)" in g._py_call.source


def test_numba_backend_takes_the_front_through_a_cfunc():
    cf = sn.compile(_f, backend="numba")
    for arg in (0.5, np.linspace(0, 1, 4), np.array(0.25)):
        first = cf(arg)
        again = cf(arg)
        np.testing.assert_allclose(again, _f(np.asarray(arg, float)), rtol=1e-15)
        assert type(again) is type(first) or isinstance(again, float)
    assert type(cf._call).__name__ == "builtin_function_or_method"
    assert cf._last.backend == "numba" and cf._last.address  # the cfunc's entry
