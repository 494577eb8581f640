"""The `llvm` backend: schedule → LLVM IR text (`symnum.backends.llvm_ir`) → object code → ORC JIT.

Object code is cached on disk under a content hash of the IR, the LLVM version and the host
CPU; a hit skips LLVM's code generator entirely (a corrupt entry fails its checksum and is
rebuilt). Kernels are called through a tiny numba trampoline (ctypes if numba is missing); each
Compiled keeps its JIT library alive. Never imported by `import symnum`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from symnum.backends import Backend
from symnum.backends.compiled import PARALLEL_WORK, Compiled
from symnum.backends.kernel_cache import default_cache_dir
from symnum.backends.llvm_ir import IRModule, emit_ir, libm_symbols
from symnum.backends.schedule import Schedule, schedule

from symnum.errors import CompileError, ShapeError

_LOCK = threading.RLock()  # LLVM objects shared here (target machines, the JIT) are not
_STATE: dict[str, Any] = {}  # thread-safe; numba's global LLVM context is never touched
_MAGIC = b"symnum-llvm-object 1\n"


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
        _STATE["libm"] = _libm_addresses()
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


def _libm_addresses() -> dict[str, int]:
    """Addresses of the libm functions kernels call, handed to the JIT explicitly."""
    names = ["libm.so.6", "libm.dylib", ctypes.util.find_library("m")] if sys.platform != "win32" \
        else ["ucrtbase.dll", "msvcrt.dll"]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        found = {}
        for dtype in ("float64", "float32"):
            for sym in libm_symbols(dtype):
                try:
                    found[sym] = ctypes.cast(getattr(lib, sym), ctypes.c_void_p).value
                except AttributeError:
                    pass
        return found
    return {}  # the JIT then resolves symbols through the process itself


# compiling and caching -------------------------------------------------------------------------
def cache_key(ir_text: str, opt: int, ir_opt: int) -> str:
    """Content hash of everything that shapes the object code."""
    _llvm()
    h = hashlib.blake2b(digest_size=16)
    for part in (ir_text, _STATE["version"], _STATE["triple"], _STATE["cpu"], _STATE["features"],
                 f"opt={opt} ir_opt={ir_opt}"):
        h.update(part.encode())
        h.update(b"\0")
    return "llvm_" + h.hexdigest()


def _fail(what: str, err: Exception, ir_text: str, key: str, cache_dir: Path | None) -> None:
    directory = cache_dir if cache_dir is not None else Path(tempfile.gettempdir()) / "symnum"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{key}.failed.ll"
        path.write_text(ir_text)
        where = f"the generated IR is in {path}"
    except OSError:
        head = "\n".join(ir_text.splitlines()[:40])
        where = f"the generated IR starts:\n{head}"
    raise CompileError(f"LLVM {what} failed ({type(err).__name__}: {str(err).strip()}); "
                       f"{where}") from err


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


def _read_cached(path: Path) -> bytes | None:
    """The object stored at `path` if it is intact; a damaged entry is deleted."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + 32
    obj = data[head:]
    if data[:len(_MAGIC)] == _MAGIC and data[len(_MAGIC):head] == \
            hashlib.blake2b(obj, digest_size=16).hexdigest().encode():
        return obj
    _unlink(path)
    return None


def _write_cached(path: Path, obj: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + hashlib.blake2b(obj, digest_size=16).hexdigest().encode() + obj)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file
    except OSError:
        pass  # a read-only cache is a slow cache, not an error


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


class Library:
    """A linked object in the process-wide JIT; the machine code lives as long as this does."""

    __slots__ = ("tracker", "jit", "kernel", "batched", "__weakref__")

    def __init__(self, obj: bytes, symbols: list[str]):
        llvm = _llvm()
        with _LOCK:
            _STATE["count"] += 1
            b = llvm.JITLibraryBuilder().add_object_img(obj).add_current_process()
            libm = _STATE["libm"]
            for sym in symbols:
                if sym in libm:
                    b.import_symbol(sym, libm[sym])
            self.tracker = b.export_symbol("kernel").export_symbol("batched").link(
                _STATE["jit"], f"symnum_{_STATE['count']}")
            self.jit = _STATE["jit"]  # the JIT must outlive every library linked into it
        self.kernel = self.tracker["kernel"]
        self.batched = self.tracker["batched"]
        if not (self.kernel and self.batched):
            raise RuntimeError("the object code does not define kernel and batched")


