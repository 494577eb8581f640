"""The llvm backend's vector row loop: libmvec transcendentals within 4 ulp of the exact value
over each function's whole input range, numpy's NaN/inf/±0 behaviour, every op in vector form,
and exact scalar libm wherever vector math is off (fastmath=False, the remainder rows)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from symnum.backends import lower  # noqa: E402
from symnum.backends.llvm_backend import simd_target  # noqa: E402
from symnum.backends.llvm_ir import SimdTarget, emit_ir  # noqa: E402
from symnum.backends.schedule import schedule  # noqa: E402
from test_llvm_backend import X2, Y2, assert_same, every_op, reference  # noqa: E402

import symnum as sn  # noqa: E402
from symnum.testing.ulp import FUNCTIONS, SPECIAL, sample, ulp_error  # noqa: E402

MAX_ULP = 4.0
needs_libmvec = pytest.mark.skipif(
    (simd_target("float64", True, None) or SimdTarget(1, libmvec=False)).libmvec is False,
    reason="no glibc libmvec (≥ 2.35) or not x86-64: vector math is off here")


def test_the_ir_calls_libmvec_in_a_vector_loop_and_scalar_libm_in_the_tail():
    x, y = sn.symbols("x y")
    s = schedule([x, y], [sn.sin(x) * sn.exp(-x * x) + sn.tanh(y), x ** y])
    text = emit_ir(s, simd=SimdTarget(4, "d")).text
    assert "call <4 x double> @_ZGVdN4v_sin(<4 x double>" in text
    assert "@_ZGVdN4v_tanh" in text and "@_ZGVdN4vv_pow" in text
    assert "call double @tanh(double" in text  # the scalar tail and `kernel`
    assert "%vrows = and i64 %rows, -4" in text
    f32 = emit_ir(s, "float32", simd=SimdTarget(16, "e")).text
    assert "@_ZGVeN16v_sinf(<16 x float>" in f32 and "@_ZGVeN16vv_powf" in f32
    # without libmvec the vector body keeps scalar libm: intrinsics the code generator splits
    # into per-lane calls, and lane-by-lane calls to the rest
    exact = emit_ir(s, simd=SimdTarget(4, "d", libmvec=False)).text
    assert "_ZGV" not in exact and "@llvm.sin.v4f64" in exact
    assert "call double @tanh(double %vt" in exact
    assert "<4 x" not in emit_ir(s).text  # no simd target: the scalar loop only


@pytest.mark.parametrize("layout", ["inline", "one function", "shards"])
@pytest.mark.parametrize("simd_kind", ["exact", "libmvec"])
def test_every_op_in_vector_form_matches_numpy_on_special_values(simd_kind, layout):
    fn = sn.trace(every_op, 1.0, 2.0)
    exact = simd_kind == "exact"
    if not exact and not simd_target("float64", True, None):
        pytest.skip("no libmvec here")
    opts = {"inline": {}, "one function": {"inline_batched": False},
            "shards": {"shard": 7}}[layout]
    c = lower(fn, "llvm", cache=False, simd=True, vecmath=not exact, **opts)
    assert c.info["simd"] is not None
    assert (c.info["functions"] > 1) == (layout == "shards")
    assert ("@kernel_v" in c.source) == (layout != "inline")
    scalar = lower(fn, "llvm", cache=False, simd=False, **opts)
    got, base = c(X2, Y2), scalar(X2, Y2)  # 121 rows: whole vectors and a remainder
    for k, (g, b, w) in enumerate(zip(got, base, reference(fn, X2, Y2))):
        if exact:  # vector arithmetic and per-lane libm: the same bits as the scalar loop
            np.testing.assert_array_equal(g, b, err_msg=f"output {k}")
        else:
            assert_same(g, w, rtol=MAX_ULP * 2.3e-16)


def test_a_vector_loop_over_many_inputs_and_outputs_is_exact_without_vector_math():
    xs = sn.symbols("a b c d e f")

    def f(*v):
        return [v[0] * v[1] - v[2], sn.tan(v[3]) + v[4] / v[5], sn.maximum(v[0], v[5])]

    fn = sn.Fn(list(xs), f(*xs))
    X = np.random.default_rng(1).normal(size=(6, 37))
    c = lower(fn, "llvm", cache=False, simd=True, vecmath=False)
    s = lower(fn, "llvm", cache=False, simd=False)
    for g, b in zip(c(*X), s(*X)):
        np.testing.assert_array_equal(g, b)


@needs_libmvec
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_libmvec_within_4_ulp_over_the_whole_range_and_numpy_on_special_values(name, dtype):
    g, arity, (lo, hi) = FUNCTIONS[name]
    args = [sample(20_000, lo, hi, dtype, seed=s) for s in range(arity)]
    if name == "pow":
        args = [np.abs(args[0]), sample(20_000, -30.0, 30.0, dtype, seed=1)]
    c = lower(sn.trace(g, *([1.0] * arity)), "llvm", cache=False, dtype=dtype, vecmath=True)
    assert "libmvec" in c.info["simd"]
    with np.errstate(all="ignore"):
        ref = g(*[a.astype(np.longdouble) for a in args])
    err = ulp_error(c(*args), ref, dtype)
    assert err.max() <= MAX_ULP, (name, dtype, float(err.max()))
    # special values, each repeated so that some land in vector lanes and some in the tail
    with np.errstate(all="ignore"):  # (1e300 and friends overflow to inf in float32)
        if arity == 1:
            sp = [SPECIAL.astype(dtype)]
        else:
            sp = [np.repeat(SPECIAL, SPECIAL.size).astype(dtype),
                  np.tile(SPECIAL, SPECIAL.size).astype(dtype)]
        want = g(*sp)
    for got in (c(*[np.concatenate([a, a[:5]]) for a in sp])[:want.size], c(*[a[:3] for a in sp])):
        w = want[:got.size]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(w))
        exact = np.isinf(w) | (w == 0) | np.isinf(got) | (got == 0)
        np.testing.assert_array_equal(got[exact], w[exact])
        np.testing.assert_array_equal(np.signbit(got[exact]), np.signbit(w[exact]))
        assert ulp_error(got, w.astype(np.longdouble), dtype).max() <= 2 * MAX_ULP


@needs_libmvec
def test_fastmath_false_keeps_exact_scalar_libm_and_the_tail_rows_stay_scalar():
    fn = sn.trace(lambda x: np.sin(x) + np.log1p(x * x), 1.0)
    x = np.random.default_rng(2).uniform(-100, 100, 1003)
    libm = np.array([math.sin(v) + math.log1p(v * v) for v in x])
    exact = lower(fn, "llvm", cache=False)  # fastmath=False: vecmath off by default
    assert exact.info["simd"] is None
    np.testing.assert_array_equal(exact(x), libm)
    fast = lower(fn, "llvm", cache=False, vecmath=True)
    lanes = int(fast.info["simd"].split()[0])
    y = fast(x)
    tail = x.size % lanes
    np.testing.assert_array_equal(y[x.size - tail:], libm[x.size - tail:])
    assert ulp_error(y, libm).max() <= 2 * MAX_ULP  # (each function ≤ 4 ulp, then one add)
    assert fast(x[:1])[0] == libm[0]  # one row: `kernel`, scalar libm


def test_simd_target_follows_the_options():
    assert simd_target("float64", False, None) is None
    narrow = simd_target("float64", False, None, narrow=True)  # few inputs and outputs
    assert narrow is not None and not narrow.libmvec
    assert simd_target("float64", True, False) is None
    t = simd_target("float64", False, True)
    assert t is not None and not t.libmvec and t.lanes >= 2
    t32 = simd_target("float32", False, True)
    assert t32.lanes == 2 * t.lanes


@pytest.mark.parametrize("vecmath", [False, True])
def test_vectorize_with_the_llvm_backend_broadcasts_like_numpy(vecmath):
    if vecmath and not simd_target("float64", True, None):
        pytest.skip("no libmvec here")

    def f(x, y):
        return np.sin(x) * y + np.exp(-x * x), x - y

    e = sn.vectorize(f, backend="llvm", vecmath=vecmath, cache=False)
    x = np.linspace(-3, 3, 37).reshape(37, 1)
    y = np.linspace(0, 1, 5)
    got, want = e(x, y), f(x, y)
    for g, w in zip(got, want):
        assert g.shape == (37, 5) and g.dtype == np.float64
        np.testing.assert_allclose(g, w, rtol=1e-15 if not vecmath else 1e-14, atol=1e-15)
    g32 = e(x.astype(np.float32), 2.0)[0]  # a Python float does not widen float32
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, f(x, 2.0)[0], rtol=1e-6, atol=1e-6)
    s = e(0.5, 2.0)
    assert isinstance(s[0], np.float64) and s[0] == pytest.approx(f(0.5, 2.0)[0], rel=1e-15)


def test_kernels_with_a_constant_table_keep_the_scalar_row_loop():
    x = sn.Sym("x")
    fn = sn.Fn([x], [sn.sin(x)] + [float(k) for k in range(40)])
    c = lower(fn, "llvm", cache=False, simd=True)
    assert c.info["simd"] is None and "<" not in c.source.split("@batched")[1].split("}")[0]
    out = c(np.array([0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(out[0], np.sin([0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(out[40], [39.0] * 3)


def test_narrow_kernels_get_the_exact_vector_loop_by_default():
    x = sn.Sym("x")
    fn = sn.Fn([x], [sum((0.1 * (k + 1)) * x ** k for k in range(8)) + sn.sqrt(sn.abs(x))])
    c = lower(fn, "llvm", cache=False)
    assert c.info["simd"] is not None and "scalar libm" in c.info["simd"]
    s = lower(fn, "llvm", cache=False, simd=False)
    assert s.info["simd"] is None
    v = np.random.default_rng(3).uniform(-2, 2, 1001)
    np.testing.assert_array_equal(c(v), s(v))
    wide = sn.Fn(list(sn.symbols("a b c d e")), [sn.Sym("a") + sn.Sym("e")])
    assert lower(wide, "llvm", cache=False).info["simd"] is None
    calls_libm = sn.Fn([x], [sn.tan(x) * x])  # scalar calls per lane would only cost
    assert lower(calls_libm, "llvm", cache=False).info["simd"] is None
