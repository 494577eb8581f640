"""The public transforms on array programs (an ArrayFn, or mode="array"): sn.jvp, sn.vjp,
sn.jacfwd, sn.jacrev, sn.hessian, sn.hvp, sn.derivative, sn.taylor and sn.laplacian go to the
array rules (symnum.autodiff.array_transforms / array_jvp / array_taylor) and never scalarise —
checked against the scalar path on the same Python function and against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_arrays_ad import STEPS

import symnum as sn
from symnum.errors import ShapeError, TransformError

RNG = np.random.default_rng(5)
W = RNG.standard_normal((3, 4))


def f(x):
    return np.sum(np.sin(x) * x[::-1]) + np.sum(np.cumprod(x + 2.0)) + np.sum(np.tanh(W @ x))


def g(x):  # an array output
    return np.concatenate([np.sin(x) * x[::-1], np.cumsum(x ** 2)[:2]])


X = RNG.standard_normal(4)
V = RNG.standard_normal(4)


def fd(fun, x, v, h=1e-6):
    return (fun(x + h * v) - fun(x - h * v)) / (2 * h)


def test_jvp_both_forms():
    af = sn.trace(g, X, mode="array")
    prog = sn.jvp(af)
    assert isinstance(prog, sn.ArrayFn)
    y, t = prog(X, V)
    np.testing.assert_allclose(y, g(X))
    np.testing.assert_allclose(t, fd(g, X, V), rtol=1e-6, atol=1e-8)
    y2, t2 = sn.jvp(g, (X,), (V,), mode="array")
    y3, t3 = sn.jvp(g, (X,), (V,))  # scalar path
    np.testing.assert_allclose(t2, t3, rtol=1e-12)
    np.testing.assert_allclose(sn.jvp(g, mode="array")(X, V)[1], t3, rtol=1e-12)
    with pytest.raises(ShapeError, match="tangents"):
        sn.jvp(g, (X,), (), mode="array")


def test_vjp_both_forms():
    u = RNG.standard_normal(6)
    out, back = sn.vjp(g, X, mode="array")
    np.testing.assert_allclose(out, g(X))
    (gx,) = back(u)
    (ref,) = sn.vjp(g, X)[1](u)
    np.testing.assert_allclose(gx, ref, rtol=1e-12)
    prog = sn.vjp(sn.trace(g, X, mode="array"))
    assert isinstance(prog, sn.ArrayFn)
    np.testing.assert_allclose(prog(X, u)[1][0], ref, rtol=1e-12)
    np.testing.assert_allclose(sn.vjp(g, mode="array")(X, u)[1][0], ref, rtol=1e-12)
    np.testing.assert_allclose(np.dot(gx, V), np.dot(u, fd(g, X, V)), rtol=1e-6)


@pytest.mark.parametrize("jac", [sn.jacfwd, sn.jacrev])
def test_jacobians(jac):
    J = jac(g, mode="array")(X)
    np.testing.assert_allclose(J, np.asarray(jac(g)(X), float), rtol=1e-12, atol=1e-14)
    assert isinstance(jac(sn.trace(g, X, mode="array")), sn.ArrayFn)

    def two(a, B):
        return {"u": np.sin(B @ a), "s": np.sum(a * a) * B[0, 1]}

    a, B = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    Ja = jac(two, argnums=(0, 1), mode="array")(a, B)
    Js = jac(two, argnums=(0, 1))(a, B)
    for key in ("u", "s"):
        for k in (0, 1):
            np.testing.assert_allclose(Ja[key][k], np.asarray(Js[key][k], float), rtol=1e-12,
                                       atol=1e-14)
            assert Ja[key][k].shape == np.shape(Js[key][k])


def test_hessian_and_hvp():
    H = sn.hessian(f, mode="array")(X)
    Hs = np.asarray(sn.hessian(f)(X), float)
    np.testing.assert_allclose(H, Hs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sn.hessian(sn.trace(f, X, mode="array"))(X), Hs, rtol=1e-10,
                               atol=1e-12)
    hv = sn.hvp(f, mode="array")(X, V)
    np.testing.assert_allclose(hv, Hs @ V, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sn.hvp(f)(X, V), Hs @ V, rtol=1e-10, atol=1e-12)  # scalar hvp
    np.testing.assert_allclose(hv, fd(sn.grad(f), X, V), rtol=1e-5, atol=1e-7)
    p, d = {"a": X, "b": X[:2]}, {"a": V, "b": V[:2]}
    hp = sn.hvp(sn.trace(lambda p: np.sum(p["a"] ** 2 * p["b"][0]), p, mode="array"))(p, d)
    np.testing.assert_allclose(hp["a"], 2 * X[0] * V + 2 * X * V[0])  # the argument's pytree
    np.testing.assert_allclose(hp["b"], [2 * np.dot(X, V), 0.0])
    with pytest.raises(TypeError, match="int argnums"):
        sn.hvp(f, argnums=(0,))
    with pytest.raises(ShapeError, match="one scalar output"):
        sn.hvp(sn.trace(g, X, mode="array"))


def test_hvp_never_materialises_the_hessian():
    def rosen(x):
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    progs = [sn.hvp(sn.trace(rosen, np.zeros(n), mode="array")) for n in (10, 1_000_000)]
    assert progs[0].count_ops() == progs[1].count_ops()
    assert progs[1].out_shapes == [(1_000_000,)]


def test_taylor_derivative_laplacian():
    cs = sn.taylor(f, order=3, mode="array")(X, V)
    np.testing.assert_allclose(np.array(cs, float), np.array(sn.taylor(f, order=3)(X, V), float),
                               rtol=1e-10)
    d2 = sn.derivative(lambda a: np.sum(np.sin(a * X)) * a, order=2, mode="array")(0.3)
    ref = sn.derivative(lambda a: np.sum(np.sin(a * X)) * a, order=2)(0.3)
    np.testing.assert_allclose(d2, ref, rtol=1e-12)  # a scalar-term subgraph inside the program
    lap = sn.laplacian(sn.trace(f, X, mode="array"))(X)
    np.testing.assert_allclose(lap, sn.laplacian(f)(X), rtol=1e-10)
    est = sn.laplacian(f, mode="array", method="stochastic", samples=4, rng=0)(X)
    assert np.isfinite(est)
    assert isinstance(sn.taylor(sn.trace(f, X, mode="array"), order=2), sn.ArrayFn)


def test_bad_input_names_what_it_got():
    for t in (sn.jvp, sn.jacfwd, sn.jacrev, sn.hvp, sn.laplacian):
        with pytest.raises(TransformError, match="int"):
            t(3, mode="array")
    with pytest.raises(ValueError, match="mode"):
        sn.hvp(f, mode="arrays")


def test_compiled_composed_index_maps():
    """Loop lowering of index maps read through other index maps (a sum index times a step or a
    stride needs its parentheses): the batched Jacobian's blocks are such reads."""
    from symnum.compile import lower

    def h(y):
        e = np.exp(y)
        return (e[::2][1:], e.reshape(3, 2)[:, 1][1:], np.roll(e[1:], 2)[::2],
                (np.outer(e, e).reshape(6, 2, 3))[:, 0, 1][3:])

    y = RNG.standard_normal(6)
    af = sn.trace(h, y, mode="array")
    for got, want in zip(lower(af, "numba")(y), h(y)):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    J = sn.jacfwd(lambda a, B: np.sum(a * a) * B[0, 1], argnums=(0, 1), mode="array")
    a, B = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    ja, jB = J(a, B)  # compiled
    np.testing.assert_allclose(ja, 2 * a * B[0, 1], rtol=1e-14)
    np.testing.assert_allclose(jB, np.where(np.arange(6).reshape(2, 3) == 1, a @ a, 0.0),
                               rtol=1e-14)


