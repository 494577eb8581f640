"""The differential fuzzer for random numpy programs (symnum.testing.programs).

Each round draws programs (seeded) and points — inputs uniform in [-2, 2], a quarter of them
with ties (b = a, t = s) — and checks one program's outputs, elementwise, across:

* value/none/evaluate: the traced scalar-mode Fn on the reference interpreter (batched over the
  points) against plain numpy running the same program point by point (the oracle);
* value/array/evaluate: the program traced in array mode (`trace(..., mode="array")`);
* value/rules|egraph/evaluate: the scalar-mode Fn simplified by each method;
* value/<simplifier>/<backend>-batched and -scalar: the llvm and numba kernels of the (plain and
  simplified) Fn, called on all points at once and on single points;
* value/array/numba-array: the array-mode Fn lowered to numba loops (optional: slow compiles);
* grad-vs-fd / jvp-vs-fd / grad-vs-jvp: reverse and forward mode of a weighted sum of the
  outputs, scalar mode, against central finite differences along a random direction (only where
  two step sizes agree, i.e. the program is smooth at the point) and against each other;
  grad-array-vs-grad: array-mode reverse mode against scalar-mode reverse mode. Smooth means:
  central differences with two step sizes agree and the forward and backward differences
  agree (a kink exactly at a point, as max(s, t) at a tie, fails the second test only).

Mismatch kinds: `branch` for a simplified or compiled form against the original where the
program compares values or has kinks (rounding differences may flip a comparison at a tie);
a finite-difference mismatch is `branch` too when the program tests an equality (==, !=,
np.equal): at a tie the derivative follows the branch taken, which finite differences, never
landing on the tie, cannot see; `genuine` for everything else. Used by
tests/test_fuzz_programs.py and benchmarks/fuzz.py.
"""

from __future__ import annotations

import tempfile
import warnings

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed

from symnum.arrays.fn import trace as trace_any
from symnum.autodiff.ad import gradient, jvp_terms
from symnum.core.evaluate import eval_many
from symnum.testing.fuzz import Report
from symnum.testing.programs import INPUTS, KINKED, numpy_programs, program_ops, run_program
from symnum.tracing.fn import Fn

_COMPARING = {"where", "eq", "ne", "gt", "ge", "lt", "equal"} | KINKED


def draw_programs(n: int, seed: int) -> list:
    """n programs, reproducible from `seed`."""
    out: list = []

    @hseed(seed)
    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(numpy_programs())
    def collect(p):
        out.append(p)

    collect()
    return out[:n]


