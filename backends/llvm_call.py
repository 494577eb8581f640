"""Calling llvm-backend kernels from Python without numba: CPython-API trampolines in LLVM IR.

`kernel(addr, n_in, n_out, x, out)` and `batched(addr, n_in, n_out, X, OUT)` as builtin
functions (METH_FASTCALL) whose machine code checks the arguments (exact numpy arrays of the
dtype, C-contiguous, aligned, native byte order, `out` writeable, the right shapes; a ShapeError
otherwise) and calls the kernel at `addr` (batched: with the GIL released). ~0.1 µs a call, like
numba's trampolines, without importing numba (1-2 s on a process's first compile: numba, its
target registries and, through its BLAS check, scipy.linalg). Reads numpy's array and descriptor
structs at their documented offsets (ndarraytypes.h, unchanged from numpy 1.x to 2.x) and checks
those offsets on a live array before it is used; on anything else (not CPython, a free-threaded
build, a failed check) `trampolines` returns None and the backend falls back to numba or ctypes.
Sits below llvm_backend (which passes its compiler and linker in); never imports numba.
"""

from __future__ import annotations

import ctypes
import sys
import sysconfig
from collections.abc import Callable
from typing import Any

import numpy as np

from symnum.errors import ShapeError

# PyObject: ob_refcnt @0, ob_type @8. PyArrayObject_fields: data @16, nd @24 (int),
# dimensions @32, descr @56, flags @64 (int). PyArray_Descr: byteorder @26 (char),
# type_num @28 (int).
_OFF = {"type": 8, "data": 16, "nd": 24, "dims": 32, "descr": 56, "flags": 64,
        "byteorder": 26, "type_num": 28}
_C_CONTIGUOUS, _ALIGNED, _WRITEABLE = 0x1, 0x100, 0x400
_TYPE_NUM = {"float64": 12, "float32": 11}  # NPY_DOUBLE, NPY_FLOAT
_METH_FASTCALL = 0x80
_PYAPI = ("PyLong_AsVoidPtr", "PyLong_AsSsize_t", "PyErr_SetString", "PyErr_Occurred",
          "Py_NewRef", "PyEval_SaveThread", "PyEval_RestoreThread")


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


def _layout_ok(dtype: str) -> bool:
    """numpy's structs are where this module reads them (checked on live arrays)."""
    a = np.zeros((3, 2), dtype=dtype)[:, :1]  # 2-D, not C-contiguous
    b = np.zeros(5, dtype=dtype)
    b.flags.writeable = False

    def at(obj: Any, off: int, ty: Any) -> Any:
        return ty.from_address(id(obj) + off).value

    try:
        for arr in (a, b):
            descr = at(arr, _OFF["descr"], ctypes.c_void_p)
            if (at(arr, _OFF["type"], ctypes.c_void_p) != id(np.ndarray)
                    or at(arr, _OFF["data"], ctypes.c_void_p) != arr.ctypes.data
                    or at(arr, _OFF["nd"], ctypes.c_int) != arr.ndim
                    or ctypes.c_int.from_address(descr + _OFF["type_num"]).value
                    != _TYPE_NUM[dtype]):
                return False
            dims = at(arr, _OFF["dims"], ctypes.c_void_p)
            if list((ctypes.c_ssize_t * arr.ndim).from_address(dims)) != list(arr.shape):
                return False
            flags = at(arr, _OFF["flags"], ctypes.c_int)
            if (bool(flags & _C_CONTIGUOUS) != arr.flags.c_contiguous
                    or bool(flags & _WRITEABLE) != arr.flags.writeable):
                return False
    except (ValueError, OSError):
        return False
    return True


