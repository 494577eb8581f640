"""CUDA backend cases, run in a process of their own: under the CUDA simulator (test_cuda_sim.py
sets NUMBA_ENABLE_CUDASIM=1 before numba is imported) or on a real GPU (benchmarks/gpu_check.sh).

`python tests/_cuda_sim_cases.py [--examples N] [--only NAME ...]` checks every case against the
reference interpreter and prints one JSON object on its last line ({"results": {case: "ok" or
the failure}, ...}); exit 0 when all pass, 1 on a failure, 3 without a GPU or simulator.
Importing this module loads neither numba nor the backend: test_cuda_sim.py reads CASES from it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import symnum as sn  # noqa: E402
from symnum.demo.examples import brusselator_rhs  # noqa: E402
from symnum.tracing.pytree import tree_flatten, tree_map  # noqa: E402

_CASES: dict[str, Callable[[Any], None]] = {}


def case(f: Callable[[Any], None]) -> Callable[[Any], None]:
    _CASES[f.__name__] = f
    return f


class Ctx:
    """What a case needs: the backend, a launch config that exercises the grid-stride loop
    (fewer threads than rows), a private kernel cache directory, and the run's options."""

    def __init__(self, cache_dir: str, examples: int) -> None:
        from symnum.backends import cuda_backend

        self.cb = cuda_backend
        self.sim = cuda_backend.simulating()
        self.cache_dir = cache_dir
        self.examples = examples
        self.rng = np.random.default_rng(20240607)

    def lower(self, fn: Any, **opts: Any) -> Any:
        from symnum import backends

        opts.setdefault("threads", 8 if self.sim else 64)
        opts.setdefault("max_blocks", 2)  # rows > threads·blocks: the stride loop runs
        k = backends.lower(fn, "cuda", cache_dir=self.cache_dir, **opts)  # via the registry
        assert isinstance(k, self.cb.CudaCompiled) and k.info["statements"] == len(
            self.cb.generate(fn, opts.get("dtype", "float64"))[1])
        return k


def close(got: Any, want: Any, rtol: float, atol: float = 0.0, what: str = "") -> None:
    """Leaves agree: same shapes, NaN where NaN, the same infinities, finite values close."""
    gl, gt = tree_flatten(got)
    wl, wt = tree_flatten(want)
    assert gt == wt, f"{what}: structure {gt} != {wt}"
    for g, w in zip(gl, wl):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{what}: NaN mask")
        inf = np.isinf(w)
        np.testing.assert_array_equal(g[inf], w[inf], err_msg=f"{what}: infinities")
        fin = np.isfinite(w)
        scale = atol * max(1.0, float(np.max(np.abs(w[fin]), initial=0.0)))
        np.testing.assert_allclose(g[fin], w[fin], rtol=rtol, atol=scale, err_msg=what)


# ---------------------------------------------------------------------------------------------
# functions with their example arguments (shapes only matter)

X2 = (0.5, 1.5)
TABLE: list[tuple[str, Callable, tuple]] = [
    ("poly_trig", lambda x, y: sn.sin(x) * y + x**3 - sn.exp(-y), X2),
    ("array_in", lambda v: np.tanh(v) * v[::-1] + np.sqrt(1 + v * v), (np.zeros(4),)),
    ("pytree", lambda s, p: {"a": s[0] * p + sn.log1p(s[1] ** 2),
                             "b": (np.arctan2(s[0], p), sn.hypot(s[1], p))},
     (np.zeros(2), 1.0)),
    ("all_primitives", lambda x, y: (
        sn.erf(x) + np.minimum(x, y) * np.maximum(x, y) + np.abs(x) + np.sign(y)
        + sn.ifelse(x < y, sn.cosh(x), sn.sinh(y)) + sn.tan(x / 4) + np.arcsin(x / 3)
        + np.arccos(y / 3) + np.arctan(x) + np.expm1(y / 3) + np.cos(x * y) + (2 + x * x) ** y
        + sn.ifelse((x >= y) & ~(x == y) | (x <= -1.5), 1.0, -1.0) + (x != y) + (x > y)), X2),
    ("brusselator_4x4", lambda s: brusselator_rhs(s), (np.zeros((2, 4, 4)),)),
]