# calling from Python ---------------------------------------------------------------------------
def _invoke_kernel(addr, n_in, n_out, x, out):  # noqa: ANN001, ANN202 (numba-compiled)
    if x.size < n_in or out.size < n_out:
        raise ShapeError("x or out is shorter than the kernel's inputs/outputs")
    _call2(addr, x, out)


def _invoke_alloc(addr, n_in, n_out, x):  # noqa: ANN001, ANN202 (numba-compiled)
    out = np.empty(n_out, dtype=x.dtype)  # allocated in compiled code: cheaper than np.empty
    if x.size < n_in:
        raise ShapeError("x is shorter than the kernel's inputs")
    _call2(addr, x, out)
    return out


def _invoke_batched(addr, n_in, n_out, X, OUT):  # noqa: ANN001, ANN202, N803
    rows = X.shape[0]
    if X.shape[1] != n_in or OUT.shape[0] != rows or OUT.shape[1] != n_out:
        raise ShapeError("X must be (rows, n_in) and OUT (rows, n_out)")
    _call3(addr, X, OUT, rows)


_call2: Any = None
_call3: Any = None


def _numba_trampolines(dtype: str) -> tuple[Any, Any] | None:
    """njit'd `(addr, n_in, n_out, x, out)` callers for one dtype (~0.3 µs per call, vs ~4 µs
    through ctypes with `.ctypes.data`); None when numba is unavailable."""
    key = f"tramp_{dtype}"
    if key in _STATE:
        return _STATE[key]
    with _LOCK:
        if key not in _STATE:
            _STATE[key] = _make_trampolines(dtype)
    return _STATE[key]


def _make_trampolines(dtype: str) -> tuple[Any, Any] | None:
    try:
        import llvmlite.ir as lir
        import numba
        from numba import types
        from numba.extending import intrinsic
    except ImportError:
        return None
    global _call2, _call3
    if _call2 is None:
        def data(context: Any, builder: Any, ty: Any, value: Any) -> Any:
            return context.make_array(ty)(context, builder, value).data

        @intrinsic
        def call2(typingctx: Any, addr: Any, x: Any, out: Any) -> Any:
            def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
                xp, op = data(context, builder, sig.args[1], args[1]), \
                    data(context, builder, sig.args[2], args[2])
                fnty = lir.FunctionType(lir.VoidType(), [xp.type, op.type])
                builder.call(builder.inttoptr(args[0], fnty.as_pointer()), [xp, op])
                return context.get_dummy_value()
            return types.void(addr, x, out), codegen

        @intrinsic
        def call3(typingctx: Any, addr: Any, x: Any, out: Any, rows: Any) -> Any:
            def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
                xp, op = data(context, builder, sig.args[1], args[1]), \
                    data(context, builder, sig.args[2], args[2])
                fnty = lir.FunctionType(lir.VoidType(), [xp.type, op.type, args[3].type])
                builder.call(builder.inttoptr(args[0], fnty.as_pointer()), [xp, op, args[3]])
                return context.get_dummy_value()
            return types.void(addr, x, out, rows), codegen

        _call2, _call3 = call2, call3
    ft = getattr(types, dtype)
    sigs1, sigs2 = [], []
    for ro in (False, True):  # read-only inputs (np.broadcast_to, frozen arrays) are fine
        v, m = types.Array(ft, 1, "C", readonly=ro), types.Array(ft, 2, "C", readonly=ro)
        sigs1.append(types.void(types.intp, types.intp, types.intp, v, types.Array(ft, 1, "C")))
        sigs2.append(types.void(types.intp, types.intp, types.intp, m, types.Array(ft, 2, "C")))
    sigs3 = [types.Array(ft, 1, "C")(types.intp, types.intp, types.intp,
                                      types.Array(ft, 1, "C", readonly=ro)) for ro in (False, True)]
    try:
        pair = (numba.njit(sigs1, nogil=True, cache=True)(_invoke_kernel),
                numba.njit(sigs2, nogil=True, cache=True)(_invoke_batched))
        _STATE[f"alloc_{dtype}"] = numba.njit(sigs3, nogil=True, cache=True)(_invoke_alloc)
    except Exception:  # an exotic numba: fall back to ctypes rather than fail to compile
        pair = None
    return pair


