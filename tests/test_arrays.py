"""Array terms: every operation evaluated against numpy, scalarize against the array evaluation,
graph size independent of n, hash-consing, typed errors."""

from __future__ import annotations

import numpy as np
import pytest
from _array_cases import index_op as _index_op
from hypothesis import given
from hypothesis import strategies as st

import symnum as sn
import symnum.arrays.printing
from symnum.arrays import ArrayConst, ArraySym, scalarize
from symnum.arrays.evaluate import evaluate_array
from symnum.errors import ShapeError, TracingError, UnsupportedOperationError

RNG = np.random.default_rng(0)


def _rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0)


# (name, function, example arguments): numpy programs over array inputs
PROGRAMS = [
    ("rosen", _rosen, (np.zeros(7),)),
    ("ufuncs", lambda x: np.exp(np.sin(x)) + np.log1p(x * x) - np.sqrt(np.abs(x)) / 3,
     (np.zeros(5),)),
    ("compare_where", lambda x: np.where(x > 0.5, x, -x) + (x <= 0.2), (np.zeros(6),)),
    ("clip", lambda x: np.clip(x, 0.2, 0.7) + x.clip(min=0.5), (np.zeros(6),)),
    ("maximum_minimum", lambda x, y: np.maximum(x, y) * np.minimum(x, 0.4), (np.zeros(4),
                                                                              np.zeros(4))),
    ("broadcast", lambda a, b: a * b + a[:, None] - b[None, :, None].sum(),
     (np.zeros((3, 1)), np.zeros(4))),
    ("mixed_scalar", lambda p, x: p * x ** 2 + np.sin(p) - x.sum() * p, (1.0, np.zeros(5))),
    ("sum_axes", lambda a: (a.sum(axis=0), a.sum(axis=(0, 2)), a.sum(axis=-1, keepdims=True)),
     (np.zeros((2, 3, 4)),)),
    ("prod_max_min", lambda a: (np.prod(a, axis=1), np.max(a, axis=0), a.min(),
                                np.amax(a, axis=1, keepdims=True)), (np.zeros((3, 4)),)),
    ("mean_var_std", lambda a: (np.mean(a), np.var(a, axis=0), np.std(a, axis=1, ddof=1),
                                a.mean(axis=1)), (np.zeros((4, 5)),)),
    ("slices", lambda x: (x[1:], x[:-1], x[::2], x[::-1], x[-3:-1], x[5:1:-2], x[3],
                          x[-1], x[1:-1:3], x[2:2]), (np.zeros(9),)),
    ("slices2d", lambda a: (a[1:, ::-1], a[:, 2], a[1], a[..., 1:], a[None, 1:, :2],
                            a[-1, -2]), (np.zeros((4, 5)),)),
    ("roll", lambda x, a: (np.roll(x, 1), np.roll(x, -2), np.roll(a, 1, axis=1),
                           np.roll(a, (1, 2), axis=(0, 1)), np.roll(a, 3)),
     (np.zeros(6), np.zeros((3, 4)))),
    ("reshape_transpose", lambda a: (a.reshape(4, 3), a.reshape(-1), a.T, np.transpose(a),
                                     np.swapaxes(a[None], 0, 2), np.moveaxis(a[None], 0, -1),
                                     a.ravel(), np.expand_dims(a, 1), a[None].squeeze(0)),
     (np.zeros((3, 4)),)),
    ("broadcast_to", lambda x: np.broadcast_to(x, (3, 4)) * 2, (np.zeros(4),)),
    ("concat_stack", lambda x, y: (np.concatenate([x, y, x]), np.stack([x, y], axis=1),
                                   np.hstack([x, y]), np.vstack([x, y])),
     (np.zeros(3), np.zeros(3))),
    ("flip_pad", lambda x, a: (np.flip(x), np.fliplr(a), np.flipud(a), np.pad(x, 2),
                               np.pad(a, ((1, 0), (0, 2)), constant_values=1.5),
                               np.pad(x, (2, 1), mode="wrap"), np.pad(a, 1, mode="edge")),
     (np.zeros(5), np.zeros((2, 3)))),
    ("contractions", lambda A, v, B: (A @ v, v @ B, A @ B, np.dot(v, v), np.outer(v, v),
                                      np.inner(A, A), np.einsum("ij,jk->ki", A, B),
                                      np.tensordot(A, B, axes=1), np.vdot(A, A), A.T @ A),
     (np.zeros((3, 4)), np.zeros(4), np.zeros((4, 2)))),
    ("batched_matmul", lambda A, B: A @ B, (np.zeros((2, 3, 4)), np.zeros((4, 5)))),
    ("diff_tile", lambda x: (np.diff(x), np.diff(x, 2), np.tile(x, 2)), (np.zeros(6),)),
    ("stencil", lambda u: np.roll(u, 1) - 2 * u + np.roll(u, -1), (np.zeros(8),)),
    ("logsumexp", lambda x: np.log(np.sum(np.exp(x - x.max()))) + x.max(), (np.zeros(5),)),
    ("constant_data", lambda w: np.mean(np.log1p(np.exp(-_Y * (_X @ w)))), (np.zeros(3),)),
    ("zeros_like", lambda x: np.zeros_like(x) + np.ones_like(x) * x + np.full_like(x, 2.0),
     (np.zeros(3),)),
    ("gathers", lambda A, v: (np.diag(A), np.diag(A, 1), np.diag(v), np.diag(v, -1),
                              np.triu(A), np.tril(A, -1), A[[2, 0, -1]], A[:, np.array([1, 1])],
                              v[np.array([True, False, True])], A[_MASK],
                              np.take(A, [1, 3], axis=1), np.repeat(v, 2), np.trace(A),
                              np.split(A, 2, axis=1)[1], np.array_split(v, 2)[0]),
     (np.zeros((4, 4)), np.zeros(3))),
    ("norm", lambda A: (np.linalg.norm(A), np.linalg.norm(A, axis=1),
                        np.linalg.norm(A[0], 2)), (np.zeros((3, 4)),)),
    ("scans", lambda A: (np.cumsum(A), np.cumsum(A, axis=1), A.cumprod(axis=0),
                         np.maximum.accumulate(A, axis=1), np.add.accumulate(A[0]),
                         np.minimum.accumulate(A, axis=0)), (np.zeros((3, 4)),)),
    ("initial_outer_all_any", lambda a: (
        np.sum(a, axis=0, initial=2.0), np.min(a, initial=0.3), np.multiply.outer(a[0], a[:, 1]),
        np.subtract.outer(a, a[0]), np.all(a > 0.2, axis=1), np.any(a > 0.9), (a > 0.5).all(),
        np.any(a - 0.5, axis=0)), (np.zeros((3, 4)),)),
    ("select_logic", lambda x: np.select([x < 0.3, x > 0.6], [x, 2 * x], 0.5)
     + ((x > 0.2) & (x < 0.8)), (np.zeros(6),)),
]
_X = RNG.standard_normal((6, 3))
_MASK = RNG.uniform(size=(4, 4)) > 0.5
_Y = np.sign(RNG.standard_normal(6))