def _random_args(ctx: Ctx, args: tuple, batch: tuple) -> tuple:
    def leaf(a: Any) -> np.ndarray:
        return ctx.rng.uniform(-2, 2, np.shape(a) + batch)
    return tuple(tree_map(leaf, a) for a in args)


def _batched_table(ctx: Ctx, dtype: str, rtol: float, atol: float) -> None:
    for name, f, args in TABLE:
        fn = sn.trace(f, *args, mode="scalar")  # the scalar kernels (element statements)
        k = ctx.lower(fn, dtype=dtype)
        for batch in [(), (37,), (3, 5)]:
            xs = _random_args(ctx, args, batch)
            xs = tree_map(lambda a: np.asarray(a, dtype=dtype), xs)
            want = fn(*tree_map(lambda a: np.asarray(a, np.float64), xs))
            close(k(*xs), want, rtol, atol, f"{name} {dtype} batch {batch}")
        xs = _random_args(ctx, args, ())
        out = np.empty(k.n_out, dtype=dtype)
        assert k.call_into(out, *xs) is out
        close(out, np.concatenate([np.ravel(v) for v in tree_flatten(fn(*xs))[0]]), rtol, atol,
              f"{name} call_into")


@case
def batched_float64(ctx: Ctx) -> None:
    _batched_table(ctx, "float64", 1e-12, 1e-12)


@case
def batched_float32(ctx: Ctx) -> None:
    _batched_table(ctx, "float32", 2e-5, 2e-5)


SPECIAL = np.array([0.0, -0.0, -1.0, 2.0, np.inf, -np.inf, np.nan, 1e300])


@case
def nan_and_inf(ctx: Ctx) -> None:
    f = lambda x, y: (sn.log(x), np.sqrt(x), 1 / x, sn.exp(y), x * y, sn.sin(y), y - y,  # noqa: E731
                      np.minimum(x, y), np.maximum(x, y), np.sign(x), x**y, sn.hypot(x, y),
                      sn.atan2(x, y), sn.ifelse(x < y, x, y), sn.tanh(x), x / y, sn.erf(y),
                      sn.fma(x, y, x))
    fn = sn.trace(f, 1.0, 2.0)
    for dtype in ("float64", "float32"):
        k = ctx.lower(fn, dtype=dtype)
        with np.errstate(all="ignore"):
            x = SPECIAL.astype(dtype)[:, None] * np.ones((1, SPECIAL.size), dtype)
            y = SPECIAL.astype(dtype)[None, :] * np.ones((SPECIAL.size, 1), dtype)
            want = fn(x.astype(np.float64), y.astype(np.float64))
        rtol = 1e-12 if dtype == "float64" else 2e-6
        close(k(x, y), want, rtol, 0.0, f"batched {dtype}")
        close(k.elementwise(SPECIAL.astype(dtype)[:, None], SPECIAL.astype(dtype)), want, rtol,
              0.0, f"elementwise {dtype}")


SHAPES = [
    [(5,), (), (5,)], [(3, 1), (1, 4), ()], [(2, 3, 4), (3, 1), (4,)],
    [(4, 1, 3), (1, 5, 1), (3,)], [(), (), ()], [(2, 1, 1, 3), (1, 4, 5, 1), (5, 1)],
    [(0,), (3, 1), ()], [(40,), (40,), (1,)],
]


@case
def elementwise_broadcasting(ctx: Ctx) -> None:
    fn = sn.trace(lambda x, y, z: sn.sin(x) * y + z / (1 + x * x), 1.0, 2.0, 3.0)
    k = ctx.lower(fn)
    for shapes in SHAPES:
        args = [ctx.rng.uniform(-2, 2, s) for s in shapes]
        got = k.elementwise(*args)
        want = fn(*np.broadcast_arrays(*args))
        assert np.shape(got) == np.broadcast_shapes(*shapes), (shapes, np.shape(got))
        close(got, want, 1e-12, 1e-12, f"shapes {shapes}")
    a = ctx.rng.uniform(-2, 2, (6, 8))  # non-contiguous host views are fine
    close(k.elementwise(a[::2, 1::3], a.T[:3, :1], 0.5),
          fn(*np.broadcast_arrays(a[::2, 1::3], a.T[:3, :1], 0.5)), 1e-12, 1e-12, "views")
    try:
        k.elementwise(np.zeros(3), np.zeros(4), 1.0)
    except sn.errors.ShapeError as e:
        assert "do not broadcast" in str(e)
    else:
        raise AssertionError("shapes (3,) and (4,) were accepted")


