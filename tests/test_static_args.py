"""Static arguments of compiled functions (symnum.compile, symnum.call_args): static_argnums /
static_argnames, parameters whose int/bool/str/None default makes them static, the cache key
(a new static value is a new trace), and the typed errors."""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn
from symnum.call_args import static_kind
from symnum.errors import ArgumentError


def _counting(f):
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(args[1:] if len(args) > 1 else ())
        return f(*args, **kwargs)

    import functools

    return functools.wraps(f)(wrapped), calls


def _halve_and_add(i, v):
    return v * 0.5 + 1.0


def _euler(x, steps=6):
    return sn.fori_loop(0, steps, _halve_and_add, x)


def _want(x, steps):
    for _ in range(steps):
        x = x * 0.5 + 1.0
    return x


def test_an_int_default_is_a_python_value_a_fori_loop_bound_takes():
    f, calls = _counting(_euler)
    cf = sn.compile(f)
    assert float(cf(1.0)) == _want(1.0, 6)
    assert float(cf(3.0)) == _want(3.0, 6) and len(calls) == 1  # the same kernel
    assert float(cf(1.0, 3)) == _want(1.0, 3) and len(calls) == 2  # a new value: a new trace
    assert float(cf(2.0, steps=3)) == _want(2.0, 3) and len(calls) == 2  # keyword: same key
    assert float(cf(1.0, 6)) == _want(1.0, 6) and len(calls) == 2  # == the default's kernel
    for _ in range(3):  # the generated dispatcher tells the values apart
        assert float(cf(1.0, 3)) == _want(1.0, 3) and float(cf(1.0, 4)) == _want(1.0, 4)
    assert len(calls) == 3


def test_data_given_for_an_int_default_parameter_is_traced():
    f, calls = _counting(lambda x, n=2: x ** n)
    cf = sn.compile(f)
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(cf(x, np.float64(3.0)), x ** 3)
    np.testing.assert_allclose(cf(x, np.float64(4.0)), x ** 4)
    assert len(calls) == 1  # a numpy scalar is data: one kernel for every value
    np.testing.assert_allclose(cf(x), x ** 2)
    assert len(calls) == 2


def test_none_bool_str_and_tuple_defaults_are_static():
    def f(x, scale=None, clip=False, kind="sq", shape=(2, 1)):
        y = x if scale is None else x * scale
        y = y * y if kind == "sq" else y
        if clip:  # a Python bool: an `if` on it is fine
            y = np.minimum(y, 1.0)
        return np.broadcast_to(y, shape) + 0.0

    cf = sn.compile(f)
    np.testing.assert_allclose(cf(2.0), np.full((2, 1), 4.0))
    np.testing.assert_allclose(cf(2.0, clip=True), np.full((2, 1), 1.0))
    np.testing.assert_allclose(cf(2.0, 3.0, kind="id"), np.full((2, 1), 6.0))
    np.testing.assert_allclose(cf(2.0, shape=(3,)), np.full(3, 4.0))
    np.testing.assert_allclose(cf(0.5, None, True, "sq", (1, 2)), np.full((1, 2), 0.25))


def test_float_defaults_are_traced_so_one_kernel_serves_every_value():
    f, calls = _counting(lambda u, p=3.0: p * u ** 2 - u)
    cf = sn.compile(f)
    u = np.array([1.0, 2.0])
    np.testing.assert_allclose(cf(u), 3.0 * u ** 2 - u)
    np.testing.assert_allclose(cf(u, 2.0), 2.0 * u ** 2 - u)
    np.testing.assert_allclose(cf(u, p=0.5), 0.5 * u ** 2 - u)
    assert len(calls) == 1


