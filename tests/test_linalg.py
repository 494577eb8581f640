"""np.linalg on small symbolic matrices (symnum.tracing.linalg): values against numpy,
derivatives against finite differences, typed errors for what needs iteration."""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn

RNG = np.random.default_rng(13)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_det_inv_solve_slogdet_match_numpy(n):
    A, b = sn.symarray("a", (n, n)), sn.symarray("b", n)
    M, v = RNG.normal(size=(n, n)), RNG.normal(size=n)
    env = {A: M, b: v}
    assert float(sn.evaluate(np.linalg.det(A), env)) == pytest.approx(np.linalg.det(M), rel=1e-12)
    np.testing.assert_allclose(sn.evaluate(np.linalg.inv(A), env), np.linalg.inv(M), rtol=1e-10)
    np.testing.assert_allclose(sn.evaluate(np.linalg.solve(A, b), env), np.linalg.solve(M, v),
                               rtol=1e-10)
    B = sn.symarray("c", (n, 2))
    W = RNG.normal(size=(n, 2))
    np.testing.assert_allclose(sn.evaluate(np.linalg.solve(A, B), {A: M, B: W}),
                               np.linalg.solve(M, W), rtol=1e-10)
    s, ld = np.linalg.slogdet(A)
    ws, wld = np.linalg.slogdet(M)
    assert float(sn.evaluate(s, env)) == ws
    assert float(sn.evaluate(ld, env)) == pytest.approx(wld, rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_cholesky_and_eigvalsh_match_numpy(n):
    A = sn.symarray("a", (n, n))
    M = RNG.normal(size=(n, n))
    S = M @ M.T + n * np.eye(n)
    np.testing.assert_allclose(sn.evaluate(np.linalg.cholesky(A), {A: S}),
                               np.linalg.cholesky(S), rtol=1e-12, atol=1e-14)
    if n <= 3:
        np.testing.assert_allclose(sn.evaluate(np.linalg.eigvalsh(A), {A: S}),
                                   np.linalg.eigvalsh(S), rtol=1e-12)


def test_gradient_of_det_is_det_times_inverse_transpose():
    M = RNG.normal(size=(3, 3))
    g = sn.grad(lambda X: np.linalg.det(X))
    np.testing.assert_allclose(g(M), np.linalg.det(M) * np.linalg.inv(M).T, rtol=1e-10)


def test_compiled_solve_matches_numpy():
    M, v = RNG.normal(size=(3, 3)), RNG.normal(size=3)
    k = sn.compile(lambda A, b: np.linalg.solve(A, b), backend="llvm")
    np.testing.assert_allclose(k(M, v), np.linalg.solve(M, v), rtol=1e-10)


def test_matrix_norms():
    A = sn.symarray("a", (2, 3))
    M = RNG.normal(size=(2, 3))
    for o in (None, "fro", 1, -1, np.inf, -np.inf):
        assert float(sn.evaluate(np.linalg.norm(A, ord=o), {A: M})) == pytest.approx(
            np.linalg.norm(M, ord=o), rel=1e-14)
    np.testing.assert_allclose(sn.evaluate(np.linalg.norm(A, axis=1), {A: M}),
                               np.linalg.norm(M, axis=1), rtol=1e-14)


@pytest.mark.parametrize("thunk, hint", [
    (lambda A: np.linalg.norm(A, "nuc"), "iterative"),
    (lambda A: np.linalg.norm(A, 2), "iterative"),
    (lambda A: np.linalg.eigh(sn.symarray("e", (4, 4))), "up to 3×3"),
    (lambda A: np.linalg.svd(A), "sn.register"),
    (lambda A: np.linalg.det(sn.symarray("z", (7, 7))), "n ≤ 6"),
    (lambda A: np.linalg.eigvalsh(sn.symarray("e", (4, 4))), "up to 3×3"),
    (lambda A: np.linalg.eig(A), "eigh"),
    (lambda A: A[A > 0], "np.where"),
])
def test_what_needs_iteration_or_values_is_a_typed_error(thunk, hint):
    A = sn.symarray("a", (3, 3))
    with pytest.raises(sn.UnsupportedOperationError, match=hint):
        thunk(A)


def test_non_square_is_a_shape_error():
    with pytest.raises(sn.ShapeError, match="square"):
        np.linalg.det(sn.symarray("a", (2, 3)))
