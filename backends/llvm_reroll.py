"""A re-rolled schedule (`symnum.backends.reroll.Plan`) → LLVM IR text: loops over constant
global tables of indices and coefficients, straight-line code between them.

Sits beside `symnum.backends.llvm_ir` (whose statement emitter, `_Body`, writes every loop body
and straight-line piece here, so the float semantics are one implementation) and is called by
`symnum.backends.llvm_backend.compile_schedule`. Writes text only; never imports llvmlite.

The kernel is `kernel(T* x, T* out)` calling one internal function per step (a loop, or up to
`shard` straight-line statements) with a scratch array `c` for shared values and values that
cross functions; `batched` calls `kernel` per row (no SIMD rows: the loops are the point).
"""

from __future__ import annotations

import numpy as np
from symnum.backends.llvm_ir import (
    _TYPES,
    IRModule,
    _batched,
    _Body,
    _kernel_calling_shards,
    check_ops,
    float_hex,
)
from symnum.backends.reroll import Block, Plan, min_group_of, plan
from symnum.backends.reroll_loops import Loop, accumulate
from symnum.backends.schedule import Schedule

from symnum.core._gc import no_gc
from symnum.errors import CompileError

ROLLED_IR_OPT = 2  # the least IR optimisation level of re-rolled kernels with small tables
ROLLED_IR_OPT_TABLES = 1 << 15  # numbers in the tables of such a kernel, at most
ROLLED_IR_OPT_LOOPS = 4  # and loops in it, at most


def rolled_ir(sched: Schedule, dtype: str, shard: int | None, fastmath: bool,
              reroll: bool | int | None, ir_opt: int) -> tuple[IRModule | None, int, dict | None]:
    """(IR, IR optimisation level, plan summary) of the re-rolled kernel, or (None, ir_opt,
    None) when `reroll` is off or nothing repeats often enough."""
    min_group = min_group_of(reroll)
    p = plan(sched, min_group) if min_group is not None else None
    if p is None:
        return None, ir_opt, None
    mod = emit_rolled_ir(p, sched, dtype, shard=shard, fastmath=fastmath)
    # a few small loops: LLVM's IR passes cost little there and ran a fused stencil loop
    # 1.3x faster (Brusselator n=32: 3.4 → 2.6 µs), but their time grows with the tables and
    # the loops (mass action N=2,048, 22 loops over 31.8k table numbers: +85 ms of build for
    # 1–4% per call; benchmarks/results_issue12.md)
    if p.table_size() <= ROLLED_IR_OPT_TABLES and \
            p.summary()["loops"] <= ROLLED_IR_OPT_LOOPS:
        ir_opt = max(ir_opt, ROLLED_IR_OPT)
    return mod, ir_opt, p.summary()


def _table(name: str, ety: str, values: list[str]) -> str:
    return (f"@{name} = internal unnamed_addr constant [{len(values)} x {ety}] ["
            + ", ".join(f"{ety} {v}" for v in values) + "]")


def _int_table(name: str, a: np.ndarray) -> tuple[str, str]:
    """A global table of integers (i16 or i32 when they fit: less cache for the same loads)
    and its element type."""
    flat = a.ravel()
    top = int(flat.max()) if flat.size else 0
    ety = "i16" if top < 2**15 else "i32" if top < 2**31 else "i64"
    return _table(name, ety, [str(int(v)) for v in flat.tolist()]), ety


def _affine(col: np.ndarray) -> tuple[int, int] | None:
    """(start, step) when the column is start + step·i (computed, not loaded), else None."""
    if len(col) < 2:
        return (int(col[0]), 0) if len(col) else (0, 0)
    d = np.diff(col)
    return (int(col[0]), int(d[0])) if np.all(d == d[0]) else None