def test_explicit_static_argnums_and_argnames():
    f, calls = _counting(lambda x, steps: sn.fori_loop(0, steps, _halve_and_add, x))
    cf = sn.compile(f, static_argnums=1)
    assert float(cf(1.0, 2)) == _want(1.0, 2) and float(cf(1.0, 5)) == _want(1.0, 5)
    assert float(cf(7.0, 2)) == _want(7.0, 2) and len(calls) == 2
    with pytest.raises(sn.errors.TracingError, match="upper bound is symbolic"):
        sn.compile(lambda x, steps: sn.fori_loop(0, steps, _halve_and_add, x))(1.0, 2)
    # a float made static by name is a constant of its kernel (a retrace per value)
    g, gcalls = _counting(lambda x, p: x * p)
    cg = sn.jit(g, static_argnames="p")
    assert float(cg(2.0, 1.5)) == 3.0 and float(cg(2.0, 2.5)) == 5.0 and len(gcalls) == 2
    assert "p" not in cg.fn.names


def test_static_argument_errors_are_typed():
    cf = sn.compile(lambda x, n: x * len(n), static_argnums=1)
    with pytest.raises(ArgumentError, match="must be hashable.*pass a tuple"):
        cf(1.0, [1, 2])
    with pytest.raises(ArgumentError, match="has no parameter 'nope'"):
        sn.compile(_euler, static_argnames="nope")
    with pytest.raises(ArgumentError, match="non-negative positions"):
        sn.compile(_euler, static_argnums=-1)
    # a None where a number is needed, for a parameter without a static default
    with pytest.raises(ArgumentError, match="is None.*static_argnums"):
        sn.compile(lambda x, y: x)(1.0, None)


def test_static_kind():
    assert static_kind(None) and static_kind(True) and static_kind("a") and static_kind(3)
    assert static_kind((1, ("a", None)))
    assert not static_kind(1.0) and not static_kind(np.int64(1)) and not static_kind([1])
    assert not static_kind((1, 2.0)) and not static_kind(np.zeros(2))


# -- grad / value_and_grad, and compiled transforms ------------------------------------------


def _power_loop(x, steps=6):
    return sn.fori_loop(0, steps, lambda i, v: v * x, 1.0)


def test_grad_takes_int_defaults_and_passed_ints_as_python_values():
    g = sn.grad(_power_loop)
    assert float(g(2.0)) == 6 * 2.0 ** 5
    assert float(g(2.0, 3)) == 3 * 2.0 ** 2  # passed: static too, a trace of its own
    assert float(g(2.0, 4)) == 4 * 2.0 ** 3
    v, d = sn.value_and_grad(_power_loop)(2.0, 2)
    assert (float(v), float(d)) == (4.0, 4.0)


def test_named_statics_of_grad_and_of_a_compiled_grad():
    def h(x, n):
        return sn.fori_loop(0, n, lambda i, v: v * x, 1.0)

    assert float(sn.grad(h, static_argnums=1)(2.0, 3)) == 12.0
    assert float(sn.value_and_grad(h, static_argnames="n")(2.0, 4)[1]) == 32.0
    # compile(grad(h)) with the statics named on compile: one kernel per value, never the
    # kernel of another value (the static value is in the key)
    cg = sn.compile(sn.grad(h), static_argnums=1)
    assert [float(cg(2.0, n)) for n in (3, 4, 3)] == [12.0, 32.0, 12.0]
    assert float(sn.compile(sn.grad(h), static_argnames="n")(2.0, 2)) == 4.0
    assert [float(sn.compile(sn.grad(_power_loop))(2.0, n)) for n in (2, 3)] == [4.0, 12.0]


def test_static_arguments_inside_an_outer_trace():
    def f(x, n=3, kind="pow"):
        return x ** n if kind == "pow" else x

    assert float(sn.grad(lambda x: sn.grad(f)(x, 3) * x)(2.0)) == 36.0  # d(3x³)/dx
    assert float(sn.compile(lambda x: sn.grad(f)(x, 2, "pow"))(5.0)) == 10.0
    assert float(sn.grad(sn.grad(f))(2.0, 3)) == 12.0


