"""Registering primitives (symnum/core/op.py): a declared lowering is checked against the impl,
built-ins cannot be replaced; an op without a lowering runs its numpy implementation in numba
kernels (object mode) and llvm kernels (a ctypes callback), and fails on CUDA naming it.
"""

from __future__ import annotations

import numpy as np
import pytest
from symnum.backends import lower
from symnum.backends.llvm_ir import known_ops
from symnum.backends.pysource import instr_src

import symnum as sn
from symnum.core.op import LOWERING_NAMES, PRIMITIVES, get_op
from symnum.errors import CompileError, RegistrationError


@pytest.fixture
def registry():
    """Leave the global registry as it was."""
    before = dict(PRIMITIVES)
    yield
    PRIMITIVES.clear()
    PRIMITIVES.update(before)


def test_lowering_that_disagrees_with_impl_is_refused(registry):
    # issue 13: impl 2*a with lower="sin" gave 2.0 on numpy and 0.84 on llvm/numba
    with pytest.raises(RegistrationError, match=r"lowers to 'sin'.*disagrees.*-5\.4"):
        sn.register("op_twice_as_sin", lambda a: 2 * a, lower="sin")
    assert "op_twice_as_sin" not in PRIMITIVES


def test_op_named_like_a_backend_function_is_checked(registry):
    with pytest.raises(RegistrationError, match="lowers to 'fabs'.*rename the op"):
        sn.register("fabs", lambda a: 2 * a)
    ok = sn.register("fabs", np.abs)  # the same name with the same meaning is fine
    x = sn.symbols("x")
    assert float(lower(sn.Fn([x], ok(x)), "llvm", cache=False)(-2.5)) == 2.5


def test_unknown_lowering_name_is_refused_with_the_known_names(registry):
    with pytest.raises(RegistrationError, match="which no backend knows.*acos, acosh, add, asin"):
        sn.register("op_frob", np.sin, lower="frobnicate")


@pytest.mark.parametrize("nargs, lowering", [(1, "atan2"), (2, "erf")])
def test_lowering_of_another_arity_is_refused(registry, nargs, lowering):
    impl = np.sin if nargs == 1 else np.hypot
    with pytest.raises(RegistrationError, match="argument"):
        sn.register("op_arity", impl, nargs=nargs, lower=lowering)


def test_impl_that_is_not_elementwise_numpy_is_refused_when_lowered(registry):
    import math

    with pytest.raises(RegistrationError, match="failed on arrays"):
        sn.register("op_scalar_only", math.sin, lower="sin")


def test_right_lowerings_compile_to_what_numpy_computes(registry):
    from scipy.special import erf

    my_erf = sn.register("op_my_erf", erf, lower="erf")  # a different implementation, same math
    my_hyp = sn.register("op_my_hyp", lambda a, b: np.sqrt(a * a + b * b), nargs=2,
                         lower="hypot")
    x, y = sn.symbols("x y")
    fn = sn.Fn([x, y], my_erf(x) * my_hyp(x, y))
    want = float(sn.evaluate(fn.flat_outputs[0], {x: 0.4, y: -1.5}))
    for backend in ("llvm", "numba"):
        assert float(lower(fn, backend)(0.4, -1.5)) == pytest.approx(want, rel=1e-12)


def test_builtin_cannot_be_replaced(registry):
    with pytest.raises(RegistrationError, match="'sin' is a built-in primitive"):
        sn.register("sin", lambda a: 2 * a, replace=True)
    x = sn.symbols("x")
    assert get_op("sin") is sn.sin and float(sn.evaluate(sn.sin(x), {x: 1.0})) == np.sin(1.0)


def test_user_op_can_be_replaced(registry):
    first = sn.register("op_user", np.sin)
    second = sn.register("op_user", np.cos, replace=True)
    assert get_op("op_user") is second and second is not first
    x = sn.symbols("x")
    assert float(sn.evaluate(second(x), {x: 0.0})) == 1.0


