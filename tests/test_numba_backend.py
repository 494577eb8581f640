"""The numba backend against the reference interpreter (backends/numba_backend.py, compiled.py).

numba compiles cost about a second each, so every kernel here is built once per module (fixtures)
and exercised many times: ~100 random expressions share one kernel, hypothesis draws the points.
All machine code goes to a per-session temporary cache directory, never the user's.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from symnum.backends import numba_backend as nb
from symnum.backends.compiled import Compiled
from symnum.backends.schedule import schedule

import symnum as sn
from symnum.core.op import PRIMITIVES, Op, declare
from symnum.core.traversal import count_ops
from symnum.errors import CompileError, ShapeError
from symnum.testing import build, expression_recipes, points

x, y, z = sn.symbols("x y z")
XYZ = [x, y, z]
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.7, -1.3]


def special_cases(a, b, c) -> list:
    """Expressions whose NaN/inf behaviour is fixed by IEEE and numpy (exact constants only, so
    float32 and float64 must agree on where NaN and inf appear)."""
    return [a / b, a * b, a - b, -a, sn.sqrt(a), sn.log(a), sn.log1p(a), sn.exp(a), sn.expm1(b),
            sn.sin(a), sn.cosh(b), sn.tanh(a), sn.erf(a), sn.atan(b), sn.atan2(a, b), abs(a),
            sn.sign(a), sn.hypot(a, b), sn.minimum(a, b), sn.maximum(a, c), a**2, b**3, a**-1,
            a**-2 * c, a**0.5, a**b, sn.ifelse(a < b, a, c), sn.ifelse(sn.eq(a, b), 1.0, c),
            sn.ifelse((a >= 0.5) | sn.ne(b, 0), b, sn.ifelse(~(c > a), 2.0, c)), sn.fma(a, b, c)]



def draw_recipes(examples: int, primitives=None, max_depth: int = 5) -> list:
    """Distinct recipes with at least three operations, from a derandomised hypothesis run.

    One expression per example (lists of them overrun hypothesis's buffer); about a quarter of
    the early, simple examples are non-trivial, and an example costs ~10 ms.
    """
    found: list = []

    @settings(max_examples=examples, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(expression_recipes(3, primitives, max_depth))
    def collect(r):
        if r not in found and count_ops([build(r, XYZ)]) >= 3:
            found.append(r)

    collect()
    return found


def ops_of(recipe) -> set[str]:
    if recipe[0] in ("sym", "const"):
        return set()
    return {recipe[0]}.union(*[ops_of(a) for a in recipe[1:]])


def outputs_array(terms: list) -> np.ndarray:
    a = np.empty(len(terms), dtype=object)
    a[:] = terms
    return a


def assert_same_values(got, want, rtol=1e-9, atol=1e-12, what=""):
    """Agreement up to rounding; NaN where numpy has NaN, the same infinity where it has one."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    assert np.array_equal(nan_g, nan_w), f"NaN placement differs {what}: " \
        f"{np.argwhere(nan_g != nan_w)[:5].tolist()}"
    inf = np.isinf(want) | np.isinf(got)
    assert np.array_equal(got[inf], want[inf]), f"infinities differ {what}"
    np.testing.assert_allclose(got[~inf & ~nan_w], want[~inf & ~nan_w], rtol=rtol, atol=atol,
                               err_msg=what)


# ---------------------------------------------------------------------------------------------
# ~100 random expressions in one float64 kernel, canonical and tree-mode forms side by side


@pytest.fixture(scope="module")
def recipes() -> list:
    # how many of the 250 examples are distinct and non-trivial varies (50-80) with the modules
    # loaded: hypothesis mixes constants found in local source files into its generation
    found = draw_recipes(250, max_depth=6)
    assert len(found) >= 40, "the strategy should yield enough distinct expressions"
    return found


@pytest.fixture(scope="module")
def random_kernel(recipes, cache_dir):
    # up to 60 canonical expressions and 40 of them again as written (tree mode: sub, div,
    # n-ary add); ~370 statements, ~3 s of numba
    terms = [build(r, XYZ) for r in recipes[:60]] + [build(r, XYZ, "tree") for r in recipes[:40]]
    fn = sn.Fn(XYZ, outputs_array(terms + special_cases(x, y, z)))
    return fn, nb.lower(fn, cache_dir=cache_dir), len(terms)


@given(points(XYZ))
def test_numba_matches_reference_at_random_points(random_kernel, env):
    fn, k, n = random_kernel
    args = [env[s] for s in XYZ]
    got = k(*args)
    assert got.dtype == np.float64 and got.shape == (len(fn.flat_outputs),)
    # the random expressions only: they are guarded against overflow, so evaluation order does
    # not matter; the special cases (z / x² vs z·x⁻²) may overflow differently at x ~ 1e-160
    assert_same_values(got[:n], fn(*args)[:n], what=f"at {args}")


def test_nan_and_inf_propagate_like_numpy(random_kernel):
    fn, k, _ = random_kernel
    grid = np.array(list(itertools.product(SPECIALS, repeat=3))).T  # (3, 343)
    got = k(*grid)  # batched: one row per point, batch dims on the right
    assert got.shape == (len(fn.flat_outputs), grid.shape[1])
    assert_same_values(got, fn(*grid), what="on the NaN/inf grid")
    assert np.isnan(got).any() and np.isinf(got).any()  # the grid does reach both


def test_batched_call_equals_per_row(random_kernel):
    _, k, _ = random_kernel
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, (3, 4, 5))
    got = k(X[0], X[1], X[2])
    assert got.shape == (k.n_out, 4, 5)
    for i, j in itertools.product(range(4), range(5)):
        np.testing.assert_array_equal(got[:, i, j], k(*X[:, i, j]))
    # broadcasting between arguments: a scalar argument is shared by every row
    b = k(X[0], 0.25, X[2][:1])  # batch shapes (4, 5), (), (1, 5) → (4, 5)
    np.testing.assert_array_equal(b[:, 3, 2], k(X[0, 3, 2], 0.25, X[2, 0, 2]))


