"""How an llvm kernel's schedule is cut into functions (backends.llvm_ir's shards): LLVM's
instruction selection and scheduling are superlinear in a function's size, so large kernels are
emitted as several functions of about `shard` items each. Sits below llvm_ir; emits no IR.
A cut never separates a sine from its cosine (LLVM merges them into one sincos call), and by
default not a loop from a reader of its table (a stack array of the loop's function).

With `share_tables=True` a loop's table read in another function lives in the kernel's scratch
array instead (`shared_tables`; backends.llvm_loops), so a cut may fall between a loop and its
table's readers (a gradient's forward loop, its adjoint loop and the code between them need not
share one function). Measured, it is off: more, smaller functions compiled slower at opt=1
(RK4 gradient, 939 statements: 2 → 4 functions, LLVM 0.18 → 0.22 s; scalarised cummax
gradient: 13 → 20 functions, 2.1 → 2.4–2.7 s; benchmarks/results_issue12.md, session 5)."""

from __future__ import annotations

from symnum.backends.schedule import Instr, Schedule, sincos_at

Segment = tuple[list[Instr], list[int]]  # instructions, and the outputs stored after them


def shared_tables(segs: list[Segment]) -> dict[int, int]:
    """Loops whose stacked ys table is read in a later function (a TableRead, or a loop reading
    its rows in place): table tmp → its width (ys per step). Those tables are slices of the
    scratch array every function of the kernel receives (backends.llvm_loops), not stack
    arrays of the loop's function."""
    home: dict[int, tuple[int, int]] = {}  # table tmp → (function, width)
    shared: dict[int, int] = {}
    for j, (instrs, _) in enumerate(segs):
        for ins in instrs:
            spec = getattr(ins, "spec", None)
            if hasattr(ins, "xcols"):
                for col in ins.xcols:
                    if col[0] == "table" and home.get(col[1], (j,))[0] != j:
                        shared[col[1]] = home[col[1]][1]
                if spec is not None and spec.ny:
                    home[ins.dst] = (j, spec.ny)
            t = getattr(ins, "table", None)
            if t is not None and home.get(t, (j,))[0] != j:
                shared[t] = home[t][1]
    return shared


def table_sizes(segs: list[Segment], shared: dict[int, int]) -> dict[int, int]:
    """Rows × width of each shared table (its loop's steps × ys)."""
    return {ins.dst: ins.spec.length * shared[ins.dst]
            for instrs, _ in segs for ins in instrs
            if hasattr(ins, "xcols") and ins.dst in shared}


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


def segments(sched: Schedule, shard: int | None, skip: set[int],
             share_tables: bool = False) -> list[Segment]:
    """Split the work into functions of about `shard` items (an instruction or an output store
    each: LLVM's instruction selection and scheduling are superlinear in either). Outputs in
    `skip` are stored elsewhere. `share_tables`: cuts may separate a loop from its table's
    readers (see the module docstring)."""
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
    held = {} if share_tables else _table_spans(sched.instrs)
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
        # (without shared tables) never between a loop and a reader of its table
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
