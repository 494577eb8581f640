"""The llvm backend's array loops (backends.llvm_arrays, llvm_array_ir) and the peeled stencil
plans they share with the numba renderer, checked against the reference interpreter."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _array_cases import index_op
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.backends.array_loops import LoopGen
from test_arrays_loops import _many

import symnum as sn
from symnum.compile import lower
from symnum.demo.examples import brusselator_rhs
from symnum.errors import CompileError, ShapeError

pytest.importorskip("llvmlite")
RNG = np.random.default_rng(7)


def _close(got, want, tol=1e-12):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_every_operation_agrees_with_interpreter():
    fn = sn.trace(_many, np.zeros(8), np.zeros((3, 4)), 1.0, mode="array")
    k = lower(fn, "llvm", cache=False)
    assert k.backend == "llvm" and "define void @run" in k.source and "for " in k.plan
    for _ in range(2):
        x, A, p = RNG.standard_normal(8), RNG.standard_normal((3, 4)), float(RNG.uniform())
        _close(k(x, A, p), fn(x, A, p))


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_workloads_and_reductions():
    X = RNG.standard_normal((200, 30))
    y = np.sign(RNG.standard_normal(200))
    B = RNG.standard_normal((40, 40))
    cases = [
        (rosen, (RNG.uniform(-1, 1, 50),)),
        (lambda w: np.mean(np.log1p(np.exp(-y * (X @ w)))), (RNG.standard_normal(30) * 0.1,)),
        (brusselator_rhs, (RNG.uniform(0, 1, (2, 8, 8)),)),
        (lambda A: (A.sum(axis=0), np.max(A, axis=1, keepdims=True), np.prod(A[:3], axis=1),
                    A.mean(), np.min(A.T[::-2, 1:], axis=0)), (RNG.standard_normal((5, 4)),)),
        (lambda A: np.tanh(A @ B) + A.T @ B[:, :5].sum(axis=1)[:, None].T.reshape(40),
         (RNG.standard_normal((40, 40)),)),                  # dgemm (BLAS) and loops
        (lambda v, c: (np.take(v, [3, 0, 0, 2]) * c, v[::-3] + v[-2:-9:-2].sum(),
                       np.concatenate([v, np.pad(v[:2], (2, 1))]), v > c),
         (RNG.standard_normal(9), 0.5)),
    ]
    for f, args in cases:
        fn = sn.trace(f, *args, mode="array")
        k = lower(fn, "llvm", cache=False)
        _close(k(*args), f(*args), 1e-10)
    assert "@sn_dgemm" in lower(sn.trace(cases[4][0], *cases[4][1], mode="array"), "llvm",
                                cache=False).source


def test_call_paths_and_conversions(tmp_path):
    f = sn.trace(lambda x: np.roll(x, 1) * x[::-1], np.zeros((3, 4)), mode="array")
    k = lower(f, "llvm", cache_dir=tmp_path)
    v = RNG.standard_normal((3, 4))
    _close(k(v), f(v))                                  # the one-array fast path
    _close(k(np.asfortranarray(v)), f(v))               # not C-contiguous: copied
    _close(k(v.tolist()), f(v))                         # a list: converted
    with pytest.raises(ShapeError, match=r"\(3, 4\)"):
        k(np.zeros(5))
    again = lower(f, "llvm", cache_dir=tmp_path)
    assert again.info["cache_hit"] and not k.info["cache_hit"]
    s = sn.trace(lambda x: np.sum(x * x), np.zeros(5), mode="array")
    out = lower(s, "llvm", cache=False)(np.arange(5.0))
    assert out == 30.0 and isinstance(out, np.floating)


def test_auto_prefers_llvm_and_falls_back_to_numba():
    f = sn.trace(lambda x: np.sum(x[1:] * x[:-1]), np.zeros(6), mode="array")
    assert lower(f).backend == "llvm"
    k = lower(f, parallel=True)  # numba's option: numba takes it
    assert k.backend == "numba" and k(np.arange(6.0)) == 40.0
    assert "parallel=True" in k.info["llvm_refused"]
    from symnum.backends import get_backend

    with pytest.raises(CompileError, match="parallel=True"):  # the llvm array loops refuse it
        get_backend("llvm").lower(f, parallel=True)


def _run_plan(fn, peel, *args):
    """Run a loop plan as plain Python (no compiler)."""
    gen = LoopGen(fn, peel=peel)
    ns = {"np": np, "math": math, "_fma": lambda a, b, c: a * b + c,
          "_select": lambda c, a, b: a if c else b}
    exec(gen.source(), ns)  # noqa: S102  (our own generated plan)
    return ns["kernel"](*args, *[c.value for c in gen.consts])


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_peeled_stencils_property(data):
    """Periodic stencils over random shapes and shifts: the peeled plan (every axis) equals the
    interpreter; the body is copied once per segment and carries no conditional index."""
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=2)))
    shifts = [(data.draw(st.integers(-6, 6)), data.draw(st.integers(0, len(shape) - 1)))
              for _ in range(data.draw(st.integers(1, 3)))]

    def prog(u):
        out = -2.0 * u
        for s, ax in shifts:
            out = out + np.sin(np.roll(u, s, axis=ax))
        return out, np.sum(out * np.roll(u, shifts[0][0], axis=shifts[0][1]))

    v = RNG.standard_normal(shape)
    fn = sn.trace(prog, v, mode="array")
    for g, w in zip(_run_plan(fn, 9 ** len(shape), v), prog(v)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    src = LoopGen(fn, peel=1000).source()
    assert " if " not in src


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_llvm_movement_property(data):
    """Random chains of movement operations (slices with steps, negative indices, rolls,
    transposes, reshapes, broadcasts, concatenation, pads) compiled to machine code."""
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    v = RNG.standard_normal(shape)
    ops, ref = [], v
    for _ in range(data.draw(st.integers(1, 3))):
        if ref.size == 0 or ref.ndim == 0:
            break
        kind = data.draw(st.sampled_from(["slice", "int", "roll", "transpose", "flat",
                                          "newaxis", "concat", "pad"]))
        op = index_op(lambda lo, hi: data.draw(st.integers(lo, hi)), kind, ref.shape)
        ops.append(op)
        ref = op(ref)

    def prog(x):
        for op in ops:
            x = np.exp(op(x)) - 1.0
        return x * 0.5

    fn = sn.trace(prog, v, mode="array")
    np.testing.assert_allclose(lower(fn, "llvm", cache=False)(v), prog(v), rtol=1e-12,
                               atol=1e-12)


def test_vecmath_calls_libmvec_in_vector_loops():
    from symnum.backends import llvm_libm

    def f(x):
        return np.tanh(x) * np.exp(-x * x) + np.log1p(x * x) + x ** 2.5

    x = RNG.uniform(0.1, 3.0, 1000)
    fn = sn.trace(f, x, mode="array")
    exact = lower(fn, "llvm", cache=False, vecmath=False)
    assert "_ZGV" not in exact.source and exact.info["vecmath"] == []
    np.testing.assert_allclose(exact(x), f(x), rtol=1e-15)
    if llvm_libm.libmvec() is None:
        pytest.skip("no libmvec (glibc ≥ 2.35) here")
    fast = lower(fn, "llvm", cache=False)  # the default for array loops, as numpy's SIMD
    assert "vector-function-abi-variant" in fast.source and fast.info["vecmath"]
    np.testing.assert_allclose(fast(x), f(x), rtol=4e-15)  # libmvec: ≤ 4 ulp


def test_large_matrix_vector_products_call_dgemv():
    """A loop's dot product is a reduction LLVM does not vectorise: large gemv go to BLAS, in
    both orientations, and the gradient's `i,ij->j` is recognised as one (any letters)."""
    A = RNG.standard_normal((300, 200))
    x, y = RNG.standard_normal(200), RNG.standard_normal(300)
    for f, arg in ((lambda v: np.tanh(A @ v), x), (lambda v: np.tanh(v @ A), y),
                   (lambda v: np.einsum("i,ij->j", v, A) * 2.0, y)):
        fn = sn.trace(f, arg, mode="array")
        k = lower(fn, "llvm", cache=False)
        assert "@sn_dgemv" in k.source
        np.testing.assert_allclose(k(arg), f(arg), rtol=1e-12, atol=1e-12)
    small = lower(sn.trace(lambda v: A[:4, :5] @ v, x[:5], mode="array"), "llvm", cache=False)
    assert "@sn_dgemv" not in small.source  # a few multiply-adds: loops
    np.testing.assert_allclose(small(x[:5]), A[:4, :5] @ x[:5], rtol=1e-13)


@pytest.mark.parametrize("n", [20, 300])  # loops with swapped indices; dgemm / dgemv
def test_transposed_operands_of_products(n):
    """simplify folds transposes into contractions (np.dot(a.T, c) in the plan): the llvm
    loops read them with swapped indices or pass BLAS its transpose flags — including one
    array used twice, once transposed (M @ M.T)."""
    M, N = RNG.standard_normal((n, n)), RNG.standard_normal((n, n + 3))
    x = RNG.standard_normal(n)
    for f in (lambda M, N, v: M.T @ N, lambda M, N, v: N.T @ M.T, lambda M, N, v: M @ M.T,
              lambda M, N, v: M.T @ v, lambda M, N, v: v @ M.T):
        fn = sn.simplify(sn.trace(f, M, N, x, mode="array"))
        k = lower(fn, "llvm", cache=False)
        np.testing.assert_allclose(k(M, N, x), f(M, N, x), rtol=1e-12, atol=1e-12)