def test_call_into_equals_out_of_place(random_kernel):
    _, k, _ = random_kernel
    out = np.full(k.n_out, -7.0)
    args = (0.3, -1.1, 1.9)
    assert k.call_into(out, *args) is out
    np.testing.assert_array_equal(out, k(*args))
    with pytest.raises(ShapeError, match="contiguous float64 vector"):
        k.call_into(np.empty(k.n_out, np.float32), *args)
    with pytest.raises(ShapeError, match="unbatched"):
        k.call_into(out, np.zeros(2), 0.0, 0.0)


def test_compiled_reports_what_it_built(random_kernel, cache_dir):
    fn, k, _ = random_kernel
    assert isinstance(k, Compiled) and k.backend == "numba" and k.fn is fn
    assert k.info["statements"] == len(schedule(fn.flat_inputs, fn.flat_outputs))
    assert (Path(cache_dir) / f"{k.info['module']}.py").read_text() == k.source
    assert "def kernel(x, out):" in k.source and "prange" in k.source
    again = nb.lower(fn, cache_dir=cache_dir)
    assert again.info["cache_hit"] and again.info["module"] == k.info["module"]


# ---------------------------------------------------------------------------------------------
# float32: one array in, one array out (the Compiled fast path), continuous primitives only


@pytest.fixture(scope="module")
def f32_kernel(recipes, cache_dir):
    v = sn.symarray("v", 3)
    smooth = [r for r in recipes if not ops_of(r) & {"sign", "ifelse"}][:30]
    assert len(smooth) >= 15
    terms = [build(r, list(v)) for r in smooth]
    fn = sn.Fn([v], outputs_array(terms + special_cases(*v)))
    return fn, nb.lower(fn, dtype="float32", cache_dir=cache_dir), len(terms)


def test_float32_kernel_returns_float32_close_to_reference(f32_kernel):
    fn, k, n = f32_kernel
    rng = np.random.default_rng(2)
    worst = 0.0
    for _ in range(50):
        v = rng.uniform(-2, 2, 3).astype(np.float32)
        got = k(v)  # fast path: contiguous float32 vector
        assert got.dtype == np.float32 and got.shape == (len(fn.flat_outputs),)
        want = fn(v.astype(np.float64))
        err = (np.abs(got - want) / (1.0 + np.abs(want)))[:n]
        worst = max(worst, float(err.max()))
    # float32 rounding through a few dozen operations: ~1e-6, never float64-exact everywhere
    assert worst < 5e-4
    assert worst > 1e-12


