"""The llvm backend for array programs (ArrayFn): LoopGen's plan → LLVM IR → object code → JIT.

The plan is backends.array_loops' (the numba backend renders the same plan as Python source);
backends.llvm_array_ir prints it as IR; compiling, the authenticated object cache and linking
are llvm_backend's; calls go through its CPython-API trampoline (backends.llvm_call): one array
in and one array out take the trampoline's `(x, out)` entry directly, anything else passes a
table of data pointers. Unlike the scalar kernels, array kernels run LLVM's IR pipeline
(`ir_opt`, default 2): their loops need mem2reg, LICM and the loop vectoriser. Never imported
by `import symnum`.
"""

from __future__ import annotations

import ctypes
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from symnum.backends import llvm_objfile
from symnum.backends.array_loops import LoopGen
from symnum.backends.cache_security import private_dir
from symnum.backends.kernel_cache import default_cache_dir
from symnum.backends.llvm_array_ir import IRRenderer, neutral_op
from symnum.backends.llvm_scratch import RUNTIME, Arena
from symnum.backends.numba_arrays import ArrayKernel

from symnum.arrays.terms import ArraySym
from symnum.errors import CompileError

_DECL = re.compile(r"@([A-Za-z_][\w.]*)\(")
_LIBC: dict[str, Any] = {}


def _libc() -> dict[str, int]:
    if "malloc" not in _LIBC:
        lib = ctypes.CDLL(None)
        for s in ("malloc", "free", "aligned_alloc"):
            _LIBC[s] = ctypes.cast(getattr(lib, s), ctypes.c_void_p).value
    return _LIBC


def _scratch_runtime(lb: Any) -> dict[str, int]:
    """Addresses of sn_take/sn_give (llvm_scratch.RUNTIME), compiled once (disk cache) and
    linked once per process."""
    if "sn_take" not in _LIBC:
        _LIBC["runtime"], addrs = lb._link(lb._cached_object(RUNTIME), {},
                                           ["sn_take", "sn_give"])
        _LIBC.update(addrs)
    return _LIBC


def _dgemm(routine: str = "dgemm") -> int:
    """The address of a BLAS routine (dgemm, dgemv) as scipy exports it to Cython
    (scipy.linalg.cython_blas)."""
    if routine not in _LIBC:
        try:
            from scipy.linalg import cython_blas
        except ImportError as e:
            raise CompileError(f"a large matrix product calls BLAS through scipy ({e}); "
                               "install scipy, or use backend='numba'") from e
        cap = cython_blas.__pyx_capi__[routine]
        api = ctypes.pythonapi
        api.PyCapsule_GetName.restype = ctypes.c_char_p
        api.PyCapsule_GetName.argtypes = [ctypes.py_object]
        api.PyCapsule_GetPointer.restype = ctypes.c_void_p
        api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        _LIBC[routine] = api.PyCapsule_GetPointer(cap, api.PyCapsule_GetName(cap))
    return _LIBC[routine]


def generate(fn: Any, fastmath: bool = False, vector_isas: tuple = (),
             scratch: bool = True) -> tuple[str, LoopGen, str, int]:
    """(IR text, the plan, the plan's text, scratch bytes) of an ArrayFn; `vector_isas`: the
    libmvec variants ((isa, lanes), …) the loop vectoriser may call for libm functions
    (vecmath); `scratch`: temporaries in one block kept across calls (backends.llvm_scratch),
    else malloc'd per call."""
    gen = LoopGen(fn, op_src=neutral_op)
    plan = gen.source()
    r = IRRenderer(gen, plan, fastmath, vector_isas, scratch)
    ir = r.render()
    return ir, gen, plan, r.scratch.size if r.scratch is not None else 0


def vector_isas(lb: Any, vecmath: bool) -> tuple:
    """The x86-64 vector-ABI widths up to this host's widest (SSE 2, AVX2 4, AVX-512 8 doubles)
    when vecmath is on and glibc has libmvec; () otherwise."""
    target = lb.simd_target("float64", vecmath, True) if vecmath else None
    if target is None or not target.libmvec:
        return ()
    order = (("b", 2), ("d", 4), ("e", 8))
    return tuple(order[:[isa for isa, _ in order].index(target.isa) + 1])


