"""A schedule → LLVM IR text (`kernel(T* x, T* out)`, `batched(T* X, T* OUT, i64 rows)`).

Sits between `symnum.backends.schedule` and the JIT in `symnum.backends.llvm_backend`; it writes
text only and
never imports llvmlite (printing IR is ~15x faster than building it with llvmlite.ir). Only
generated names appear, and every float semantic follows numpy (NaN-propagating min/max, sign).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from symnum.backends.schedule import Instr, Ref, Schedule, sincos_at

from symnum.errors import CompileError

# LLVM intrinsics (lowered to instructions or to libm calls by the code generator)
INTRINSICS: dict[str, int] = {"sin": 1, "cos": 1, "exp": 1, "log": 1, "sqrt": 1, "fabs": 1,
                              "pow": 2, "fmuladd": 3, "floor": 1, "ceil": 1, "trunc": 1,
                              "rint": 1, "copysign": 2}
# lowering names spelled differently in LLVM: fma is llvm.fmuladd (fused where the CPU has FMA
# units, mul + add elsewhere: never a slow software fma)
_RENAME = {"fma": "fmuladd"}
# libm functions called by symbol: lowering name → (arity, float64 symbol, float32 symbol).
# Add an entry here to lower a user primitive to another libm function.
LIBM: dict[str, tuple[int, str, str]] = {
    name: (1, name, name + "f")
    for name in ("tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "log1p", "expm1", "erf",
                 "asinh", "acosh", "atanh", "cbrt")
}
LIBM.update({"atan2": (2, "atan2", "atan2f"), "hypot": (2, "hypot", "hypotf"),
             "fmod": (2, "fmod", "fmodf")})
# intrinsics that become instructions (roundsd, andpd/orpd), never libm calls
_INLINE = ("sqrt", "fabs", "fmuladd", "floor", "ceil", "trunc", "rint", "copysign")
_ARITH = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv"}
_CMP = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}
_LOGIC = {"logical_and": "and", "logical_or": "or"}
_OTHER = {"neg": 1, "select": 3, "min": 2, "max": 2, "sign": 1, "logical_not": 1}
_TYPES = {"float64": ("double", "f64", 8), "float32": ("float", "f32", 4)}
# Scratch space for values crossing shard boundaries lives on the stack up to this many bytes;
# beyond it the kernel mallocs it (worker threads may have small stacks).
STACK_SCRATCH_BYTES = 1 << 20
# From this many constant outputs on, they are stored by a loop over a table (see _const_table).
CONST_TABLE_MIN = 32


def known_ops() -> set[str]:
    """Every lowering name this emitter understands.

    >>> {"sin", "atan2", "select", "min"} <= known_ops()
    True
    """
    names = (set(INTRINSICS) - set(_RENAME.values())) | set(_RENAME) | set(LIBM)
    return names | set(_ARITH) | set(_CMP) | set(_LOGIC) | set(_OTHER)


def libm_symbols(dtype: str = "float64") -> list[str]:
    """The C symbols a kernel of this dtype may call (for the JIT's symbol resolution)."""
    k = 1 if dtype == "float64" else 2
    names = [v[k] for v in LIBM.values()]
    names += [n if k == 1 else n + "f" for n in INTRINSICS if n not in _INLINE]
    names += ["sincos" if k == 1 else "sincosf"]  # LLVM merges sin(x) and cos(x) into one call
    return names


def float_hex(v: float, dtype: str = "float64") -> str:
    """An LLVM float literal (the exact double bit pattern; float32 values rounded first).

    >>> float_hex(1.0), float_hex(float("nan")), float_hex(0.1, "float32")
    ('0x3FF0000000000000', '0x7FF8000000000000', '0x3FB99999A0000000')
    """
    if dtype == "float32":
        with np.errstate(over="ignore"):
            v = float(np.float32(v))
    return f"0x{struct.unpack('<Q', struct.pack('<d', float(v)))[0]:016X}"


def check_ops(sched: Schedule) -> None:
    """Raise CompileError naming the first operation this emitter cannot lower."""
    known = known_ops()
    for ins in sched.instrs:
        if ins.op not in known:
            raise CompileError(
                f"the llvm backend has no lowering for the operation '{ins.op}' (instruction "
                f"t{ins.dst} = {ins.op}{ins.args}); give its Op a `lower` name among "
                f"{', '.join(sorted(known))}, add a libm function to backends.llvm_ir.LIBM, or "
                "use backend='numpy'"
            )


@dataclass
class IRModule:
    """Generated IR text and the facts about it a caller reports."""

    text: str
    functions: int  # shard functions (1 = the kernel body is one function)
    cross: int  # values passed between shards through scratch memory
    inlined_batched: bool
    symbols: list[str] = field(default_factory=list)  # external C symbols it calls


class _Body:
    """Emits one function body: loads inputs lazily, tracks i1 vs float values, converts."""

    def __init__(self, out: list[str], ty: str, sfx: str, dtype: str, fm: str,
                 x: str, o: str, local: Callable[[int], bool], scratch: dict[int, int],
                 decls: set[str]):
        self.out, self.ty, self.sfx, self.dtype, self.fm = out, ty, sfx, dtype, fm
        self.x, self.o, self.local, self.scratch, self.decls = x, o, local, scratch, decls
        self.vals: dict[tuple[str, int], tuple[str, str]] = {}  # ref → (name, "f" | "b")
        self.conv: dict[tuple[str, str], str] = {}

    def fetch(self, r: Ref) -> tuple[str, str]:
        if r.kind == "const":
            return float_hex(r.value, self.dtype), "const"
        key = (r.kind, r.index)
        hit = self.vals.get(key)
        if hit is not None:
            return hit
        T, out = self.ty, self.out
        if r.kind == "in":
            name = f"%x{r.index}"
            out.append(f"  %px{r.index} = getelementptr inbounds {T}, {T}* {self.x}, i64 {r.index}")
            out.append(f"  {name} = load {T}, {T}* %px{r.index}")
        elif r.kind == "tmp" and not self.local(r.index):  # defined in an earlier shard
            name = f"%t{r.index}"
            slot = self.scratch[r.index]
            out.append(f"  %pc{r.index} = getelementptr inbounds {T}, {T}* %c, i64 {slot}")
            out.append(f"  {name} = load {T}, {T}* %pc{r.index}")
        else:
            raise CompileError(f"internal error: t{r.index} is used before it is defined")
        self.vals[key] = (name, "f")
        return name, "f"

    def get(self, r: Ref, want: str) -> str:
        """The operand as a float ("f") or as an i1 ("b"), converting once per value."""
        name, kind = self.fetch(r)
        if kind == "const":
            if want == "f":
                return name
            return "false" if r.value == 0 else "true"  # NaN is truthy, as in np.where
        if kind == want:
            return name
        hit = self.conv.get((name, want))
        if hit is None:
            hit = f"{name}.{want}"
            if want == "f":  # True → 1.0, False → 0.0
                self.out.append(f"  {hit} = uitofp i1 {name} to {self.ty}")
            else:  # non-zero (and NaN) is true
                self.out.append(f"  {hit} = fcmp une {self.ty} {name}, 0.0")
            self.conv[(name, want)] = hit
        return hit

    def instr(self, ins: Instr) -> None:
        op, T, fm, out = _RENAME.get(ins.op, ins.op), self.ty, self.fm, self.out
        d = f"%t{ins.dst}"
        kind = "f"
        if op in _ARITH:
            a, b = self.get(ins.args[0], "f"), self.get(ins.args[1], "f")
            out.append(f"  {d} = {_ARITH[op]}{fm} {T} {a}, {b}")
        elif op == "neg":
            out.append(f"  {d} = fneg{fm} {T} {self.get(ins.args[0], 'f')}")
        elif op in INTRINSICS or op in LIBM:
            args = [self.get(a, "f") for a in ins.args]
            if op in INTRINSICS:
                fname = f"llvm.{op}.{self.sfx}"
            else:
                fname = LIBM[op][1 if self.dtype == "float64" else 2]
            self.decls.add(f"declare {T} @{fname}({', '.join([T] * len(args))})")
            arglist = ", ".join(f"{T} {a}" for a in args)
            out.append(f"  {d} = call{fm} {T} @{fname}({arglist})")
        elif op in _CMP:
            a, b = self.get(ins.args[0], "f"), self.get(ins.args[1], "f")
            out.append(f"  {d} = fcmp {_CMP[op]} {T} {a}, {b}")
            kind = "b"
        elif op in _LOGIC:
            a, b = self.get(ins.args[0], "b"), self.get(ins.args[1], "b")
            out.append(f"  {d} = {_LOGIC[op]} i1 {a}, {b}")
            kind = "b"
        elif op == "logical_not":
            out.append(f"  {d} = xor i1 {self.get(ins.args[0], 'b')}, true")
            kind = "b"
        elif op == "select":
            c = self.get(ins.args[0], "b")
            a, b = self.get(ins.args[1], "f"), self.get(ins.args[2], "f")
            out.append(f"  {d} = select i1 {c}, {T} {a}, {T} {b}")
        elif op in ("min", "max"):
            # np.minimum: NaN if a is NaN, else (a < b ? a : b), so a NaN b and ties give b
            a, b = self.get(ins.args[0], "f"), self.get(ins.args[1], "f")
            pred = "olt" if op == "min" else "ogt"
            out.append(f"  {d}.n = fcmp uno {T} {a}, 0.0")
            out.append(f"  {d}.l = fcmp {pred} {T} {a}, {b}")
            out.append(f"  {d}.s = select i1 {d}.l, {T} {a}, {T} {b}")
            out.append(f"  {d} = select i1 {d}.n, {T} {a}, {T} {d}.s")
        elif op == "sign":
            # np.sign: 1, -1, +0.0 for ±0, and NaN passes through
            a = self.get(ins.args[0], "f")
            one, mone = float_hex(1.0), float_hex(-1.0)
            out.append(f"  {d}.p = fcmp ogt {T} {a}, 0.0")
            out.append(f"  {d}.m = fcmp olt {T} {a}, 0.0")
            out.append(f"  {d}.z = fcmp oeq {T} {a}, 0.0")
            out.append(f"  {d}.s0 = select i1 {d}.z, {T} 0.0, {T} {a}")
            out.append(f"  {d}.s1 = select i1 {d}.m, {T} {mone}, {T} {d}.s0")
            out.append(f"  {d} = select i1 {d}.p, {T} {one}, {T} {d}.s1")
        else:  # check_ops ran first; this is a bug in the table above
            raise CompileError(f"internal error: no emitter for '{op}'")
        self.vals[("tmp", ins.dst)] = (d, kind)
        if ins.dst in self.scratch:  # needed by a later shard: spill as a float
            v = self.get(Ref("tmp", ins.dst), "f")
            out.append(f"  %qc{ins.dst} = getelementptr inbounds {T}, {T}* %c, i64 "
                       f"{self.scratch[ins.dst]}")
            out.append(f"  store {T} {v}, {T}* %qc{ins.dst}")

    def store(self, k: int, r: Ref) -> None:
        T = self.ty
        v = self.get(r, "f")
        self.out.append(f"  %po{k} = getelementptr inbounds {T}, {T}* {self.o}, i64 {k}")
        self.out.append(f"  store {T} {v}, {T}* %po{k}")


Segment = tuple[list[Instr], list[int]]  # instructions, and the outputs stored after them


def _segments(sched: Schedule, shard: int | None, skip: set[int]) -> list[Segment]:
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
    segs: list[Segment] = []
    instrs: list[Instr] = []
    outs: list[int] = []
    for j, ins in enumerate(sched.instrs):
        instrs.append(ins)
        outs.extend(users.get(ins.dst, ()))
        # never between a sine and its cosine: a cut would cost LLVM's merged sincos call
        if len(instrs) + len(outs) >= shard and not sincos_at(sched.instrs, j):
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


def emit_ir(sched: Schedule, dtype: str = "float64", *, shard: int | None = 250,
            fastmath: bool = False, inline_batched: bool | None = None) -> IRModule:
    """LLVM IR for a schedule: `void kernel(T* noalias x, T* noalias out)` and
    `void batched(T* X, T* OUT, i64 rows)` over row-major (rows, n_in) / (rows, n_out) blocks.

    Kernels of more than `shard` items (instructions plus output stores) are split into
    functions of about `shard` items (LLVM's code generator is superlinear in function size);
    values crossing a split go through a scratch array, and 32 or more constant outputs are
    stored by a loop over a table. A one-function body lives in `batched`'s row loop and
    `kernel` runs one row (`inline_batched=False`: the body lives in `kernel`, which `batched`
    calls per row).

    >>> import symnum as sn
    >>> from symnum.backends.schedule import schedule
    >>> x = sn.Sym("x")
    >>> m = emit_ir(schedule([x], [sn.sin(x) * 2]))
    >>> "call double @llvm.sin.f64(double %x0)" in m.text, m.functions
    (True, 1)
    """
    if dtype not in _TYPES:
        raise CompileError(f"the llvm backend compiles float64 or float32, not {dtype!r}")
    check_ops(sched)
    T, sfx, size = _TYPES[dtype]
    fm = " fast" if fastmath else ""
    consts = [k for k, r in enumerate(sched.outputs) if r.kind == "const"]
    if len(consts) < CONST_TABLE_MIN:
        consts = []
    segs = _segments(sched, shard, set(consts))
    owner: dict[int, int] = {}
    for j, (part, _) in enumerate(segs):
        for ins in part:
            owner[ins.dst] = j
    scratch: dict[int, int] = {}  # tmp index → slot, for values used outside their shard
    for j, (part, ks) in enumerate(segs):
        uses = [a for ins in part for a in ins.args] + [sched.outputs[k] for k in ks]
        for a in uses:
            if a.kind == "tmp" and owner[a.index] != j and a.index not in scratch:
                scratch[a.index] = len(scratch)
    decls: set[str] = set()
    body: list[str] = []
    ptr = f"{T}* noalias nocapture"
    x_arg, out_arg = f"{ptr} readonly %x", f"{ptr} %out"

    def emit_body(lines: list[str], seg: Segment, x: str, o: str,
                  local: Callable[[int], bool]) -> None:
        b = _Body(lines, T, sfx, dtype, fm, x, o, local, scratch, decls)
        for ins in seg[0]:
            b.instr(ins)
        for k in seg[1]:
            b.store(k, sched.outputs[k])

    attrs = "nounwind"
    tail = _const_table(body, T, dtype, consts, [sched.outputs[k].value for k in consts])
    # One copy of a one-function body: in the row loop of `batched` (and `kernel` runs that
    # loop once), or in `kernel` (and `batched` calls it per row). Never both: that would
    # double the code generator's work for ~1 ns per row.
    if inline_batched is None:
        inline_batched = True
    inline_batched = bool(inline_batched) and len(segs) == 1 and not consts
    if inline_batched:
        body.append(f"define void @kernel({x_arg}, {out_arg}) {attrs} {{")
        body.append(f"  call void @batched({T}* %x, {T}* %out, i64 1)")
        body.append("  ret void\n}\n")
    elif len(segs) == 1:
        body.append(f"define void @kernel({x_arg}, {out_arg}) {attrs} {{")
        emit_body(body, segs[0], "%x", "%out", lambda i: True)
        body += tail
        body.append("  ret void\n}\n")
    else:
        for j, seg in enumerate(segs):
            body.append(f"define internal void @part{j}({x_arg}, {out_arg}, {ptr} %c) "
                        f"noinline {attrs} {{")
            emit_body(body, seg, "%x", "%out", lambda i, j=j: owner[i] == j)
            body.append("  ret void\n}\n")
        body += _kernel_calling_shards(T, size, len(segs), len(scratch), len(sched.outputs),
                                       tail, x_arg, out_arg, attrs, decls)
    body += _batched(sched, T, inline_batched, emit_body, segs)
    text = "\n".join(sorted(decls) + [""] + body) + "\n"
    symbols = sorted({d.split("@", 1)[1].split("(", 1)[0] for d in decls
                      if not d.split("@", 1)[1].startswith("llvm.")})
    return IRModule(text, len(segs), len(scratch), inline_batched, symbols)


def _const_table(body: list[str], T: str, dtype: str, ks: list[int],
                 values: list[float]) -> list[str]:
    """Constant outputs as two global tables and a store loop: thousands of constant stores
    (the diffusion entries of a PDE Jacobian) cost LLVM's scheduler ~30 µs each, a loop none.
    Appends the tables to `body`; returns the loop's lines for the kernel."""
    n = len(ks)
    if not n:
        return []
    body.append(f"@const.idx = internal unnamed_addr constant [{n} x i64] ["
                + ", ".join(f"i64 {k}" for k in ks) + "]")
    body.append(f"@const.val = internal unnamed_addr constant [{n} x {T}] ["
                + ", ".join(f"{T} {float_hex(v, dtype)}" for v in values) + "]\n")
    return [
        "  br label %cl.entry",  # a named block, so the phi below knows its predecessor
        "cl.entry:",
        "  br label %cl.loop",
        "cl.loop:",
        "  %cl.i = phi i64 [0, %cl.entry], [%cl.next, %cl.loop]",
        f"  %cl.pi = getelementptr inbounds [{n} x i64], [{n} x i64]* @const.idx, i64 0, i64 %cl.i",
        "  %cl.k = load i64, i64* %cl.pi",
        f"  %cl.pv = getelementptr inbounds [{n} x {T}], [{n} x {T}]* @const.val, i64 0, "
        "i64 %cl.i",
        f"  %cl.v = load {T}, {T}* %cl.pv",
        f"  %cl.po = getelementptr inbounds {T}, {T}* %out, i64 %cl.k",
        f"  store {T} %cl.v, {T}* %cl.po",
        "  %cl.next = add i64 %cl.i, 1",
        f"  %cl.more = icmp slt i64 %cl.next, {n}",
        "  br i1 %cl.more, label %cl.loop, label %cl.done",
        "cl.done:",
    ]


def _kernel_calling_shards(T: str, size: int, n: int, n_scratch: int, n_out: int,
                           tail: list[str], x_arg: str, out_arg: str, attrs: str,
                           decls: set[str]) -> list[str]:
    lines = [f"define void @kernel({x_arg}, {out_arg}) {attrs} {{"]
    slots = max(1, n_scratch)
    heap = slots * size > STACK_SCRATCH_BYTES
    if heap:
        decls.add("declare noalias i8* @malloc(i64)")
        decls.add("declare void @free(i8*)")
        lines.append(f"  %c.raw = call i8* @malloc(i64 {slots * size})")
        lines.append("  %c.null = icmp eq i8* %c.raw, null")
        lines.append("  br i1 %c.null, label %oom, label %go")
        lines.append("go:")
        lines.append(f"  %c = bitcast i8* %c.raw to {T}*")
    else:
        lines.append(f"  %c = alloca {T}, i64 {slots}, align 16")
    for j in range(n):
        lines.append(f"  call void @part{j}({T}* %x, {T}* %out, {T}* %c)")
    lines += tail
    if not heap:
        lines.append("  ret void\n}\n")
        return lines
    lines.append("  call void @free(i8* %c.raw)")
    lines.append("  ret void")
    # out of memory: every output becomes NaN rather than garbage (a crash would take the
    # interpreter down); the caller sees NaN and can recompile with a larger shard size
    lines.append("oom:")
    if n_out:
        nan = float_hex(float("nan"))
        lines += [
            "  br label %oom.loop",
            "oom.loop:",
            "  %k = phi i64 [0, %oom], [%k.next, %oom.loop]",
            f"  %pk = getelementptr inbounds {T}, {T}* %out, i64 %k",
            f"  store {T} {nan}, {T}* %pk",
            "  %k.next = add i64 %k, 1",
            f"  %k.more = icmp slt i64 %k.next, {n_out}",
            "  br i1 %k.more, label %oom.loop, label %oom.done",
            "oom.done:",
        ]
    lines.append("  ret void\n}\n")
    return lines


def _batched(sched: Schedule, T: str, inline: bool, emit_body: Callable,
             segs: list[Segment]) -> list[str]:
    n_in, n_out = sched.n_in, len(sched.outputs)
    lines = [
        f"define void @batched({T}* noalias nocapture readonly %X, {T}* noalias nocapture %O, "
        "i64 %rows) nounwind {",
        "entry:",
        "  %empty = icmp sle i64 %rows, 0",
        "  br i1 %empty, label %done, label %loop",
        "loop:",
        "  %i = phi i64 [0, %entry], [%i.next, %loop]",
        f"  %xoff = mul i64 %i, {n_in}",
        f"  %ooff = mul i64 %i, {n_out}",
        f"  %xrow = getelementptr inbounds {T}, {T}* %X, i64 %xoff",
        f"  %orow = getelementptr inbounds {T}, {T}* %O, i64 %ooff",
    ]
    if inline:
        emit_body(lines, segs[0], "%xrow", "%orow", lambda i: True)
    else:
        lines.append(f"  call void @kernel({T}* %xrow, {T}* %orow)")
    lines += [
        "  %i.next = add i64 %i, 1",
        "  %more = icmp slt i64 %i.next, %rows",
        "  br i1 %more, label %loop, label %done",
        "done:",
        "  ret void",
        "}",
    ]
    return lines
