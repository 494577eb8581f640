"""Array-loop reverse mode before/after (issue 12, session 5): what the adjoint stores and how
many times the forward steps run, per backend, in fresh processes.

Cases (the periodic explicit-Euler heat stencil of bench_array_checkpoint, n points, `steps`
steps by sn.fori_loop, loss sum(u_steps²)):

* `lin-u0`  — ∂/∂u0 only, checkpoint="store": the step is linear in u, so the adjoint reads no
  carry (a table the numba kernel used to write for nothing);
* `lin-u0k` — ∂/∂(u0, k), "store": ∂k reads every carry (the table is needed; a control);
* `sqrt`    — ∂/∂(u0, k), checkpoint="sqrt" (the forward steps ran three times, now twice).

Each (checkout, case, backend, n) row runs in a fresh process: trace + lower, one warm call,
then the per-call time (best of 5 batches) and the process's peak RSS growth over the calls
(ru_maxrss after the calls − before the first; the compile's own peak is before), and the
buffers the kernel's loop plan allocates per call (np.empty in the plan: "stored bytes").
`--base DIR` runs every row also against another checkout of the repository (e.g. a
`git archive` of the commit before), by remapping the editable install's package paths in the
child process, alternating base/current row by row; `--rounds R` repeats the whole set.

    python benchmarks/bench_array_reverse.py [--base /tmp/k_base] [--sizes 10000 100000]
        [--steps 1000] [--cases lin-u0 lin-u0k sqrt] [--backends numba llvm] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _remap(base: str) -> None:
    """Import symnum (and symnum.backends / symnum.rewrites) from checkout `base`: the editable
    install's finder (imported at start-up by its .pth file) is pointed there."""
    mod = next((m for n, m in sys.modules.items() if n.startswith("__editable___symnum")
                and hasattr(m, "MAPPING")), None)
    if mod is None or "symnum" in sys.modules:
        raise SystemExit("--base needs an editable install of symnum (pip install -e .)")
    mod.MAPPING.update({"symnum": f"{base}/symnum", "symnum.backends": f"{base}/backends",
                        "symnum.rewrites": f"{base}/rewrites"})


def child(case: str, backend: str, n: int, steps: int, budget: float) -> dict:
    import resource
    import time

    import numpy as np

    import symnum as sn
    from symnum.compile import lower

    sys.path.insert(0, str(HERE))
    from bench_array_checkpoint import plan_bytes

    cp = "sqrt" if case == "sqrt" else "store"
    argnums = (0,) if case == "lin-u0" else (0, 1)

    def loss(u0, k):
        return np.sum(sn.fori_loop(0, steps, lambda i, u: u + k * (
            np.roll(u, 1) - 2 * u + np.roll(u, -1)), u0, checkpoint=cp) ** 2)

    u = np.random.default_rng(n).standard_normal(n)
    t0 = time.perf_counter()
    fn = sn.trace(sn.grad(loss, argnums=argnums, mode="array"), u, 0.1, mode="array")
    opts = {"cache": False, "tier": False} if backend == "llvm" else {}
    ker = lower(fn, backend, array_loops="native", **opts)
    build = time.perf_counter() - t0
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    g = ker(u, 0.1)
    one = time.perf_counter() - t0
    reps = max(1, min(50, int(budget / 5 / max(one, 1e-6))))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            ker(u, 0.1)
        best = min(best, (time.perf_counter() - t0) / reps)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tot, big = plan_bytes(ker.plan)
    g0 = np.asarray(g[0] if len(argnums) > 1 else g)
    return {"symnum": sn.__file__, "build_s": build, "call_s": best, "rss_mb": (rss1 - rss0) / 1024,
            "plan_mb": tot / 1e6, "largest_mb": big / 1e6,
            "checksum": float(np.sum(g0 * np.arange(n) % 7.0))}


def _run(base: str | None, case: str, backend: str, n: int, steps: int, budget: float) -> dict:
    cmd = [sys.executable, __file__, "--child", case, backend, str(n), str(steps), str(budget)]
    env = dict(os.environ)
    if base:
        env["BENCH_BASE"] = base
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        case, backend, n, steps, budget = sys.argv[2:7]
        if os.environ.get("BENCH_BASE"):
            _remap(os.environ["BENCH_BASE"])
        print(json.dumps(child(case, backend, int(n), int(steps), float(budget))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default=None, help="another checkout to compare with")
    ap.add_argument("--sizes", type=int, nargs="*", default=[10**4, 10**5])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--cases", nargs="*", default=["lin-u0", "lin-u0k", "sqrt"])
    ap.add_argument("--backends", nargs="*", default=["numba", "llvm"])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timing per row")
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from _common import machine_info

    print(machine_info())
    print()
    print("| case | backend | n | checkout | plan buffers per call | largest | peak RSS growth "
          "| per call (best per round) | trace + lower |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for case in a.cases:
        for backend in a.backends:
            for n in a.sizes:
                rows: dict = {}
                for _ in range(a.rounds):
                    for who in (["base"] if a.base else []) + ["this"]:
                        r = _run(a.base if who == "base" else None, case, backend, n, a.steps,
                                 a.budget)
                        rows.setdefault(who, []).append(r)
                for who, rs in rows.items():
                    if "error" in rs[0]:
                        print(f"| {case} | {backend} | {n:,} | {who} | error: {rs[0]['error']} "
                              "| | | | |", flush=True)
                        continue
                    r = rs[-1]
                    calls = ", ".join(f"{x['call_s'] * 1e3:.1f}" for x in rs)
                    print(f"| {case} | {backend} | {n:,} | {who} | {r['plan_mb']:.2f} MB | "
                          f"{r['largest_mb']:.2f} MB | {max(x['rss_mb'] for x in rs):.0f} MB | "
                          f"{calls} ms | {r['build_s']:.2f} s |", flush=True)
                if a.base and "error" not in rows["base"][0] and "error" not in rows["this"][0]:
                    same = rows["base"][0]["checksum"] == rows["this"][0]["checksum"]
                    ratio = min(x["call_s"] for x in rows["this"]) / \
                        min(x["call_s"] for x in rows["base"])
                    print(f"|  |  |  | this / base | | | | {ratio:.2f}x | gradient "
                          f"{'bit-identical' if same else 'DIFFERS'} |", flush=True)


if __name__ == "__main__":
    main()