class LlvmArrayKernel(ArrayKernel):
    """A compiled ArrayFn on the llvm backend: `k(*args)` ≡ `fn(*args)`; `.source` is the IR,
    `.plan` the loop plan both backends render, `.info` what was built."""

    def __init__(self, fn: Any, call: Any, library: Any, addrs: dict, consts: list, source: str,
                 plan: str, info: dict, arena: Arena | None = None):
        self._call, self._library, self._addrs = call, library, addrs
        self.arena = arena  # the slot of its scratch block (None: no temporaries, or malloc)
        self._keep = [c.value for c in consts]  # their addresses are linked into the code
        super().__init__(fn, self._table_call, [], source, info, plan)
        self.backend = "llvm"
        self._kaddr, self._taddr = addrs["kernel"], addrs["table"]
        self._n_in = len(fn.flat_inputs)
        outs = fn.flat_outputs
        self._outs = [(tuple(getattr(o, "shape", ())), np.dtype(getattr(o, "dtype", "float64")))
                      for o in outs]
        self._scratch, self._scalar_out = np.empty(1), np.empty(1)
        f64 = np.dtype("float64")
        # one float64 array in, one float64 output: the trampoline's (x, out) entry
        self._fast = (self._one is not None and self._one[0] == f64 and self._outs[0][1] == f64)
        self._osize = int(np.prod(self._outs[0][0], dtype=np.int64)) if outs else 0
        self._oshape = self._outs[0][0] if outs else ()
        self._flat1 = self._one is not None and len(self._one[1]) == 1

    def __call__(self, *args: Any) -> Any:
        if self._fast and len(args) == 1:
            v = args[0]
            if type(v) is np.ndarray and v.dtype is self._one[0] and v.shape == self._one[1]:
                if self._flat1:
                    if not v.flags.c_contiguous:
                        v = np.ascontiguousarray(v)
                else:
                    v = v.reshape(-1)  # a view of C-contiguous data, else a copy
                if not self._out_array:  # the kernel holds the GIL: one buffer serves
                    self._call(self._kaddr, 0, 0, v, self._scalar_out)
                    return self._scalar_out[0]
                out = np.empty(self._osize)
                self._call(self._kaddr, 0, 0, v, out)
                return out.reshape(self._oshape)
        return super().__call__(*args)

    def _table_call(self, *vals: Any) -> Any:
        """The general entry: a table of data pointers (inputs, then outputs)."""
        outs = [np.empty(s, dt) for s, dt in self._outs]
        keep, ptrs = [], []
        for v in vals:
            if not isinstance(v, np.ndarray):
                v = np.array(v)
            keep.append(v)
            ptrs.append(v.ctypes.data)
        ptrs += [o.ctypes.data for o in outs]
        table = np.array(ptrs + [0], dtype=np.int64)  # ≥ 1 entry
        self._call(self._taddr, 0, 0, table.view(np.float64), self._scratch)
        res = [o if o.shape else o[()] for o in outs]
        return res[0] if self._single else tuple(res)

    def __repr__(self) -> str:
        return f"<ArrayKernel llvm of {self.fn!r}>"


