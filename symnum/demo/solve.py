"""The demo's compile-and-solve stages: compiled right-hand side, sparse Jacobian, implicit solve.

Listed in `symnum.demo.pipeline.STAGES`. Each stage times one step and checks it against the plain
numpy
code: the compiled RHS against numpy, the compiled sparse Jacobian against finite differences, and
the BDF solution with the symbolic Jacobian against the one numpy + finite differences give.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from symnum.demo.context import PARAMS, Check, Context, StageResult, _compare
from symnum.errors import CompileError, MissingRuleError, TracingError, UnsupportedOperationError

# states from which the demo's Jacobian takes the array path. Measured (results_issue11.md,
# `python -m symnum demo`, fresh processes): n = 32 (2,048 states) scalar 0.7 s (LLVM cache
# warm) vs array 2.2 s (numba's start-up and cache load); n = 64 (8,192) scalar 13 s vs array
# 4.2 s (both cold)
ARRAY_JACOBIAN_STATES = 4096
T_END = 11.5  # the Symbolics.jl paper's time span for this problem
RTOL, ATOL = 1e-6, 1e-8


def stage_compile(ctx: Context) -> None:
    """Lower the simplified Fn of (state, t) to machine code (the "auto" backend: LLVM)."""
    from symnum.compile import lower

    t0 = time.perf_counter()
    k = lower(ctx.fn, "auto")
    dt = time.perf_counter() - t0
    ctx.fns["compiled"] = k
    ctx.add_row(StageResult("compile rhs", dt, None, None,
                                f"{k.backend}, {k.info.get('statements', '?')} statements"))
    for label, (state, t) in ctx.states.items():
        ctx.checks.append(_compare(f"compiled rhs @ {label} state, t={t}", k(state, t),
                                   ctx.reference(state, t)))


def stage_jacobian(ctx: Context) -> None:
    """Sparse symbolic Jacobian ∂rhs/∂state, compiled; checked against central differences.

    From ARRAY_JACOBIAN_STATES states on, the model traced as an array program: the pattern
    from its index maps and the values as loops over coefficient blocks
    (symnum.autodiff.array_sparse_jacobian), a build flat in n; below, the scalar program's
    (ctx.fn), whose LLVM build is quicker than numba's start-up there. A model that does not
    trace as an array program takes the scalar path."""
    t0 = time.perf_counter()
    J = None
    if ctx.states["initial"][0].size >= ARRAY_JACOBIAN_STATES:
        try:
            J, jf, t1 = _array_jacobian(ctx)
        except (TracingError, UnsupportedOperationError, MissingRuleError, CompileError):
            t0 = time.perf_counter()
    if J is None:
        J, jf, t1 = _scalar_jacobian(ctx)
    t2 = time.perf_counter()
    ctx.fns["jacobian"] = jf
    ctx.add_row(StageResult("sparse jacobian (symbolic)", t1 - t0, None, None,
                                f"{J.nnz:,} non-zeros of {J.shape[0]:,}²"))
    ctx.add_row(StageResult("compile jacobian", t2 - t1, None, None,
                                getattr(jf.compiled, "backend", "")))
    state, t = ctx.states["random"]
    dense = jf.csr(state, t).toarray()
    fd = _fd_jacobian(lambda u: ctx.reference(u.reshape(state.shape), t).ravel(), state.ravel())
    scale = max(1.0, float(np.max(np.abs(dense))))
    ctx.checks.append(Check("compiled jacobian vs central differences @ random state",
                            float(np.max(np.abs(dense - fd))), 1e-6 * scale))


def _array_jacobian(ctx: Context) -> tuple:
    from symnum.arrays.terms import ArraySym
    from symnum.autodiff.sparsity import sparse_jacobian
    from symnum.builders import build_function
    from symnum.demo.context import model

    u0 = ctx.states["initial"][0]
    # t as a 0-d array symbol: `mask & (t >= 1.1)` then stays an array term (a scalar symbol
    # would turn the numpy mask into an array of scalar terms, which array mode refuses)
    state, t = ArraySym("state", u0.shape), ArraySym("t", ())
    J = sparse_jacobian([model(state, t)], [state])
    t1 = time.perf_counter()
    return J, build_function(J, state, t), t1


def _scalar_jacobian(ctx: Context) -> tuple:
    from symnum.autodiff.sparsity import sparse_jacobian
    from symnum.builders import build_function

    fn = ctx.fn
    state_syms = fn.inputs[0]
    J = sparse_jacobian(fn.flat_outputs, list(state_syms.ravel()))
    t1 = time.perf_counter()
    return J, build_function(J, state_syms, fn.inputs[1]), t1


def _fd_jacobian(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h * max(1.0, abs(x[j]))
        cols.append((f(x + e) - f(x - e)) / (2 * e[j]))
    return np.stack(cols, axis=1)


def stage_integrate(ctx: Context) -> None:
    """Integrate with scipy's BDF: compiled RHS + symbolic sparse Jacobian, against the original
    numpy RHS with scipy's finite-difference Jacobian given the sparsity pattern (the strong
    baseline) and, with ctx.dense_fd, dense (what plain code gets); compare wall time and final
    states."""
    from scipy.integrate import solve_ivp

    u0 = ctx.states["initial"][0]
    shape = u0.shape
    k, jf = ctx.fns["compiled"], ctx.fns["jacobian"]
    pattern = jf.csr(u0, 0.0).copy()
    pattern.data[:] = 1.0

    def rhs_symnum(t, y):
        return k(y.reshape(shape), t).ravel()

    def jac_symnum(t, y):
        return jf.csr(y.reshape(shape), t)

    def rhs_numpy(t, y):
        return ctx.reference(y.reshape(shape), t).ravel()

    runs: dict[str, Any] = {}
    plan = [("symnum", dict(fun=rhs_symnum, jac=jac_symnum)),
            ("numpy + sparse FD", dict(fun=rhs_numpy, jac_sparsity=pattern))]
    if ctx.dense_fd:  # opt-in (--dense-fd): 2n² rhs calls per Jacobian, minutes at n = 32
        plan.append(("numpy + dense FD", dict(fun=rhs_numpy)))
    for name, kwargs in plan:
        t0 = time.perf_counter()
        sol = solve_ivp(method="BDF", t_span=(0.0, T_END), y0=u0.ravel(), rtol=RTOL, atol=ATOL,
                        **kwargs)
        dt = time.perf_counter() - t0
        runs[name] = (sol, dt)
        ctx.add_row(StageResult(f"integrate BDF 0..{T_END}: {name}", dt, None, None,
                                    f"{sol.t.size - 1} steps, {sol.nfev} rhs, {sol.njev} jac"))
        if not sol.success:
            ctx.checks.append(Check(f"BDF with {name} failed: {sol.message}", float("inf"), 0.0))
            return
    a, ta = runs["symnum"]
    for name in [p[0] for p in plan[1:]]:
        b, tb = runs[name]
        ya, yb = a.y[:, -1], b.y[:, -1]
        scale = max(1.0, float(np.max(np.abs(yb))))
        # two solver runs agree to the solver's tolerance, not to rounding
        ctx.checks.append(Check(f"final state, symnum vs {name} (symnum {tb / ta:.1f}x faster)",
                                float(np.max(np.abs(ya - yb))), 1e-3 * scale))


SOLVE_STAGES = [stage_compile, stage_jacobian, stage_integrate]
__all__ = ["SOLVE_STAGES", "PARAMS"]
