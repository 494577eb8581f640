"""Compiled right-hand sides and sparse Jacobian values, per call, vs every peer; compile latency.

Workloads: the 2D Brusselator (n = 8, 16, 32: 2·n² states) and a seeded mass-action network
(N = 10 … 2,048 species). Each system builds its own callable for the same function (peers.py):
symnum (`build_function`, llvm and numba backends: the raw `kernel(x, out)` and the wrapped call),
hand-written numba loops, SymPy `lambdify`, SymEngine `Lambdify` (LLVM), CasADi `Function`,
`jax.jit` and pytensor. Every result is checked (the RHS against the numpy function, Jacobians
against central differences and against symnum's values) before its time is printed. Ratios are
to hand-written numba in the same run. Part 2 times trace → sparse Jacobian → first call in fresh
processes, cold (empty disk cache) and warm.

    python benchmarks/bench_kernels.py [--quick] [--only bruss|mass] [--skip-latency]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from _common import machine_info, table
from peers import (
    brusselator,
    brusselator_jnp,
    brusselator_numba,
    brusselator_pt,
    casadi_function,
    fmt_us,
    jax_functions,
    jax_module,
    mass_action,
    mass_action_jnp,
    mass_action_numba,
    mass_action_pt,
    network,
    object_trace,
    peer_versions,
    per_call,
    pytensor_function,
    pytensor_module,
    rel_err,
    sparse_entries,
    sparse_err,
    symengine_function,
    symengine_module,
    sympy_function,
)

import symnum as sn


@dataclass
class Problem:
    label: str
    family: str  # "bruss" | "mass"
    size: int  # n or N
    rhs: Callable
    shape: tuple
    net: Any = None


@dataclass
class Row:
    """One system's results over all problems: label → (seconds, check, note)."""

    name: str
    cells: dict = field(default_factory=dict)


def problems(quick: bool, only: str | None) -> list[Problem]:
    out = []
    if only in (None, "bruss"):
        for n in (8, 16) if quick else (8, 16, 32):
            out.append(Problem(f"Bruss n={n}", "bruss", n, brusselator(n), (2, n, n)))
    if only in (None, "mass"):
        for n in (10, 128) if quick else (10, 128, 512, 2048):
            net = network(n)
            out.append(Problem(f"mass N={n:,}", "mass", n, mass_action(net), (n,), net))
    return out