def _array_check(p: str, arg: str, ndim: int, dtype: str, writeable: bool, fail: str) -> list[str]:
    """IR lines checking that `arg` is an ndarray of `ndim` dims fit to pass; leaves
    %{p}.data (i8*) and %{p}.d0 (and %{p}.d1 for 2-D) defined."""
    flags = _C_CONTIGUOUS | _ALIGNED | (_WRITEABLE if writeable else 0)
    o = _OFF
    return [
        f"  %{p}.pt = getelementptr i8, i8* {arg}, i64 {o['type']}",
        f"  %{p}.pt2 = bitcast i8* %{p}.pt to i8**",
        f"  %{p}.ty = load i8*, i8** %{p}.pt2",
        f"  %{p}.isarr = icmp eq i8* %{p}.ty, @sn_ndarray_type",
        f"  br i1 %{p}.isarr, label %{p}.arr, label %{fail}",
        f"{p}.arr:",
        f"  %{p}.pnd = getelementptr i8, i8* {arg}, i64 {o['nd']}",
        f"  %{p}.pnd2 = bitcast i8* %{p}.pnd to i32*",
        f"  %{p}.nd = load i32, i32* %{p}.pnd2",
        f"  %{p}.ndok = icmp eq i32 %{p}.nd, {ndim}",
        f"  %{p}.pfl = getelementptr i8, i8* {arg}, i64 {o['flags']}",
        f"  %{p}.pfl2 = bitcast i8* %{p}.pfl to i32*",
        f"  %{p}.fl = load i32, i32* %{p}.pfl2",
        f"  %{p}.flm = and i32 %{p}.fl, {flags}",
        f"  %{p}.flok = icmp eq i32 %{p}.flm, {flags}",
        f"  %{p}.pde = getelementptr i8, i8* {arg}, i64 {o['descr']}",
        f"  %{p}.pde2 = bitcast i8* %{p}.pde to i8**",
        f"  %{p}.de = load i8*, i8** %{p}.pde2",
        f"  %{p}.ptn = getelementptr i8, i8* %{p}.de, i64 {o['type_num']}",
        f"  %{p}.ptn2 = bitcast i8* %{p}.ptn to i32*",
        f"  %{p}.tn = load i32, i32* %{p}.ptn2",
        f"  %{p}.tnok = icmp eq i32 %{p}.tn, {_TYPE_NUM[dtype]}",
        f"  %{p}.pbo = getelementptr i8, i8* %{p}.de, i64 {o['byteorder']}",
        f"  %{p}.bo = load i8, i8* %{p}.pbo",
        f"  %{p}.book = icmp ne i8 %{p}.bo, {ord('>') if sys.byteorder == 'little' else ord('<')}",
        f"  %{p}.ok1 = and i1 %{p}.ndok, %{p}.flok",
        f"  %{p}.ok2 = and i1 %{p}.tnok, %{p}.book",
        f"  %{p}.ok = and i1 %{p}.ok1, %{p}.ok2",
        f"  br i1 %{p}.ok, label %{p}.good, label %{fail}",
        f"{p}.good:",
        f"  %{p}.pda = getelementptr i8, i8* {arg}, i64 {o['data']}",
        f"  %{p}.pda2 = bitcast i8* %{p}.pda to i8**",
        f"  %{p}.data = load i8*, i8** %{p}.pda2",
        f"  %{p}.pdi = getelementptr i8, i8* {arg}, i64 {o['dims']}",
        f"  %{p}.pdi2 = bitcast i8* %{p}.pdi to i64**",
        f"  %{p}.dims = load i64*, i64** %{p}.pdi2",
        f"  %{p}.d0 = load i64, i64* %{p}.dims",
    ] + ([f"  %{p}.pd1 = getelementptr i64, i64* %{p}.dims, i64 1",
          f"  %{p}.d1 = load i64, i64* %{p}.pd1"] if ndim == 2 else [])


def _function(name: str, dtype: str, batched: bool) -> list[str]:
    nd = 2 if batched else 1
    msg = "@msg.b" if batched else "@msg.k"
    lines = [
        f"define i8* @{name}(i8* %self, i8** %args, i64 %nargs) {{",
        "entry:",
        "  %nok = icmp eq i64 %nargs, 5",
        "  br i1 %nok, label %ints, label %bad",
        "ints:",
    ]
    for i, v in enumerate(("a0", "a1", "a2", "a3", "a4")):
        lines += [f"  %p{v} = getelementptr i8*, i8** %args, i64 {i}",
                  f"  %{v} = load i8*, i8** %p{v}"]
    lines += [
        "  %addr = call i8* @PyLong_AsVoidPtr(i8* %a0)",
        "  %nin = call i64 @PyLong_AsSsize_t(i8* %a1)",
        "  %nout = call i64 @PyLong_AsSsize_t(i8* %a2)",
        "  %e = call i8* @PyErr_Occurred()",
        "  %haserr = icmp ne i8* %e, null",
        "  br i1 %haserr, label %raised, label %checks",
        "checks:",
    ]
    lines += _array_check("x", "%a3", nd, dtype, False, "bad")
    lines += _array_check("o", "%a4", nd, dtype, True, "bad")
    if batched:  # X (rows, n_in), OUT (rows, n_out)
        lines += [
            "  %s1 = icmp eq i64 %x.d1, %nin",
            "  %s2 = icmp eq i64 %o.d0, %x.d0",
            "  %s3 = icmp eq i64 %o.d1, %nout",
            "  %s12 = and i1 %s1, %s2",
            "  %sok = and i1 %s12, %s3",
            "  br i1 %sok, label %call, label %bad",
            "call:",
            "  %fn = bitcast i8* %addr to void (i8*, i8*, i64)*",
            "  %ts = call i8* @PyEval_SaveThread()",
            "  call void %fn(i8* %x.data, i8* %o.data, i64 %x.d0)",
            "  call void @PyEval_RestoreThread(i8* %ts)",
        ]
    else:  # x has ≥ n_in values, out ≥ n_out
        lines += [
            "  %s1 = icmp sge i64 %x.d0, %nin",
            "  %s2 = icmp sge i64 %o.d0, %nout",
            "  %sok = and i1 %s1, %s2",
            "  br i1 %sok, label %call, label %bad",
            "call:",
            "  %fn = bitcast i8* %addr to void (i8*, i8*)*",
            "  call void %fn(i8* %x.data, i8* %o.data)",
        ]
    lines += [
        "  %none = call i8* @Py_NewRef(i8* @sn_none)",
        "  ret i8* %none",
        "bad:",
        f"  call void @PyErr_SetString(i8* @sn_shape_error, i8* getelementptr ([{_MSG_LEN[batched]}"
        f" x i8], [{_MSG_LEN[batched]} x i8]* {msg}, i64 0, i64 0))",
        "  ret i8* null",
        "raised:",
        "  ret i8* null",
        "}",
        "",
    ]
    return lines


