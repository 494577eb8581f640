"""symnum.transforms: grad/value_and_grad/jvp/vjp/jacfwd/jacrev/hessian/derivative/taylor/
laplacian on Python functions (arrays, pytrees, argnums) and on Fn, against finite differences
of the plain numpy functions; caching; and the errors users hit.

Transformed functions are evaluated through their Fn and the reference interpreter (`run`);
one test checks that calling them directly (compiled) gives the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn
from symnum import transforms as T
from symnum import transforms_higher as TH
from symnum.errors import MissingRuleError, ShapeError
from symnum.tracing.fn import Fn, trace
from symnum.tracing.pytree import tree_flatten, tree_map, tree_unflatten


def run(tf, *args):
    """A transformed Python function evaluated by the reference interpreter."""
    return tf.fn(*args)(*args)


def fd(f, args: tuple, argnum: int = 0, h: float = 1e-4):
    """Fourth-order central differences of f (plain numpy) with respect to args[argnum]'s
    leaves: for each leaf, an array of shape out + leaf (per output leaf of f)."""
    leaves, td = tree_flatten(args[argnum])
    blocks = []
    for li, leaf in enumerate(leaves):
        base = np.asarray(leaf, dtype=float)
        cols = []
        for idx in np.ndindex(base.shape):
            vals = []
            for s in (-2, -1, 1, 2):
                pert = base.copy()
                pert[idx] += s * h
                new = list(leaves)
                new[li] = pert if base.shape else float(pert)
                a = list(args)
                a[argnum] = tree_unflatten(td, new)
                vals.append(tree_map(lambda v: np.asarray(v, dtype=float), f(*a)))
            cols.append(tree_map_n(lambda m2, m1, p1, p2: (m2 - 8 * m1 + 8 * p1 - p2) / (12 * h),
                                   vals))
        blocks.append(tree_map_n(lambda *cs, shape=base.shape: np.moveaxis(
            np.array(cs), 0, -1).reshape(np.shape(cs[0]) + shape), cols))
    return tree_unflatten(td, blocks)


def tree_map_n(f, trees: list):
    flat = [tree_flatten(t)[0] for t in trees]
    return tree_unflatten(tree_flatten(trees[0])[1], [f(*vs) for vs in zip(*flat)])


def assert_tree_close(a, b, rtol=1e-7, atol=1e-8):
    la, ta = tree_flatten(a)
    lb, tb = tree_flatten(b)
    assert ta == tb, (ta, tb)
    for u, v in zip(la, lb):
        u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
        assert u.shape == v.shape, (u.shape, v.shape)
        assert np.allclose(u, v, rtol=rtol, atol=atol), (u, v)


# plain numpy functions: they run on floats (the oracle) and trace on symbols alike


def loss(x):
    return np.sum(np.tanh(x) ** 2) + x[0] * x[1] * np.exp(-x[2] ** 2)


def two_args(x, y):
    return np.sum(np.sin(x) * y) + np.log1p(y[2] ** 2) * x[0]


def vec(x, y):
    return np.array([x[0] * y, np.sin(x[1]) + y ** 2, np.sqrt(1 + x[0] ** 2 + x[1] ** 2)])


def model(params, x):
    h = np.tanh(params["w"] * x + params["b"])
    return np.sum(h ** 2) + params["scale"][0] * h[0]


X3 = np.array([0.3, -0.7, 1.1])
Y3 = np.array([1.5, 0.2, -0.4])
PARAMS = {"w": np.array([0.5, -0.3]), "b": 0.1, "scale": [2.0]}
XS = np.array([1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# gradients


def test_grad_matches_finite_differences():
    assert_tree_close(run(T.grad(loss), X3), fd(loss, (X3,)))


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1,), -1])
def test_grad_argnums(argnums):
    got = run(T.grad(two_args, argnums=argnums), X3, Y3)
    nums = (argnums,) if isinstance(argnums, int) else argnums
    want = tuple(fd(two_args, (X3, Y3), a % 2) for a in nums)
    assert_tree_close(got, want[0] if isinstance(argnums, int) else want)


def test_grad_of_pytree_arguments():
    g = run(T.grad(model), PARAMS, XS)
    assert isinstance(g, dict) and list(g) == ["w", "b", "scale"]
    assert np.shape(g["w"]) == (2,) and np.shape(g["b"]) == () and isinstance(g["scale"], list)
    assert_tree_close(g, fd(model, (PARAMS, XS)))
    gx = run(T.grad(model, argnums=1), PARAMS, XS)
    assert_tree_close(gx, fd(model, (PARAMS, XS), 1))


def test_value_and_grad():
    v, g = run(T.value_and_grad(model), PARAMS, XS)
    assert np.isclose(v, model(PARAMS, XS), rtol=1e-14)
    assert_tree_close(g, fd(model, (PARAMS, XS)))


def test_grad_on_fn_returns_fn():
    fn = trace(loss, X3)
    gfn = T.grad(fn)
    assert isinstance(gfn, Fn)
    assert_tree_close(gfn(X3), fd(loss, (X3,)))
    vg = T.value_and_grad(fn)
    assert isinstance(vg, Fn) and np.isclose(vg(X3)[0], loss(X3))


def test_grad_respects_cheap_gradient_principle():
    def rosenbrock(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    fn = trace(rosenbrock, np.zeros(200))
    assert T.grad(fn).count_ops() <= 4 * fn.count_ops()


# ---------------------------------------------------------------------------------------------
# forward and reverse mode


def test_jvp_jax_style_and_transform():
    t = (np.array([0.1, -0.2, 0.3]), 0.5)
    out, tout = T.jvp(vec, (X3[:2], 0.8), (t[0][:2], t[1]))
    J = fd(lambda x, y: vec(x, y), (X3[:2], 0.8), 0)
    Jy = fd(lambda x, y: vec(x, y), (X3[:2], 0.8), 1)
    assert np.allclose(out, vec(X3[:2], 0.8), rtol=1e-14)
    assert np.allclose(tout, J @ t[0][:2] + Jy * t[1], rtol=1e-8)
    tf = T.jvp(vec)
    out2, tout2 = run(tf, X3[:2], 0.8, t[0][:2], t[1])
    assert np.allclose(out2, out) and np.allclose(tout2, tout)
    with pytest.raises(ShapeError, match="primals"):
        T.jvp(vec, (X3[:2], 0.8), (t[0][:2],))


def test_vjp_jax_style_and_transform():
    ct = np.array([1.0, -2.0, 0.5])
    out, vjp_fun = T.vjp(vec, X3[:2], 0.8)
    gx, gy = vjp_fun(ct)
    assert np.allclose(out, vec(X3[:2], 0.8))
    assert np.allclose(gx, ct @ fd(vec, (X3[:2], 0.8), 0), rtol=1e-8)
    assert np.allclose(gy, ct @ fd(vec, (X3[:2], 0.8), 1), rtol=1e-8)
    out2, (gx2, gy2) = run(T.vjp(vec), X3[:2], 0.8, ct)
    assert np.allclose(out2, out) and np.allclose(gx2, gx) and np.allclose(gy2, gy)


def test_jvp_and_vjp_of_pytrees():
    tp = {"w": np.array([0.3, 1.0]), "b": -0.5, "scale": [2.0]}
    tx = np.array([0.1, -0.1])
    out, tout = T.jvp(model, (PARAMS, XS), (tp, tx))

    def along(t):
        p = tree_map_n(lambda a, b: np.asarray(a) + t * np.asarray(b), [PARAMS, tp])
        return model(p, XS + t * tx)

    h = 1e-4
    want = (along(-2 * h) - 8 * along(-h) + 8 * along(h) - along(2 * h)) / (12 * h)
    assert np.isclose(out, model(PARAMS, XS)) and np.isclose(tout, want, rtol=1e-8)
    _, vjp_fun = T.vjp(model, PARAMS, XS)
    gp, gx = vjp_fun(2.0)
    assert_tree_close((gp, gx), tree_map(lambda g: 2 * g, (fd(model, (PARAMS, XS), 0),
                                                           fd(model, (PARAMS, XS), 1))))


def test_vjp_jvp_inner_product_through_transforms():
    rng = np.random.default_rng(1)
    u, w = rng.standard_normal(3), rng.standard_normal(3)
    _, ju = T.jvp(loss_vec, (X3,), (u,))
    _, vjp_fun = T.vjp(loss_vec, X3)
    (jtw,) = vjp_fun(w)
    assert np.isclose(w @ ju, jtw @ u, rtol=1e-12)


def loss_vec(x):
    return np.array([np.sum(x ** 3), x[0] * np.cos(x[1]), np.exp(x[2]) / (1 + x[0] ** 2)])


@pytest.mark.parametrize("jac", [T.jacfwd, T.jacrev])
def test_jacobians(jac):
    J = run(jac(loss_vec), X3)
    assert J.shape == (3, 3)
    assert_tree_close(J, fd(loss_vec, (X3,)))
    both = run(jac(vec, argnums=(0, 1)), X3[:2], 0.8)
    assert both[0].shape == (3, 2) and np.shape(both[1]) == (3,)
    assert_tree_close(both, (fd(vec, (X3[:2], 0.8), 0), fd(vec, (X3[:2], 0.8), 1)))


def test_jacfwd_equals_jacrev_on_matrix_outputs_and_pytrees():
    def f(params, x):
        return {"m": np.outer(np.tanh(params["w"]), x), "s": params["b"] * np.sum(x)}

    a, b = run(T.jacfwd(f), PARAMS, XS), run(T.jacrev(f), PARAMS, XS)
    assert a["m"]["w"].shape == (2, 2, 2)  # out (2, 2) + in (2,)
    assert_tree_close(a, b, rtol=1e-12, atol=1e-14)
    want = {k: fd(lambda p, x, k=k: f(p, x)[k], (PARAMS, XS)) for k in ("m", "s")}
    assert_tree_close(a, want)


# ---------------------------------------------------------------------------------------------
# second and higher order


def test_hessian_fn():
    H = run(TH.hessian_fn(loss), X3)
    assert H.shape == (3, 3)
    assert np.allclose(H, H.T, rtol=1e-12)
    assert_tree_close(H, fd(lambda x: run(T.grad(loss), x), (X3,)), rtol=1e-6, atol=1e-7)
    t = 0.7
    h = run(TH.hessian_fn(lambda t: np.sin(t) * t ** 3), t)
    want = -np.sin(t) * t ** 3 + 6 * np.cos(t) * t ** 2 + 6 * t * np.sin(t)
    assert np.shape(h) == () and np.isclose(h, want, rtol=1e-12)


@pytest.mark.parametrize("order, want", [
    (0, lambda t: np.sin(2 * t)),
    (1, lambda t: 2 * np.cos(2 * t)),
    (3, lambda t: -8 * np.cos(2 * t)),
    (8, lambda t: 256 * np.sin(2 * t)),
])
def test_derivative(order, want):
    d = TH.derivative(lambda t: np.sin(2 * t), order=order)
    assert np.isclose(run(d, 0.4), want(0.4), rtol=1e-12)


def test_derivative_argnums_and_composite():
    d2 = TH.derivative(lambda a, t: a * np.exp(np.sin(t)), order=2, argnums=1)
    t = 0.3
    want = 1.5 * np.exp(np.sin(t)) * (np.cos(t) ** 2 - np.sin(t))
    assert np.isclose(run(d2, 1.5, t), want, rtol=1e-12)


def test_taylor_fn_along_a_direction():
    tf = TH.taylor_fn(loss, 3)
    v = np.array([0.5, -1.0, 0.25])
    cs = run(tf, X3, v)
    assert len(cs) == 4
    assert np.isclose(cs[0], loss(X3))
    # c_k = (d/dt)^k f(x + t v) / k! at 0, from the scalar derivative transform
    g = TH.derivative(lambda t: loss(X3 + t * v), order=1)
    g2 = TH.derivative(lambda t: loss(X3 + t * v), order=2)
    g3 = TH.derivative(lambda t: loss(X3 + t * v), order=3)
    for k, d in ((1, g), (2, g2), (3, g3)):
        assert np.isclose(cs[k] * np.prod(range(1, k + 1)), run(d, 0.0), rtol=1e-11)


def test_laplacian_fn_exact_and_stochastic():
    exact = run(TH.laplacian_fn(loss), X3)
    assert np.isclose(exact, np.trace(run(TH.hessian_fn(loss), X3)), rtol=1e-12)
    est = run(TH.laplacian_fn(loss, method="stochastic", samples=400, rng=0), X3)
    H = run(TH.hessian_fn(loss), X3)
    sd = np.sqrt(2 * (np.sum(H ** 2) - np.sum(np.diag(H) ** 2)))  # Rademacher: Var vᵀHv
    assert abs(est - exact) <= 4 * sd / np.sqrt(400)
    with pytest.raises(ValueError, match="method"):
        TH.laplacian_fn(loss, method="guess")


def test_public_names_dispatch_on_expressions_and_functions():
    x, y = sn.symbols("x y")
    e = sn.sin(x) * y ** 2
    H = sn.hessian(e, [x, y])
    assert H.shape == (2, 2) and H[1, 1] is 2 * sn.sin(x)
    assert np.allclose(run(sn.hessian(loss), X3), run(TH.hessian_fn(loss), X3))
    assert len(sn.taylor(e, x, 2)) == 3
    assert len(run(sn.taylor(loss, order=2), X3, np.ones(3))) == 3
    assert sn.laplacian(e, [x, y]) is not None
    assert np.isclose(run(sn.laplacian(loss), X3), run(TH.laplacian_fn(loss), X3))


# ---------------------------------------------------------------------------------------------
# caching and the direct (compiled) call


def test_traced_once_per_signature():
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x ** 2)

    g = T.grad(f)
    a = g.fn(np.zeros(3))
    assert g.fn(np.ones(3)) is a and len(calls) == 1
    assert g.fn(np.ones(4)) is not a and len(calls) == 2
    assert "grad" in repr(g)


def test_direct_call_matches_interpreter():
    g = T.grad(loss)
    assert np.allclose(g(X3), run(g, X3), rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# errors


def test_errors():
    with pytest.raises(ShapeError, match="scalar output"):
        run(T.grad(loss_vec), X3)
    with pytest.raises(ShapeError, match="scalar output"):
        run(TH.hessian_fn(loss_vec), X3)
    with pytest.raises(ShapeError, match="out of range"):
        run(T.grad(loss, argnums=3), X3)
    with pytest.raises(ShapeError, match="scalar argument"):
        run(TH.derivative(loss, order=2), X3)
    with pytest.raises(TypeError, match="Fn or a Python function"):
        T.grad(42)
    x = sn.Sym("x")
    with pytest.raises(TypeError, match="symbols"):
        sn.diff(x ** 2, x + 1)


def test_missing_rules_name_the_primitive():
    noderiv = sn.register("tf_no_partials", np.sin, replace=True)
    with pytest.raises(MissingRuleError, match="tf_no_partials"):
        run(T.grad(lambda t: noderiv(t) * t), 0.3)
    with pytest.raises(MissingRuleError, match="tf_no_partials"):
        run(T.jacfwd(lambda t: np.array([noderiv(t[0]), t[1]])), XS)
    with pytest.raises(MissingRuleError, match="tf_no_partials"):
        run(TH.derivative(lambda t: noderiv(t), order=3), 0.3)
