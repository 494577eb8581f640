"""The call path of compiled functions (symnum.compile + backends.dispatch): the generated fast
dispatcher, argument binding (keywords, defaults, methods, statics) and typed errors for bad
arguments; the raw kernels' input checks."""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn
from symnum.errors import ArgumentError


def _f(x):
    return np.sin(x) * x + 1.0


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_fast_path_matches_numpy_for_arrays_scalars_and_0d(backend):
    cf = sn.compile(_f, backend=backend)
    x = np.array([0.1, 0.7, -2.0])
    np.testing.assert_allclose(cf(x), _f(x), rtol=1e-14)
    assert "if type(x) is _sn_ndarray" in cf._py_call.source  # the dispatcher knows (3,)
    np.testing.assert_allclose(cf(x), _f(x), rtol=1e-14)  # through the dispatcher
    assert cf(0.5) == pytest.approx(_f(0.5), rel=1e-14)
    assert cf(0.5) == pytest.approx(_f(0.5), rel=1e-14)
    assert cf(np.array(0.5)) == pytest.approx(_f(0.5), rel=1e-14)
    assert cf(np.array(0.5)) == pytest.approx(_f(0.5), rel=1e-14)
    assert len(cf._fast) == 3
    m = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(cf(m), _f(m), rtol=1e-14)  # 2-d, reshaped into the kernel
    np.testing.assert_allclose(cf(m), _f(m), rtol=1e-14)
    strided = np.linspace(0, 1, 6)[::2]  # not contiguous: the slow path copies
    np.testing.assert_allclose(cf(strided), _f(strided), rtol=1e-14)
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(cf(ro), _f(ro), rtol=1e-14)


def test_fast_path_tuple_outputs_and_several_arguments():
    @sn.compile
    def f(u, p, q):
        return u * p, np.sum(u) + q, u.reshape(2, 2) * q

    u = np.arange(4.0)
    for _ in range(2):
        a, b, c = f(u, 2.0, np.float64(3.0))
        np.testing.assert_allclose(a, u * 2.0)
        assert b == pytest.approx(9.0)
        np.testing.assert_allclose(c, u.reshape(2, 2) * 3.0)


@pytest.mark.parametrize("bad, what", [(None, "is None"), (1 + 2j, "complex"),
                                       (np.zeros(3, complex), "complex128")])
def test_bad_arguments_raise_typed_errors_naming_the_argument(bad, what):
    cf = sn.compile(_f)
    cf(np.zeros(3))
    with pytest.raises(ArgumentError, match=f"argument 'x' of _f .*{what}"):
        cf(bad)


def test_a_string_argument_that_breaks_the_trace_is_named():
    cf = sn.compile(_f)
    with pytest.raises(ArgumentError, match="argument 'x' of _f is a string"):
        cf("1.5")


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_raw_kernels_refuse_none_strings_and_complex(backend):
    x = sn.symbols("x")
    k = sn.build_function(3 * x, x, backend=backend)
    assert float(k(1.5)) == 4.5
    for bad in (None, "1.5", 1 + 2j, np.array(["a"])):
        with pytest.raises(ArgumentError, match="kernel input leaf 0"):
            k(bad)
    np.testing.assert_allclose(k([1.0, 2.0]), [3.0, 6.0])  # a list: a batch of numbers


def test_keywords_and_defaults():
    @sn.compile
    def f(x, p=2.0):
        return x * p + 1.0

    assert f(1.0) == 3.0
    assert f(1.0, 3.0) == 4.0
    assert f(x=1.0, p=4.0) == 5.0
    assert f(p=5.0, x=1.0) == 6.0
    assert f(1.0, p=7.0) == 8.0
    with pytest.raises(ArgumentError, match="missing a required argument: 'x'"):
        f(p=1.0)
    # once the dispatcher exists, arity mistakes are Python's own TypeError, named after f
    with pytest.raises(TypeError, match="f\\(\\) got an unexpected keyword argument 'q'"):
        f(1.0, q=1.0)
    with pytest.raises(TypeError, match="f\\(\\) takes from 0 to 2 positional"):
        f(1.0, 2.0, 3.0)


def test_arity_mistakes_before_any_kernel_are_typed_errors():
    cf = sn.compile(lambda x, p=2.0: x * p)
    with pytest.raises(ArgumentError, match="unexpected keyword argument 'q'"):
        cf(1.0, q=1.0)
    with pytest.raises(ArgumentError, match="too many positional"):
        cf(1.0, 2.0, 3.0)


def test_static_argnums_and_argnames_recompile_per_value():
    traces = []

    def f(x, n, mode="sum"):
        traces.append((n, mode))
        y = x ** n
        return np.sum(y) if mode == "sum" else np.prod(y)

    cf = sn.compile(f, static_argnums=1, static_argnames="mode")
    x = np.array([1.0, 2.0, 3.0])
    assert cf(x, 2) == pytest.approx(14.0)
    assert cf(x, 2) == pytest.approx(14.0)
    assert cf(x, 3) == pytest.approx(36.0)
    assert cf(x, 2, mode="prod") == pytest.approx(36.0)
    assert cf(x, n=3, mode="prod") == pytest.approx(216.0)
    assert len(traces) == 4
    assert all(len(e.specs) == 3 for e in cf._fast)
    assert "== _sn_s" in cf._py_call.source  # statics tested by value on the fast path
    with pytest.raises(ArgumentError, match="must be hashable"):
        cf(x, [2])
    with pytest.raises(ArgumentError, match="has no parameter 'nope'"):
        sn.compile(f, static_argnames="nope")


