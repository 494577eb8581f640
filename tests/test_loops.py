"""Loop terms (symnum.loops): scan / fori_loop / while_loop against the unrolled Python loop, the
reference interpreter, finite differences and the numba kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.errors import ShapeError, TracingError
from symnum.loops import terms as T

x, p = sn.symbols("x p")
ENV = {x: 0.3, p: 1.1}


def body(c, xy):
    a, v = c
    u, w = xy
    return (a * p + u, v * w + sn.sin(a)), {"s": a + v.sum(), "v": v * u}


XS = (np.arange(4.0), np.linspace(1, 2, 8).reshape(4, 2))


def unrolled_scan(f, init, xs, reverse=False):
    """The Python loop scan stands for."""
    leaves = [xs] if not isinstance(xs, tuple) else list(xs)
    n = len(leaves[0])
    carry, ys = init, [None] * n
    for s in (range(n - 1, -1, -1) if reverse else range(n)):
        step = tuple(v[s] for v in leaves) if isinstance(xs, tuple) else xs[s]
        carry, ys[s] = f(carry, step)
    return carry, ys


# -- concrete values: the loops just run ----------------------------------------------------


def test_concrete_values_run_in_python():
    c, ys = sn.scan(lambda c, v: (c + v, 2 * c), 0.0, np.arange(3.0))
    assert c == 3.0 and ys.tolist() == [0.0, 0.0, 2.0]
    c, ys = sn.scan(lambda c, v: (c + v, c), 0.0, np.arange(3.0), reverse=True)
    assert c == 3.0 and ys.tolist() == [3.0, 2.0, 0.0]
    assert sn.fori_loop(2, 5, lambda i, v: v * 2 + i, 1.0) == ((1 * 2 + 2) * 2 + 3) * 2 + 4
    assert sn.while_loop(lambda v: v < 10, lambda v: v * 2, 1.0) == 16.0
    assert sn.while_loop(lambda v: v < 10, lambda v: v * 2, 1.0, max_steps=2) == 4.0
    c, ys = sn.scan(lambda c, _: (c + 1, None), 0, None, length=4)
    assert c == 4 and ys is None
    # a body that branches on concrete values still runs
    assert sn.fori_loop(0, 4, lambda i, v: v + (1 if i % 2 else 10), 0) == 22


# -- traced: one term, the same values as the unrolled loop --------------------------------


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_pytrees_match_unrolled(reverse):
    init = (x, np.array([x, 2 * x], dtype=object))
    c, ys = sn.scan(body, init, XS, reverse=reverse)
    cu, yu = unrolled_scan(body, init, XS, reverse)
    np.testing.assert_allclose(sn.evaluate(c[0], ENV), sn.evaluate(cu[0], ENV))
    np.testing.assert_allclose(sn.evaluate(c[1], ENV), sn.evaluate(cu[1], ENV))
    assert ys["v"].shape == (4, 2) and ys["s"].shape == (4,)
    np.testing.assert_allclose(sn.evaluate(ys["v"], ENV),
                               np.stack([sn.evaluate(y["v"], ENV) for y in yu]))
    np.testing.assert_allclose(sn.evaluate(ys["s"], ENV),
                               [sn.evaluate(y["s"], ENV) for y in yu])


def test_fori_and_while_match_unrolled():
    f = sn.fori_loop(1, 6, lambda i, v: sn.sin(v) * p + i * v, x)
    v = x
    for i in range(1, 6):
        v = sn.sin(v) * p + i * v
    assert sn.evaluate(f, ENV) == pytest.approx(sn.evaluate(v, ENV), rel=1e-14)
    w = sn.while_loop(lambda v: v < 10, lambda v: v * 2 + p, x, max_steps=50)
    assert sn.evaluate(w, ENV) == pytest.approx(
        sn.while_loop(lambda v: v < 10, lambda v: v * 2 + 1.1, 0.3))
    # the bound stops the loop even while the condition holds
    w3 = sn.while_loop(lambda v: v < 10, lambda v: v * 2, x, max_steps=3)
    assert sn.evaluate(w3, {x: 0.01}) == pytest.approx(0.08)


def test_body_traced_once_and_term_is_o1_in_the_trip_count():
    calls = []

    def step(i, v):
        calls.append(i)
        return v * p + 1

    small = sn.fori_loop(0, 10, step, x)
    big = sn.fori_loop(0, 10**6, step, x)
    assert len(calls) == 2
    assert sn.count_ops(small) == sn.count_ops(big) == 2  # the loop node and its projection
    # hash-consing: the same loop twice is one term
    assert sn.fori_loop(0, 10, lambda i, v: v * p + 1, x) is small
    assert sn.fori_loop(0, 11, lambda i, v: v * p + 1, x) is not small


def test_term_interface_and_printing():
    f = sn.fori_loop(0, 3, lambda i, v: v * p + i, x)
    assert sn.iscall(f)
    (loop,) = sn.arguments(f)
    assert T.is_loop(loop) and sn.operation(loop).spec.length == 3
    assert sn.arguments(loop) == [x, p]
    assert sn.maketerm(type(loop), sn.operation(loop), sn.arguments(loop)) is loop
    assert sn.maketerm(type(f), sn.operation(f), [loop]) is f
    text = str(f)
    assert text.startswith("carry0(fori[3]((") and "%1c0*p + %1i" in text
    c, ys = sn.scan(lambda c, v: (c + v, c), x, np.arange(2.0), reverse=True)
    assert "scan[2, reverse]" in str(c) and str(ys[1]).startswith("y0@1(")


def test_closure_symbols_become_consts_and_nesting_works():
    def outer(c, v):
        inner = sn.fori_loop(0, 3, lambda i, d: d * sn.sin(c) + v + i * p, c)
        return inner, inner * 2

    c, ys = sn.scan(outer, x, np.arange(3.0))
    cu, yu = unrolled_scan(lambda c, v: (_unrolled_inner(c, v), 2 * _unrolled_inner(c, v)),
                           x, np.arange(3.0))
    assert sn.evaluate(c, ENV) == pytest.approx(sn.evaluate(cu, ENV), rel=1e-13)
    np.testing.assert_allclose(sn.evaluate(ys, ENV), [sn.evaluate(y, ENV) for y in yu])
    (loop,) = sn.arguments(c)
    # p is read by the inner body: a const of the outer loop
    assert any(a is p for a in sn.arguments(loop))


def _unrolled_inner(c, v):
    d = c
    for i in range(3):
        d = d * sn.sin(c) + v + i * p
    return d


def test_simplify_rewrites_the_body():
    f = sn.fori_loop(0, 5, lambda i, v: sn.sin(v) ** 2 + sn.cos(v) ** 2 + sn.log(sn.exp(v * p)),
                     x)
    s = sn.simplify(f)
    (loop,) = sn.arguments(s)
    assert [str(o) for o in sn.operation(loop).spec.body.flat_outputs] == ["%1c0*p + 1"]
    assert sn.evaluate(s, ENV) == pytest.approx(sn.evaluate(f, ENV))


# -- derivatives --------------------------------------------------------------------------


def _fd(f, at: dict, wrt, h=1e-6):
    hi, lo = dict(at), dict(at)
    hi[wrt] += h
    lo[wrt] -= h
    return (sn.evaluate(f, hi) - sn.evaluate(f, lo)) / (2 * h)


@pytest.mark.parametrize("checkpoint", ["store", "recompute"])
@pytest.mark.parametrize("reverse", [False, True])
def test_grad_of_scan_matches_unrolled_and_finite_differences(checkpoint, reverse):
    init = (x, np.array([x, 2 * x], dtype=object))
    c, ys = sn.scan(body, init, XS, reverse=reverse, checkpoint=checkpoint)
    out = c[0] * c[1][1] + sn.sin(ys["s"][2]) + ys["v"][1, 0]
    cu, yu = unrolled_scan(body, init, XS, reverse)
    ref = cu[0] * cu[1][1] + sn.sin(yu[2]["s"]) + yu[1]["v"][0]
    g = sn.evaluate(sn.gradient(out, [x, p]), ENV)
    np.testing.assert_allclose(g, sn.evaluate(sn.gradient(ref, [x, p]), ENV), rtol=1e-11)
    np.testing.assert_allclose(g, [_fd(out, ENV, x), _fd(out, ENV, p)], rtol=1e-6)


def test_grad_of_xs_and_forward_mode():
    a, b = sn.symbols("a b")
    xs = np.array([a, b, a * b], dtype=object)
    c, ys = sn.scan(lambda c, v: (c * sn.cos(v) + v * p, c * v), x, xs)
    out = c + ys.sum()
    cu, yu = unrolled_scan(lambda c, v: (c * sn.cos(v) + v * p, c * v), x, xs)
    ref = cu + sum(yu)
    env = {x: 0.3, p: 1.1, a: 0.7, b: -0.4}
    wrt = [x, p, a, b]
    want = sn.evaluate(sn.gradient(ref, wrt), env)
    np.testing.assert_allclose(sn.evaluate(sn.gradient(out, wrt), env), want, rtol=1e-12)
    # forward mode: the JVP of a scan is a scan
    np.testing.assert_allclose([sn.evaluate(sn.diff(out, w), env) for w in wrt], want,
                               rtol=1e-12)
    # second order (forward over reverse) through the loops
    h = sn.evaluate(sn.diff(sn.gradient(out, [a])[0], b), env)
    assert h == pytest.approx(sn.evaluate(sn.diff(sn.gradient(ref, [a])[0], b), env), rel=1e-10)


def test_grad_of_fori_and_while_through_transforms():
    def f(x0, q):
        return sn.fori_loop(0, 20, lambda i, v: v + 0.05 * sn.sin(v * q + i), x0)

    def u(x0, q):
        v = x0
        for i in range(20):
            v = v + 0.05 * np.sin(v * q + i)
        return v

    g = sn.grad(f, argnums=(0, 1))(0.4, 1.3)
    np.testing.assert_allclose(g, sn.grad(u, argnums=(0, 1))(0.4, 1.3), rtol=1e-12)
    _, t = sn.jvp(f, (0.4, 1.3), (1.0, 0.5))
    _, tu = sn.jvp(u, (0.4, 1.3), (1.0, 0.5))
    assert float(t) == pytest.approx(float(tu), rel=1e-12)

    def w(x0):
        return sn.while_loop(lambda v: v < 10, lambda v: v * 2 + 0.1 * np.sin(v), x0,
                             max_steps=100)

    gw = float(sn.grad(w)(0.3))
    assert gw == pytest.approx((w(0.3 + 1e-6) - w(0.3 - 1e-6)) / 2e-6, rel=1e-6)


@pytest.mark.parametrize("checkpoint", ["store", "recompute"])
def test_second_derivatives_through_loops_compose(checkpoint):
    """grad(grad(f)) through a loop differentiates the backward loop again: its body's own
    cotangent symbols must not be reused for the new ones (they are interned by name)."""
    def f(x0):
        c, ys = sn.scan(lambda c, i: (sn.sin(c) * x0 + 0.1 * c * c, c * x0), x0,
                        np.arange(3.0), checkpoint=checkpoint)
        return c + ys.sum()

    def u(x0):
        c, tot = x0, 0.0
        for _ in range(3):
            c, y = np.sin(c) * x0 + 0.1 * c * c, c * x0
            tot = tot + y
        return c + tot

    gf, gu = sn.grad(f), sn.grad(u)
    h2 = float(sn.grad(gf)(0.7))
    assert h2 == pytest.approx(float(sn.grad(gu)(0.7)), rel=1e-11)
    assert h2 == pytest.approx((gf(0.7 + 1e-5) - gf(0.7 - 1e-5)) / 2e-5, rel=1e-7)
    assert float(sn.jacfwd(gf)(0.7)) == pytest.approx(h2, rel=1e-11)
    # third order: the derivative loop of a derivative loop of a loop
    h3 = float(sn.grad(sn.grad(gf))(0.7))
    assert h3 == pytest.approx(float(sn.grad(sn.grad(gu))(0.7)), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 6), a0=st.floats(-2, 2), q=st.floats(-1.5, 1.5),
       reverse=st.booleans())
def test_property_scan_equals_unrolled(n, a0, q, reverse):
    xs = np.linspace(-1, 1, n) if n else np.zeros(0)

    def f(c, v):
        return c * q + sn.tanh(c + v) if isinstance(c, sn.Expr) else c * q + np.tanh(c + v), c

    c, ys = sn.scan(f, x, xs, reverse=reverse)
    cu, yu = unrolled_scan(f, x, xs, reverse) if n else (x, [])
    assert sn.evaluate(c, {x: a0}) == pytest.approx(sn.evaluate(cu, {x: a0}), rel=1e-12,
                                                      abs=1e-12)
    if n:
        np.testing.assert_allclose(sn.evaluate(ys, {x: a0}),
                                   [sn.evaluate(y, {x: a0}) for y in yu], rtol=1e-12, atol=1e-12)
        g = sn.evaluate(sn.gradient(c, [x]), {x: a0})[0]
        assert g == pytest.approx(sn.evaluate(sn.gradient(cu, [x]), {x: a0})[0], rel=1e-10,
                                  abs=1e-12)


# -- errors -------------------------------------------------------------------------------


def test_errors_say_what_to_do():
    with pytest.raises(TracingError, match="while_loop"):
        sn.fori_loop(0, x, lambda i, v: v, 1.0)
    with pytest.raises(TracingError, match="max_steps"):
        sn.while_loop(lambda v: v < 1, lambda v: v * 2, x)
    with pytest.raises(ShapeError, match="structure"):
        sn.scan(lambda c, v: ((c, c), v), x, np.arange(2.0))
    with pytest.raises(ShapeError, match="disagree"):
        sn.scan(lambda c, v: (c, v), x, np.arange(2.0), length=3)
    with pytest.raises(ValueError, match="checkpoint"):
        sn.scan(lambda c, v: (c, v), x, np.arange(2.0), checkpoint="sometimes")
    with pytest.raises(TracingError, match="pair"):
        sn.scan(lambda c, v: c, x, np.arange(2.0))


# -- compiled: a real loop in the numba kernel ---------------------------------------------


def test_numba_kernel_loops_and_matches_the_interpreter():
    pytest.importorskip("numba")

    def f(a, q):
        c, ys = sn.scan(lambda c, v: (c * sn.cos(v) + q, c * v), a, np.linspace(0, 1, 5),
                        reverse=True)
        w = sn.while_loop(lambda v: v < 10, lambda v: v * 2 + q, a, max_steps=40)
        k = sn.fori_loop(0, 7, lambda i, v: v + 0.1 * sn.sin(v * q + i), a)
        return c + ys.sum() + w + k

    def loss_grad(a, q):
        return sn.value_and_grad(f, argnums=(0, 1))(a, q)

    comp = sn.compile(loss_grad, backend="numba")
    ref = sn.compile(loss_grad, backend="numpy")
    for a, q in ((0.3, 1.1), (-0.2, 0.5)):
        v, g = comp(a, q)
        vr, gr = ref(a, q)
        assert float(v) == pytest.approx(float(vr), rel=1e-12)
        np.testing.assert_allclose(g, gr, rtol=1e-11)
    src = comp.lower(0.3, 1.1).source
    assert "for L" in src and "range(5)" in src and "break" in src


def _nested(a, q):
    def outer(c, v):
        inner = sn.fori_loop(0, 3, lambda i, d: d * sn.sin(c) + v + i * q, c)
        return inner, inner * 2

    n, ys = sn.scan(outer, a, np.arange(3.0))
    w = sn.while_loop(lambda v: v < 10, lambda v: v * 2 + q, a, max_steps=40)
    c, zs = sn.scan(lambda c, v: (c * sn.cos(v) + q, c * v), a, np.linspace(0, 1, 5),
                    reverse=True)
    return n + ys.sum() + w + c + zs[1]


def test_llvm_kernel_loops_nested_and_differentiated():
    pytest.importorskip("llvmlite")

    def value_and_grad(a, q):
        return sn.value_and_grad(_nested, argnums=(0, 1))(a, q)

    comp = sn.compile(value_and_grad)  # auto picks llvm for loop programs
    ref = sn.compile(value_and_grad, backend="numpy")
    for a, q in ((0.3, 1.1), (-0.2, 0.5), (2.0, -0.3)):
        v, g = comp(a, q)
        vr, gr = ref(a, q)
        assert float(v) == pytest.approx(float(vr), rel=1e-12)
        np.testing.assert_allclose(g, gr, rtol=1e-11)
    low = comp.lower(0.3, 1.1)
    assert low.backend == "llvm" and "phi double" in low.source and ".head:" in low.source
    # a batch of rows through the batched entry
    a = np.linspace(-0.5, 0.5, 7)
    np.testing.assert_allclose(sn.vmap(sn.compile(_nested))(a, np.full(7, 1.1)),
                               [_nested_ref(v) for v in a], rtol=1e-12)


def _nested_ref(a):
    return float(sn.trace(_nested, 0.0, 0.0)(a, 1.1))


# -- array mode: the carries are symbolic arrays ----------------------------------------------


def _l96(x0, F):
    steps = 6

    def step(i, x):
        return x + 0.01 * ((np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + F + 0 * i)

    return sn.fori_loop(0, steps, step, x0)


def test_array_mode_loop_is_one_term_and_matches_scalar_mode():
    x0 = np.linspace(0, 1, 8)
    fa = sn.trace(_l96, np.zeros(8), 8.0, mode="array")
    fs = sn.trace(_l96, np.zeros(8), 8.0)
    assert fa.count_ops() == 2 and fa.outputs.shape == (8,)
    assert str(fa.outputs).startswith("carry0(fori[6]((%1C0, F, %1i) -> (")
    np.testing.assert_allclose(fa(x0, 8.0), fs(x0, 8.0), rtol=1e-14)
    np.testing.assert_allclose(fa.scalarize()(x0, 8.0), fs(x0, 8.0), rtol=1e-14)

    def g(xs, c0):
        return sn.scan(lambda c, v: (c * 0.5 + v, {"s": c.sum()}), c0, xs, reverse=True)

    xs, c0 = np.arange(12.0).reshape(4, 3), np.ones(3)
    ga = sn.trace(g, xs, c0, mode="array")
    want = g(xs, c0)
    got = ga(xs, c0)
    np.testing.assert_allclose(got[0], want[0])
    np.testing.assert_allclose(got[1]["s"], want[1]["s"])


def test_array_mode_grad_and_compile():
    def loss(x0, F):
        return np.sum(_l96(x0, F) ** 2)

    x0 = np.linspace(0, 1, 8)
    ref = sn.grad(loss, argnums=(0, 1))(x0, 8.0)  # scalar mode, reference interpreter
    ga = sn.compile(sn.grad(loss, argnums=(0, 1)), mode="array", backend="numpy")(x0, 8.0)
    np.testing.assert_allclose(ga[0], ref[0], rtol=1e-12)
    assert float(ga[1]) == pytest.approx(float(ref[1]), rel=1e-12)
    pytest.importorskip("numba")
    fa = sn.compile(_l96, mode="array")
    np.testing.assert_allclose(fa(x0, 8.0), sn.trace(_l96, x0, 8.0)(x0, 8.0), rtol=1e-13)


def test_taylor_mode_through_loops_matches_unrolled():
    f = sn.fori_loop(0, 4, lambda i, v: sn.sin(v) * p + i * v * v, x)
    v = x
    for i in range(4):
        v = sn.sin(v) * p + i * v * v
    for n in (1, 2, 3):
        assert sn.evaluate(sn.nth_derivative(f, x, n), ENV) == pytest.approx(
            sn.evaluate(sn.nth_derivative(v, x, n), ENV), rel=1e-12)
    us = np.array([x, p, 0.5], dtype=object)
    c, ys = sn.scan(lambda c, u: (c * sn.cos(u) + p * c * c, c * u), x, us, reverse=True)
    cu, yu = unrolled_scan(lambda c, u: (c * sn.cos(u) + p * c * c, c * u), x, us, True)
    assert sn.evaluate(sn.laplacian(c + ys[2], [x, p]), ENV) == pytest.approx(
        sn.evaluate(sn.laplacian(cu + yu[2], [x, p]), ENV), rel=1e-12)


def test_loops_pickle_and_save(tmp_path):
    import pickle

    f = sn.trace(_nested, 0.3, 1.1)
    g = pickle.loads(pickle.dumps(f))
    assert float(g(0.4, 0.9)) == pytest.approx(float(f(0.4, 0.9)), rel=1e-15)
    assert g.outputs is f.outputs  # interned again: the same terms
    sn.save(f, tmp_path / "nested.symnum")  # (file records: tests/test_loops_files.py)
    assert sn.load(tmp_path / "nested.symnum").outputs is f.outputs


def test_array_mode_reverse_mode_is_one_reverse_array_scan():
    from symnum.arrays.fn import trace
    from symnum.autodiff import array_ad

    def g(xs, c0, q):
        c, ys = sn.scan(lambda c, v: (c * q + np.sin(v) * c[::-1],
                                      {"a": c.sum() * v[0], "b": c * v}), c0, xs, reverse=True)
        return np.sum(c) + np.sum(ys["a"]) + np.sum(ys["b"][1] ** 2)

    xs, c0 = np.linspace(0, 1, 12).reshape(4, 3), np.array([0.3, -0.2, 0.5])
    G = array_ad.grad_fn(trace(g, xs, c0, 0.7, mode="array"), (0, 1, 2))
    assert G.count_ops() < 40  # whole arrays: no term per step or per element
    want = sn.grad(g, argnums=(0, 1, 2))(xs, c0, 0.7)  # scalar mode
    for got, w in zip(G(xs, c0, 0.7), want):
        np.testing.assert_allclose(got, w, rtol=1e-12)
    pytest.importorskip("llvmlite")
    k = sn.build_function(G.outputs, *G.inputs)  # scalarised, compiled with its loops
    for got, w in zip(k(xs, c0, 0.7), want):
        np.testing.assert_allclose(got, w, rtol=1e-12)


def test_array_mode_forward_mode_is_one_jvp_loop():
    from symnum.arrays.evaluate import eval_array_terms
    from symnum.arrays.fn import trace
    from symnum.arrays.terms import ArraySym
    from symnum.autodiff.array_jvp import jvp_arrays

    def g(xs, c0, q):
        c, ys = sn.scan(lambda c, v: (c * q + np.sin(v) * c[::-1],
                                      {"a": c.sum() * v[0], "b": c * v}), c0, xs)
        w = sn.while_loop(lambda v: np.sum(v) < 5, lambda v: v * 1.5 + q, c0, max_steps=20)
        return np.sum(c) + np.sum(ys["a"]) + np.sum(ys["b"][1] ** 2) + np.sum(w)

    xs, c0 = np.linspace(0, 1, 12).reshape(4, 3), np.array([0.3, -0.2, 0.5])
    fa = trace(g, xs, c0, 0.7, mode="array")
    ins = fa.flat_inputs
    ts = [ArraySym("t0", (4, 3)), ArraySym("t1", (3,)), sn.Sym("t2")]
    (t,) = jvp_arrays(fa.flat_outputs, ins, ts)
    vx, vc, vq = np.cos(np.arange(12.0)).reshape(4, 3), np.array([1.0, -2.0, 0.5]), 0.3
    got = eval_array_terms([t], {ins[0]: xs, ins[1]: c0, ins[2]: 0.7, ts[0]: vx, ts[1]: vc,
                                 ts[2]: vq})[0]
    G = sn.grad(g, argnums=(0, 1, 2))(xs, c0, 0.7)  # scalar mode, reverse
    assert float(got) == pytest.approx(
        float(np.sum(G[0] * vx) + np.sum(G[1] * vc) + G[2] * vq), rel=1e-12)
