"""np.linalg.eigh / eigvalsh of symbolic symmetric matrices up to 3×3 (symnum.tracing.eigh):
values and vectors against numpy (vectors up to each column's sign), the documented sign
convention, derivatives against finite differences, degenerate inputs, a compiled kernel."""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn

RNG = np.random.default_rng(21)


def _sym(n):
    M = RNG.normal(size=(n, n))
    return M + M.T


def _eval(fn_out, A, S):
    return np.asarray(sn.evaluate(fn_out, {A: S}), np.float64)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_eigh_matches_numpy_up_to_column_signs(n):
    A = sn.symarray("a", (n, n))
    w, v = np.linalg.eigh(A)
    for _ in range(25):
        S = _sym(n)
        ww, vv = np.linalg.eigh(S)
        gw, gv = _eval(w, A, S), _eval(v, A, S)
        np.testing.assert_allclose(gw, ww, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.abs(np.sum(gv * vv, axis=0)), 1.0, atol=1e-12)
        np.testing.assert_allclose(gv.T @ gv, np.eye(n), atol=1e-12)  # orthonormal
        np.testing.assert_allclose(S @ gv, gv * gw, atol=1e-11)  # A v = λ v


def test_eigh_reads_one_triangle_as_numpy_does():
    A = sn.symarray("a", (3, 3))
    res = np.linalg.eigh(A, UPLO="U")
    assert isinstance(res, tuple) and len(res) == 2
    M = RNG.normal(size=(3, 3))  # not symmetric: only the upper triangle counts, as in numpy
    np.testing.assert_allclose(_eval(res[0], A, M), np.linalg.eigh(M, UPLO="U")[0], rtol=1e-12)
    np.testing.assert_allclose(_eval(np.linalg.eigvalsh(A), A, M), np.linalg.eigvalsh(M),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="UPLO"):
        np.linalg.eigh(A, UPLO="X")


def test_sign_convention():
    A2, A3 = sn.symarray("a", (2, 2)), sn.symarray("b", (3, 3))
    v2, v3 = np.linalg.eigh(A2)[1], np.linalg.eigh(A3)[1]
    for _ in range(20):
        g2 = _eval(v2, A2, _sym(2))
        theta = np.arctan2(g2[1, 1], g2[0, 1])  # column 2 = (cos θ, sin θ), θ ∈ (−π/2, π/2]
        assert -np.pi / 2 < theta <= np.pi / 2
        np.testing.assert_allclose(g2[:, 0], [-g2[1, 1], g2[0, 1]])
        g3 = _eval(v3, A3, _sym(3))
        big = g3[np.argmax(np.abs(g3), axis=0), range(3)]
        assert (big > 0).all()


@pytest.mark.parametrize("n", [2, 3])
def test_derivatives_match_finite_differences(n):
    C = RNG.normal(size=(n, n))

    def f(X):  # eigenvalues and eigenvectors in one smooth scalar (signs fixed by convention)
        w, v = np.linalg.eigh(X)
        return np.sum(w * C[0]) + np.sum(v * C)

    g = sn.grad(f)
    for _ in range(3):
        S = _sym(n)
        got = np.asarray(g(S), np.float64)
        fd = np.zeros((n, n))
        h = 1e-6
        for i in range(n):
            for j in range(n):
                E = np.zeros((n, n))
                E[i, j] = h
                fd[i, j] = (sn.trace(f, S)(S + E) - sn.trace(f, S)(S - E)) / (2 * h)
        np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6)
        assert np.all(np.triu(got, 1) == 0)  # the upper triangle is never read


def test_eigenvalue_gradient_is_the_outer_product_of_its_vector():
    S = _sym(3)
    _, vv = np.linalg.eigh(S)
    for k in range(3):
        g = np.asarray(sn.grad(lambda X, k=k: np.linalg.eigvalsh(X)[k])(S), np.float64)
        want = np.outer(vv[:, k], vv[:, k])
        want = np.tril(2 * want) - np.diag(np.diag(want))  # lower triangle: symmetric pairs
        np.testing.assert_allclose(g, want, atol=1e-9)


def test_degenerate_inputs_give_exact_eigenvalues():
    A2, A3 = sn.symarray("a", (2, 2)), sn.symarray("b", (3, 3))
    np.testing.assert_array_equal(_eval(np.linalg.eigvalsh(A3), A3, 2.5 * np.eye(3)), [2.5] * 3)
    np.testing.assert_array_equal(_eval(np.linalg.eigh(A2)[0], A2, np.eye(2)), [1.0, 1.0])
    D = np.diag([1.0, 1.0, 4.0])  # a double eigenvalue: values still right
    np.testing.assert_allclose(_eval(np.linalg.eigvalsh(A3), A3, D), [1.0, 1.0, 4.0],
                               atol=1e-7)


def test_compiled_eigh_matches_numpy(tmp_path):
    k = sn.compile(lambda X: np.linalg.eigh(X), backend="llvm", cache_dir=str(tmp_path))
    S = _sym(3)
    w, v = k(S)
    ww, vv = np.linalg.eigh(S)
    np.testing.assert_allclose(w, ww, rtol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(np.asarray(v) * vv, axis=0)), 1.0, atol=1e-12)