def _values(examples):
    return tuple(RNG.uniform(0.05, 1.0, np.shape(e)) if np.ndim(e) else
                 float(RNG.uniform(0.1, 1)) for e in examples)


def _close(a, b):
    la = a if isinstance(a, tuple) else (a,)
    lb = b if isinstance(b, tuple) else (b,)
    assert len(la) == len(lb)
    for u, v in zip(la, lb):
        assert np.shape(u) == np.shape(v)
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,f,examples", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_array_trace_evaluates_like_numpy(name, f, examples):
    fn = sn.trace(f, *examples, mode="array")
    vals = _values(examples)
    _close(fn(*vals), f(*vals))


@pytest.mark.parametrize("name,f,examples", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_scalarize_agrees_with_array_evaluation(name, f, examples):
    fn = sn.trace(f, *examples, mode="array")
    vals = _values(examples)
    _close(fn.scalarize()(*vals), fn(*vals))


def test_scalarize_matches_scalar_mode_trace():
    x = np.zeros(4)
    a = sn.trace(_rosen, x, mode="array").scalarize()
    s = sn.trace(_rosen, x, mode="scalar")
    assert a.outputs is s.outputs  # same names, same canonical terms: one hash-consed term


def test_graph_size_does_not_depend_on_n():
    counts = {n: sn.trace(_rosen, np.zeros(n), mode="array").count_ops()
              for n in (10, 1000, 10**6)}
    assert len(set(counts.values())) == 1, counts
    X = np.ones((1000, 10))
    assert sn.trace(lambda w: np.sum((X @ w) ** 2), np.zeros(10),
                    mode="array").count_ops() == 3


def test_hash_consing():
    x = ArraySym("x", (5,))
    assert x[1:] - x[:-1] is x[1:] - x[:-1]
    assert np.sin(x) is sn.sin(x)
    a = np.arange(10.0)
    assert ArrayConst(a) is ArrayConst(a.copy())
    assert ArrayConst(a) is not ArrayConst(a.astype(np.float32))
    assert ArrayConst(a) is not ArrayConst(a.reshape(2, 5))
    c = ArrayConst(a)
    a[0] = 99.0  # the term holds its own copy
    assert c.value[0] == 0.0 and not c.value.flags.writeable


def test_constant_is_one_term():
    big = np.ones((1000, 100))
    f = sn.trace(lambda w: big @ w, np.zeros(100), mode="array")
    leaves = [n for n in sn.postorder(f.flat_outputs) if not sn.iscall(n)]
    assert len(leaves) == 2


def test_term_interface():
    x = ArraySym("x", (4,))
    t = np.roll(x, 1) * 2
    assert sn.iscall(t) and not sn.iscall(x)
    rebuilt = sn.maketerm(type(t), sn.operation(t), sn.arguments(t))
    assert rebuilt is t
    assert sn.metadata(x)["shape"] == (4,)
    y = ArraySym("y", (4,))
    assert sn.substitute(t, {x: y}) is np.roll(y, 1) * 2


def test_printing():
    x = ArraySym("x", (10,))
    assert str(np.sum(x[1:] - x[:-1] ** 2)) == "sum(x[1:] - x[:-1]^2)"
    A = ArraySym("A", (3, 10))
    assert str(A @ x) == "A @ x"
    assert str(np.roll(A, 1, axis=1).T) == "roll(A, 1, axis=1).T"
    assert str(x[::-2]) == "x[::-2]" and str(A[1, 2:-1]) == "A[1, 2:-1]"
    assert str(np.sum(A, axis=0)) == "sum(A, axis=0)"


def test_mixed_with_scalar_symbols():
    p = sn.Sym("p")
    x = ArraySym("x", (3,))
    e = p * x + sn.exp(p)
    assert e.shape == (3,)
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(sn.evaluate(e, {p: 0.5, x: v}), 0.5 * v + np.exp(0.5))
    s = x.sum()
    assert s.shape == () and sn.sin(s).shape == ()


@given(st.lists(st.integers(1, 4), min_size=0, max_size=3),
       st.lists(st.integers(1, 4), min_size=0, max_size=3), st.data())
def test_elementwise_broadcasting_property(sa, sb, data):
    sa, sb = tuple(sa), tuple(sb)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        with pytest.raises(ShapeError) as ei:
            ArraySym("a", sa) + ArraySym("b", sb)
        assert str(sa) in str(ei.value) and str(sb) in str(ei.value)
        return
    a, b = RNG.uniform(0.1, 1, sa), RNG.uniform(0.1, 1, sb)
    f = data.draw(st.sampled_from([lambda u, v: u * v - u / v, lambda u, v: np.hypot(u, v),
                                   lambda u, v: np.where(u > v, u ** 2, v)]))
    e = f(ArraySym("a", sa), ArraySym("b", sb))
    np.testing.assert_allclose(evaluate_array(e, {"a": a, "b": b}), f(a, b))


@given(st.integers(1, 7), st.data())
def test_slicing_property(n, data):
    bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
    key = slice(data.draw(bound), data.draw(bound),
                data.draw(st.one_of(st.none(), st.integers(-3, 3).filter(bool))))
    x = ArraySym("x", (n, 2))
    v = RNG.standard_normal((n, 2))
    e = x[key]
    np.testing.assert_array_equal(evaluate_array(e, {"x": v}), v[key])
    np.testing.assert_array_equal(np.vectorize(lambda t: sn.evaluate(t, {
        s: val for s, val in zip(np.asarray(scalarize(x)).ravel(), v.ravel())}),
        otypes=[float])(np.asarray(scalarize(e), dtype=object)) if e.size else v[key], v[key])


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.data())
def test_reductions_property(p, q, r, data):
    a = RNG.standard_normal((p, q, r))
    kind = data.draw(st.sampled_from(["sum", "prod", "max", "min", "mean", "var", "std"]))
    axis = data.draw(st.sampled_from([None, 0, 1, 2, -1, (0, 2), (1, 2)]))
    keep = data.draw(st.booleans())
    x = ArraySym("a", a.shape)
    e = getattr(np, kind)(x, axis=axis, keepdims=keep)
    np.testing.assert_allclose(evaluate_array(e, {"a": a}), getattr(np, kind)(a, axis=axis,
                                                                            keepdims=keep),
                               rtol=1e-12, atol=1e-12)