def lower_array_fn(fn: Any, lb: Any, *, fastmath: bool = False, vecmath: bool | None = None,
                   opt: int = 2, ir_opt: int = 2, cache: bool = True, cache_dir: Any = None,
                   parallel: bool | None = None, scratch: bool = True,
                   **options: Any) -> LlvmArrayKernel:
    """Compile an ArrayFn into loop nests through LLVM IR. `lb` is backends.llvm_backend, which
    passes itself in (its compiler, object cache, linker and trampolines), so that this module
    never imports it back. vecmath (default True): transcendentals in vectorised loops through
    glibc's libmvec (≤ 4 ulp, benchmarks/results_issue16.md), as numpy's own SIMD ufuncs are
    vectorised approximations too; vecmath=False keeps exact scalar libm (2x slower on
    transcendental-heavy loops: the 10,000 × 100 logistic loss ran 2.0x numpy, 0.9x with it).
    scratch (default True): the kernel's temporaries live in one block allocated by its first
    call and kept (`.arena`, backends.llvm_scratch; a concurrent call allocates its own); False
    mallocs and frees them per call (glibc then hands large blocks back to the system: page
    faults on every call, benchmarks/results_issue11.md, session 4).

    >>> import numpy as np, symnum as sn
    >>> from symnum.compile import lower
    >>> f = sn.trace(lambda x: np.sum(x[1:] * x[:-1]), np.zeros(4), mode="array")
    >>> float(lower(f, "llvm", cache=False)(np.arange(4.0)))
    8.0
    """
    if options:
        raise CompileError(f"unknown option(s) for the llvm backend's array loops: "
                           f"{', '.join(options)}; it takes fastmath, opt, ir_opt, cache, "
                           "cache_dir, vecmath, scratch")
    if parallel:
        raise CompileError("the llvm backend's array loops run on one thread; for parallel "
                           "outer loops use backend='numba' with parallel=True")
    t0 = time.perf_counter()
    isas = vector_isas(lb, True if vecmath is None else vecmath)
    ir, gen, plan, nbytes = generate(fn, fastmath, isas, scratch)
    t1 = time.perf_counter()
    key = lb.cache_key(ir, opt, ir_opt)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if cache:
        directory = private_dir(directory)
    path = directory / f"{key}.o"
    obj = llvm_objfile.read_cached(path) if cache else None
    hit = obj is not None
    if obj is None:
        obj = lb.compile_object(ir, opt, ir_opt, key=key, cache_dir=directory if cache else None)
        if cache:
            llvm_objfile.write_cached(path, obj)
    t2 = time.perf_counter()
    symbols: dict[str, int] = {}
    for name in set(_DECL.findall("\n".join(ln for ln in ir.splitlines()
                                            if ln.startswith("declare")))):
        if name.startswith("llvm."):
            continue
        if name in ("sn_dgemm", "sn_dgemv"):
            symbols[name] = _dgemm(name.removeprefix("sn_"))
        elif name in ("malloc", "free", "sn_malloc", "aligned_alloc"):  # sn_malloc: malloc
            symbols[name] = _libc()[name.removeprefix("sn_")]
        elif name in ("sn_take", "sn_give"):
            symbols[name] = _scratch_runtime(lb)[name]
        elif name.startswith(lb.CALLBACK_PREFIX):
            symbols[name] = lb.callback_address(name)
        else:  # libm (sn_v_exp: libm's exp under a name LLVM leaves alone), libmvec
            addr = lb._symbol_address(name.removeprefix("sn_v_"))
            if addr is not None:
                symbols[name] = addr
    for k, c in enumerate(gen.consts):
        symbols[f"sn_c{k}"] = c.value.ctypes.data
    slot = Arena(nbytes) if nbytes else None
    if slot is not None:
        symbols["sn_arena"] = slot.address
    try:
        library, addrs = lb._link(obj, symbols, ["kernel", "table"])
    except RuntimeError as e:
        llvm_objfile.fail("linking the object code", e, ir, key, directory if cache else None)
    (call, _), via = lb._trampolines("float64")
    info = {"cache_hit": hit, "key": key, "materialised": len(gen.material), "call": via,
            "opt": opt, "ir_opt": ir_opt, "scratch_bytes": nbytes,
            "vecmath": [f"{i}{n}" for i, n in isas],
            "plan_seconds": t1 - t0, "codegen_seconds": t2 - t1,
            "compile_seconds": time.perf_counter() - t0,
            "inputs": [leaf.name for leaf in fn.flat_inputs if isinstance(leaf, ArraySym)]}
    return LlvmArrayKernel(fn, call, library, addrs, gen.consts, ir, plan, info, slot)
