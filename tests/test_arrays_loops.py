"""Array programs compiled to numba loop nests agree with the reference interpreter.

numba compiles are slow: each kernel below packs many operations into one program (one compile)."""

from __future__ import annotations

import numpy as np
import pytest
from symnum.backends.array_loops import LoopGen

import symnum as sn
from symnum.compile import lower
from symnum.errors import CompileError

pytest.importorskip("numba")

RNG = np.random.default_rng(1)
_C = RNG.standard_normal((3, 4))


def _many(x, A, p):
    """Every kind of operation the loops lower, in one program."""
    u = np.sin(x) * p + x ** 2
    return (
        np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2),  # fused reduction
        np.roll(x, 2) - 2 * x + np.roll(x, -1),                          # periodic stencil
        u[1:] - u[:-1],                                                  # shared map, read twice
        x[::-2] + x[7:1:-3].sum(),                                       # steps, negative steps
        A.T @ x[:3] + np.roll(A, 1, axis=1).sum(axis=0),                 # contraction, axes
        np.max(A, axis=1, keepdims=True) * np.min(A) + np.prod(A[:, :2], axis=0).sum(),
        np.where(A > 0, A, 0.1 * A) + x[:4][None, :],                    # select, broadcast
        np.concatenate([x[:2], np.pad(x[2:4], (1, 2), constant_values=3.0)]),
        A.reshape(4, 3).T * 2 + np.roll(A, 5),                           # reshape, flat roll
        np.einsum("ij,kj->ik", A, _C) + np.mean(A),                      # small contraction
        np.var(x) + np.std(A, axis=0).sum(),
        np.diag(A[:, :3]) + A[[2, 0, 0], 1] + np.triu(A)[1, :3],           # gathers
        p * 3.0 + np.exp(p),                                             # scalar output
        A,                                                               # input as output
    )


def test_loops_agree_with_interpreter():
    fn = sn.trace(_many, np.zeros(8), np.zeros((3, 4)), 1.0, mode="array")
    k = lower(fn, "numba")
    for _ in range(2):
        x, A, p = RNG.standard_normal(8), RNG.standard_normal((3, 4)), float(RNG.uniform())
        got, want = k(x, A, p), fn(x, A, p)
        for g, w in zip(got, want):
            assert np.shape(g) == np.shape(w)
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    assert "for " in k.source and "np.dot" not in k.source


def test_blas_contraction_and_compile_entry():
    X = RNG.standard_normal((200, 30))
    y = np.sign(RNG.standard_normal(200))

    @sn.compile(mode="array")
    def loss(w):
        return np.mean(np.log1p(np.exp(-y * (X @ w))))

    w = RNG.standard_normal(30) * 0.1
    np.testing.assert_allclose(loss(w), np.mean(np.log1p(np.exp(-y * (X @ w)))), rtol=1e-12)
    assert "np.dot" in loss.source
    assert isinstance(loss.fn, sn.ArrayFn)


def test_fused_chain_is_one_loop():
    f = sn.trace(lambda x: np.sum(np.exp(np.sin(x) * 2 + 1) - x[::-1]), np.zeros(50),
                 mode="array")
    src = LoopGen(f).source()
    assert src.count("for ") == 1 and "np.empty" not in src


def test_stencil_is_index_arithmetic():
    f = sn.trace(lambda u: np.roll(u, 1) - 2 * u + np.roll(u, -1), np.zeros(16), mode="array")
    src = LoopGen(f).source()
    assert src.count("for ") == 1 and "np.roll" not in src


def test_build_function_with_array_symbols():
    x = sn.array_symbol("x", (5,))
    p = sn.Sym("p")
    k = sn.build_function(np.sum(p * x ** 2), x, p, backend="numba")
    v = RNG.standard_normal(5)
    np.testing.assert_allclose(k(v, 2.0), np.sum(2.0 * v ** 2))
    knp = sn.build_function(np.sum(p * x ** 2), x, p, backend="numpy")
    np.testing.assert_allclose(knp(v, 2.0), np.sum(2.0 * v ** 2))


def test_other_backends_say_what_to_do():
    f = sn.trace(lambda x: x * 2, np.zeros(3), mode="array")
    with pytest.raises(CompileError, match="numba"):
        lower(f, "llvm")
