"""Segment scans (symnum.arrays.ops_segment) and the cummax / cummin derivatives built on them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import symnum as sn
from symnum.arrays.evaluate import evaluate_array
from symnum.arrays.ops_segment import SegmentScan, segment_scan
from symnum.arrays.terms import ArrayConst, ArraySym
from symnum.autodiff.array_ad import grad_fn
from symnum.autodiff.array_jvp import hvp_fn, jvp_fn
from symnum.autodiff.array_taylor import laplacian_fn, taylor_fn
from symnum.compile import lower
from symnum.errors import ShapeError, UnsupportedOperationError

RNG = np.random.default_rng(11)


def oracle(kind: str, values: np.ndarray, starts: np.ndarray, axis: int) -> np.ndarray:
    """Plain Python, one element at a time, straight from the definition."""
    v = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    s = np.moveaxis(np.asarray(starts), axis, -1)
    out = np.zeros(v.shape)
    for idx in np.ndindex(v.shape[:-1]):
        row, marks, n = v[idx], s[idx], v.shape[-1]
        begins = [k == 0 or bool(marks[k] != 0) for k in range(n)]
        first = 0
        for k in range(n):
            if begins[k]:
                first = k
            if kind == "fill":
                out[idx + (k,)] = row[first]
            else:
                out[idx + (first,)] += row[k]
    return np.moveaxis(out, -1, axis)


@st.composite
def problems(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    values = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e3, 1e3)))
    starts = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 0.0, 1.0, -2.5])))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return values, starts, axis


@settings(max_examples=150, deadline=None)
@given(problems(), st.sampled_from(["fill", "collect"]))
def test_impl_matches_the_python_oracle(p, kind):
    values, starts, axis = p
    got = evaluate_array(segment_scan(kind, ArrayConst(values), ArrayConst(starts), axis))
    np.testing.assert_allclose(got, oracle(kind, values, starts, axis % values.ndim),
                               rtol=1e-12, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(problems())
def test_fill_and_collect_are_transposes(p):
    """⟨collect(g), v⟩ = ⟨g, fill(v)⟩ over the same segments: reverse mode's identity."""
    values, starts, axis = p
    g = RNG.standard_normal(values.shape)
    op = SegmentScan
    fill = op("fill", axis % values.ndim).impl(values, starts)
    collect = op("collect", axis % values.ndim).impl(g, starts)
    np.testing.assert_allclose(np.sum(g * fill), np.sum(collect * values), rtol=1e-9,
                               atol=1e-6)


@pytest.mark.parametrize("kind", ["fill", "collect"])
def test_scalarize_matches_impl(kind):
    v, s = ArraySym("v", (3, 4)), ArraySym("s", (3, 4))
    t = segment_scan(kind, v, s, axis=0)
    vals, marks = RNG.standard_normal((3, 4)), (RNG.random((3, 4)) < 0.4) * 1.0
    fn = sn.ArrayFn((v, s), t)
    want = fn(vals, marks)
    got = fn.scalarize()(vals, marks)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(want, oracle(kind, vals, marks, 0), rtol=1e-12, atol=1e-12)


def test_derivatives_of_the_op_itself():
    """Linear in the values, zero derivative in the start mask (even one computed from x)."""
    def f(x):
        marks = (x > 0.3) * 1.0
        y = segment_scan("fill", x ** 2, marks) + segment_scan("collect", np.sin(x), marks)
        return np.sum(y * np.arange(1.0, 8.0))

    x = RNG.standard_normal(7)
    fn = sn.trace(f, x, mode="array")
    g = grad_fn(fn)(x)
    h = 1e-6
    fd = np.array([(f_np(x + h * e) - f_np(x - h * e)) / (2 * h) for e in np.eye(7)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)
    v = RNG.standard_normal(7)
    _, t = jvp_fn(fn)(x, (v,))
    np.testing.assert_allclose(t, g @ v, rtol=1e-10)
    (c0, c1, c2) = taylor_fn(fn, 2)(x, v)
    np.testing.assert_allclose(c1, g @ v, rtol=1e-10)
    np.testing.assert_allclose(2 * c2, v @ hess_fd(x) @ v, rtol=1e-4, atol=1e-4)


def f_np(x):
    marks = (x > 0.3) * 1.0
    y = (SegmentScan("fill", 0).impl(x ** 2, marks)
         + SegmentScan("collect", 0).impl(np.sin(x), marks))
    return np.sum(y * np.arange(1.0, 8.0))


def hess_fd(x, h=1e-4):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            H[i, j] = (f_np(x + ei + ej) - f_np(x + ei - ej) - f_np(x - ei + ej)
                       + f_np(x - ei - ej)) / (4 * h * h)
    return H


# ---------------------------------------------------------------------------------------------
# cummax / cummin


ACC = {"max": np.maximum.accumulate, "min": np.minimum.accumulate}


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
                  elements=st.integers(-3, 3).map(float)),  # small integers: many ties
       st.sampled_from(["max", "min"]), st.integers(0, 1))
