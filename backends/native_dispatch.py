"""The compiled front of `symnum.compile`'s call path: one machine-code dispatcher per compiled
function, a CPython builtin (METH_FASTCALL | METH_KEYWORDS) written in LLVM IR.

backends.dispatch writes a Python function that recognises a compiled function's known argument
signatures and calls the raw kernels; its one Python frame and exact-type tests cost 0.3–0.6 µs,
more than numba's own dispatcher (0.2 µs for a scalar, 0.7 µs for a small array). This module
compiles the same tests — exact `float`/`int`/`numpy.float64` types, exact ndarrays of float64
with the signature's shape, C-contiguous, aligned, native byte order — into machine code that
reads the arguments in place, packs them on the stack (or hands a contiguous array's buffer over
as it is), calls the llvm kernel, and boxes the result (a numpy float64 scalar, as numpy
gives, or a new ndarray, both from numpy's own C API). Anything else — another signature, a
keyword, a pytree, None — goes to the Python dispatcher it wraps, unchanged (that one falls
back to the slow path, which raises the typed errors), so this front only ever adds speed.

The IR holds no addresses: the kernels' addresses and the fallback live in a small uint64 numpy
array that is the builtin's `self`, so the object code depends only on the signatures' shapes and
is cached on disk like the call trampolines (one LLVM compile per new combination of shapes).
Reads CPython's and numpy's structs at their documented offsets, each checked on live objects
first (backends.llvm_call); where a check fails, or on an interpreter it does not know, `wrap`
returns None and the Python dispatcher is used. Never imports numba; never traces or lowers.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np
from symnum.backends import llvm_call

MAX_STACK = 512  # inputs/outputs packed on the machine stack (float64 values); larger: Python
_NPY_DOUBLE = 12
_OFF = llvm_call._OFF
_FLAGS = llvm_call._C_CONTIGUOUS | llvm_call._ALIGNED
_API = ("PyObject_Vectorcall", "PyLong_AsDouble", "PyErr_Occurred",
        "PyErr_Clear", "PyTuple_New", "Py_DecRef")
_STATE: dict[str, Any] = {}


def _numpy_api() -> dict[str, int] | None:
    """numpy's PyArray_New and PyArray_Scalar (slots 93 and 60 of its C-API table), each
    checked by calling it once."""
    try:
        from numpy._core import _multiarray_umath as mu
    except ImportError:  # numpy 1.x
        from numpy.core import _multiarray_umath as mu  # type: ignore[no-redef]
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    try:
        table = ctypes.cast(get(mu._ARRAY_API, None), ctypes.POINTER(ctypes.c_void_p))
    except (AttributeError, ValueError):
        return None
    f64 = np.dtype(np.float64)
    if table[2] != id(np.ndarray) or np.ones(1).dtype is not f64:  # not the table we know
        return None
    proto = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_int,
                              ctypes.POINTER(ctypes.c_ssize_t), ctypes.c_int, ctypes.c_void_p,
                              ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
    dims = (ctypes.c_ssize_t * 2)(2, 3)
    a = proto(table[93])(id(np.ndarray), 2, dims, _NPY_DOUBLE, None, None, 0, 0, None)
    if type(a) is not np.ndarray or a.shape != (2, 3) or a.dtype != np.float64 \
            or not a.flags.c_contiguous:
        return None
    scalar = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_void_p)
    v = ctypes.c_double(2.75)
    x = scalar(table[60])(ctypes.addressof(v), id(f64), None)
    if type(x) is not np.float64 or x != 2.75:
        return None
    return {"PyArray_New": table[93], "PyArray_Scalar": table[60], "sn_f64_descr": id(f64)}


def _layout_ok() -> bool:
    """Python floats, numpy float64 scalars and tuples are where the IR reads them."""
    try:
        x, y, t = 1.25, np.float64(2.5), (1.0, 2.0)
        return (ctypes.c_double.from_address(id(x) + 16).value == x
                and ctypes.c_double.from_address(id(y) + 16).value == y
                and ctypes.c_void_p.from_address(id(t) + 24).value == id(t[0])
                and ctypes.c_void_p.from_address(id(x) + 8).value == id(float)
                and llvm_call._layout_ok("float64"))
    except (ValueError, OSError):
        return False


def _symbols() -> dict[str, int] | None:
    if "symbols" not in _STATE:
        syms = None
        if llvm_call.supported() and all(hasattr(ctypes.pythonapi, s) for s in _API) \
                and _layout_ok():
            npapi = _numpy_api()
            if npapi is not None:
                syms = {s: ctypes.cast(getattr(ctypes.pythonapi, s), ctypes.c_void_p).value
                        for s in _API}
                syms.update(npapi)
                syms.update({"sn_ndarray_type": id(np.ndarray),
                             "sn_float_type": id(float), "sn_long_type": id(int),
                             "sn_f64_type": id(np.float64)})
        _STATE["symbols"] = syms
    return _STATE["symbols"]


def eligible(compiled: Any, specs: list) -> bool:
    """Whether one signature can be dispatched in machine code: a float64 kernel with a C entry
    `void kernel(double *x, double *out)` (llvm's own; numba's through a cfunc), plain
    float/int/float64/array arguments, a leaf or a flat tuple of leaves out, small enough to pack
    on the stack (or one array handed over as it is)."""
    if getattr(compiled, "backend", "") not in ("llvm", "numba") \
            or getattr(compiled, "dtype", None) != np.float64 \
            or getattr(compiled, "_address", None) is None \
            or not hasattr(compiled, "_out_slices"):
        return False
    for s in specs:
        if s[0] in ("static", "tree") or (s[0] == "np" and s[1] is not np.float64) \
                or (s[0] == "array" and s[2] != np.float64):
            return False
    td = compiled.fn.out_tree
    if td.kind != "leaf" and not compiled._flat_tuple_out:
        return False
    direct = _direct(compiled, specs)
    one_array_out = td.kind == "leaf" and compiled._out_slices[0][2] != ()
    return ((direct or compiled.n_in <= MAX_STACK)
            and (one_array_out or compiled.n_out <= MAX_STACK))


def raw_front(compiled: Any, compile_object: Callable, link: Callable) -> Any:
    """The machine-code front of a raw kernel's own call (its traced signature), or None."""
    specs = raw_specs(compiled)
    if specs is None:
        return None
    return wrap([(compiled, specs)], compiled._call_py, len(specs), compile_object, link)


