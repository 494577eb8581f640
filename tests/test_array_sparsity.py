"""Sparsity and sparse Jacobians of array programs (symnum.autodiff.array_sparsity and
array_sparse_jacobian) against the scalar path on the scalarised program."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import scipy.sparse as sp
from _array_cases import index_op
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.arrays.terms import ArraySym
from symnum.autodiff.array_sparse_jacobian import sparse_jacobian_arrays
from symnum.autodiff.array_sparsity import color_pattern, jacobian_pattern
from symnum.autodiff.sparsity import jacobian_sparsity, sparse_jacobian
from symnum.demo.examples import brusselator_rhs
from symnum.errors import CompileError

_KINDS = ["slice", "int", "roll", "transpose", "flat", "newaxis", "concat", "pad"]
_MAPS = {
    "sin": lambda a: np.sin(a),
    "square": lambda a: a * a,
    "shift": lambda a: a * np.roll(a, 1, axis=-1) + 2.0 * a,
    "where": lambda a: np.where(a > 0.5, a, 3.0 * a),
    "flip": lambda a: a - 0.5 * np.flip(a),
}


@st.composite
def programs(draw):
    """(function, input shape): a chain of movement operations, elementwise maps, small sums and
    a final product with the input itself, applicable to ndarrays and array terms alike."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    cur = np.zeros(shape)
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from(["index", "map", "map", "sum"]))
        if cur.ndim == 0 or cur.size == 0:
            break
        if what == "index":
            op = index_op(lambda a, b: draw(st.integers(a, b)), draw(st.sampled_from(_KINDS)),
                          cur.shape)
        elif what == "map":
            op = _MAPS[draw(st.sampled_from(sorted(_MAPS)))]
        else:
            axis = draw(st.integers(0, cur.ndim - 1))
            op = partial(np.sum, axis=axis)
        try:
            cur = op(cur)
        except (ValueError, IndexError):
            break
        steps.append(op)
    mix = draw(st.booleans())

    def f(x):
        a = x
        for op in steps:
            a = op(a)
        if mix and a.shape == x.shape:
            a = a * x
        return a

    return f, shape


def _both(f, shape):
    fa = sn.trace(f, np.zeros(shape), mode="array")
    fs = fa.scalarize()
    return fa, fs


def _scalar_inputs(fs):
    return list(np.asarray(fs.inputs[0], dtype=object).reshape(-1))


def _scalar_outputs(fs):
    return [o for o in fs.flat_outputs]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(), st.integers(0, 2**31 - 1))
def test_pattern_and_values_match_the_scalar_path(prog, seed):
    f, shape = prog
    fa, fs = _both(f, shape)
    S = jacobian_pattern(fa.flat_outputs, fa.flat_inputs)
    S0 = jacobian_sparsity(_scalar_outputs(fs), _scalar_inputs(fs))
    assert S.shape == S0.shape
    assert np.array_equal(S.toarray(), S0)
    x = np.random.default_rng(seed).uniform(-1.0, 2.0, shape)
    J0 = sparse_jacobian(_scalar_outputs(fs), _scalar_inputs(fs))
    env = dict(zip(_scalar_inputs(fs), x.reshape(-1)))
    want = J0.to_scipy(env).toarray() if J0.nnz else np.zeros(S0.shape)
    for method in ("auto", "colored"):
        J = sparse_jacobian_arrays(fa.flat_outputs, fa.flat_inputs, method)
        got = J.to_scipy({fa.flat_inputs[0]: x}).toarray()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert np.array_equal(J.pattern().toarray(), S0)


def test_brusselator_pattern_equals_scalar_and_stencil_values():
    def rhs(state):
        return brusselator_rhs(state, (1.0, 3.4, 10.0), 0.0)

    for n in (2, 3, 5):
        fa, fs = _both(rhs, (2, n, n))
        S0 = jacobian_sparsity(_scalar_outputs(fs), _scalar_inputs(fs))
        S = jacobian_pattern(fa.flat_outputs, fa.flat_inputs)
        assert np.array_equal(S.toarray(), S0)
        J = sn.sparse_jacobian(fa, fa.inputs[0])
        # n = 2: the ±1 rolls meet at one entry: pieces merge (same table) and stay a stencil
        assert J.method == "stencil"
        x = np.random.default_rng(n).uniform(0.0, 4.0, (2, n, n))
        J0 = sparse_jacobian(_scalar_outputs(fs), _scalar_inputs(fs))
        want = J0.to_scipy(dict(zip(_scalar_inputs(fs), x.reshape(-1)))).toarray()
        np.testing.assert_allclose(J.to_scipy({fa.inputs[0]: x}).toarray(), want, rtol=1e-12)
        # the values: one block per (input, index table), never a term per entry
        assert J.values.shape[0] <= 12


