"""Reverse mode on array programs (symnum.autodiff.array_ad): gradients of array programs
against central finite differences and against the scalar-mode gradient (sn.grad of the same
Python function traced in scalar mode), per op family; the gradient program's size does not
depend on n; the compiled gradient (numba loop nests) agrees with the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.autodiff.array_ad import grad_fn, value_and_grad_fn, vjp_arrays, vjp_fn
from symnum.compile import lower
from symnum.errors import MissingRuleError, ShapeError

RNG = np.random.default_rng(7)


def fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def check(f, x, rtol=1e-6, atol=1e-6):
    """The array-mode gradient against the scalar-mode gradient and finite differences."""
    af = sn.trace(f, x, mode="array")
    g = grad_fn(af)(x)
    assert g.shape == x.shape
    ref = sn.grad(f)(x)
    np.testing.assert_allclose(g, ref, rtol=rtol, atol=atol)
    np.testing.assert_allclose(g, fd_grad(lambda v: float(f(v)), x), rtol=1e-4, atol=1e-5)
    return af


W = RNG.standard_normal((4, 3))
V = RNG.standard_normal(3)

MAPS = {
    "sin_exp": lambda x: np.sum(np.sin(x) * np.exp(0.3 * x)),
    "broadcast_row": lambda x: np.sum((x - V) ** 2 / (1.5 + np.cos(x))),
    "broadcast_col": lambda x: np.sum(x * x[:, :1] + np.tanh(x[:1, :])),
    "where": lambda x: np.sum(np.where(x > 0.1, x ** 3, -2.0 * x)),
    "maximum": lambda x: np.sum(np.maximum(x, 0.2) * np.minimum(x, W)),
    "log_sqrt": lambda x: np.sum(np.log(1 + x ** 2) + np.sqrt(5 + x)),
    "abs_div": lambda x: np.sum(np.abs(x - 0.05) / (2 + x ** 2)),
}

REDUCTIONS = {
    "sum_axis": lambda x: np.sum(np.sum(x ** 2, axis=0) * V),
    "sum_keepdims": lambda x: np.sum(x / np.sum(x ** 2 + 1, axis=1, keepdims=True)),
    "prod": lambda x: np.sum(np.prod(x + 2.0, axis=1)),
    "max": lambda x: np.sum(np.max(x, axis=0) ** 2) + np.min(x),
    "mean_var_std": lambda x: np.mean(x) * np.var(x, axis=1).sum() + np.std(x),
    "logsumexp": lambda x: np.sum(np.log(np.sum(np.exp(x - np.max(x, axis=1, keepdims=True)),
                                                axis=1))),
    "cumsum": lambda x: np.sum(np.cumsum(x, axis=1) ** 2) + np.sum(np.sin(np.cumsum(x))),
    "cumprod": lambda x: np.sum(np.cumprod(x, axis=1) * W) + np.sum(np.cumprod(x[:, 0] + 2)),
    "cummax": lambda x: np.sum(np.maximum.accumulate(x, axis=0) ** 2 * W),
    "cummin": lambda x: np.sum(np.sin(np.minimum.accumulate(x.ravel())) * np.arange(12.0)),
}

INDEX = {
    "slices": lambda x: np.sum(x[1:, :] * x[:-1, :]) + np.sum(x[::2, 1:] ** 2),
    "negative_step": lambda x: np.sum(x[::-1, ::-2] * W[:, ::2]),
    "int_and_newaxis": lambda x: np.sum(x[2] ** 3) + np.sum(x[None, :, 1] * x[:, 2]),
    "roll": lambda x: np.sum(np.roll(x, 1, axis=0) * x) + np.sum(np.roll(x, -2) ** 2 * W),
    "transpose_reshape": lambda x: np.sum(x.T @ W * np.eye(3)) + np.sum(x.reshape(6, 2) ** 3),
    "concatenate_stack": lambda x: np.sum(np.concatenate([x, x[:2] ** 2], axis=0) ** 2) +
    np.sum(np.stack([x[:, 0], x[:, 1]]) * 3),
    "pad": lambda x: np.sum(np.pad(x, ((1, 2), (0, 1))) * np.arange(28.0).reshape(7, 4)),
    "broadcast_to": lambda x: np.sum(np.broadcast_to(x[:, :1], (4, 5)) ** 2),
    "flip": lambda x: np.sum(np.flip(x) * W),
}

CONTRACTIONS = {
    "matmul": lambda x: np.sum((x @ x.T) ** 2),
    "matvec": lambda x: np.sum(np.tanh(x @ V)),
    "einsum": lambda x: np.einsum("ij,ij->", x, W) + np.sum(np.einsum("ij->j", x ** 2)),
    "outer_dot": lambda x: np.sum(np.outer(x[0], x[1])) + np.dot(x[2], x[3]),
    "tensordot": lambda x: np.sum(np.tensordot(x, W, axes=([0], [0])) ** 2),
}

GATHERS = {
    "take_repeats": lambda x: np.sum(np.take(x, [0, 2, 2, 1, 2], axis=1) ** 2 * 1.5),
    "fancy": lambda x: np.sum(x[np.array([3, 0, 3])] * x[:3]),
    "mask": lambda x: np.sum(x[np.array([True, False, True, True])] ** 3),
    "repeat": lambda x: np.sum(np.repeat(x, 2, axis=0) * np.arange(8.0)[:, None]),
    "diag_tri": lambda x: np.sum(np.diag(x[:3]) ** 2) + np.sum(np.triu(x) ** 2),
}


@pytest.mark.parametrize("family", [MAPS, REDUCTIONS, INDEX, CONTRACTIONS, GATHERS],
                         ids=["maps", "reductions", "index", "contractions", "gathers"])
def test_gradients_per_op_family(family):
    x = RNG.standard_normal((4, 3))
    for name, f in family.items():
        try:
            check(f, x)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


def test_scalar_inputs_and_argnums():
    def f(x, a, y):
        return np.sum(a * np.sin(x) * y) + a ** 2 * np.sum(y)

    x, y = RNG.standard_normal(5), RNG.standard_normal(5)
    af = sn.trace(f, x, 0.7, y, mode="array")
    gx, ga, gy = grad_fn(af, (0, 1, 2))(x, 0.7, y)
    np.testing.assert_allclose(gx, 0.7 * np.cos(x) * y)
    np.testing.assert_allclose(ga, np.sum(np.sin(x) * y) + 1.4 * np.sum(y))
    np.testing.assert_allclose(gy, 0.7 * np.sin(x) + 0.49)
    val, g = value_and_grad_fn(af, 1)(x, 0.7, y)
    np.testing.assert_allclose(val, f(x, 0.7, y))
    np.testing.assert_allclose(g, ga)


def test_vjp_of_array_outputs_and_pytrees():
    def f(p):
        return {"u": np.sin(p["a"]) @ p["b"], "v": np.sum(p["a"] ** 2)}

    p = {"a": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2)}
    vf = vjp_fn(sn.trace(f, p, mode="array"))
    cu, cv = RNG.standard_normal(3), 0.3
    ga, gb = vf(p, (cu, cv))  # cotangents in the flat-output order: u then v
    np.testing.assert_allclose(ga, np.cos(p["a"]) * np.outer(cu, p["b"]) + 0.6 * p["a"])
    np.testing.assert_allclose(gb, np.sin(p["a"]).T @ cu)


def test_sn_grad_entry_points():
    def rosen(x):
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    from scipy.optimize import rosen_der

    x = RNG.standard_normal(7)
    af = sn.trace(rosen, x, mode="array")
    np.testing.assert_allclose(sn.grad(af)(x), rosen_der(x))  # grad of an ArrayFn: an ArrayFn
    assert isinstance(sn.grad(af), sn.ArrayFn)
    v, g = sn.value_and_grad(af)(x)
    np.testing.assert_allclose(g, rosen_der(x))
    np.testing.assert_allclose(v, rosen(x))
    with pytest.raises(ValueError, match="mode"):
        sn.grad(rosen, mode="arrays")


@pytest.mark.parametrize("f", [
    lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2),
    lambda x: np.sum(np.roll(x, 1) * x) - np.sum(np.cumsum(x)[::3]) + np.max(x) * np.sum(x[::2]),
    lambda x: np.sum(np.take(x, np.arange(x.shape[0]) // 2) * np.sin(x)),  # constant table
], ids=["rosenbrock", "roll_cumsum_max", "take"])
def test_gradient_size_independent_of_n(f):
    sizes = [grad_fn(sn.trace(f, np.zeros(n), mode="array")).count_ops()
             for n in (10, 1000, 100_000)]
    assert sizes[0] == sizes[1] == sizes[2], sizes


def test_bad_input():
    af = sn.trace(lambda x: x * 2, np.zeros(3), mode="array")
    with pytest.raises(ShapeError, match="one scalar output"):
        grad_fn(af)
    x = sn.array_symbol("x", (3,))
    with pytest.raises(TypeError, match="input symbols"):
        vjp_arrays([np.sum(x)], [x * 2], [1.0])
    with pytest.raises(MissingRuleError, match="Frob"):
        from symnum.arrays.ops_base import ArrayOp
        from symnum.arrays.terms import ArrayTerm

        class Frob(ArrayOp):  # an operation nobody wrote rules for
            def infer(self, args):
                return args[0].shape, "float64"

        grad_fn(sn.ArrayFn((x,), np.sum(ArrayTerm(Frob(), (x,)))))


def test_every_array_operation_has_both_rules():
    """Walks every ArrayOp class (symnum.arrays and anything registered later) and asks for a
    VJP and a JVP rule: a new operation without them fails here, not in a user's program."""
    import symnum.arrays.ops_gather  # noqa: F401  (every op module loaded)
    import symnum.arrays.ops_index  # noqa: F401
    import symnum.arrays.ops_map  # noqa: F401
    import symnum.arrays.ops_reduce  # noqa: F401
    from symnum.arrays.ops_base import ArrayOp
    from symnum.autodiff.array_jvp import JVP_RULES
    from symnum.autodiff.array_rules import VJP_RULES

    def walk(c):
        for s in c.__subclasses__():
            yield s
            yield from walk(s)

    ops = {c for c in walk(ArrayOp) if c.__module__.startswith(("symnum.", "backends."))
           and not getattr(c, "marker", False)}  # a reverse sweep's internal placeholders
    assert len(ops) >= 12
    missing = sorted(c.__name__ for c in ops if c not in VJP_RULES or c not in JVP_RULES)
    assert not missing, f"array operations without a VJP or JVP rule: {missing}"