def test_float32_slow_path_agrees_with_fast_path(f32_kernel):
    _, k, _ = f32_kernel
    v = np.array([0.5, -1.25, 1.75], np.float32)
    fast = k(v)
    np.testing.assert_array_equal(k(v.astype(np.float64)), fast)  # converted to float32
    np.testing.assert_array_equal(k(np.array([9, 0.5, 9, -1.25, 9, 1.75], np.float32)[1::2]),
                                  fast)  # non-contiguous
    with pytest.raises(ShapeError, match=r"shape \(3,\)"):
        k(np.zeros(2, np.float32))


def test_float32_nan_inf(f32_kernel):
    fn, k, n = f32_kernel
    grid = np.array(list(itertools.product(SPECIALS, repeat=3)), np.float32).T
    got = np.stack([k(np.ascontiguousarray(v)) for v in grid.T], axis=1)  # no batched compile
    assert got.dtype == np.float32
    want = fn(grid.astype(np.float64))
    # the special cases only: a random expression's float64 constant (1.0000000001, say) may
    # round to 1 in float32, and 1**nan is 1
    assert_same_values(got[n:], want[n:], rtol=1e-6, atol=1e-7, what="float32 special cases")


# ---------------------------------------------------------------------------------------------
# pytrees in and out, batch dimensions on the right, in-place variant


def _structured(u, p, d):
    s = np.sin(u) * p + d["a"]
    return {"vec": s[:2] * d["b"], "scal": np.sum(u**2) - p, "t": (np.exp(-p * u[2]),)}


@pytest.fixture(scope="module")
def structured_kernel(cache_dir):
    # scalar mode: the scalar kernel's batch dimensions (array-loop kernels take none)
    fn = sn.trace(_structured, np.zeros(3), 1.0, {"a": 0.0, "b": 1.0}, mode="scalar")
    return fn, nb.lower(fn, cache_dir=cache_dir)


def test_pytrees_in_and_out(structured_kernel):
    fn, k = structured_kernel
    args = (np.array([0.1, -0.7, 1.3]), 0.6, {"a": -0.5, "b": 2.0})
    got, want = k(*args), _structured(*args)
    assert set(got) == {"vec", "scal", "t"} and isinstance(got["t"], tuple)
    assert got["vec"].shape == (2,) and np.shape(got["scal"]) == ()
    for key in ("vec", "scal"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-13)
    np.testing.assert_allclose(got["t"][0], want["t"][0], rtol=1e-13)


def test_batch_dims_on_the_right(structured_kernel):
    fn, k = structured_kernel
    rng = np.random.default_rng(3)
    u = rng.uniform(-1, 1, (3, 4, 2))
    p = rng.uniform(0, 1, (2,))  # broadcasts against u's batch (4, 2)
    d = {"a": 0.25, "b": rng.uniform(-1, 1, (4, 1))}
    got = k(u, p, d)
    assert got["vec"].shape == (2, 4, 2) and got["scal"].shape == (4, 2)
    ref = fn(u, p, d)
    for i, j in itertools.product(range(4), range(2)):
        row = k(u[:, i, j], p[j], {"a": 0.25, "b": d["b"][i, 0]})
        np.testing.assert_array_equal(got["vec"][:, i, j], row["vec"])
        assert got["scal"][i, j] == row["scal"] and got["t"][0][i, j] == row["t"][0]
    np.testing.assert_allclose(got["vec"], ref["vec"], rtol=1e-13)
    np.testing.assert_allclose(got["scal"], ref["scal"], rtol=1e-13)
    empty = k(np.zeros((3, 0)), 1.0, {"a": 0.0, "b": 1.0})
    assert empty["vec"].shape == (2, 0)


def test_in_place_through_build_function(cache_dir):
    u, p = sn.symarray("u", 3), sn.Sym("p")
    out = np.sin(u) * p + u[::-1] ** 2
    oop, iip = sn.build_function(out, u, p, backend="numba", cache_dir=cache_dir)
    args = (np.array([0.3, 0.2, -0.9]), 1.5)
    buf = np.zeros(3)
    assert iip(buf, *args) is buf
    np.testing.assert_array_equal(buf, oop(*args))
    strided = np.zeros(6)[::2]  # not contiguous: written through a copy, same values
    iip(strided, *args)
    np.testing.assert_array_equal(strided, oop(*args))


# ---------------------------------------------------------------------------------------------
# safety: hostile symbol names; errors


HOSTILE = ["x; import os", "__import__('os')", "a'b\"c", "line\nbreak", "ünï©ødé λ", "x0",
           "out", "kernel"]


