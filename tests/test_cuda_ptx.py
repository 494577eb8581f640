"""The cuda backend's kernels compile for a real GPU: PTX for sm_90, linked to a cubin, no GPU.

Needs NVVM (numba-cuda's wheels via `pip install "numba-cuda[cu13]"`, or a CUDA toolkit that
numba finds) and a linker: cuda.core's (from those wheels) or a `ptxas` on PATH that accepts the
PTX version. Each missing piece skips with the reason. The linker is a real check: it rejects
broken PTX (tested below), so a cubin means the kernel would load on an H100.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from symnum.backends import cuda_backend as cb

import symnum as sn
from symnum.demo.examples import brusselator_rhs

CC = (9, 0)


@pytest.fixture(scope="module")
def nvvm():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("NUMBA_ENABLE_CUDASIM=1: numba.cuda is the simulator in this process")
    try:
        from numba import cuda
    except ImportError as exc:
        pytest.skip(f"numba.cuda cannot be imported: {exc}")

    def probe(a):
        a[0] = 1.0

    try:
        cuda.compile_ptx(probe, "void(float64[::1])", cc=CC)
    except Exception as exc:  # NvvmSupportError & co: the toolchain, not our code
        pytest.skip(f"no NVVM to generate PTX ({type(exc).__name__}: {str(exc)[:200]}); "
                    "pip install 'numba-cuda[cu13]'")
    return cuda


@pytest.fixture(scope="module")
def link(nvvm):
    """PTX text → cubin bytes, by cuda.core's nvJitLink linker or else by ptxas."""
    try:
        from cuda.core import Linker, LinkerOptions, ObjectCode

        def by_cuda_core(ptx: str) -> bytes:
            obj = ObjectCode.from_ptx(ptx.encode())  # a str would be read as a file name
            return bytes(Linker(obj, options=LinkerOptions(arch=f"sm_{CC[0]}{CC[1]}"))
                         .link("cubin").code)

        return by_cuda_core
    except ImportError:
        pass
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        pytest.skip("no linker: neither cuda.core (pip install 'numba-cuda[cu13]') nor ptxas")

    def by_ptxas(ptx: str) -> bytes:
        with tempfile.TemporaryDirectory() as d:
            src, dst = Path(d) / "k.ptx", Path(d) / "k.cubin"
            src.write_text(ptx)
            p = subprocess.run([ptxas, f"-arch=sm_{CC[0]}{CC[1]}", str(src), "-o", str(dst)],
                               capture_output=True, text=True, timeout=120)
            if "Unsupported .version" in p.stderr:
                pytest.skip(f"ptxas is older than the PTX ({p.stderr.strip()[:160]}); "
                            "pip install 'numba-cuda[cu13]' for cuda.core's linker")
            if p.returncode:
                raise RuntimeError(f"ptxas rejected the PTX: {p.stderr[:2000]}")
            return dst.read_bytes()

    return by_ptxas