def test_cummax_gradient_matches_scalar_mode(x, kind, axis):
    w = np.arange(1.0, x.size + 1).reshape(x.shape)

    def f(u):
        return np.sum(np.sin(ACC[kind](u, axis=axis)) * w)

    fn = sn.trace(f, x, mode="array")
    want = sn.grad(f, mode="scalar")(x)
    np.testing.assert_allclose(grad_fn(fn)(x), want, rtol=1e-12, atol=1e-12)
    v = RNG.standard_normal(x.shape)
    _, t = jvp_fn(fn)(x, (v,))
    np.testing.assert_allclose(t, np.sum(want * v), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_cummax_gradient_against_finite_differences(kind, axis):
    x = RNG.standard_normal((3, 4, 5))  # distinct values: differentiable everywhere here
    w = RNG.standard_normal(x.shape)

    def f(u):
        return np.sum(ACC[kind](u, axis=axis) ** 2 * w)

    g = grad_fn(sn.trace(f, x, mode="array"))(x)
    h = 1e-6
    fd = np.zeros(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        fd[i] = (f(x + e.reshape(x.shape)) - f(x - e.reshape(x.shape))) / (2 * h)
    np.testing.assert_allclose(g.ravel(), fd, rtol=1e-6, atol=1e-7)


def test_cummax_taylor_hvp_and_laplacian():
    x = RNG.standard_normal(9)

    def f(u):
        return np.sum(np.maximum.accumulate(u) ** 3) + np.sum(np.minimum.accumulate(u[::-1]) ** 2)

    fn = sn.trace(f, x, mode="array")
    H = sn.hessian(f, mode="scalar")(x)
    v = RNG.standard_normal(9)
    np.testing.assert_allclose(hvp_fn(fn)(x, v), H @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(laplacian_fn(fn)(x), np.trace(H), rtol=1e-10)
    c = taylor_fn(fn, 3)(x, v)
    np.testing.assert_allclose(2 * c[2], v @ H @ v, rtol=1e-10)
    # the Hessian: a batched jet through the gradient's segment collect
    np.testing.assert_allclose(sn.hessian(fn)(x), H, rtol=1e-10, atol=1e-12)


def test_cummax_gradient_program_size_is_independent_of_n():
    sizes = [grad_fn(sn.trace(lambda x: np.sum(np.maximum.accumulate(x) ** 2), np.zeros(n),
                              mode="array")).count_ops() for n in (4, 1000, 1_000_000)]
    assert sizes[0] == sizes[1] == sizes[2], sizes


# ---------------------------------------------------------------------------------------------
# compiled, printing, sparsity, bad input


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_compiled_equals_interpreter(backend):
    """One kernel with both scans along a middle axis and cummax/cummin gradients."""
    def f(x, m):
        y = segment_scan("fill", np.cos(x), m, axis=1) * segment_scan("collect", x, m, axis=1)
        return (y, grad_cm(x))

    x = np.round(RNG.standard_normal((3, 5, 2)), 1)  # ties
    m = (RNG.random((3, 5, 2)) < 0.4) * 1.0
    fn = sn.trace(f, x, m, mode="array")
    want = fn(x, m)
    got = lower(fn, backend)(x, m)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(want[0], oracle("fill", np.cos(x), m, 1)
                               * oracle("collect", x, m, 1), rtol=1e-12, atol=1e-12)


def _cm(u):
    return np.sum(np.maximum.accumulate(u, axis=1) ** 2) + np.sum(np.minimum.accumulate(u) * u)


def grad_cm(x):
    from symnum.autodiff.array_ad import vjp_arrays

    (g,) = vjp_arrays([_cm(x)], [x], [1.0])
    return g


def test_compiled_cummax_gradient_matches_scalar_mode():
    x = np.round(RNG.standard_normal((4, 6)), 1)
    g = grad_fn(sn.trace(_cm, x, mode="array"))
    np.testing.assert_allclose(lower(g)(x), sn.grad(_cm, mode="scalar")(x), rtol=1e-12,
                               atol=1e-12)


def test_printing_and_sparsity():
    v, s = ArraySym("v", (2, 3)), ArraySym("s", (2, 3))
    assert str(segment_scan("fill", v, s, axis=0)) == "segment_fill(v, starts=s, axis=0)"
    assert "segment" in sn.arrays.printing.to_latex(segment_scan("collect", v, s))
    x = ArraySym("x", (4,))
    from symnum.autodiff.array_sparsity import jacobian_pattern

    pat = jacobian_pattern([segment_scan("collect", x, x > 0)], [x])
    dense = np.asarray(pat.todense()) != 0
    np.testing.assert_array_equal(dense, np.triu(np.ones((4, 4), bool)))


def test_cuda_refuses_segment_scans():
    from symnum.backends import cuda_arrays

    from symnum.errors import CompileError

    x = ArraySym("x", (5,))
    with pytest.raises(CompileError, match="use backend='llvm'"):
        cuda_arrays.generate(sn.ArrayFn((x,), segment_scan("fill", x, x > 0)))


def test_bad_input():
    v = ArraySym("v", (3,))
    with pytest.raises(ShapeError, match="starts of the values' shape"):
        segment_scan("fill", v, ArraySym("s", (4,)))
    with pytest.raises(UnsupportedOperationError, match="fill"):
        segment_scan("cumsum", v, v)
    with pytest.raises(ShapeError, match="0-d"):
        segment_scan("fill", ArraySym("a", ()), ArraySym("b", ()))
    with pytest.raises(ShapeError, match="out of bounds"):
        segment_scan("fill", v, v, axis=1)
