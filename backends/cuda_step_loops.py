"""Loops that carry arrays (symnum.loops.arrays' ArrayLoop) on the cuda backend: a host-side loop
of kernel launches, one round of launches per step.

Every element of a step's carry may read every element of the previous step's (a stencil's
neighbours, a reduction), a grid-wide dependency that one launch cannot wait for without a
cooperative grid sync; the launch boundary is that sync, as GPU compilers do it (JAX's while
loop on GPU, XLA's scan). The loop plan (backends.array_loop_carry: the body's nests around a
step loop, carries ping-ponged by swapping two buffers, xs read and ys written by the step's
offset) becomes host steps that backends.cuda_arrays runs:

    ("loop", "t4", 100, [                       for t4 in range(100):
        ("int", "iv5", "t4"),                       iv5 = t4          (host integers, passed
        ("launch", "k1", n, [..., "t4", "iv5"]),    <the body's nests>  to the kernels)
        ("swap", ["cc2", "m6"], ["m6", "cc2"])])    cc2, m6 = m6, cc2  (device buffers renamed)

Buffers are allocated once, before the loop; nothing is copied between steps. Scalars computed
from host scalars only (a scalar carry such as the time, its sin) are computed by the host
("scalar" steps, with numpy's stand-ins for the device's math) and passed to the kernels as
arguments. What the plan holds besides — a scalar y, a while loop's condition, a scalar that
needs an array's elements (a reduction: the host would read it back every step) — raises
CompileError (REFUSE, or cuda_arrays' own) naming the backends that run it. Pure Python over
the plan's AST: never imports numba.cuda.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

REFUSE = ("the cuda backend runs loops whose carries and ys are arrays as one round of kernel "
          "launches per step; this loop's body has a step it cannot launch ({what}: a scalar y "
          "or a while loop's condition): use backend='llvm' or 'numba' for it")
_HOST_MODULES = {"math", "libdevice", "np"}
_CODE: dict = {}  # compiled host scalar expressions, by source
_INT_NODES = (ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.UnaryOp,
              ast.USub, ast.Name, ast.Load, ast.Constant)


def is_step_loop(s: ast.For) -> bool:
    """Whether a plan `for` is a loop over steps (backends.array_loop_carry names its variable
    t<k>; the nests' index variables are i<k>)."""
    t = s.target
    return isinstance(t, ast.Name) and t.id[:1] == "t" and t.id[1:].isdigit()


def trip_count(s: ast.For) -> int:
    it = s.iter
    if not (isinstance(it, ast.Call) and ast.unparse(it.func) == "range" and len(it.args) == 1):
        raise ValueError(f"internal error: a step loop over {ast.unparse(it)}")
    return int(ast.literal_eval(it.args[0]))


def joins(group: list, s: Any) -> bool:
    """Whether the nest `s` can run in the kernel of the nests `group` (one launch, each nest a
    grid-stride loop of its own, no sync between them): another box of the same nest (a peeled
    stencil: the same index variable over disjoint ranges, writing the same buffers), or a nest
    that reads nothing the group writes and writes nothing it reads or writes."""
    if not isinstance(s, ast.For) or is_step_loop(s):
        return False
    w, r = _arrays(s, ast.Store), _arrays(s, ast.Load)
    gw = set().union(*(_arrays(g, ast.Store) for g in group))
    gr = set().union(*(_arrays(g, ast.Load) for g in group))
    first = group[0]
    if isinstance(s.target, ast.Name) and isinstance(first.target, ast.Name) \
            and s.target.id == first.target.id and w == gw and not (r & gw):
        return True
    return not (w & (gw | gr)) and not (r & gw)


def _arrays(s: ast.AST, ctx: type) -> set:
    """The arrays a nest writes (ast.Store) or reads (ast.Load) by element."""
    return {ast.unparse(n.value) for n in ast.walk(s)
            if isinstance(n, ast.Subscript) and isinstance(n.ctx, ctx)}


def host_step(s: ast.stmt, scope: dict) -> tuple | None:
    """A plan statement the host runs itself, adding what it defines to `scope` ({name: "int" |
    "float"}): an integer from the step variables (`iv5 = t4`, `s6 = 99 - t5`), a scalar from
    host scalars (`v7 = cs2 + s1`, `v8 = math.sin(cs2)`: a scalar carry such as the time, passed
    to the kernels as an argument), or a swap of buffers (`cc2, m6 = m6, cc2`); else None — a
    statement reading an array element (a reduction's result) is the device's."""
    if not (isinstance(s, ast.Assign) and len(s.targets) == 1):
        return None
    tgt, v = s.targets[0], s.value
    if isinstance(tgt, ast.Name):
        nodes = list(ast.walk(v))
        names = {n.id for n in nodes if isinstance(n, ast.Name)}
        if all(isinstance(n, _INT_NODES) for n in nodes) \
                and all(scope.get(n) == "int" for n in names) \
                and all(type(n.value) is int for n in nodes if isinstance(n, ast.Constant)):
            scope[tgt.id] = "int"
            return ("int", tgt.id, ast.unparse(v))
        calls = {ast.unparse(n.func) for n in nodes if isinstance(n, ast.Call)}
        modules = {n.value.id for n in nodes if isinstance(n, ast.Attribute)
                   and isinstance(n.value, ast.Name)}
        if not any(isinstance(n, (ast.Subscript, ast.Lambda, ast.NamedExpr)) for n in nodes) \
                and all(c.split(".")[0] in _HOST_MODULES and "." in c for c in calls) \
                and modules <= _HOST_MODULES and names - modules <= set(scope):
            scope[tgt.id] = "float"
            return ("scalar", tgt.id, ast.unparse(v))
        return None
    if isinstance(tgt, ast.Tuple) and isinstance(v, ast.Tuple) \
            and all(isinstance(e, ast.Name) for e in tgt.elts + v.elts) \
            and sorted(e.id for e in tgt.elts) == sorted(e.id for e in v.elts):
        return ("swap", [e.id for e in tgt.elts], [e.id for e in v.elts])
    return None


def run_host_step(st: tuple, env: dict, ns: dict | None = None) -> None:
    """Run an "int", "scalar" or "swap" step on `env` (names → device arrays and host
    scalars); `ns` binds the modules a scalar expression calls (math, libdevice, np: numpy
    stand-ins for the device's, backends.cuda_backend.SIM_MATH / SIM_LIBDEVICE)."""
    if st[0] == "int":
        env[st[1]] = _int_value(ast.parse(st[2], mode="eval").body, env)
    elif st[0] == "scalar":
        code = _CODE.get(st[2])
        if code is None:
            code = _CODE[st[2]] = compile(st[2], "<host scalar>", "eval")
        with np.errstate(all="ignore"):
            env[st[1]] = np.float64(eval(code, dict(ns or {}, __builtins__={}), env))
    else:
        vals = [env[v] for v in st[2]]
        for t, v in zip(st[1], vals):
            env[t] = v


def _int_value(n: ast.AST, env: dict) -> int:
    if isinstance(n, ast.Constant):
        return n.value
    if isinstance(n, ast.Name):
        return env[n.id]
    if isinstance(n, ast.UnaryOp):
        return -_int_value(n.operand, env)
    a, b = _int_value(n.left, env), _int_value(n.right, env)
    op = type(n.op)
    return a + b if op is ast.Add else a - b if op is ast.Sub else a * b if op is ast.Mult \
        else a // b if op is ast.FloorDiv else a % b


def flat_steps(steps: list) -> list:
    """Every step, those inside loops included."""
    out: list = []
    for st in steps:
        out.append(st)
        if st[0] == "loop":
            out += flat_steps(st[3])
    return out


def launches(steps: list) -> int:
    """Kernel launches per call (a loop's launches times its trip count)."""
    n = 0
    for st in steps:
        if st[0] in ("launch", "fill"):
            n += 1
        elif st[0] == "loop":
            n += st[2] * launches(st[3])
    return n
