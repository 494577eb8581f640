"""The compile pipeline (symnum/compile.py): sn.compile, build_function, sn.vectorize, and the
compiled function transforms (sn.grad & co. through CompiledFunction).

Pipeline behaviour is tested on the "numpy" reference backend (instant to "compile"); numba is
used only where machine code is the point: concurrent first calls, sparse values, elementwise
kernels (three compiles in all, into a per-session temporary cache directory).
"""

from __future__ import annotations

import importlib
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.backends import available_backends

import symnum as sn
from symnum.autodiff.sparsity import SparseJacobian
from symnum.built import SparseFunction
from symnum.errors import CompileError

C = importlib.import_module("symnum.compile")  # `sn.compile` is the function, not the module

SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.7, -1.3]



class Counted:
    """A numpy-style function that counts how often it is traced (called on symbols)."""

    def __init__(self, f, delay: float = 0.0):
        self.f, self.delay, self.traces = f, delay, 0
        self._lock = threading.Lock()
        self.__name__ = "counted"

    def __call__(self, *args):
        with self._lock:
            self.traces += 1
        time.sleep(self.delay)  # widens the window in which a second trace could start
        return self.f(*args)


def _rhs(u, p):
    return p * u**2 - np.roll(u, 1) + np.sin(u)


# ---------------------------------------------------------------------------------------------
# sn.compile: one trace per signature


def test_same_signature_reuses_new_signature_retraces():
    f = Counted(_rhs)
    cf = sn.compile(f, backend="numpy")
    u = np.array([0.1, 0.2, 0.3])
    calls = [  # arguments ⇒ traces so far
        ((u, 2.0), 1),
        ((u + 1, 3.0), 1),  # same shapes and dtypes: new values only
        ((u, np.float64(2.0)), 1),  # a numpy float64 scalar is a float64 scalar
        ((np.zeros(4), 2.0), 2),  # new shape
        ((u.astype(np.float32), 2.0), 3),  # new dtype
        ((u, np.float32(2.0)), 4),
        ((u, 2), 5),  # an int is another dtype
        ((np.zeros(4), 1.0), 5),  # cached per signature, not just the last one
        ((u, 5.0), 5),
    ]
    for args, traces in calls:
        got = cf(*args)
        np.testing.assert_allclose(got, _rhs(*args), rtol=1e-6)
        assert f.traces == traces, args


def test_pytree_structure_and_static_values_are_part_of_the_signature():
    f = Counted(lambda d, mode: d["a"] * 2 if mode == "double" else d["a"] + d["b"])
    cf = sn.compile(f, backend="numpy")
    assert float(cf({"a": 1.5, "b": 1.0}, "double")) == 3.0
    assert float(cf({"a": 1.5, "b": 1.0}, "sum")) == 2.5  # another static value: retrace
    assert float(cf({"a": 0.5, "b": 1.0}, "double")) == 1.0
    assert f.traces == 2
    assert float(cf({"a": 1.5, "b": 1.0, "c": 0.0}, "sum")) == 2.5  # another structure
    assert f.traces == 3


def test_source_fn_and_lower():
    cf = sn.compile(_rhs, backend="numpy")
    with pytest.raises(CompileError, match="nothing compiled yet"):
        _ = cf.source
    with pytest.raises(CompileError, match="call the function"):
        _ = cf.fn
    u = np.array([0.5, -0.5])
    low = cf.lower(u, 1.0)
    assert cf.lower(u, 1.0) is low  # cached, not rebuilt
    assert isinstance(cf.fn, sn.Fn) and cf.fn is low.fn
    assert len(cf.fn.flat_inputs) == 3 and cf.fn.out_shapes == [(2,)]
    np.testing.assert_allclose(low(u, 1.0), _rhs(u, 1.0), rtol=1e-14)
    assert isinstance(cf.source, str)


def test_decorator_forms_keep_the_function_identity():
    @sn.compile
    def plain(x):
        """doc of plain"""
        return x + 1

    @sn.compile(backend="numpy")
    def configured(x):
        return x * 2

    assert plain.__name__ == "plain" and plain.__doc__ == "doc of plain"
    assert plain.__wrapped__(1.0) == 2.0
    assert "auto" in repr(plain) and "numpy" in repr(configured)
    assert float(configured(3.0)) == 6.0
    with pytest.raises(TypeError, match="callable"):
        sn.compile(42)