def test_grad_static_errors_are_typed():
    def f(x, n=3):
        return x ** n

    with pytest.raises(ArgumentError, match="both differentiated.*and static"):
        sn.grad(f, argnums=1, static_argnums=1)
    with pytest.raises(ArgumentError, match="'n' of f must be hashable"):
        sn.grad(f, static_argnums=1)(2.0, [3])
    with pytest.raises(ArgumentError, match="has no parameter 'm'"):
        sn.grad(f, static_argnames="m")
    with pytest.raises(sn.errors.TransformError, match="apply to a Python function"):
        sn.grad(sn.trace(f, 1.0), static_argnums=1)
    # a differentiated parameter is never static by default: its float is a variable
    d = sn.grad(f, argnums=(0, 1))(2.0, 3.0)
    assert float(d[0]) == 12.0 and float(d[1]) == pytest.approx(8 * np.log(2.0))


def test_array_mode_grad_keeps_statics():
    def f(x, n=2, kind="sum"):
        return np.sum(x ** n) if kind == "sum" else np.prod(x ** n)

    x = np.arange(1.0, 4.0)
    np.testing.assert_allclose(sn.grad(f, mode="array")(x, 3), 3 * x ** 2)
    np.testing.assert_allclose(sn.grad(f, mode="array")(x, 2, "prod"), [72.0, 36.0, 24.0])


def _slow_path_counter(monkeypatch):
    """Counts calls that miss the generated dispatcher (backends.dispatch) and take
    CompiledFunction._dispatch, the slow path (it asks is_symbolic on every call)."""
    import sys

    C = sys.modules["symnum.compile"]  # the module (sn.compile is the function)

    hits = []
    real = C.is_symbolic

    def counting(args):
        hits.append(1)
        return real(args)

    monkeypatch.setattr(C, "is_symbolic", counting)
    return hits


@pytest.mark.parametrize("call", [(), (6,), ("kw",)])
def test_a_static_default_call_reuses_the_kernel_on_the_fast_path(monkeypatch, call):
    """`f(x)` with `steps=6` omitted, passed, or given by keyword: one trace, one kernel,
    and after the first call no slow path (an omitted default used to fail the dispatcher's
    `steps == 6` test and take the slow path on every call: ~25x the plain call)."""
    f, traces = _counting(_euler)
    cf = sn.jit(f)
    args = {(): ((1.5,), {}), (6,): ((1.5, 6), {}), ("kw",): ((1.5,), {"steps": 6})}[call]
    assert cf(*args[0], **args[1]) == pytest.approx(_want(1.5, 6))
    slow = _slow_path_counter(monkeypatch)
    for v in (0.25, 1.5, -2.0):
        assert cf(v, *args[0][1:], **args[1]) == pytest.approx(_want(v, 6))
    assert len(traces) == 1 and len(cf._entries) == 1
    if call != ("kw",):  # a keyword call binds through the slow path by design
        assert slow == []
    assert cf(1.5, 3) == pytest.approx(_want(1.5, 3))  # another value: another kernel
    assert len(traces) == 2 and len(cf._entries) == 2


def test_a_compiled_grad_with_a_passed_static_takes_the_fast_path(monkeypatch):
    """A transform boxes its statics (call_args.StaticArg) among the kernel's inputs: the
    dispatcher tests their values and skips them when packing (was: slow path every call)."""
    def h(x, steps=6):
        return _euler(x, steps) * x

    g = sn.jit(sn.grad(h))
    want = [g(v, 6) for v in (0.5, 1.5)]  # the first call compiles
    slow = _slow_path_counter(monkeypatch)
    assert [g(v, 6) for v in (0.5, 1.5)] == pytest.approx(want)
    assert slow == []
    d = 1e-6
    fd = (h(1.5 + d, 6) - h(1.5 - d, 6)) / (2 * d)
    assert want[1] == pytest.approx(fd, rel=1e-6)
    assert g(1.5, 2) != pytest.approx(want[1])  # another static value is another kernel
