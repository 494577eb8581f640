"""JAX and pytensor ports of issue 11's and 12's workloads, and how they are set up to be compared
with symnum's one-thread kernels (used by bench_jax_peers.py).

Both peers are optional: `jax_one_core()` / `pytensor_mode()` return None when the module is
missing and the caller prints a "skipped" line. JAX runs on the CPU in float64. XLA's threads: in
jax 0.10 the documented XLA_FLAGS ("--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1") leave 4 threads doing a call's work (per-thread CPU ticks read
from /proc), so the process is pinned to one core instead (`pin_one_core`, before jax is
imported): XLA then sizes its pool to one thread, which `busy_threads` checks and the script
prints. Nothing here times symnum's build or asserts on times.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_MARK = "SYMNUM_BENCH_ONE_THREAD"


def one_thread_process(pin: bool = True) -> int | None:
    """Make this process run every library on one thread: BLAS thread counts set to 1 and (if
    `pin`) the process pinned to one core, then the script re-executed once so that numpy's
    BLAS and XLA start under those settings. Returns the pinned core (None if not pinned)."""
    core = pin_one_core() if pin else None
    if os.environ.get(_MARK) != "1":
        for var in BLAS_THREAD_VARS:
            os.environ[var] = "1"
        os.environ[_MARK] = "1"
        os.environ.setdefault("XLA_FLAGS", XLA_ONE_THREAD)
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, *sys.argv])
    return core


def pin_one_core() -> int | None:
    """Pin this process (every thread it starts later, XLA's pool included) to one core; the
    core's number, or None where affinity cannot be set. Call before importing jax."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def jax_one_core() -> Any:
    """jax with float64 on, XLA's flags for one thread set before its import; None when JAX is not
    installed."""
    if "jax" not in sys.modules:
        os.environ.setdefault("XLA_FLAGS", XLA_ONE_THREAD)
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def _thread_ticks() -> dict[str, int]:
    out = {}
    for t in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{t}/stat") as fh:
                s = fh.read().rsplit(")", 1)[1].split()
            out[t] = int(s[11]) + int(s[12])  # utime + stime
        except (OSError, IndexError):
            pass
    return out


def busy_threads(f: Callable, *args: Any, calls: int = 20) -> list[int]:
    """CPU ticks each thread of this process spent while `f(*args)` ran `calls` times, largest
    first (Linux only): one large entry means one thread did the work."""
    before = _thread_ticks()
    for _ in range(calls):
        f(*args)
    after = _thread_ticks()
    return sorted((v - before.get(k, 0) for k, v in after.items()), reverse=True)[:4]


def blocked(f: Callable) -> Callable:
    """A jitted function that waits for its result (JAX dispatches asynchronously)."""
    import jax

    def call(*args):
        return jax.block_until_ready(f(*args))

    return call


# ---------------------------------------------------------------------------------------------
# ports (the numpy originals: scipy.optimize.rosen, bench_arrays.make_loss, peers' MLP loss,
# bench_loops.rhs / make_model)


def rosen_jnp(x):
    import jax.numpy as jnp

    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def logistic_jnp(w, X, y):
    """bench_arrays.make_loss's loss with the data as arguments (what a JAX user jits; data
    closed over would be baked into the program as 8 MB constants)."""
    import jax.numpy as jnp

    return jnp.mean(jnp.log1p(jnp.exp(-y * (X @ w))))


def lorenz96_rk4_jax(steps: int, h: float, use_scan: bool) -> Callable:
    """simulate(x0, F): bench_loops.make_model's RK4 of Lorenz-96 with `lax.fori_loop` (a
    fixed trip count, so reverse mode works) or `lax.scan`."""
    import jax
    import jax.numpy as jnp
    from bench_loops import rk4_step  # here, not at the top: symnum only once jax is set up

    def rhs(x, F):
        return (jnp.roll(x, -1) - jnp.roll(x, 2)) * jnp.roll(x, 1) - x + F

    step = rk4_step(rhs, h)

    if use_scan:
        def simulate(x0, F):
            return jax.lax.scan(lambda x, _: (step(x, F), None), x0, None, length=steps)[0]
    else:
        def simulate(x0, F):
            return jax.lax.fori_loop(0, steps, lambda i, x: step(x, F), x0)
    return simulate


# ---------------------------------------------------------------------------------------------
# pytensor


def pytensor_modes() -> list[tuple[str, Any]]:
    """[(label, mode)] of pytensor's two compiled backends: its default (numba in pytensor 3) and
    the C VM linker; [] when pytensor is not installed."""
    try:
        import pytensor
        from pytensor.compile.mode import Mode
    except ImportError:
        return []
    return [(f"pytensor {pytensor.__version__} default (numba)", None),
            ("pytensor C (cvm linker)", Mode(linker="cvm", optimizer="fast_run"))]


def pytensor_compile(inputs: list, outputs: Any, mode: Any) -> Callable:
    """pytensor.function in `mode`; `trust_input` skips per-call input validation (pytensor's
    documented fast path)."""
    import pytensor

    f = pytensor.function(inputs, outputs, mode=mode)
    f.trust_input = True
    return f


def as_np(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)
