"""The `llvm` backend: schedule → LLVM IR text (`symnum.backends.llvm_ir`) → object code → ORC JIT.

Object code is cached on disk under a content hash of the IR, the LLVM version and the host
CPU; a hit skips LLVM's code generator entirely. Kernels are called through CPython-API
trampolines JIT-compiled here (`symnum.backends.llvm_call`; numba's, then ctypes, where those
are unsupported); each Compiled keeps its JIT library alive. Never imported by `import symnum`.
Each entry carries its full key under an HMAC with this user's secret (`cache_security`): a
damaged, foreign or swapped entry fails the check, is deleted and rebuilt, and never reaches
the JIT.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import sys
import threading
import time
from pathlib import Path
from typing import Any

from symnum.backends import Backend, llvm_libm, llvm_tier
from symnum.backends.cache_security import private_dir
from symnum.backends.compiled import Compiled
from symnum.backends.kernel_cache import default_cache_dir
from symnum.backends.llvm_batched import BatchedKernel
from symnum.backends.llvm_fallback import callback_address
from symnum.backends.llvm_ir import (
    _TYPES,
    CALLBACK_PREFIX,
    LIBMVEC,
    IRModule,
    SimdTarget,
    emit_ir,
)
from symnum.backends.llvm_objfile import fail as _fail
from symnum.backends.llvm_objfile import read_cached as _read_cached
from symnum.backends.llvm_objfile import unlink as _unlink
from symnum.backends.llvm_objfile import write_cached as _write_cached
from symnum.backends.schedule import Schedule, schedule

from symnum.core._gc import no_gc
from symnum.errors import CompileError

_LOCK = threading.RLock()  # LLVM objects shared here (target machines, the JIT) are not
_STATE: dict[str, Any] = {}  # thread-safe; numba's global LLVM context is never touched


# LLVM set-up -----------------------------------------------------------------------------------
def _llvm() -> Any:
    """llvmlite.binding, initialised once, with the process-wide JIT and host description."""
    llvm = _STATE.get("llvm")
    if llvm is not None:
        return llvm
    with _LOCK:
        if "llvm" in _STATE:
            return _STATE["llvm"]
        try:
            import llvmlite
            import llvmlite.binding as binding
        except ImportError as e:
            raise CompileError(f"the llvm backend needs llvmlite ({e}); pip install llvmlite, "
                               "or use backend='numba' or 'numpy'") from e
        binding.initialize_native_target()
        binding.initialize_native_asmprinter()
        _STATE["target"] = binding.Target.from_default_triple()
        _STATE["cpu"] = binding.get_host_cpu_name()
        try:
            _STATE["features"] = binding.get_host_cpu_features().flatten()
        except RuntimeError:  # not reported on some hosts: generic code for the CPU name
            _STATE["features"] = ""
        _STATE["triple"] = binding.get_process_triple()
        _STATE["version"] = f"llvmlite {llvmlite.__version__} llvm {binding.llvm_version_info}"
        _STATE["jit"] = binding.create_lljit_compiler(_target_machine_for(1))
        _STATE["libm"] = llvm_libm.libm_addresses()
        _STATE["count"] = 0
        _STATE["llvm"] = binding
        return binding


def _target_machine_for(opt: int) -> Any:
    return _STATE["target"].create_target_machine(
        cpu=_STATE["cpu"], features=_STATE["features"], opt=opt, jit=True)


def _target_machine(opt: int) -> Any:
    key = f"tm{opt}"
    tm = _STATE.get(key)
    if tm is None:
        _llvm()
        tm = _STATE[key] = _target_machine_for(opt)
    return tm


def _symbol_address(sym: str) -> int | None:
    addr = _STATE["libm"].get(sym)
    if addr is None and sym.startswith("_ZGV") and llvm_libm.libmvec() is not None:
        try:
            addr = _STATE["libm"][sym] = ctypes.cast(getattr(llvm_libm.libmvec(), sym),
                                                     ctypes.c_void_p).value
        except AttributeError:
            return None
    return addr


# `simd=None` vectorises arithmetic kernels with at most this many inputs and outputs even
# without libmvec (exact): their rows load and store as whole vectors, and a degree-10
# polynomial over 10⁶ points ran 4.8x faster; wider kernels gather and scatter lane by lane
# and gained nothing (Brusselator n=4 RHS, 32 in / 32 out: 5.75 vs 5.56 ms), and kernels
# calling libm lose (scalar calls per lane, no merged sincos: 97 vs 76 ms for sin·exp + …),
# so those stay scalar, sparing a second body's code generation.
NARROW = 4


def simd_target(dtype: str, vecmath: bool, simd: bool | None,
                narrow: bool = False) -> SimdTarget | None:
    """How wide `batched` runs on this host: the widest vectors its CPU has (AVX-512, AVX2,
    SSE); libmvec for transcendentals when `vecmath` and glibc has it. `simd=None` vectorises
    when libmvec is used or the kernel is `narrow` (≤ NARROW inputs and outputs, no libm
    calls); True always; False never."""
    _llvm()
    mvec = bool(vecmath) and llvm_libm.libmvec() is not None
    if simd is False or (simd is None and not mvec and not narrow):
        return None
    feats = _STATE["features"].split(",")
    if _STATE["triple"].split("-")[0] not in ("x86_64", "amd64"):
        return None  # the vector ABI names below are x86-64's
    isa = "e" if "+avx512f" in feats else "d" if "+avx2" in feats else "b"
    bits = {"e": 512, "d": 256, "b": 128}[isa]
    return SimdTarget(bits // (64 if dtype == "float64" else 32), isa, mvec)


# compiling and caching -------------------------------------------------------------------------
def cache_key(ir_text: str, opt: int, ir_opt: int) -> str:
    """Content hash of everything that shapes the object code (256 bits: the full key an entry
    carries and is checked against)."""
    _llvm()
    h = hashlib.blake2b(digest_size=32)
    for part in (ir_text, _STATE["version"], _STATE["triple"], _STATE["cpu"], _STATE["features"],
                 f"opt={opt} ir_opt={ir_opt}"):
        h.update(part.encode())
        h.update(b"\0")
    return "llvm_" + h.hexdigest()


def compile_object(ir_text: str, opt: int = 1, ir_opt: int = 0, *, key: str = "",
                   cache_dir: Path | None = None) -> bytes:
    """IR text → native object code (parse, verify, optional IR passes, code generation).

    >>> obj = compile_object("define void @f() {\\n  ret void\\n}\\n")
    >>> obj[:4] in (b"\\x7fELF", b"\\xcf\\xfa\\xed\\xfe")  # ELF / Mach-O
    True
    """
    llvm = _llvm()
    with _LOCK:
        ctx = llvm.create_context()  # our own context: numba compiles in the global one
        mod = None
        stage = "parsing the generated IR"
        try:
            mod = llvm.parse_assembly(ir_text, context=ctx)
            mod.verify()
            stage = "code generation"
            tm = _target_machine(opt)
            if ir_opt > 0:
                pto = llvm.create_pipeline_tuning_options(speed_level=ir_opt)
                pb = llvm.create_pass_builder(tm, pto)
                pb.getModulePassManager().run(mod, pb)
            return tm.emit_object(mod)
        except RuntimeError as e:
            _fail(stage, e, ir_text, key or "kernel", cache_dir)
        finally:
            if mod is not None:
                mod.close()  # the module before the context that owns its types
            ctx.close()
    raise AssertionError("unreachable")


def _compile_background(ir_text: str, opt: int, ir_opt: int) -> bytes:
    """compile_object for the tier worker thread: its own context and target machine, and
    code generation outside both this module's lock and llvmlite's (a foreground compile runs
    meanwhile on the other core). The text was verified already (as the quick module)."""
    llvm = _llvm()
    with _LOCK:
        tm = _STATE.get(f"tm_bg{opt}")
        if tm is None:
            tm = _STATE[f"tm_bg{opt}"] = _target_machine_for(opt)
    ctx = llvm.create_context()
    mod = None
    try:
        mod = llvm.parse_assembly(ir_text, context=ctx)
        if ir_opt > 0:
            pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(
                speed_level=ir_opt))
            pb.getModulePassManager().run(mod, pb)
        return llvm_tier.emit_object_unlocked(tm, mod)
    finally:
        if mod is not None:
            mod.close()
        ctx.close()


class Library:
    """A linked object in the process-wide JIT; the machine code lives as long as this does."""

    __slots__ = ("tracker", "jit", "kernel", "batched", "slots", "upgraded", "pending",
                 "__weakref__")

    def __init__(self, obj: bytes, symbols: list[str], quick: bool = False):
        llvm = _llvm()
        with _LOCK:
            _STATE["count"] += 1
            b = llvm.JITLibraryBuilder().add_object_img(obj).add_current_process()
            for sym in symbols:
                if sym.startswith(CALLBACK_PREFIX):
                    b.import_symbol(sym, callback_address(sym))
                    continue
                addr = _symbol_address(sym)
                if addr is not None:
                    b.import_symbol(sym, addr)
            b = b.export_symbol("kernel").export_symbol("batched")
            if quick:  # a tiered compile's quick object: its stubs' pointer slots too
                b = b.export_symbol(llvm_tier.KERNEL_SLOT).export_symbol(llvm_tier.BATCHED_SLOT)
            self.tracker = b.link(_STATE["jit"], f"symnum_{_STATE['count']}")
            self.jit = _STATE["jit"]  # the JIT must outlive every library linked into it
        self.kernel = self.tracker["kernel"]
        self.batched = self.tracker["batched"]
        self.slots = (self.tracker[llvm_tier.KERNEL_SLOT],
                      self.tracker[llvm_tier.BATCHED_SLOT]) if quick else None
        self.upgraded = None  # a tiered compile's optimised library, once swapped in
        self.pending = None  # … and its llvm_tier.Upgrade
        if not (self.kernel and self.batched) or (quick and not all(self.slots)):
            raise RuntimeError("the object code does not define kernel and batched")


# calling from Python ---------------------------------------------------------------------------

def _link(obj: bytes, symbols: dict[str, int], exports: list[str]) -> tuple[Any, dict[str, int]]:
    """Link an object into the process-wide JIT; (its resource tracker, export addresses)."""
    llvm = _llvm()
    with _LOCK:
        _STATE["count"] += 1
        b = llvm.JITLibraryBuilder().add_object_img(obj).add_current_process()
        for sym, addr in symbols.items():
            b.import_symbol(sym, addr)
        for e in exports:
            b = b.export_symbol(e)
        tracker = b.link(_STATE["jit"], f"symnum_{_STATE['count']}")
    return tracker, {e: tracker[e] for e in exports}


def _cached_object(ir_text: str) -> bytes:
    """Object code for fixed IR (the call trampolines) through the default disk cache."""
    path = default_cache_dir() / f"{cache_key(ir_text, 1, 0)}.o"
    obj = _read_cached(path)
    if obj is None:
        obj = compile_object(ir_text, 1)
        _write_cached(path, obj)
    return obj


def _trampolines(dtype: str) -> tuple[tuple[Any, Any], str]:
    """The fastest way to call kernels from Python here: CPython-API trampolines of our own
    (symnum.backends.llvm_call), else numba's, else ctypes; and its name."""
    key = f"call_{dtype}"
    if key not in _STATE:
        with _LOCK:
            if key not in _STATE:
                from symnum.backends import llvm_call

                pair, via = None, "llvm"
                try:
                    pair = llvm_call.trampolines(dtype, _cached_object, _link)
                except (RuntimeError, CompileError, OSError):
                    pair = None
                if pair is None:
                    from symnum.backends.llvm_fallback import (
                        ctypes_trampolines,
                        numba_trampolines,
                    )

                    pair, via = numba_trampolines(dtype), "numba"
                    if pair is None:
                        pair, via = ctypes_trampolines(dtype), "ctypes"
                _STATE[key] = (pair, via)
    return _STATE[key]



