"""Operations numba has no Python spelling for, and options, imported by generated numba kernels.

`select(c, a, b)`: `a if c else b` as one LLVM `select` instruction. Spelled as Python's
conditional expression, every select (and every `and`/`or`) is a branch, and numba's SSA and
type passes grow with branches × variables: a 200-instruction kernel with 40 selects took 4.5
minutes and 23 GB to compile; as selects it compiles like straight-line arithmetic.

`fma(a, b, c)`: a·b + c. In numba-compiled code it is LLVM's `llvm.fmuladd` — one fused
instruction (one rounding) on every CPU with FMA units, a multiply and an add elsewhere — so a
kernel never falls back to a slow software fma. Called from plain Python it computes a*b + c
(two roundings, like the reference interpreter). Python has no `math.fma` before 3.13, and numba
lowers none.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils, cpu
from numba.extending import intrinsic, overload

_NUMBERS = (types.Float, types.Integer, types.Boolean)

# The serial row loop `kernel(X[i], OUT[i])` makes two array views a row; with numba's reference
# counting on them it ran 37.5 ns a row where the parallel loop ran 27 (Brusselator n=4 RHS).
# The loop allocates nothing, so it runs without the runtime (`_nrt`, an internal option: used
# only where this numba knows it).
SERIAL_LOOP = {"cache": True, "nogil": True}
if hasattr(cpu.CPUTargetOptions, "_nrt"):
    SERIAL_LOOP["_nrt"] = False


def call_impl(key, *args):
    """The numpy implementation of the primitive registered under fallback `key` (see
    symnum.core.op.FALLBACKS) at scalar `args`, as a numpy scalar array; generated kernels call
    it for a primitive without a lowering (numba: in object mode).

    >>> import numpy as np, symnum as sn
    >>> _ = sn.register("doc_softplus", lambda a: np.log1p(np.exp(a)), replace=True)
    >>> round(float(call_impl(_.fallback, 0.0)), 6)
    0.693147
    """
    import numpy as np

    from symnum.core.op import FALLBACKS

    return np.asarray(FALLBACKS[key].impl(*args), dtype=np.float64)


def fma(a, b, c):
    """a·b + c; fused where the CPU can when numba compiles the caller.

    >>> import numba
    >>> fma(2.0, 3.0, 1.0), float(numba.njit(lambda a, b, c: fma(a, b, c))(2.0, 3.0, 1.0))
    (7.0, 7.0)
    """
    return a * b + c


@intrinsic
def _fmuladd(typingctx, a, b, c):
    args = (a, b, c)
    if not all(isinstance(t, _NUMBERS) for t in args):
        return None
    floats = [t for t in args if isinstance(t, types.Float)]
    ty = max(floats, key=lambda t: t.bitwidth) if floats else types.float64

    def codegen(context, builder, sig, llargs):
        vals = [context.cast(builder, v, t, ty) for v, t in zip(llargs, sig.args)]
        llty = context.get_value_type(ty)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(llty, [llty] * 3),
                                            f"llvm.fmuladd.f{ty.bitwidth}")
        return builder.call(fn, vals)

    return ty(a, b, c), codegen


@overload(fma)
def _fma_numba(a, b, c):
    if all(isinstance(t, _NUMBERS) for t in (a, b, c)):
        return lambda a, b, c: _fmuladd(a, b, c)
    return None


def select(c, a, b):
    """a if c else b, branch-free when numba compiles the caller (c: a bool or a number, whose
    truth is c != 0, NaN true as in np.where).

    >>> import numba
    >>> select(True, 1.0, 2.0), float(numba.njit(lambda c, a, b: select(c, a, b))(0.0, 1.0, 2.0))
    (1.0, 2.0)
    """
    return a if c else b


@intrinsic
def _select(typingctx, c, a, b):
    if not all(isinstance(t, _NUMBERS) for t in (c, a, b)):
        return None
    if isinstance(a, types.Boolean) and isinstance(b, types.Boolean):
        ty = types.boolean
    else:
        floats = [t for t in (a, b) if isinstance(t, types.Float)]
        ty = max(floats, key=lambda t: t.bitwidth) if floats else types.float64

    def codegen(context, builder, sig, llargs):
        cv, av, bv = llargs
        ct = sig.args[0]
        if isinstance(ct, types.Boolean):
            cond = cv
        elif isinstance(ct, types.Float):
            cond = builder.fcmp_unordered("!=", cv, ir.Constant(cv.type, 0.0))
        else:
            cond = builder.icmp_signed("!=", cv, ir.Constant(cv.type, 0))
        av = context.cast(builder, av, sig.args[1], ty)
        bv = context.cast(builder, bv, sig.args[2], ty)
        return builder.select(cond, av, bv)

    return ty(c, a, b), codegen


@overload(select)
def _select_numba(c, a, b):
    if all(isinstance(t, _NUMBERS) for t in (c, a, b)):
        return lambda c, a, b: _select(c, a, b)
    return None