@pytest.mark.parametrize("kind", ["max", "min"])
def test_cummax_ties_follow_the_scalar_path(kind):
    acc = np.maximum.accumulate if kind == "max" else np.minimum.accumulate

    def f(x):
        return np.sum(acc(x, axis=1) * W ** 2)

    x = np.array([[1.0, 1.0, 0.5], [0.0, 2.0, 2.0], [3.0, 3.0, 3.0], [-1.0, 0.5, -1.0]])
    af = sn.trace(f, x, mode="array")
    np.testing.assert_allclose(grad_fn(af)(x), sn.grad(f)(x), rtol=1e-12)
    v = RNG.standard_normal(x.shape)
    _, (t,) = jvp_fn(af)(x, (v,))
    np.testing.assert_allclose(t, np.sum(sn.grad(f)(x) * v), rtol=1e-12)
    # O(1) terms (a segment collect over the records), whatever n
    sizes = [grad_fn(sn.trace(lambda x: np.sum(acc(x)), np.zeros(n), mode="array")).count_ops()
             for n in (8, 100_000)]
    assert sizes[0] == sizes[1], sizes


def test_compiled_scan_gradients():
    def f(x):
        return (np.sum(np.cumprod(x + 1.5, axis=1)) + np.sum(np.maximum.accumulate(x) ** 2)
                + np.sum(np.minimum.accumulate(x, axis=0) * W))

    x = RNG.standard_normal((4, 3))
    g = grad_fn(sn.trace(f, x, mode="array"))
    np.testing.assert_allclose(lower(g, "numba")(x), sn.grad(f)(x), rtol=1e-10, atol=1e-12)