# the public entry points -----------------------------------------------------------------------
def compile_schedule(sched: Schedule, *, dtype: str = "float64", opt: int = 1, ir_opt: int = 0,
                     shard: int | None = 250, fastmath: bool = False,
                     vecmath: bool | None = None, simd: bool | None = None,
                     inline_batched: bool | None = None, parallel: bool | None = None,
                     cache: bool = True, cache_dir: str | Path | None = None,
                     reroll: bool | int | None = None,
                     tier: bool | None = None) -> tuple[Any, BatchedKernel, IRModule, dict]:
    """Compile a schedule to `kernel(x, out)` and `batched(X, OUT)`; also returns the IR and
    an info dict (timings, cache hit, shard count).

    >>> import numpy as np, symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> k, _, _, info = compile_schedule(schedule([x, y], [x * y + 1]), cache=False)
    >>> out = np.empty(1); k(np.array([2.0, 3.0]), out); out
    array([7.])
    """
    if opt not in (0, 1, 2, 3) or ir_opt not in (0, 1, 2, 3):
        raise CompileError(f"opt and ir_opt are optimisation levels 0-3, got {opt}, {ir_opt}")
    t0 = time.perf_counter()
    from symnum.backends.llvm_reroll import rolled_ir

    mod, ir_opt, rolled = rolled_ir(sched, dtype, shard, fastmath, reroll, ir_opt)
    vec = None if mod is not None else simd_target(
        dtype, fastmath if vecmath is None else vecmath, simd,
        sched.n_in <= NARROW and len(sched.outputs) <= NARROW
        and not any(i.op in LIBMVEC for i in sched.instrs))
    if mod is None:
        mod = emit_ir(sched, dtype, shard=shard, fastmath=fastmath,
                      inline_batched=inline_batched, simd=vec)
    t1 = time.perf_counter()
    key = cache_key(mod.text, opt, ir_opt)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if cache:
        directory = private_dir(directory)
    path = directory / f"{key}.o"
    obj = _read_cached(path) if cache else None
    hit = obj is not None
    library = None
    if hit:
        try:
            library = Library(obj, mod.symbols)
        except RuntimeError:  # intact checksum but unloadable (foreign file): rebuild
            _unlink(path)
            hit = False
    t2 = t1
    upgrade = None
    if library is None:
        pending = llvm_tier.pending(key)
        if pending is not None and pending.wait() and pending.obj is not None:
            obj = pending.obj  # this very kernel's optimised object, built moments ago
        elif llvm_tier.wanted(tier, opt, len(sched)):
            library, upgrade = _tiered(mod, _TYPES[dtype][0], opt, ir_opt, key,
                                       path if cache else None)
            obj = None
        else:
            obj = compile_object(mod.text, opt, ir_opt, key=key,
                                 cache_dir=directory if cache else None)
        t2 = time.perf_counter()
    if library is None:
        try:
            library = Library(obj, mod.symbols)
        except RuntimeError as e:
            _fail("linking the object code", e, mod.text, key, directory if cache else None)
        if cache:
            _write_cached(path, obj)
    t3 = time.perf_counter()
    (k_call, b_call), via = _trampolines(dtype)
    n_in, n_out = sched.n_in, len(sched.outputs)
    kernel = functools.partial(k_call, library.kernel, n_in, n_out)
    kernel.library = library  # type: ignore[attr-defined]  # keeps the machine code alive
    batched = BatchedKernel(b_call, library, n_in, n_out, len(sched), parallel)
    info = {"statements": len(sched), "functions": mod.functions, "cross_values": mod.cross,
            "inlined_batched": mod.inlined_batched, "cache_hit": hit, "key": key,
            "simd": (f"{mod.lanes} lanes, {'libmvec' if vec.libmvec else 'scalar libm'}"
                     if vec is not None and mod.lanes else None),
            "cache_file": str(path) if cache else None, "opt": opt, "ir_opt": ir_opt,
            "object_bytes": len(obj) if obj is not None else 0, "call": via,
            "emit_seconds": t1 - t0, "codegen_seconds": t2 - t1,
            "load_seconds": t3 - t2, "compile_seconds": time.perf_counter() - t0,
            "rolled": rolled, "tier": "quick" if upgrade is not None else None,
            "upgrade": upgrade}
    return kernel, batched, mod, info