def test_simplify_option_runs_before_lowering():
    def f(x):
        return np.sin(x) ** 2 + np.cos(x) ** 2 + x

    plain = sn.compile(f, backend="numpy")
    simple = sn.compile(f, backend="numpy", simplify="rules")
    assert float(simple(0.3)) == pytest.approx(float(plain(0.3)), rel=1e-14)
    assert simple.fn.count_ops() < plain.fn.count_ops()


def test_concurrent_first_calls_compile_once_and_agree(cache_dir):
    f = Counted(_rhs, delay=0.05)
    cf = sn.compile(f, backend="numba", cache_dir=cache_dir)
    u = np.linspace(-1, 1, 5)
    n = 8
    start = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def worker(i):
        try:
            start.wait()
            results[i] = cf(u, 0.5 + i)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert f.traces == 1
    for i, r in enumerate(results):
        np.testing.assert_allclose(r, _rhs(u, 0.5 + i), rtol=1e-14)
    assert "def kernel(x, out):" in cf.source and cf.lower(u, 1.0).backend == "numba"


def test_concurrent_calls_of_two_signatures_trace_each_once():
    f = Counted(_rhs, delay=0.02)
    cf = sn.compile(f, backend="numpy")
    start = threading.Barrier(6)
    args = [(np.zeros(3 + i % 2), 1.0) for i in range(6)]

    def worker(a):
        start.wait()
        cf(*a)

    threads = [threading.Thread(target=worker, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert f.traces == 2


# ---------------------------------------------------------------------------------------------
# compiled function transforms


def _loss(v):
    return np.sum(v**2) * np.sin(v[0])


def _loss_grad(v):
    s, q = np.sin(v[0]), np.sum(v**2)
    g = 2 * v * s
    g[0] += q * np.cos(v[0])
    return g


def test_grad_runs_compiled_and_matches_the_analytic_gradient():
    g = sn.grad(_loss)
    v = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(g(v), _loss_grad(v), rtol=1e-12)
    assert isinstance(g._compiled, C.CompiledFunction)
    cg = sn.compile(sn.grad(_loss), backend="numpy")  # the transformed Fn, lowered by name
    np.testing.assert_allclose(cg(v), _loss_grad(v), rtol=1e-12)
    assert len(cg.fn.flat_outputs) == 3


def test_concurrent_first_calls_of_a_transform_lower_once(monkeypatch):
    import symnum.lowering as L  # where compile's lowering lives

    lowered = []
    real = L.lower

    def counting_lower(fn, backend="auto", **options):
        lowered.append(fn)
        time.sleep(0.05)
        return real(fn, "numpy")

    class SlowToBuild(C.CompiledFunction):  # widens the window between check and assignment
        def __init__(self, *args, **kwargs):
            time.sleep(0.05)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(L, "lower", counting_lower)
    monkeypatch.setattr(C, "CompiledFunction", SlowToBuild)
    g = sn.grad(_loss)
    v = np.array([0.3, -1.2, 2.0])
    start = threading.Barrier(6)
    out: list = []

    def worker():
        start.wait()
        out.append(g(v))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 6 and len(lowered) == 1
    for r in out:
        np.testing.assert_allclose(r, _loss_grad(v), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# build_function


def test_build_function_scalar_output_is_one_function():
    x, y = sn.symbols("x y")
    f = sn.build_function(sn.exp(x) * y + 1, x, y, backend="numpy")
    assert not isinstance(f, tuple)
    assert float(f(0.0, 3.0)) == 4.0


def test_build_function_array_output_in_place_equals_out_of_place():
    u, p = sn.symarray("u", (2, 3)), sn.Sym("p")
    out = np.sin(u) * p + u[::-1] ** 2
    oop, iip = sn.build_function(out, u, p, backend="numpy")
    args = (np.arange(6.0).reshape(2, 3) / 7, 1.5)
    want = oop(*args)
    assert want.shape == (2, 3)
    for buf in (np.zeros((2, 3)), np.zeros((3, 2)).T, np.zeros((2, 3), np.float32)):
        assert iip(buf, *args) is buf  # contiguous, transposed view, other dtype
        np.testing.assert_allclose(buf, want, rtol=1e-6 if buf.dtype == np.float32 else 0)


def _chain(u):
    n = len(u)
    return np.array([u[i - 1] - 2 * u[i] + u[(i + 1) % n] + u[i] ** 2 * u[(i + 2) % n]
                     for i in range(n)], dtype=object)


@pytest.fixture(scope="module")
def sparse_problem():
    u = sn.symarray("u", 7)
    J = sn.sparse_jacobian(_chain(u), u)
    return u, J


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_build_function_sparse_jacobian_matches_to_scipy(sparse_problem, backend, cache_dir):
    u, J = sparse_problem
    opts = {"cache_dir": cache_dir} if backend == "numba" else {}
    sf = sn.build_function(J, u, backend=backend, **opts)
    assert isinstance(sf, SparseFunction)
    assert (sf.rows == J.rows).all() and (sf.cols == J.cols).all() and sf.shape == (7, 7)
    rng = np.random.default_rng(5)
    for _ in range(3):
        u0 = rng.uniform(-1, 1, 7)
        env = dict(zip(u, u0))
        np.testing.assert_allclose(sf(u0), J.evaluate(env), rtol=1e-14)
        got, want = sf.csr(u0), J.to_scipy(env)
        assert got.format == "csr" and got.has_sorted_indices
        np.testing.assert_allclose(got.toarray(), want.toarray(), rtol=1e-14)
        assert (got.indptr == want.indptr).all() and (got.indices == want.indices).all()


def test_sparse_function_reorders_entries_into_csr(sparse_problem):
    u, J = sparse_problem
    perm = np.random.default_rng(6).permutation(J.nnz)
    shuffled = SparseJacobian(J.rows[perm], J.cols[perm], [J.values[k] for k in perm], J.shape)
    sf = sn.build_function(shuffled, u, backend="numpy")
    u0 = np.linspace(-0.5, 0.9, 7)
    env = dict(zip(u, u0))
    np.testing.assert_allclose(sf(u0), J.evaluate(env)[perm], rtol=1e-14)
    np.testing.assert_allclose(sf.csr(u0).toarray(), J.to_scipy(env).toarray(), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# backends by name


@pytest.mark.parametrize("make", [
    lambda: sn.compile(lambda x: x + 1, backend="no_such_backend")(1.0),
    lambda: sn.build_function(sn.Sym("x") + 1, sn.Sym("x"), backend="no_such_backend"),
    lambda: sn.vectorize(lambda x: x + 1, backend="no_such_backend"),
])
def test_unknown_backend_lists_the_available_ones(make):
    with pytest.raises(CompileError, match="unknown backend 'no_such_backend'") as info:
        make()
    for name in ("numba", "numpy"):
        assert name in str(info.value)


def test_close_backend_name_gets_a_suggestion():
    with pytest.raises(CompileError, match="did you mean 'numba'"):
        sn.compile(lambda x: x, backend="numbaa")(1.0)


def test_resolve_backend(monkeypatch):
    fn = sn.trace(lambda x: x, 1.0)
    assert C.resolve_backend("numba", fn) == "numba"
    assert C.resolve_backend("auto", fn) in available_backends()
    from symnum import backends

    monkeypatch.setattr(backends, "available_backends", lambda: ["numba", "numpy"])
    assert C.resolve_backend("auto", fn) == "numpy"
    monkeypatch.setattr(backends, "available_backends", lambda: ["llvm", "numba", "numpy"])
    assert C.resolve_backend("auto", fn) == "llvm"


def test_lower_needs_an_fn():
    with pytest.raises(CompileError, match="takes an Fn"):
        C.lower(lambda x: x, "numpy")


# ---------------------------------------------------------------------------------------------
# sn.vectorize: elementwise kernels with numpy's broadcasting and dtype rules


def _ew(a, b):
    return np.exp(-a * a) * b + np.sqrt(np.abs(a)), a / b


@pytest.fixture(scope="module")
def elementwise(cache_dir):
    return sn.vectorize(_ew, backend="numba", cache_dir=cache_dir)


SHAPES = [((3, 1), (4,), (3, 4)), ((), (5,), (5,)), ((2, 3), (), (2, 3)),
          ((0,), (1,), (0,)), ((2, 1, 3), (4, 1), (2, 4, 3))]


@pytest.mark.parametrize(("sa", "sb", "want"), SHAPES)
def test_elementwise_broadcasting(elementwise, sa, sb, want):
    rng = np.random.default_rng(4)
    a, b = rng.uniform(-2, 2, sa), rng.uniform(0.5, 2, sb)
    got = elementwise(a, b)
    assert isinstance(got, tuple) and len(got) == 2
    for g, w in zip(got, _ew(a, b)):
        assert np.shape(g) == want == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-14)


F32 = np.array([0.5, -1.5, 2.0], np.float32)
F64 = np.array([0.5, -1.5, 2.0])
I64 = np.array([1, -2, 3])
DTYPES = [  # (a, b) ⇒ result dtype, by numpy's ufunc rules (NEP 50: Python scalars are weak)
    (F32, F32, np.float32), (F32, 2.0, np.float32), (F32, 3, np.float32),
    (2.0, F32, np.float32), (np.float32(0.5), np.float32(2), np.float32),
    (F32, F64, np.float64), (F32, np.float64(2.0), np.float64), (F64, np.float32(2), np.float64),
    (I64, I64, np.float64), (I64, F32, np.float64), (I64, 2.0, np.float64),
    (0.5, 2.0, np.float64), (1, 2, np.float64), (True, 2.0, np.float64),
]


@pytest.mark.parametrize(("a", "b", "dtype"), DTYPES)
def test_elementwise_dtype_rules(elementwise, a, b, dtype):
    got = elementwise(a, b)
    want = _ew(np.asarray(a, dtype), np.asarray(b, dtype))  # numpy, computing in that dtype
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == dtype
        np.testing.assert_allclose(g, w, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_nan_inf_like_numpy(elementwise, dtype):
    vals = np.array(SPECIALS, dtype)
    a, b = np.meshgrid(vals, vals)
    with np.errstate(all="ignore"):
        want = _ew(a, b)
        got = elementwise(a, b)
    for g, w in zip(got, want):
        assert g.dtype == dtype
        assert np.array_equal(np.isnan(g), np.isnan(w))
        inf = np.isinf(w) | np.isinf(g)
        assert np.array_equal(g[inf], w[inf])
        ok = ~inf & ~np.isnan(w)
        np.testing.assert_allclose(g[ok], w[ok], rtol=1e-5 if dtype == np.float32 else 1e-14)


def test_elementwise_large_arrays_run_parallel_with_the_same_results(elementwise):
    nb = importlib.import_module("symnum.backends.numba_backend")
    n = nb.PARALLEL_THRESHOLD + 17
    a = np.linspace(-3, 3, n)
    big = elementwise(a, 1.5)
    small = [elementwise(a[i:i + 1000], 1.5) for i in range(0, n, 1000)]
    for k in range(2):
        np.testing.assert_allclose(big[k], np.concatenate([s[k] for s in small]), rtol=1e-15)


def test_elementwise_errors():
    nb = importlib.import_module("symnum.backends.numba_backend")
    with pytest.raises(CompileError, match="scalar outputs"):
        nb.lower_elementwise(sn.trace(lambda v: v * 2, np.zeros(2)))
    with pytest.raises(CompileError, match="no elementwise"):
        sn.vectorize(lambda a: a + 1, backend="numpy")


@settings(max_examples=30)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=20), st.floats(0.1, 3))
def test_elementwise_matches_reference_interpreter(elementwise, xs, b):
    a = np.array(xs)
    got = elementwise(a, b)
    want = elementwise.fn(a, b)  # the reference interpreter, vectorised over a
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-14, atol=1e-300)