def raw_specs(compiled: Any) -> list | None:
    """The specs of a raw kernel's own arguments (its traced inputs: a real number for each
    scalar, a float64 array of the traced shape for each array); None for pytree inputs."""
    td = compiled.fn.in_tree
    if td.kind != "tuple" or any(c.kind != "leaf" for c in td.children):
        return None
    return [("num",) if np.shape(leaf) == () else ("array", np.shape(leaf), np.dtype(np.float64))
            for leaf in compiled.fn.inputs]


def _direct(compiled: Any, specs: list) -> bool:
    """One array argument holding exactly the kernel's inputs: its buffer is the input vector."""
    return (len(specs) == 1 and specs[0][0] == "array" and len(specs[0][1]) >= 1
            and int(np.prod(specs[0][1])) == compiled.n_in)


def _ld(dst: str, ptr: str, off: int, ty: str, tag: str) -> list[str]:
    return [f"  %{tag}.g = getelementptr i8, i8* {ptr}, i64 {off}",
            f"  %{tag}.c = bitcast i8* %{tag}.g to {ty}*",
            f"  %{dst} = load {ty}, {ty}* %{tag}.c"]


def _arg_test(p: str, arg: str, s: tuple, fail: str) -> list[str]:
    """IR testing one argument against its spec; defines %{p}.v (double) for scalars and
    %{p}.data (i8*) for arrays."""
    lines = _ld(f"{p}.ty", arg, _OFF["type"], "i8*", f"{p}.t")
    ok = f"{p}.ok"
    if s[0] in ("float", "np"):
        ty = "@sn_float_type" if s[0] == "float" else "@sn_f64_type"
        return lines + [f"  %{p}.is = icmp eq i8* %{p}.ty, {ty}",
                        f"  br i1 %{p}.is, label %{ok}, label %{fail}", f"{ok}:"] + \
            _ld(f"{p}.v", arg, 16, "double", f"{p}.f")
    if s[0] == "num":  # a Python float or int, a numpy float64 scalar or 0-d float64 array
        return lines + [f"  %{p}.isf = icmp eq i8* %{p}.ty, @sn_float_type",
                        f"  %{p}.isn = icmp eq i8* %{p}.ty, @sn_f64_type",
                        f"  %{p}.isfn = or i1 %{p}.isf, %{p}.isn",
                        f"  br i1 %{p}.isfn, label %{p}.fl, label %{p}.ni", f"{p}.fl:"] + \
            _ld(f"{p}.vf", arg, 16, "double", f"{p}.ff") + [
                f"  br label %{ok}", f"{p}.ni:",
                f"  %{p}.isi = icmp eq i8* %{p}.ty, @sn_long_type",
                f"  br i1 %{p}.isi, label %{p}.cv, label %{p}.nz", f"{p}.cv:",
                f"  %{p}.vi = call double @PyLong_AsDouble(i8* {arg})",
                f"  %{p}.m1 = fcmp oeq double %{p}.vi, -1.0",
                f"  br i1 %{p}.m1, label %{p}.er, label %{p}.iok", f"{p}.er:",
                f"  %{p}.e = call i8* @PyErr_Occurred()",
                f"  %{p}.ise = icmp ne i8* %{p}.e, null",
                f"  br i1 %{p}.ise, label %{p}.clr, label %{p}.iok", f"{p}.clr:",
                "  call void @PyErr_Clear()", f"  br label %{fail}",
                f"{p}.iok:", f"  br label %{ok}", f"{p}.nz:"] + \
            _arg_test(f"{p}z", arg, ("array", (), np.dtype(np.float64)), fail) + [
                f"  %{p}.zp = bitcast i8* %{p}z.data to double*",
                f"  %{p}.vz = load double, double* %{p}.zp",
                f"  br label %{ok}", f"{ok}:",
                f"  %{p}.v = phi double [%{p}.vf, %{p}.fl], [%{p}.vi, %{p}.iok], "
                f"[%{p}.vz, %{p}z.ok]"]
    if s[0] == "int":
        return lines + [f"  %{p}.is = icmp eq i8* %{p}.ty, @sn_long_type",
                        f"  br i1 %{p}.is, label %{p}.cv, label %{fail}", f"{p}.cv:",
                        f"  %{p}.v = call double @PyLong_AsDouble(i8* {arg})",
                        f"  %{p}.m1 = fcmp oeq double %{p}.v, -1.0",
                        f"  br i1 %{p}.m1, label %{p}.er, label %{ok}", f"{p}.er:",
                        f"  %{p}.e = call i8* @PyErr_Occurred()",
                        f"  %{p}.ise = icmp ne i8* %{p}.e, null",
                        f"  br i1 %{p}.ise, label %{p}.clr, label %{ok}", f"{p}.clr:",
                        "  call void @PyErr_Clear()", f"  br label %{fail}", f"{ok}:"]
    shape = tuple(int(d) for d in s[1])
    lines += [f"  %{p}.is = icmp eq i8* %{p}.ty, @sn_ndarray_type",
              f"  br i1 %{p}.is, label %{p}.a, label %{fail}", f"{p}.a:"]
    lines += _ld(f"{p}.nd", arg, _OFF["nd"], "i32", f"{p}.n")
    lines += _ld(f"{p}.fl", arg, _OFF["flags"], "i32", f"{p}.l")
    lines += _ld(f"{p}.de", arg, _OFF["descr"], "i8*", f"{p}.d")
    lines += _ld(f"{p}.tn", f"%{p}.de", _OFF["type_num"], "i32", f"{p}.tnl")
    lines += _ld(f"{p}.bo", f"%{p}.de", _OFF["byteorder"], "i8", f"{p}.bol")
    lines += [f"  %{p}.c1 = icmp eq i32 %{p}.nd, {len(shape)}",
              f"  %{p}.fm = and i32 %{p}.fl, {_FLAGS}",
              f"  %{p}.c2 = icmp eq i32 %{p}.fm, {_FLAGS}",
              f"  %{p}.c3 = icmp eq i32 %{p}.tn, {_NPY_DOUBLE}",
              f"  %{p}.c4 = icmp ne i8 %{p}.bo, {ord('>')}",  # '>': swapped on this host
              f"  %{p}.c12 = and i1 %{p}.c1, %{p}.c2",
              f"  %{p}.c34 = and i1 %{p}.c3, %{p}.c4",
              f"  %{p}.cc = and i1 %{p}.c12, %{p}.c34",
              f"  br i1 %{p}.cc, label %{p}.sh, label %{fail}", f"{p}.sh:"]
    lines += _ld(f"{p}.dims", arg, _OFF["dims"], "i64*", f"{p}.dm")
    conds = []
    for j, d in enumerate(shape):
        lines += [f"  %{p}.dp{j} = getelementptr i64, i64* %{p}.dims, i64 {j}",
                  f"  %{p}.d{j} = load i64, i64* %{p}.dp{j}",
                  f"  %{p}.e{j} = icmp eq i64 %{p}.d{j}, {d}"]
        conds.append(f"%{p}.e{j}")
    acc = "true"
    for j, c in enumerate(conds):
        lines.append(f"  %{p}.all{j} = and i1 {acc}, {c}")
        acc = f"%{p}.all{j}"
    lines += [f"  br i1 {acc}, label %{ok}, label %{fail}", f"{ok}:"]
    return lines + _ld(f"{p}.data", arg, _OFF["data"], "i8*", f"{p}.da")


