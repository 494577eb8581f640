"""How an llvm kernel's schedule is cut into functions (backends.llvm_ir's shards): LLVM's
instruction selection and scheduling are superlinear in a function's size, so large kernels are
emitted as several functions of about `shard` items each. Sits below llvm_ir; emits no IR.
A cut never separates a sine from its cosine (LLVM merges them into one sincos call) nor a loop
from a reader of its table (the table is a stack array of the loop's function)."""

from __future__ import annotations

from symnum.backends.schedule import Instr, Schedule, sincos_at

Segment = tuple[list[Instr], list[int]]  # instructions, and the outputs stored after them


def _table_spans(instrs: list) -> dict[int, int]:
    """Loop programs (backends.llvm_loops): position of each loop with a table → position of
    the last instruction reading that table (a TableRead, or a later loop reading its rows)."""
    where: dict[int, int] = {}  # table tmp → position of its loop
    last: dict[int, int] = {}
    for j, ins in enumerate(instrs):
        if hasattr(ins, "xcols"):
            where[ins.dst] = j
            for col in ins.xcols:
                if col[0] == "table" and col[1] in where:
                    last[where[col[1]]] = j
        t = getattr(ins, "table", None)
        if t is not None and t in where:
            last[where[t]] = j
    return last


def segments(sched: Schedule, shard: int | None, skip: set[int]) -> list[Segment]:
    """Split the work into functions of about `shard` items (an instruction or an output store
    each: LLVM's instruction selection and scheduling are superlinear in either). Outputs in
    `skip` are stored elsewhere."""
    wanted = [k for k in range(len(sched.outputs)) if k not in skip]
    if not shard or len(sched.instrs) + len(wanted) <= shard:
        return [(sched.instrs, wanted)]
    users: dict[int, list[int]] = {}  # tmp → the outputs equal to it
    loose: list[int] = []  # outputs that are inputs or constants: stored after everything
    for k in wanted:
        r = sched.outputs[k]
        if r.kind == "tmp":
            users.setdefault(r.index, []).append(k)
        else:
            loose.append(k)
    held = _table_spans(sched.instrs)
    segs: list[Segment] = []
    instrs: list[Instr] = []
    outs: list[int] = []
    until = -1  # the last reader of a table (a loop's stack array) defined in this segment
    for j, ins in enumerate(sched.instrs):
        instrs.append(ins)
        for d in dict.fromkeys((ins.dst, *getattr(ins, "carry_dsts", ()))):  # a loop's too
            outs.extend(users.get(d, ()))
        until = max(until, held.get(j, -1))
        # never between a sine and its cosine: a cut would cost LLVM's merged sincos call;
        # never between a loop and a reader of its table (it lives in the loop's function)
        if len(instrs) + len(outs) >= shard and not sincos_at(sched.instrs, j) \
                and j >= until:
            segs.append((instrs, outs))
            instrs, outs = [], []
    for k in loose:
        outs.append(k)
        if len(instrs) + len(outs) >= shard:
            segs.append((instrs, outs))
            instrs, outs = [], []
    if instrs or outs:
        segs.append((instrs, outs))
    return segs
