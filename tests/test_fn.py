"""Fn and trace: structure, naming, evaluation (also batched), immutability and errors.

The oracle is the traced Python function itself, run by numpy on the same numbers.
"""

from __future__ import annotations

import functools
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import symnum as sn
from symnum.demo.examples import brusselator_init, brusselator_rhs
from symnum.errors import DTypeError, ShapeError, TracingError
from symnum.tracing.protocols import SymArray
from symnum.tracing.pytree import TreeDef

RNG = np.random.default_rng(7)
P0 = (1.0, 3.4, 10.0)

# ---------------------------------------------------------------------------------------------
# the Brusselator: fixed parameters, and symbolic parameters and time (np.where on a symbol)


@pytest.mark.parametrize("n", [4, 8])
def test_brusselator_fixed_parameters(n):
    # element symbols are scalar mode's: the default traces arrays to array terms
    fn = sn.trace(lambda s: brusselator_rhs(s, P0, 0.0), brusselator_init(n), mode="scalar")
    assert fn.names == ("s",) and fn.out_shapes == [(2, n, n)]
    assert len(fn.flat_inputs) == 2 * n * n and fn.flat_inputs[1].name == "s[0,0,1]"
    for _ in range(3):
        s = RNG.normal(size=(2, n, n))
        np.testing.assert_allclose(fn(s), brusselator_rhs(s, P0, 0.0), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("n", [4, 8])
def test_brusselator_symbolic_parameters_and_time(n):
    fn = sn.trace(brusselator_rhs, brusselator_init(n), P0, 0.0)
    assert [s.name for s in fn.flat_inputs[-4:]] == ["p[0]", "p[1]", "p[2]", "t"]
    assert fn.in_shapes == [(2, n, n), (), (), (), ()]
    ops = {sn.operation(node).name for node in sn.postorder(fn.flat_outputs)
           if sn.iscall(node)}
    assert "ifelse" in ops  # the forcing switches on t: a symbolic np.where condition
    for t in (0.0, 1.2, 3.0):
        s = RNG.normal(size=(2, n, n))
        p = tuple(RNG.uniform(0.5, 4.0, 3))
        np.testing.assert_allclose(fn(s, p, t), brusselator_rhs(s, p, t), rtol=1e-12,
                                   atol=1e-9)
    # batched over the right: four states and four times at once
    S = RNG.normal(size=(2, n, n, 4))
    ts = np.array([0.0, 1.5, 1.0, 2.0])
    got = fn(S, P0, ts)
    assert got.shape == (2, n, n, 4)
    for k in range(4):
        np.testing.assert_allclose(got[..., k], brusselator_rhs(S[..., k], P0, ts[k]),
                                   rtol=1e-12, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# pytrees, names, static values


def _model(x, p, cfg, opts):
    a, b = p["a"], p["b"]
    y = np.sin(x) * a + b[0] * x**2 - b[1]
    return {"y": y, "stats": (np.sum(y), np.max(y)), "const": 2.0, "zero": np.zeros(2),
            "none": None, "mode": [opts["scale"] * np.mean(x)]} if cfg == "full" else y


def test_pytree_inputs_and_outputs():
    x0 = np.array([0.1, 0.2, 0.3])
    p0 = {"a": 2.0, "b": [1.0, -0.5]}
    fn = sn.trace(_model, x0, p0, "full", {"scale": 3}, mode="scalar")  # element symbols
    assert [s.name for s in fn.flat_inputs] == [
        "x[0]", "x[1]", "x[2]", "p['a']", "p['b'][0]", "p['b'][1]", "opts['scale']"]
    assert fn.inputs[2] == "full"  # a static leaf, passed through unchanged
    assert fn.inputs[3]["scale"].dtype == "int64"
    assert isinstance(fn.outputs["y"], SymArray) and fn.outputs["const"] is sn.Const(2.0)
    assert fn.outputs["zero"].tolist() == [sn.Const(0.0)] * 2 and fn.outputs["none"] is None
    assert fn.out_shapes == [(3,), (), (), (), (2,), ()]
    assert isinstance(fn.in_tree, TreeDef) and fn.out_tree.kind == "dict"
    assert len(fn.flat_outputs) == 3 + 1 + 1 + 1 + 2 + 1
    x, p = np.array([0.5, -1.0, 2.0]), {"a": 1.5, "b": (0.25, 2.0)}
    got = fn(x, p, "full", {"scale": 2})
    want = _model(x, p, "full", {"scale": 2})
    np.testing.assert_allclose(got["y"], want["y"], rtol=1e-13)
    np.testing.assert_allclose(got["stats"], want["stats"], rtol=1e-13)
    np.testing.assert_allclose(got["mode"][0], want["mode"][0], rtol=1e-13)
    assert got["const"] == 2.0 and got["zero"].shape == (2,) and got["none"] is None
    with pytest.raises(TracingError, match="static value 'full'.*trace again"):
        fn(x, p, "short", {"scale": 2})


def test_names_from_signature_and_override():
    assert sn.trace(lambda a, b: a * b, 1.0, 2.0).names == ("a", "b")
    assert [s.name for s in sn.trace(lambda *xs: xs[0] + xs[1], 1.0, 2.0).flat_inputs] == [
        "xs[0]", "xs[1]"]
    f = sn.trace(lambda a, b: a - b, 1.0, 2.0, names=["flow rate", "α"])
    assert [s.name for s in f.flat_inputs] == ["flow rate", "α"]
    h = sn.trace(np.hypot, 1.0, 2.0)  # a ufunc's signature names its inputs x1, x2
    assert h.names == ("x1", "x2") and h.outputs is sn.hypot(*h.flat_inputs)
    assert sn.trace(operator.mul, 1.0, 2.0).names == ("a", "b")
    with pytest.raises(ShapeError, match="names= needs one string per example argument"):
        sn.trace(lambda a: a, 1.0, names=["a", "b"])


@pytest.mark.parametrize("example, dtype", [
    (1.0, "float64"), (np.float32(1.0), "float32"), (3, "int64"), (True, "bool"),
    (np.int32(2), "int32"), (np.zeros(2, np.float32), "float32"), (np.zeros(2, bool), "bool"),
])
def test_example_dtypes(example, dtype):
    fn = sn.trace(lambda v: v, example)
    assert {s.dtype for s in fn.flat_inputs} == {dtype}


def test_example_errors():
    with pytest.raises(DTypeError, match="complex128"):
        sn.trace(lambda z: z, 1j)
    with pytest.raises(TracingError, match="not a symbol"):
        sn.trace(lambda z: z, sn.symbols("x") + 1)
    with pytest.raises(TypeError, match="callable"):
        sn.trace(3, 1.0)
    with pytest.raises(TracingError, match="output leaf 0 is a str"):
        sn.trace(lambda z: "nope", 1.0)
    with pytest.raises(TracingError, match="np.empty_like"):
        sn.trace(lambda u: np.empty_like(u), np.ones(2))


def test_user_exceptions_propagate_unchanged():
    def bad(x):
        return {"a": 1}["b"] + x

    with pytest.raises(KeyError):
        sn.trace(bad, 1.0)
    with pytest.raises(ZeroDivisionError):
        sn.trace(lambda x: x + 1 / 0, 1.0)


def test_static_flags_with_partial():
    def f(x, square):
        return x * x if square else x

    fn = sn.trace(functools.partial(f, square=True), 3.0)
    assert fn.outputs is fn.flat_inputs[0] ** 2


def test_symbolic_example_arguments_are_kept():
    x, y = sn.symbols("x y")
    u = sn.symarray("u", 2)
    fn = sn.trace(lambda a, b, w: a * b + np.sum(w), x, y, u)
    assert fn.flat_inputs == [x, y, u[0], u[1]]
    assert fn.outputs is x * y + u[0] + u[1]


# ---------------------------------------------------------------------------------------------
# Fn made directly; immutability; evaluation forms


def test_fn_direct_and_evaluate_forms():
    x, y = sn.symbols("x y")
    f = sn.Fn((x, y), [x * y, sn.sin(x)], names=["x", "y"])
    assert f(2.0, 3.0)[0] == 6.0
    assert f.evaluate((2.0, 3.0))[0] == 6.0
    assert f.evaluate({x: 2.0, "y": 3.0})[0] == 6.0
    assert sn.evaluate(f, (2.0, 3.0))[1] == np.sin(2.0)
    r = f.evaluate({x: np.array([1.0, 2.0]), y: 3.0})
    assert r[0].tolist() == [3.0, 6.0] and r[1].shape == (2,)
    assert sn.Fn((), 4.0)() == 4.0
    assert f.count_ops() == 2
    assert "2 inputs" in repr(f) and "x" in repr(f)


def test_fn_is_immutable():
    u = sn.symarray("u", 3)
    f = sn.Fn((u,), u * 2)
    with pytest.raises(AttributeError, match="immutable"):
        f.outputs = None
    with pytest.raises(ValueError, match="read-only"):
        f.outputs[0] = 0
    with pytest.raises(ValueError, match="read-only"):
        f.inputs[0][0] = 0
    u[0] = 5.0  # the caller's array is not the Fn's
    assert f.inputs[0][0].name == "u[0]"
    flat = f.flat_outputs
    flat.clear()
    assert len(f.flat_outputs) == 3


def test_inplace_writes_to_arguments_do_not_change_inputs():
    def f(u):
        u[0] = 0.0
        u += 1
        return u

    fn = sn.trace(f, np.ones(3))
    assert [s.name for s in fn.flat_inputs] == ["u[0]", "u[1]", "u[2]"]
    np.testing.assert_array_equal(fn(np.array([5.0, 6.0, 7.0])), [1.0, 7.0, 8.0])


def test_with_outputs_and_flat_outputs():
    u = sn.symarray("u", (2, 2))
    f = sn.trace(lambda u: (u.T, np.sum(u)), np.ones((2, 2)), mode="scalar")  # element terms
    g = f.with_flat_outputs([e * 2 for e in f.flat_outputs])
    assert g.out_shapes == f.out_shapes and g.flat_inputs == f.flat_inputs
    assert g.outputs[0][0, 1] is 2 * u[1, 0]
    np.testing.assert_allclose(g(np.eye(2))[0], 2 * np.eye(2))
    h = f.with_outputs({"s": f.outputs[1]})
    assert h(np.ones((2, 2)))["s"] == 4.0
    with pytest.raises(ShapeError, match="expected 5 terms, got 1"):
        f.with_flat_outputs([u[0, 0]])


@pytest.mark.parametrize("args, match", [
    ((np.ones(3),), "takes 2 positional argument"),
    ((np.ones(3), (1.0, 2.0), 3), "takes 2 positional argument"),
    ((np.ones(4), (1.0, 2.0)), r"should have shape \(3,\).*got \(4,\)"),
    ((np.ones(3), (1.0,)), r"argument p should be a sequence of length 2, got length 1"),
    ((np.ones(3), 1.0), "sequence of length 2, got float"),
    ((np.ones((3, 2)), (np.ones(5), 1.0)), "batch dimensions.*do not broadcast"),
])
def test_call_shape_errors(args, match):
    fn = sn.trace(lambda u, p: u * p[0] + p[1], np.ones(3), (1.0, 2.0))
    with pytest.raises(ShapeError, match=match):
        fn(*args)


def test_call_dtype_error_and_dict_mismatch():
    fn = sn.trace(lambda d: d["a"] * 2, {"a": 1.0})
    with pytest.raises(ShapeError, match="dict with keys"):
        fn({"b": 1.0})
    with pytest.raises(DTypeError, match="must be numeric"):
        fn({"a": "x"})
    assert fn({"a": [1.0, 2.0]}).tolist() == [2.0, 4.0]  # a batch for a scalar input


def test_duplicate_and_invalid_inputs():
    x = sn.symbols("x")
    with pytest.raises(TracingError, match="appears more than once"):
        sn.Fn((x, [x]), x)
    with pytest.raises(TracingError, match="must be a symbol"):
        sn.Fn((x + 1,), x)
    with pytest.raises(TracingError, match="only symbols"):
        sn.Fn((SymArray([x, 1.0]),), x)


# ---------------------------------------------------------------------------------------------
# property: batched evaluation equals evaluation sample by sample


@given(st.integers(1, 4), st.integers(1, 3), st.booleans())
def test_batch_equals_per_sample(n, batch, scalar_batch):
    fn = sn.trace(lambda u, a: (np.tanh(u * a) @ np.ones(n), np.roll(u, 1) - a), np.ones(n), 1.0)
    U = RNG.normal(size=(n, batch))
    A = RNG.normal(size=batch) if scalar_batch else 0.7
    s, r = fn(U, A)
    assert np.shape(s) == (batch,) and r.shape == (n, batch)
    for k in range(batch):
        a = A[k] if scalar_batch else A
        s1, r1 = fn(U[:, k], a)
        np.testing.assert_allclose(s[k], s1, rtol=1e-14)
        np.testing.assert_allclose(r[:, k], r1, rtol=1e-14)