MAX_SCALAR_ARGS = 6


def scalar_entry() -> Any:
    """`.get(k)` → an njit'd `entry(addr, a0, ..., a{k-1}) -> float` for float64 kernels of
    scalars only and one scalar output: the inputs and the output live on the machine stack
    (no arrays allocated), so a call from Python costs about one numba dispatch. None without
    numba."""
    if "scalar_entry" in _STATE:
        return _STATE["scalar_entry"]
    with _LOCK:
        if "scalar_entry" not in _STATE:
            _STATE["scalar_entry"] = _make_scalar_entry()
    return _STATE["scalar_entry"]


def _make_scalar_entry() -> Any:
    try:
        import llvmlite.ir as lir
        import numba
        from numba import types
        from numba.extending import intrinsic
    except ImportError:
        return None

    @intrinsic
    def call_scalars(typingctx: Any, addr: Any, args: Any) -> Any:
        if not isinstance(args, types.BaseTuple) or not all(
                isinstance(t, (types.Float, types.Integer)) for t in args):
            return None

        def codegen(context: Any, builder: Any, sig: Any, llargs: Any) -> Any:
            f64 = lir.DoubleType()
            n = len(sig.args[1])
            xs = builder.alloca(f64, size=lir.Constant(lir.IntType(64), max(n, 1)))
            out = builder.alloca(f64)
            for i, ty in enumerate(sig.args[1]):
                v = builder.extract_value(llargs[1], i)
                v = context.cast(builder, v, ty, types.float64)
                builder.store(v, builder.gep(xs, [lir.Constant(lir.IntType(64), i)]))
            fnty = lir.FunctionType(lir.VoidType(), [f64.as_pointer(), f64.as_pointer()])
            builder.call(builder.inttoptr(llargs[0], fnty.as_pointer()), [xs, out])
            return builder.load(out)

        return types.float64(addr, args), codegen

    # one function per arity (numba's *args packing costs ~0.4 µs a call), each compiled on
    # first use with an explicit float64 signature
    return _ScalarEntries(numba, types, call_scalars)


class _ScalarEntries:
    """k → the njit'd scalar entry of arity k (1..MAX_SCALAR_ARGS), built on first request."""

    def __init__(self, numba: Any, types: Any, call_scalars: Any):
        self._numba, self._types, self._call = numba, types, call_scalars
        self._made: dict[int, Any] = {}

    def get(self, k: int) -> Any:
        if not 1 <= k <= MAX_SCALAR_ARGS:
            return None
        f = self._made.get(k)
        if f is None:
            with _LOCK:
                f = self._made.get(k)
                if f is None:
                    names = ", ".join(f"a{i}" for i in range(k))
                    g = {"call_scalars": self._call}
                    exec(f"def entry{k}(addr, {names}):\n"  # noqa: S102
                         f"    return call_scalars(addr, ({names},))\n", g)
                    t = self._types
                    sig = t.float64(t.intp, *([t.float64] * k))
                    try:
                        f = self._numba.njit([sig], nogil=True)(g[f"entry{k}"])
                    except Exception:  # noqa: BLE001  (the array path still works)
                        f = False
                    self._made[k] = f
        return f or None


