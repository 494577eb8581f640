"""symnum.autodiff.sparsity:
patterns contain every numerical non-zero, colourings are valid, and the
sparse and compressed Jacobians equal the dense one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.autodiff import ad, sparsity
from symnum.autodiff.sparsity import (
    color_columns,
    compressed_jacobian,
    hessian_sparsity,
    jacobian_sparsity,
    sparse_jacobian,
)
from symnum.core.evaluate import eval_many
from symnum.testing import VALUE_OPS, expressions, points

x, y, z, w = (sn.Sym(n) for n in "xyzw")
XYZW = [x, y, z, w]
vector_fns = st.lists(expressions(XYZW, VALUE_OPS, 3), min_size=1, max_size=4)


def dense_values(J: np.ndarray, env) -> np.ndarray:
    return np.asarray(eval_many(list(J.ravel()), env), dtype=float).reshape(J.shape)


# ---------------------------------------------------------------------------------------------
# tables


JAC_TABLE = [
    ([x * y, sn.sin(z)], [[1, 1, 0, 0], [0, 0, 1, 0]]),
    ([x + 2 * w, sn.Const(3.0)], [[1, 0, 0, 1], [0, 0, 0, 0]]),
    # comparisons are piecewise constant: only the chosen branches depend on anything
    ([sn.ifelse(x < y, z, w ** 2)], [[0, 0, 1, 1]]),
    ([sn.sign(x) * y], [[0, 1, 0, 0]]),
    ([sn.exp(x * y * z * w)], [[1, 1, 1, 1]]),
]


@pytest.mark.parametrize("es, expected", JAC_TABLE)
def test_jacobian_sparsity_table(es, expected):
    assert jacobian_sparsity(es, XYZW).astype(int).tolist() == expected


HES_TABLE = [
    (x * y, [(0, 1)]),
    (x ** 2 + y, [(0, 0)]),
    (sn.sin(x) + 3 * y + z * w, [(0, 0), (2, 3)]),
    (x * y * z, [(0, 1), (0, 2), (1, 2)]),
    (sn.exp(x + y), [(0, 0), (0, 1), (1, 1)]),
    (x / y, [(0, 1), (1, 1)]),
    (x + y - z, []),
    (sn.ifelse(x < y, z * w, z), [(2, 3)]),
]


@pytest.mark.parametrize("e, pairs", HES_TABLE)
def test_hessian_sparsity_table(e, pairs):
    want = np.zeros((4, 4), dtype=bool)
    for i, j in pairs:
        want[i, j] = want[j, i] = True
    assert (hessian_sparsity(e, XYZW) == want).all()


def test_sparse_jacobian_table_and_conversions():
    J = sparse_jacobian([x * y, sn.sin(y), sn.Const(1.0)], [x, y])
    assert J.rows.tolist() == [0, 0, 1] and J.cols.tolist() == [0, 1, 1]
    assert J.shape == (3, 2) and J.nnz == 3
    assert (J.pattern() == np.array([[1, 1], [0, 1], [0, 0]], dtype=bool)).all()
    env = {x: 2.0, y: 0.5}
    want = np.array([[0.5, 2.0], [0.0, np.cos(0.5)], [0.0, 0.0]])
    sp = J.to_scipy(env)
    assert sp.format == "csr" and sp.nnz == 3
    assert np.allclose(sp.toarray(), want, rtol=1e-15)
    assert np.allclose(dense_values(J.to_dense(), env), want, rtol=1e-15)


def diffusion(n: int) -> tuple[list, list]:
    """A 1-D reaction-diffusion right-hand side: tridiagonal Jacobian, 3 colours."""
    u = list(sn.symarray("u", (n,)))
    rhs = []
    for i in range(n):
        left, right = u[i - 1] if i else 0, u[i + 1] if i < n - 1 else 0
        rhs.append(left - 2 * u[i] + right + u[i] ** 2 * sn.exp(-u[i]))
    return rhs, u


def test_tridiagonal_system_needs_three_colours_and_three_passes(monkeypatch):
    rhs, u = diffusion(30)
    S = jacobian_sparsity(rhs, u)
    assert (S == (np.abs(np.subtract.outer(range(30), range(30))) <= 1)).all()
    colors = color_columns(S)
    assert colors.max() + 1 == 3
    calls = []
    real = ad.jvp_terms
    monkeypatch.setattr(ad, "jvp_terms", lambda *a: calls.append(1) or real(*a))
    env = {s: 0.1 * k for k, s in enumerate(u)}
    J = compressed_jacobian(rhs, u, env)
    assert len(calls) == 3  # one forward pass per colour, not per column
    assert np.allclose(J, dense_values(ad.jacobian(rhs, u), env), rtol=1e-14, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# properties


@settings(max_examples=150)
@given(vector_fns, points(XYZW))
def test_jacobian_pattern_contains_numerical_nonzeros(es, env):
    S = jacobian_sparsity(es, XYZW)
    J = dense_values(ad.jacobian(es, XYZW), env)
    assert not (np.nan_to_num(J, nan=1.0) != 0)[~S].any()
    free = np.array([[s in sn.free_symbols(e) for s in XYZW] for e in es])
    assert not (S & ~free).any()  # and is never wider than occurrence


@settings(max_examples=150)
@given(expressions(XYZW, VALUE_OPS, 4), points(XYZW))
def test_hessian_pattern_contains_numerical_nonzeros(e, env):
    Hs = hessian_sparsity(e, XYZW)
    assert (Hs == Hs.T).all()
    H = dense_values(ad.hessian(e, XYZW), env)
    assert not (np.nan_to_num(H, nan=1.0) != 0)[~Hs].any()
    assert not (Hs & ~np.outer(*[jacobian_sparsity([e], XYZW)[0]] * 2)).any()


@settings(max_examples=200)
@given(st.integers(1, 12).flatmap(lambda n: st.lists(
    st.lists(st.booleans(), min_size=n, max_size=n), min_size=0, max_size=12)),
    st.sampled_from(["largest_first", "smallest_last", "independent_set"]))
def test_colourings_are_valid(rows, strategy):
    S = np.array(rows, dtype=bool).reshape(len(rows), -1) if rows else np.zeros((0, 3), bool)
    colors = color_columns(S, strategy)
    assert colors.shape == (S.shape[1],)
    for row in S:
        used = colors[row]
        assert len(used) == len(set(used.tolist()))  # no colour twice in a row
    if S.shape[0]:
        assert colors.max() + 1 >= S.sum(axis=1).max()  # a row's columns all differ


@settings(max_examples=100)
@given(vector_fns, points(XYZW))
def test_compressed_and_sparse_jacobians_equal_dense(es, env):
    dense = dense_values(ad.jacobian(es, XYZW), env)
    S = jacobian_sparsity(es, XYZW)
    colors = color_columns(S)
    for row in S:
        assert len(set(colors[row].tolist())) == row.sum()
    got = [compressed_jacobian(es, XYZW, env)]
    for method in ("auto", "forward", "reverse"):
        sj = sparse_jacobian(es, XYZW, method=method)
        assert (sj.pattern() <= S).all()
        got.append(sj.to_scipy(env).toarray())
    for g in got:
        ok = np.isclose(g, dense, rtol=1e-10, atol=1e-12) | np.isnan(dense) & np.isnan(got)
        assert ok.all(), (g, dense)


def test_compressed_jacobian_uses_given_colours_and_rejects_non_symbols():
    es = [x * y, y * z]
    env = {x: 1.0, y: 2.0, z: 3.0}
    J = compressed_jacobian(es, [x, y, z], env, colors=np.array([0, 1, 2]))
    assert np.allclose(J, [[2.0, 1.0, 0.0], [0.0, 3.0, 2.0]])
    for call in (jacobian_sparsity, hessian_sparsity, sparse_jacobian):
        with pytest.raises(TypeError, match="symbols"):
            call(x * y, [x, y + 1])
    assert sparsity.color_columns(np.zeros((2, 0), bool)).shape == (0,)
    with pytest.raises(ValueError, match="method"):
        sparse_jacobian(es, [x, y, z], method="sideways")