@case
def elementwise_dtypes(ctx: Ctx) -> None:
    f = lambda x, y: np.sin(x) * y + np.exp(-x * x)  # noqa: E731
    k = ctx.lower(sn.trace(f, 1.0, 2.0))
    f32, f64 = np.linspace(-2, 2, 21, dtype=np.float32), np.linspace(-1, 3, 21)
    table = [  # arguments ⇒ numpy's result dtype, which ours must equal
        ((f32, f32), np.float32), ((f32, 1.5), np.float32), ((f32, f64), np.float64),
        ((f64, np.arange(21)), np.float64), ((np.arange(21, dtype=np.int32), f32), np.float64),
        ((f32, np.float32(2.0)), np.float32),
    ]
    for args, dt in table:
        got = k.elementwise(*args)
        assert got.dtype == dt == f(*args).dtype, (tuple(np.asarray(a).dtype for a in args),
                                                   got.dtype, dt)
        rtol = 2e-6 if dt == np.float32 else 1e-12
        close(got, f(*[np.asarray(a, np.float64) for a in args]), rtol, rtol, f"{dt}")


@case
def elementwise_multi_output(ctx: Ctx) -> None:
    f = lambda x, y: (np.array([x + y, x * y]), {"q": x / y, "c": 2.0 + 0 * x})  # noqa: E731
    fn = sn.trace(f, 1.0, 2.0)
    k = ctx.lower(fn)
    x, y = ctx.rng.uniform(1, 2, (3, 1)), ctx.rng.uniform(1, 2, 4)
    close(k.elementwise(x, y), fn(*np.broadcast_arrays(x, y)), 1e-12, 1e-12, "arrays")
    close(k.elementwise(1.5, 2.5), fn(1.5, 2.5), 1e-12, 1e-12, "scalars")
    try:
        ctx.lower(sn.trace(lambda v: v * 2, np.zeros(2), mode="scalar")).elementwise(np.zeros(2))
    except sn.errors.ShapeError as e:
        assert "all scalars" in str(e)
    else:
        raise AssertionError("elementwise accepted a Fn with array inputs")


@case
def device_arrays(ctx: Ctx) -> None:
    from numba import cuda

    fn = sn.trace(lambda x, y: sn.log1p(x * x) * y, 1.0, 2.0)
    k = ctx.lower(fn)
    x, y = ctx.rng.uniform(-2, 2, (4, 5)), ctx.rng.uniform(-2, 2, 5)
    dx, dy = cuda.to_device(x), cuda.to_device(y)
    got = k.elementwise(dx, dy)
    assert ctx.cb.is_device_array(got) and got.shape == (4, 5), type(got)
    close(got.copy_to_host(), fn(*np.broadcast_arrays(x, y)), 1e-12, 1e-12, "device in/out")
    close(k.elementwise(dx, 0.5).copy_to_host(), fn(x, 0.5), 1e-12, 1e-12, "device + scalar")
    try:
        k.elementwise(cuda.to_device(x.astype(np.float32)), y)
    except sn.errors.DTypeError as e:
        assert "float64" in str(e)
    else:
        raise AssertionError("a float32 device array was silently converted")
    # batched: rows of X → rows of OUT, device arrays written in place
    X = ctx.rng.uniform(-2, 2, (50, 2))
    want = fn(X[:, 0], X[:, 1])
    dOUT = cuda.device_array((50, 1))
    assert k.batched(cuda.to_device(X), dOUT) is dOUT
    close(dOUT.copy_to_host()[:, 0], want, 1e-12, 1e-12, "batched device")
    OUT = np.empty((50, 1))
    k.batched(X, OUT)
    close(OUT[:, 0], want, 1e-12, 1e-12, "batched host")
    dOUTT = cuda.device_array((1, 50))
    k.columns(cuda.to_device(np.ascontiguousarray(X.T)), dOUTT)
    close(dOUTT.copy_to_host()[0], want, 1e-12, 1e-12, "columns device")