def test_hostile_symbol_names_compile_into_a_harmless_kernel(cache_dir):
    syms = list(sn.symbols(HOSTILE))
    terms = [sn.sin(a) * b + 1.5 for a, b in zip(syms, syms[1:] + syms[:1])]
    fn = sn.Fn(syms, outputs_array(terms), names=[f"n{i};import os" for i in range(len(syms))])
    k = nb.lower(fn, cache_dir=cache_dir)
    vals = np.linspace(-1, 1, len(syms))
    np.testing.assert_allclose(k(*vals), fn(*vals), rtol=1e-14)
    for name in HOSTILE[:5] + ["import os"]:
        assert name not in k.source
    generated = k.source.split('"""')[2]  # everything after the module docstring
    assert "os" not in generated.replace("cos", "").replace("prange", "")


def test_unknown_lowering_name_is_a_compile_error():
    # sn.register refuses unknown lowering names; the backend's own check is for declared Ops
    op = declare(Op("_test_unlowerable", 1, np.sin, lower="no_such_fn"), replace=True)
    try:
        fn = sn.Fn([x], op(x) + 1)
        with pytest.raises(CompileError, match="no_such_fn.*no lowering"):
            nb.lower(fn)
    finally:
        PRIMITIVES.pop("_test_unlowerable", None)


def test_numba_failure_points_to_the_generated_source(cache_dir):
    # a lowering name numba knows, used with the wrong arity: typing fails inside numba
    # (sn.register refuses this: declared directly, as a faulty built-in would be)
    op = declare(Op("_test_bad_arity", 2, np.hypot, lower="erf"), replace=True)
    try:
        fn = sn.Fn([x, y], op(x, y))
        with pytest.raises(CompileError, match="numba could not compile") as info:
            nb.lower(fn, cache_dir=cache_dir)
    finally:
        PRIMITIVES.pop("_test_bad_arity", None)
    path = Path(str(info.value).rsplit("generated source is ", 1)[1].strip())
    assert path.parent == Path(cache_dir) and "math.erf(x0, x1)" in path.read_text()


@pytest.mark.parametrize(("kwargs", "match"), [({"dtype": "int32"}, "float64 or float32"),
                                               ({"parallel": True}, "unknown option.*parallel")])
def test_bad_options(kwargs, match):
    with pytest.raises(CompileError, match=match):
        nb.lower(sn.Fn([x], x + 1), **kwargs)


def test_small_batches_run_serially_and_large_ones_in_parallel(tmp_path):
    # a parallel region costs its start and leaves numba's OpenMP workers spinning: only large
    # batches with more than one thread allowed pay for it
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba runs one thread here")
    x = sn.Sym("x")
    k = nb.lower(sn.Fn([x], [2 * x]), cache_dir=tmp_path)
    rows = k.batched.parallel_from
    X = np.arange(float(rows)).reshape(-1, 1)
    OUT = np.empty_like(X)
    k.batched(X[:3], OUT[:3])
    assert k.batched.serial.signatures and not k.batched.parallel.signatures
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)  # one thread allowed: even a large batch runs serially
        k.batched(X, OUT)
        assert not k.batched.parallel.signatures
        numba.set_num_threads(2)
        k.batched(X, OUT)
        assert k.batched.parallel.signatures
    finally:
        numba.set_num_threads(before)
    assert OUT[:, 0].tolist() == (2 * X[:, 0]).tolist()


def test_elementwise_parallel_ufuncs_are_built_on_first_use(monkeypatch):
    """numba cannot cache parallel ufuncs: a module load (an unpickled kernel on a dask worker)
    must not compile them; the first large call does, and agrees with the serial ones."""
    import pickle

    from symnum.backends import numba_backend
    from symnum.backends.numba_backend import lower_elementwise

    e = lower_elementwise(sn.trace(lambda x: np.sin(x) * x, 1.0))
    e2 = pickle.loads(pickle.dumps(e))
    assert set(e2._ufuncs) == {("float64", False), ("float32", False)}
    x = np.linspace(0.0, 1.0, 64)
    monkeypatch.setattr(numba_backend, "PARALLEL_THRESHOLD", 16)
    monkeypatch.setattr(numba_backend, "_threads", lambda: 2)
    np.testing.assert_allclose(e2(x), np.sin(x) * x, rtol=1e-15)
    assert ("float64", True) in e2._ufuncs