def test_compile_works_on_methods():
    class Model:
        def __init__(self, k):
            self.k = k

        @sn.compile
        def rhs(self, u):
            return -self.k * u

    a, b = Model(2.0), Model(3.0)
    u = np.array([1.0, 2.0])
    for _ in range(2):
        np.testing.assert_allclose(a.rhs(u), -2.0 * u)
        np.testing.assert_allclose(b.rhs(u), -3.0 * u)
    assert Model.rhs is Model.__dict__["rhs"]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_scalar_functions_take_the_stack_only_entry(n):
    f = sn.compile(lambda *a: np.sin(sum(a)) * 2.0) if n != 1 else sn.compile(
        lambda a: np.sin(a) * 2.0)
    args = [0.1 * (i + 1) for i in range(n)]
    for _ in range(2):
        assert f(*args) == pytest.approx(np.sin(sum(args)) * 2.0, rel=1e-15)
    if n == 1:  # the machine-code front takes it; else numba's stack-only entry
        from symnum.backends import native_dispatch

        if native_dispatch._symbols() is not None:
            assert type(f._call).__name__ == "builtin_function_or_method"
        else:
            assert "_sn_e0(" in f._py_call.source


def test_transforms_take_the_fast_path():
    g = sn.compile(sn.grad(lambda v: np.sum(v ** 2)))
    v = np.array([1.0, 2.0])
    for _ in range(2):
        np.testing.assert_allclose(g(v), 2 * v)
    assert len(g._fast) == 1


def test_pytree_arguments_still_work_through_the_slow_path():
    cf = sn.compile(lambda d: d["a"] * d["b"])
    for _ in range(2):
        assert cf({"a": 2.0, "b": 3.0}) == 6.0


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_dtypes_follow_numpy_promotion(backend):
    cf = sn.compile(lambda x, p: np.sin(x) * p, backend=backend)
    cases = [(np.linspace(0, 1, 3, dtype=np.float32), 2.0),  # Python scalars are weak
             (np.arange(3), 2.0),  # int64 → float64
             (np.arange(3, dtype=np.int16), 2.0),  # int16 → float32, as np.sin does
             (np.linspace(0, 1, 3, dtype=np.float32), np.float64(2.0)),  # strong scalar
             (np.linspace(0, 1, 3, dtype=np.float32), np.ones(3)),  # mixed arrays
             (np.float32(0.5), np.float32(2.0))]
    for x, p in cases:
        want = np.sin(x) * p
        for _ in range(2):  # the slow path, then the dispatcher
            got = cf(x, p)
            assert np.asarray(got).dtype == want.dtype, (x, p)
            # numpy rounds sin(float32) to float32 before widening; the kernel computes all
            # of it in the promoted dtype
            tol = 1e-6 if np.float32 in (np.asarray(x).dtype, np.asarray(p).dtype) or \
                want.dtype == np.float32 else 1e-14
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_dtype_option_forces_the_kernel_dtype():
    cf = sn.compile(lambda x: x * 2.0, dtype="float32")
    assert cf(np.ones(2)).dtype == np.float32


def test_trace_takes_keyword_examples():
    def f(x, p=2.0, q=3.0):
        return x * p + q

    fn = sn.trace(f, 1.0, q=5.0)  # p takes its default, traced as a symbol
    assert fn.names == ("x", "p", "q")
    assert float(fn(1.0, 2.0, 5.0)) == 7.0
    fn = sn.trace(f, p=4.0, x=1.0)
    assert fn.names == ("x", "p") and float(fn(1.0, 4.0)) == 7.0
    with pytest.raises(sn.errors.ShapeError, match="no example for parameter 'x'"):
        sn.trace(lambda x, p: x, p=1.0)


def test_pytree_arguments_take_the_fast_path():
    f = sn.compile(lambda p, x: (p["a"] * np.sin(x) + p["b"], [p["b"] * 2]))
    x = np.linspace(0, 1, 4)
    p = {"a": 2.0, "b": np.float64(1.5)}
    want = (2.0 * np.sin(x) + 1.5, [3.0])
    for _ in range(2):
        got = f(p, x)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-15)
        assert got[1] == want[1]
    src = f._py_call.source
    assert "type(p) is dict" in src and "p['a']" in src  # recognised without the slow path
    # another structure (a missing key, an extra one, a list for a tuple) is not mistaken
    with pytest.raises(KeyError):  # the function's own error, as when it is called uncompiled
        f({"a": 2.0}, x)
    got = f({"a": 1.0, "b": 0.5, "c": 9.0}, x)
    np.testing.assert_allclose(got[0], np.sin(x) + 0.5, rtol=1e-15)
    g = sn.compile(lambda t: t[0] * t[1])
    assert g((2.0, 3.0)) == 6.0 and g((2.0, 3.0)) == 6.0 and g([2.0, 4.0]) == 8.0