def test_shape_errors_name_shapes_and_operation():
    A, v = ArraySym("A", (3, 4)), ArraySym("v", (5,))
    with pytest.raises(ShapeError, match=r"matmul.*\(3, 4\).*\(5,\)"):
        A @ v
    with pytest.raises(ShapeError, match=r"elementwise.*\(3, 4\).*\(5,\)"):
        A + v
    with pytest.raises(ShapeError, match="reshape"):
        A.reshape(5, 3)
    with pytest.raises(ShapeError, match="concatenate"):
        np.concatenate([A, v])
    with pytest.raises(ShapeError, match="out of bounds"):
        v[5]
    with pytest.raises(ShapeError, match="broadcast_to"):
        np.broadcast_to(A, (4, 3))
    with pytest.raises(ShapeError, match="einsum"):
        np.einsum("ij,ij->", A, A.T)


def test_bad_input_errors():
    x = ArraySym("x", (4,))
    with pytest.raises(TracingError, match="np.where"):
        x[x > 0]
    with pytest.raises(TracingError, match="np.where"):
        if x.sum() > 0:
            pass
    with pytest.raises(TracingError, match="immutable"):
        x[0] = 1.0
    with pytest.raises(UnsupportedOperationError, match="numpy.sort"):
        np.sort(x)
    with pytest.raises(UnsupportedOperationError, match="reduceat"):
        np.add.reduceat(x, [0, 2])
    with pytest.raises(TracingError, match="np.asarray"):
        np.asarray(x)
    with pytest.raises(UnsupportedOperationError, match="floor division"):
        x // 2
    with pytest.raises(TracingError, match="out="):
        np.sin(x, out=np.zeros(4))


