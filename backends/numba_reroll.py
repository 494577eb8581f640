"""A re-rolled schedule (`symnum.backends.reroll.Plan`) → the Python source of a numba kernel:
`for` loops over module-level numpy tables, straight-line statements between them.

Sits beside `symnum.backends.pysource` (whose statement formatter writes every expression here)
and is called by `symnum.backends.numba_backend.generate`. Writes text only; never imports numba.
Tables are module globals, which numba freezes into the compiled code as constants.
"""

from __future__ import annotations

import numpy as np
from symnum.backends.pysource import instr_src, ref_src, user_fallback
from symnum.backends.reroll import Block, Plan
from symnum.backends.reroll_loops import Loop, accumulate
from symnum.backends.schedule import Ref, Schedule

from symnum.errors import CompileError


def _array(name: str, a: np.ndarray, dtype: str) -> str:
    # repr of a list: exact for floats (shortest round trip) and ints
    body = repr(a.ravel().tolist()).replace("nan", "np.nan").replace("inf", "np.inf")
    return f"{name} = np.array({body}, dtype=np.{dtype}).reshape({a.shape})"


def _index(name: str, col: np.ndarray, tables: list[str]) -> str:
    """`col[i]` as source: `start + step * i` when affine, else a table lookup."""
    if len(col) == 0 or len(col) == 1 or np.all(np.diff(col) == col[1] - col[0]):
        start = int(col[0]) if len(col) else 0
        step = int(col[1] - col[0]) if len(col) > 1 else 0
        return f"{start} + {step} * i" if step else str(start)
    ity = "int16" if col.max() < 2**15 else "int32" if col.max() < 2**31 else "int64"
    tables.append(_array(name, col, ity))
    return f"{name}[i]"


def rolled_source(plan: Plan, sched: Schedule, name: str = "kernel",
                  dtype: str = "float64") -> str:
    """Module-level tables, then `def kernel(x, out)`."""
    for ins in sched.instrs:
        if user_fallback(ins.op):  # object-mode calls stay in the straight-line source
            raise CompileError("internal error: a rolled kernel with a fallback op")
    tables: list[str] = []
    lines = [f"def {name}(x, out):",
             f"    c = np.empty({len(plan.scratch) + 1}, dtype=np.{dtype})"]
    local: set[int] = set()  # temporaries defined by straight-line statements (Python locals)

    def ref(r: Ref) -> str:
        if r.kind == "in":
            return f"x[{r.index}]"
        if r.kind == "tmp" and r.index not in local:
            return f"c[{plan.scratch[r.index]}]"
        return ref_src(r, dtype)

    for j, st in enumerate(plan.steps):
        if isinstance(st, Block):
            for ins in st.instrs:
                lines.append(f"    t{ins.dst} = {instr_src(ins.op, [ref(a) for a in ins.args])}")
                local.add(ins.dst)
                if ins.dst in plan.scratch:
                    lines.append(f"    c[{plan.scratch[ins.dst]}] = t{ins.dst}")
            for dest, di, r in st.stores:
                lines.append(f"    {'out' if dest == 'out' else 'c'}[{di}] = {ref(r)}")
            continue
        lines += _loop_lines(j, st, dtype, tables)
    return "\n".join(tables + [""] + lines) + "\n"


def _loop_lines(j: int, lp: Loop, dtype: str, tables: list[str]) -> list[str]:
    nv = len(lp.sources)
    lines = [f"    for i in range({lp.count}):"]
    for s, src in enumerate(lp.sources):
        ix = _index(f"_R{j}_I{s}", lp.index[:, s], tables)
        lines.append(f"        s{s} = {'x' if src == 'x' else 'c'}[{ix}]")
    if lp.coefs.shape[1]:
        tables.append(_array(f"_R{j}_K", lp.coefs, dtype))

    def ref(r: Ref) -> str:
        if r.kind == "in":
            return f"s{r.index}" if r.index < nv else f"_R{j}_K[i, {r.index - nv}]"
        if r.kind == "tmp":
            return f"u{r.index}"
        return ref_src(r, dtype)

    for ins in lp.body:
        lines.append(f"        u{ins.dst} = {instr_src(ins.op, [ref(a) for a in ins.args])}")
    for r, (root, dest) in enumerate(zip(lp.roots, lp.dests)):
        acc, root = accumulate(lp, root)
        ix = _index(f"_R{j}_D{r}", lp.dest_index[:, r], tables)
        arr = "out" if dest == "out" else "c"
        op = "=" if acc is None else "+=" if acc == "add" else "-="
        lines.append(f"        {arr}[{ix}] {op} {ref(root)}")
    return lines