def _tiered(mod: IRModule, T: str, opt: int, ir_opt: int, key: str,  # noqa: N803
            path: Path | None) -> tuple[Library, llvm_tier.Upgrade]:
    """Link an `opt=0` build of `mod` behind pointer slots now, and queue the `opt`/`ir_opt`
    build that replaces it (symnum.backends.llvm_tier); only that one reaches the disk cache,
    under `key`."""
    quick_text = llvm_tier.quick_ir(mod.text, T)
    obj = compile_object(quick_text, 0, 0, key=key + "_quick",
                         cache_dir=path.parent if path is not None else None)
    try:
        library = Library(obj, mod.symbols, quick=True)
    except RuntimeError as e:
        _fail("linking the object code", e, quick_text, key + "_quick",
              path.parent if path is not None else None)

    def build() -> tuple[bytes, Library]:
        full = _compile_background(mod.text, opt, ir_opt)
        return full, Library(full, mod.symbols)

    up = library.pending = llvm_tier.submit(key, build, library.slots, library)
    if path is not None:
        up.then(lambda u: _write_cached(path, u.obj))
    return library, up


@no_gc  # a cold compile of a 10⁵-node graph allocates ~10⁶ objects beside it: no full GC scans
def lower(fn: Any, *, dtype: str = "float64", opt: int = 1, ir_opt: int = 0,
          shard: int | None = 250, fastmath: bool = False, vecmath: bool | None = None,
          simd: bool | None = None, inline_batched: bool | None = None,
          parallel: bool | None = None, cache: bool = True, cache_dir: Any = None,
          reroll: bool | int | None = None, tier: bool | None = None,
          **options: Any) -> Compiled:
    """Compile an Fn to machine code through LLVM IR.

    opt: code-generator level (0 fastest to compile; 1, the default, runs ~2x faster and costs
    ~5x the compile time of 0; 2-3 add compile time for no measured gain); ir_opt: LLVM's IR
    pipeline (0 = none: our straight-line, CSE'd code gains nothing from it); shard: at most
    this many instructions per machine function; cache/cache_dir: the object-code disk cache.
    fastmath: LLVM's `fast` flags on arithmetic. vecmath (default: = fastmath): batched calls
    run several rows per vector and their transcendentals through glibc's libmvec (≤ 4 ulp,
    measured in benchmarks/results_issue16.md; single-row calls and the remainder rows keep
    scalar libm); False keeps scalar libm everywhere. simd: the vector row loop without
    libmvec too (True) or never (False); see `simd_target`. reroll: repeated shapes as loops
    over tables (`symnum.backends.reroll`: ≥ 64 or `reroll=` n instances; False: off).
    tier (cold compiles at opt ≥ 1 of ≥ `llvm_tier.TIER_MIN` statements, by default): link an
    opt=0 build at once (2-3x quicker to compile; 6-10 % slower to run, ~1.5x for re-rolled
    kernels, whose IR passes it skips) and swap the `opt` build in from a background thread
    when it is ready (`info["upgrade"].wait()`; batched calls of ~0.1 s or more wait for it);
    only the optimised object is cached. True: always; False: never (one compile at `opt`, in
    this thread); SYMNUM_LLVM_TIER=0 in the environment: False by default.

    >>> import numpy as np, symnum as sn
    >>> k = lower(sn.trace(lambda x, y: np.sin(x) * y, 1.0, 2.0), cache=False)
    >>> round(float(k(0.5, 2.0)), 12)
    0.958851077208
    """
    if _is_array_fn(fn):  # loop nests (backends.llvm_arrays)
        lower_array_fn = BACKEND.array_lower()
        return lower_array_fn(fn, sys.modules[__name__], fastmath=fastmath, vecmath=vecmath,
                              cache=cache, cache_dir=cache_dir, parallel=parallel, **options)
    if options:
        raise CompileError(f"unknown option(s) for the llvm backend: {', '.join(options)}; "
                           "it takes dtype, opt, ir_opt, shard, fastmath, vecmath, simd, "
                           "inline_batched, parallel, cache, cache_dir, reroll, tier")
    t0 = time.perf_counter()
    # what a pickled kernel is lowered again with (symnum.backends.compiled.relower)
    kept = {"opt": opt, "ir_opt": ir_opt, "shard": shard, "fastmath": fastmath,
            "vecmath": vecmath, "simd": simd, "inline_batched": inline_batched,
            "parallel": parallel, "cache": cache, "cache_dir": cache_dir, "reroll": reroll,
            "tier": tier}
    ikey, directory = None, Path(cache_dir) if cache_dir is not None else default_cache_dir()
    loops = _loop_program(fn)
    if loops:  # loop terms (backends.llvm_loops): scalar rows, no index entry, sharded
        # straight-line code (a loop stays in one function with its table's readers)
        simd, inline_batched, reroll = False, False, False  # rolled already
    # the index skips scheduling and IR printing on a hit (symnum.backends.llvm_index)
    order = None  # the terms in the schedule's walk order: one walk for the index and schedule
    if cache and not loops:
        from symnum.backends import llvm_index

        order = llvm_index.walk(list(fn.flat_outputs))
        ikey = _index_key(fn, dtype, dict(opt=opt, ir_opt=ir_opt, shard=shard, fastmath=fastmath,
                                          inline_batched=inline_batched, reroll=reroll),
                          vecmath, simd, order)
        hit = _from_index(fn, ikey, directory, dtype, parallel, t0, kept) if ikey else None
        if hit is not None:
            return _finish(hit, hit.kernel, dtype)
    sched = schedule(fn.flat_inputs, fn.flat_outputs, order)
    chains: list = []
    if not loops:  # a chain of isomorphic steps (a Python loop) → one loop (reroll_chain)
        from symnum.backends.reroll_chain import roll_for

        sched, chains = roll_for(sched, reroll)
        if chains:
            loops = True
            simd, inline_batched, reroll = False, False, False
    if loops:
        from symnum.backends import llvm_loops, loop_schedule  # noqa: F401  (registers)

        sched = loop_schedule.prune(sched)
    t1 = time.perf_counter()
    kernel, batched, mod, info = compile_schedule(
        sched, dtype=dtype, opt=opt, ir_opt=ir_opt, shard=shard, fastmath=fastmath,
        vecmath=vecmath, simd=simd, inline_batched=inline_batched, parallel=parallel,
        cache=cache, cache_dir=cache_dir, reroll=reroll, tier=tier)
    info["schedule_seconds"] = t1 - t0
    if chains:
        info["rolled"] = {"chains": chains}
    info["compile_seconds"] = time.perf_counter() - t0
    if ikey and info["cache_file"]:
        from symnum.backends import llvm_index

        entry = {"object": Path(info["cache_file"]).name, "symbols": mod.symbols,
                 "ir": mod.text, "facts": {k: info[k] for k in (
                     "statements", "functions", "cross_values", "inlined_batched", "key", "opt",
                     "ir_opt", "object_bytes", "simd", "rolled")}}
        if info["upgrade"] is None:
            llvm_index.write(directory, ikey, entry)
        else:  # a tiered compile: indexed once the optimised object is on disk
            def index(up: Any, entry: dict = entry) -> None:
                entry["facts"]["object_bytes"] = len(up.obj)
                llvm_index.write(directory, ikey, entry)

            info["upgrade"].then(index)
    return _finish(Compiled(fn, kernel, source=mod.text, backend="llvm", batched=batched,
                            dtype=dtype, info=info, options=kept), kernel, dtype)


