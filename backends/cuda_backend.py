"""The `cuda` backend: schedule → straight-line Python source → numba-cuda grid-stride kernels.

One generated module per (Fn, dtype): a device function `kernel(x, out)` for users' own kernels,
a batched kernel (one batch element per thread, inputs as columns so neighbouring threads read
neighbouring words) and, for Fns whose inputs are all scalars, an elementwise kernel over
broadcast arrays. Loop terms (sn.fori_loop / scan / while_loop) are a loop per thread
(backends.cuda_loops). Kernels carry the body inline and call no device function (compiling such a
call asks the driver for the GPU's compute capability), so PTX needs no GPU; they compile on
first launch. Importing this module must never import numba.cuda: it is imported on first use.
"""

from __future__ import annotations

import importlib.metadata
import math
import sys
import threading
import time
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
from symnum.backends import Backend
from symnum.backends.cache_security import cuda_signing
from symnum.backends.compiled import Compiled
from symnum.backends.cuda_source import DTYPES, generate, is_scalar_fn, signature  # noqa: F401 (re-exported)
from symnum.backends.kernel_cache import load_module, source_key
from symnum.backends.schedule import Schedule

from symnum.errors import CompileError, DTypeError, ShapeError

_JIT_LOCK = threading.Lock()
_JITTED: dict[tuple[str, str, bool], Any] = {}  # (module, kind, fastmath) → numba-cuda kernel

# ---------------------------------------------------------------------------------------------
# host-side helpers (pure numpy: tested without numba.cuda)


