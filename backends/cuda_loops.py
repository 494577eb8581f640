"""Loop instructions (backends.loop_schedule) in CUDA kernel source: a real `for` loop per thread.

Each thread runs the loop for its own batch row / grid point: the carries are local variables
(registers), the body's own schedule is emitted inline in the loop (renamed, as the numba
source does), and a fori/while loop's step counter is the loop variable. Where a loop's stacked
ys are only outputs of the kernel at regular positions (a scan's ys returned as an array: output
m = off + stride·step), they are written to the output array by offset inside the loop — no
table, O(1) statements for any step count. Otherwise (ys read by other code, the stored
carries a backward scan reads in place, an explicit xs table) the table is a per-thread
`cuda.local.array`, refused beyond MAX_LOCAL_BYTES with a CompileError naming the loop and what
to do. A while loop without ys leaves as soon as its condition is false; with ys it runs every
step in its select form (the carry is a fixed point once the condition failed), as the llvm
loops do. Pure Python: nothing here imports numba.cuda (backends.cuda_source calls it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symnum.backends.loop_schedule import (
    LoopInstr,
    TableRead,
    _renamer,
    carry_update,
    loop_prologue,
    loop_step_header,
)
from symnum.backends.pysource import ref_src
from symnum.backends.schedule import Schedule

from symnum.errors import CompileError

# per-thread local memory for a loop's tables: CUDA allows 512 KiB a thread, but every resident
# thread holds its own copy (spilled to global memory through the L1/L2 caches)
MAX_LOCAL_BYTES = 1 << 16

LOOP_TYPES = (LoopInstr, TableRead)


def direct_outputs(sched: Schedule) -> tuple[dict[int, dict[int, tuple[int, int]]], set, set]:
    """The loops whose ys go straight to the outputs: ({loop dst: {y column: (offset, stride)}},
    table reads made redundant (their dsts), output positions written inside the loops).

    A loop qualifies when nothing but the outputs reads its ys (no other instruction, no other
    loop's linked xs) and, per y column it stores, step s is output off + stride·s, each once.

    >>> import symnum as sn
    >>> from symnum.backends import loop_schedule as LS
    >>> from symnum.backends.schedule import schedule
    >>> fn = sn.trace(lambda a: sn.scan(lambda c, x: (c * 2, c + 1), a, None, length=3)[1], 1.0)
    >>> d, _, written = direct_outputs(LS.prune(schedule(fn.flat_inputs, fn.flat_outputs)))
    >>> list(d.values()), sorted(written)
    ([{0: (0, 1)}], [0, 1, 2])
    """
    used: set[int] = set()
    linked: set[int] = set()
    reads: dict[int, list[TableRead]] = {}
    for ins in sched.instrs:
        if type(ins) is TableRead:
            reads.setdefault(ins.table, []).append(ins)
            continue
        used.update(r.index for r in ins.args if r.kind == "tmp")
        if type(ins) is LoopInstr:
            linked.update(c[1] for c in ins.xcols if c[0] == "table")
    at: dict[int, list[int]] = {}
    for m, r in enumerate(sched.outputs):
        if r.kind == "tmp":
            at.setdefault(r.index, []).append(m)
    plans: dict[int, dict[int, tuple[int, int]]] = {}
    skip: set[int] = set()
    written: set[int] = set()
    for ins in sched.instrs:
        if type(ins) is not LoopInstr or not ins.spec.ny or ins.dst in linked:
            continue
        plan = _column_plan(ins, reads.get(ins.dst, []), used, at)
        if plan is None:
            continue
        plans[ins.dst] = plan
        for rd in reads.get(ins.dst, []):
            skip.add(rd.dst)
            written.update(at[rd.dst])
    return plans, skip, written


def _column_plan(ins: LoopInstr, reads: list[TableRead], used: set[int],
                 at: dict[int, list[int]]) -> dict[int, tuple[int, int]] | None:
    n = ins.spec.length
    by_col: dict[int, dict[int, int]] = {}
    for rd in reads:
        if rd.dst in used or len(at.get(rd.dst, ())) != 1:
            return None
        by_col.setdefault(rd.col, {})[rd.step] = at[rd.dst][0]
    plan = {}
    for col, steps in by_col.items():
        if len(steps) != n:
            return None
        off = steps[0]
        stride = steps[1] - off if n > 1 else 0
        if any(steps[s] != off + stride * s for s in range(n)):
            return None
        plan[col] = (off, stride)
    return plan


def body_lines(sched: Schedule, dtype: str, indent: str, plain: Callable[[Any], str],
               out_at: Callable[[str], str] | None = None, plans: dict | None = None,
               skip: frozenset | set = frozenset()) -> list[str]:
    """Statements computing every temporary of `sched` (inputs are the locals x0, x1, …).
    `plain(ins)` spells a straight-line instruction's value; `out_at(index expression)` the
    kernel's output element (for `plans`, from direct_outputs); reads in `skip` are left out."""
    plans = plans or {}
    lines: list[str] = []
    for ins in sched.instrs:
        if type(ins) is LoopInstr:
            lines += loop_lines(ins, dtype, indent, plain, out_at, plans.get(ins.dst))
        elif type(ins) is TableRead:
            if ins.dst not in skip:
                lines.append(f"{indent}t{ins.dst} = t{ins.table}[{ins.step}, {ins.col}]")
        else:
            lines.append(f"{indent}t{ins.dst} = {plain(ins)}")
    return lines


_HINTS = {
    "ys table": "return the ys as the function's outputs (they are then written to the output "
                "array by offset, with no table), or use checkpoint='recompute' for reverse mode",
    "xs table": "pass fewer steps of xs per loop (nest two loops), or compute x from the step "
                "index in the body (fori_loop)",
}


def _local(rows: int, cols: int, dtype: str, what: str, kind: str) -> str:
    size = rows * cols * (8 if dtype == "float64" else 4)
    if size > MAX_LOCAL_BYTES:
        raise CompileError(
            f"the cuda backend keeps a {kind} loop's {what} ({rows} steps × {cols} values, "
            f"{size} bytes) in each thread's local memory, over its budget of "
            f"{MAX_LOCAL_BYTES} bytes; {_HINTS[what]}; or use backend='llvm' or 'numba' (one "
            "CPU loop per row)")
    return f"cuda.local.array(({max(rows, 1)}, {max(cols, 1)}), np.{dtype})"


def loop_lines(ins: LoopInstr, dtype: str, indent: str, plain: Callable[[Any], str],
               out_at: Callable[[str], str] | None, plan: dict | None) -> list[str]:
    """One loop: its carries as locals, a `for` over the steps, the body inline."""
    spec, body = ins.spec, ins.body
    nc, ny, n = spec.nc, spec.ny, spec.length
    p = f"L{ins.dst}_"

    def alloc(rows: int, cols: int, what: str) -> str:
        return _local(rows, cols, dtype, what, spec.kind)

    out = loop_prologue(ins, dtype, indent, alloc)
    if ny and plan is None:
        out.append(f"{indent}t{ins.dst} = {alloc(n, ny, 'ys table')}")
    ind = indent + "    "
    out += loop_step_header(ins, dtype, indent)
    ren = _renamer(p)
    inner_plans, inner_skip, _ = direct_outputs(_no_outputs(body))
    try:
        inner = body_lines(body, dtype, ind, plain, None, inner_plans, inner_skip)
    except CompileError as e:  # an op without a CUDA spelling: say where it sits
        raise CompileError(f"in the body of a {spec.kind} loop ({spec.length} steps) for the "
                           f"cuda backend: {e}") from e
    out += [ren(line) for line in inner]
    refs = [ren(ref_src(r, dtype)) for r in body.outputs]
    if plan is not None:  # ys to the kernel's outputs, at off + stride·step
        for j, (off, stride) in sorted(plan.items()):
            where = f"{off} + {stride} * {p}s" if stride else f"{off}"
            out.append(f"{ind}{out_at(where)} = {refs[nc + j]}")
    else:  # ys first: a y may be an incoming carry (the stored carries of reverse mode)
        out += [f"{ind}t{ins.dst}[{p}s, {j}] = {refs[nc + j]}" for j in range(ny)]
    out += carry_update(ins, ind, refs)
    if spec.has_cond and not ny:  # the select form makes the carry a fixed point: leave now
        out.append(f"{ind}if not ({refs[-1]}):")
        out.append(f"{ind}    break")
    out += [f"{indent}t{d} = {p}x{k}" for k, d in enumerate(ins.carry_dsts)]
    return out


def _no_outputs(body: Schedule) -> Schedule:
    """A body's schedule seen with no kernel outputs: its nested loops keep local tables."""
    return Schedule(body.n_in, body.instrs, [], body.n_tmp)


def has_loops(sched: Schedule) -> bool:
    return any(type(i) in LOOP_TYPES for i in sched.instrs)