def _ctypes_trampolines(dtype: str) -> tuple[Any, Any]:
    want = np.dtype(dtype)
    k2 = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
    k3 = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)

    def check(a: np.ndarray, ndim: int, writeable: bool) -> None:
        if (not isinstance(a, np.ndarray) or a.dtype != want or a.ndim != ndim
                or not a.flags.c_contiguous or (writeable and not a.flags.writeable)):
            raise ShapeError(f"expected a C-contiguous {want} array of {ndim} dimension(s)")

    def kernel(addr: int, n_in: int, n_out: int, x: np.ndarray, out: np.ndarray) -> None:
        check(x, 1, False)
        check(out, 1, True)
        if x.size < n_in or out.size < n_out:
            raise ShapeError("x or out is shorter than the kernel's inputs/outputs")
        k2(addr)(x.ctypes.data, out.ctypes.data)

    def batched(addr: int, n_in: int, n_out: int, X: np.ndarray, OUT: np.ndarray) -> None:  # noqa: N803
        check(X, 2, False)
        check(OUT, 2, True)
        if X.shape[1] != n_in or OUT.shape != (X.shape[0], n_out):
            raise ShapeError("X must be (rows, n_in) and OUT (rows, n_out)")
        k3(addr)(X.ctypes.data, OUT.ctypes.data, X.shape[0])

    return kernel, batched


def _pool() -> ThreadPoolExecutor:
    pool = _STATE.get("pool")
    if pool is None:
        with _LOCK:
            pool = _STATE.get("pool")
            if pool is None:
                pool = _STATE["pool"] = ThreadPoolExecutor(
                    max_workers=os.cpu_count() or 1, thread_name_prefix="symnum-llvm")
    return pool