def test_compiled_gradient_agrees_with_interpreter():
    # one kernel packing every op family (numba compiles are slow)
    def f(x, a):
        y = np.sin(x[:, 1:] * x[:, :-1]) + np.roll(x, 1, axis=0)[:, 1:] * a
        z = np.concatenate([y, x[::-2, 1:] ** 2], axis=0)
        w = np.take(z, [0, 2, 2, 1], axis=0)
        return (np.sum(w @ z.T) + np.sum(np.max(x, axis=1) ** 2) + np.sum(np.cumsum(x, axis=0))
                + np.sum(np.pad(x.T, 1) ** 2) + np.sum(np.where(x > 0, x, 0.5 * x)))

    x = RNG.standard_normal((4, 5))
    g = grad_fn(sn.trace(f, x, 0.3, mode="array"), (0, 1))
    want = g(x, 0.3)
    got = lower(g, "numba")(x, 0.3)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(want[0], sn.grad(f)(x, 0.3), rtol=1e-9, atol=1e-9)


# random programs: chains of shape-preserving steps over a vector, against scalar mode
STEPS = [
    lambda x: np.sin(x) + x,
    lambda x: np.roll(x, 2) * x,
    lambda x: x[::-1] - 0.5 * x,
    lambda x: np.cumsum(x) * 0.3,
    lambda x: x + np.sum(x ** 2) * 0.1,
    lambda x: np.concatenate([x[1:], x[:1] ** 2]),
    lambda x: np.tanh(x) * np.max(x),
    lambda x: np.exp(-x ** 2) @ np.ones((x.shape[0], x.shape[0])) * 0.2 + x,
    lambda x: np.where(x > 0, x * x, x),
    lambda x: np.pad(x[1:-1], 1) + x,
    lambda x: np.take(x, np.arange(x.shape[0])[::-1] // 2 * 2) + x,
]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, len(STEPS) - 1), min_size=1, max_size=4),
       st.integers(2, 7), st.integers(0, 2**31 - 1))