@pytest.fixture(scope="module")
def cache_dir():
    d = tempfile.mkdtemp(prefix="symnum-ptx-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


FNS = {
    "trig": (lambda x, y: sn.sin(x) * y + sn.exp(-y) * x**3, (1.0, 2.0)),
    "all_primitives": (lambda x, y: (
        sn.erf(x) + np.minimum(x, y) * np.maximum(x, y) + np.abs(x) + np.sign(y)
        + sn.ifelse(x < y, sn.cosh(x), sn.sinh(y)) + sn.tan(x) + np.arcsin(x) + np.arccos(y)
        + np.arctan2(x, y) + np.expm1(y) + np.log1p(x) + sn.hypot(x, y) + x**y + np.tanh(x)
        + sn.ifelse((x >= y) & ~(x == y) | (x <= -1.5), 1.0, -1.0) + (x != y)
        + sn.fma(x, y, sn.cos(x)) + sn.fma(sn.lt(x, y), 2.0, y)), (1.0, 2.0)),
    "pytree": (lambda s, p: {"a": s[0] * p, "b": (sn.sqrt(s[1]), s[0] / p)},
               (np.zeros(2), 1.0)),
    "hostile": (None, None),
}


def _fn(name):
    if name == "hostile":
        a, b = sn.Sym("x; import os"), sn.Sym("__import__('os')")
        return sn.Fn([a, b], [a * sn.log(b)])
    f, args = FNS[name]
    return sn.trace(f, *args, mode="scalar")  # the scalar kernels' PTX (element statements)


@pytest.mark.parametrize("dtype", cb.DTYPES)
@pytest.mark.parametrize("name", list(FNS))
def test_kernels_compile_to_an_sm90_cubin(link, cache_dir, name, dtype):
    fn = _fn(name)
    kinds = ["batched", "elementwise"] if cb.is_scalar_fn(fn) else ["batched"]
    for kind in kinds:
        ptx = cb.kernel_ptx(fn, kind, dtype=dtype, cc=CC, cache_dir=cache_dir)
        assert ".target sm_90" in ptx and ".visible .entry" in ptx
        if dtype == "float32":  # no float64 arithmetic of our own (libdevice's sinf has some)
            assert "add.rn.f64" not in ptx and "div.rn.f64" not in ptx, kind
        assert link(ptx)[:4] == b"\x7fELF"


def test_a_400_statement_kernel_compiles(link, cache_dir):
    # scalar mode: 32 outputs, 400 statements
    fn = sn.trace(brusselator_rhs, np.zeros((2, 4, 4)), mode="scalar")
    ptx = cb.kernel_ptx(fn, "batched", cc=CC, cache_dir=cache_dir)
    assert len(re.findall(r"\bst(?:\.global)?\.f64", ptx)) >= 32  # a store per output
    assert link(ptx)[:4] == b"\x7fELF"


def test_the_linker_rejects_broken_ptx(link, cache_dir):
    ptx = cb.kernel_ptx(_fn("trig"), "batched", cc=CC, cache_dir=cache_dir)
    assert "mul.f64" in ptx
    with pytest.raises(Exception):  # noqa: B017 - nvJitLinkError or RuntimeError(ptxas)
        link(ptx.replace("mul.f64", "mul.f65", 1))


def test_ptx_for_another_compute_capability(nvvm, cache_dir):
    ptx = cb.kernel_ptx(_fn("trig"), "elementwise", cc=(8, 0), cache_dir=cache_dir)
    assert ".target sm_80" in ptx


def test_ptx_for_an_array_input_fn_has_no_elementwise_kernel(nvvm, cache_dir):
    with pytest.raises(sn.errors.ShapeError, match="all scalars"):
        cb.kernel_ptx(_fn("pytree"), "elementwise", cache_dir=cache_dir)


def test_the_linear_lowering_patch_changes_no_code(nvvm, cache_dir):
    """numba-cuda's quadratic variable scan is replaced (see cuda_backend._patch_lowering);
    the PTX must be the same as with the original, up to numba's mangling counter."""
    try:
        from numba.cuda import lowering
    except ImportError:
        pytest.skip("the built-in CUDA target uses numba's own (already linear) lowering")
    cb._cuda()
    new = lowering.Lower._find_singly_assigned_variable
    if new.__module__ != cb.__name__:
        pytest.skip("this numba-cuda needed no patch")
    fn = _fn("all_primitives")
    ptx_new = cb.kernel_ptx(fn, "elementwise", cache_dir=cache_dir)
    original = cb._ORIGINAL_LOWERING[0]
    try:
        lowering.Lower._find_singly_assigned_variable = original
        ptx_old = cb.kernel_ptx(fn, "elementwise", cache_dir=cache_dir)
    finally:
        lowering.Lower._find_singly_assigned_variable = new
    unmangle = re.compile(r"B\d+v\d+")  # numba's per-compile counter in symbol names
    assert unmangle.sub("", ptx_new) == unmangle.sub("", ptx_old)


def _vdp_rk4(y0, y1):
    def f(y):
        return np.array([y[1], 1.5 * (1 - y[0] ** 2) * y[1] - np.sin(y[0])])

    def body(i, y):
        h = 0.05
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

    return sn.fori_loop(0, 1000, body, np.array([y0, y1]))


LOOPS = {  # loop terms (backends.cuda_loops): each a loop per thread
    "rk4_fori": lambda: sn.trace(_vdp_rk4, 1.0, 0.0),
    "scan_ys_by_offset": lambda: sn.trace(lambda a, b: sn.scan(
        lambda c, x: (np.sin(c) * b + x, (c * c, c + x)), a, np.linspace(0, 1, 6)), 0.3, 0.7),
    "scan_local_table": lambda: sn.trace(lambda a: sn.scan(
        lambda c, x: (c * 0.5 + x, c * c), a, np.arange(4.0))[1].sum() * a, 1.0),
    "while_break": lambda: sn.trace(lambda a: sn.while_loop(
        lambda v: v < 10, lambda v: v * v + 1, a, max_steps=6), 1.0),
    "grad_through_scan": lambda: sn.trace(sn.grad(lambda a, b: sn.scan(
        lambda c, x: (np.sin(c) * b + x, c), a, np.linspace(0, 1, 5))[0], argnums=(0, 1)),
        0.3, 0.7),
}


@pytest.mark.parametrize("dtype", cb.DTYPES)
@pytest.mark.parametrize("name", list(LOOPS))
def test_loop_kernels_compile_to_an_sm90_cubin(link, cache_dir, name, dtype):
    fn = LOOPS[name]()
    for kind in ("batched", "elementwise"):
        ptx = cb.kernel_ptx(fn, kind, dtype=dtype, cc=CC, cache_dir=cache_dir)
        assert ".visible .entry" in ptx
        # a real loop: a backward branch per loop, not steps unrolled (the RK4 body is ~200
        # operations; 1,000 steps unrolled would be 200,000)
        assert re.search(r"@%p\d+ bra", ptx) and ptx.count("\n") < 20_000, (name, kind)
        if dtype == "float32":  # carries and the step index stay float32
            assert "add.rn.f64" not in ptx and "div.rn.f64" not in ptx, (name, kind)
        assert link(ptx)[:4] == b"\x7fELF"


def _heat(u0, k):  # a loop carrying an array: a host loop of launches (cuda_step_loops)
    return sn.fori_loop(0, 500, lambda i, u: u + k * (np.roll(u, 1) - 2 * u + np.roll(u, -1)),
                        u0)


def _scan_arrays(u0, xs):
    return sn.scan(lambda c, x: (np.sin(c) * 0.9 + x, c * 2.0), u0, xs, reverse=True)


def _timed(u0, h):  # a scalar carry computed on the host, passed as a float64 argument
    return sn.fori_loop(0, 50, lambda i, c: (c[0] + h, c[1] + h * np.cos(c[0]) * (
        np.roll(c[1], 1) - c[1])), (0.0, u0))


ARRAY_LOOPS = {
    "heat": lambda: sn.trace(_heat, np.zeros(4096), 0.1, mode="array"),
    "scan": lambda: sn.trace(_scan_arrays, np.zeros(300), np.zeros((20, 300)), mode="array"),
    "timed": lambda: sn.trace(_timed, np.zeros(1000), 0.01, mode="array"),
}


@pytest.mark.parametrize("name", list(ARRAY_LOOPS))
def test_array_carry_loop_kernels_compile_to_an_sm90_cubin(link, cache_dir, name):
    from symnum.backends.cuda_arrays import array_kernel_ptx

    fn = ARRAY_LOOPS[name]()
    ptxs = array_kernel_ptx(fn, cb, cc=CC, cache_dir=cache_dir)
    assert len(ptxs) == 2  # the copy of the init, and the step's one kernel
    for ptx in ptxs.values():
        assert ".target sm_90" in ptx and ".visible .entry" in ptx
        assert link(ptx)[:4] == b"\x7fELF"
