"""A schedule → straight-line Python source for numba (and for CUDA device functions).

Only generated identifiers appear (x0…, t0…, out, math, np): user symbol names never reach the
source. Division, pow and the math functions follow numpy's float semantics once compiled with
numba's `error_model="numpy"` (inf/nan, never an exception).
"""

from __future__ import annotations

from symnum.backends.schedule import Ref, Schedule, float_literal

from symnum.errors import CompileError

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**",
          "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
_MATH = {"sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "exp",
         "log", "log1p", "expm1", "sqrt", "fabs", "hypot", "erf", "asinh", "acosh", "atanh",
         "copysign"}
# numba's math.floor/ceil/trunc return ints (wrong at inf and beyond 2**63): numpy's are floats
_NUMPY = {"sign": "np.sign", "floor": "np.floor",
          "ceil": "np.ceil", "trunc": "np.trunc", "rint": "np.rint", "cbrt": "np.cbrt",
          "fmod": "np.fmod"}


def ref_src(r: Ref, dtype: str = "float64") -> str:
    if r.kind == "in":
        return f"x{r.index}"
    if r.kind == "tmp":
        return f"t{r.index}"
    lit = float_literal(r.value)
    return f"np.float32({lit})" if dtype == "float32" else lit


def instr_src(op: str, args: list[str]) -> str:
    if op in _INFIX:
        return f"{args[0]} {_INFIX[op]} {args[1]}"
    if op == "neg":
        return f"-{args[0]}"
    if op in _MATH:
        return f"math.{op}({', '.join(args)})"
    if op in _NUMPY:
        return f"{_NUMPY[op]}({', '.join(args)})"
    if op == "fma":  # backends.numba_ops.fma (llvm.fmuladd), imported by the module header
        return f"_fma({', '.join(args)})"
    # branch-free (numba's compile time grows with branches): backends.numba_ops.select, and
    # logic on truth values (NaN is true, as in numpy)
    if op == "select":
        return f"_select({args[0]}, {args[1]}, {args[2]})"
    if op in ("min", "max"):  # numpy's: NaN from a, else a if a < b (a > b), ties give b
        a, b = args
        return f"_select(({a} {'<' if op == 'min' else '>'} {b}) | ({a} != {a}), {a}, {b})"
    if op == "logical_and":
        return f"({args[0]} != 0) & ({args[1]} != 0)"
    if op == "logical_or":
        return f"({args[0]} != 0) | ({args[1]} != 0)"
    if op == "logical_not":
        return f"{args[0]} == 0"
    raise CompileError(
        f"the operation '{op}' has no lowering to Python/numba source; register the op with a "
        "`lower` name among symnum.core.op.LOWERING_NAMES (checked against its impl), or "
        "use backend='numpy', which runs its numpy implementation"
    )


def user_fallback(op: str) -> bool:
    """Whether `op` is the fallback key of a registered primitive without a lowering (see
    symnum.core.op.FALLBACKS): kernels call its numpy implementation."""
    from symnum.core.op import FALLBACKS

    return op in FALLBACKS


def body_lines(sched: Schedule, dtype: str = "float64", indent: str = "    ",
               fallback: bool = False) -> list[str]:
    """The statements computing every temporary (inputs are the locals x0, x1, …). With
    `fallback` (numba CPU kernels), a registered primitive without a lowering is computed by its
    numpy implementation in numba's object mode (`numba_ops.call_impl`: the GIL is taken for
    each such call, so it is correct but slow; give the op a `lower` name where one exists)."""
    lines = []
    for ins in sched.instrs:
        more = getattr(ins, "source_lines", None)
        if more is not None:  # a loop (backends.loop_schedule): several statements
            lines += more(dtype, indent, fallback)
            continue
        args = [ref_src(a, dtype) for a in ins.args]
        if fallback and user_fallback(ins.op):
            # the name as a string literal (repr: it cannot end the literal early)
            lines.append(f'{indent}with numba.objmode(t{ins.dst}="{dtype}"):')
            lines.append(f"{indent}    t{ins.dst} = _call_impl({ins.op!r}, "
                         f"{', '.join(args)}).astype(np.{dtype})[()]")
            continue
        lines.append(f"{indent}t{ins.dst} = {instr_src(ins.op, args)}")
    return lines


def kernel_source(sched: Schedule, name: str = "kernel", dtype: str = "float64",
                  fallback: bool = False) -> str:
    """`def kernel(x, out)`: reads the flat input vector x, writes the flat output vector out."""
    lines = [f"def {name}(x, out):"]
    lines += [f"    x{i} = x[{i}]" for i in range(sched.n_in)]
    lines += body_lines(sched, dtype, fallback=fallback)
    lines += [f"    out[{k}] = {ref_src(r, dtype)}" for k, r in enumerate(sched.outputs)]
    if len(lines) == 1:
        lines.append("    return")
    return "\n".join(lines) + "\n"