_MSGS = {
    False: "kernel(x, out): x and out must be C-contiguous {dtype} vectors (out writeable) of "
           "at least the kernel's inputs/outputs",
    True: "batched(X, OUT): X must be a C-contiguous (rows, n_in) {dtype} array and OUT a "
          "writeable C-contiguous (rows, n_out) one",
}
_MSG_LEN: dict[bool, int] = {}


def trampoline_ir(dtype: str) -> str:
    """The module: `sn_call_kernel` and `sn_call_batched` (METH_FASTCALL functions)."""
    lines = [
        "@sn_ndarray_type = external global i8",
        "@sn_none = external global i8",
        "@sn_shape_error = external global i8",
    ]
    for b, m in _MSGS.items():
        text = m.format(dtype=dtype).encode() + b"\0"
        _MSG_LEN[b] = len(text)
        esc = "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else f"\\{c:02X}" for c in text)
        lines.append(f'@msg.{"b" if b else "k"} = private unnamed_addr constant '
                     f'[{len(text)} x i8] c"{esc}"')
    lines += [
        "declare i8* @PyLong_AsVoidPtr(i8*)",
        "declare i64 @PyLong_AsSsize_t(i8*)",
        "declare void @PyErr_SetString(i8*, i8*)",
        "declare i8* @PyErr_Occurred()",
        "declare i8* @Py_NewRef(i8*)",
        "declare i8* @PyEval_SaveThread()",
        "declare void @PyEval_RestoreThread(i8*)",
        "",
    ]
    lines += _function("sn_call_kernel", dtype, False)
    lines += _function("sn_call_batched", dtype, True)
    return "\n".join(lines)


def supported() -> bool:
    """CPython with the GIL, on a 64-bit little-endian-agnostic host this module reads."""
    return (sys.implementation.name == "cpython" and ctypes.sizeof(ctypes.c_void_p) == 8
            and not sysconfig.get_config_var("Py_GIL_DISABLED")
            and all(hasattr(ctypes.pythonapi, s) for s in _PYAPI))


_KEEP: list[Any] = []  # method definitions and JIT libraries: live as long as the process


def trampolines(dtype: str, compile_object: Callable[[str], bytes],
                link: Callable[[bytes, dict[str, int], list[str]], tuple[Any, dict[str, int]]],
                ) -> tuple[Any, Any] | None:
    """(kernel_call, batched_call) builtins for `dtype`, or None where unsupported.
    `compile_object(ir) → object code`; `link(obj, {symbol: address}, exports) → (keep-alive,
    {export: address})`."""
    if dtype not in _TYPE_NUM or not supported() or not _layout_ok(dtype):
        return None
    api = {s: ctypes.cast(getattr(ctypes.pythonapi, s), ctypes.c_void_p).value for s in _PYAPI}
    api.update({"sn_ndarray_type": id(np.ndarray), "sn_none": id(None),
                "sn_shape_error": id(ShapeError)})
    _KEEP.append(ShapeError)
    obj = compile_object(trampoline_ir(dtype))
    lib, addrs = link(obj, api, ["sn_call_kernel", "sn_call_batched"])
    new = ctypes.pythonapi.PyCFunction_NewEx
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    out = []
    for name in ("sn_call_kernel", "sn_call_batched"):
        md = _MethodDef(name.encode(), addrs[name], _METH_FASTCALL, None)
        _KEEP.extend([md, lib])
        out.append(new(ctypes.addressof(md), None, None))
    return out[0], out[1]
