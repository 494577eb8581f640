"""Loop instructions (backends.loop_schedule) in LLVM IR: a header with the carries in phi
nodes, the body's own schedule emitted in a body block, a latch that counts the steps.

Tables (the explicit xs and the stacked ys) are stack arrays allocated in the function's entry
block, so a loop nested in another allocates them once per call (programs whose tables exceed
MAX_TABLE_BYTES are refused with a CompileError naming numba, which keeps them on the heap);
a ys table read in a later function of a sharded kernel is a slice of the kernel's scratch
array instead (`table_slots`, backends.llvm_segments.shared_tables).
A while loop without ys leaves its header as soon as its condition is false; with ys (the
stored carries of reverse mode) it runs every step, its carry unchanged after the condition
failed (the select form), so the ys are right without a fill loop. Registered into
backends.llvm_ops.EMITTERS when imported (the llvm backend imports it for loop programs).
"""

from __future__ import annotations

from typing import Any

from symnum.backends import llvm_ir as IR
from symnum.backends.llvm_ops import EMITTERS, check_ops
from symnum.backends.loop_schedule import LoopInstr, TableRead, table_col

from symnum.errors import CompileError

MAX_TABLE_BYTES = 1 << 22  # 4 MiB of stack for a kernel's loop tables


class _LoopBody(IR._Body):
    """A loop body's emitter: its inputs are values (phis, table loads), not loads from x."""

    def __init__(self, outer: IR._Body, pre: str, inputs: dict[int, str]):
        super().__init__(outer.out, outer.ety, outer.sfx, outer.dtype, outer.fm, outer.x,
                         outer.o, lambda i: True, {}, outer.decls, pre=pre)
        self.inputs = inputs
        self.entry = outer.entry if hasattr(outer, "entry") else _entry_index(outer.out)
        self.tables: dict[int, str] = {}

    def load_input(self, j: int) -> str:
        return self.inputs[j]


def _entry_index(out: list[str]) -> int:
    """Where the current function's entry block starts (just after its `define` line)."""
    for k in range(len(out) - 1, -1, -1):
        if out[k].startswith("define "):
            return k + 1
    raise CompileError("internal error: a loop outside a function")


def _alloca(b: IR._Body, name: str, count: int) -> None:
    entry = getattr(b, "entry", None)
    if entry is None:
        entry = _entry_index(b.out)
    b.out.insert(entry, f"  {name} = alloca {b.ty}, i64 {max(1, count)}, align 8")


def _tables(b: IR._Body) -> dict[int, str]:
    t = getattr(b, "tables", None)
    if t is None:
        t = b.tables = {}
    return t


def _shared(b: IR._Body, table: int) -> str | None:
    """A shared table's pointer in this function (its slice of the scratch array %c, made in
    the entry block so that it dominates every use), or None for a stack table."""
    slot = getattr(b, "table_slots", {}).get(table)
    if slot is None:
        return None
    name = _tables(b).get(table)
    if name is None:
        name = _tables(b)[table] = f"{b.p}T{table}"
        entry = getattr(b, "entry", None)
        if entry is None:
            entry = _entry_index(b.out)
        b.out.insert(entry, f"  {name} = getelementptr inbounds {b.ty}, {b.ty}* %c, "
                            f"i64 {slot[0]}")
        _widths(b)[table] = slot[1]
    return name


def _table(b: IR._Body, table: int) -> str:
    """The pointer to a loop's ys table in this function."""
    t = _tables(b).get(table)
    return t if t is not None else _shared(b, table)


