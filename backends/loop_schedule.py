"""Loop nodes (symnum.loops) in a schedule, and their Python/numba source: a real `for` loop.

A loop node becomes one LoopInstr holding its body's own schedule; its carries are temporaries
and its stacked ys one 2-D table temporary `t<dst>` (steps × ys). A projection of a y is a
TableRead; a backward scan that reads a forward loop's stored carries reads that table in place
(linked columns), so the adjoint of n steps is O(1) statements, not one per stored value.
Registered into backends.schedule by importing this module (the numba, llvm and cuda backends
do); the llvm backend emits these instructions as IR (backends.llvm_loops), the cuda backend as
per-thread loops in its kernels (backends.cuda_loops).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from symnum.backends import schedule as S
from symnum.backends.pysource import body_lines, ref_src

import symnum.loops.terms as T


@dataclass(frozen=True)
class TableRead(S.Instr):
    """t[dst] = t[table][step, col]: one stored y of a loop."""

    table: int = 0
    step: int = 0
    col: int = 0

    def source_lines(self, dtype: str, indent: str, fallback: bool) -> list[str]:
        return [f"{indent}t{self.dst} = t{self.table}[{self.step}, {self.col}]"]


@dataclass(frozen=True)
class LoopInstr(S.Instr):
    """A loop: `args` are the init, const and explicit-xs refs; `body` the step's schedule
    (inputs: carries, x, consts, index); `xcols[j]` says where x j comes from: ("xs", column of
    the explicit table) or ("table", tmp of another loop's table, its column[, row offset, row
    stride]) — see `table_col`."""

    body: Any = None
    spec: Any = None
    carry_dsts: tuple = ()
    xcols: tuple = ()
    n_explicit: int = 0

    def source_lines(self, dtype: str, indent: str, fallback: bool) -> list[str]:
        spec, body = self.spec, self.body
        nc, ny, n = spec.nc, spec.ny, spec.length
        p = f"L{self.dst}_"
        np_dt = f"np.{dtype}"

        def alloc(rows: int, cols: int, what: str) -> str:
            return f"np.empty(({rows}, {cols}), dtype={np_dt})"

        out = loop_prologue(self, dtype, indent, alloc)
        if ny:
            out.append(f"{indent}t{self.dst} = {alloc(n, ny, 'ys table')}")
        ind = indent + "    "
        out += loop_step_header(self, dtype, indent)
        ren = _renamer(p)
        out += [ren(line) for line in body_lines(body, dtype, ind, fallback)]
        refs = [ren(ref_src(r, dtype)) for r in body.outputs]
        # ys first: a y may be an incoming carry (the stored carries of reverse mode)
        out += [f"{ind}t{self.dst}[{p}s, {j}] = {refs[nc + j]}" for j in range(ny)]
        out += carry_update(self, ind, refs)
        if spec.has_cond:
            out.append(f"{ind}if not {refs[-1]}:")
            if ny:  # the carry is a fixed point from here: so are the ys (as run_loop)
                rest = (f"{n - 1} - {p}r" if spec.reverse else f"{p}r")
                out.append(f"{ind}    for {p}r in range({p}it + 1, {n}):")
                out.append(f"{ind}        t{self.dst}[{rest}, :] = t{self.dst}[{p}s, :]")
            out.append(f"{ind}    break")
        out += [f"{indent}t{d} = {p}x{k}" for k, d in enumerate(self.carry_dsts)]
        return out


def loop_prologue(ins: LoopInstr, dtype: str, indent: str, alloc) -> list[str]:
    """Source lines before a loop (numba's and CUDA's renderers share them): its carries and
    consts as locals `L<dst>_x<k>`, and the table of explicit xs, allocated by
    `alloc(rows, cols, "xs table")` (np.empty on the CPU, a local array per GPU thread)."""
    spec = ins.spec
    nc, nx, nk, n = spec.nc, spec.nx, spec.nk, spec.length
    p = f"L{ins.dst}_"
    out = [f"{indent}{p}x{k} = {ref_src(r, dtype)}" for k, r in enumerate(ins.args[:nc])]
    out += [f"{indent}{p}x{nc + nx + k} = {ref_src(r, dtype)}"
            for k, r in enumerate(ins.args[nc:nc + nk])]
    if ins.n_explicit:
        m = ins.n_explicit
        out.append(f"{indent}{p}xs = {alloc(n, m, 'xs table')}")
        out += [f"{indent}{p}xs[{e // m}, {e % m}] = {ref_src(r, dtype)}"
                for e, r in enumerate(ins.args[nc + nk:])]
    return out


def loop_step_header(ins: LoopInstr, dtype: str, indent: str) -> list[str]:
    """The `for` over the steps, the step number (reversed for a reverse scan), each x of this
    step and the index variable: the first lines of every rendered loop."""
    spec = ins.spec
    nc, nx, nk, n = spec.nc, spec.nx, spec.nk, spec.length
    p, ind = f"L{ins.dst}_", indent + "    "
    out = [f"{indent}for {p}it in range({n}):",
           f"{ind}{p}s = {n - 1} - {p}it" if spec.reverse else f"{ind}{p}s = {p}it"]
    for j, col in enumerate(ins.xcols):
        if col[0] == "xs":
            src = f"{p}xs[{p}s, {col[1]}]"
        else:
            t, c, off, stride = table_col(col)
            row = f"{p}s" if (off, stride) == (0, 1) else f"{off} + {stride} * {p}s"
            src = f"t{t}[{row}, {c}]"
        out.append(f"{ind}{p}x{nc + j} = {src}")
    out.append(f"{ind}{p}x{nc + nx + nk} = np.{dtype}({spec.lo} + {p}s)")
    return out


def table_col(col: tuple) -> tuple[int, int, int, int]:
    """(table tmp, column, row offset, row stride) of a "table" xs column: step s reads row
    off + stride·s (a reverse-mode scan's 3-tuple reads row s; a rolled chain linked to
    another loop's table, backends.reroll_link, may read it from an offset or backwards)."""
    return (col[1], col[2], 0, 1) if len(col) == 3 else (col[1], col[2], col[3], col[4])


def carry_update(ins: LoopInstr, ind: str, refs: list[str]) -> list[str]:
    """The carries' new values, assigned at once (a carry may read another's old value)."""
    nc, p = ins.spec.nc, f"L{ins.dst}_"
    if not nc:
        return []
    return [f"{ind}{', '.join(f'{p}x{k}' for k in range(nc))}, = ({', '.join(refs[:nc])},)"]


_NAME = re.compile(r"\b([xt]\d+|L\d+_\w+)\b")


def _renamer(prefix: str):
    def ren(line: str) -> str:
        return _NAME.sub(lambda m: prefix + m.group(1), line)

    return ren


def _linked(xs: list, s_count: int, nx: int, j: int) -> tuple | None:
    """Column j of the xs, when every step reads y `col` of one loop at that same step."""
    first = xs[j] if s_count else None
    if not (s_count and T.is_out(first) and first.op.step == 0):
        return None
    src, col = first.args[0], first.op.index
    for s in range(s_count):
        e = xs[s * nx + j]
        if not (T.is_out(e) and e.args[0] is src and e.op.step == s and e.op.index == col):
            return None
    return src, col


def lower_loop(low: Any, n: Any) -> S.Ref:
    spec, init, consts, xs = T.loop_parts(n)
    body = prune(S.schedule(spec.body.flat_inputs, spec.body.flat_outputs))
    nx, L = spec.nx, spec.length
    xcols: list = []
    explicit_cols: list = []
    for j in range(nx):
        link = _linked(xs, L, nx, j)
        if link is not None and id(link[0]) in low.loop_tables:
            xcols.append(("table", low.loop_tables[id(link[0])], link[1]))
        else:
            xcols.append(("xs", len(explicit_cols)))
            explicit_cols.append(j)
    explicit = [low.ref(xs[s * nx + j]) for s in range(L) for j in explicit_cols]
    args = [low.ref(a) for a in init] + [low.ref(a) for a in consts] + explicit
    sched = low.sched
    dst = sched.n_tmp
    carry_dsts = tuple(range(dst + 1, dst + 1 + spec.nc))
    sched.n_tmp += 1 + spec.nc
    sched.instrs.append(LoopInstr(dst, "loop", tuple(args), body=body, spec=spec,
                                  carry_dsts=carry_dsts, xcols=tuple(xcols),
                                  n_explicit=len(explicit_cols)))
    low.loop_tables[id(n)] = dst
    low.loop_carries[id(n)] = carry_dsts
    return S.Ref("tmp", dst)


def lower_out(low: Any, n: Any) -> S.Ref:
    loop = n.args[0]
    op = n.op
    if op.step is None:
        return S.Ref("tmp", low.loop_carries[id(loop)][op.index])
    sched = low.sched
    dst = sched.n_tmp
    sched.n_tmp += 1
    sched.instrs.append(TableRead(dst, "table_read", (S.Ref("tmp", low.loop_tables[id(loop)]),),
                                  table=low.loop_tables[id(loop)], step=op.step, col=op.index))
    return S.Ref("tmp", dst)


def prune(sched: S.Schedule, drop: tuple = (TableRead,)) -> S.Schedule:
    """Drop the instructions of the types in `drop` whose results nobody reads, in one backward
    pass (by default the table reads of stored carries a backward loop reads in place). A table
    that a loop reads in place (a "table" xs column) counts as read."""
    if not any(type(i) in drop for i in sched.instrs):
        return sched
    used = {r.index for r in sched.outputs if r.kind == "tmp"}
    keep: list = []
    for ins in reversed(sched.instrs):
        if type(ins) in drop and ins.dst not in used:
            continue
        keep.append(ins)
        used.update(r.index for r in ins.args if r.kind == "tmp")
        used.update(c[1] for c in getattr(ins, "xcols", ()) if c[0] == "table")
    sched.instrs = keep[::-1]
    return sched
    used = {r.index for r in sched.outputs if r.kind == "tmp"}
    keep: list = []
    for ins in reversed(sched.instrs):
        if type(ins) is TableRead and ins.dst not in used:
            continue
        keep.append(ins)
        used.update(r.index for r in ins.args if r.kind == "tmp")
    sched.instrs = keep[::-1]
    return sched


S.SPECIAL[T.LoopOp] = lower_loop
S.SPECIAL[T.LoopOutOp] = lower_out