def _box_array(p: str, shape: tuple, consts: list[str]) -> list[str]:
    """A new C-contiguous float64 ndarray of `shape` in %{p}.arr (null → return null) and its
    buffer in %{p}.buf."""
    g = f"@{p}.shape"
    consts.append(f"{g} = private unnamed_addr constant [{max(len(shape), 1)} x i64] "
                  f"[{', '.join(f'i64 {int(d)}' for d in shape) or 'i64 0'}]")
    return [f"  %{p}.dp = getelementptr [{max(len(shape), 1)} x i64], "
            f"[{max(len(shape), 1)} x i64]* {g}, i64 0, i64 0",
            f"  %{p}.arr = call i8* @PyArray_New(i8* @sn_ndarray_type, i32 {len(shape)}, "
            f"i64* %{p}.dp, i32 {_NPY_DOUBLE}, i64* null, i8* null, i32 0, i32 0, i8* null)",
            f"  %{p}.nul = icmp eq i8* %{p}.arr, null",
            f"  br i1 %{p}.nul, label %raised, label %{p}.okb", f"{p}.okb:"] + \
        _ld(f"{p}.buf", f"%{p}.arr", _OFF["data"], "i8*", f"{p}.bl")


def _entry(k: int, c: Any, specs: list, nxt: str, consts: list[str]) -> list[str]:
    lines = [f"e{k}:"]
    for i, s in enumerate(specs):
        lines += [f"  %e{k}a{i}.p = getelementptr i8*, i8** %args, i64 {i}",
                  f"  %e{k}a{i} = load i8*, i8** %e{k}a{i}.p"]
        lines += _arg_test(f"e{k}a{i}", f"%e{k}a{i}", s, nxt)
    lines += [f"  %e{k}.kp = getelementptr i64, i64* %tbl, i64 {k + 1}",
              f"  %e{k}.ka = load i64, i64* %e{k}.kp",
              f"  %e{k}.fn = inttoptr i64 %e{k}.ka to void (i8*, i8*)*"]
    if _direct(c, specs):
        x = f"%e{k}a0.data"
    else:
        pos = 0
        for i, s in enumerate(specs):
            q = f"%e{k}x{i}"
            lines.append(f"  {q} = getelementptr double, double* %xbuf, i64 {pos}")
            if s[0] != "array":
                lines.append(f"  store double %e{k}a{i}.v, double* {q}")
                pos += 1
                continue
            size = int(np.prod(s[1], dtype=np.int64))
            lines += [f"  {q}.b = bitcast double* {q} to i8*",
                      f"  call void @llvm.memcpy.p0i8.p0i8.i64(i8* {q}.b, i8* %e{k}a{i}.data, "
                      f"i64 {8 * size}, i1 false)"]
            pos += size
        lines.append(f"  %e{k}.x = bitcast double* %xbuf to i8*")
        x = f"%e{k}.x"
    slices = c._out_slices
    if c.fn.out_tree.kind == "leaf" and slices[0][2] != ():
        lines += _box_array(f"e{k}o", slices[0][2], consts)
        lines += [f"  call void %e{k}.fn(i8* {x}, i8* %e{k}o.buf)", f"  ret i8* %e{k}o.arr"]
        return lines
    lines += [f"  %e{k}.ob = bitcast double* %obuf to i8*",
              f"  call void %e{k}.fn(i8* {x}, i8* %e{k}.ob)"]

    def box(j: int, a: int, b: int, shape: tuple) -> tuple[list[str], str]:
        p = f"e{k}r{j}"
        if shape == ():
            return [f"  %{p}.vp = getelementptr double, double* %obuf, i64 {a}",
                    f"  %{p}.v8 = bitcast double* %{p}.vp to i8*",
                    f"  %{p}.o = call i8* @PyArray_Scalar(i8* %{p}.v8, i8* @sn_f64_descr, "
                    "i8* null)",
                    f"  %{p}.nul = icmp eq i8* %{p}.o, null",
                    f"  br i1 %{p}.nul, label %{p}.fail, label %{p}.ok", f"{p}.ok:"], f"%{p}.o"
        out = _box_array(p, shape, consts)
        # an allocation failure after the tuple exists must drop the tuple: its own branch
        out = [ln.replace("label %raised", f"label %{p}.fail") for ln in out]
        out += [f"  %{p}.src = getelementptr double, double* %obuf, i64 {a}",
                f"  %{p}.s8 = bitcast double* %{p}.src to i8*",
                f"  call void @llvm.memcpy.p0i8.p0i8.i64(i8* %{p}.buf, i8* %{p}.s8, "
                f"i64 {8 * (b - a)}, i1 false)"]
        return out, f"%{p}.arr"

    if c.fn.out_tree.kind == "leaf":
        body, v = box(0, *slices[0])
        fails = [f"e{k}r0.fail:", "  ret i8* null"]
        return lines + body + [f"  ret i8* {v}"] + fails
    lines += [f"  %e{k}.tup = call i8* @PyTuple_New(i64 {len(slices)})",
              f"  %e{k}.tn = icmp eq i8* %e{k}.tup, null",
              f"  br i1 %e{k}.tn, label %raised, label %e{k}.tok", f"e{k}.tok:"]
    fails = []
    for j, sl in enumerate(slices):
        body, v = box(j, *sl)
        lines += body + [
            f"  %e{k}r{j}.slot = getelementptr i8, i8* %e{k}.tup, i64 {24 + 8 * j}",
            f"  %e{k}r{j}.sp = bitcast i8* %e{k}r{j}.slot to i8**",
            f"  store i8* {v}, i8** %e{k}r{j}.sp"]
        fails += [f"e{k}r{j}.fail:", f"  call void @Py_DecRef(i8* %e{k}.tup)", "  ret i8* null"]
    return lines + [f"  ret i8* %e{k}.tup"] + fails