def test_random_programs_match_scalar_mode(steps, n, seed):
    def f(x):
        for s in steps:
            x = STEPS[s](x)
        return np.sum(x * np.arange(1.0, x.shape[0] + 1))

    x = np.random.default_rng(seed).standard_normal(n)
    g = grad_fn(sn.trace(f, x, mode="array"))(x)
    np.testing.assert_allclose(g, sn.grad(f)(x), rtol=1e-8, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# forward mode and Hessian-vector products (symnum.autodiff.array_jvp)

from symnum.autodiff.array_jvp import hvp_fn, jvp_fn  # noqa: E402

ALL = {**MAPS, **REDUCTIONS, **INDEX, **CONTRACTIONS, **GATHERS}


def test_jvp_is_the_transpose_of_vjp_per_op():
    x = RNG.standard_normal((4, 3))
    v = RNG.standard_normal((4, 3))
    for name, f in ALL.items():
        af = sn.trace(f, x, mode="array")
        val, (t,) = jvp_fn(af)(x, (v,))
        np.testing.assert_allclose(val, f(x), err_msg=name)
        np.testing.assert_allclose(t, np.sum(grad_fn(af)(x) * v), rtol=1e-8, atol=1e-8,
                                   err_msg=name)
        h = 1e-6
        np.testing.assert_allclose(t, (f(x + h * v) - f(x - h * v)) / (2 * h), rtol=1e-4,
                                   atol=1e-5, err_msg=name)


def test_jvp_of_array_outputs_and_scalar_inputs():
    def f(x, a):
        return np.cumsum(np.sin(x) * a)[::2], a * np.sum(x ** 2)

    x, v = RNG.standard_normal(5), RNG.standard_normal(5)
    jf = jvp_fn(sn.trace(f, x, 0.5, mode="array"))
    (y0, y1), (t0, t1) = jf(x, 0.5, (v, 0.25))
    np.testing.assert_allclose(t0, np.cumsum(np.cos(x) * v * 0.5 + np.sin(x) * 0.25)[::2])
    np.testing.assert_allclose(t1, 0.25 * np.sum(x ** 2) + 0.5 * np.sum(2 * x * v))


@pytest.mark.parametrize("name", ["sin_exp", "where", "prod", "max", "logsumexp", "slices",
                                  "cumprod", "cummax",
                                  "roll", "matmul", "tensordot", "take_repeats", "pad"])
def test_hvp_against_scalar_mode_hessian(name):
    f = ALL[name]
    x, v = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    hv = hvp_fn(sn.trace(f, x, mode="array"))(x, v)
    H = np.asarray(sn.hessian(f)(x), dtype=float).reshape(12, 12)
    np.testing.assert_allclose(hv.ravel(), H @ v.ravel(), rtol=1e-7, atol=1e-7)


def test_hvp_rosenbrock_size_independent_and_compiled():
    from scipy.optimize import rosen_hess_prod

    def rosen(x):
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    sizes = [hvp_fn(sn.trace(rosen, np.zeros(n), mode="array")).count_ops()
             for n in (10, 100_000)]
    assert sizes[0] == sizes[1]
    x, v = RNG.standard_normal(9), RNG.standard_normal(9)
    h = hvp_fn(sn.trace(rosen, x, mode="array"))
    np.testing.assert_allclose(h(x, v), rosen_hess_prod(x, v), rtol=1e-12)
    np.testing.assert_allclose(lower(h, "numba")(x, v), rosen_hess_prod(x, v), rtol=1e-12)