def test_reductions_contractions_scans_take_path():
    x = ArraySym("x", (3, 4))
    A = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    cases = [
        (np.sum(x * x, axis=1), "stencil"),  # a small sum splits into pieces
        (np.max(x, axis=0), "colored"),
        (np.cumsum(x, axis=1), "colored"),
        (A @ np.sin(x), "colored"),  # the constant's zeros are known
        (x @ x.T, "colored"),
        (np.take(x, np.array([2, 0, 0]), axis=0) * 2.0, "stencil"),  # a repeated index
        # pieces broadcast, then meet the cos piece on the diagonal: the overlap is resolved
        (np.sum(x * x, axis=1, keepdims=True) * np.cos(x), "stencil"),
        (np.pad(x, 1)[1:-1, 2:] + np.roll(x.T, 2, 0).reshape(3, 4), "stencil"),
    ]
    rng = np.random.default_rng(1)
    v = rng.uniform(0.5, 1.5, (3, 4))
    for out, method in cases:
        fa = sn.arrays.ArrayFn((x,), out)
        fs = fa.scalarize()
        ins = _scalar_inputs(fs)
        outs = list(np.asarray(fs.outputs, dtype=object).reshape(-1))
        S0 = jacobian_sparsity(outs, ins)
        S = jacobian_pattern([out], [x])
        assert np.array_equal(S.toarray(), S0), str(out)
        J = sparse_jacobian_arrays([out], [x])
        assert J.method == method, str(out)
        want = sparse_jacobian(outs, ins).to_scipy(dict(zip(ins, v.reshape(-1)))).toarray()
        np.testing.assert_allclose(J.to_scipy({x: v}).toarray(), want, rtol=1e-12)


def test_large_sum_is_colored_and_the_pattern_is_dense_in_that_row():
    x = ArraySym("x", (40,))
    J = sparse_jacobian_arrays([np.sum(np.sin(x))], [x])
    assert J.method == "colored" and J.nnz == 40
    S = jacobian_pattern([np.sum(np.sin(x))], [x])
    assert S.nnz == 40


def test_several_inputs_and_outputs_and_scalars():
    x, y = ArraySym("x", (4,)), ArraySym("y", (4,))
    p = sn.Sym("p")
    outs = [x * np.roll(y, 1) * p, np.sum(x[:2]) + y[0]]
    S = jacobian_pattern(outs, [x, y, p])
    assert S.shape == (5, 9)
    fa = sn.arrays.ArrayFn((x, y, p), outs)
    fs = fa.scalarize()
    ins = list(fs.inputs[0]) + list(fs.inputs[1]) + [fs.inputs[2]]
    outs0 = list(fs.outputs[0]) + [fs.outputs[1]]
    assert np.array_equal(S.toarray(), jacobian_sparsity(outs0, ins))
    J = sn.sparse_jacobian(outs, [x, y, p])
    vals = {x: np.arange(1.0, 5.0), y: np.arange(2.0, 6.0), p: 1.5}
    env = {**dict(zip(fs.inputs[0], vals[x])), **dict(zip(fs.inputs[1], vals[y])),
           fs.inputs[2]: 1.5}
    want = sparse_jacobian(outs0, ins).to_scipy(env).toarray()
    np.testing.assert_allclose(J.to_scipy(vals).toarray(), want, rtol=1e-12)


def test_color_pattern_is_a_valid_colouring():
    x = ArraySym("x", (6, 6))
    out = x * np.roll(x, 1, 0) + np.roll(x, -1, 1)
    S = jacobian_pattern([out], [x])
    colors = color_pattern(S)
    Sd = S.toarray()
    for c in range(colors.max() + 1):
        assert (Sd[:, colors == c].sum(axis=1) <= 1).all()
    assert colors.max() + 1 == sn.color_columns(Sd).max() + 1


