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
from symnum.backends.reroll import Block, Loop, Plan
from symnum.backends.schedule import Schedule

from symnum.errors import CompileError


def _table(name: str, ety: str, values: list[str]) -> str:
    return (f"@{name} = internal unnamed_addr constant [{len(values)} x {ety}] ["
            + ", ".join(f"{ety} {v}" for v in values) + "]")


def _int_table(name: str, a: np.ndarray) -> tuple[str, str]:
    """A global table of integers (i32 when they fit) and its element type."""
    flat = a.ravel()
    ety = "i32" if flat.size == 0 or int(flat.max()) < 2**31 else "i64"
    return _table(name, ety, [str(int(v)) for v in flat.tolist()]), ety


def _loop_function(j: int, lp: Loop, T: str, dtype: str, fm: str, head: str,
                   decls: set[str], globals_: list[str]) -> list[str]:
    m, nv, nq = lp.count, len(lp.sources), lp.coefs.shape[1]
    lines = [head, "entry:", "  br label %loop", "loop:",
             "  %i = phi i64 [0, %entry], [%i.next, %loop]"]
    b = _Body(lines, T, _TYPES[dtype][1], dtype, fm, "%x", "%out", lambda i: True, {}, decls)
    if nv:
        text, ity = _int_table(f"r{j}.idx", lp.index)
        globals_.append(text)
        lines.append(f"  %ib = mul i64 %i, {nv}")
        for s, src in enumerate(lp.sources):
            arr = "%x" if src == "x" else "%c"
            lines += [
                f"  %pi{s}.o = add i64 %ib, {s}",
                f"  %pi{s} = getelementptr inbounds [{m * nv} x {ity}], [{m * nv} x {ity}]* "
                f"@r{j}.idx, i64 0, i64 %pi{s}.o",
                f"  %ii{s} = load {ity}, {ity}* %pi{s}",
            ]
            if ity == "i32":
                lines.append(f"  %ix{s} = zext i32 %ii{s} to i64")
            else:
                lines.append(f"  %ix{s} = add i64 %ii{s}, 0")
            lines += [f"  %ps{s} = getelementptr inbounds {T}, {T}* {arr}, i64 %ix{s}",
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
    v = b.get(lp.root, "f")
    text, dty = _int_table(f"r{j}.dst", lp.dest_index)
    globals_.append(text)
    arr = "%out" if lp.dest == "out" else "%c"
    lines += [
        f"  %pd.i = getelementptr inbounds [{m} x {dty}], [{m} x {dty}]* @r{j}.dst, i64 0, "
        "i64 %i",
        f"  %pd.k = load {dty}, {dty}* %pd.i",
        "  %pd.x = zext i32 %pd.k to i64" if dty == "i32" else "  %pd.x = add i64 %pd.k, 0",
        f"  %pd = getelementptr inbounds {T}, {T}* {arr}, i64 %pd.x",
    ]
    if lp.acc is None:
        lines.append(f"  store {T} {v}, {T}* %pd")
    else:
        op = "fadd" if lp.acc == "add" else "fsub"
        lines += [f"  %old = load {T}, {T}* %pd",
                  f"  %new = {op}{fm} {T} %old, {v}",
                  f"  store {T} %new, {T}* %pd"]
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


def emit_rolled_ir(plan: Plan, sched: Schedule, dtype: str = "float64", *,
                   shard: int | None = 250, fastmath: bool = False) -> IRModule:
    """LLVM IR for a re-rolled schedule, with the same entry points as `emit_ir`."""
    if dtype not in _TYPES:
        raise CompileError(f"the llvm backend compiles float64 or float32, not {dtype!r}")
    check_ops(sched)  # loop bodies and split sums use the schedule's ops (and add/sub/neg)
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
