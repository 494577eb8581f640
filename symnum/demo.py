"""The main job, `python -m symnum demo`: the Brusselator right-hand side, end to end.

A list of stages (trace → simplify → evaluate) that each read and extend one shared context and
report their time and graph size; later issues append stages (compile, Jacobian, integrate). Every
stage is checked against the plain numpy function; the demo never hides a failed check.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from .examples import brusselator_init, brusselator_rhs

PARAMS = (1.0, 3.4, 10.0)  # A, B, alpha: the Symbolics.jl paper's values
T_OFF, T_ON = 0.0, 1.5  # before and after the forcing switches on at t = 1.1


def model(state: Any, t: Any) -> Any:
    """The traced function: numeric parameters, symbolic state and time.

    Parameters stay numbers so that they fold into the coefficients, as a user with fixed
    parameters would write it; time stays symbolic so the forcing switch (t ≥ 1.1) remains in the
    graph and one traced function serves every t, which an ODE integrator needs.
    """
    return brusselator_rhs(state, PARAMS, t)


def _reference(state: np.ndarray, t: float) -> np.ndarray:
    """The ground truth every stage is compared with: the numpy code run on floats."""
    return brusselator_rhs(state, PARAMS, t)


@dataclass
class StageResult:
    """One row of the table: a stage's name, wall time, and the graph size after it."""

    stage: str
    seconds: float
    ops: int | None = None  # operation nodes in the output DAG (shared subterms once)
    nodes: int | None = None  # all DAG nodes, leaves included
    note: str = ""


@dataclass
class Check:
    """A numerical comparison with the reference: passes when error <= tol."""

    name: str
    error: float
    tol: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.error) and self.error <= self.tol)


@dataclass
class Context:
    """What stages share: the inputs, the current Fn and everything measured so far."""

    n: int
    seed: int
    reference: Callable[[np.ndarray, float], np.ndarray]
    states: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)
    fns: dict[str, Any] = field(default_factory=dict)  # stage name → the Fn it produced
    fn: Any = None  # the latest Fn
    rows: list[StageResult] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


@dataclass
class DemoResult:
    rows: list[StageResult]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def graph_size(fn: Any) -> tuple[int, int]:
    """(operation nodes, all nodes) of an Fn's outputs, each shared subterm counted once."""
    from .traversal import count_ops, postorder

    outs = list(fn.flat_outputs)
    return count_ops(outs), len(postorder(outs))


def _timed(ctx: Context, stage: str, work: Callable[[], Any], note: str = "") -> Any:
    t0 = time.perf_counter()
    out = work()
    dt = time.perf_counter() - t0
    ops = nodes = None
    if out is not None and hasattr(out, "flat_outputs"):
        ops, nodes = graph_size(out)
    ctx.rows.append(StageResult(stage, dt, ops, nodes, note))
    return out


# ---------------------------------------------------------------------------------------------
# stages: each takes the context, does one thing, and appends its row (and checks)


def stage_numpy(ctx: Context) -> None:
    """Run the original numpy function once (the baseline the evaluations are compared with)."""
    u0, t = ctx.states["initial"]
    _timed(ctx, "numpy rhs (reference)", lambda: ctx.reference(u0, t), "float arrays")


def stage_trace(ctx: Context) -> None:
    """Trace the numpy code into an Fn of (state, t)."""
    import symnum as sn

    u0, _ = ctx.states["initial"]
    fn = _timed(ctx, "trace", lambda: sn.trace(model, u0, 0.0),
                f"state (2, {ctx.n}, {ctx.n}) and t symbolic")
    ctx.fns["trace"] = ctx.fn = fn


def stage_simplify(ctx: Context) -> None:
    """Simplify with the classical rule sets."""
    import symnum as sn

    fn = _timed(ctx, "simplify (rules)", lambda: sn.simplify(ctx.fn, method="rules"))
    ctx.fns["simplify"] = ctx.fn = fn


def stage_evaluate(ctx: Context) -> None:
    """Evaluate every Fn produced so far with the reference interpreter, against numpy."""
    for stage, fn in ctx.fns.items():
        for label, (state, t) in ctx.states.items():
            got = _timed(ctx, f"evaluate {stage} @ {label}", lambda f=fn, s=state, t=t: f(s, t),
                         f"t = {t}")
            ctx.checks.append(_compare(f"{stage} @ {label} state, t={t}", got,
                                       ctx.reference(state, t)))


def _compare(name: str, got: Any, want: np.ndarray) -> Check:
    got = np.asarray(got, dtype=float)
    if got.shape != want.shape:
        return Check(f"{name} (shape {got.shape} != {want.shape})", float("inf"), 0.0)
    # the Laplacian's 1/dx² makes entries O(n²) and a simplifier may reorder sums: allow rounding
    # relative to the largest entry (a real bug gives errors of order one)
    scale = max(1.0, float(np.max(np.abs(want))))
    return Check(name, float(np.max(np.abs(got - want))), 1e-12 * scale)


STAGES: list[Callable[[Context], None]] = [stage_numpy, stage_trace, stage_simplify,
                                           stage_evaluate]


def run_demo(n: int = 32, seed: int = 0, *, reference: Callable | None = None,
             stages: list[Callable[[Context], None]] | None = None) -> DemoResult:
    """Run the stages on an n×n Brusselator; the result holds the table rows and the checks.

    >>> r = run_demo(4)
    >>> r.ok, [row.stage for row in r.rows][:3]
    (True, ['numpy rhs (reference)', 'trace', 'simplify (rules)'])
    """
    if n < 3:
        raise ValueError(f"the grid needs n >= 3 points per side for its stencil, got n={n}")
    rng = np.random.default_rng(seed)
    ctx = Context(n, seed, reference or _reference)
    ctx.states["initial"] = (brusselator_init(n), T_OFF)
    ctx.states["random"] = (rng.uniform(0.0, 4.0, size=(2, n, n)), T_ON)
    for stage in STAGES if stages is None else stages:
        stage(ctx)
    return DemoResult(ctx.rows, ctx.checks)


def format_table(result: DemoResult) -> str:
    """The stage table and the check lines as printed by `python -m symnum demo`."""
    w = max([34] + [len(r.stage) for r in result.rows])
    head = f"{'stage':<{w}} {'time':>10} {'ops':>9} {'nodes':>9}  note"
    lines = [head, "-" * len(head)]
    for r in result.rows:
        ops = "-" if r.ops is None else f"{r.ops:,}"
        nodes = "-" if r.nodes is None else f"{r.nodes:,}"
        lines.append(f"{r.stage:<{w}} {_fmt_time(r.seconds):>10} {ops:>9} {nodes:>9}  {r.note}")
    lines.append("")
    for c in result.checks:
        mark = "ok  " if c.ok else "FAIL"
        lines.append(f"[{mark}] {c.name}: max abs error {c.error:.3g} (tolerance {c.tol:.3g})")
    lines.append("")
    lines.append("all checks passed" if result.ok else "CHECK FAILED")
    return "\n".join(lines)


def _fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def main(n: int = 32, seed: int = 0, out: TextIO | None = None) -> int:
    """Run the demo, print its table; 0 when every check passed, 1 otherwise."""
    out = sys.stdout if out is None else out
    print(f"symnum demo: 2D Brusselator right-hand side on a {n}x{n} grid "
          f"({2 * n * n:,} outputs)\n", file=out)
    result = run_demo(n, seed)
    print(format_table(result), file=out)
    return 0 if result.ok else 1


from .demo_solve import SOLVE_STAGES  # noqa: E402  (its stages build on this module's context)

STAGES += SOLVE_STAGES