def dispatcher_ir(entries: list[tuple[Any, list]], n_params: int) -> str:
    """The module: `sn_dispatch(self, args, nargs, kwnames)` testing each (compiled, specs) entry
    in order, else calling the fallback (self's table entry 0) with the same arguments."""
    consts: list[str] = []
    n_in = max([0] + [c.n_in for c, s in entries if not _direct(c, s)])
    n_out = max([1] + [c.n_out for c, _ in entries])
    body = [
        "define i8* @sn_dispatch(i8* %self, i8** %args, i64 %nargs, i8* %kwnames) {",
        "entry:",
        f"  %xbuf = alloca double, i64 {max(n_in, 1)}, align 16",
        f"  %obuf = alloca double, i64 {n_out}, align 16",
    ]
    body += _ld("tbl8", "%self", _OFF["data"], "i8*", "tb")
    body += ["  %tbl = bitcast i8* %tbl8 to i64*",
             "  %nokw = icmp eq i8* %kwnames, null",
             f"  %nn = icmp eq i64 %nargs, {n_params}",
             "  %go = and i1 %nokw, %nn",
             "  br i1 %go, label %e0, label %fallback"]
    for k, (c, specs) in enumerate(entries):
        nxt = f"e{k + 1}" if k + 1 < len(entries) else "fallback"
        body += _entry(k, c, specs, nxt, consts)
    body += ["fallback:",
             "  %fb = load i64, i64* %tbl",
             "  %fbp = inttoptr i64 %fb to i8*",
             "  %r = call i8* @PyObject_Vectorcall(i8* %fbp, i8** %args, i64 %nargs, "
             "i8* %kwnames)",
             "  ret i8* %r",
             "raised:",
             "  ret i8* null",
             "}"]
    head = [f"@{s} = external global i8" for s in
            ("sn_ndarray_type", "sn_float_type", "sn_long_type", "sn_f64_type",
             "sn_f64_descr")]
    head += ["declare i8* @PyObject_Vectorcall(i8*, i8**, i64, i8*)",
             "declare i8* @PyArray_Scalar(i8*, i8*, i8*)",
             "declare double @PyLong_AsDouble(i8*)",
             "declare i8* @PyErr_Occurred()",
             "declare void @PyErr_Clear()",
             "declare i8* @PyTuple_New(i64)",
             "declare void @Py_DecRef(i8*)",
             "declare i8* @PyArray_New(i8*, i32, i64*, i32, i64*, i8*, i32, i32, i8*)",
             "declare void @llvm.memcpy.p0i8.p0i8.i64(i8*, i8*, i64, i1)"]
    return "\n".join(head + consts + [""] + body) + "\n"


