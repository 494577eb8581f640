"""Elementwise throughput: f(x) = sin(x)·exp(−x²) + log1p(x²)·cos(x) + tanh(x) over 10⁶–10⁷ points.

`sn.vectorize(f)` (numba ufuncs) and the llvm backend's batched kernel (scalar libm; and with
vector math: a SIMD row loop calling glibc's libmvec, `vecmath=True` / `fastmath=True`) vs numpy,
hand-written
numba loops, `jax.jit` (in a child process per thread setting: XLA's threads are fixed at start)
and a hand-written LLVM loop calling glibc's vector math library (libmvec) — the experiment that
shows what it takes to match JAX, whose XLA vectorises its transcendentals. One thread and all
threads, float64 and float32; throughput also as a fraction of this machine's copy bandwidth.

    python benchmarks/bench_elementwise.py [--quick]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import machine_info, table
from peers import fmt_us, per_call

import symnum as sn

THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def f(x):
    return np.sin(x) * np.exp(-x * x) + np.log1p(x * x) * np.cos(x) + np.tanh(x)


def numba_loops() -> tuple[Callable, Callable]:
    """Hand-written numba: (serial, parallel) loops allocating their output like a ufunc."""
    import numba

    def body(x):
        out = np.empty_like(x)
        for i in numba.prange(x.size):
            v = x[i]
            out[i] = np.sin(v) * np.exp(-v * v) + np.log1p(v * v) * np.cos(v) + np.tanh(v)
        return out

    return (numba.njit(error_model="numpy")(body),
            numba.njit(error_model="numpy", parallel=True)(body))


# ---------------------------------------------------------------------------------------------
# the libmvec experiment: a loop over SIMD vectors calling glibc's vector sin/exp/log1p/cos/tanh

_FUNCS = ("sin", "exp", "log1p", "cos", "tanh")


def libmvec_kernel(dtype: str) -> Callable | None:
    """`k(x) → out` as an LLVM loop over 256-bit vectors calling libmvec's AVX2 variants
    (`_ZGVdN4v_sin` …), a scalar libm tail; None where libmvec or AVX2 is missing."""
    path = ctypes.util.find_library("mvec")
    if path is None or sys.platform != "linux" or "avx2" not in open("/proc/cpuinfo").read():
        return None
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.load_library_permanently(path)
    llvm.load_library_permanently(ctypes.util.find_library("m"))
    T, w, suffix = ("double", 4, "") if dtype == "float64" else ("float", 8, "f")
    V = f"<{w} x {T}>"
    vec = {fn: f"_ZGVdN{w}v_{fn}{suffix}" for fn in _FUNCS}
    decls = [f"declare {V} @{vec[fn]}({V})" for fn in _FUNCS]
    decls += [f"declare {T} @{fn}{suffix}({T})" for fn in _FUNCS]

    def expr(ty: str, call: Callable[[str], str], v: str, p: str) -> list[str]:
        return [f"  %{p}.x2 = fmul {ty} {v}, {v}", f"  %{p}.nx2 = fneg {ty} %{p}.x2",
                f"  %{p}.s = call {ty} @{call('sin')}({ty} {v})",
                f"  %{p}.e = call {ty} @{call('exp')}({ty} %{p}.nx2)",
                f"  %{p}.l = call {ty} @{call('log1p')}({ty} %{p}.x2)",
                f"  %{p}.c = call {ty} @{call('cos')}({ty} {v})",
                f"  %{p}.t = call {ty} @{call('tanh')}({ty} {v})",
                f"  %{p}.a = fmul {ty} %{p}.s, %{p}.e", f"  %{p}.b = fmul {ty} %{p}.l, %{p}.c",
                f"  %{p}.ab = fadd {ty} %{p}.a, %{p}.b", f"  %{p}.r = fadd {ty} %{p}.ab, %{p}.t"]

    ir = "\n".join(decls + [
        "define void @k(ptr noalias %x, ptr noalias %o, i64 %lo, i64 %hi) {",
        "entry:", "  %span = sub i64 %hi, %lo", f"  %body = and i64 %span, {-w}",
        "  %vend = add i64 %lo, %body", "  br label %vl",
        "vl:", "  %i = phi i64 [%lo, %entry], [%in, %vb]", "  %vc = icmp slt i64 %i, %vend",
        "  br i1 %vc, label %vb, label %sl",
        "vb:", f"  %px = getelementptr {T}, ptr %x, i64 %i", f"  %v = load {V}, ptr %px, align 4",
        *expr(V, lambda fn: vec[fn], "%v", "v"),
        f"  %po = getelementptr {T}, ptr %o, i64 %i", f"  store {V} %v.r, ptr %po, align 4",
        f"  %in = add i64 %i, {w}", "  br label %vl",
        "sl:", "  %j = phi i64 [%i, %vl], [%jn, %sb]", "  %sc = icmp slt i64 %j, %hi",
        "  br i1 %sc, label %sb, label %done",
        "sb:", f"  %qx = getelementptr {T}, ptr %x, i64 %j", f"  %u = load {T}, ptr %qx",
        *expr(T, lambda fn: fn + suffix, "%u", "u"),
        f"  %qo = getelementptr {T}, ptr %o, i64 %j", f"  store {T} %u.r, ptr %qo",
        "  %jn = add i64 %j, 1", "  br label %sl",
        "done:", "  ret void", "}", ""])
    mod = llvm.parse_assembly(ir)
    mod.verify()
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=2)
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    cfn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                           ctypes.c_int64)(engine.get_function_address("k"))

    def run(x: np.ndarray, threads: int = 1) -> np.ndarray:
        out = np.empty_like(x)
        if threads == 1:
            cfn(x.ctypes.data, out.ctypes.data, 0, x.size)
            return out
        from concurrent.futures import ThreadPoolExecutor

        bounds = np.linspace(0, x.size, threads + 1).astype(int) // w * w
        bounds[-1] = x.size
        with ThreadPoolExecutor(threads) as pool:  # ctypes drops the GIL around the call
            list(pool.map(lambda lh: cfn(x.ctypes.data, out.ctypes.data, int(lh[0]),
                                         int(lh[1])), zip(bounds[:-1], bounds[1:])))
        return out

    run.engine = engine  # type: ignore[attr-defined]  # keeps the machine code alive
    return run


# ---------------------------------------------------------------------------------------------
# JAX runs in a child: XLA's thread pool is sized when JAX starts


def jax_child(sizes: list[int], repeats: int) -> None:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    g = jax.jit(lambda x: jnp.sin(x) * jnp.exp(-x * x) + jnp.log1p(x * x) * jnp.cos(x)
                + jnp.tanh(x))
    res = {}
    for n in sizes:
        for dtype in ("float64", "float32"):
            x = np.random.default_rng(0).uniform(-3, 3, n).astype(dtype)
            xj = jax.device_put(x)
            err = float(np.max(np.abs(np.asarray(g(xj)) - f(x.astype(np.float64)))))
            res[f"{n} {dtype}"] = (per_call(lambda a: g(a).block_until_ready(), xj,
                                            repeats=repeats, batch_s=0.0), err)
    print(json.dumps(res))


def jax_times(sizes: list[int], repeats: int, threads: int) -> dict[str, Any]:
    env = dict(os.environ)
    if threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                            " intra_op_parallelism_threads=1").strip()
        env["OMP_NUM_THREADS"] = "1"
    r = subprocess.run([sys.executable, __file__, "--jax-child", json.dumps(sizes),
                        str(repeats)], capture_output=True, text=True, env=env, timeout=1200)
    if r.returncode != 0:
        print(r.stderr[-1500:])
        return {}
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------


def bandwidth(threads: int) -> float:
    """Bytes per second of a large copy (read + write counted), in 1 or all threads."""
    import numba

    n = 50_000_000  # 400 MB each way: far beyond any cache
    a = np.random.default_rng(0).random(n)
    b = np.empty_like(a)

    @numba.njit(parallel=True)
    def pcopy(src, dst):
        for i in numba.prange(src.size):
            dst[i] = src[i]

    copy = (lambda: np.copyto(b, a)) if threads == 1 else (lambda: pcopy(a, b))
    t = per_call(copy, repeats=7, batch_s=0.0, budget_s=5.0)
    return 2 * a.nbytes / t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10⁶ points only, few repeats")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--jax-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.jax_child:
        jax_child(json.loads(args.jax_child[0]), int(args.jax_child[1]))
        return 0
    import numba

    reps = args.repeats or (3 if args.quick else 7)
    sizes = [1_000_000] if args.quick else [1_000_000, 10_000_000]
    print(machine_info() + f", numba {numba.__version__}", flush=True)
    bw = {1: bandwidth(1), THREADS: bandwidth(THREADS)}
    print(f"copy bandwidth: {bw[1] / 1e9:.1f} GB/s (1 thread), {bw[THREADS] / 1e9:.1f} GB/s "
          f"({THREADS} threads)", flush=True)

    vec = sn.vectorize(f)
    serial, parallel = numba_loops()
    from symnum.backends import lower as lower_with

    llvm_c = {par: lower_with(sn.trace(f, 1.0), "llvm", parallel=par) for par in (False, True)}
    # the llvm backend with vector math: libmvec transcendentals in a SIMD row loop, IEEE
    # arithmetic (vecmath=True), and with LLVM's fast-math flags too (fastmath=True)
    llvm_v = {(d, par, fm): lower_with(sn.trace(f, 1.0), "llvm", parallel=par, dtype=d,
                                       **({"fastmath": True} if fm else {"vecmath": True}))
              for d in ("float64", "float32") for par in (False, True) for fm in (False, True)}
    lanes = llvm_v[("float64", False, False)].info["simd"]
    print(f"llvm vector loop: {lanes} (float64)", flush=True)
    mvec = {d: libmvec_kernel(d) for d in ("float64", "float32")}
    jax_res = {} if args.no_jax else {t: jax_times(sizes, reps, t) for t in (1, THREADS)}

    rows = []
    for n in sizes:
        for dtype in ("float64", "float32"):
            x = np.random.default_rng(0).uniform(-3, 3, n).astype(dtype)
            want = f(x.astype(np.float64))
            tol = 1e-12 if dtype == "float64" else 1e-5
            for threads in (1, THREADS):
                numba.set_num_threads(threads)
                systems: list[tuple[str, Callable, tuple]] = [
                    ("numpy (1 thread always)", f, (x,)),
                    ("hand-written numba", serial if threads == 1 else parallel, (x,)),
                    ("symnum: sn.vectorize (numba)", vec, (x,)),
                ]
                if dtype == "float64":  # the llvm backend's batched kernel is float64 here
                    systems.append(("symnum: llvm Compiled over a batch", llvm_c[threads > 1],
                                    (x,)))
                for fm in (False, True):
                    systems.append((f"symnum: llvm {'fastmath' if fm else 'vecmath'}=True "
                                    "(libmvec)", llvm_v[(dtype, threads > 1, fm)], (x,)))
                if mvec[dtype] is not None:
                    systems.append(("hand-written LLVM + libmvec (AVX2)",
                                    lambda a, t=threads, k=mvec[dtype]: k(a, t), (x,)))
                times = {}
                for name, g, a in systems:
                    err = float(np.max(np.abs(np.asarray(g(*a), dtype=np.float64) - want)))
                    if err > tol:
                        times[name] = (None, err)
                        continue
                    times[name] = (per_call(g, *a, repeats=reps, batch_s=0.0, budget_s=20.0),
                                   err)
                jr = jax_res.get(threads, {}).get(f"{n} {dtype}")
                if jr is not None:
                    times["JAX jit"] = tuple(jr)
                base = times["hand-written numba"][0]
                itemsize = np.dtype(dtype).itemsize
                for name, (t, err) in times.items():
                    if t is None:
                        rows.append([f"{n:,}", dtype, threads, name, f"WRONG ({err:.1e})",
                                     "", "", ""])
                        continue
                    gbs = 2 * n * itemsize / t
                    rows.append([f"{n:,}", dtype, threads, name, fmt_us(t),
                                 f"{t / base:.2f}x", f"{n / t / 1e6:.0f}",
                                 f"{gbs / 1e9:.2f} GB/s ({gbs / bw[threads]:.1%})"])
                    print("  ", rows[-1], flush=True)
    numba.set_num_threads(THREADS)
    print(f"\n### Elementwise f(x) = sin(x)·exp(−x²) + log1p(x²)·cos(x) + tanh(x), median per "
          f"call\n\ncopy bandwidth (read + write): {bw[1] / 1e9:.1f} GB/s on 1 thread, "
          f"{bw[THREADS] / 1e9:.1f} GB/s on {THREADS}\n")
    print(table(["points", "dtype", "threads", "system", "time", "vs hand numba",
                 "Mpoints/s", "bytes moved / copy bandwidth"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
