"""Transforms compose (issue 11, item 5): grad of grad, of compiled functions, compile of grad,
jacfwd of jacrev, jvp/vjp of any of them, has_aux, argnums, vmap, jit — checked against analytic
values and finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.errors import ShapeError, TransformError


def fd(f, x, h=1e-6):
    """Central finite difference of a scalar function of a scalar."""
    return (f(x + h) - f(x - h)) / (2 * h)


def fd_grad(f, x, h=1e-6):
    x = np.asarray(x, float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


X3 = np.array([0.3, -1.2, 0.8])


# --- item 1: nesting ------------------------------------------------------------------------

def test_grad_of_grad_and_third_derivative():
    f = lambda x: x ** 3  # noqa: E731
    assert float(sn.grad(sn.grad(f))(2.0)) == pytest.approx(12.0)
    assert float(sn.grad(sn.grad(sn.grad(f)))(2.0)) == pytest.approx(6.0)
    g = sn.grad(sn.grad(lambda x: np.sin(x) * np.exp(x)))
    x = 0.7
    assert float(g(x)) == pytest.approx(2 * np.cos(x) * np.exp(x))


def test_grad_of_compiled_traces_python_not_kernel():
    f = sn.compile(lambda x: np.sin(x) * x)
    assert float(f(1.0)) == pytest.approx(np.sin(1.0))  # a kernel and a fast dispatcher exist
    n_kernels = len(f._entries)
    g = sn.grad(f)
    assert float(g(1.0)) == pytest.approx(np.cos(1.0) + np.sin(1.0))
    assert len(f._entries) == n_kernels  # the gradient compiled its own, not f's kernels


def test_grad_of_compiled_never_compiles_the_inner_kernel():
    f = sn.compile(lambda x: np.sum(x ** 2 * np.cos(x)))
    g = sn.grad(f)
    x = np.array([0.5, 1.5])
    np.testing.assert_allclose(g(x), 2 * x * np.cos(x) - x ** 2 * np.sin(x))
    assert f._entries == {}


def test_compile_of_grad_and_jit_alias():
    assert sn.jit is sn.compile
    cg = sn.jit(sn.grad(lambda x: x ** 3))
    assert float(cg(2.0)) == pytest.approx(12.0)
    # compile(grad(compile(f))) and grad(compile(grad(f)))
    inner = sn.compile(lambda x: np.exp(2 * x))
    assert float(sn.compile(sn.grad(inner))(0.0)) == pytest.approx(2.0)
    assert float(sn.grad(sn.compile(sn.grad(inner)))(0.0)) == pytest.approx(4.0)


def test_grad_of_compiled_with_static_argument():
    f = sn.compile(lambda x, k: x ** k, static_argnums=1)
    assert float(f(2.0, 3)) == pytest.approx(8.0)
    assert float(sn.grad(lambda x: f(x, 3))(2.0)) == pytest.approx(12.0)


def test_jacfwd_of_jacrev_is_the_hessian():
    h1 = sn.jacfwd(sn.jacrev(rosen))(X3)
    h2 = sn.hessian(rosen)(X3)
    h3 = sn.jacrev(sn.jacfwd(rosen))(X3)
    h4 = sn.hessian(sn.compile(rosen))(X3)
    ref = np.array([fd_grad(lambda y, i=i: sn.grad(rosen)(y)[i], X3, 1e-5) for i in range(3)])
    for h in (h1, h2, h3, h4):
        np.testing.assert_allclose(h, ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(h1, h1.T)


def test_jvp_of_grad_is_a_hessian_vector_product():
    v = np.array([1.0, 0.5, -2.0])
    out, hv = sn.jvp(sn.grad(rosen), (X3,), (v,))
    np.testing.assert_allclose(out, sn.grad(rosen)(X3))
    np.testing.assert_allclose(hv, sn.hessian(rosen)(X3) @ v, rtol=1e-10)
    # the same through a compiled function, and the lifted form jvp(f)(x, dx)
    _, hv2 = sn.jvp(sn.grad(sn.compile(rosen)), (X3,), (v,))
    np.testing.assert_allclose(hv2, hv, rtol=1e-10)
    _, hv3 = sn.jvp(sn.grad(rosen))(X3, v)
    np.testing.assert_allclose(hv3, hv, rtol=1e-10)


def test_vjp_of_jacrev_and_of_grad():
    f = lambda x: np.array([x[0] * x[1], np.sin(x[2]), x[0] ** 2])  # noqa: E731
    J = sn.jacrev(f)
    out, pull = sn.vjp(J, X3)
    np.testing.assert_allclose(out, J(X3))
    ct = np.arange(9.0).reshape(3, 3)
    (g,) = pull(ct)
    ref = fd_grad(lambda y: np.sum(ct * J(y)), X3)
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-8)
    # vjp of grad = Hessian-vector product (symmetric Hessian)
    v = np.array([0.2, 1.0, -1.0])
    (hv,) = sn.vjp(sn.grad(rosen), X3)[1](v)
    np.testing.assert_allclose(hv, sn.hessian(rosen)(X3) @ v, rtol=1e-10)


def test_jvp_and_vjp_inside_an_outer_trace():
    v = np.array([1.0, 2.0, 3.0])
    # grad of a directional derivative computed by jvp inside: H v
    g = sn.grad(lambda x: sn.jvp(rosen, (x,), (v,))[1])
    np.testing.assert_allclose(g(X3), sn.hessian(rosen)(X3) @ v, rtol=1e-10)
    # grad of <v, grad f> computed by vjp inside: H v as well
    g2 = sn.grad(lambda x: np.sum(sn.vjp(rosen, x)[1](1.0)[0] * v))
    np.testing.assert_allclose(g2(X3), sn.hessian(rosen)(X3) @ v, rtol=1e-10)


def test_no_perturbation_confusion_with_closures_and_same_names():
    def g(x):
        a = x
        return sn.grad(lambda x: a * x)(x)  # inner d/dx (a x) = a, a closure over the outer x

    assert float(sn.grad(g)(2.0)) == pytest.approx(1.0)  # d/dx x = 1, as JAX gives
    # arguments swapped between an outer and an inner function of the same parameter names
    inner = sn.grad(lambda y, x: y ** 2 * x)  # 2 y x
    assert float(sn.grad(lambda x, y: inner(x, y))(3.0, 5.0)) == pytest.approx(10.0)


def test_grad_of_inner_transform_at_expressions_and_constants():
    inner = sn.grad(lambda x, c: np.sin(x) * c)
    f = lambda x: inner(2.0 * x, 3.0)  # noqa: E731  cos(2x) * 3
    assert float(sn.grad(f)(0.4)) == pytest.approx(fd(lambda t: 3 * np.cos(2 * t), 0.4), rel=1e-7)


@settings(max_examples=20, deadline=None)
@given(st.floats(-2.0, 2.0))
def test_nested_grad_matches_finite_differences(x):
    f = lambda t: np.exp(np.sin(t)) * t ** 2  # noqa: E731
    g = sn.grad(f)
    gg = sn.grad(g)
    assert float(gg(x)) == pytest.approx(fd(lambda t: float(g(t)), x), rel=1e-5, abs=1e-6)


# --- item 2: has_aux and argnums ------------------------------------------------------------

def test_value_and_grad_has_aux_layout_as_jax():
    f = lambda x, y: (x ** 2 * y, {"a": x + y})  # noqa: E731
    (val, aux), g = sn.value_and_grad(f, has_aux=True)(2.0, 3.0)
    assert float(val) == 12.0 and float(aux["a"]) == 5.0 and float(g) == 12.0
    g2, aux2 = sn.grad(f, argnums=(0, 1), has_aux=True)(2.0, 3.0)
    assert [float(t) for t in g2] == [12.0, 4.0] and float(aux2["a"]) == 5.0
    with pytest.raises(ShapeError, match="pair"):
        sn.grad(lambda x: x ** 2, has_aux=True)(1.0)


def test_argnums_int_tuple_negative():
    f = lambda x, y: x ** 2 * np.sum(y)  # noqa: E731
    y = np.array([1.0, 2.0])
    assert float(sn.grad(f)(3.0, y)) == pytest.approx(18.0)
    np.testing.assert_allclose(sn.grad(f, argnums=1)(3.0, y), [9.0, 9.0])
    np.testing.assert_allclose(sn.grad(f, argnums=-1)(3.0, y), [9.0, 9.0])
    gx, gy = sn.grad(f, argnums=(0, 1))(3.0, y)
    assert float(gx) == pytest.approx(18.0)
    np.testing.assert_allclose(gy, [9.0, 9.0])
    with pytest.raises(ShapeError, match="out of range"):
        sn.grad(f, argnums=2)(3.0, y)


# --- item 3: vmap ---------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_vmap_axes(backend):
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(5, 3)), rng.normal(size=(3, 5))
    f = lambda x, w: np.sum(np.sin(x) * w)  # noqa: E731
    ref = np.sum(np.sin(X) * W.T, axis=1)
    np.testing.assert_allclose(sn.vmap(f, backend=backend)(X, W.T), ref)
    np.testing.assert_allclose(sn.vmap(f, backend=backend, in_axes=(0, 1))(X, W), ref)
    np.testing.assert_allclose(sn.vmap(f, backend=backend, in_axes=(0, None))(X, W[:, 0]),
                               np.sin(X) @ W[:, 0])
    h = lambda x: (2 * x, np.sum(x))  # noqa: E731
    a, b = sn.vmap(h, backend=backend, out_axes=(1, 0))(X)
    np.testing.assert_allclose(a, 2 * X.T)
    np.testing.assert_allclose(b, X.sum(1))
    twice = sn.vmap(lambda x: x * 2.0, backend=backend, in_axes=-1, out_axes=-1)
    np.testing.assert_allclose(twice(X), 2 * X)
    # scalars mapped over a vector, pytree argument
    prod = sn.vmap(lambda p: p[0] * p[1], backend=backend)
    np.testing.assert_allclose(prod((X[:, 0], X[:, 1])),
                               X[:, 0] * X[:, 1])


def test_vmap_of_grad_per_example_gradients():
    rng = np.random.default_rng(1)
    X, y, w = rng.normal(size=(6, 3)), rng.normal(size=6), rng.normal(size=3)
    loss = lambda w, x, t: (np.sum(w * x) - t) ** 2  # noqa: E731
    per = sn.vmap(sn.grad(loss), in_axes=(None, 0, 0))(w, X, y)
    ref = 2 * (X @ w - y)[:, None] * X
    np.testing.assert_allclose(per, ref, rtol=1e-12)
    # grad of a vmapped loss = sum of the per-example gradients; jit of vmap; vmap of jit
    total = sn.grad(lambda w: np.sum(sn.vmap(loss, in_axes=(None, 0, 0))(w, X, y)))
    np.testing.assert_allclose(total(w), ref.sum(0), rtol=1e-12)
    jv = sn.jit(sn.vmap(sn.grad(loss), in_axes=(None, 0, 0)))
    np.testing.assert_allclose(jv(w, X, y), ref, rtol=1e-12)
    np.testing.assert_allclose(sn.vmap(sn.jit(loss), in_axes=(None, 0, 0))(w, X, y),
                               (X @ w - y) ** 2, rtol=1e-12)


def test_vmap_out_axes_none_and_errors():
    X = np.ones((4, 2))
    v = sn.vmap(lambda x, c: (np.sum(x), c * 2.0), in_axes=(0, None), out_axes=(0, None))
    s, c = v(X, 3.0)
    np.testing.assert_allclose(s, [2.0] * 4)
    assert float(c) == 6.0
    with pytest.raises(TransformError, match="out_axes=None"):
        sn.vmap(lambda x: x * 2.0, out_axes=None)(X)
    with pytest.raises(ShapeError, match="different sizes"):
        sn.vmap(lambda a, b: a * b)(np.ones(3), np.ones(4))
    with pytest.raises(TransformError, match="in_axes has 1 entries"):
        sn.vmap(lambda a, b: a * b, in_axes=(0,))(np.ones(3), np.ones(3))
    with pytest.raises(ShapeError, match="scalar"):
        sn.vmap(lambda a: a * 2.0)(1.0)
    with pytest.raises(TransformError, match="int or None"):
        sn.vmap(lambda a: a, in_axes="0")


# --- item 5: bad input and conventions --------------------------------------------------------

@pytest.mark.parametrize("t", [sn.grad, sn.value_and_grad, sn.jacfwd, sn.jacrev, sn.hessian,
                               sn.derivative, sn.vmap, sn.jit, sn.jvp, sn.vjp])
def test_transform_of_a_non_function_names_what_it_got(t):
    with pytest.raises(TransformError, match="float"):
        t(3.0)
    assert issubclass(TransformError, TypeError)


def test_non_differentiable_points_conventions():
    g = lambda f, x: float(sn.grad(f)(x))  # noqa: E731
    assert g(lambda x: np.abs(x), 0.0) == 0.0            # sign(0), as JAX
    assert g(lambda x: np.sign(x), 0.0) == 0.0
    assert g(lambda x: np.where(x > 0, x, 0.0), 0.0) == 0.0  # the branch taken
    # a tie of maximum/minimum: the whole derivative to the FIRST argument (JAX splits 0.5)
    assert g(lambda x: np.maximum(x, 0.0), 0.0) == 1.0
    assert g(lambda x: np.maximum(0.0, x), 0.0) == 0.0
    assert g(lambda x: np.minimum(x, 0.0), 0.0) == 1.0


def test_taylor_transforms_compose_with_grad_and_compile():
    f = sn.compile(lambda x: np.sin(2 * x))
    assert float(sn.derivative(f, order=3)(0.0)) == pytest.approx(-8.0)
    out, tan = sn.jvp(f)(0.0, 1.0)
    assert float(out) == 0.0 and float(tan) == pytest.approx(2.0)
    assert float(sn.derivative(sn.grad(lambda x: x ** 4), order=2)(1.0)) == pytest.approx(24.0)
    assert float(sn.grad(sn.derivative(lambda x: x ** 4, order=2))(1.0)) == pytest.approx(24.0)


def test_grad_of_array_mode_compiled_function_traces_its_python():
    fa = sn.compile(lambda x: np.sum(x ** 3), mode="array")
    np.testing.assert_allclose(sn.grad(fa)(np.array([1.0, 2.0])), [3.0, 12.0])
    assert fa._entries == {}  # no array kernel was built for the gradient


def test_vmap_of_an_fn():
    fn = sn.trace(lambda x, c: np.sum(x * c), np.zeros(2), 1.0)
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(sn.vmap(fn, in_axes=(0, None))(X, 2.0), 2 * X.sum(1))
