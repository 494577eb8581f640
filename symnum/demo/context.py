"""What the demo's stages share: the model, the context they read and extend, rows and checks.

The bottom of the demo package: stages (symnum.demo.pipeline, symnum.demo.solve) import it, and it
imports no stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symnum.demo.examples import brusselator_rhs

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
    dense_fd: bool = False  # also integrate with numpy + dense finite differences (slow)
    on_row: Callable[[StageResult], None] | None = None  # told each row as it finishes

    def add_row(self, row: StageResult) -> None:
        self.rows.append(row)
        if self.on_row is not None:
            self.on_row(row)


@dataclass
class DemoResult:
    rows: list[StageResult]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def graph_size(fn: Any) -> tuple[int, int]:
    """(operation nodes, all nodes) of an Fn's outputs, each shared subterm counted once."""
    from symnum.core.traversal import count_ops, postorder

    outs = list(fn.flat_outputs)
    return count_ops(outs), len(postorder(outs))


def _timed(ctx: Context, stage: str, work: Callable[[], Any], note: str = "") -> Any:
    t0 = time.perf_counter()
    out = work()
    dt = time.perf_counter() - t0
    ops = nodes = None
    if out is not None and hasattr(out, "flat_outputs"):
        ops, nodes = graph_size(out)
    ctx.add_row(StageResult(stage, dt, ops, nodes, note))
    return out



def _compare(name: str, got: Any, want: np.ndarray) -> Check:
    got = np.asarray(got, dtype=float)
    if got.shape != want.shape:
        return Check(f"{name} (shape {got.shape} != {want.shape})", float("inf"), 0.0)
    # the Laplacian's 1/dx² makes entries O(n²) and a simplifier may reorder sums: allow rounding
    # relative to the largest entry (a real bug gives errors of order one)
    scale = max(1.0, float(np.max(np.abs(want))))
    return Check(name, float(np.max(np.abs(got - want))), 1e-12 * scale)