class BatchedKernel:
    """`batched(X, OUT)` over rows; large batches are split across threads (the machine code
    runs without the GIL), small ones run in the calling thread."""

    __slots__ = ("call", "addr", "n_in", "n_out", "work", "parallel", "library")

    def __init__(self, call: Any, library: Library, n_in: int, n_out: int, work: int,
                 parallel: bool | None):
        self.call, self.library, self.addr = call, library, library.batched
        self.n_in, self.n_out, self.work, self.parallel = n_in, n_out, max(1, work), parallel

    def __call__(self, X: np.ndarray, OUT: np.ndarray) -> None:  # noqa: N803
        rows = X.shape[0] if X.ndim == 2 else 0
        threads = os.cpu_count() or 1
        if self.parallel is None:
            split = rows * self.work >= PARALLEL_WORK
        else:
            split = self.parallel
        if not split or threads < 2 or rows < 2 or X.ndim != 2 or OUT.ndim != 2:
            self.call(self.addr, self.n_in, self.n_out, X, OUT)
            return
        if OUT.shape[0] != rows:
            raise ShapeError("X must be (rows, n_in) and OUT (rows, n_out)")
        bounds = np.linspace(0, rows, min(threads, rows) + 1).astype(int)
        jobs = [_pool().submit(self.call, self.addr, self.n_in, self.n_out, X[lo:hi],
                               OUT[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
        for j in jobs:
            j.result()


# the public entry points -----------------------------------------------------------------------
def compile_schedule(sched: Schedule, *, dtype: str = "float64", opt: int = 1, ir_opt: int = 0,
                     shard: int | None = 250, fastmath: bool = False,
                     inline_batched: bool | None = None, parallel: bool | None = None,
                     cache: bool = True, cache_dir: str | Path | None = None,
                     ) -> tuple[Any, BatchedKernel, IRModule, dict]:
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
    mod = emit_ir(sched, dtype, shard=shard, fastmath=fastmath, inline_batched=inline_batched)
    t1 = time.perf_counter()
    key = cache_key(mod.text, opt, ir_opt)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
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
    if library is None:
        obj = compile_object(mod.text, opt, ir_opt, key=key,
                             cache_dir=directory if cache else None)
        t2 = time.perf_counter()
        try:
            library = Library(obj, mod.symbols)
        except RuntimeError as e:
            _fail("linking the object code", e, mod.text, key, directory if cache else None)
        if cache:
            _write_cached(path, obj)
    t3 = time.perf_counter()
    tramps = _numba_trampolines(dtype)
    via = "numba" if tramps is not None else "ctypes"
    k_call, b_call = tramps if tramps is not None else _ctypes_trampolines(dtype)
    n_in, n_out = sched.n_in, len(sched.outputs)
    kernel = functools.partial(k_call, library.kernel, n_in, n_out)
    kernel.library = library  # type: ignore[attr-defined]  # keeps the machine code alive
    batched = BatchedKernel(b_call, library, n_in, n_out, len(sched), parallel)
    info = {"statements": len(sched), "functions": mod.functions, "cross_values": mod.cross,
            "inlined_batched": mod.inlined_batched, "cache_hit": hit, "key": key,
            "cache_file": str(path) if cache else None, "opt": opt, "ir_opt": ir_opt,
            "object_bytes": len(obj) if obj is not None else 0, "call": via,
            "emit_seconds": t1 - t0, "codegen_seconds": t2 - t1,
            "load_seconds": t3 - t2, "compile_seconds": time.perf_counter() - t0}
    return kernel, batched, mod, info


def lower(fn: Any, *, dtype: str = "float64", opt: int = 1, ir_opt: int = 0,
          shard: int | None = 250, fastmath: bool = False, inline_batched: bool | None = None,
          parallel: bool | None = None, cache: bool = True, cache_dir: Any = None,
          **options: Any) -> Compiled:
    """Compile an Fn to machine code through LLVM IR.

    opt: code-generator level (0 fastest to compile; 1, the default, runs ~2x faster and costs
    ~5x the compile time of 0; 2-3 add compile time for no measured gain); ir_opt: LLVM's IR
    pipeline (0 = none: our straight-line, CSE'd code gains nothing from it); shard: at most
    this many instructions per machine function; cache/cache_dir: the object-code disk cache.

    >>> import numpy as np, symnum as sn
    >>> k = lower(sn.trace(lambda x, y: np.sin(x) * y, 1.0, 2.0), cache=False)
    >>> round(float(k(0.5, 2.0)), 12)
    0.958851077208
    """
    if options:
        raise CompileError(f"unknown option(s) for the llvm backend: {', '.join(options)}; "
                           "it takes dtype, opt, ir_opt, shard, fastmath, inline_batched, "
                           "parallel, cache, cache_dir")
    t0 = time.perf_counter()
    sched = schedule(fn.flat_inputs, fn.flat_outputs)
    t1 = time.perf_counter()
    kernel, batched, mod, info = compile_schedule(
        sched, dtype=dtype, opt=opt, ir_opt=ir_opt, shard=shard, fastmath=fastmath,
        inline_batched=inline_batched, parallel=parallel, cache=cache, cache_dir=cache_dir)
    info["schedule_seconds"] = t1 - t0
    info["compile_seconds"] = time.perf_counter() - t0
    options = {"opt": opt, "ir_opt": ir_opt, "shard": shard, "fastmath": fastmath,
               "inline_batched": inline_batched, "parallel": parallel, "cache": cache,
               "cache_dir": cache_dir}
    c = Compiled(fn, kernel, source=mod.text, backend="llvm", batched=batched, dtype=dtype,
                 info=info, options=options)
    c._address = kernel.library.kernel  # type: ignore[attr-defined]
    c.batched_address = kernel.library.batched  # type: ignore[attr-defined]
    c.alloc_call = _STATE.get(f"alloc_{dtype}")  # type: ignore[attr-defined]
    c._call2 = _call2 if _numba_trampolines(dtype) is not None else None  # type: ignore[attr-defined]
    if dtype == "float64" and c.n_out == 1:
        c.scalar_entry = scalar_entry()  # type: ignore[attr-defined]
    return c


BACKEND = Backend("llvm", lower, "LLVM IR emitted directly, JIT-compiled by llvmlite (ORC)")
