"""Re-rolling (issue 12, item 2): models traced element by element, compiled as straight-line
code vs re-rolled loops (symnum.backends.reroll) vs a hand-written numba loop.

Workloads: the Brusselator n = 32 and the mass-action network N = 2,048 (right-hand sides, and
their sparse Jacobians' values), traced in scalar mode. Build time is `sn.build_function` from
the traced outputs to a callable kernel, disk cache off (a cold build: schedule, re-roll plan,
IR, LLVM code generation); per call is the raw kernel `kernel(x, out)` on preallocated arrays,
side by side with the hand-written loops of benchmarks/peers.py (`rhs(s, out)`, `jac(s, vals)`).
Build columns give "wall (caller-thread CPU)": build_function returns once the quick opt=0 object
is linked; the opt=1 upgrade compiles on a background thread, and is drained before each build.
The numba loops are compiled before timing (their compile time is not what is compared).

    python bench_reroll.py [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
import peers
from _common import machine_info, table

import symnum as sn


def _build(outputs, inputs, reroll, backend="llvm") -> tuple[float, float, object]:
    """(wall s, caller-thread CPU s, kernel owner) of one cold build_function. The previous
    build's background opt=1 upgrade (symnum.backends.llvm_tier) is finished first, outside the
    timing: on 2 cores it otherwise competes with this build (measured: 0.24 s builds took
    0.35–0.66 s right after another build)."""
    from symnum.backends import llvm_tier

    llvm_tier.drain(60.0)
    gc.collect()
    w, c = time.perf_counter(), time.thread_time()
    if backend == "numba":  # a fresh cache folder: numba compiles
        import tempfile

        built = sn.build_function(outputs, *inputs, backend="numba", reroll=reroll,
                                  cache_dir=tempfile.mkdtemp(prefix="symnum-bench-"))
    else:
        built = sn.build_function(outputs, *inputs, cache=False, reroll=reroll)
    w, c = time.perf_counter() - w, time.thread_time() - c
    return w, c, built


def _kernel(built) -> tuple:
    compiled = built[0] if isinstance(built, tuple) else getattr(built, "compiled", built)
    return compiled.kernel, compiled


def workloads(quick: bool) -> list[tuple]:
    """(name, traced outputs, inputs, x, numpy reference, hand numba kernel)."""
    n, N = (8, 256) if quick else (32, 2048)
    out = []
    rhs_b = peers.brusselator(n)
    state = np.random.default_rng(0).random((2, n, n)) + 0.5
    fn = sn.trace(rhs_b, state, mode="scalar")
    hand_rhs, hand_jac, rows_b, cols_b = peers.brusselator_numba(n)
    x = state.ravel().copy()
    out.append((f"Brusselator n={n} RHS", fn.outputs, fn.inputs, x, rhs_b(state).ravel(),
                hand_rhs))
    net = peers.network(N)
    rhs_m = peers.mass_action(net)
    c0 = np.random.default_rng(1).random(N) + 0.5
    fm = sn.trace(rhs_m, c0, mode="scalar")
    hand_rhs_m, hand_jac_m, rows_m, cols_m = peers.mass_action_numba(net)
    out.append((f"mass action N={N} RHS", fm.outputs, fm.inputs, c0, rhs_m(c0), hand_rhs_m))
    for name, f, xin, rows, cols, hand in (
            (f"Brusselator n={n} Jacobian values", fn, x, rows_b, cols_b, hand_jac),
            (f"mass action N={N} Jacobian values", fm, c0, rows_m, cols_m, hand_jac_m)):
        flat_in = f.inputs[0].ravel()
        J = sn.sparse_jacobian(np.asarray(f.outputs).ravel(), flat_in)
        # the hand kernel's (rows, cols) order → symnum's: compare values entry by entry
        ref = np.zeros(len(rows))
        hand(xin, ref)
        pos = {(int(r), int(c)): k for k, (r, c) in enumerate(zip(rows, cols))}
        perm = np.array([pos.get((int(r), int(c)), -1) for r, c in zip(J.rows, J.cols)])
        want = np.where(perm >= 0, ref[np.maximum(perm, 0)], 0.0)
        out.append((name, J, (flat_in,), xin, want, hand))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--repeat", type=int, default=3, help="cold builds per variant (median)")
    ap.add_argument("--numba", action="store_true",
                    help="also the numba backend's rolled kernel (one cold build; its "
                         "straight-line build is left out: minutes at these sizes)")
    ap.add_argument("--rounds", type=int, default=9,
                    help="interleaved per-call rounds (the least median of each kernel)")
    args = ap.parse_args(argv)
    print(machine_info())
    rows, numba_rows = [], []
    for name, outputs, inputs, x, want, hand in workloads(args.quick):
        builds = {}
        for variant, rr in (("straight", False), ("rolled", True)):
            runs = [_build(outputs, inputs, rr) for _ in range(args.repeat)]
            builds[variant] = (float(np.median([r[0] for r in runs])),
                               float(np.median([r[1] for r in runs])), runs[-1][2])
        ks, cs = _kernel(builds["straight"][2])
        kr, cr = _kernel(builds["rolled"][2])
        n_out = len(want)
        bufs = [np.empty(n_out) for _ in range(3)]
        kernels = {"straight": (ks, bufs[0]), "rolled": (kr, bufs[1]), "hand": (hand, bufs[2])}
        if args.numba:
            nb = _build(outputs, inputs, True, "numba")
            kn, cn = _kernel(nb[2])
            kernels["numba rolled"] = (kn, np.empty(n_out))
        per = {k: [] for k in kernels}
        for _ in range(args.rounds):  # interleaved rounds: the best median of each
            for k, (f, b) in kernels.items():
                per[k].append(peers.per_call(f, x, b, budget_s=0.3))
        per = {k: min(v) for k, v in per.items()}
        ks(x, bufs[0])
        kr(x, bufs[1])
        scale = max(np.max(np.abs(want)), 1e-300)
        err_s = float(np.max(np.abs(bufs[0] - want)) / scale)
        err_r = float(np.max(np.abs(bufs[1] - want)) / scale)
        rolled = cr.info.get("rolled") or {}
        rows.append([
            name, cs.info["statements"],
            f"{rolled.get('loops', 0)} loops / {rolled.get('rolled_instances', 0)} inst / "
            f"{rolled.get('straight_statements', 0)} straight",
            f"{builds['straight'][0]:.3f} ({builds['straight'][1]:.3f})",
            f"{builds['rolled'][0]:.3f} ({builds['rolled'][1]:.3f})",
            peers.fmt_us(per["straight"]), peers.fmt_us(per["rolled"]), peers.fmt_us(per["hand"]),
            f"{per['straight'] / per['hand']:.2f}x", f"{per['rolled'] / per['hand']:.2f}x",
            f"{err_s:.1e} / {err_r:.1e}"])
        if args.numba:
            kn(x, kernels["numba rolled"][1])
            err_n = float(np.max(np.abs(kernels["numba rolled"][1] - want)) / scale)
            numba_rows.append([name, f"{nb[0]:.2f} ({nb[1]:.2f})",
                               peers.fmt_us(per["numba rolled"]),
                               f"{per['numba rolled'] / per['hand']:.2f}x", f"{err_n:.1e}"])
        print(rows[-1], flush=True)
    print()
    print(table(["workload", "statements", "rolled plan", "build straight s (CPU)",
                 "build rolled s (CPU)", "call straight", "call rolled", "call hand numba",
                 "straight / hand", "rolled / hand", "rel. err straight / rolled"], rows))
    if numba_rows:
        print()
        print(table(["workload", "numba rolled build s (CPU)", "call numba rolled",
                     "numba rolled / hand", "rel. err"], numba_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
