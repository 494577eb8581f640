"""A differential fuzzer: random in-domain expressions checked across every way symnum computes.

Each round draws expressions from `expression_recipes` (seeded, all primitives, comparisons and
`ifelse` included) and points in [-2, 2]² plus ties (x = y). One "triple" is one comparison of
(expression, point, category); categories are (transform, simplifier, backend):

* value: `evaluate` against a plain-numpy interpreter of the recipe (independent of symnum's
  terms), tree mode, both simplifiers (rules; egraph with the default ruleset), and the llvm and
  numba backends, scalar and batched (all expressions of a round batched into one Fn per
  simplifier, so a round compiles a handful of kernels);
* diff against central finite differences (only where the expression is smooth there: two step
  sizes must agree), grad against diff, jvp and vjp against grad, Taylor coefficients against
  nested diff.

A mismatch between a simplified form and the original at a point where a step function or a
comparison sits within rounding of its jump is flagged `branch` (both values are right answers
to slightly different roundings); every other mismatch is `genuine`. Lives in symnum.testing
(needs hypothesis); used by tests/test_fuzz.py (CI size) and benchmarks/fuzz.py (long runs).
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed

from symnum.autodiff.ad import diff, gradient, jvp_terms, vjp_terms
from symnum.autodiff.taylor import taylor
from symnum.core.evaluate import eval_many
from symnum.core.terms import Sym
from symnum.testing.strategies import STEP_OPS, build, expression_recipes

X, Y = Sym("fuzz_x"), Sym("fuzz_y")
RTOL, ATOL = 1e-9, 1e-11
_DISCONTINUOUS = set(STEP_OPS) | {"lt", "le", "gt", "ge", "eq", "ne", "floor_divide"}


def _erf(v):
    from scipy.special import erf

    return erf(v)


# the recipe's meaning in plain numpy: the oracle that shares nothing with symnum's terms
NUMPY: dict[str, Any] = {
    "add": lambda *a: sum(a[1:], a[0]), "sub": np.subtract, "neg": np.negative,
    "mul": lambda *a: math.prod(a[1:], start=a[0]), "fma": lambda a, b, c: a * b + c,
    "div": np.divide, "pow": np.power, "exp": np.exp, "log": np.log, "log1p": np.log1p,
    "expm1": np.expm1, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "abs": np.abs, "sign": np.sign,
    "erf": _erf, "hypot": np.hypot, "minimum": np.minimum, "maximum": np.maximum,
    "ifelse": np.where, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal, "eq": np.equal, "ne": np.not_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_not": np.logical_not,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "cbrt": np.cbrt,
    "copysign": np.copysign, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc,
    "rint": np.rint, "fmod": np.fmod, "logaddexp": np.logaddexp, "logaddexp2": np.logaddexp2,
}


def numpy_value(recipe, xs: list) -> Any:
    kind = recipe[0]
    if kind == "sym":
        return xs[recipe[1]]
    if kind == "const":
        v = recipe[1]
        return float(v) if not isinstance(v, float) else v
    args = [numpy_value(r, xs) for r in recipe[1:]]
    return NUMPY[kind](*args)


def ops_of(recipe) -> set:
    if recipe[0] in ("sym", "const"):
        return set()
    return {recipe[0]}.union(*[ops_of(r) for r in recipe[1:]])


def draw_recipes(n: int, seed: int, depth: int = 4) -> list:
    """n recipes over two symbols, reproducible from `seed`."""
    out: list = []

    @hseed(seed)
    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(expression_recipes(2, None, depth))
    def collect(r):
        out.append(r)

    collect()
    return out[:n]


@dataclass
class Report:
    triples: Counter = field(default_factory=Counter)
    mismatches: list = field(default_factory=list)  # (category, kind, recipe, point, got, want)

    def check(self, cat: tuple, got, want, recipe, pts, kind_if_bad: str,
              rtol: float = RTOL, atol: float = ATOL) -> None:
        got = np.asarray(got, np.float64) * np.ones(len(pts[0]))
        want = np.asarray(want, np.float64) * np.ones(len(pts[0]))
        self.triples[cat] += len(got)
        ok = np.isclose(got, want, rtol=rtol, atol=atol * (1 + np.abs(want)), equal_nan=True)
        for i in np.flatnonzero(~ok)[:3]:
            self.mismatches.append((cat, kind_if_bad, recipe, (pts[0][i], pts[1][i]),
                                    float(got[i]), float(want[i])))
        if (~ok).sum() > 3:
            self.mismatches.append((cat, kind_if_bad, recipe, "…", int((~ok).sum()), None))

    def genuine(self) -> list:
        return [m for m in self.mismatches if m[1] == "genuine"]


def _points(rng, n: int) -> tuple:
    xs = rng.uniform(-2, 2, n)
    ys = rng.uniform(-2, 2, n)
    ys[: n // 4] = xs[: n // 4]  # ties: x = y
    return xs, ys


def fuzz_round(report: Report, seed: int, n_exprs: int = 20, n_points: int = 16,
               backends: tuple = ("llvm", "numba"), simplifiers: tuple = ("rules", "egraph"),
               transforms: bool = True, cache_dir: str | None = None) -> None:
    """One seeded round; adds its triples and mismatches to `report`."""
    from symnum.simplify import simplify

    rng = np.random.default_rng(seed)
    recipes = draw_recipes(n_exprs, seed)
    pts = _points(rng, n_points)
    env = {X: pts[0], Y: pts[1]}
    exprs = [build(r, [X, Y]) for r in recipes]
    flips = [bool(ops_of(r) & _DISCONTINUOUS) for r in recipes]
    ref = eval_many(exprs, env)
    with np.errstate(all="ignore"):
        for r, v in zip(recipes, ref):
            report.check(("value", "none", "numpy"), v, numpy_value(r, list(pts)), r, pts,
                         "genuine")
        tree = eval_many([build(r, [X, Y], mode="tree") for r in recipes], env)
    for r, v, w, f in zip(recipes, tree, ref, flips):
        report.check(("value", "tree", "evaluate"), v, w, r, pts, "branch" if f else "genuine")
    forms = {"none": exprs}
    for method in simplifiers:
        forms[method] = [simplify(e, method=method) for e in exprs]
        for r, v, w, f in zip(recipes, eval_many(forms[method], env), ref, flips):
            report.check(("value", method, "evaluate"), v, w, r, pts,
                         "branch" if f else "genuine")
    if backends:
        _compiled(report, forms, recipes, flips, ref, pts, backends, cache_dir)
    if transforms:
        _transforms(report, recipes, exprs, flips, pts, env)


def _compiled(report, forms, recipes, flips, ref, pts, backends, cache_dir) -> None:
    from symnum.compile import lower
    from symnum.tracing.fn import Fn

    cache_dir = cache_dir or tempfile.mkdtemp(prefix="symnum-fuzz-")
    for method, es in forms.items():
        for backend in backends:
            k = lower(Fn([X, Y], list(es)), backend, cache_dir=cache_dir)
            batched = np.asarray(k(pts[0], pts[1]), np.float64).reshape(len(es), -1)
            scalar = np.stack([np.asarray(k(a, b), np.float64).ravel()
                               for a, b in zip(pts[0][:4], pts[1][:4])], axis=1)
            spts = (pts[0][:4], pts[1][:4])
            for i, r in enumerate(recipes):
                kind = "branch" if (flips[i] and method != "none") else "genuine"
                report.check(("value", method, backend + "-batched"), batched[i], ref[i], r, pts,
                             kind)
                report.check(("value", method, backend + "-scalar"), scalar[i],
                             np.asarray(ref[i] * np.ones(len(pts[0])))[:4], r, spts, kind)


def _fd(e, s, env, h):
    up, dn = dict(env), dict(env)
    up[s] = env[s] + h
    dn[s] = env[s] - h
    a, b = eval_many([e], up)[0], eval_many([e], dn)[0]
    return (np.asarray(a, np.float64) - np.asarray(b, np.float64)) / (2 * h)


def _transforms(report, recipes, exprs, flips, pts, env) -> None:
    tx, ty = 0.6, -1.1  # a fixed tangent / cotangent direction
    for r, e, f in zip(recipes, exprs, flips):
        dx, dy = diff(e, X), diff(e, Y)
        vdx, vdy = eval_many([dx, dy], env)
        with np.errstate(all="ignore"):
            fd1, fd2 = _fd(e, X, env, 1e-5), _fd(e, X, env, 1e-6)
        smooth = np.isclose(fd1, fd2, rtol=1e-5, atol=1e-6) & np.isfinite(fd1)
        if not f:  # FD only where the expression is smooth at the point
            sel = (pts[0][smooth], pts[1][smooth])
            if len(sel[0]):
                report.check(("diff-vs-fd", "none", "evaluate"),
                             (np.asarray(vdx) * np.ones(len(pts[0])))[smooth],
                             np.asarray(fd2)[smooth], r, sel, "genuine", rtol=1e-5, atol=1e-6)
        gx, gy = eval_many(gradient(e, [X, Y]), env)
        report.check(("grad-vs-diff", "none", "evaluate"), gx, vdx, r, pts, "genuine")
        report.check(("grad-vs-diff", "none", "evaluate"), gy, vdy, r, pts, "genuine")
        (jv,) = eval_many(jvp_terms([e], [X, Y], [tx, ty]), env)
        want = tx * np.asarray(vdx) + ty * np.asarray(vdy)
        report.check(("jvp-vs-grad", "none", "evaluate"), jv, want, r, pts, "genuine")
        vx, vy = eval_many(vjp_terms([e], [X, Y], [tx]), env)
        report.check(("vjp-vs-grad", "none", "evaluate"), vx, tx * np.asarray(vdx), r, pts,
                     "genuine")
        report.check(("vjp-vs-grad", "none", "evaluate"), vy, tx * np.asarray(vdy), r, pts,
                     "genuine")
        coeffs = taylor(e, X, 3)
        nested = [e, dx, diff(dx, X), diff(dx, X, 2)]
        got = eval_many(list(coeffs), env)
        want = eval_many(nested, env)
        for k, (c, w) in enumerate(zip(got, want)):
            report.check(("taylor-vs-diff", "none", "evaluate"), c,
                         np.asarray(w, np.float64) / math.factorial(k), r, pts, "genuine")


def summary(report: Report) -> str:
    lines = ["| transform | simplifier | backend | triples | mismatches (genuine / branch) |",
             "|---|---|---|---:|---:|"]
    bad = Counter((m[0], m[1]) for m in report.mismatches)
    for cat in sorted(report.triples):
        g, b = bad[(cat, "genuine")], bad[(cat, "branch")]
        lines.append(f"| {cat[0]} | {cat[1]} | {cat[2]} | {report.triples[cat]} | {g} / {b} |")
    lines.append(f"| **total** | | | {sum(report.triples.values())} | "
                 f"{len(report.genuine())} / {len(report.mismatches) - len(report.genuine())} |")
    return "\n".join(lines)