def test_array_fn_call_checks():
    fn = sn.trace(_rosen, np.zeros(5), mode="array")
    with pytest.raises(ShapeError, match=r"\(5,\)"):
        fn(np.zeros(6))
    with pytest.raises(ShapeError):
        fn()
    assert "x: [5]" in repr(fn)


def test_trace_mode_default_is_auto():
    assert isinstance(sn.trace(_rosen, np.zeros(3)), sn.ArrayFn)  # array inputs: array terms
    assert isinstance(sn.trace(lambda a, b: a * b, 1.0, 2.0), sn.Fn)  # numbers: scalar terms
    assert isinstance(sn.trace(_rosen, np.zeros(3), mode="scalar"), sn.Fn)
    with pytest.raises(ValueError, match="mode"):
        sn.trace(_rosen, np.zeros(3), mode="vector")


def test_latex():
    x = ArraySym("x", (10,))
    s = sn.arrays.printing.to_latex(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2))
    assert s.startswith(r"\operatorname{sum}") and r"\left(" in s and "^{2}" in s
    assert x._repr_latex_().startswith("$")


def test_simplify_passes_array_terms_through():
    f = sn.trace(lambda x, p: np.sum(np.sin(x) ** 2 + np.cos(x) ** 2 + np.log(np.exp(p * x))),
                 np.zeros(4), 1.0, mode="array")
    g = sn.simplify(f)
    assert str(g.outputs) == "sum(p*x + 1)"
    v = RNG.uniform(size=4)
    np.testing.assert_allclose(g(v, 0.5), f(v, 0.5))
    x = ArraySym("x", (3,))
    e = sn.simplify({"a": np.roll(x, 1) * 1.0 + 0, "b": x.sum() * 2})
    assert e["a"] is np.roll(x, 1) and e["b"] is x.sum() * 2


@given(st.data())
def test_index_map_chains_property(data):
    """Random chains of movement operations and maps: the array evaluation equals numpy's, and
    the scalarized elements evaluate to the same values."""
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    v = RNG.standard_normal(shape)
    x = ArraySym("x", shape)
    e, ref = x, v
    for _ in range(data.draw(st.integers(1, 4))):
        if ref.size == 0 or ref.ndim == 0:
            break
        kind = data.draw(st.sampled_from(["slice", "int", "roll", "transpose", "flat",
                                          "newaxis", "concat", "pad"]))
        op = _index_op(lambda lo, hi: data.draw(st.integers(lo, hi)), kind, ref.shape)
        e, ref = op(e), op(ref)
        if data.draw(st.booleans()):  # interleave elementwise maps
            e, ref = e * 2 - 1, ref * 2 - 1
    got = evaluate_array(e, {"x": v})
    assert got.shape == e.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    elems = np.asarray(scalarize(e), dtype=object)
    env = dict(zip(np.asarray(scalarize(x), dtype=object).ravel(), v.ravel()))
    vals = np.array([float(sn.evaluate(t, env)) for t in elems.ravel()]).reshape(elems.shape)
    np.testing.assert_allclose(vals, ref, rtol=1e-12, atol=1e-12)


def test_egraph_passes_array_terms_through():
    pytest.importorskip("egglog")
    f = sn.trace(lambda x: np.sum(np.exp(np.log(x * x)) + np.roll(x, 1)), np.zeros(5),
                 mode="array")
    g = sn.simplify(f, method="egraph")
    assert isinstance(g, sn.ArrayFn) and g.count_ops() <= f.count_ops()
    v = RNG.uniform(0.5, 1.0, 5)
    np.testing.assert_allclose(g(v), f(v), rtol=1e-12)