class _Table(np.ndarray):
    """The builtin's `self`: [fallback, kernel addresses...] as uint64 (the IR reads its buffer),
    holding in `keep` what must live as long as the builtin: its method definition (CPython
    does not own it), the fallback and the kernels whose machine code the addresses point into."""

    keep: tuple


def wrap(entries: list[tuple[Any, list]], fallback: Any, n_params: int,
         compile_object: Callable[[str], bytes], link: Callable) -> Any:
    """A builtin that dispatches the eligible `(compiled, specs)` entries (in order) in
    machine code and hands every other call to `fallback`; None where this host is not
    supported, no entry is eligible or LLVM fails. `compile_object(ir) → object code` and `link(obj,
    symbols, exports) → (keep-alive, {export: address})` are the llvm backend's."""
    chosen = [(c, s) for c, s in entries if eligible(c, s)]
    syms = _symbols()
    if not chosen or syms is None:
        return None
    ir = dispatcher_ir(chosen, n_params)
    lib = _STATE.get(ir)
    if lib is None:
        try:
            lib = _STATE[ir] = link(compile_object(ir), syms, ["sn_dispatch"])
        except (RuntimeError, OSError, ValueError):  # an LLVM or linker failure: stay in Python
            return None
    table = np.array([id(fallback)] + [c._address for c, _ in chosen],
                     dtype=np.uint64).view(_Table)
    md = llvm_call._MethodDef(b"compiled", lib[1]["sn_dispatch"],
                              llvm_call._METH_FASTCALL | _METH_KEYWORDS, None)
    table.keep = (md, fallback, [c for c, _ in chosen])
    new = ctypes.pythonapi.PyCFunction_NewEx
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.c_void_p]
    return new(ctypes.addressof(md), table, None)


_METH_KEYWORDS = 0x2
