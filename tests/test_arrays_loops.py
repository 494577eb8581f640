"""Array programs compiled to numba loop nests agree with the reference interpreter.

numba compiles are slow: each kernel below packs many operations into one program (one compile)."""

from __future__ import annotations

import numpy as np
import pytest
from _array_cases import index_op
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.backends.array_loops import LoopGen

import symnum as sn
from symnum.compile import lower
from symnum.errors import SizeLimitError

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
        np.cumsum(A, axis=1) + np.maximum.accumulate(x[:4]),              # scans
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
    assert "np.dot" in loss.lower(w).plan
    assert isinstance(loss.fn, sn.ArrayFn)


def test_fused_chain_is_one_loop():
    f = sn.trace(lambda x: np.sum(np.exp(np.sin(x) * 2 + 1) - x[::-1]), np.zeros(50),
                 mode="array")
    src = LoopGen(f).source()
    assert src.count("for ") == 1 and "np.empty" not in src


def test_stencil_is_index_arithmetic():
    f = sn.trace(lambda u: np.roll(u, 1) - 2 * u + np.roll(u, -1), np.zeros(16), mode="array")
    src = LoopGen(f).source()  # peeled: the interior and two boundary loops, no conditional
    assert src.count("for ") == 3 and "np.roll" not in src and " if " not in src
    assert "range(1, 15)" in src
    src = LoopGen(f, peel=1).source()  # unpeeled: one loop, a conditional index
    assert src.count("for ") == 1 and " if " in src


def test_build_function_with_array_symbols():
    x = sn.array_symbol("x", (5,))
    p = sn.Sym("p")
    k = sn.build_function(np.sum(p * x ** 2), x, p, backend="numba")
    v = RNG.standard_normal(5)
    np.testing.assert_allclose(k(v, 2.0), np.sum(2.0 * v ** 2))
    knp = sn.build_function(np.sum(p * x ** 2), x, p, backend="numpy")
    np.testing.assert_allclose(knp(v, 2.0), np.sum(2.0 * v ** 2))


def test_other_backends_say_what_to_do():
    # a backend that cannot lower an array program (the llvm loops take float64 data) lowers
    # a small one's scalar form, and refuses a large one with a typed error naming numba
    f = sn.trace(lambda x: x * 2, np.zeros(3, np.float32), mode="array")
    np.testing.assert_allclose(lower(f, "llvm")(np.arange(3.0, dtype=np.float32)), [0, 2, 4])
    np.testing.assert_allclose(lower(f)(np.ones(3, np.float32)), 2.0)  # auto: numba loops
    big = sn.trace(lambda x: x * 2, np.zeros(10**5, np.float32), mode="array")
    with pytest.raises(SizeLimitError, match="numba"):
        lower(big, "llvm")


def _run_source(fn, *args):
    """Run the generated loop source as plain Python (no numba): checks the index arithmetic
    of the lowering quickly, on many random programs."""
    import math

    gen = LoopGen(fn)
    ns = {"np": np, "math": math, "_fma": lambda a, b, c: a * b + c}
    exec(gen.source(), ns)  # noqa: S102  (our own generated source)
    out = ns["kernel"](*args, *[c.value for c in gen.consts])
    return out


@settings(max_examples=40)
@given(st.data())
def test_loop_source_property(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    v = RNG.standard_normal(shape)
    ops = []
    ref = v
    for _ in range(data.draw(st.integers(1, 4))):
        if ref.size == 0 or ref.ndim == 0:
            break
        kind = data.draw(st.sampled_from(["slice", "int", "roll", "transpose", "flat",
                                          "newaxis", "concat", "pad"]))
        op = index_op(lambda lo, hi: data.draw(st.integers(lo, hi)), kind, ref.shape)
        mapped = data.draw(st.booleans())
        ops.append((op, mapped))
        ref = op(ref)
        ref = np.sin(ref) * ref if mapped else ref
    tail = data.draw(st.sampled_from(["none", "sum", "max", "matvec", "cumsum"]))

    def prog(x):
        for op, mapped in ops:
            x = op(x)
            x = np.sin(x) * x if mapped else x
        if tail == "sum" and x.ndim:
            return x.sum(axis=0) * 2.0
        if tail == "cumsum" and x.ndim:
            return np.cumsum(x, axis=-1) - x
        if tail == "max" and x.size:
            return np.max(x, axis=-1, keepdims=True) - x
        if tail == "matvec" and x.ndim in (1, 2):
            m = np.linspace(0.5, 1.5, 3 * x.shape[-1]).reshape(3, -1)
            return m @ (x if x.ndim == 1 else x.T)
        return x + 0.5

    fn = sn.trace(prog, v, mode="array")
    want = fn(v)
    got = _run_source(fn, v)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_kernel_call_conversions():
    f = sn.trace(lambda x: np.sum(x * x), np.zeros(10), mode="array")
    k1, k2 = lower(f, "numba"), lower(f, "numba")  # the second reuses the loaded module
    v = np.arange(20.0)
    assert k1(v[::2]) == k2(np.ascontiguousarray(v[::2])) == np.sum(v[::2] ** 2)
    assert k1(v[:10].astype(np.float32)) == np.sum(v[:10] ** 2)
    assert k1(list(range(10))) == np.sum(v[:10] ** 2)
    with pytest.raises(sn.ShapeError, match=r"\(10,\)"):
        k1(v)


def test_parallel_lowering_is_opt_in_and_agrees():
    from symnum.backends.numba_arrays import lower_array_fn

    n = 70_000  # above array_loops.PARALLEL_ELEMENTS
    f = sn.trace(lambda x: (np.sum(x[1:] * x[:-1]), np.roll(x, 1) - x, x.reshape(2, -1).sum(1)),
                 np.zeros(n), mode="array")
    serial = LoopGen(f)
    serial.source()
    assert not serial.used_prange
    k = lower_array_fn(f, parallel=True)
    assert "numba.prange" in k.source and "parallel=True" in k.source
    x = RNG.standard_normal(n)
    for g, w in zip(k(x), f(x)):
        np.testing.assert_allclose(g, w, rtol=1e-9)


def test_compile_simplifies_array_programs():
    def f(x, p):
        return np.sum(np.sin(x) ** 2 + np.cos(x) ** 2 + p * x)

    k = sn.compile(f, mode="array", simplify="rules")
    x = RNG.uniform(0.5, 1.5, 20)
    np.testing.assert_allclose(k(x, 2.0), f(x, 2.0), rtol=1e-12)
    assert "sin" not in str(k.fn.outputs) and "math.sin" not in k.source


def test_zero_pads_summed_into_one_buffer():
    # reverse mode's adjoint of slices: Σ pad(·) (one n-ary sum) writes one array, not one per
    # pad; a pad also read elsewhere keeps its own buffer
    import symnum.core.primitives as P
    from symnum.arrays.ops_map import elementwise

    def f(x):
        a = np.pad(np.sin(x[1:]), (0, 1))
        parts = [a, np.pad(x[:-1] ** 2, (1, 0)), np.pad(x[1:-1], 1)]
        return elementwise(lambda *t: P.add(*t), parts), a * 2.0

    x = RNG.standard_normal(7)
    fn = sn.trace(f, x, mode="array")
    src = LoopGen(fn, False).source()
    assert src.count("np.empty") == 3  # the sum, the shared pad a, and a * 2
    assert src.count("+=") == 3
    got, want = lower(fn, "numba")(x), fn(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-14)