cuda = None  # numba.cuda, bound by device_function: the simulator swaps module globals only
_DEVICE = None  # the generated device function the user kernel below calls


def _user_kernel(X, OUT):  # a user's own kernel calling the generated device function
    i = cuda.grid(1)
    if i < X.shape[0]:
        _DEVICE(X[i], OUT[i])


@case
def device_function(ctx: Ctx) -> None:
    global cuda, _DEVICE
    from numba import cuda

    fn = sn.trace(lambda s: brusselator_rhs(s), np.zeros((2, 3, 3)), mode="scalar")
    _DEVICE = ctx.lower(fn).device
    X = ctx.rng.uniform(0, 2, (20, 18))
    OUT = np.zeros((20, 18))
    cuda.jit(_user_kernel)[3, 8](X, OUT)
    want = fn(X.T.reshape(2, 3, 3, 20)).reshape(18, 20).T
    close(OUT, want, 1e-12, 1e-12, "device function")


@case
def hostile_names(ctx: Ctx) -> None:
    names = ["x; import os", "__import__('os').system('echo pwned')", "t0", "x0", "math"]
    syms = [sn.Sym(n) for n in names]
    fn = sn.Fn(syms, [syms[0] * syms[1] + sn.exp(syms[2]) - syms[3] / (1 + syms[4] ** 2)])
    k = ctx.lower(fn)
    for n in names[:2]:
        assert n not in k.source, n
    v = ctx.rng.uniform(-1, 1, 5)
    close(k(*v), fn(*v), 1e-12, 1e-12, "hostile names")


@case
def sizes_and_grid_stride(ctx: Ctx) -> None:
    fn = sn.trace(lambda x, y: x * sn.cos(y), 1.0, 2.0)
    for threads, blocks in [(1, 1), (8, 2), (32, 1)]:
        k = ctx.lower(fn, threads=threads, max_blocks=blocks)
        for n in [0, 1, 7, 8, 9, 65]:
            x, y = ctx.rng.uniform(-2, 2, n), ctx.rng.uniform(-2, 2, n)
            close(k(x, y), fn(x, y), 1e-12, 1e-12, f"batched n={n} {threads}x{blocks}")
            close(k.elementwise(x, y), fn(x, y), 1e-12, 1e-12, f"elementwise n={n}")
    const = sn.Fn([sn.Sym("a")], [sn.as_expr(2.5), sn.Sym("a") * 0 + 1])
    close(ctx.lower(const)(np.zeros(3)), const(np.zeros(3)), 0, 0, "constant outputs")


