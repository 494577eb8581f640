"""symnum.autodiff.ad:
expression-level diff/gradient/jacobian/hessian and the forward/reverse sweeps,
against finite differences, SymPy, each other, and the cheap-gradient bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.autodiff import ad
from symnum.core.evaluate import eval_many
from symnum.core.traversal import count_ops, postorder
from symnum.errors import MissingRuleError, ShapeError
from symnum.testing import (
    STEP_OPS,
    VALUE_OPS,
    assert_allclose_at,
    build,
    expression_recipes,
    points,
)
from symnum.tracing.fn import evaluate, trace

x, y, z = sn.Sym("x"), sn.Sym("y"), sn.Sym("z")
XYZ = [x, y, z]
KINKS = STEP_OPS
# smooth everywhere the strategies go (hypot only off (0, 0), which points() likes to hit)
SMOOTH = tuple(o for o in VALUE_OPS if o not in KINKS + ("hypot",))


def exprs(syms, prims=SMOOTH, depth=4):
    return expression_recipes(len(syms), prims, depth).map(lambda r: build(r, syms))


def fd_partial(e, env: dict, s, h: float = 1e-3) -> tuple[float, float]:
    """Fourth-order central difference of e along s at env, and the largest |e| it saw."""
    pts = np.array([-2.0, -1.0, 1.0, 2.0]) * h + env[s]
    vals = np.broadcast_to(np.asarray(evaluate(e, {**env, s: pts}), dtype=float), (4,))
    return float(vals @ np.array([1.0, -8.0, 8.0, -1.0]) / (12 * h)), float(np.abs(vals).max())


def value(e, env) -> float:
    return float(evaluate(e, env))


# ---------------------------------------------------------------------------------------------
# tables: input ⇒ expected


DIFF_TABLE = [
    (sn.sin(x) * x, x, 1, x * sn.cos(x) + sn.sin(x)),
    (x ** 3, x, 2, 6 * x),
    (sn.exp(x * y), y, 1, x * sn.exp(x * y)),
    (sn.log(1 + x ** 2), x, 1, 2 * x / (1 + x ** 2)),
    (sn.sqrt(1 + x ** 2), x, 1, x / sn.sqrt(1 + x ** 2)),
    (sn.tanh(x), x, 1, 1 - sn.tanh(x) ** 2),
    (sn.atan2(y, x), x, 1, -y / (x ** 2 + y ** 2)),
    (x ** y, y, 1, x ** y * sn.log(x)),
    (sn.erf(x), x, 1, 2 / np.sqrt(np.pi) * sn.exp(-x ** 2)),
    (sn.ifelse(x < y, x ** 2, y), x, 1, sn.ifelse(x < y, 2 * x, 0)),
    (sn.sin(x), x, 4, sn.sin(x)),
    (sn.sin(x) * y, x, 0, sn.sin(x) * y),
    (sn.cos(y), x, 1, 0),
]


@pytest.mark.parametrize("e, s, n, expected", DIFF_TABLE)
def test_diff_table(e, s, n, expected):
    for env in ({x: 0.7, y: 1.3}, {x: 1.9, y: 0.4}):
        assert_allclose_at(ad.diff(e, s, n), expected, env, rtol=1e-12, atol=1e-14)


def test_diff_is_exact_and_shares_subterms():
    assert ad.diff(x ** 3, x, 2) is 6 * x
    assert ad.diff(sn.sin(x), x) is sn.cos(x)
    e = sn.exp(sn.sin(x) * y)
    d = ad.diff(e, x)
    assert any(n is e for n in postorder([d]))  # d/dx exp(u) reuses exp(u) itself


def test_tree_mode_derivatives_of_powers_stay_finite():
    # regression: in tree mode b − 1 stayed a term, so d³/dx³ x² at 0 was 0·0^(−1) = NaN
    with sn.tree_mode():
        for e, k, want in ((x ** 2, 3, 0.0), (x ** 3, 4, 0.0), (sn.tan(x) ** 2, 4, 16.0)):
            assert value(ad.diff(e, x, k), {x: 0.0}) == pytest.approx(want, abs=1e-12)


def test_diff_of_arrays_keeps_shape():
    es = np.array([[x * y, sn.sin(x)], [y, x ** 2]], dtype=object)
    d = ad.diff(es, x)
    assert d.shape == (2, 2)
    want = [[y, sn.cos(x)], [0, 2 * x]]
    for idx in np.ndindex(2, 2):
        assert_allclose_at(d[idx], want[idx[0]][idx[1]], {x: 0.3, y: -1.2})


def test_gradient_jacobian_hessian_tables():
    e = x ** 2 * y + sn.sin(z)
    g = ad.gradient(e, XYZ)
    env = {x: 0.5, y: -1.5, z: 0.25}
    for got, want in zip(g, [2 * x * y, x ** 2, sn.cos(z)]):
        assert_allclose_at(got, want, env)
    H = ad.hessian(e, XYZ)
    want_H = [[2 * y, 2 * x, 0], [2 * x, 0, 0], [0, 0, -sn.sin(z)]]
    for i, j in np.ndindex(3, 3):
        assert_allclose_at(H[i, j], want_H[i][j], env)
    J = ad.jacobian([x * y, y + z], XYZ)
    assert J.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        assert_allclose_at(J[i, j], [[y, x, 0], [0, 1, 1]][i][j], env)
    u = sn.symarray("u", (2, 2))
    Ju = ad.jacobian(u * u, u)  # arrays are raveled in C order
    assert Ju.shape == (4, 4)
    assert_allclose_at(Ju[3, 3], 2 * u[1, 1], {s: 1.5 for s in u.ravel()})


# ---------------------------------------------------------------------------------------------
# properties over random expressions


@settings(max_examples=200)
@given(exprs(XYZ), points(XYZ), st.sampled_from(XYZ))
def test_diff_matches_finite_differences(e, env, s):
    d = value(ad.diff(e, s), env)
    fd, fmax = fd_partial(e, env, s)
    assert abs(d - fd) <= 1e-7 * (1 + fmax) + 1e-6 * abs(fd), (str(e), s, d, fd)


@settings(max_examples=200)
@given(exprs([x, y]), points([x, y]), st.sampled_from([x, y]))
def test_diff_matches_sympy(e, env, s):
    sp = pytest.importorskip("sympy")
    interop = pytest.importorskip("symnum.io.sympy_interop",
                                  reason="symnum.io.sympy_interop (to_sympy) is not written yet")
    sx, sy = (sp.Symbol(v.name, real=True) for v in (x, y))
    want_expr = sp.diff(interop.to_sympy(e), {x: sx, y: sy}[s])
    want = float(sp.lambdify([sx, sy], want_expr, modules=["scipy", "numpy"])(env[x], env[y]))
    got = value(ad.diff(e, s), env)
    assert abs(got - want) <= 1e-12 + 1e-9 * abs(want), (str(e), str(want_expr), got, want)


@settings(max_examples=100)
@given(expression_recipes(2, SMOOTH, 3), points([x, y]))
def test_tree_mode_derivatives(recipe, env):
    canon, tree = build(recipe, [x, y]), build(recipe, [x, y], mode="tree")
    for s in (x, y):
        assert_allclose_at(ad.diff(canon, s), ad.diff(tree, s), env, rtol=1e-9, atol=1e-10)


vector_fns = st.lists(exprs(XYZ, tuple(VALUE_OPS), 3), min_size=1, max_size=3)


@settings(max_examples=150)
@given(vector_fns, points(XYZ), st.data())
def test_vjp_jvp_inner_product(es, env, data):
    J = np.asarray(eval_many(list(ad.jacobian(es, XYZ).ravel()), env), dtype=float)
    # at a singular point (hypot(x, x) at 0) a zero tangent skips the NaN that a sweep meets
    assume(np.isfinite(J).all())
    u = data.draw(st.lists(st.floats(-2, 2), min_size=3, max_size=3))
    v = data.draw(st.lists(st.floats(-2, 2), min_size=len(es), max_size=len(es)))
    Ju = eval_many(ad.jvp_terms(es, XYZ, u), env)
    JTv = eval_many(ad.vjp_terms(es, XYZ, v), env)
    lhs = sum(vi * a for vi, a in zip(v, Ju))
    rhs = sum(a * ui for a, ui in zip(JTv, u))
    size = sum(abs(vi * a) for vi, a in zip(v, Ju)) + sum(abs(a * ui) for a, ui in zip(JTv, u))
    assert abs(lhs - rhs) <= 1e-12 + 1e-10 * size, (es, lhs, rhs)


@settings(max_examples=100)
@given(vector_fns, points(XYZ))
def test_jacobian_fwd_equals_rev(es, env):
    Jf = ad.jacobian(es, XYZ, mode="fwd")
    Jr = ad.jacobian(es, XYZ, mode="rev")
    Ja = ad.jacobian(es, XYZ)
    assert Jf.shape == Jr.shape == Ja.shape == (len(es), 3)
    for idx in np.ndindex(Jf.shape):
        assert_allclose_at(Jf[idx], Jr[idx], env, rtol=1e-10, atol=1e-12)
        assert_allclose_at(Ja[idx], Jr[idx], env, rtol=1e-10, atol=1e-12)


@settings(max_examples=100)
@given(exprs(XYZ, depth=3), points(XYZ))
def test_hessian_symmetric_and_jacobian_of_gradient(e, env):
    H = ad.hessian(e, XYZ)
    JG = ad.jacobian(ad.gradient(e, XYZ), XYZ, mode="rev")
    for i, j in np.ndindex(3, 3):
        assert_allclose_at(H[i, j], H[j, i], env, rtol=1e-9, atol=1e-10)
        assert_allclose_at(H[i, j], JG[i, j], env, rtol=1e-9, atol=1e-10)


@settings(max_examples=100)
@given(exprs(XYZ, depth=3), points(XYZ))
def test_gradient_is_jacobian_row_and_diffs(e, env):
    g = ad.gradient(e, XYZ)
    for s, gi in zip(XYZ, g):
        assert_allclose_at(gi, ad.diff(e, s), env, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the cheap-gradient principle: deterministic operation counts


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def make_mlp(n: int, width: int = 8):
    """Two tanh layers of fixed width on an n-vector (numeric weights, symbolic inputs)."""
    rng = np.random.default_rng(0)
    W1, b1 = rng.standard_normal((width, n)) / np.sqrt(n), rng.standard_normal(width)
    W2, b2 = rng.standard_normal((width, width)) / np.sqrt(width), rng.standard_normal(width)
    w3 = rng.standard_normal(width)

    def mlp(x):
        h = np.tanh(np.sum(W1 * x, axis=1) + b1)
        h = np.tanh(np.sum(W2 * h, axis=1) + b2)
        return np.sum(w3 * h)

    return mlp


@pytest.mark.parametrize("n", [10, 100, 1000])
@pytest.mark.parametrize("make", [lambda n: rosenbrock, make_mlp], ids=["rosenbrock", "mlp"])
def test_cheap_gradient(make, n):
    f = make(n)
    fn = trace(f, np.zeros(n))
    primal = fn.flat_outputs[0]
    g = ad.gradient(primal, fn.flat_inputs)
    assert count_ops(g) <= 4 * count_ops(primal)
    xv = np.linspace(-1.0, 1.0, n)
    gv = np.asarray(eval_many(g, dict(zip(fn.flat_inputs, xv))), dtype=float)
    h = 1e-6
    for j in (0, n // 2, n - 1):  # spot-check against finite differences
        e = np.zeros(n)
        e[j] = h
        fd = (f(xv + e) - f(xv - e)) / (2 * h)
        rounding = 1e3 * np.finfo(float).eps * abs(f(xv)) / h  # the sum is large for big n
        assert abs(gv[j] - fd) <= 1e-6 * (1 + abs(fd)) + rounding


def test_gradient_of_deep_dag_does_not_blow_up():
    e = x
    for _ in range(2000):  # every level uses the previous one twice: a tree would be 2^2000
        e = sn.sin(e) + e * y
    g = ad.gradient(e, [x, y])
    assert count_ops(g) <= 4 * count_ops(e)
    env = {x: 0.3, y: 0.5}
    gx = value(g[0], env)
    fd, fmax = fd_partial(e, env, x)
    assert abs(gx - fd) <= 1e-7 * (1 + fmax) + 1e-6 * abs(fd)


# ---------------------------------------------------------------------------------------------
# errors


def test_errors():
    with pytest.raises(TypeError, match="symbols"):
        ad.diff(x * y, x + 1)
    with pytest.raises(TypeError, match="symbols"):
        ad.gradient(x * y, [x, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        ad.diff(x, x, -1)
    with pytest.raises(ShapeError, match="scalar"):
        ad.gradient(np.array([x, y], dtype=object), [x, y])
    with pytest.raises(ValueError, match="mode"):
        ad.jacobian([x], [x], mode="sideways")


def test_missing_partials_names_the_primitive():
    op = sn.register("no_partials_ad", np.sin, replace=True)
    e = op(x) * y
    for call in (lambda: ad.diff(e, x), lambda: ad.gradient(e, [x, y]),
                 lambda: ad.jacobian([e], [x], mode="fwd"), lambda: ad.hessian(e, [x])):
        with pytest.raises(MissingRuleError, match="no_partials_ad"):
            call()
    assert ad.diff(e, y) is op(x)  # no derivative through it is needed: no error


def test_diff_takes_sympys_arguments():
    # issue 13 item 7: diff(e, x, y) failed with "order n must be a non-negative int, got y"
    e = x**2 * y**3 * sn.sin(z)
    assert sn.diff(e, x, y) is sn.diff(sn.diff(e, x), y)
    assert sn.diff(e, x, 2) is sn.diff(sn.diff(e, x), x)
    assert sn.diff(e, x, 2, y) is sn.diff(sn.diff(sn.diff(e, x), x), y)
    assert sn.diff(e, (y, 2), z) is sn.diff(sn.diff(sn.diff(e, y), y), z)
    assert sn.diff(e, x, 0) is e
    env = {x: 0.7, y: -1.3, z: 0.4}
    want = 2 * 3 * 0.7 * (-1.3) ** 2 * np.sin(0.4)
    assert float(sn.evaluate(sn.diff(e, x, y), env)) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("spec, match", [
    (("y",), "neither a symbol"), ((2,), "must follow a symbol"), ((x, 2, 3), "two orders"),
    ((x, -1), "non-negative"), ((), "at least one symbol"),
])
def test_diff_argument_errors(spec, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sn.diff(x**3, *spec)