def emit_loop(b: IR._Body, ins: LoopInstr) -> None:
    spec, body = ins.spec, ins.body
    check_ops(body)
    T, out = b.ty, b.out
    nc, nx, nk, ny, n = spec.nc, spec.nx, spec.nk, spec.ny, spec.length
    lp = f"{b.p}L{ins.dst}"  # value names
    lab = lp[1:]  # block labels
    size = 8 if b.dtype == "float64" else 4
    if (n * (ny + ins.n_explicit)) * size > MAX_TABLE_BYTES:
        raise CompileError(
            f"a loop's tables ({n} steps × {ny + ins.n_explicit} values) exceed the llvm "
            "backend's stack budget for them; use backend='numba' (heap tables)")
    init = [b.get(r, "f") for r in ins.args[:nc]]
    consts = [b.get(r, "f") for r in ins.args[nc:nc + nk]]
    explicit = ins.args[nc + nk:]
    m = ins.n_explicit
    if m:
        _alloca(b, f"{lp}.xs", n * m)
        for e, r in enumerate(explicit):
            out.append(f"  {lp}.xp{e} = getelementptr inbounds {T}, {T}* {lp}.xs, i64 {e}")
            out.append(f"  store {T} {b.get(r, 'f')}, {T}* {lp}.xp{e}")
    ys = None
    if ny:
        ys = _shared(b, ins.dst)
        if ys is None:
            ys = f"{lp}.ys"
            _alloca(b, ys, n * ny)
            _tables(b)[ins.dst] = ys
    early = spec.has_cond and not ny
    out += [f"  br label %{lab}.pre", f"{lab}.pre:", f"  br label %{lab}.head", f"{lab}.head:"]
    out.append(f"{lp}.PHIS")  # the phis go here once the latch values are known
    out.append(f"  {lp}.go = icmp slt i64 {lp}.s, {n}")
    out.append(f"  br i1 {lp}.go, label %{lab}.body, label %{lab}.exit")
    out.append(f"{lab}.body:")
    st = f"{lp}.s"
    if spec.reverse:
        st = f"{lp}.st"
        out.append(f"  {st} = sub i64 {n - 1}, {lp}.s")
    inputs = {k: f"{lp}.c{k}" for k in range(nc)}
    for j, col in enumerate(ins.xcols):
        off, stride = 0, 1
        if col[0] == "xs":
            tab, width, c = f"{lp}.xs", m, col[1]
        else:
            t, c, off, stride = table_col(col)  # row off + stride·s (reroll_link)
            tab = _table(b, t)
            width = _width(b, t)
        out.append(f"  {lp}.xo{j} = mul i64 {st}, {width * stride}")
        out.append(f"  {lp}.xq{j} = add i64 {lp}.xo{j}, {off * width + c}")
        out.append(f"  {lp}.xr{j} = getelementptr inbounds {T}, {T}* {tab}, i64 {lp}.xq{j}")
        out.append(f"  {lp}.x{j} = load {T}, {T}* {lp}.xr{j}")
        inputs[nc + j] = f"{lp}.x{j}"
    inputs.update({nc + nx + k: v for k, v in enumerate(consts)})
    out.append(f"  {lp}.i0 = add i64 {st}, {spec.lo}")
    out.append(f"  {lp}.i = sitofp i64 {lp}.i0 to {T}")
    inputs[nc + nx + nk] = f"{lp}.i"
    sb = _LoopBody(b, f"{lab}_", inputs)
    sb.entry = getattr(b, "entry", None) or _entry_index(out)
    sb.tables = {}
    sb.widths = {}
    for inner in body.instrs:
        sb.instr(inner)
    refs = [sb.get(r, "f") for r in body.outputs[:nc + ny]]
    for j in range(ny):
        out.append(f"  {lp}.yo{j} = mul i64 {st}, {ny}")
        out.append(f"  {lp}.yq{j} = add i64 {lp}.yo{j}, {j}")
        out.append(f"  {lp}.yr{j} = getelementptr inbounds {T}, {T}* {ys}, i64 {lp}.yq{j}")
        out.append(f"  store {T} {refs[nc + j]}, {T}* {lp}.yr{j}")
    cond = sb.get(body.outputs[-1], "b") if early else None
    out += [f"  br label %{lab}.latch", f"{lab}.latch:"]
    out.append(f"  {lp}.s1 = add i64 {lp}.s, 1")
    nxt = f"{lp}.s1"
    if cond is not None:  # condition false: the carry is a fixed point, leave now
        out.append(f"  {lp}.s2 = select i1 {cond}, i64 {lp}.s1, i64 {n}")
        nxt = f"{lp}.s2"
    out.append(f"  br label %{lab}.head")
    out.append(f"{lab}.exit:")
    phis = [f"  {lp}.s = phi i64 [0, %{lab}.pre], [{nxt}, %{lab}.latch]"]
    phis += [f"  {lp}.c{k} = phi {T} [{init[k]}, %{lab}.pre], [{refs[k]}, %{lab}.latch]"
             for k in range(nc)]
    at = len(out) - 1 - out[::-1].index(f"{lp}.PHIS")  # inner loops' allocas moved it
    out[at:at + 1] = phis
    for k, d in enumerate(ins.carry_dsts):
        b.vals[("tmp", d)] = (f"{lp}.c{k}", "f")
    if ny:
        _widths(b)[ins.dst] = ny


def _widths(b: IR._Body) -> dict[int, int]:
    w = getattr(b, "widths", None)
    if w is None:
        w = b.widths = {}
    return w


def _width(b: IR._Body, table: int) -> int:
    return _widths(b)[table]


def emit_table_read(b: IR._Body, ins: TableRead) -> None:
    T, out = b.ty, b.out
    d = f"{b.p}t{ins.dst}"
    tab = _table(b, ins.table)
    k = ins.step * _width(b, ins.table) + ins.col
    out.append(f"  {d}.p = getelementptr inbounds {T}, {T}* {tab}, i64 {k}")
    out.append(f"  {d} = load {T}, {T}* {d}.p")
    b.vals[("tmp", ins.dst)] = (d, "f")


EMITTERS[LoopInstr] = emit_loop
EMITTERS[TableRead] = emit_table_read


def has_loops(sched: Any) -> bool:
    return any(type(i) in EMITTERS for i in sched.instrs)
