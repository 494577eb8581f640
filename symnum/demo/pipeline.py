"""The main job, `python -m symnum demo`: the Brusselator right-hand side, end to end.

A list of stages (trace → simplify → evaluate, then compile → Jacobian → integrate from
symnum.demo.solve) that each read and extend one shared context (symnum.demo.context) and report
their time and graph size. Every stage is checked against the plain numpy function; the demo never
hides a failed check.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

import numpy as np

from symnum.demo.context import (
    T_OFF,
    T_ON,
    Context,
    DemoResult,
    _compare,
    _reference,
    _timed,
    model,
)
from symnum.demo.examples import brusselator_init
from symnum.demo.solve import SOLVE_STAGES

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
    fn = _timed(ctx, "trace", lambda: sn.trace(model, u0, 0.0, mode="scalar"),
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


STAGES: list[Callable[[Context], None]] = [stage_numpy, stage_trace, stage_simplify,
                                           stage_evaluate, *SOLVE_STAGES]


def run_demo(n: int = 32, seed: int = 0, *, reference: Callable | None = None,
             stages: list[Callable[[Context], None]] | None = None, dense_fd: bool = False,
             on_row: Callable | None = None) -> DemoResult:
    """Run the stages on an n×n Brusselator; the result holds the table rows and the checks.

    >>> r = run_demo(4)
    >>> r.ok, [row.stage for row in r.rows][:3]
    (True, ['numpy rhs (reference)', 'trace', 'simplify (rules)'])
    """
    if n < 3:
        raise ValueError(f"the grid needs n >= 3 points per side for its stencil, got n={n}")
    rng = np.random.default_rng(seed)
    ctx = Context(n, seed, reference or _reference, dense_fd=dense_fd, on_row=on_row)
    ctx.states["initial"] = (brusselator_init(n), T_OFF)
    ctx.states["random"] = (rng.uniform(0.0, 4.0, size=(2, n, n)), T_ON)
    for stage in STAGES if stages is None else stages:
        stage(ctx)
    return DemoResult(ctx.rows, ctx.checks)


ROW_WIDTH = 44  # stage names up to this long line up while rows print one at a time


def table_head(w: int = ROW_WIDTH) -> list[str]:
    head = f"{'stage':<{w}} {'time':>10} {'ops':>9} {'nodes':>9}  note"
    return [head, "-" * len(head)]


def format_row(r, w: int = ROW_WIDTH) -> str:
    ops = "-" if r.ops is None else f"{r.ops:,}"
    nodes = "-" if r.nodes is None else f"{r.nodes:,}"
    return f"{r.stage:<{w}} {_fmt_time(r.seconds):>10} {ops:>9} {nodes:>9}  {r.note}"


def format_checks(result: DemoResult) -> list[str]:
    lines = []
    for c in result.checks:
        mark = "ok  " if c.ok else "FAIL"
        lines.append(f"[{mark}] {c.name}: max abs error {c.error:.3g} (tolerance {c.tol:.3g})")
    lines.append("")
    lines.append("all checks passed" if result.ok else "CHECK FAILED")
    return lines


def format_table(result: DemoResult) -> str:
    """The stage table and the check lines as printed by `python -m symnum demo`."""
    w = max([ROW_WIDTH] + [len(r.stage) for r in result.rows])
    lines = table_head(w) + [format_row(r, w) for r in result.rows] + [""]
    return "\n".join(lines + format_checks(result))


def _fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def main(n: int = 32, seed: int = 0, out: TextIO | None = None, dense_fd: bool = False) -> int:
    """Run the demo, printing each stage's row as it finishes, then the checks; 0 when every
    check passed, 1 otherwise."""
    out = sys.stdout if out is None else out
    print(f"symnum demo: 2D Brusselator right-hand side on a {n}x{n} grid "
          f"({2 * n * n:,} outputs)\n", file=out)
    print("\n".join(table_head()), file=out, flush=True)
    result = run_demo(n, seed, dense_fd=dense_fd,
                      on_row=lambda r: print(format_row(r), file=out, flush=True))
    print("", file=out)
    print("\n".join(format_checks(result)), file=out, flush=True)
    return 0 if result.ok else 1