def _loop_program(fn: Any) -> bool:
    """Whether `fn` has loop terms (symnum.loops); registers their scheduling if so."""
    from symnum.loops.terms import has_loops

    if not has_loops(list(fn.flat_outputs)):
        return False
    from symnum.backends import loop_schedule  # noqa: F401  (registers loop scheduling)

    return True


def _finish(c: Compiled, kernel: Any, dtype: str) -> Compiled:
    """What the call path and interop read off a compiled llvm kernel: its machine addresses."""
    c._address = kernel.library.kernel  # type: ignore[attr-defined]
    c.batched_address = kernel.library.batched  # type: ignore[attr-defined]
    if dtype == "float64":
        c.front_maker = _raw_front  # type: ignore[attr-defined]
    return c


def _raw_front(c: Compiled) -> Any:
    from symnum.backends import native_dispatch

    return native_dispatch.raw_front(c, _cached_object, _link)


def _index_key(fn: Any, dtype: str, options: dict, vecmath: bool | None,
               simd: bool | None, order: list | None = None) -> str | None:
    from symnum.backends import llvm_index

    _llvm()
    vec = simd_target(dtype, options["fastmath"] if vecmath is None else vecmath, simd,
                      len(fn.flat_inputs) <= NARROW and len(fn.flat_outputs) <= NARROW)
    env = " ".join([_STATE["version"], _STATE["triple"], _STATE["cpu"], _STATE["features"],
                    repr(vec), dtype])
    return llvm_index.index_key(list(fn.flat_inputs), list(fn.flat_outputs), env, options,
                                order)


