"""Loop terms (issue 12, item 1): RK4 of an 8-state model (Lorenz-96, F as a parameter) for 50
and 1,000 steps written with sn.fori_loop, in scalar mode and in array mode; and the same model
stepped by a plain Python for-loop (mode "pyloop": traced in tree mode into straight-line code of
one copy of the step per step, which compile re-rolls into one loop, backends/reroll_chain.py).

Per step count, mode and backend (llvm, which `auto` picks for loop programs, and numba):
trace + compile of the forward function (goal ≤ 0.5 s, flat in the step count),
its per-call time against a hand-written numba loop (goal ≤ 1.2x), and the gradient of
sum(final state) with respect to the initial state and F (trace + compile, per call). Each
compile gets a fresh kernel (the step size differs in the last digits), so no cache is hit. The
JAX `lax.fori_loop` / `lax.scan` + `grad` peer of the array rows is in bench_jax_peers.py.

    python benchmarks/bench_loops.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
from _common import machine_info

import symnum as sn

N = 8
# (mode, backend): "auto" picks llvm for loop programs
RUNS = [("scalar", "auto"), ("array", "auto"), ("scalar", "numba"), ("pyloop", "auto"),
        ("pyloop", "numba")]


def rhs(x, F):
    # Lorenz-96: dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F
    return (np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + F


def rhs_scalar(x, F):
    return np.array([(x[(i + 1) % N] - x[i - 2]) * x[i - 1] - x[i] + F for i in range(N)])


def rk4_step(f: Callable, h: float) -> Callable:
    """One classical RK4 step x → x' of dx/dt = f(x, F), in plain arithmetic (numpy, symnum
    and jax.numpy arrays alike): the step every RK4 benchmark integrates with."""
    def step(x, F):
        k1 = f(x, F)
        k2 = f(x + h / 2 * k1, F)
        k3 = f(x + h / 2 * k2, F)
        k4 = f(x + h * k3, F)
        return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

    return step


def make_model(steps: int, h: float, scalar: bool, pyloop: bool = False):
    step = rk4_step(rhs_scalar if scalar else rhs, h)

    def simulate(x0, F):
        if pyloop:  # a Python for-loop: one traced copy of the step per step
            # tree mode: canonical forms would flatten x + h/6·(…) into sums that grow with
            # every step (an O(steps²) graph whose steps are not alike)
            with sn.tree_mode():
                x = x0
                for _ in range(steps):
                    x = step(x, F)
                return x
        return sn.fori_loop(0, steps, lambda i, x: step(x, F), x0)

    def loss(x0, F):
        return np.sum(simulate(x0, F))

    return simulate, loss


def hand_numba(steps: int, h: float):
    import numba

    @numba.njit(cache=False, fastmath=False)
    def simulate(x0, F):
        x = x0.copy()
        k1, k2, k3, k4, y = np.empty(N), np.empty(N), np.empty(N), np.empty(N), np.empty(N)
        for _ in range(steps):
            for i in range(N):
                k1[i] = (x[(i + 1) % N] - x[i - 2]) * x[i - 1] - x[i] + F
            for i in range(N):
                y[i] = x[i] + h / 2 * k1[i]
            for i in range(N):
                k2[i] = (y[(i + 1) % N] - y[i - 2]) * y[i - 1] - y[i] + F
            for i in range(N):
                y[i] = x[i] + h / 2 * k2[i]
            for i in range(N):
                k3[i] = (y[(i + 1) % N] - y[i - 2]) * y[i - 1] - y[i] + F
            for i in range(N):
                y[i] = x[i] + h * k3[i]
            for i in range(N):
                k4[i] = (y[(i + 1) % N] - y[i - 2]) * y[i - 1] - y[i] + F
            for i in range(N):
                x[i] = x[i] + h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i])
        return x

    return simulate


def rolled_of(compiled) -> str:
    """What re-rolling did to a compiled kernel (chains: steps × period statements)."""
    r = compiled.info.get("rolled") if isinstance(compiled.info, dict) else None
    if not r:
        return "nothing"
    if "chains" in r:
        return ", ".join(f"{c['steps']} steps × {c['period']}" for c in r["chains"])
    return str(r)


def per_call(f, args, n: int = 2000) -> float:
    f(*args)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            f(*args)
        runs.append((time.perf_counter() - t0) / n)
    return statistics.median(runs)


def in_tree_mode(inner):
    """`inner` called under sn.tree_mode(). A closure, not a default argument: a default
    would be a static argument of the compiled function (call_args.StaticArgs), whose call
    path costs ~0.2 ms per call here."""

    def g(x0, F):
        with sn.tree_mode():
            return inner(x0, F)

    return g


def settled(f, args) -> None:
    """Wait until a compiled function runs its optimised code: a tiered llvm compile returns
    after a quick opt=0 build and swaps the opt=1 code in from a background thread (per-call
    figures taken before the swap measure the quick code, up to ~10x slower for a rolled
    gradient)."""
    up = getattr(f.lower(*args), "info", {}).get("upgrade")
    if up is not None:
        up.wait(120)


def first_call(make, args, repeat: int) -> tuple[float, object]:
    """Median of trace + compile + first call, a fresh kernel each time."""
    runs, out = [], None
    for r in range(repeat):
        f = make(r)
        t0 = time.perf_counter()
        out = f(*args)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only-pyloop", action="store_true",
                    help="only the Python-loop rows and the scalar fori_loop row on llvm")
    ap.add_argument("--no-grad", action="store_true", help="skip the gradients")
    ap.add_argument("--pyloop-grad", action="store_true",
                    help="the Python-loop gradient at 1,000 steps too (tens of seconds: a "
                    "traced graph of ~600k operations, rolled and linked into ~3k statements)")
    a = ap.parse_args()
    print(machine_info())
    rng = np.random.default_rng(0)
    x0 = 8.0 + rng.normal(size=N)
    F = 8.0
    rows = []
    for steps in ((50,) if a.quick else (50, 1000)):
        h = 1e-3
        ref = hand_numba(steps, h)
        t0 = time.perf_counter()
        want = ref(x0, F)
        hand_compile = time.perf_counter() - t0
        t_hand = per_call(ref, (x0, F))
        for mode, backend in RUNS:
            def make(r, grad=False, steps=steps, h=h, mode=mode, backend=backend):
                # a step size of its own per compile, mode and backend, and an empty kernel
                # cache directory: no cache (in memory or on disk) can be hit
                salt = r + 1 + 50 * RUNS.index((mode, backend))
                sim, loss = make_model(steps, h * (1 + 1e-12 * salt), mode != "array",
                                       mode == "pyloop")
                tmode = "scalar" if mode == "pyloop" else mode
                g = sn.grad(loss, argnums=(0, 1), mode=tmode) if grad else sim
                if grad and mode == "pyloop":  # the adjoint sweep in tree mode too
                    g = in_tree_mode(g)
                return sn.compile(g, mode=tmode, backend=backend, cache_dir=tempfile.mkdtemp())

            if a.only_pyloop and mode != "pyloop" and (mode, backend) != ("scalar", "auto"):
                continue
            rep = a.repeat if backend == "auto" else 1
            t_first, got = first_call(make, (x0, F), rep)
            f = make(0)
            f(x0, F)
            settled(f, (x0, F))
            err = float(np.max(np.abs(np.asarray(got) - want)))
            t_call = per_call(f, (x0, F))
            t_gfirst = t_gcall = math.nan
            skip = mode == "pyloop" and (backend == "numba" or steps > 100 and not a.pyloop_grad)
            if not a.no_grad and not skip:  # (numba: minutes for the gradient's epilogue)
                t_gfirst, g = first_call(lambda r, make=make: make(r + 20, grad=True), (x0, F),
                                         rep)
                gf = make(20, grad=True)
                gf(x0, F)
                settled(gf, (x0, F))
                t_gcall = per_call(gf, (x0, F), n=200 if steps > 100 else 2000)
                if mode == "pyloop":
                    print(f"  grad re-rolled: {rolled_of(gf.lower(x0, F))}")
            low = f.lower(x0, F)
            be = low.backend
            if mode == "pyloop":
                print(f"  re-rolled: {rolled_of(low)}")
            rows.append((steps, mode, be, t_first, t_call, t_hand, t_call / t_hand, err,
                         t_gfirst, t_gcall))
            print(f"steps={steps} {mode} {be}: trace+compile {t_first:.3f} s, call "
                  f"{t_call * 1e6:.2f} µs vs hand numba {t_hand * 1e6:.2f} µs "
                  f"({t_call / t_hand:.2f}x), max |diff| {err:.1e}; grad trace+compile "
                  f"{t_gfirst:.3f} s, call {t_gcall * 1e6:.1f} µs (hand numba compile "
                  f"{hand_compile:.2f} s)", flush=True)
    print()
    print("| steps | mode | backend | trace + compile | per call | hand numba | ratio | "
          "grad trace + compile | grad per call |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (steps, mode, be, tf, tc, th, ratio, _err, tgf, tgc) in rows:
        print(f"| {steps:,} | {mode} | {be} | {tf:.3f} s | {tc * 1e6:.2f} µs | "
              f"{th * 1e6:.2f} µs | {ratio:.2f}x | {tgf:.3f} s | {tgc * 1e6:.1f} µs |")


if __name__ == "__main__":
    main()