def test_array_transforms_compose():
    """An array-mode transform inside another (jacfwd(grad), jvp(grad), hvp(...) of a grad's
    component) is spliced in as array terms: the outer program is an ArrayFn whose size does
    not depend on n."""
    Hs = np.asarray(sn.hessian(f)(X), float)
    gf = sn.grad(f, mode="array")
    np.testing.assert_allclose(sn.jacfwd(gf, mode="array")(X), Hs, rtol=1e-10, atol=1e-12)
    _, hv = sn.jvp(gf, (X,), (V,), mode="array")
    np.testing.assert_allclose(hv, Hs @ V, rtol=1e-10, atol=1e-12)
    d2 = sn.grad(lambda x: sn.grad(f, mode="array")(x)[1], mode="array")(X)
    np.testing.assert_allclose(d2, Hs[1], rtol=1e-10, atol=1e-12)

    def rosen(x):
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    outer = sn.jvp(sn.grad(rosen, mode="array"), mode="array")
    sizes = [outer.fn(np.zeros(n), np.zeros(n)).count_ops() for n in (10, 100_000)]
    assert isinstance(outer.fn(np.zeros(5), np.zeros(5)), sn.ArrayFn)
    assert sizes[0] == sizes[1], sizes


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, len(STEPS) - 1), min_size=1, max_size=4),
       st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_random_programs_jvp_vjp_match_scalar_path(steps, n, seed):
    def h(x):
        for s in steps:
            x = STEPS[s](x)
        return np.tanh(x) * np.arange(1.0, x.shape[0] + 1)

    r = np.random.default_rng(seed)
    x, v, u = r.standard_normal(n), r.standard_normal(n), r.standard_normal(n)
    y, t = sn.jvp(h, (x,), (v,), mode="array")  # the array program, interpreted
    ys, ts = sn.jvp(h, (x,), (v,))
    np.testing.assert_allclose(y, np.asarray(ys, float), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t, np.asarray(ts, float), rtol=1e-8, atol=1e-8)
    (gx,) = sn.vjp(h, x, mode="array")[1](u)
    np.testing.assert_allclose(gx, np.asarray(sn.vjp(h, x)[1](u)[0], float), rtol=1e-8,
                               atol=1e-8)
    np.testing.assert_allclose(np.dot(gx, v), np.dot(u, t), rtol=1e-8, atol=1e-8)


