"""The llvm backend's CPython-API trampolines: they call the right kernel, reject every argument
numba's typed trampolines rejected with a ShapeError, release the GIL in batches, and the
backend falls back to numba/ctypes where they are unsupported."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from symnum.backends import llvm_backend, llvm_call, lower  # noqa: E402

import symnum as sn  # noqa: E402
from symnum.errors import ShapeError  # noqa: E402


@pytest.fixture(scope="module")
def compiled():
    x, y = sn.symbols("x y")
    return lower(sn.Fn([x, y], [sn.sin(x) * y + x * x, x - y, 2.0 * y]), "llvm", cache=False)


def test_the_trampolines_are_ours_and_compute_the_kernel(compiled):
    if not llvm_call.supported():
        pytest.skip("not CPython with a GIL")
    assert compiled.info["call"] == "llvm"
    x, out = np.array([0.5, 3.0]), np.empty(3)
    compiled.kernel(x, out)
    np.testing.assert_array_equal(out, [np.sin(0.5) * 3.0 + 0.25, -2.5, 6.0])
    X = np.random.default_rng(0).normal(size=(1001, 2))
    OUT = np.empty((1001, 3))
    compiled.batched(X, OUT)
    np.testing.assert_allclose(OUT[:, 1], X[:, 0] - X[:, 1], rtol=0, atol=0)
    ro = x.copy()
    ro.flags.writeable = False  # read-only inputs are fine
    compiled.kernel(ro, out)
    assert out[2] == 6.0


@pytest.mark.parametrize("case", ["dtype", "short x", "short out", "strided", "2-D", "list",
                                  "read-only out", "byte-swapped", "subclass"])
def test_bad_arguments_raise_shape_error_and_write_nothing(compiled, case):
    x, out = np.array([0.5, 3.0]), np.full(3, -7.0)
    if case == "dtype":
        x = x.astype(np.float32)
    elif case == "short x":
        x = x[:1]
    elif case == "short out":
        out = out[:2]
    elif case == "strided":
        x = np.array([0.5, 0.0, 3.0, 0.0])[::2]
    elif case == "2-D":
        x = x.reshape(1, 2)
    elif case == "list":
        x = [0.5, 3.0]
    elif case == "read-only out":
        out.flags.writeable = False
    elif case == "byte-swapped":
        x = x.astype(">f8")
    elif case == "subclass":
        x = x.view(np.matrix)
    with pytest.raises(ShapeError):
        compiled.kernel(x, out)
    if out.flags.writeable:
        assert (out == -7.0).all()


@pytest.mark.parametrize("shape_x, shape_out", [((4, 3), (4, 3)), ((4, 2), (5, 3)),
                                                ((4, 2), (4, 2)), ((8,), (8, 3))])
def test_batched_checks_both_shapes(compiled, shape_x, shape_out):
    with pytest.raises(ShapeError):
        compiled.batched.call(compiled.batched.addr, 2, 3, np.zeros(shape_x),
                              np.zeros(shape_out))


def test_batches_run_without_the_gil():
    """The batched trampoline calls the kernel between PyEval_SaveThread and
    PyEval_RestoreThread (other Python threads run meanwhile; how much they get done is a
    benchmark's question, not a unit test's), and the single-call one holds the GIL."""
    if not llvm_call.supported():
        pytest.skip("no CPython-API trampolines on this interpreter")
    ir = llvm_call.trampoline_ir("float64")
    batched = ir[ir.index("define i8* @sn_call_batched"):]
    save, call, restore = (batched.index("@PyEval_SaveThread()"),
                           batched.index("call void %fn("),
                           batched.index("@PyEval_RestoreThread("))
    assert save < call < restore
    single = ir[ir.index("define i8* @sn_call_kernel"):ir.index("define i8* @sn_call_batched")]
    assert "PyEval_SaveThread" not in single
    x = sn.Sym("x")
    c = lower(sn.Fn([x], [sn.sin(x) + 1.0]), "llvm", cache=False, parallel=False)
    X = np.random.default_rng(1).normal(size=(1000, 1))
    OUT = np.empty_like(X)
    c.batched(X, OUT)
    np.testing.assert_allclose(OUT, np.sin(X) + 1.0)


def test_the_struct_layout_check_and_the_fallbacks(monkeypatch):
    assert llvm_call._layout_ok("float64") == llvm_call.supported()
    monkeypatch.setattr(llvm_call, "supported", lambda: False)
    monkeypatch.delitem(llvm_backend._STATE, "call_float32", raising=False)
    x = sn.Sym("x")
    c = lower(sn.Fn([x], [x * 2.0]), "llvm", cache=False, dtype="float32")
    assert c.info["call"] in ("numba", "ctypes")
    assert c(1.5)[0] == 3.0
    llvm_backend._STATE.pop("call_float32")  # (monkeypatch puts back what was there)