def _from_index(fn: Any, ikey: str, directory: Path, dtype: str, parallel: bool | None,
                t0: float, options: dict) -> Compiled | None:
    """The Compiled for an index hit whose object is intact; None otherwise (compile)."""
    from symnum.backends import llvm_index

    entry = llvm_index.read(directory, ikey)
    if entry is None:
        return None
    try:
        path = directory / entry["object"]
        facts = dict(entry["facts"])
        obj = _read_cached(path)
        if obj is None:
            return None
        library = Library(obj, list(entry["symbols"]))
    except (KeyError, TypeError, RuntimeError):
        return None
    t1 = time.perf_counter()
    (k_call, b_call), via = _trampolines(dtype)
    n_in, n_out = len(fn.flat_inputs), len(fn.flat_outputs)
    kernel = functools.partial(k_call, library.kernel, n_in, n_out)
    kernel.library = library  # type: ignore[attr-defined]
    batched = BatchedKernel(b_call, library, n_in, n_out, facts["statements"], parallel)
    info = {**facts, "cache_hit": True, "index_hit": True, "cache_file": str(path),
            "call": via, "schedule_seconds": 0.0, "emit_seconds": 0.0, "codegen_seconds": 0.0,
            "load_seconds": t1 - t0, "compile_seconds": time.perf_counter() - t0}
    return Compiled(fn, kernel, source=entry.get("ir", ""), backend="llvm", batched=batched,
                    dtype=dtype, info=info, options=options)


def lower_elementwise(fn: Any, **options: Any) -> Any:
    """A scalar Fn as a numpy-broadcasting array kernel (`symnum.vectorize(backend="llvm")`);
    options as for `lower` (vecmath=True: SIMD rows with libmvec).

    >>> import numpy as np, symnum as sn
    >>> e = lower_elementwise(sn.trace(lambda x, y: np.sin(x) * y, 1.0, 1.0), cache=False)
    >>> e(np.array([0.0, np.pi / 2]), np.float32(2.0)).tolist()
    [0.0, 2.0]
    """
    from symnum.backends.llvm_elementwise import Elementwise

    return Elementwise(fn, lower, options)


BACKEND = Backend("llvm", lower, "LLVM IR emitted directly, JIT-compiled by llvmlite (ORC)",
                  elementwise=lower_elementwise, array_lowerer="symnum.backends.llvm_arrays",
                  checks_options=True)


def _is_array_fn(fn: Any) -> bool:
    from symnum.arrays.fn import ArrayFn

    return isinstance(fn, ArrayFn)