def _index_value(lines: list[str], globals_: list[str], name: str, col: np.ndarray,
                 seen: dict[bytes, str]) -> str:
    """An i64 SSA value holding `col[i]` in the loop: affine columns computed from %i,
    others loaded from a constant table; a column equal to one already read in this trip (a
    species' rate term `k·x[s]` stored to out[s]: the value's index is the destination's)
    is that value, not a second table."""
    key = col.astype(np.int64, copy=False).tobytes()
    if key in seen:
        return seen[key]
    seen[key] = f"%{name}"
    aff = _affine(col)
    if aff is not None:
        start, step = aff
        lines += [f"  %{name}.m = mul i64 %i, {step}", f"  %{name} = add i64 %{name}.m, {start}"]
        return f"%{name}"
    text, ety = _int_table(f"{name}.t", col)
    globals_.append(text)
    m = len(col)
    lines += [f"  %{name}.p = getelementptr inbounds [{m} x {ety}], [{m} x {ety}]* "
              f"@{name}.t, i64 0, i64 %i",
              f"  %{name}.l = load {ety}, {ety}* %{name}.p"]
    lines.append(f"  %{name} = zext {ety} %{name}.l to i64" if ety != "i64"
                 else f"  %{name} = add i64 %{name}.l, 0")
    return f"%{name}"


def _loop_function(j: int, lp: Loop, T: str, dtype: str, fm: str, head: str,
                   decls: set[str], globals_: list[str]) -> list[str]:
    m, nv, nq = lp.count, len(lp.sources), lp.coefs.shape[1]
    lines = [head, "entry:", "  br label %loop", "loop:",
             "  %i = phi i64 [0, %entry], [%i.next, %loop]"]
    b = _Body(lines, T, _TYPES[dtype][1], dtype, fm, "%x", "%out", lambda i: True, {}, decls)
    seen: dict[bytes, str] = {}
    for s, src in enumerate(lp.sources):  # one table per column: a column may be affine
        ix = _index_value(lines, globals_, f"r{j}.i{s}", lp.index[:, s], seen)
        arr = "%x" if src == "x" else "%c"
        lines += [f"  %ps{s} = getelementptr inbounds {T}, {T}* {arr}, i64 {ix}",
                  f"  %s{s} = load {T}, {T}* %ps{s}"]
        b.vals[("in", s)] = (f"%s{s}", "f")
    if nq:
        globals_.append(_table(f"r{j}.k", T, [float_hex(v, dtype)
                                                for v in lp.coefs.ravel().tolist()]))
        lines.append(f"  %kb = mul i64 %i, {nq}")
        for q in range(nq):
            lines += [
                f"  %pk{q}.o = add i64 %kb, {q}",
                f"  %pk{q} = getelementptr inbounds [{m * nq} x {T}], [{m * nq} x {T}]* "
                f"@r{j}.k, i64 0, i64 %pk{q}.o",
                f"  %k{q} = load {T}, {T}* %pk{q}",
            ]
            b.vals[("in", nv + q)] = (f"%k{q}", "f")
    for ins in lp.body:
        b.instr(ins)
    for r, (root, dest) in enumerate(zip(lp.roots, lp.dests)):
        acc, root = accumulate(lp, root)
        v = b.get(root, "f")
        ix = _index_value(lines, globals_, f"r{j}.d{r}", lp.dest_index[:, r], seen)
        arr = "%out" if dest == "out" else "%c"
        lines.append(f"  %pd{r} = getelementptr inbounds {T}, {T}* {arr}, i64 {ix}")
        if acc is None:
            lines.append(f"  store {T} {v}, {T}* %pd{r}")
        else:
            op = "fadd" if acc == "add" else "fsub"
            lines += [f"  %old{r} = load {T}, {T}* %pd{r}",
                      f"  %new{r} = {op}{fm} {T} %old{r}, {v}",
                      f"  store {T} %new{r}, {T}* %pd{r}"]
    lines += ["  %i.next = add i64 %i, 1",
              f"  %more = icmp slt i64 %i.next, {m}",
              "  br i1 %more, label %loop, label %done",
              "done:", "  ret void", "}", ""]
    return lines