def test_op_without_lowering_fails_on_cuda_naming_it(registry):
    from symnum.backends.cuda_source import generate

    op = sn.register("op_softplus_nolower", lambda a: np.log1p(np.exp(a)))
    x = sn.symbols("x")
    with pytest.raises(CompileError, match="op_softplus_nolower"):
        generate(sn.Fn([x], op(x) * 2), "float64")


def test_variadic_op_without_lowering_fails_on_llvm_naming_it(registry):
    cat = sn.register("op_variadic_nolower", lambda *v: np.sum(v, axis=0), nargs=None)
    x, y = sn.symbols("x y")
    with pytest.raises(CompileError, match="op_variadic_nolower"):
        lower(sn.Fn([x, y], cat(x, y)), "llvm", cache=False)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_op_without_lowering_runs_its_impl_on_llvm(registry, tmp_path, dtype):
    """llvm kernels call back into the numpy implementation through a ctypes callback linked
    under a symbol named by the op (so cached object code links again in a new process)."""
    op = sn.register("op_softplus_cb", lambda a: np.log1p(np.exp(a)))
    x, y = sn.symbols("x y")
    fn = sn.Fn([x, y], op(x) * y + sn.sin(y))
    want = lambda a, b: np.log1p(np.exp(a)) * b + np.sin(b)  # noqa: E731
    rtol = 1e-14 if dtype == "float64" else 1e-6
    k = lower(fn, "llvm", dtype=dtype, cache_dir=tmp_path)
    assert float(k(0.3, 2.0)) == pytest.approx(want(0.3, 2.0), rel=rtol)
    X = np.random.default_rng(0).uniform(-2, 2, (64, 2)).astype(dtype)
    out = np.empty((64, 1), dtype)
    k.batched(X, out)
    np.testing.assert_allclose(out[:, 0], want(X[:, 0].astype(float), X[:, 1].astype(float)),
                               rtol=rtol)
    again = lower(fn, "llvm", dtype=dtype, cache_dir=tmp_path)  # object code from the cache
    assert again.info["cache_hit"] and float(again(0.3, 2.0)) == float(k(0.3, 2.0))
    _replaced_op_keeps_backends_agreeing(fn, "op_softplus_cb", "llvm", dtype=dtype, cache=False)


def _replaced_op_keeps_backends_agreeing(fn, name, backend, **options):
    """After register(name, ..., replace=True), terms built with the old Op keep its impl in
    kernels as in the reference interpreter, and the new Op's terms use the new impl."""
    x, y = fn.flat_inputs
    new = sn.register(name, lambda a: 2 * a, replace=True)
    for f in (fn, sn.Fn([x, y], new(x) * y + sn.sin(y))):
        want = float(lower(f, "numpy")(0.3, 2.0))
        assert float(lower(f, backend, **options)(0.3, 2.0)) == pytest.approx(want, rel=1e-6)


def test_op_without_lowering_runs_its_impl_on_numba(registry):
    """numba kernels call the numpy implementation in object mode (slow, correct), looked up
    at each call: re-registering the op with replace=True is honoured by a compiled kernel."""
    op = sn.register("op_softplus_fallback", lambda a: np.log1p(np.exp(a)))
    x, y = sn.symbols("x y")
    fn = sn.Fn([x, y], op(x) * y + sn.sin(y))
    k = lower(fn, "numba")
    want = lambda a, b: np.log1p(np.exp(a)) * b + np.sin(b)  # noqa: E731
    assert float(k(0.3, 2.0)) == pytest.approx(want(0.3, 2.0), rel=1e-14)
    X = np.random.default_rng(0).uniform(-2, 2, (64, 2))
    out = np.empty((64, 1))
    for run in (k.batched.serial, k.batched.parallel):
        run(X, out)
        np.testing.assert_allclose(out[:, 0], want(X[:, 0], X[:, 1]), rtol=1e-14)
    _replaced_op_keeps_backends_agreeing(fn, "op_softplus_fallback", "numba")


def test_lowering_names_are_what_the_backends_lower():
    assert LOWERING_NAMES == known_ops()
    for name in LOWERING_NAMES:  # numba's source generator has a spelling for each
        instr_src(name, ["a", "b", "c"][: 3 if name in ("fma", "select") else 2])
