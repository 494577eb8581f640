"""symnum on a dask LocalCluster (2 worker processes × 1 thread) vs one process (issue 14):

1. elementwise: `sn.vectorize(f)` over N points, the input made and the output summed inside the
   graph (no transfer of the arrays), against one process running the same graph on one thread
   (dask's synchronous scheduler: same inputs, same kernel, same summation order) and, for
   reference, one process calling the kernel on the whole array (numba's parallel ufunc on all
   cores); where the cluster's wall time went, from dask's task stream; results compared bit
   for bit;
2. ensemble: Brusselator BDF solves (compiled RHS + sparse Jacobian) for M values of B, a serial
   loop vs `sn.ensemble` on the cluster: wall time per member;
3. the time a fresh worker process needs for its first kernel: cold (a function never lowered on
   this machine: numba compiles it) and warm (the disk cache holds it);
4. a tree reduction: `symnum.distributed.map_blocks` of a loss (mean of an elementwise map) over
   N points, against numpy and the compiled array function in one process.

Run: python benchmarks/bench_dask.py [--quick] [--members M] [--first] [--elementwise]
[--n N] [--chunk C] [--reps R] [--no-profiler] [--worker-sessions]. Only measures and prints.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import distributed  # noqa: E402
import numba  # noqa: E402

import symnum as sn  # noqa: E402


def f(x):
    return np.exp(-x * x) * np.sin(3 * x) + np.sqrt(1 + x * x) * np.cos(x)


def med(fn, reps=3):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), r


def cluster(**kw):
    if "--no-profiler" in sys.argv:  # dask's statistical profiler samples every worker's stacks
        dask.config.set({"distributed.worker.profile.enabled": False})  # every 10 ms
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None, silence_logs=40, **kw)
    return c, distributed.Client(c)


def stream_stats(records, wall):
    """Where a cluster run's wall time went, from dask's task stream (worker-side clocks): the
    sum of task compute times, each worker's busy time, the idle time inside the span (gaps
    between a worker's tasks plus its lead/tail), the blocks each worker ran (tasks over 10 ms),
    and time spent in transfers. Wall minus span: submit to first task, last task to result."""
    per: dict = {}
    transfer = 0.0
    for r in records:
        for ss in r["startstops"]:
            if ss["action"] == "compute":
                per.setdefault(r["worker"], []).append((ss["start"], ss["stop"]))
            else:
                transfer += ss["stop"] - ss["start"]
    first = min(a for v in per.values() for a, _ in v)
    last = max(b for v in per.values() for _, b in v)
    span = last - first
    busy = {w: sum(b - a for a, b in v) for w, v in per.items()}
    blocks = sorted(sum(1 for a, b in v if b - a > 0.01) for v in per.values())
    return {"wall": wall, "span": span, "tasks": sum(len(v) for v in per.values()),
            "compute": sum(busy.values()), "idle": sum(span - b for b in busy.values()),
            "blocks": blocks, "transfer": transfer,
            "block_ms": 1e3 * float(np.median([b - a for v in per.values() for a, b in v
                                               if b - a > 0.01]))}


def _usage():
    """This process's CPU seconds so far, by thread kind — "tasks" (dask's worker threads, or
    the main thread when it computes with the synchronous scheduler), "other" (event loops:
    scheduler, client, worker communication, dask's profiler and memory monitor) — plus
    "system" seconds and minor "faults" (page faults). CPU time, unlike wall time, is not
    inflated when other jobs take the cores. Linux (/proc)."""
    import resource
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out = {"tasks": 0.0, "main": 0.0, "other": 0.0}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        name = names.get(int(tid), "")
        kind = ("tasks" if "Dask-Default-Threads" in name else
                "main" if name == "MainThread" else "other")
        out[kind] += cpu
    r = resource.getrusage(resource.RUSAGE_SELF)
    out["system"], out["faults"] = r.ru_stime, r.ru_minflt
    return out


def _diff(after, before):
    return {k: after[k] - before[k] for k in after}


def _kernel_ms(k, chunk, reps=5):
    """Median CPU ms (this thread's) of `k` on one block of `chunk` points on one numba thread,
    the input made once (the kernel alone). Runs in this process or on a worker."""
    from symnum.backends.dask_arrays import KernelRef, _one_thread

    if isinstance(k, KernelRef):
        k = k.kernel()
    x = np.linspace(-3, 3, chunk)
    with _one_thread():
        k(x)
        ts = []
        for _ in range(reps):
            t0 = time.thread_time()
            k(x)
            ts.append(time.thread_time() - t0)
    return 1e3 * float(np.median(ts))


def spread(ts):
    return f"median {np.median(ts):.3f}s (min {min(ts):.3f}, max {max(ts):.3f}, n={len(ts)})"


def _without_lifting(build):
    """`build()` as the previous session's graphs were built: the input's creation layer left
    materialised (dask then adds an Alias task per block; backends/dask_roots.py)."""
    from symnum.backends import dask_roots

    real = dask_roots.lift_root
    dask_roots.lift_root = lambda a: a
    try:
        return build()
    finally:
        dask_roots.lift_root = real


def _timed(fn):
    t0 = time.perf_counter()
    s = fn()
    return s, time.perf_counter() - t0


def elementwise(client, N, chunk, reps):
    """The cluster against one process doing the same work on one thread: the same graph (input
    made block by block with `da.linspace`, the kernel, the sum) run by dask's synchronous
    scheduler in this process, so both sides make the same inputs, call the same kernel (one
    numba thread: `_one_thread` in the task) and sum in the same order. The cluster runs two
    shapes of that graph: today's (one task per block) and the previous session's (the creation
    layer left materialised: two tasks per block), built on a linspace of float bounds so that
    no key is shared. Also, for reference, one process using both cores the numba way: the
    whole array through the parallel ufunc. Timed runs interleaved (`reps` times after a
    warm-up of each) so load from other jobs falls on all alike; then instrumented runs (task
    stream, CPU seconds and page faults of every process) say where the cluster's time went."""
    from symnum.backends.dask_arrays import KernelRef

    k = sn.vectorize(f)
    k(np.zeros(4))
    x = da.linspace(-3, 3, N, chunks=chunk)
    y = k(x).sum()
    y_old = _without_lifting(lambda: k(da.linspace(-3.0, 3.0, N, chunks=chunk)).sum())
    n_new, n_old = (len(dask.optimize(g)[0].__dask_graph__()) for g in (y, y_old))

    def on_cluster():
        return client.compute(y).result()

    def on_cluster_old():
        return client.compute(y_old).result()

    def one_thread():
        return y.compute(scheduler="sync")

    def whole():
        return float(k(np.linspace(-3, 3, N)).sum())

    runs = (on_cluster, on_cluster_old, one_thread, whole)
    for fn in runs:  # warm-up: workers load the kernel, numba's parallel ufuncs are built
        fn()
    t = {fn: [] for fn in runs}
    sums = {}
    for _ in range(reps):
        for fn in runs:
            sums[fn], dt = _timed(fn)
            t[fn].append(dt)
    t_dask, t_old, t_one, t_whole = (t[fn] for fn in runs)
    ratio = float(np.median(t_one)) / float(np.median(t_dask))
    print(f"elementwise N={N:,}, {len(x.chunks[0])} blocks of {chunk:,}, {reps} interleaved runs "
          f"after a warm-up:")
    print(f"  cluster 2x1, {n_new} tasks (one per block):      {spread(t_dask)}")
    print(f"  cluster 2x1, {n_old} tasks (previous graph):     {spread(t_old)}")
    print(f"  one process, one thread, same graph: {spread(t_one)}")
    for label, tt in (("one task per block", t_dask), ("previous graph", t_old)):
        print(f"    -> cluster speed-up, {label}: {np.median(t_one) / np.median(tt):.2f}x (per "
              f"run: {', '.join(f'{a / b:.2f}' for a, b in zip(t_one, tt))})")
    print(f"  one process, whole array, numba's parallel ufunc on {numba.get_num_threads()} "
          f"threads (input made with np.linspace): {spread(t_whole)} -> cluster "
          f"{np.median(t_whole) / np.median(t_dask):.2f}x")

    # the event loops' cost that goes with time, not tasks (heartbeats, dask's profiler and
    # memory monitor): CPU of the idle cluster over 2 s
    w0, c0 = client.run(_usage), _usage()
    time.sleep(2.0)
    w1, c1 = client.run(_usage), _usage()
    idle = (sum(_diff(w1[k], w0[k])["main"] + _diff(w1[k], w0[k])["other"] for k in w0)
            + _diff(c1, c0)["other"])
    rate = idle / 2.0
    print(f"  idle cluster: {rate * 1e3:.0f} ms CPU per second (workers' event loops, scheduler,"
          f" client)")
    for i in range(min(reps, 3)):
        for label, run in (("one task per block", on_cluster), ("previous graph", on_cluster_old)):
            _instrumented(client, run, one_thread, rate, f"{label}, run {i}")
    # (a) the kernel alone on each worker, one at a time (no contention), and here
    ref = KernelRef(k)
    here = _kernel_ms(k, chunk)
    there = {w[-5:]: round(client.run(_kernel_ms, ref, chunk, workers=[w])[w], 1)
             for w in client.scheduler_info()["workers"]}
    print(f"  kernel alone on one block, one thread, CPU ms: here {here:.1f}, on each worker "
          f"alone {there}; kernel payload per task {len(ref.payload)} bytes")
    # identical results: the sums (same graph, same reduction order), and whole arrays back at a
    # size that transfers quickly
    n_small = min(N, 10_000_000)
    ys = k(da.linspace(-3, 3, n_small, chunks=chunk))
    same = np.array_equal(client.compute(ys).result(), ys.compute(scheduler="sync"))
    s_dask, s_old, s_one = sums[on_cluster], sums[on_cluster_old], sums[one_thread]
    print(f"  sums: cluster {s_dask!r}, previous graph {s_old!r}, one thread {s_one!r}, whole "
          f"array {sums[whole]!r}; cluster == previous == one thread: "
          f"{s_dask == s_old == s_one}; arrays bit-identical at {n_small:,}: {same}")
    return ratio


def _instrumented(client, on_cluster, one_thread, rate, label):
    """One cluster run under dask's task stream (which costs the scheduler a little) with the
    CPU seconds and page faults of every process, then the one-thread run; prints where the
    cluster's time went and the bound dask's CPU leaves on 2 otherwise idle cores."""
    w0, c0 = client.run(_usage), _usage()
    with distributed.get_task_stream(client) as ts:
        _, wall = _timed(on_cluster)
    w1, c1 = client.run(_usage), _usage()
    st = stream_stats(ts.data, wall)
    w = [_diff(w1[k], w0[k]) for k in w0]
    cc = _diff(c1, c0)
    o0 = _usage()
    _, t1 = _timed(one_thread)
    co = _diff(_usage(), o0)
    tasks = [x["tasks"] for x in w]
    loops = sum(x["main"] + x["other"] for x in w)
    sched = cc["other"] + cc["main"]  # this process waits in `result()` meanwhile
    total = sum(tasks) + loops + sched
    # what dask's machinery costs beyond its idle rate (which grows with the wall time, so with
    # the load): per task, and the bound it leaves on 2 otherwise idle cores
    per_task = max(0.0, loops + sched - rate * wall) / st["tasks"]
    quiet = (sum(tasks) + per_task * st["tasks"]) / (2 - rate)
    print(f"  instrumented, {label}: wall {wall:.3f}s = span {st['span']:.3f}s + "
          f"{wall - st['span']:.3f}s submit/result; {st['tasks']} tasks, sum of task times "
          f"{st['compute']:.3f}s (one thread same graph: {t1:.3f}s wall, ratio "
          f"{st['compute'] / t1:.2f}); idle inside the span {st['idle']:.3f}s over 2 "
          f"workers; blocks per worker {st['blocks']}, median block {st['block_ms']:.0f} ms;"
          f" transfers {st['transfer'] * 1e3:.0f} ms")
    print(f"      CPU s: workers' task threads {' + '.join(f'{t:.2f}' for t in tasks)} = "
          f"{sum(tasks):.2f} (one thread same graph: {co['main']:.2f}, ratio "
          f"{sum(tasks) / co['main']:.2f}); workers' event loops {loops:.2f}; scheduler + "
          f"client {sched:.2f} (dask's CPU beyond the idle rate: {per_task * 1e3:.1f} ms per "
          f"task, {per_task * st['tasks']:.2f} s in all); all {total:.2f} -> on 2 otherwise "
          f"idle cores at best {co['main'] / max(quiet, max(tasks)):.2f}x; system "
          f"{sum(x['system'] for x in w):.2f} vs {co['system']:.2f}; page faults "
          f"{sum(x['faults'] for x in w):.0f} vs {co['faults']:.0f}")


def ensemble(client, n, members, t_end):
    from symnum.demo.ensemble import BrusselatorSolve

    solve = BrusselatorSolve(n, t_end=t_end)
    params = list(np.linspace(3.0, 4.0, members))
    solve(params[0])  # warm
    t0 = time.perf_counter()
    serial = np.stack([solve(b) for b in params])
    t_serial = time.perf_counter() - t0
    sn.ensemble(solve, params[:2], client=client)  # workers lower the kernels once
    t0 = time.perf_counter()
    got = sn.ensemble(solve, params, client=client)
    t_dask = time.perf_counter() - t0
    return t_serial / members, t_dask / members, np.array_equal(got, serial)


def loss(x):
    return np.mean(np.log1p(np.exp(-x * x)) + 0.5 * x * x)


def reduction(client, N, chunk):
    from symnum.distributed import map_blocks

    x = da.linspace(-3, 3, N, chunks=chunk)
    r = map_blocks(loss, x)
    t_dask, v_dask = med(lambda: float(client.compute(r).result()))
    xn = np.linspace(-3, 3, N)
    t_np, v_np = med(lambda: float(loss(xn)))
    k = sn.compile(loss, mode="array")
    k(xn)
    t_one, v_one = med(lambda: float(k(xn)))
    return t_dask, t_np, t_one, v_dask, v_np, v_one


def _import_backends():
    import symnum.backends.numba_backend  # noqa: F401


def first_kernel(cache_home, backend):
    """Seconds from submitting to a fresh worker process the first block of a kernel it has
    never seen, minus a no-op task's round trip on the same fresh cluster; the workers' kernel
    cache in `cache_home` (empty: cold, numba compiles; filled by an earlier run: warm)."""
    c, client = cluster(env={"XDG_CACHE_HOME": cache_home})
    try:
        client.submit(int, 1).result()  # the workers are up and answering
        t0 = time.perf_counter()
        client.submit(sum, [1, 2], pure=False).result()
        noop = time.perf_counter() - t0
        t0 = time.perf_counter()  # importing symnum and numba on the workers: apart
        client.run(_import_backends)
        imports = time.perf_counter() - t0
        k = sn.vectorize(lambda x: np.exp(-x * x) * 1.5 + np.tanh(x), backend=backend)
        x = da.ones(4, chunks=4)
        t0 = time.perf_counter()
        client.compute(k(x)).result()
        return time.perf_counter() - t0 - noop, noop, imports
    finally:
        client.close()
        c.close()


def busy_sessions():
    """Linux's autogroup scheduling (`kernel.sched_autogroup_enabled`) shares the cores between
    sessions first, then between a session's processes: a LocalCluster started from one session
    (its workers included) gets one session's share, the same as a one-process run. Returns
    whether it is on and how many other sessions have a runnable process now."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as fh:
            on = fh.read().strip() == "1"
        with open("/proc/self/autogroup") as fh:
            mine = fh.read().split()[0]
    except OSError:
        return False, 0
    busy = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{pid}/autogroup") as fh:
                group = fh.read().split()[:1]  # empty for kernel threads
        except OSError:
            continue
        if state == "R" and group and group[0] != mine:
            busy.add(group[0])
    return on, len(busy)


def run_cluster(N, chunk, members, n, reps, only_elementwise):
    c, client = cluster()
    try:
        on, busy = busy_sessions()
        print(f"autogroup scheduling: {on}; other sessions running now: {busy}")
        if "--worker-sessions" in sys.argv:
            # a diagnostic: each worker in its own session, so that under autogroup it gets a
            # session's share of the cores (as a worker on its own machine gets its cores)
            client.run(os.setsid)
        elementwise(client, N, chunk, reps)
        print(f"load: {os.getloadavg()}")
        if only_elementwise:
            return
        t_r, t_np, t_one, v_r, v_np, v_one = reduction(client, N, chunk)
        print(f"tree reduction (map_blocks of a mean) N={N:,}: cluster {t_r:.3f}s (input made "
              f"on the workers), one process: numpy {t_np:.3f}s, compiled {t_one:.3f}s (input "
              f"in memory); values {v_r!r} / {v_np!r} / {v_one!r}")
        per_serial, per_dask, same_e = ensemble(client, n, members, 0.1)
        print(f"ensemble {members} x Brusselator n={n} BDF 0..0.1: serial {per_serial * 1e3:.1f}"
              f" ms/member, cluster {per_dask * 1e3:.1f} ms/member "
              f"({per_serial / per_dask:.2f}x); identical: {same_e}")
    finally:
        client.close()
        c.close()


def _opt(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def main():
    quick = "--quick" in sys.argv
    N = _opt("--n", 20_000_000 if quick else 100_000_000)
    chunk = _opt("--chunk", 5_000_000)
    reps = _opt("--reps", 3 if quick else 7)
    members, n = (20, 8) if quick else (100, 16)
    members = _opt("--members", members)
    print(f"load before: {os.getloadavg()}")
    if "--first" not in sys.argv:
        run_cluster(N, chunk, members, n, reps, "--elementwise" in sys.argv)
    if "--elementwise" in sys.argv:
        return
    import tempfile

    for backend in ("numba", "llvm"):
        with tempfile.TemporaryDirectory() as home:
            cold, noop, imports = first_kernel(home, backend)
            warm, _, _ = first_kernel(home, backend)
        print(f"fresh worker, first {backend} kernel: cold (compiled there) {cold:.2f}s, warm "
              f"(disk cache) {warm:.2f}s, beyond a no-op task's {noop * 1e3:.1f} ms and "
              f"importing symnum + numba on the workers first ({imports:.2f}s)")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