@case
def random_expressions(ctx: Ctx) -> None:
    from hypothesis import HealthCheck, given, settings

    from symnum.testing import expressions

    x, y = sn.Sym("x"), sn.Sym("y")
    pts = np.random.default_rng(1).uniform(-2, 2, (2, 12))

    @settings(max_examples=ctx.examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(expressions([x, y], max_depth=3))
    def check(e: Any) -> None:
        fn = sn.Fn([x, y], [e])
        with np.errstate(all="ignore"):
            want = fn(pts[0], pts[1])
        close(ctx.lower(fn)(pts[0], pts[1]), want, 1e-9, 1e-9, str(e))

    check()


def _array_prog(x, A):
    """Elementwise maps, index maps and stencils (what the cuda array loops lower)."""
    u = np.sin(x) * 2.0 + x ** 2
    return (np.roll(u, 1) - 2 * u + np.roll(u, -1),                 # periodic stencil, peeled
            u[2:] - 2 * u[1:-1] + u[:-2],                            # clipped stencil
            x[::-2] + x[7:1:-3].sum(),                               # a reduction
            np.where(A > 0, A, 0.1 * A) + x[:4][None, :],            # select, broadcast
            np.concatenate([x[:2], np.pad(x[2:4], (1, 2), constant_values=3.0)]),
            A.T * 2 + np.roll(A, 1, axis=1).T, A[[2, 0, 0], 1:3] * x[0])


@case
def array_loops(ctx: Ctx) -> None:
    from symnum import backends
    from symnum.errors import CompileError

    for f, args in [(brusselator_rhs, (ctx.rng.uniform(0, 1, (2, 6, 6)),))]:
        fn = sn.trace(f, *args, mode="array")
        k = backends.lower(fn, "cuda", cache_dir=ctx.cache_dir, threads=8, max_blocks=2)
        close(k(*args), fn(*args), 1e-12, 1e-12, "brusselator array loops")
        # the inner axis loops over its interior (1..4) and its two peeled boundary columns
        assert "cuda.gridsize(1)" in k.source and "range(1, 5)" in k.plan
    x, A = ctx.rng.standard_normal(8), ctx.rng.standard_normal((3, 4))
    fn = sn.trace(_array_prog, x, A, mode="array")
    try:  # the cuda array loops refuse reductions by name...
        backends.get_backend("cuda").lower(fn, cache_dir=ctx.cache_dir)
        raise AssertionError("a reduction reached the cuda array loops")
    except CompileError as e:
        assert "backend='llvm'" in str(e), e
    # ...so lower() takes a small program's scalar form instead
    k = backends.lower(fn, "cuda", cache_dir=ctx.cache_dir)
    for got, want in zip(k(x, A), fn(x, A)):
        close(got, want, 1e-12, 1e-12, "array program through its scalar form")
    fn = sn.trace(lambda x, A: _array_prog(x, A)[:2] + _array_prog(x, A)[3:], x, A, mode="array")
    k = backends.lower(fn, "cuda", cache_dir=ctx.cache_dir, threads=8, max_blocks=2)
    close(k(x, A), fn(x, A), 1e-12, 1e-12, "array program")


# ---------------------------------------------------------------------------------------------
# loop terms (sn.fori_loop / scan / while_loop): one loop per thread (backends.cuda_loops)


def _vdp(y: Any) -> Any:
    return np.array([y[1], 1.5 * (1 - y[0] ** 2) * y[1] - np.sin(y[0])])


def rk4_loop(y0: Any, y1: Any, steps: int = 20, h: float = 0.05) -> Any:
    """RK4 of the Van der Pol oscillator (a sine term: no linear shortcut), `steps` steps."""
    def body(i: Any, y: Any) -> Any:
        k1 = _vdp(y)
        k2 = _vdp(y + h / 2 * k1)
        k3 = _vdp(y + h / 2 * k2)
        k4 = _vdp(y + h * k3)
        return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return sn.fori_loop(0, steps, body, np.array([y0, y1]))


@case
def loop_rk4(ctx: Ctx) -> None:
    from symnum import backends

    fn = sn.trace(rk4_loop, 1.0, 0.0)
    k = ctx.lower(fn)
    assert "for L" in k.source and k.info["statements"] < 120  # one loop, not 20 steps unrolled
    y0, y1 = ctx.rng.uniform(-1, 1, (2, 37))
    want = fn(y0, y1)
    close(k(y0, y1), want, 1e-12, 1e-12, "rk4 batched vs interpreter")
    close(k(y0, y1), backends.lower(fn, "llvm")(y0, y1), 1e-12, 1e-12, "rk4 vs llvm")
    close(k.elementwise(y0, 0.25), fn(y0, np.full_like(y0, 0.25)), 1e-12, 1e-12,
          "rk4 elementwise (broadcast)")
    k32 = ctx.lower(fn, dtype="float32")
    close(k32(y0.astype(np.float32), y1.astype(np.float32)), want, 1e-4, 1e-4, "rk4 float32")
    # the compile path: `steps` (an int default) is a Python value, each one its own kernel
    c = sn.compile(rk4_loop, backend="cuda", cache_dir=ctx.cache_dir)
    close(c(y0, y1), want, 1e-12, 1e-12, "rk4 via sn.compile")
    close(c(y0, y1, steps=3), sn.trace(lambda a, b: rk4_loop(a, b, 3), 1.0, 0.0)(y0, y1),
          1e-12, 1e-12, "rk4 via sn.compile, steps=3")


@case
def loop_scan_ys(ctx: Ctx) -> None:
    def f(a: Any, b: Any) -> Any:  # ys returned: written to the outputs by offset in the loop
        c, ys = sn.scan(lambda c, x: (np.sin(c) * b + x, (c * c, c + x)), a,
                        np.linspace(0, 1, 6))
        return c, ys

    fn = sn.trace(f, 0.3, 0.7)
    k = ctx.lower(fn)
    # ys (6,) and (6,) after c: outputs 1 + s and 7 + s; no (6, 2) table
    assert "OUTT[7 + 1 * L" in k.source and "local.array((6, 2)" not in k.source, k.source
    a, b = ctx.rng.uniform(-1, 1, (2, 19))
    close(k(a, b), fn(a, b), 1e-12, 1e-12, "scan ys by offset")
    global cuda, _DEVICE  # the device function writes the ys to out[off + s] too
    from numba import cuda

    _DEVICE = k.device
    X, OUT = np.stack([a, b], 1), np.zeros((19, 13))
    cuda.jit(_user_kernel)[3, 8](X, OUT)
    want = np.concatenate([np.reshape(v, (-1, 19)) for v in tree_flatten(fn(a, b))[0]])
    close(OUT, want.T, 1e-12, 1e-12, "scan ys from the device function")
    fr = sn.trace(lambda a: sn.scan(lambda c, x: (c * 0.5 + x, c), a, np.arange(4.0),
                                    reverse=True), 1.0)
    close(ctx.lower(fr)(a), fr(a), 1e-12, 1e-12, "reverse scan")
    # a y read by other code: the table is a local array
    fs = sn.trace(lambda a: sn.scan(lambda c, x: (c * 0.5 + x, c * c), a,
                                    np.arange(4.0))[1].sum() * a, 1.0)
    ks = ctx.lower(fs)
    assert "cuda.local.array((4, 1)" in ks.source, ks.source
    close(ks(a), fs(a), 1e-12, 1e-12, "scan ys summed")
    # reverse mode: the stored carries (a local table) read in place by the backward loop
    g = sn.trace(sn.grad(lambda a, b: f(a, b)[0] + f(a, b)[1][0].sum(), argnums=(0, 1)),
                 0.3, 0.7)
    close(ctx.lower(g)(a, b), g(a, b), 1e-12, 1e-12, "grad through scan")


@case
def loop_while(ctx: Ctx) -> None:
    def f(a: Any) -> Any:
        return sn.while_loop(lambda v: v < 10, lambda v: v * v + 1, a, max_steps=6)

    fn = sn.trace(f, 1.0)
    k = ctx.lower(fn)
    assert "break" in k.source
    a = np.array([0.0, 0.5, 1.0, 2.5, 11.0, -3.0, 1e-3, 3.1])
    close(k(a), fn(a), 1e-12, 1e-12, "while_loop (early exit per thread)")
    g = sn.trace(sn.grad(f), 1.0)  # stored carries: every step runs, select form
    close(ctx.lower(g)(a), g(a), 1e-12, 1e-12, "grad through while_loop")
    nested = sn.trace(lambda a: sn.fori_loop(
        0, 3, lambda i, v: sn.fori_loop(0, 4, lambda j, w: w * 0.5 + i, v), a), 1.0)
    close(ctx.lower(nested)(a), nested(a), 1e-12, 1e-12, "nested fori loops")


# ---------------------------------------------------------------------------------------------
# loops carrying arrays: a host loop of kernel launches per step (backends.cuda_step_loops)


def heat_loop(u0: Any, k: Any, steps: int = 6) -> Any:
    """Explicit Euler heat equation, periodic: every point reads its neighbours' last step."""
    return sn.fori_loop(0, steps, lambda i, u: u + k * (np.roll(u, 1) - 2 * u + np.roll(u, -1)),
                        u0)


def _scan_arrays(u0: Any, xs: Any) -> Any:  # xs read and ys written at the step, reversed
    return sn.scan(lambda c, x: (np.sin(c) * 0.9 + x, (c * 2.0, c[1:] - c[:-1])), u0, xs,
                   reverse=True)


def _timed(u0: Any, h: Any) -> Any:  # a scalar carry (the time) beside the field: on the host
    return sn.fori_loop(0, 5, lambda i, c: (c[0] + h, c[1] + h * np.cos(c[0]) * (
        np.roll(c[1], 1) - c[1])), (0.1, u0))


def _nested_arrays(u0: Any) -> Any:  # an inner array loop per outer step
    return sn.fori_loop(0, 3, lambda i, u: sn.fori_loop(
        0, 2, lambda j, v: 0.5 * (np.roll(v, 1) + v) + i, u), u0)


@case
def array_carry_loops(ctx: Ctx) -> None:
    from symnum.errors import CompileError

    u, k = ctx.rng.standard_normal(40), 0.1
    c = sn.compile(heat_loop, backend="cuda", mode="array", cache_dir=ctx.cache_dir)
    want = sn.trace(heat_loop, u, k, mode="array")(u, k)
    close(c(u, k), want, 1e-12, 1e-12, "heat fori_loop")
    info = c.lower(u, k).info
    # one launch copies the init in, then one launch per step (the peeled stencil's three
    # boxes are one kernel); nothing scalarised
    assert info["array_loops"] == "native" and info["launches"] == 1 + 6, info
    close(c(u, k, steps=2), sn.trace(lambda a, b: heat_loop(a, b, 2), u, k, mode="array")(u, k),
          1e-12, 1e-12, "heat fori_loop, steps=2")
    xs = ctx.rng.standard_normal((5, 30))
    for f, args in [(_scan_arrays, (ctx.rng.standard_normal(30), xs)),
                    (_nested_arrays, (ctx.rng.standard_normal(33),)),
                    (_timed, (ctx.rng.standard_normal(40), 0.05))]:
        fn = sn.trace(f, *args, mode="array")
        kern = sn.compile(f, backend="cuda", mode="array", cache_dir=ctx.cache_dir)
        close(kern(*args), fn(*args), 1e-12, 1e-12, f.__name__)
        assert kern.lower(*args).info["array_loops"] == "native"
    # a while loop's condition would be read back every step: refused by name, scalarised
    # when small, a CompileError when large
    def wl(v):
        return sn.while_loop(lambda w: np.sum(w) < 50.0, lambda w: w * 1.5 + 0.1, v,
                             max_steps=8)
    small = np.abs(ctx.rng.standard_normal(30))
    kw = sn.compile(wl, backend="cuda", mode="array", cache_dir=ctx.cache_dir)
    close(kw(small), sn.trace(wl, small, mode="array")(small), 1e-12, 1e-12, "while, scalarised")
    why = kw.lower(small).info["array_loops"]
    assert why.startswith("scalarised: the cuda backend") and "backend='llvm'" in why, why
    big = np.ones(5000)
    try:
        sn.compile(wl, backend="cuda", mode="array", cache_dir=ctx.cache_dir)(big)
        raise AssertionError("a large while loop was scalarised for cuda")
    except CompileError as e:
        assert "backend='llvm' or 'numba'" in str(e) and "SCALARIZE_LIMIT" in str(e), e


CASES = list(_CASES)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=20, help="hypothesis examples")
    ap.add_argument("--only", nargs="*", default=None, help="run only these cases")
    opts = ap.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # inf/nan arithmetic in simulated threads
    try:
        from numba import cuda
    except ImportError as exc:
        print(json.dumps({"unavailable": f"numba.cuda cannot be imported: {exc}"}))
        return 3
    if not cuda.is_available():
        print(json.dumps({"unavailable": "no CUDA GPU or driver (and the simulator is off)"}))
        return 3
    cache_dir = tempfile.mkdtemp(prefix="symnum-cuda-cases-")
    ctx = Ctx(cache_dir, opts.examples)
    info: dict[str, Any] = {"mode": "simulator" if ctx.sim else "gpu",
                            "implementation": getattr(cuda, "implementation", "?")}
    if not ctx.sim:
        info["device"] = str(cuda.get_current_device().name)
    results, seconds = {}, {}
    try:
        for name in opts.only or CASES:
            t0 = time.perf_counter()
            try:
                _CASES[name](ctx)
                results[name] = "ok"
            except Exception:
                results[name] = traceback.format_exc(limit=6)[-3000:]
            seconds[name] = round(time.perf_counter() - t0, 3)
            print(f"{results[name] == 'ok' and 'ok  ' or 'FAIL'} {name} ({seconds[name]} s)",
                  file=sys.stderr)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    print(json.dumps({"info": info, "results": results, "seconds": seconds}))
    return 0 if all(v == "ok" for v in results.values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