def test_jacrev_runs_reverse_sweeps_for_few_outputs():
    """Fewer output entries than inputs: one reverse sweep per output entry (the program has no
    batch of n directions), the same values as the forward sweep and scalar mode."""
    from symnum.autodiff.array_transforms import REV_ROWS, jacobian_fn

    def few(x, A):
        return {"v": np.tanh(A @ x), "s": np.sum(np.maximum.accumulate(x) * x)}

    x, A = RNG.standard_normal(40), RNG.standard_normal((3, 40))
    fn = sn.trace(few, x, A, mode="array")
    rev, fwd = jacobian_fn(fn, (0, 1), reverse=True), jacobian_fn(fn, (0, 1))
    got, want = rev(x, A), fwd(x, A)
    ref = sn.jacrev(few, argnums=(0, 1))(x, A)
    for key in ("v", "s"):
        for k in (0, 1):
            np.testing.assert_allclose(got[key][k], want[key][k], rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(got[key][k], np.asarray(ref[key][k], float), rtol=1e-12,
                                       atol=1e-14)
    np.testing.assert_allclose(sn.jacrev(few, argnums=(0, 1), mode="array")(x, A)["v"][1],
                               want["v"][1], rtol=1e-12, atol=1e-14)
    # the forward program carries (160 directions, ...) arrays, the reverse one none
    from symnum.arrays.terms import ArrayExpr
    from symnum.core.traversal import postorder

    def widest(prog):
        return max(max(n.shape, default=0) for n in postorder(prog.flat_outputs)
                   if isinstance(n, ArrayExpr))

    assert widest(rev) < 160 <= widest(fwd)
    # more output entries than inputs, or more than REV_ROWS: the forward sweep (same program)
    for big in (sn.trace(lambda x: np.outer(x, x), np.zeros(5), mode="array"),
                sn.trace(lambda x: np.sin(x[:REV_ROWS + 1]), np.zeros(40), mode="array")):
        assert jacobian_fn(big, reverse=True).count_ops() == jacobian_fn(big).count_ops()