def broadcast_layout(shapes: list[tuple[int, ...]]) -> tuple[tuple[int, ...], np.ndarray,
                                                              np.ndarray]:
    """numpy's broadcast of C-contiguous arrays of `shapes`, as (broadcast shape, dims, strides).

    `dims` (int64, ≥ 1 entries) is the broadcast shape with size-1 dimensions dropped and
    adjacent dimensions merged where every input allows it; `strides[k]` are input k's element
    strides over `dims` (0 where it is broadcast). Element j of the C-ordered result reads input
    k at Σ_d q_d·strides[k, d], with q the multi-index of j in `dims`.

    >>> shape, dims, st = broadcast_layout([(3, 1), (4,)])
    >>> shape, dims.tolist(), st.tolist()
    ((3, 4), [3, 4], [[1, 0], [0, 1]])
    """
    try:
        shape = tuple(int(s) for s in np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(
            f"the arguments' shapes {', '.join(map(str, shapes))} do not broadcast together "
            "(numpy's rules); reshape them, e.g. add axes with a[:, None]"
        ) from None
    nd = len(shape)
    cols = []  # per broadcast dimension: (size, [stride of each input])
    for d in range(nd):
        if shape[d] == 1:
            continue
        st = []
        for s in shapes:
            off = d - (nd - len(s))  # the input's own dimension, right-aligned
            if off < 0 or s[off] == 1:
                st.append(0)
            else:
                st.append(int(np.prod(s[off + 1:], dtype=np.int64)))
        cols.append((shape[d], st))
    merged: list[tuple[int, list[int]]] = []
    for size, st in cols:
        if merged:
            psize, pst = merged[-1]
            # dims (prev, this) collapse when every input steps through them as one: prev
            # stride = this stride × this size (true for contiguous and broadcast inputs alike)
            if all(p == c * size for p, c in zip(pst, st)):
                merged[-1] = (psize * size, st)
                continue
        merged.append((size, st))
    if not merged:
        merged = [(1, [0] * len(shapes))]
    dims = np.array([m[0] for m in merged], dtype=np.int64)
    strides = np.array([m[1] for m in merged], dtype=np.int64).T.reshape(len(shapes),
                                                                          len(merged))
    return shape, dims, np.ascontiguousarray(strides)


def result_dtype(arrays: list[Any]) -> str:
    """The kernel dtype for arguments, by numpy's promotion: float32 when numpy would compute
    in float32 (or float16), else float64 (integers and bools compute in float64).

    >>> result_dtype([np.zeros(2, np.float32), 1.5]), result_dtype([np.zeros(2, np.int32)])
    ('float32', 'float64')
    """
    dts = [a.dtype if hasattr(a, "dtype") else a for a in arrays]
    try:
        dt = np.result_type(*dts) if dts else np.dtype(np.float64)
    except TypeError as exc:
        raise DTypeError(f"the cuda backend cannot combine these argument types: {exc}") from exc
    if dt.kind not in "biuf" or (dt.kind == "f" and dt.itemsize > 8):
        raise DTypeError(
            f"the cuda backend computes in float32 or float64, but the arguments promote to "
            f"{dt}; convert them with .astype(np.float64)"
        )
    return "float32" if dt.kind == "f" and dt.itemsize <= 4 else "float64"


def launch_config(n: int, threads: int, max_blocks: int) -> tuple[int, int]:
    """(blocks, threads) for n work items: a grid-stride loop covers what the grid does not.

    >>> launch_config(1000, 128, 4), launch_config(10, 128, 4)
    ((4, 128), (1, 128))
    """
    return max(1, min(-(-n // threads), max_blocks)), threads


def _erf(a: Any) -> Any:
    return type(a)(math.erf(a)) if isinstance(a, np.generic) else math.erf(a)


# `math` for generated modules under the simulator: CPython's math raises on log(0), sqrt(-1),
# sin(inf) where libdevice (and numpy) return inf/nan. The source stays the same; only this
# binding of the name `math` differs.
SIM_MATH = SimpleNamespace(
    sin=np.sin, cos=np.cos, tan=np.tan, asin=np.arcsin, acos=np.arccos, atan=np.arctan,
    atan2=np.arctan2, sinh=np.sinh, cosh=np.cosh, tanh=np.tanh, exp=np.exp, log=np.log,
    log1p=np.log1p, expm1=np.expm1, sqrt=np.sqrt, fabs=np.fabs, hypot=np.hypot, erf=_erf,
    asinh=np.arcsinh, acosh=np.arccosh, atanh=np.arctanh, copysign=np.copysign, floor=np.floor,
    ceil=np.ceil, trunc=np.trunc, fmod=np.fmod,
    nan=math.nan, inf=math.inf,
)


SIM_LIBDEVICE = SimpleNamespace(rint=np.rint, cbrt=np.cbrt)


def _cuda() -> ModuleType:
    try:
        from numba import cuda
    except ImportError as exc:  # numba without its built-in CUDA target and no numba-cuda
        raise CompileError(
            f"the cuda backend needs numba's CUDA target ({exc}); install it with "
            "pip install 'symnum[cuda]' (numba-cuda), or choose backend='numba'"
        ) from exc
    if not _PATCHED:
        _patch_lowering(cuda)
    return cuda


_PATCHED: list[bool] = []
_ORIGINAL_LOWERING: list[Any] = []  # what _patch_lowering replaced (for tests)


def _patch_lowering(cuda: ModuleType) -> None:
    """numba-cuda (0.30) still finds singly-assigned variables in O(statements²) per block —
    352 s for a 6,400-statement kernel, 47 s with this linear rewrite. numba itself fixed it
    (numba PR 10387); this is the same computation, installed only where the old one is."""
    _PATCHED.append(True)
    try:
        import inspect

        from numba.cuda import lowering
        from numba.cuda.core import ir
        from numba.cuda.core.analysis import compute_use_defs, must_use_alloca

        old = lowering.Lower._find_singly_assigned_variable
        if "find_insts" not in inspect.getsource(old).split("for var in")[-1]:
            return  # already linear
    except (ImportError, AttributeError, OSError, TypeError):  # the built-in target: fixed
        return

    def find_singly_assigned_variable(self: Any) -> None:
        sav: set[str] = set()
        if not self.func_ir.func_id.is_generator:
            use_defs = compute_use_defs(self.func_ir.blocks)
            alloca_vars = must_use_alloca(self.func_ir.blocks)
            defined_in: dict[str, set] = {}
            for blk, names in use_defs.defmap.items():
                for v in names:
                    defined_in.setdefault(v, set()).add(blk)
            used = {v for names in use_defs.usemap.values() for v in names}
            counts: dict[tuple, int] = {}  # (block, variable) → assignments in that block
            for label, blk in self.blocks.items():
                for st in blk.find_insts(ir.assign_types):
                    counts[label, st.target.name] = counts.get((label, st.target.name), 0) + 1
            sav = {v for v, blks in defined_in.items() if v not in alloca_vars and v not in used
                   and len(blks) == 1 and counts.get((next(iter(blks)), v)) == 1}
        self._singly_assigned_vars = sav
        self._blk_local_varmap = {}

    _ORIGINAL_LOWERING.append(old)
    lowering.Lower._find_singly_assigned_variable = find_singly_assigned_variable


def simulating() -> bool:
    """True when numba runs CUDA kernels on the simulator (NUMBA_ENABLE_CUDASIM=1 at import).

    >>> import os
    >>> simulating() == (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1")
    True
    """
    from numba.core import config  # numba-cuda reads the same environment variable

    return bool(config.ENABLE_CUDASIM)


def is_device_array(a: Any) -> bool:
    """A CUDA device array: numba's, the simulator's, or any __cuda_array_interface__ object.

    >>> is_device_array(np.zeros(3))
    False
    """
    return hasattr(a, "__cuda_array_interface__") or (
        hasattr(a, "copy_to_host") and hasattr(a, "shape"))


def _as_device(a: Any) -> Any:
    if hasattr(a, "copy_to_host"):
        return a
    return _cuda().as_cuda_array(a)  # CuPy, PyTorch, …: a zero-copy view


def _cuda_version() -> str:
    try:  # numba-cuda, when installed, is what `numba.cuda` imports
        return "numba-cuda " + importlib.metadata.version("numba-cuda")
    except importlib.metadata.PackageNotFoundError:
        return "numba built-in " + getattr(_cuda(), "implementation", "")


# ---------------------------------------------------------------------------------------------
# the compiled object


class CudaCompiled(Compiled):
    """A Fn compiled for CUDA. `c(*args)` ≡ `fn(*args)` (host in, host out; batch dimensions on
    the right run one element per thread); `c.batched(X, OUT)` takes (rows, n_in)/(rows, n_out)
    host or device arrays; `c.columns(XT, OUTT)` the transposed, coalesced layout;
    `c.elementwise(*arrays)` applies a scalar Fn over broadcast arrays with numpy's dtypes
    (device arrays in ⇒ device arrays out, nothing copied); `c.device` is the device function
    `kernel(x, out)` for your own kernels."""

    def __init__(self, fn: Any, *, dtype: str, fastmath: bool, threads: int,
                 max_blocks: int | None, cache_dir: Any, info: dict) -> None:
        self._fastmath = bool(fastmath)
        self._threads = int(threads)
        self._max_blocks = max_blocks
        self._cache_dir = cache_dir
        self._modules: dict[str, tuple[ModuleType, str, Schedule]] = {}
        self._kernels: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()
        super().__init__(fn, self._single, backend="cuda", batched=self._batched, dtype=dtype,
                         info=info)
        mod, self.source, sched = self._module(dtype)
        self.info.update(statements=len(sched), kernel_compile_seconds={})
        self.device = mod.kernel
        self._layouts: dict[tuple, tuple] = {}  # argument shapes → broadcast layout on device

    # modules and kernels ----------------------------------------------------------------------
    def _module(self, dtype: str) -> tuple[ModuleType, str, Schedule]:
        with self._lock:
            found = self._modules.get(dtype)
            if found is None:
                mod, src, sched, key, hit = _load(self.fn, dtype, self._cache_dir)
                if simulating():
                    mod.math = SIM_MATH
                    mod.libdevice = SIM_LIBDEVICE
                self.info.setdefault("modules", {})[dtype] = {"module": key, "cache_hit": hit}
                found = self._modules[dtype] = (mod, src, sched)
            return found

    def _kernel(self, kind: str, dtype: str) -> Any:
        k = self._kernels.get((kind, dtype))
        if k is None:
            mod, _, _ = self._module(dtype)
            key = (mod.__name__, kind, self._fastmath)
            with _JIT_LOCK:  # one compile per kernel, however many threads or Compileds ask
                k = _JITTED.get(key)
                if k is None:
                    t0 = time.perf_counter()
                    k = _jit(getattr(mod, kind), signature(kind, dtype, self.n_in),
                             self._fastmath, mod.__file__)
                    self.info["kernel_compile_seconds"][f"{kind}/{dtype}"] = (
                        time.perf_counter() - t0)
                    _JITTED[key] = k
            self._kernels[(kind, dtype)] = k
        return k

    def _launch(self, kind: str, dtype: str, n: int, *args: Any) -> None:
        kern = self._kernel(kind, dtype)
        if n == 0:
            return
        blocks, threads = launch_config(n, self._threads, self._max_blocks or _max_blocks())
        kern[blocks, threads](*args)

    # batched layouts --------------------------------------------------------------------------
    def columns(self, XT: Any, OUTT: Any) -> Any:
        """Evaluate column i of XT (n_in, rows) into column i of OUTT (n_out, rows), on the GPU.

        Device arrays are used in place; host arrays are copied over and OUTT written back.
        """
        cuda = _cuda()
        rows = _check_2d(XT, self.n_in, "XT", "(n_in, rows)", self.dtype, axis=0)
        _check_2d(OUTT, self.n_out, "OUTT", "(n_out, rows)", self.dtype, axis=0, rows=rows)
        dx = _as_device(XT) if is_device_array(XT) else cuda.to_device(
            np.ascontiguousarray(XT, dtype=self.dtype))
        if self.n_in == 0:  # nothing to read; keep the argument a valid 2-D array
            dx = cuda.device_array((1, max(rows, 1)), dtype=self.dtype)
        host_out = not is_device_array(OUTT)
        dout = cuda.device_array((self.n_out, rows), self.dtype) if host_out else _as_device(OUTT)
        if self.n_out:
            self._launch("batched", self.dtype.name, rows, dx, dout, rows)
            if host_out:
                OUTT[...] = dout.copy_to_host()
        return OUTT

    def _batched(self, X: Any, OUT: Any) -> Any:
        """Row i of X (rows, n_in) → row i of OUT (rows, n_out); device arrays stay put."""
        xt = X.T if is_device_array(X) else np.ascontiguousarray(np.asarray(X).T)
        outt = OUT.T if is_device_array(OUT) else np.empty((OUT.shape[1], OUT.shape[0]),
                                                           dtype=self.dtype)
        self.columns(xt, outt)
        if not is_device_array(OUT):
            OUT[...] = outt.T
        return OUT

    def _single(self, x: np.ndarray, out: np.ndarray) -> None:
        self.columns(np.asarray(x, dtype=self.dtype).reshape(self.n_in, 1), out.reshape(-1, 1))

    def __call__(self, *args: Any) -> Any:
        x, batch = self.pack(*args)  # already (n_in, *batch): the column layout, no transpose
        rows = int(np.prod(batch, dtype=np.int64))
        out = np.empty((self.n_out, rows), dtype=self.dtype)
        self.columns(x.reshape(self.n_in, rows), out)
        return self.unpack(out.reshape((self.n_out,) + batch) if batch else out[:, 0], batch)

    # elementwise ------------------------------------------------------------------------------
    def elementwise(self, *arrays: Any) -> Any:
        """Apply the scalar Fn over `arrays` broadcast by numpy's rules, in numpy's result dtype
        (float32 or float64). Host arrays in ⇒ numpy arrays out; any device array in ⇒ device
        arrays out (device inputs must be C-contiguous and already in the result dtype)."""
        if not is_scalar_fn(self.fn):
            raise ShapeError(
                f"elementwise kernels apply a Fn whose inputs are all scalars; {self.fn!r} has "
                "array inputs: call it with batch dimensions on the right instead"
            )
        cuda = _cuda()
        if len(arrays) != self.n_in:
            raise ShapeError(f"elementwise takes {self.n_in} array(s), one per scalar input of "
                             f"{self.fn!r}; got {len(arrays)}")
        dtype = result_dtype(list(arrays))
        on_device = any(is_device_array(a) for a in arrays)
        shapes = tuple(tuple(a.shape) if is_device_array(a) else np.shape(a) for a in arrays)
        shape, ddims, dstrides = self._layout(shapes)
        n = int(np.prod(shape, dtype=np.int64))
        if n == 0 or self.n_out == 0:
            out = (cuda.device_array if on_device else np.empty)((self.n_out, n), dtype=dtype)
        else:
            bufs = [_flat_buffer(a, dtype, k) for k, a in enumerate(arrays)]
            out = cuda.device_array((self.n_out, n), dtype=dtype)
            self._launch("elementwise", dtype, n, *bufs, out, n, ddims, dstrides)
            if not on_device:
                out = out.copy_to_host()
        return self.unpack(out.reshape((self.n_out,) + shape) if shape else out[:, 0], shape)

    def _layout(self, shapes: tuple) -> tuple:
        hit = self._layouts.get(shapes)
        if hit is None:
            cuda = _cuda()
            shape, dims, strides = broadcast_layout(list(shapes))
            hit = (shape, cuda.to_device(dims), cuda.to_device(strides))
            if len(self._layouts) < 64:  # a handful of call shapes in practice; stay bounded
                self._layouts[shapes] = hit
        return hit


def _flat_buffer(a: Any, dtype: str, k: int) -> Any:
    if not is_device_array(a):
        return _cuda().to_device(np.ascontiguousarray(a, dtype=dtype).reshape(-1))
    a = _as_device(a)
    if np.dtype(a.dtype) != np.dtype(dtype):
        raise DTypeError(f"device argument {k} is {a.dtype} but the arguments promote to "
                         f"{dtype}; convert it on the device first (no copy is made for you)")
    if not a.is_c_contiguous():
        raise ShapeError(f"device argument {k} is not C-contiguous; pass a contiguous copy")
    return a.reshape(int(np.prod(a.shape, dtype=np.int64)) or 1) if a.ndim != 1 else a


def _check_2d(a: Any, n: int, name: str, layout: str, dtype: np.dtype, *, axis: int,
              rows: int | None = None) -> int:
    shape = tuple(a.shape)
    if len(shape) != 2 or shape[axis] != n or (rows is not None and shape[1 - axis] != rows):
        want = f"({n}, {rows if rows is not None else 'rows'})"
        raise ShapeError(f"{name} must be {layout} = {want}, got {shape}")
    if is_device_array(a) and np.dtype(a.dtype) != dtype:
        raise DTypeError(f"{name} is a {a.dtype} device array; this kernel is {dtype}: "
                         "convert it on the device or lower with that dtype")
    return shape[1 - axis]


def _load(fn: Any, dtype: str, cache_dir: Any) -> tuple[ModuleType, str, Schedule, str, bool]:
    src, sched = generate(fn, dtype)
    key = source_key(src, "cuda", _cuda_version())
    try:
        mod, hit = load_module(src, key, cache_dir)
    except Exception as e:
        raise CompileError(f"the generated CUDA module {key} failed to load ({type(e).__name__}: "
                           f"{e}); its source is {key}.py under {cache_dir or 'the cache dir'}"
                           ) from e
    return mod, src, sched, key, hit


def _max_blocks() -> int:
    if simulating():
        return 4  # the simulator runs blocks one after another, threads as Python threads
    try:
        return 32 * int(_cuda().get_current_device().MULTIPROCESSOR_COUNT)
    except Exception:  # an old driver binding without the attribute: a generous fixed grid
        return 4096


def _jit(pyfunc: Any, sig: str, fastmath: bool, path: str) -> Any:
    cuda = _cuda()
    try:
        try:
            return cuda.jit(sig, fastmath=fastmath, cache=cuda_signing())(pyfunc)
        except RuntimeError as e:  # no cache locator for this file: compile without caching
            if "cannot cache" not in str(e):
                raise
            return cuda.jit(sig, fastmath=fastmath)(pyfunc)
    except Exception as e:  # numba's TypingError/LoweringError, NVVM failures
        raise CompileError(
            f"numba-cuda could not compile the generated kernel '{pyfunc.__name__}' "
            f"({type(e).__name__}: {e}); the generated source is {path}"
        ) from e


def kernel_ptx(fn: Any, kind: str = "batched", *, dtype: str = "float64",
               cc: tuple[int, int] = (9, 0), fastmath: bool = False,
               cache_dir: Any = None) -> str:
    """PTX for a generated kernel, for compute capability `cc`; needs NVVM, not a GPU.

    >>> import symnum as sn  # doctest: +SKIP
    >>> ".target sm_90" in kernel_ptx(sn.trace(lambda x: sn.exp(x), 1.0))  # doctest: +SKIP
    True
    """
    if kind == "elementwise" and not is_scalar_fn(fn):
        raise ShapeError("elementwise kernels need a Fn whose inputs are all scalars")
    mod = _load(fn, dtype, cache_dir)[0]
    sig = signature(kind, dtype, len(fn.flat_inputs))
    try:
        ptx, _ = _cuda().compile_ptx(getattr(mod, kind), sig, cc=cc, fastmath=fastmath)
    except Exception as e:
        raise CompileError(f"PTX generation failed for the {kind} kernel ({type(e).__name__}: "
                           f"{e}); the generated source is {mod.__file__}") from e
    return ptx


def lower(fn: Any, *, dtype: str = "float64", fastmath: bool = False, threads: int = 128,
          max_blocks: int | None = None, cache_dir: Any = None, **options: Any) -> CudaCompiled:
    """Compile an Fn for CUDA (numba-cuda). Needs a GPU, or the simulator
    (NUMBA_ENABLE_CUDASIM=1 set before numba is imported).

    >>> import numpy as np, symnum as sn  # doctest: +SKIP
    >>> k = lower(sn.trace(lambda x, y: np.sin(x) * y, 1.0, 2.0))  # doctest: +SKIP
    >>> k.elementwise(np.linspace(0, 1, 5), 2.0).shape  # doctest: +SKIP
    (5,)
    """
    from symnum.tracing.fn import Fn

    if not isinstance(fn, Fn) and not _is_array_fn(fn):
        raise CompileError(f"the cuda backend lowers an Fn (from symnum.trace), got "
                           f"{type(fn).__name__}; trace the function first")
    if options:
        raise CompileError(f"unknown option(s) for the cuda backend: {', '.join(options)}; "
                           "it takes dtype, fastmath, threads, max_blocks, cache_dir")
    if not 1 <= int(threads) <= 1024:
        raise CompileError(f"threads per block must be in 1..1024, got {threads}")
    cuda = _cuda()
    if not cuda.is_available():
        raise CompileError(
            "no usable CUDA GPU/driver here (numba.cuda.is_available() is False); set "
            "NUMBA_ENABLE_CUDASIM=1 before numba is imported to run on the simulator, use "
            "symnum.backends.cuda_backend.kernel_ptx for PTX only, or choose backend='numba'"
        )
    if _is_array_fn(fn):  # elementwise and stencil nests (backends.cuda_arrays)
        lower_array_fn = BACKEND.array_lower()
        return lower_array_fn(fn, sys.modules[__name__], fastmath=fastmath, threads=threads,
                              max_blocks=max_blocks, cache_dir=cache_dir)
    t0 = time.perf_counter()
    c = CudaCompiled(fn, dtype=dtype, fastmath=fastmath, threads=threads, max_blocks=max_blocks,
                     cache_dir=cache_dir, info={})
    c.info.update(simulator=simulating(), generate_seconds=time.perf_counter() - t0)
    return c


BACKEND = Backend("cuda", lower, "numba-cuda grid-stride kernels (batched, elementwise)",
                  array_lowerer="symnum.backends.cuda_arrays", checks_options=True)


def _is_array_fn(fn: Any) -> bool:
    from symnum.arrays.fn import ArrayFn

    return isinstance(fn, ArrayFn)
