"""Vector math on a shared machine: f(x) = sin(x)·exp(−x²) + log1p(x²)·cos(x) + tanh(x) over
10⁶ points on one thread, timed by the calling thread's CPU clock (`time.thread_time`: what
the kernel costs, whatever the neighbours do) and by the wall clock (min and median).

numpy, hand-written numba, the llvm backend with scalar libm (default), with libmvec
(`vecmath=True`: IEEE arithmetic, vector transcendentals; `fastmath=True`: plus LLVM's fast-math
flags), the hand-written LLVM + libmvec loop of bench_elementwise.py, and JAX (in a child
process with XLA's single-thread flags; its process CPU clock) if it is installed.

    python benchmarks/bench_vecmath.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
from _common import machine_info, table
from bench_elementwise import f, libmvec_kernel, numba_loops
from symnum.backends import lower

import symnum as sn

N = 1_000_000


def clocks(g: Callable, x: np.ndarray, repeats: int,
           clock: Callable[[], float] = time.thread_time) -> tuple[float, float, float]:
    """(median CPU seconds, min wall, median wall) per call."""
    g(x)
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = clock(), time.perf_counter()
        g(x)
        cpu.append(clock() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), min(wall), statistics.median(wall)


def jax_child(repeats: int) -> None:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    g = jax.jit(lambda x: jnp.sin(x) * jnp.exp(-x * x) + jnp.log1p(x * x) * jnp.cos(x)
                + jnp.tanh(x))
    res = {}
    for dtype in ("float64", "float32"):
        x = jax.device_put(np.random.default_rng(0).uniform(-3, 3, N).astype(dtype))
        res[dtype] = clocks(lambda a: g(a).block_until_ready(), x, repeats, time.process_time)
    print(json.dumps(res))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--jax-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.jax_child:
        jax_child(args.repeats)
        return 0
    print(machine_info(), flush=True)
    jax = {}
    try:
        import jax as _  # noqa: F401

        env = dict(os.environ, OMP_NUM_THREADS="1", XLA_FLAGS=(
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"))
        r = subprocess.run([sys.executable, __file__, "--jax-child", "--repeats",
                            str(args.repeats)], capture_output=True, text=True, env=env,
                           timeout=900)
        jax = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
    except ImportError:
        pass
    import numba

    numba.set_num_threads(1)
    serial, _ = numba_loops()
    fn = sn.trace(f, 1.0)
    rows = []
    for dtype in ("float64", "float32"):
        x = np.random.default_rng(0).uniform(-3, 3, N).astype(dtype)
        want = f(x.astype(np.float64))
        systems = {"numpy": f, "hand-written numba": serial}
        for label, opts in (("llvm (scalar libm, default)", {}),
                            ("llvm vecmath=True (libmvec)", {"vecmath": True}),
                            ("llvm fastmath=True (libmvec)", {"fastmath": True})):
            systems["symnum: " + label] = lower(fn, "llvm", dtype=dtype, parallel=False, **opts)
        mv = libmvec_kernel(dtype)
        if mv is not None:
            systems["hand-written LLVM + libmvec (AVX2)"] = mv
        res = {}
        for name, g in systems.items():
            err = float(np.max(np.abs(np.asarray(g(x), np.float64) - want)))
            res[name] = (*clocks(g, x, args.repeats), err)
        if dtype in jax:
            res["JAX jit (process CPU)"] = (*jax[dtype], float("nan"))
        base = res["numpy"][0]
        ref_jax = res.get("JAX jit (process CPU)", (None,))[0]
        for name, (cpu, wmin, wmed, err) in res.items():
            rows.append([dtype, name, f"{cpu * 1e3:.2f} ms", f"{wmin * 1e3:.2f} ms",
                         f"{wmed * 1e3:.2f} ms", f"{cpu / base:.2f}x",
                         f"{cpu / ref_jax:.2f}x" if ref_jax else "-",
                         f"{err:.1e}" if err == err else "-"])
            print("  ", rows[-1], flush=True)
    print(f"\n### f(x) over {N:,} points, one thread: CPU time per call (median of "
          f"{args.repeats}) and wall time\n")
    print(table(["dtype", "system", "CPU time", "wall min", "wall median", "vs numpy (CPU)",
                 "vs JAX (CPU)", "max abs error vs numpy f64"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
