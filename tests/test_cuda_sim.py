"""The cuda backend without a GPU: its host-side pieces here, its kernels on the CUDA simulator.

The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before numba is imported, so the
kernel cases (tests/_cuda_sim_cases.py) run in a subprocess; on a machine with a GPU the same
cases also run on the device. Nothing in this process imports numba.cuda.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tokenize
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from symnum.backends import cuda_backend as cb
from symnum.backends.pysource import _MATH

import symnum as sn
from symnum.errors import CompileError, DTypeError, ShapeError

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "_cuda_sim_cases.py"


def _cases_module():
    spec = importlib.util.spec_from_file_location("_cuda_sim_cases", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CASES = _cases_module().CASES


def run_cases(sim: bool, *args: str, timeout: float = 240) -> tuple[int, dict, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if sim:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    p = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout)
    last = (p.stdout.strip().splitlines() or ["{}"])[-1]
    try:
        report = json.loads(last)
    except json.JSONDecodeError:
        report = {}
    return p.returncode, report, p.stdout[-4000:] + p.stderr[-4000:]


# ---------------------------------------------------------------------------------------------
# kernels under the simulator (one subprocess for all cases)


@pytest.fixture(scope="module")
def simulated() -> dict:
    rc, report, out = run_cases(True)
    if rc == 3:
        pytest.skip(f"no CUDA simulator here: {report.get('unavailable', out)}")
    assert "results" in report, out
    return report


@pytest.mark.parametrize("name", CASES)
def test_simulated_case(simulated, name):
    assert simulated["info"]["mode"] == "simulator"
    assert simulated["results"].get(name) == "ok", simulated["results"].get(name, "not run")


def test_cases_on_a_real_gpu_when_there_is_one():
    rc, report, out = run_cases(False, "--examples", "8", timeout=600)
    if rc == 3:
        pytest.skip(f"no GPU: {report.get('unavailable', out)}")
    assert report.get("info", {}).get("mode") == "gpu", out
    bad = {k: v for k, v in report["results"].items() if v != "ok"}
    assert not bad, bad


def test_lowering_without_a_gpu_says_what_to_do():
    code = ("import symnum as sn\nfrom symnum import backends\n"
            "from numba import cuda\n"
            "if cuda.is_available(): print('HAS-GPU'); raise SystemExit\n"
            "try:\n"
            "    backends.lower(sn.trace(lambda x: x + 1, 1.0), 'cuda')\n"
            "except sn.errors.CompileError as e: print(e)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    if "HAS-GPU" in out.stdout:
        pytest.skip("this machine has a GPU")
    assert "NUMBA_ENABLE_CUDASIM=1" in out.stdout and "backend='numba'" in out.stdout, out


# ---------------------------------------------------------------------------------------------
# host-side pieces, in this process


def _offsets(shapes, j_count):
    """Where element j of the broadcast result reads each input, by broadcast_layout."""
    shape, dims, strides = cb.broadcast_layout(shapes)
    idx = np.zeros((len(shapes), j_count), dtype=np.int64)
    for j in range(j_count):
        r = j
        for d in range(len(dims) - 1, -1, -1):
            q, r = r % dims[d], r // dims[d]
            idx[:, j] += q * strides[:, d]
    return shape, idx


@st.composite
def broadcastable(draw):
    nd = draw(st.integers(0, 4))
    full = draw(st.lists(st.integers(0, 4), min_size=nd, max_size=nd))
    shapes = []
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(0, nd))
        dims = full[nd - k:]
        shapes.append(tuple(d if draw(st.booleans()) else 1 for d in dims))
    return shapes


@given(broadcastable())
def test_broadcast_layout_reads_what_numpy_broadcasting_reads(shapes):
    want_shape = np.broadcast_shapes(*shapes)
    n = int(np.prod(want_shape))
    shape, idx = _offsets(shapes, n)
    assert shape == want_shape
    for k, s in enumerate(shapes):
        src = np.arange(int(np.prod(s))).reshape(s)
        np.testing.assert_array_equal(idx[k], np.broadcast_to(src, want_shape).ravel())


@pytest.mark.parametrize(("shapes", "dims"), [
    ([(2, 3), (2, 3)], [6]),  # same shapes collapse to one dimension
    ([(5,), ()], [5]),
    ([(), ()], [1]),
    ([(3, 1), (1, 4)], [3, 4]),
    ([(2, 3, 4), (4,)], [6, 4]),  # (2,3) merge: the (4,) input is broadcast over both
    ([(2, 1, 4), (2, 3, 4)], [2, 3, 4]),
])
def test_broadcast_layout_merges_dimensions(shapes, dims):
    assert cb.broadcast_layout(shapes)[1].tolist() == dims


def test_broadcast_layout_rejects_incompatible_shapes():
    with pytest.raises(ShapeError, match=r"\(3,\), \(4,\) do not broadcast"):
        cb.broadcast_layout([(3,), (4,)])


@pytest.mark.parametrize(("args", "want"), [
    ((np.zeros(2, np.float32), np.zeros(2, np.float32)), "float32"),
    ((np.zeros(2, np.float32), 2.0), "float32"),  # a Python float is weak (NEP 50)
    ((np.zeros(2, np.float32), np.zeros(2)), "float64"),
    ((np.zeros(2, np.int32), np.zeros(2, np.float32)), "float64"),
    ((np.zeros(2, np.int64),), "float64"),
    ((np.zeros(2, np.float16),), "float32"),
    ((1.0, 2), "float64"),
])
def test_result_dtype_follows_numpy_promotion(args, want):
    assert cb.result_dtype(list(args)) == want


@pytest.mark.parametrize("bad", [np.zeros(2, np.complex128), np.zeros(2, np.longdouble),
                                 np.array(["a"])])
def test_result_dtype_rejects_non_real(bad):
    if bad.dtype == np.longdouble and np.finfo(np.longdouble).bits == 64:
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(DTypeError, match="float32 or float64|cannot combine"):
        cb.result_dtype([bad])


@pytest.mark.parametrize(("n", "threads", "blocks", "want"), [
    (0, 128, 8, (1, 128)), (1, 128, 8, (1, 128)), (129, 128, 8, (2, 128)),
    (10**7, 128, 8, (8, 128)),
])
def test_launch_config_caps_the_grid(n, threads, blocks, want):
    assert cb.launch_config(n, threads, blocks) == want


ALLOWED = {"math", "np", "cuda", "jit", "device", "float32", "nan", "inf", "kernel", "batched",
           "elementwise", "XT", "OUTT", "OUT", "x", "out", "n", "nd", "shape", "strides", "range",
           "grid", "gridsize", "i", "j", "d", "q", "r", "if", "else", "for", "in", "def",
           "return", "pass", "import", "from", "numpy", "as", "numba", "and", "or", "not",
           "True", "False", "minimum", "maximum", "try", "except", "ImportError", "None",
           "libdevice"} | _MATH


@pytest.mark.parametrize("dtype", cb.DTYPES)
def test_generated_source_has_only_generated_identifiers(dtype):
    names = ["x; import os", "__import__('os')", "out", "cuda", "t0"]
    syms = [sn.Sym(n) for n in names]
    e = (syms[0] * sn.sin(syms[1]) + np.sign(syms[2]) - sn.ifelse(syms[3] < syms[4], 1.0,
                                                                     syms[4] ** 2.5))
    src, sched = cb.generate(sn.Fn(syms, [e, syms[0]]), dtype)
    for n in names:
        assert repr(n) not in src
    idents = {t.string for t in tokenize.generate_tokens(StringIO(src).readline)
              if t.type == tokenize.NAME}
    generated = {s for s in idents if s[0] in "xtapo" and s[1:].isdigit()}
    assert idents - generated <= ALLOWED, idents - generated - ALLOWED
    compile(src, "<generated>", "exec")
    assert len(sched) > 0


def test_float32_source_keeps_constants_in_float32():
    x = sn.Sym("x")
    src, _ = cb.generate(sn.Fn([x], [2.5 * x + 1.5]), "float32")
    assert "np.float32(2.5)" in src and "np.float32(1.5)" in src
    src64, _ = cb.generate(sn.Fn([x], [2.5 * x + 1.5]), "float64")
    assert "np.float32" not in src64.split("def kernel")[1]


def test_fma_lowers_to_cuda_fma():
    x, y = sn.symbols("x y")
    src, _ = cb.generate(sn.Fn([x, y], [sn.fma(x, y, 1.0), sn.fma(sn.lt(x, y), 2.0, y)]))
    body = src.split("def batched")[1]
    assert "cuda.fma(x0, x1, 1.0)" in body and "cuda.fma(t1, 2.0, x1)" in body  # t1: x0 < x1


def test_elementwise_kernel_only_for_scalar_inputs():
    assert "def elementwise(" in cb.generate(sn.trace(lambda x, y: x * y, 1.0, 2.0))[0]
    src, _ = cb.generate(sn.trace(lambda v: v * 2, np.zeros(3), mode="scalar"))
    assert "def elementwise(" not in src and "def batched(" in src
    assert not cb.is_scalar_fn(sn.trace(lambda v: v * 2, np.zeros(3), mode="scalar"))


@pytest.mark.parametrize(("kind", "dtype", "n_in", "want"), [
    ("batched", "float64", 3, "void(float64[:, :], float64[:, :], int64)"),
    ("elementwise", "float64", 1,
     "void(float64[::1], float64[:, ::1], int64, int64[::1], int64[:, ::1])"),
])
def test_signatures(kind, dtype, n_in, want):
    assert cb.signature(kind, dtype, n_in) == want


def test_generate_and_signature_errors():
    with pytest.raises(CompileError, match="float64 or float32"):
        cb.generate(sn.trace(lambda x: x, 1.0), "float16")
    with pytest.raises(CompileError, match="unknown kernel kind"):
        cb.signature("reduce", "float64", 1)


@pytest.mark.parametrize(("name", "args"), [
    ("log", (0.0,)), ("log", (-1.0,)), ("sqrt", (-1.0,)), ("sin", (np.inf,)),
    ("acos", (2.0,)), ("atan2", (0.0, -0.0)), ("hypot", (np.inf, np.nan)), ("erf", (np.inf,)),
    ("exp", (1000.0,)), ("log1p", (-1.0,)), ("fabs", (-0.0,)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_simulator_math_returns_ieee_values_like_numpy(name, args, dtype):
    import math

    ref = {"asin": np.arcsin, "acos": np.arccos, "atan2": np.arctan2}.get(name) or getattr(
        np, name, None)
    vals = [dtype(a) for a in args]
    with np.errstate(all="ignore"):
        got = getattr(cb.SIM_MATH, name)(*vals)
        want = ref(*vals) if ref is not None else dtype(math.erf(float(vals[0])))
    assert type(got) is type(want) is dtype
    np.testing.assert_array_equal(got, want)


def test_unknown_options_are_rejected_before_touching_cuda():
    fn = sn.trace(lambda x: x, 1.0)
    with pytest.raises(CompileError, match="unknown option.*blocksize"):
        cb.lower(fn, blocksize=3)
    with pytest.raises(CompileError, match="1..1024"):
        cb.lower(fn, threads=2048)