def program_points(rng: np.random.Generator, n: int) -> list:
    """Batched inputs (the batch on the last axis, as Fn calls take it); ties in a quarter."""
    args = [rng.uniform(-2, 2, shape + (n,)) for _, shape in INPUTS]
    k = max(1, n // 4)
    args[1][..., :k] = args[0][..., :k]  # b = a
    args[4][..., :k] = args[3][..., :k]  # t = s
    return args


def _point(args: list, i: int) -> list:
    return [np.array(a[..., i]) if a.ndim > 1 else float(a[i]) for a in args]


def _flat(outs, n: int) -> np.ndarray:
    """Outputs (each shaped out_shape + (n,)) → one (size, n) float array."""
    rows = [np.asarray(o, np.float64).reshape(-1, n) for o in outs]
    return np.concatenate(rows) if rows else np.zeros((0, n))


def _oracle(program, args: list, n: int) -> np.ndarray:
    cols = []
    with np.errstate(all="ignore"):
        for i in range(n):
            outs = run_program(program, *_point(args, i))
            cols.append(np.concatenate([np.asarray(o, np.float64).ravel() for o in outs]))
    return np.stack(cols, axis=1)


class _Checker:
    def __init__(self, report: Report, program, n: int) -> None:
        self.report, self.program, self.n = report, program, n
        ops = program_ops(program)
        self.compares = bool(ops & _COMPARING)
        # an equality's true set has no interior: finite differences never see that branch,
        # while derivative rules follow the branch taken at the point (JAX's convention)
        self.equality = bool(ops & {"eq", "ne", "equal"})

    def __call__(self, cat: tuple, got, want, kind: str = "genuine", **tol) -> None:
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        if got.shape != want.shape:
            self.report.triples[cat] += want.size
            self.report.mismatches.append((cat, kind, self.program, "shape", got.shape,
                                           want.shape))
            return
        idx = np.indices(want.shape).reshape(want.ndim, -1)
        pts = (idx[0], idx[-1])  # (output element, point)
        self.report.check(cat, got.ravel(), want.ravel(), self.program, pts, kind, **tol)


def program_round(report: Report, seed: int, n_programs: int = 8, n_points: int = 8,
                  backends: tuple = ("llvm", "numba"), simplifiers: tuple = ("rules", "egraph"),
                  array: bool = True, array_backends: tuple = (), transforms: bool = True,
                  array_grad: bool = True, cache_dir: str | None = None) -> None:
    """One seeded round of `n_programs` programs; adds triples and mismatches to `report`.
    `array_grad` adds array-mode reverse mode (one numba compile per program)."""
    from symnum.compile import lower
    from symnum.simplify import simplify

    rng = np.random.default_rng(seed)
    programs = draw_programs(n_programs, seed)
    cache_dir = cache_dir or tempfile.mkdtemp(prefix="symnum-fuzz-")
    for program in programs:
        args = program_points(rng, n_points)
        ex = _point(args, 0)
        check = _Checker(report, program, n_points)
        want = _oracle(program, args, n_points)

        def f(a, b, M, s, t, _p=program):
            return run_program(_p, a, b, M, s, t)

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            fn = trace_any(f, *ex, mode="scalar")
            got = _flat(fn(*args), n_points)
            check(("value", "none", "evaluate"), got, want)
            forms = {"none": fn}
            for method in simplifiers:
                forms[method] = simplify(fn, method=method)
                check(("value", method, "evaluate"), _flat(forms[method](*args), n_points), want,
                      "branch" if check.compares else "genuine")
            if array:
                afn = trace_any(f, *ex, mode="array")
                cols = [_flat(afn(*_point(args, i)), 1)[:, 0] for i in range(n_points)]
                kind = "genuine"
                check(("value", "array", "evaluate"), np.stack(cols, axis=1), want, kind)
                for backend in array_backends:
                    k = lower(afn, backend, cache_dir=cache_dir)
                    cols = [_flat(k(*_point(args, i)), 1)[:, 0] for i in range(n_points)]
                    check(("value", "array", backend + "-array"), np.stack(cols, axis=1), want,
                          kind)
            for method, form in forms.items() if backends else ():
                for backend in backends:
                    k = lower(form, backend, cache_dir=cache_dir)
                    kind = "branch" if check.compares and method != "none" else "genuine"
                    check(("value", method, backend + "-batched"), _flat(k(*args), n_points),
                          want, kind)
                    m = min(2, n_points)
                    cols = [_flat(k(*_point(args, i)), 1)[:, 0] for i in range(m)]
                    check(("value", method, backend + "-scalar"), np.stack(cols, axis=1),
                          want[:, :m], kind)
            if transforms:
                _derivatives(check, program, fn, f, args, ex, rng, n_points,
                             array and array_grad)


def _loss_weights(fn: Fn, rng) -> list:
    return [rng.uniform(0.5, 1.5, np.shape(o)) for o in fn.outputs]


def _derivatives(check, program, fn, f, args, ex, rng, n, array: bool) -> None:
    from symnum.transforms import grad as grad_fn

    weights = _loss_weights(fn, rng)

    def loss(a, b, M, s, t):
        outs = f(a, b, M, s, t)
        total = 0.0
        for o, w in zip(outs, weights):
            total = total + np.sum(o * w)
        return total

    lfn = trace_any(loss, *ex, mode="scalar")
    syms = lfn.flat_inputs
    (out,) = lfn.flat_outputs
    env = {}
    pos = 0
    flat_args = [a.reshape(-1, n) for a in args]
    for a in flat_args:
        for row in a:
            env[syms[pos]] = row
            pos += 1
    g = np.stack([np.asarray(v, np.float64) * np.ones(n)
                  for v in eval_many(gradient(out, syms), env)])  # (n_in, n)
    d = rng.normal(size=len(syms))
    (jv,) = eval_many(jvp_terms([out], syms, list(d)), env)
    jv = np.asarray(jv, np.float64) * np.ones(n)
    check(("grad-vs-jvp", "none", "evaluate"), (d @ g)[None], jv[None])

    def loss_at(h):
        x = np.concatenate(flat_args) + h * d[:, None]
        parts, pos = [], 0
        for (_, shape), a in zip(INPUTS, flat_args):
            k = a.shape[0]
            parts.append(x[pos:pos + k].reshape(shape + (n,)))
            pos += k
        return np.array([float(loss(*_point(parts, i))) for i in range(n)])

    with np.errstate(all="ignore"):
        here, up, down = loss_at(0.0), loss_at(1e-5), loss_at(-1e-5)
        fd1 = (up - down) / 2e-5
        fd2 = (loss_at(1e-6) - loss_at(-1e-6)) / 2e-6
        fwd, bwd = (up - here) / 1e-5, (here - down) / 1e-5
    # smooth at the point: two step sizes agree, and so do the one-sided differences (a kink
    # exactly at the point, max(s, t) at a tie s = t, has a central difference that does not
    # depend on the step: the average of its two slopes, which no derivative rule returns)
    smooth = (np.isclose(fd1, fd2, rtol=1e-5, atol=1e-6) & np.isfinite(fd1)
              & np.isclose(fwd, bwd, rtol=1e-3, atol=1e-3))
    if smooth.any():
        kind = "branch" if check.equality else "genuine"
        check(("jvp-vs-fd", "none", "evaluate"), jv[None, smooth], fd2[None, smooth], kind,
              rtol=1e-5, atol=1e-6)
        check(("grad-vs-fd", "none", "evaluate"), (d @ g)[None, smooth], fd2[None, smooth],
              kind, rtol=1e-5, atol=1e-6)
    if array:
        ga = grad_fn(loss, argnums=(0, 1, 2, 3, 4), mode="array")
        cols = []
        for i in range(n):
            parts = ga(*_point(args, i))
            cols.append(np.concatenate([np.asarray(p, np.float64).ravel() for p in parts]))
        check(("grad-array-vs-grad", "none", "evaluate"), np.stack(cols, axis=1), g)
