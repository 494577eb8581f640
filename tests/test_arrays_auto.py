"""mode="auto", the default trace mode: every numpy function that traces in scalar mode traces
by default to equal values (array terms where they can represent it, a scalar-mode retrace
where not); compile and grad pick array terms for large programs; multi-array fancy indexing;
the array tracer's typed errors (no raw numpy exception)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
import symnum.arrays.auto as auto
from symnum.arrays import ArraySym
from symnum.compile import lower
from symnum.errors import (
    ShapeError,
    SizeLimitError,
    SymnumError,
    TracingError,
    UnsupportedOperationError,
)
from symnum.tracing.numpy_functions import SUPPORTED_FUNCTIONS
from symnum.tracing.pytree import tree_flatten

RNG = np.random.default_rng(7)
X, A, B = np.zeros(6), np.zeros((3, 4)), np.zeros((4, 2))


def _copyto(x):
    y = np.zeros_like(x)
    np.copyto(y, x * 2)
    return y


def _insert_delete_append(x, A):
    return np.append(np.delete(np.insert(x, 2, 7.0), 0), x[:2])


# one program per numpy function that scalar mode traces (SUPPORTED_FUNCTIONS), on x (6,),
# A (3, 4), B (4, 2)
TABLE = {
    np.sum: lambda x, A: (np.sum(x), np.sum(A, axis=1)),
    np.prod: lambda x, A: np.prod(A, axis=0) + np.prod(x),
    np.max: lambda x, A: (np.max(x), np.max(A, axis=0)),
    np.min: lambda x, A: (np.min(x), np.min(A, axis=1)),
    np.amax: lambda x, A: np.amax(A, axis=1, keepdims=True),
    np.amin: lambda x, A: np.amin(x) * A,
    np.all: lambda x, A: np.all(x > -1.0) * x,
    np.any: lambda x, A: np.any(A > 0.5, axis=1) * 1.0,
    np.cumsum: lambda x, A: (np.cumsum(x), np.cumsum(A, axis=1)),
    np.cumprod: lambda x, A: np.cumprod(x),
    np.dot: lambda x, A: (np.dot(A, x[:4]), np.dot(x, x)),
    np.vdot: lambda x, A: np.vdot(A, A),
    np.matmul: lambda x, A: np.matmul(A.T, A),
    np.inner: lambda x, A: np.inner(A, A),
    np.outer: lambda x, A: np.outer(x, x[:3]),
    np.tensordot: lambda x, A: np.tensordot(A, A, axes=([1], [1])),
    np.einsum: lambda x, A: np.einsum("ij,j->i", A, x[:4]),
    np.kron: lambda x, A: np.kron(x[:2], x[2:5]),
    np.trace: lambda x, A: np.trace(A),
    np.diag: lambda x, A: (np.diag(A), np.diag(x[:3], 1)),
    np.diagonal: lambda x, A: np.diagonal(A, 1),
    np.diff: lambda x, A: (np.diff(x), np.diff(A, axis=0)),
    np.stack: lambda x, A: np.stack([x, 2 * x], axis=1),
    np.concatenate: lambda x, A: np.concatenate([x, A.ravel()]),
    np.hstack: lambda x, A: np.hstack([x, x[:2]]),
    np.vstack: lambda x, A: np.vstack([A, A[:1]]),
    np.dstack: lambda x, A: np.dstack([A, A]),
    np.column_stack: lambda x, A: np.column_stack([x, x ** 2]),
    np.block: lambda x, A: np.block([[A, A], [A, A]]),
    np.split: lambda x, A: np.split(x, 3)[1],
    np.array_split: lambda x, A: np.array_split(x, 4)[0],
    np.reshape: lambda x, A: np.reshape(A, (2, 6)),
    np.ravel: lambda x, A: np.ravel(A),
    np.transpose: lambda x, A: np.transpose(A),
    np.swapaxes: lambda x, A: np.swapaxes(A, 0, 1),
    np.moveaxis: lambda x, A: np.moveaxis(A[None], 0, 2),
    np.roll: lambda x, A: (np.roll(x, 2), np.roll(A, -1, axis=1)),
    np.flip: lambda x, A: np.flip(A),
    np.fliplr: lambda x, A: np.fliplr(A),
    np.flipud: lambda x, A: np.flipud(A),
    np.rot90: lambda x, A: np.rot90(A),
    np.squeeze: lambda x, A: np.squeeze(A[None]),
    np.expand_dims: lambda x, A: np.expand_dims(x, 0),
    np.broadcast_to: lambda x, A: np.broadcast_to(x, (2, 6)),
    np.broadcast_arrays: lambda x, A: np.broadcast_arrays(x[:4], A)[0],
    np.atleast_1d: lambda x, A: np.atleast_1d(x),
    np.atleast_2d: lambda x, A: np.atleast_2d(x),
    np.atleast_3d: lambda x, A: np.atleast_3d(A),
    np.zeros_like: lambda x, A: np.zeros_like(x) + x,
    np.ones_like: lambda x, A: np.ones_like(A) * A,
    np.full_like: lambda x, A: np.full_like(x, 3.0) - x,
    np.empty_like: lambda x, A: np.empty_like(x).shape[0] * x,
    np.copy: lambda x, A: np.copy(x) * 2,
    np.tile: lambda x, A: np.tile(x, 2),
    np.repeat: lambda x, A: np.repeat(x, 2),
    np.pad: lambda x, A: np.pad(x, 1),
    np.take: lambda x, A: np.take(x, [0, 3, 3]),
    np.take_along_axis: lambda x, A: np.take_along_axis(A, np.array([[0], [2], [1]]), axis=1),
    np.shape: lambda x, A: np.shape(A)[0] * x,
    np.ndim: lambda x, A: np.ndim(A) * x,
    np.size: lambda x, A: np.size(A) * x,
    np.append: _insert_delete_append,
    np.insert: _insert_delete_append,
    np.delete: _insert_delete_append,
    np.tril: lambda x, A: np.tril(A),
    np.triu: lambda x, A: np.triu(A, 1),
    np.result_type: lambda x, A: x * 2 if np.result_type(x, 1.0) is not None else x,
    np.copyto: lambda x, A: _copyto(x),
    np.meshgrid: lambda x, A: np.meshgrid(x[:2], x[2:5])[1],
    np.linalg.norm: lambda x, A: (np.linalg.norm(x), np.linalg.norm(A, axis=0)),
}

# the functions whose programs the array tracer cannot represent yet: mode="auto" traces them
# in scalar mode (mode="array" raises a typed error naming what to do)
# copyto writes in place; empty_like has no values (scalar mode refuses to return them)
SCALAR_FALLBACK = {np.copyto, np.empty_like}


def _close(got, want):
    gl, wl = tree_flatten(got)[0], tree_flatten(want)[0]
    assert len(gl) == len(wl)
    for g, w in zip(gl, wl):
        np.testing.assert_allclose(np.asarray(g, float), np.asarray(w, float), rtol=1e-12,
                                   atol=1e-12)


def test_the_table_covers_every_function_scalar_mode_traces():
    assert SUPPORTED_FUNCTIONS <= set(TABLE)


@pytest.mark.parametrize("func", list(TABLE), ids=lambda f: f.__name__)
def test_default_mode_traces_to_equal_values(func):
    f = TABLE[func]
    scalar = sn.trace(f, X, A, mode="scalar")
    default = sn.trace(f, X, A)
    assert isinstance(default, sn.Fn if func in SCALAR_FALLBACK else sn.ArrayFn)
    for _ in range(2):
        x, a = RNG.uniform(-1.0, 1.0, X.shape), RNG.uniform(-1.0, 1.0, A.shape)
        _close(default(x, a), f(x, a))
        _close(scalar(x, a), f(x, a))
    if func in SCALAR_FALLBACK:
        with pytest.raises(SymnumError):
            sn.trace(f, X, A, mode="array")


# ---------------------------------------------------------------------------------------------
# the fallback: what array terms cannot represent traces in scalar mode


def _square_first(x):
    y = x.copy()
    y[0] = y[0] ** 2  # item assignment into a traced array
    return y


def _branch(x):
    return x * 2 if x[0] > 0 else x  # Python control flow on an element's value


@pytest.mark.parametrize("f", [_square_first, lambda x: np.asarray(x) * 2,
                               lambda x: np.add.at(x, [0], 1.0) or x, _copyto])
def test_what_array_terms_cannot_represent_traces_in_scalar_mode(f):
    x = RNG.normal(size=4)
    fn = sn.trace(f, np.zeros(4))
    assert isinstance(fn, sn.Fn)
    np.testing.assert_allclose(fn(x), f(x.copy()))
    with pytest.raises((TracingError, UnsupportedOperationError), match="mode='scalar'"):
        sn.trace(f, np.zeros(4), mode="array")


def test_control_flow_on_values_still_raises_the_scalar_error():
    with pytest.raises(TracingError, match="ifelse|where"):
        sn.trace(_branch, np.zeros(3))


def test_a_large_fallback_warns(monkeypatch):
    monkeypatch.setattr(auto, "FALLBACK_WARN", 10)
    with pytest.warns(auto.ScalarFallbackWarning, match="item|immutable"):
        sn.trace(_square_first, np.zeros(20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sn.trace(_square_first, np.zeros(5))  # small: silent


def test_numbers_and_keywords_trace_in_scalar_mode():
    assert isinstance(sn.trace(lambda a, b: a * b, 1.0, np.float64(2.0)), sn.Fn)
    assert isinstance(sn.trace(lambda x, k=1.0: x * k, np.zeros(3), k=2.0), sn.Fn)
    assert isinstance(sn.trace(lambda p, x: p * x, 1.0, np.zeros(3)), sn.ArrayFn)
    with pytest.raises(ValueError, match="'auto', 'array' or 'scalar'"):
        sn.trace(_square_first, np.zeros(3), mode="vector")


# ---------------------------------------------------------------------------------------------
# ArrayFn calls: batch dimensions on the right (as Fn), symbolic arguments


def test_array_fn_batch_dimensions_equal_per_sample_calls():
    fn = sn.trace(lambda u, a: (np.tanh(u * a) @ np.ones(3), np.roll(u, 1) - a), np.ones(3), 1.0)
    U, a = RNG.normal(size=(3, 4, 2)), RNG.normal(size=2)
    s, r = fn(U, a)
    assert s.shape == (4, 2) and r.shape == (3, 4, 2)
    for i in range(4):
        for j in range(2):
            s1, r1 = fn(U[:, i, j], a[j])
            assert s[i, j] == s1 and np.array_equal(r[:, i, j], r1)
    with pytest.raises(ShapeError, match="do not broadcast"):
        fn(np.ones((3, 2)), np.ones(5))
    with pytest.raises(ShapeError, match="sequence of length 2"):
        sn.trace(lambda u, p: u * p[0], np.ones(3), (1.0, 2.0))(np.ones(3), (1.0,))


def test_array_fn_at_symbolic_arguments_splices_its_terms():
    fn = sn.trace(lambda x, c: np.sum(x * c), np.zeros(2), 1.0)
    y, k = sn.symarray("y", 2), sn.Sym("k")
    assert fn(y, k) is k * y[0] + k * y[1]
    z = ArraySym("z", (2,))
    assert str(fn(z, 3.0)) == "sum(3*z)"
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(sn.vmap(fn, in_axes=(0, None))(X, 2.0), 2 * X.sum(1))


# ---------------------------------------------------------------------------------------------
# compile / grad with the default mode: array terms for large programs, scalar for small


def _rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_compile_and_grad_default_to_array_terms_for_large_programs(cache_dir):
    n = 2 * auto.SCALARIZE_LIMIT
    x = RNG.uniform(0.5, 1.5, n)
    f = sn.compile(_rosen, cache_dir=cache_dir)
    np.testing.assert_allclose(f(x), _rosen(x), rtol=1e-12)
    assert isinstance(f.fn, sn.ArrayFn) and f.fn.count_ops() < 20
    small = sn.compile(_rosen)
    np.testing.assert_allclose(small(x[:5]), _rosen(x[:5]), rtol=1e-12)
    assert isinstance(small.fn, sn.Fn)  # a small program: scalar terms, LLVM
    g = sn.grad(_rosen)
    from scipy.optimize import rosen_der

    np.testing.assert_allclose(g(x), rosen_der(x), rtol=1e-10)
    assert isinstance(g.fn(x), sn.ArrayFn)
    np.testing.assert_allclose(g(x[:4]), rosen_der(x[:4]), rtol=1e-12)
    assert isinstance(g.fn(x[:4]), sn.Fn)


def test_mixed_scalar_parameter_times_array(cache_dir):
    n = 2 * auto.SCALARIZE_LIMIT
    f = sn.compile(lambda p, x: p * np.sum(x ** 2) + np.sin(p) * x, cache_dir=cache_dir)
    x = RNG.normal(size=n)
    np.testing.assert_allclose(f(0.7, x), 0.7 * np.sum(x ** 2) + np.sin(0.7) * x, rtol=1e-12)
    assert isinstance(f.fn, sn.ArrayFn)


def test_consumers_that_need_elements_scalarize_small_and_refuse_large():
    small = sn.trace(lambda x: np.sin(x) * x[::-1], np.zeros(3))
    J = sn.jacfwd(small)  # no array rules here: the scalarized program's Jacobian
    x = RNG.normal(size=3)
    want = np.diag(np.cos(x) * x[::-1]) + np.fliplr(np.diag(np.sin(x)))
    np.testing.assert_allclose(J(x), want, rtol=1e-12)
    # float32: the llvm array loops take float64 data, and the scalar form is too large
    big = sn.trace(lambda x: x * 2, np.zeros(auto.SCALARIZE_LIMIT + 1, np.float32))
    with pytest.raises(SizeLimitError, match="numba"):
        lower(big, "llvm")


# ---------------------------------------------------------------------------------------------
# fancy indexing with several constant index arrays (numpy's advanced indexing)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_multi_array_fancy_indexing_equals_numpy(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=3)))
    a = np.arange(np.prod(shape), dtype=float).reshape(shape)
    key = []
    for n in shape:
        kind = data.draw(st.sampled_from(["arr", "arr", "slice", "int"]))
        if kind == "arr":
            m = data.draw(st.integers(1, 3))
            key.append(np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=m,
                                                   max_size=m))))
        elif kind == "int":
            key.append(data.draw(st.integers(-n, n - 1)))
        else:
            key.append(slice(data.draw(st.integers(0, n)), None))
    lens = {len(k) for k in key if isinstance(k, np.ndarray)}
    if len(lens) > 1:  # make the index arrays broadcast
        key = [k[:1] if isinstance(k, np.ndarray) else k for k in key]
    key = tuple(key)
    fn = sn.trace(lambda v: v[key], a, mode="array")
    np.testing.assert_array_equal(fn(a), a[key])


def test_multi_array_fancy_indexing_errors_name_the_problem():
    with pytest.raises(ShapeError, match="out of bounds for axis 0 with size 3"):
        sn.trace(lambda a: a[np.array([0, 3]), np.array([1, 1])], np.zeros((3, 3)), mode="array")
    with pytest.raises(ShapeError, match="do not broadcast"):
        sn.trace(lambda a: a[[0, 1], [1, 1, 1]], np.zeros((3, 3)), mode="array")


# ---------------------------------------------------------------------------------------------
# typed errors of the array tracer: no raw numpy exception


@pytest.mark.parametrize("f, args, error, match", [
    (lambda x, y: x + y, (np.zeros(3), np.zeros(4)), ShapeError, r"add.*\(3,\).*\(4,\)"),
    (lambda x, y: x @ y, (np.zeros((3, 2)), np.zeros(4)), ShapeError, r"matmul.*\(3, 2\).*\(4,\)"),
    (lambda x, y: np.concatenate([x, y]), (np.zeros((2, 2)), np.zeros(3)), ShapeError,
     r"concatenate.*\(2, 2\).*\(3,\)"),
    (lambda x: x[5], (np.zeros(3),), ShapeError, "index 5 is out of bounds"),
    (lambda x: x[np.array([0, 9])], (np.zeros(3),), ShapeError, "out of bounds"),
    (lambda x: x[x > 0], (np.zeros(3),), TracingError, "np.where"),
    (lambda x: np.sort(x), (np.zeros(3),), UnsupportedOperationError, "sn.register"),
    (lambda x: np.sort(x), (np.zeros(3),), UnsupportedOperationError, "scalarize"),
    (lambda x: np.repeat(x, [1, 2]), (np.zeros(3),), ShapeError, "repeat"),
    (lambda x: np.linalg.inv(x), (np.zeros((2, 2)),), UnsupportedOperationError, "inv"),
    (lambda x: x.reshape(4), (np.zeros(3),), ShapeError, r"\(3,\).*\(4,\)"),
])
def test_array_tracer_errors_are_typed(f, args, error, match):
    with pytest.raises(error, match=match):
        sn.trace(f, *args, mode="array")


def _sum_sq(x):
    return np.sum(x ** 2)


def test_pickling_a_default_compiled_function_with_array_kernels(cache_dir):
    import pickle

    x = RNG.normal(size=2 * auto.SCALARIZE_LIMIT)
    f = sn.compile(_sum_sq, cache_dir=cache_dir)
    f(x)
    g = pickle.loads(pickle.dumps(f))  # the array signature is traced again after loading
    np.testing.assert_allclose(g(x), np.sum(x ** 2), rtol=1e-12)
    h = sn.compile(lambda x: np.sum(x ** 2), cache_dir=cache_dir)
    h(x)
    with pytest.raises(sn.errors.SerializationError, match="module level"):
        pickle.dumps(h)


@pytest.mark.parametrize("f, args, match", [
    (lambda x, y: x + y, (np.zeros(3), np.zeros(4)), r"add.*\(3,\).*\(4,\)"),
    (lambda x: x.reshape(4), (np.zeros(3),), r"reshape.*\(3,\).*\(4,\)"),
    (lambda x: x[5], (np.zeros(3),), "index 5 is out of bounds"),
])
def test_default_mode_reports_the_typed_error_not_numpys(f, args, match):
    with pytest.raises(ShapeError, match=match):
        sn.trace(f, *args)


def test_default_mode_lets_user_exceptions_through():
    def bad(x):
        return {"a": 1}["b"] + x

    with pytest.raises(KeyError):
        sn.trace(bad, np.zeros(3))


# ---------------------------------------------------------------------------------------------
# functional index updates (JAX's x.at[key].set(v)): the array form of item assignment

_AT_KEYS = [(1, 2), np.s_[1:3], (np.array([0, 3]), np.array([1, 1])), np.s_[..., 0],
            np.s_[::-2, 1:], (np.array([1, 1]), np.array([2, 2]))]


@pytest.mark.parametrize("key", _AT_KEYS, ids=range(len(_AT_KEYS)))
@pytest.mark.parametrize("how", ["set", "add", "multiply"])
def test_at_updates_equal_numpys_in_place_updates(key, how):
    a = RNG.normal(size=(4, 5))
    shape = a[key].shape
    v = RNG.normal(size=shape)
    if how != "set" and key is _AT_KEYS[-1]:  # repeated positions: only set is defined
        with pytest.raises(UnsupportedOperationError, match="repeated"):
            getattr(sn.array_symbol("x", a.shape).at[key], how)(v)
        return
    fn = sn.trace(lambda x, w: getattr(x.at[key], how)(w), a, v, mode="array")
    want = a.copy()
    if how == "set":
        want[key] = v
    elif how == "add":
        want[key] += v
    else:
        want[key] *= v
    np.testing.assert_allclose(fn(a, v), want, rtol=1e-14)
    np.testing.assert_allclose(fn.scalarize()(a, v), want, rtol=1e-14)


def test_at_set_differentiates_and_refuses_symbolic_keys():
    def f(a):
        return np.sum(a.at[1:3].set(a[1:3] ** 2) ** 2)

    def ref(a):
        b = a.copy()
        b[1:3] = a[1:3] ** 2
        return np.sum(b ** 2)

    x = RNG.normal(size=5)
    g = sn.grad(f, mode="array")(x)
    fd = [(ref(x + e) - ref(x - e)) / 2e-6 for e in np.eye(5) * 1e-6]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    with pytest.raises(TracingError, match="symbolic key"):
        sn.trace(lambda a: a.at[a[0] > 0].set(1.0), np.zeros(3), mode="array")
