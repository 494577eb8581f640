"""What the llvm backend lowers, by name: operation tables (intrinsics, libm functions,
arithmetic, comparisons), float literals, the symbols kernels may call, and the callbacks for
registered primitives without a lowering.

Pure tables and text: read by symnum.backends.llvm_ir (the emitter) and llvm_backend (linking).
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
from symnum.backends.pysource import user_fallback
from symnum.backends.schedule import Schedule

from symnum.core.op import FALLBACKS
from symnum.errors import CompileError

# LLVM intrinsics (lowered to instructions or to libm calls by the code generator)
INTRINSICS: dict[str, int] = {"sin": 1, "cos": 1, "exp": 1, "log": 1, "sqrt": 1, "fabs": 1,
                              "pow": 2, "fmuladd": 3, "floor": 1, "ceil": 1, "trunc": 1,
                              "rint": 1, "copysign": 2}
# lowering names spelled differently in LLVM: fma is llvm.fmuladd (fused where the CPU has FMA
# units, mul + add elsewhere: never a slow software fma)
_RENAME = {"fma": "fmuladd"}
# libm functions called by symbol: lowering name → (arity, float64 symbol, float32 symbol).
# Add an entry here to lower a user primitive to another libm function.
LIBM: dict[str, tuple[int, str, str]] = {
    name: (1, name, name + "f")
    for name in ("tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "log1p", "expm1", "erf",
                 "asinh", "acosh", "atanh", "cbrt")
}
LIBM.update({"atan2": (2, "atan2", "atan2f"), "hypot": (2, "hypot", "hypotf"),
             "fmod": (2, "fmod", "fmodf")})
# intrinsics that become instructions (roundsd, andpd/orpd), never libm calls
_INLINE = ("sqrt", "fabs", "fmuladd", "floor", "ceil", "trunc", "rint", "copysign")
_ARITH = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv"}
_CMP = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}
_LOGIC = {"logical_and": "and", "logical_or": "or"}
_OTHER = {"neg": 1, "select": 3, "min": 2, "max": 2, "sign": 1, "logical_not": 1}
_TYPES = {"float64": ("double", "f64", 8), "float32": ("float", "f32", 4)}
# Scratch space for values crossing shard boundaries lives on the stack up to this many bytes;
# beyond it the kernel mallocs it (worker threads may have small stacks).
STACK_SCRATCH_BYTES = 1 << 20
# From this many constant outputs on, they are stored by a loop over a table (see _const_table).
CONST_TABLE_MIN = 32


def known_ops() -> set[str]:
    """Every lowering name this emitter understands.

    >>> {"sin", "atan2", "select", "min"} <= known_ops()
    True
    """
    names = (set(INTRINSICS) - set(_RENAME.values())) | set(_RENAME) | set(LIBM)
    return names | set(_ARITH) | set(_CMP) | set(_LOGIC) | set(_OTHER)


# registered primitives without a lowering: the kernel calls back into Python (their numpy impl)
# through an external symbol named by a hash of the op name, so the IR text (the cache key) is
# the same in every process; llvm_backend links each symbol to a ctypes callback.
CALLBACK_PREFIX = "symnum_impl_"
CALLBACKS: dict[str, tuple[str, str]] = {}  # symbol → (op name, dtype)


def callback_symbol(op: str, dtype: str) -> str:
    """The external symbol a kernel calls for the registered primitive `op`."""
    sym = (CALLBACK_PREFIX + hashlib.blake2b(op.encode(), digest_size=8).hexdigest()
           + ("" if dtype == "float64" else "_f"))
    CALLBACKS[sym] = (op, dtype)
    return sym


def libm_symbols(dtype: str = "float64") -> list[str]:
    """The C symbols a kernel of this dtype may call (for the JIT's symbol resolution)."""
    k = 1 if dtype == "float64" else 2
    names = [v[k] for v in LIBM.values()]
    names += [n if k == 1 else n + "f" for n in INTRINSICS if n not in _INLINE]
    names += ["sincos" if k == 1 else "sincosf"]  # LLVM merges sin(x) and cos(x) into one call
    return names


def float_hex(v: float, dtype: str = "float64") -> str:
    """An LLVM float literal (the exact double bit pattern; float32 values rounded first).

    >>> float_hex(1.0), float_hex(float("nan")), float_hex(0.1, "float32")
    ('0x3FF0000000000000', '0x7FF8000000000000', '0x3FB99999A0000000')
    """
    if dtype == "float32":
        with np.errstate(over="ignore"):
            v = float(np.float32(v))
    return f"0x{struct.unpack('<Q', struct.pack('<d', float(v)))[0]:016X}"


# instruction type → fn(body emitter, instr): instructions that are not one operation (loops:
# backends.llvm_loops registers itself here when imported)
EMITTERS: dict = {}


def check_ops(sched: Schedule) -> None:
    """Raise CompileError naming the first operation this emitter cannot lower."""
    known = known_ops()
    for ins in sched.instrs:
        if EMITTERS and type(ins) in EMITTERS:
            continue
        if user_fallback(ins.op):
            op_arity(ins.op)  # a callback needs a fixed arity: a variadic op is refused here
        elif ins.op not in known:
            raise CompileError(
                f"the llvm backend has no lowering for the operation '{ins.op}' (instruction "
                f"t{ins.dst} = {ins.op}{ins.args}); give its Op a `lower` name among "
                f"{', '.join(sorted(known))}, add a libm function to backends.llvm_ops.LIBM, or "
                "use backend='numpy'"
            )


def op_arity(op: str) -> int:
    nargs = FALLBACKS[op].nargs
    if nargs is None:
        raise CompileError(f"the variadic primitive '{op}' has no lowering; register it with a "
                           "fixed nargs, a `lower` name, or use backend='numpy'")
    return nargs