def test_sparse_function_of_an_array_program():
    def rhs(state):
        return brusselator_rhs(state, (1.0, 3.4, 10.0), 0.0)

    n = 4
    fa = sn.trace(rhs, np.zeros((2, n, n)), mode="array")
    J = sn.sparse_jacobian(fa, fa.inputs[0])
    jf = sn.build_function(J, *fa.inputs)
    assert jf.compiled.info["in_place"]
    x = np.random.default_rng(3).uniform(0.0, 4.0, (2, n, n))
    want = J.evaluate({fa.inputs[0]: x})
    np.testing.assert_allclose(jf(x), want, rtol=1e-13)
    A = jf.csr_structure()
    assert jf.csr(x, out=A) is A
    np.testing.assert_allclose(A.toarray(), J.to_scipy({fa.inputs[0]: x}).toarray(),
                               rtol=1e-13)
    np.testing.assert_allclose(jf.csr(2 * x).toarray(),
                               J.to_scipy({fa.inputs[0]: 2 * x}).toarray(), rtol=1e-13)
    # against central differences of the numpy code
    h = 1e-6
    fd = np.stack([(rhs(x + h * e.reshape(x.shape)) - rhs(x - h * e.reshape(x.shape))).ravel()
                   / (2 * h) for e in np.eye(x.size)], axis=1)
    np.testing.assert_allclose(A.toarray(), fd, atol=1e-5 * max(1.0, np.abs(fd).max()))
    out = np.empty(J.nnz)
    assert jf.compiled.call_into(out, x) is out
    np.testing.assert_allclose(out, want, rtol=1e-13)


def test_colored_values_compiled():
    x = ArraySym("x", (5,))
    out = np.cumsum(x * x)
    J = sparse_jacobian_arrays([out], [x], "colored")
    jf = sn.build_function(J, x)
    v = np.arange(1.0, 6.0)
    want = np.tril(np.ones((5, 5))) * (2 * v)[None, :]
    np.testing.assert_allclose(jf.csr(v).toarray(), want)
    assert isinstance(jf.csr(v), sp.csr_matrix)


def test_bad_input():
    x = ArraySym("x", (3,))
    with pytest.raises(TypeError, match="input symbols"):
        jacobian_pattern([x * 2.0], [x * 2.0])
    with pytest.raises(TypeError, match="input symbols"):
        sparse_jacobian_arrays([x * 2.0], [x + 1.0])
    with pytest.raises(ValueError, match="method"):
        sparse_jacobian_arrays([x * 2.0], [x], method="reverse")
    with pytest.raises(ValueError, match="stencil sweep does not apply"):
        sparse_jacobian_arrays([np.cumsum(x)], [x], method="stencil")
    J = sparse_jacobian_arrays([x * x], [x])
    with pytest.raises(CompileError, match="numba backend"):
        sn.build_function(J, x, backend="llvm")


def test_constants_read_by_a_map_are_put_in_before_the_pattern():
    x = ArraySym("x", (3, 3))
    exact = [np.triu(x), np.tril(np.sin(x), -1), np.array([[0.0, 1.0, 2.0]]) * x,
             np.where(np.eye(3, dtype=bool), x * x, 1.0)]
    for out in exact:
        fs = sn.arrays.ArrayFn((x,), out).scalarize()
        S0 = jacobian_sparsity(list(fs.outputs.ravel()), list(fs.inputs[0].ravel()))
        assert np.array_equal(jacobian_pattern([out], [x]).toarray(), S0), str(out)
    # a zero made by one operation and multiplied in another is not tracked: a superset
    out = np.diag(np.diag(x)) * x
    fs = sn.arrays.ArrayFn((x,), out).scalarize()
    S0 = jacobian_sparsity(list(fs.outputs.ravel()), list(fs.inputs[0].ravel()))
    S = jacobian_pattern([out], [x]).toarray()
    assert (S >= S0).all() and S.sum() > S0.sum()


def test_dense_rows_are_refused_with_a_typed_error(monkeypatch):
    import symnum.autodiff.array_sparse_jacobian as m
    from symnum.errors import SizeLimitError

    monkeypatch.setattr(m, "COLOR_WORK", 100)
    x = ArraySym("x", (40,))
    with pytest.raises(SizeLimitError, match="densest: 40 of 40"):
        sparse_jacobian_arrays([np.sum(np.sin(x))], [x])


def test_colouring_and_compressed_jacobian_take_array_programs():
    x = ArraySym("x", (5,))
    out = x * np.roll(x, 1) - np.roll(x, -1) ** 2
    S = sn.jacobian_sparsity([out], [x])
    assert sp.issparse(S)
    colors = sn.color_columns(S)
    assert colors.max() + 1 == sn.color_columns(S.toarray()).max() + 1
    v = np.arange(1.0, 6.0)
    fs = sn.arrays.ArrayFn((x,), out).scalarize()
    ins = list(fs.inputs[0])
    want = sn.compressed_jacobian(list(fs.outputs), ins, dict(zip(ins, v)))
    np.testing.assert_allclose(sn.compressed_jacobian([out], [x], {x: v}), want, rtol=1e-12)