def _chunks(block: Block, shard: int | None) -> list[Block]:
    """A straight-line block cut into functions of about `shard` statements and stores."""
    items = len(block.instrs) + len(block.stores)
    if not shard or items <= shard:
        return [block]
    out, cur = [], Block(block.stage)
    for ins in block.instrs:
        cur.instrs.append(ins)
        if len(cur.instrs) >= shard:
            out.append(cur)
            cur = Block(block.stage)
    for st in block.stores:
        cur.stores.append(st)
        if len(cur.instrs) + len(cur.stores) >= shard:
            out.append(cur)
            cur = Block(block.stage)
    if cur.instrs or cur.stores:
        out.append(cur)
    return out


@no_gc
def emit_rolled_ir(plan: Plan, sched: Schedule, dtype: str = "float64", *,
                   shard: int | None = 250, fastmath: bool = False) -> IRModule:
    """LLVM IR for a re-rolled schedule, with the same entry points as `emit_ir`."""
    if dtype not in _TYPES:
        raise CompileError(f"the llvm backend compiles float64 or float32, not {dtype!r}")
    # loop bodies and split sums use the schedule's ops (and add/sub/neg): one of each checked
    firsts = {ins.op: ins for ins in sched.instrs}
    check_ops(Schedule(sched.n_in, list(firsts.values())))
    T, _, size = _TYPES[dtype]
    fm = " fast" if fastmath else ""
    steps: list = []
    for st in plan.steps:
        steps += _chunks(st, shard) if isinstance(st, Block) else [st]
    # which function defines each straight-line temporary; values read in another one (or
    # shared roots a loop reads) go through the scratch array
    scratch = dict(plan.scratch)
    owner: dict[int, int] = {}
    for j, st in enumerate(steps):
        if isinstance(st, Block):
            for ins in st.instrs:
                owner[ins.dst] = j
    for j, st in enumerate(steps):
        if not isinstance(st, Block):
            continue
        uses = [a for ins in st.instrs for a in ins.args] + [r for _, _, r in st.stores]
        for a in uses:
            if a.kind == "tmp" and owner.get(a.index, -1) != j and a.index not in scratch:
                if a.index not in owner:
                    raise CompileError(f"internal error: t{a.index} is read but never computed")
                scratch[a.index] = len(scratch)
    ptr = f"{T}* noalias nocapture"
    decls: set[str] = set()
    globals_: list[str] = []
    body: list[str] = []
    for j, st in enumerate(steps):
        head = (f"define internal void @part{j}({ptr} readonly %x, {ptr} %out, {ptr} %c) "
                "noinline nounwind {")
        if isinstance(st, Loop):
            body += _loop_function(j, st, T, dtype, fm, head, decls, globals_)
            continue
        body.append(head)
        b = _Body(body, T, _TYPES[dtype][1], dtype, fm, "%x", "%out",
                  lambda i, j=j: owner.get(i) == j, scratch, decls)
        for ins in st.instrs:
            b.instr(ins)
        for n, (dest, di, r) in enumerate(st.stores):
            if dest == "out":
                b.store(di, r)
            else:
                v = b.get(r, "f")
                body += [f"  %qs{n} = getelementptr inbounds {T}, {T}* %c, i64 {di}",
                         f"  store {T} {v}, {T}* %qs{n}"]
        body += ["  ret void", "}", ""]
    x_arg, out_arg = f"{ptr} readonly %x", f"{ptr} %out"
    body += _kernel_calling_shards(T, size, len(steps), len(scratch), len(sched.outputs), [],
                                   x_arg, out_arg, "nounwind", decls)
    body += _batched(sched, T, False, None, [], None, 1)
    text = "\n".join(sorted(decls) + [""] + globals_ + [""] + body) + "\n"
    symbols = sorted({d.split("@", 1)[1].split("(", 1)[0] for d in decls
                      if not d.split("@", 1)[1].startswith("llvm.")})
    return IRModule(text, len(steps), len(scratch), False, symbols, 0)
