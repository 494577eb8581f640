"""Compiled gradients per call: `symnum.grad` vs hand-written numba, JAX, pytensor and CasADi.

Workloads (from bench_cheap_gradient): the extended Rosenbrock function and the mean squared loss
of a d→h→1 tanh network whose parameters are the input, n = 10, 100, 1,000. symnum is timed
through its raw kernel (`sn.compile(sn.grad(f)).lower(x).kernel(x, out)`) and through the call
a user writes (`sn.grad(f)(x)`). The hand-written gradient is checked against central
differences, every other system against it, before a time is printed; ratios are to
hand-written numba in the same run.

    python benchmarks/bench_gradient.py [--quick] [--repeats R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import machine_info, table
from bench_cheap_gradient import fd_error
from peers import (
    casadi_function,
    fmt_us,
    gradient_pt,
    gradient_workloads,
    jax_module,
    mlp_grad_numba,
    mlp_jnp,
    object_trace,
    peer_versions,
    per_call,
    pytensor_function,
    pytensor_module,
    rel_err,
    rosenbrock_grad_numba,
    rosenbrock_jnp,
)

import symnum as sn


def fd_check(f: Callable, g: np.ndarray, x: np.ndarray, k: int = 6) -> float:
    """Max relative error of g against central differences of f at k random coordinates."""
    coords = np.random.default_rng(2).choice(x.size, size=min(k, x.size), replace=False)
    return fd_error(f, g, x, coords)


def run(name: str, f: Callable, params: Any, n: int, args: argparse.Namespace,
        results: dict) -> None:
    size = params[4] if params is not None else n
    label = f"{name} n={size:,}"
    print(f"\n{label}", flush=True)
    x = np.random.default_rng(1).uniform(-1.0, 1.0, size)
    out = np.empty(size)
    hand = rosenbrock_grad_numba() if params is None else mlp_grad_numba(*params[:4])
    hand(x, out)
    want = out.copy()
    err_fd = fd_check(f, want, x)
    if err_fd > 1e-5:
        raise RuntimeError(f"hand-written gradient of {label} disagrees with FD ({err_fd:.1e})")

    def record(system: str, g: Callable, call_args: tuple, got: Callable[[], Any],
               build: float) -> None:
        err = rel_err(got(), want)
        secs = None if err > 1e-9 else per_call(g, *call_args, repeats=args.repeats,
                                                 budget_s=args.budget)
        results.setdefault(system, {})[label] = (secs, err, build)
        note = fmt_us(secs) if secs is not None else f"WRONG ({err:.1e})"
        print(f"  {system:34s} {note:>10s}  err {err:.1e}  build {fmt_us(build)}", flush=True)

    record("hand-written numba", hand, (x, out), lambda: (hand(x, out), out)[1], 0.0)

    # symnum: the user's call and the raw kernel, per backend
    for be in ("llvm", "numba"):
        t0 = time.perf_counter()
        c = sn.compile(sn.grad(f), backend=be)
        fn = c.lower(x) if be == "llvm" else None
        if be == "numba":
            from symnum.backends.schedule import schedule

            gfn = sn.grad(f).fn(x)  # numba's compile time grows with lines of source
            lines = len(schedule(gfn.flat_inputs, gfn.flat_outputs)) + 2 * size
            if lines > args.numba_limit:
                results.setdefault(f"symnum {be}: kernel", {})[label] = (
                    None, None, f"skipped: {lines:,} lines")
                continue
            fn = c.lower(x)
        build = time.perf_counter() - t0
        k = fn.kernel
        record(f"symnum {be}: kernel", k, (x, out), lambda k=k: (k(x, out), out)[1], build)
        record(f"symnum {be}: compiled g(x)", c, (x,), lambda c=c: c(x), 0.0)
    g = sn.grad(f)
    t0 = time.perf_counter()
    g(x)
    record("symnum: sn.grad(f)(x)", g, (x,), lambda: g(x), time.perf_counter() - t0)

    jax = jax_module()
    if jax is not None:
        import jax.numpy as jnp

        fj = rosenbrock_jnp(jnp) if params is None else mlp_jnp(jnp, *params[:4])
        t0 = time.perf_counter()
        gj = jax.jit(jax.grad(fj))
        xj = jax.device_put(x)
        gj(xj).block_until_ready()
        record("JAX jit(grad)", lambda a: gj(a).block_until_ready(), (xj,),
               lambda: np.asarray(gj(xj)), time.perf_counter() - t0)
    if pytensor_module() is not None:
        t0 = time.perf_counter()
        xs, gs = gradient_pt(name, params)
        gp = pytensor_function([xs], gs)
        record("pytensor (C) grad", gp, (x,), lambda: gp(x), time.perf_counter() - t0)
    try:
        import casadi as ca
    except ImportError:
        return
    t0 = time.perf_counter()
    xs, outs = object_trace("casadi", f, (size,))
    call, buffered, _ = casadi_function(xs, [ca.gradient(outs[0], xs)])
    build = time.perf_counter() - t0
    record("CasADi SX: buffer", buffered, (x, out), lambda: (buffered(x, out), out)[1], build)
    record("CasADi SX: f(x)", call, (x,), lambda: np.asarray(call(x)), 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 10 and 100, few repeats")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timing per system")
    ap.add_argument("--numba-limit", type=int, default=4_000,
                    help="skip symnum's numba backend above this many lines of source")
    args = ap.parse_args(argv)
    args.repeats = args.repeats or (31 if args.quick else 101)
    print(machine_info() + ", " + peer_versions(), flush=True)
    results: dict = {}
    labels = []
    for n in (10, 100) if args.quick else (10, 100, 1_000):
        for name, f, params in gradient_workloads(n):
            run(name, f, params, n, args, results)
            size = params[4] if params is not None else n
            labels.append(f"{name} n={size:,}")
    base = results["hand-written numba"]
    body = []
    for system, cells in results.items():
        row = [system]
        for lab in labels:
            secs, err, build = cells.get(lab, (None, None, "-"))
            if secs is None:
                row.append(build if isinstance(build, str) else "-")
            else:
                row.append(f"{fmt_us(secs)} ({secs / base[lab][0]:.2f}x)")
        body.append(row)
    print("\n### Gradient per call: median (ratio to hand-written numba)\n")
    print(table(["system"] + labels, body))
    print("\nMLP: d→h→1 tanh network on a fixed batch of 4, its parameters the input "
          "(n = h·(d+2)+1). 'compiled g(x)': `sn.compile(sn.grad(f), backend=...)` called like "
          "f; 'sn.grad(f)(x)': the default path (llvm).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
