"""Kernels without Python in the loop (symnum.backends.interop): C function pointers, ctypes,
calls from numba-compiled code, scipy.LowLevelCallable, and sparse Jacobians filled in place."""

from __future__ import annotations

import ctypes

import numba
import numpy as np
import pytest
import scipy.integrate as si

import symnum as sn
from symnum.autodiff.sparsity import SparseJacobian
from symnum.errors import ShapeError

x, a = sn.symbols("x a")


@pytest.fixture(scope="module", params=["llvm", "numba"])
def gauss(request):
    return sn.build_function(sn.exp(-a * x * x), x, a, backend=request.param)


def test_c_function_pointer_through_ctypes(gauss):
    assert isinstance(gauss.address, int) and gauss.address != 0
    xs, out = np.array([0.5, 2.0]), np.empty(1)
    p = ctypes.POINTER(ctypes.c_double)
    gauss.ctypes(xs.ctypes.data_as(p), out.ctypes.data_as(p))
    assert out[0] == pytest.approx(np.exp(-0.5), rel=1e-15)


def test_numba_compiled_code_calls_the_kernel(gauss):
    k = gauss.numba

    @numba.njit
    def total(n):
        xv, o, s = np.empty(2), np.empty(1), 0.0
        for i in range(n):
            xv[0], xv[1] = i / n, 2.0
            k(xv, o)
            s += o[0]
        return s

    want = sum(np.exp(-2.0 * (i / 100) ** 2) for i in range(100))
    assert total(100) == pytest.approx(want, rel=1e-13)
    with pytest.raises(ShapeError):
        k(np.empty(1), np.empty(1))  # too short: checked before the machine code runs


def test_scipy_quad_takes_a_low_level_callable(gauss):
    got = si.quad(gauss.low_level_callable(), 0.0, 1.0, args=(2.0,))
    want = si.quad(lambda t: np.exp(-2.0 * t * t), 0.0, 1.0)
    assert got[0] == pytest.approx(want[0], rel=1e-14)


def test_low_level_callable_needs_one_output():
    k = sn.build_function(np.array([x, a], dtype=object), x, a)[0]
    with pytest.raises(ShapeError, match="one scalar output"):
        k.low_level_callable()


def _chain(u):
    n = len(u)
    return np.array([u[i - 1] - 2 * u[i] + u[(i + 1) % n] + u[i] ** 2 * u[(i + 2) % n]
                     for i in range(n)], dtype=object)


@pytest.mark.parametrize("shuffle", [False, True])
def test_sparse_jacobian_fills_a_caller_owned_csr_in_place(shuffle):
    u = sn.symarray("u", 7)
    J = sn.sparse_jacobian(_chain(u), u)
    if shuffle:  # entries not in CSR order: reordered through a preallocated buffer
        perm = np.random.default_rng(1).permutation(J.nnz)
        J = SparseJacobian(J.rows[perm], J.cols[perm], [J.values[k] for k in perm], J.shape)
    sf = sn.build_function(J, u)
    A = sf.csr_structure()
    indptr, indices, data = A.indptr, A.indices, A.data
    for seed in range(3):
        u0 = np.random.default_rng(seed).uniform(-1, 1, 7)
        assert sf.csr(u0, out=A) is A
        assert A.indptr is indptr and A.indices is indices and A.data is data
        np.testing.assert_allclose(A.toarray(), sf.csr(u0).toarray(), rtol=1e-15)
        np.testing.assert_allclose(A.toarray(), J.to_scipy(dict(zip(u, u0))).toarray(),
                                   rtol=1e-14)
    import scipy.sparse as sp

    with pytest.raises(ShapeError, match="csr_structure"):
        sf.csr(np.zeros(7), out=sp.csr_matrix((3, 3)))
