"""dask's own cost per run of `k(da.linspace(..)).sum()` on a LocalCluster (2 workers x 1
thread), with the graph of one task per block (backends/dask_roots.py) and the previous one (the
creation layer left materialised: an Alias task per block), interleaved: 20 blocks of so little
work (10^4 points) that what a run costs is dask's — CPU seconds of every process (workers'
task threads and event loops, scheduler, client) and the scheduler's transitions. CPU seconds
and transition counts, unlike wall time, hardly depend on other jobs' load.

Run: python benchmarks/bench_dask_tasks.py [REPS]  (default 15). Only measures and prints.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import dask.array as da
import distributed
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dask import _diff, _usage, _without_lifting, cluster, f  # noqa: E402

import symnum as sn  # noqa: E402


def main():
    c, client = cluster()
    s = c.scheduler
    k = sn.vectorize(f)
    k(np.zeros(4))
    N, chunk = 2 * 10**5, 10**4  # 20 blocks of little work: what is left is dask's
    ys = {"one task per block": k(da.linspace(-3, 3, N, chunks=chunk)).sum(),
          "previous graph": _without_lifting(
              lambda: k(da.linspace(-3.0, 3.0, N, chunks=chunk)).sum())}
    ntasks = {}
    for name, y in ys.items():  # warm-up (the workers load the kernel); count the tasks run
        with distributed.get_task_stream(client) as stream:
            client.compute(y).result()
        ntasks[name] = len(stream.data)
    # the idle cluster's CPU per second (heartbeats, dask's profiler and memory monitor)
    w0, c0 = client.run(_usage), _usage()
    time.sleep(3.0)
    w1, c1 = client.run(_usage), _usage()
    rate = (sum(_diff(w1[k], w0[k])["main"] + _diff(w1[k], w0[k])["other"] for k in w0)
            + _diff(c1, c0)["other"] + _diff(c1, c0)["main"]) / 3.0
    print(f"load {os.getloadavg()}; idle cluster {rate * 1e3:.0f} ms CPU per second")
    res = {n: [] for n in ys}
    walls = {n: [] for n in ys}
    tr = {n: [] for n in ys}
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 15):
        for name, y in ys.items():
            w0, c0, t0 = client.run(_usage), _usage(), s.transition_counter
            a = time.perf_counter()
            client.compute(y).result()
            wall = time.perf_counter() - a
            w1, c1 = client.run(_usage), _usage()
            w = [_diff(w1[k], w0[k]) for k in w0]
            cc = _diff(c1, c0)
            cpu = (sum(x["tasks"] + x["main"] + x["other"] for x in w) + cc["other"]
                   + cc["main"])
            res[name].append(cpu - rate * wall)  # beyond what the idle cluster spends
            walls[name].append(wall)
            tr[name].append(s.transition_counter - t0)
    for name in ys:
        cpu = float(np.median(res[name]))
        print(f"{name}: {ntasks[name]} tasks; CPU of all processes beyond the idle rate per run "
              f"median {cpu * 1e3:.0f} ms (min {min(res[name]) * 1e3:.0f}, "
              f"{cpu / ntasks[name] * 1e3:.1f} ms per task); wall median "
              f"{np.median(walls[name]) * 1e3:.0f} ms; scheduler transitions "
              f"{np.median(tr[name]):.0f}")
    print(f"load {os.getloadavg()}")
    client.close()
    c.close()


if __name__ == "__main__":
    main()