def fd_values(rhs: Callable, shape: tuple, x: np.ndarray, rows: np.ndarray,
              cols: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Jacobian entries at (rows, cols) by colour-compressed central differences."""
    vals = np.empty(len(rows))
    for c in range(int(colors.max()) + 1):
        h = 1e-6 * np.maximum(1.0, np.abs(x))
        e = np.where(colors == c, h, 0.0)
        col = np.ravel(rhs((x + e).reshape(shape))) - np.ravel(rhs((x - e).reshape(shape)))
        sel = colors[cols] == c
        vals[sel] = col[rows[sel]] / (2 * h[cols[sel]])
    return vals


class Bench:
    """Collects per-call times of the RHS and Jacobian systems, one problem at a time."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rhs_rows: dict[str, Row] = {}
        self.jac_rows: dict[str, Row] = {}
        self.builds: list[list[str]] = []
        self.rate: dict[tuple[str, str, str], float] = {}  # build seconds per output, per system

    def record(self, kind: str, system: str, p: Problem, secs: float | None, err: float | None,
               note: str = "") -> None:
        rows = self.rhs_rows if kind == "rhs" else self.jac_rows
        row = rows.setdefault(system, Row(system))
        if err is not None and err > (1e-9 if "FD" not in note else 1e-5):
            note, secs = f"WRONG (error {err:.1e})", None
        row.cells[p.label] = (secs, err, note)

    def predicted_too_long(self, system: str, kind: str, p: Problem,
                           outputs: int) -> float | None:
        rate = self.rate.get((system, kind, p.family))
        if rate is None:
            return None
        predicted = rate * outputs
        return predicted if predicted > self.args.build_limit else None

    def build(self, system: str, kind: str, p: Problem, outputs: int, make: Callable) -> Any:
        """Build a peer's callable, timing it; None when skipped (predicted over the limit)."""
        too_long = self.predicted_too_long(system, kind, p, outputs)
        if too_long is not None:
            self.record(kind, system, p, None, None, f"skipped: build ~{too_long:.0f} s")
            return None
        t0 = time.perf_counter()
        try:
            f = make()
        except Exception as e:  # a peer that cannot build this workload is a result, not a crash
            self.record(kind, system, p, None, None, f"failed: {type(e).__name__}")
            print(f"  {system} {kind} {p.label}: {type(e).__name__}: {e}"[:300], flush=True)
            return None
        dt = time.perf_counter() - t0
        self.rate[(system, kind, p.family)] = dt / max(1, outputs)
        self.builds.append([p.label, kind, system, fmt_us(dt)])
        return f

    def time(self, kind: str, system: str, p: Problem, f: Callable, args: tuple,
             result: Callable[[], Any] | None, check: Callable[[Any], float]) -> None:
        err = check(result() if result is not None else f(*args))
        secs = per_call(f, *args, repeats=self.args.repeats, budget_s=self.args.budget)
        self.record(kind, system, p, secs, err)
        print(f"  {kind:3s} {system:34s} {fmt_us(secs):>10s}  err {err:.1e}", flush=True)

    # -----------------------------------------------------------------------------------------
    def run(self, p: Problem) -> None:
        args = self.args
        print(f"\n{p.label}", flush=True)
        rng = np.random.default_rng(1)
        state = rng.uniform(0.1, 2.0, p.shape)
        x = np.ascontiguousarray(state.ravel())
        f_ref = np.ravel(p.rhs(state))
        n_in = x.size

        t0 = time.perf_counter()
        fn = sn.trace(p.rhs, np.zeros(p.shape), mode="scalar")
        J = sn.sparse_jacobian(fn.flat_outputs, fn.flat_inputs)
        t_sym = time.perf_counter() - t0
        colors = sn.color_columns(J.pattern())
        rows, cols = J.rows, J.cols
        import scipy.sparse as sp

        # the reference Jacobian: symnum's values, once they agree with finite differences
        ref_vals = J.evaluate(dict(zip(fn.flat_inputs, x)))
        fd_err = rel_err(ref_vals, fd_values(p.rhs, p.shape, x, rows, cols, colors))
        J_ref = sp.coo_matrix((ref_vals, (rows, cols)), shape=J.shape).tocsr()
        print(f"  trace + sparse_jacobian {fmt_us(t_sym)}; {J.nnz:,} non-zeros, "
              f"{int(colors.max()) + 1} colours; symnum vs FD {fd_err:.1e}", flush=True)

        def rhs_check(out: Any) -> float:
            return rel_err(out, f_ref)

        def jac_check_symnum_order(vals: Any) -> float:
            return sparse_err(rows, cols, np.asarray(vals), J_ref)

        out = np.empty(n_in)
        vals = np.empty(J.nnz)
        # symnum: llvm (the default backend) and numba, raw kernel and wrapped calls
        for be in ("llvm", "numba"):
            from symnum.backends.schedule import schedule

            # numba's compile time grows with source lines: statements + input loads + stores
            st_rhs = (len(schedule(fn.flat_inputs, fn.flat_outputs)) + 2 * n_in
                      if be == "numba" else 0)
            st_jac = (len(schedule(fn.flat_inputs, list(J.values))) + n_in + J.nnz
                      if be == "numba" else 0)
            name = f"symnum {be}"
            if be == "numba" and st_rhs > args.numba_limit:
                self.record("rhs", name + ": kernel", p, None, None,
                            f"skipped: {st_rhs:,} lines")
            else:
                oop, iip = self.build(name, "rhs", p, 0, lambda be=be: sn.build_function(
                    fn.outputs, fn.inputs[0], backend=be)) or (None, None)
                if oop is not None:
                    self.time("rhs", name + ": kernel", p, oop.kernel, (x, out),
                              lambda oop=oop: (oop.kernel(x, out), out)[1], rhs_check)
                    self.time("rhs", name + ": oop(state)", p, oop, (state,), None, rhs_check)
                    self.time("rhs", name + ": iip(out, state)", p, iip,
                              (out.reshape(p.shape), state), None, rhs_check)
            if be == "numba" and st_jac > args.numba_limit:
                self.record("jac", name + ": kernel", p, None, None,
                            f"skipped: {st_jac:,} lines")
                continue
            jf = self.build(name, "jac", p, 0, lambda be=be: sn.build_function(
                J, fn.inputs[0], backend=be))
            if jf is not None:
                k = jf.compiled.kernel
                self.time("jac", name + ": kernel", p, k, (x, vals),
                          lambda k=k: (k(x, vals), vals)[1], jac_check_symnum_order)
                self.time("jac", name + ": f(state)", p, jf, (state,), None,
                          jac_check_symnum_order)

        # hand-written numba
        if p.family == "bruss":
            h_rhs, h_jac, h_rows, h_cols = brusselator_numba(p.size)
        else:
            h_rhs, h_jac, h_rows, h_cols = mass_action_numba(p.net)
        self.time("rhs", "hand-written numba", p, h_rhs, (x, out),
                  lambda: (h_rhs(x, out), out)[1], rhs_check)
        h_vals = np.empty(len(h_rows))
        self.time("jac", "hand-written numba", p, h_jac, (x, h_vals),
                  lambda: (h_jac(x, h_vals), h_vals)[1],
                  lambda v: sparse_err(h_rows, h_cols, v, J_ref))

        self.run_object_peers(p, x, rows, cols, rhs_check, jac_check_symnum_order, J_ref)
        self.run_jax(p, x, rows, cols, colors, rhs_check, jac_check_symnum_order, J_ref)
        self.run_pytensor(p, x, rhs_check, J_ref)

    def run_object_peers(self, p: Problem, x: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                         rhs_check: Callable, jac_check: Callable, J_ref: Any) -> None:
        n_out, nnz = x.size, len(rows)
        for lib in ("sympy", "symengine"):
            if lib == "sympy" and p.size > self.args.sympy_max.get(p.family, 0):
                for kind in ("rhs", "jac"):
                    self.record(kind, "SymPy lambdify", p, None, None, "skipped (size)")
                continue
            if lib == "symengine" and symengine_module() is None:
                for kind in ("rhs", "jac"):
                    self.record(kind, "SymEngine Lambdify (llvm)", p, None, None,
                                "skipped (symengine not installed)")
                continue
            inputs, outs = object_trace(lib, p.rhs, p.shape)
            entries = sparse_entries(inputs, outs, rows, cols)
            for kind, exprs, check, count in (("rhs", outs, rhs_check, n_out),
                                              ("jac", entries, jac_check, nnz)):
                if lib == "sympy":
                    f = self.build("SymPy lambdify", kind, p, count,
                                   lambda exprs=exprs, i=inputs: sympy_function(i, exprs))
                    if f is not None:
                        self.time(kind, "SymPy lambdify", p, f, (x,), None, check)
                else:
                    f = self.build("SymEngine Lambdify (llvm)", kind, p, count,
                                   lambda exprs=exprs, i=inputs: symengine_function(i, exprs))
                    if f is not None:
                        self.time(kind, "SymEngine Lambdify (llvm)", p, f, (x,), None, check)

        try:
            import casadi as ca
        except ImportError:
            return
        xs, outs = object_trace("casadi", p.rhs, p.shape)
        e = ca.vertcat(*outs)
        f = self.build("CasADi", "rhs", p, n_out, lambda: casadi_function(xs, outs))
        if f is not None:
            call, buffered, _ = f
            out = np.empty(n_out)
            self.time("rhs", "CasADi Function: buffer", p, buffered, (x, out),
                      lambda: (buffered(x, out), out)[1], rhs_check)
            self.time("rhs", "CasADi Function: f(x)", p, call, (x,), None, rhs_check)
        Jc = ca.jacobian(e, xs)
        f = self.build("CasADi", "jac", p, nnz, lambda: casadi_function(xs, Jc, sparse=True))
        if f is not None:
            call, buffered, _ = f
            cr, cc = Jc.sparsity().get_triplet()
            cr, cc = np.asarray(cr), np.asarray(cc)
            v = np.empty(Jc.nnz())
            self.time("jac", "CasADi Function: buffer", p, buffered, (x, v),
                      lambda: (buffered(x, v), v)[1], lambda w: sparse_err(cr, cc, w, J_ref))
            self.time("jac", "CasADi Function: f(x)", p, call, (x,), None,
                      lambda w: sparse_err(cr, cc, np.asarray(w.nonzeros()), J_ref))

    def run_jax(self, p: Problem, x: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                colors: np.ndarray, rhs_check: Callable, jac_check: Callable, J_ref: Any) -> None:
        jax = jax_module()
        if jax is None:
            return
        import jax.numpy as jnp

        rhs = brusselator_jnp(p.size, jnp) if p.family == "bruss" else mass_action_jnp(p.net, jnp)
        fs = self.build("JAX", "rhs", p, 0, lambda: jax_functions(rhs, rows, cols, colors))
        if fs is None:
            return
        xj = jax.device_put(x)

        def blocking(f: Callable) -> Callable:
            return lambda a: f(a).block_until_ready()

        self.time("rhs", "JAX jit", p, blocking(fs["rhs"]), (xj,), None, rhs_check)
        self.time("jac", "JAX jit: colored jvp", p, blocking(fs["jac colored"]), (xj,), None,
                  jac_check)
        dense = blocking(fs["jac dense"])
        self.time("jac", "JAX jit: jacfwd (dense)", p, dense, (xj,), None,
                  lambda M: rel_err(np.asarray(M), J_ref.toarray()))

    def run_pytensor(self, p: Problem, x: np.ndarray, rhs_check: Callable, J_ref: Any) -> None:
        if pytensor_module() is None:
            return
        s, y = brusselator_pt(p.size) if p.family == "bruss" else mass_action_pt(p.net)
        f = self.build("pytensor", "rhs", p, 0, lambda: pytensor_function([s], y))
        if f is not None:
            self.time("rhs", "pytensor (C)", p, f, (x,), None, rhs_check)
        if x.size > self.args.dense_limit:
            self.record("jac", "pytensor (C): jacobian (dense)", p, None, None,
                        "skipped: dense")
            return
        import pytensor.gradient

        fj = self.build("pytensor jac", "jac", p, x.size, lambda: pytensor_function(
            [s], pytensor.gradient.jacobian(y, s, vectorize=True)))
        if fj is not None:
            self.time("jac", "pytensor (C): jacobian (dense)", p, fj, (x,), None,
                      lambda M: rel_err(M, J_ref.toarray()))

    # -----------------------------------------------------------------------------------------
    def tables(self, probs: list[Problem]) -> str:
        parts = []
        for kind, rows in (("right-hand side", self.rhs_rows), ("sparse Jacobian values",
                                                                 self.jac_rows)):
            base = rows.get("hand-written numba")
            body = []
            for row in rows.values():
                cells = []
                for p in probs:
                    secs, _err, note = row.cells.get(p.label, (None, None, "-"))
                    ref = base.cells.get(p.label, (None,))[0] if base else None
                    if secs is None:
                        cells.append(note or "-")
                    elif ref:
                        cells.append(f"{fmt_us(secs)} ({secs / ref:.2f}x)")
                    else:
                        cells.append(fmt_us(secs))
                body.append([row.name] + cells)
            parts.append(f"### {kind}: median per call (ratio to hand-written numba)\n\n"
                         + table(["system"] + [p.label for p in probs], body))
        return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# part 2: compile latency, each measurement in a fresh process


def latency_child(family: str, size: int, backend: str, cache_dir: str) -> None:
    """Runs in a fresh process: import + warm the backend on a tiny kernel (a one-time cost per
    process, reported apart), then trace → sparse_jacobian → build_function → first call."""
    t0 = time.perf_counter()
    from symnum import backends

    x0 = sn.Sym("x")
    sn.build_function(sn.sin(x0) * 2.0, x0, backend=backend, cache_dir=cache_dir)(1.0)
    warm = time.perf_counter() - t0
    rhs = brusselator(size) if family == "bruss" else mass_action(network(size))
    shape = (2, size, size) if family == "bruss" else (size,)
    state = np.random.default_rng(1).uniform(0.1, 2.0, shape)
    times = {}
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    fn = sn.trace(rhs, np.zeros(shape), mode="scalar")
    times["trace"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    J = sn.sparse_jacobian(fn.flat_outputs, fn.flat_inputs)
    times["sparse_jacobian"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    jf = sn.build_function(J, fn.inputs[0], backend=backend, cache_dir=cache_dir)
    times["build_function"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    jf(state)
    times["first call"] = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    info = jf.compiled.info
    print(json.dumps({"warm_up": warm, "times": times, "cpu": cpu, "nnz": int(J.nnz),
                      "statements": info.get("statements"), "cache_hit": info.get("cache_hit"),
                      "backends": backends.available_backends()}))


def latency(quick: bool, backends_: list[str]) -> str:
    cases = [("bruss", 16 if quick else 32), ("mass", 512 if quick else 2048)]
    body = []
    for family, size in cases:
        label = f"Bruss n={size}" if family == "bruss" else f"mass N={size:,}"
        for be in backends_:
            with tempfile.TemporaryDirectory(prefix="symnum-lat-") as d:
                for state in ("cold", "warm"):
                    cmd = [sys.executable, __file__, "--latency-child", family, str(size), be, d]
                    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
                    if r.returncode != 0:
                        body.append([label, be, state, "failed", "", "", "", "", "", "", ""])
                        print(r.stderr[-2000:], flush=True)
                        continue
                    res = json.loads(r.stdout.strip().splitlines()[-1])
                    t = res["times"]
                    total = sum(t.values())
                    body.append([label, be, state, f"{res['nnz']:,}", fmt_us(t["trace"]),
                                 fmt_us(t["sparse_jacobian"]), fmt_us(t["build_function"]),
                                 fmt_us(t["first call"]), f"**{fmt_us(total)}**",
                                 fmt_us(res["cpu"]), fmt_us(res["warm_up"])])
                    print("  latency", label, be, state, fmt_us(total), flush=True)
    return ("### Compile latency: trace → sparse Jacobian → build_function → first call "
            "(fresh process each)\n\n"
            + table(["problem", "backend", "disk cache", "nnz", "trace", "sparse_jacobian",
                     "build_function", "first call", "total", "CPU time", "process warm-up"],
                    body)
            + "\n\ntotal: wall time of the four stages; CPU time: the process's CPU seconds over "
              "the same stages (on a shared machine the honest figure of work done); process "
              "warm-up: importing the backend and compiling a one-operation kernel in that "
              "process (paid once per process, not per kernel).")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--only", choices=["bruss", "mass"], help="one workload family")
    ap.add_argument("--repeats", type=int, default=None, help="timed batches per system")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timing per system")
    ap.add_argument("--build-limit", type=float, default=120.0,
                    help="skip a peer whose build is predicted to take longer (seconds)")
    ap.add_argument("--numba-limit", type=int, default=4_000,
                    help="skip symnum's numba backend above this many lines of source")
    ap.add_argument("--dense-limit", type=int, default=512,
                    help="pytensor's dense Jacobian only up to this many states")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--latency-only", action="store_true")
    ap.add_argument("--latency-numba", action="store_true",
                    help="also time the numba backend's latency (minutes, cold)")
    ap.add_argument("--latency-child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.latency_child:
        fam, size, be, d = args.latency_child
        latency_child(fam, int(size), be, d)
        return 0
    args.repeats = args.repeats or (31 if args.quick else 101)
    args.sympy_max = {"bruss": 16, "mass": 512} if not args.quick else {"bruss": 8, "mass": 128}
    print(machine_info() + ", " + peer_versions(), flush=True)
    probs = problems(args.quick, args.only)
    sections = []
    if not args.latency_only:
        bench = Bench(args)
        for p in probs:
            bench.run(p)
        sections.append(bench.tables(probs))
        sections.append("### Build time of each callable\n\n"
                        + table(["problem", "kind", "system", "build"], bench.builds))
    if not args.skip_latency:
        sections.append(latency(args.quick, ["llvm"] + (["numba"] if args.latency_numba
                                                         else [])))
    print("\n\n" + "\n\n".join(sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
