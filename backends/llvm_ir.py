"""A schedule → LLVM IR text (`kernel(T* x, T* out)`, `batched(T* X, T* OUT, i64 rows)`).

Sits between `symnum.backends.schedule` and the JIT in `symnum.backends.llvm_backend`; it writes
text only and
never imports llvmlite (printing IR is ~15x faster than building it with llvmlite.ir). Only
generated names appear, and every float semantic follows numpy (NaN-propagating min/max, sign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from symnum.backends.llvm_ops import (  # noqa: F401  (re-exported: llvm_ir is their home for users)
    _ARITH,
    _CMP,
    _LOGIC,
    _OTHER,
    _RENAME,
    _TYPES,
    CALLBACK_PREFIX,
    CALLBACKS,
    CONST_TABLE_MIN,
    EMITTERS,
    INTRINSICS,
    LIBM,
    STACK_SCRATCH_BYTES,
    callback_symbol,
    check_ops,
    float_hex,
    known_ops,
    libm_symbols,
)
from symnum.backends.llvm_segments import Segment, shared_tables, table_sizes
from symnum.backends.llvm_segments import segments as _segments
from symnum.backends.pysource import user_fallback
from symnum.backends.schedule import Instr, Ref, Schedule

from symnum.errors import CompileError


@dataclass
class IRModule:
    """Generated IR text and the facts about it a caller reports."""

    text: str
    functions: int  # shard functions (1 = the kernel body is one function)
    cross: int  # values passed between shards through scratch memory
    inlined_batched: bool
    symbols: list[str] = field(default_factory=list)  # external C symbols it calls
    lanes: int = 0  # rows per iteration of batched's vector loop (0: none)


@dataclass(frozen=True)
class SimdTarget:
    """How `batched` runs several rows per iteration: `lanes` rows in one vector register,
    transcendentals through glibc's vector math library (libmvec) when `libmvec` (names from
    the x86-64 vector function ABI: `_ZGV<isa>N<lanes><v per argument>_<libm name>`, isa "b" =
    SSE 128-bit, "d" = AVX2 256-bit, "e" = AVX-512), else through exact scalar libm per lane."""

    lanes: int
    isa: str = "d"
    libmvec: bool = True

    def vector_name(self, libm_name: str, arity: int) -> str:
        """The libmvec symbol of a libm function at this width.

        >>> SimdTarget(4, "d").vector_name("pow", 2)
        '_ZGVdN4vv_pow'
        """
        return f"_ZGV{self.isa}N{self.lanes}{'v' * arity}_{libm_name}"


# functions libmvec (glibc ≥ 2.35) has a vector variant of, by lowering name; the rest of
# INTRINSICS are single instructions (sqrt, fabs, fmuladd) in any width
# glibc's libmvec has every LIBM function but fmod (that one stays a scalar call per lane)
LIBMVEC = ({"sin", "cos", "exp", "log", "pow"} | set(LIBM)) - {"fmod"}


class _Body:
    """Emits one function body: loads inputs lazily, tracks i1 vs float values, converts.
    With `lanes` > 0 every value is a vector of `lanes` rows (input j of lane l at
    x[l·n_in + j]); names then carry the prefix `pre` so both bodies share one function."""

    def __init__(self, out: list[str], ty: str, sfx: str, dtype: str, fm: str,
                 x: str, o: str, local: Callable[[int], bool], scratch: dict[int, int],
                 decls: set[str], simd: SimdTarget | None = None, n_in: int = 0,
                 n_out: int = 0, pre: str = ""):
        self.out, self.ty, self.sfx, self.dtype, self.fm = out, ty, sfx, dtype, fm
        self.x, self.o, self.local, self.scratch, self.decls = x, o, local, scratch, decls
        self.vals: dict[tuple[str, int], tuple[str, str]] = {}  # ref → (name, "f" | "b")
        self.conv: dict[tuple[str, str], str] = {}
        self.simd, self.n_in, self.n_out, self.p = simd, n_in, n_out, "%" + pre
        self.ety, self.bty, self.zero = ty, "i1", "0.0"
        if simd is not None:
            w = simd.lanes
            self.ty, self.bty, self.zero = f"<{w} x {ty}>", f"<{w} x i1>", "zeroinitializer"
            self.sfx = f"v{w}{sfx}"

    def lit(self, v: float) -> str:
        """A float constant of this body's type (splatted across lanes)."""
        h = float_hex(v, self.dtype)
        if self.simd is None:
            return h
        # spelled out, not `splat (…)`: that syntax needs LLVM ≥ 19
        return "<" + ", ".join([f"{self.ety} {h}"] * self.simd.lanes) + ">"

    def blit(self, b: bool) -> str:
        s = "true" if b else "false"
        return s if self.simd is None else "<" + ", ".join([f"i1 {s}"] * self.simd.lanes) + ">"

    def cast(self, ptr: str) -> str:
        """An element pointer as a pointer to this body's type (a vector: a bitcast, which
        LLVMs with typed pointers need and opaque-pointer ones ignore)."""
        if self.simd is None:
            return ptr
        self.out.append(f"  {ptr}.v = bitcast {self.ety}* {ptr} to {self.ty}*")
        return f"{ptr}.v"

    def load_input(self, j: int) -> str:
        """Input j as a value: one load per row, or a vector of `lanes` rows (a block load and
        a de-interleaving shuffle for few inputs, lane-by-lane loads for many)."""
        T, E, p, out = self.ty, self.ety, self.p, self.out
        name = f"{p}x{j}"
        if self.simd is None or self.n_in == 1:
            out.append(f"  {p}px{j} = getelementptr inbounds {E}, {E}* {self.x}, i64 {j}")
            out.append(f"  {name} = load {T}, {T}* {self.cast(f'{p}px{j}')}, align "
                       f"{_TYPES[self.dtype][2]}")
            return name
        w, n = self.simd.lanes, self.n_in
        if n <= 4:
            blk = f"<{w * n} x {E}>"
            if ("blk", 0) not in self.vals:
                out.append(f"  {p}xblk.p = bitcast {E}* {self.x} to {blk}*")
                out.append(f"  {p}xblk = load {blk}, {blk}* {p}xblk.p, align "
                           f"{_TYPES[self.dtype][2]}")
                self.vals[("blk", 0)] = (f"{p}xblk", "f")
            mask = ", ".join(f"i32 {j + n * lane}" for lane in range(w))
            out.append(f"  {name} = shufflevector {blk} {p}xblk, {blk} poison, <{w} x i32> "
                       f"<{mask}>")
            return name
        prev = "poison"
        for lane in range(w):
            out.append(f"  {p}px{j}.{lane} = getelementptr inbounds {E}, {E}* {self.x}, "
                       f"i64 {j + n * lane}")
            out.append(f"  {p}x{j}.{lane} = load {E}, {E}* {p}px{j}.{lane}")
            nxt = name if lane == w - 1 else f"{p}x{j}.i{lane}"
            out.append(f"  {nxt} = insertelement {T} {prev}, {E} {p}x{j}.{lane}, i32 {lane}")
            prev = nxt
        return name

    def fetch(self, r: Ref) -> tuple[str, str]:
        if r.kind == "const":
            return self.lit(r.value), "const"
        key = (r.kind, r.index)
        hit = self.vals.get(key)
        if hit is not None:
            return hit
        T, out = self.ty, self.out
        if r.kind == "in":
            name = self.load_input(r.index)
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
            return self.blit(r.value != 0)  # NaN is truthy, as in np.where
        if kind == want:
            return name
        hit = self.conv.get((name, want))
        if hit is None:
            hit = f"{name}.{want}"
            if want == "f":  # True → 1.0, False → 0.0
                self.out.append(f"  {hit} = uitofp {self.bty} {name} to {self.ty}")
            else:  # non-zero (and NaN) is true
                self.out.append(f"  {hit} = fcmp une {self.ty} {name}, {self.zero}")
            self.conv[(name, want)] = hit
        return hit

    def instr(self, ins: Instr) -> None:
        emit = EMITTERS.get(type(ins)) if EMITTERS else None
        if emit is not None:  # a loop (backends.llvm_loops): several blocks
            emit(self, ins)
            for d in (ins.dst, *getattr(ins, "carry_dsts", ())):  # read by a later shard
                if d in self.scratch and ("tmp", d) in self.vals:
                    self.spill(d)
            return
        op, T, fm, out = _RENAME.get(ins.op, ins.op), self.ty, self.fm, self.out
        B, Z = self.bty, self.zero
        d = f"{self.p}t{ins.dst}"
        kind = "f"
        if op in _ARITH:
            a, b = self.get(ins.args[0], "f"), self.get(ins.args[1], "f")
            out.append(f"  {d} = {_ARITH[op]}{fm} {T} {a}, {b}")
        elif op == "neg":
            out.append(f"  {d} = fneg{fm} {T} {self.get(ins.args[0], 'f')}")
        elif op in INTRINSICS or op in LIBM:
            args = [self.get(a, "f") for a in ins.args]
            libm = LIBM[op][1 if self.dtype == "float64" else 2] if op in LIBM else \
                op + ("" if self.dtype == "float64" else "f")
            if self.simd is not None and self.simd.libmvec and op in LIBMVEC:
                fname = self.simd.vector_name(libm, len(args))
            elif op in INTRINSICS:  # a vector intrinsic without libmvec: scalar calls per lane
                fname = f"llvm.{op}.{self.sfx}"
            elif self.simd is not None:
                self.lanewise(d, libm, args)
                self.vals[("tmp", ins.dst)] = (d, "f")
                return
            else:
                fname = libm
            self.decls.add(f"declare {T} @{fname}({', '.join([T] * len(args))})")
            arglist = ", ".join(f"{T} {a}" for a in args)
            out.append(f"  {d} = call{fm} {T} @{fname}({arglist})")
        elif op in _CMP:
            a, b = self.get(ins.args[0], "f"), self.get(ins.args[1], "f")
            out.append(f"  {d} = fcmp {_CMP[op]} {T} {a}, {b}")
            kind = "b"
        elif op in _LOGIC:
            a, b = self.get(ins.args[0], "b"), self.get(ins.args[1], "b")
            out.append(f"  {d} = {_LOGIC[op]} {B} {a}, {b}")
            kind = "b"
        elif op == "logical_not":
            out.append(f"  {d} = xor {B} {self.get(ins.args[0], 'b')}, {self.blit(True)}")
            kind = "b"
        elif op == "select":
            c = self.get(ins.args[0], "b")
            a, b = self.get(ins.args[1], "f"), self.get(ins.args[2], "f")
            out.append(f"  {d} = select {B} {c}, {T} {a}, {T} {b}")
        elif op in ("min", "max"):
            # np.minimum: NaN if a is NaN, else (a < b ? a : b), so a NaN b and ties give b
            a, b = self.get(ins.args[0], "f"), self.get(ins.args[1], "f")
            pred = "olt" if op == "min" else "ogt"
            out.append(f"  {d}.n = fcmp uno {T} {a}, {Z}")
            out.append(f"  {d}.l = fcmp {pred} {T} {a}, {b}")
            out.append(f"  {d}.s = select {B} {d}.l, {T} {a}, {T} {b}")
            out.append(f"  {d} = select {B} {d}.n, {T} {a}, {T} {d}.s")
        elif op == "sign":
            # np.sign: 1, -1, +0.0 for ±0, and NaN passes through
            a = self.get(ins.args[0], "f")
            one, mone = self.lit(1.0), self.lit(-1.0)
            out.append(f"  {d}.p = fcmp ogt {T} {a}, {Z}")
            out.append(f"  {d}.m = fcmp olt {T} {a}, {Z}")
            out.append(f"  {d}.z = fcmp oeq {T} {a}, {Z}")
            out.append(f"  {d}.s0 = select {B} {d}.z, {T} {Z}, {T} {a}")
            out.append(f"  {d}.s1 = select {B} {d}.m, {T} {mone}, {T} {d}.s0")
            out.append(f"  {d} = select {B} {d}.p, {T} {one}, {T} {d}.s1")
        elif user_fallback(op):  # a callback into the op's numpy implementation (slow)
            args = [self.get(a, "f") for a in ins.args]
            fname = callback_symbol(op, self.dtype)
            self.decls.add(f"declare {T} @{fname}({', '.join([T] * len(args))})")
            arglist = ", ".join(f"{T} {a}" for a in args)
            out.append(f"  {d} = call {T} @{fname}({arglist})")
        else:  # check_ops ran first; this is a bug in the table above
            raise CompileError(f"internal error: no emitter for '{op}'")
        self.vals[("tmp", ins.dst)] = (d, kind)
        if ins.dst in self.scratch:  # needed by a later shard: spill as a float
            self.spill(ins.dst)

    def spill(self, dst: int) -> None:
        T = self.ty
        v = self.get(Ref("tmp", dst), "f")
        self.out.append(f"  %qc{dst} = getelementptr inbounds {T}, {T}* %c, i64 "
                        f"{self.scratch[dst]}")
        self.out.append(f"  store {T} {v}, {T}* %qc{dst}")

    def lanewise(self, d: str, fname: str, args: list[str]) -> None:
        """d = fname(args) lane by lane through the scalar libm function (exact)."""
        T, E, out = self.ty, self.ety, self.out
        self.decls.add(f"declare {E} @{fname}({', '.join([E] * len(args))})")
        prev = "poison"
        for lane in range(self.simd.lanes):
            parts = []
            for i, a in enumerate(args):
                out.append(f"  {d}.a{i}.{lane} = extractelement {T} {a}, i32 {lane}")
                parts.append(f"{E} {d}.a{i}.{lane}")
            out.append(f"  {d}.r{lane} = call{self.fm} {E} @{fname}({', '.join(parts)})")
            nxt = d if lane == self.simd.lanes - 1 else f"{d}.i{lane}"
            out.append(f"  {nxt} = insertelement {T} {prev}, {E} {d}.r{lane}, i32 {lane}")
            prev = nxt

    def store(self, k: int, r: Ref) -> None:
        T, E, p = self.ty, self.ety, self.p
        v = self.get(r, "f")
        if self.simd is None or self.n_out == 1:
            self.out.append(f"  {p}po{k} = getelementptr inbounds {E}, {E}* {self.o}, i64 {k}")
            self.out.append(f"  store {T} {v}, {T}* {self.cast(f'{p}po{k}')}, align "
                            f"{_TYPES[self.dtype][2]}")
            return
        for lane in range(self.simd.lanes):  # output k of lane l at o[l·n_out + k]
            self.out.append(f"  {p}o{k}.{lane} = extractelement {T} {v}, i32 {lane}")
            self.out.append(f"  {p}po{k}.{lane} = getelementptr inbounds {E}, {E}* {self.o}, "
                            f"i64 {k + self.n_out * lane}")
            self.out.append(f"  store {E} {p}o{k}.{lane}, {E}* {p}po{k}.{lane}")


def emit_ir(sched: Schedule, dtype: str = "float64", *, shard: int | None = 250,
            fastmath: bool = False, inline_batched: bool | None = None,
            simd: SimdTarget | None = None) -> IRModule:
    """LLVM IR for a schedule: `void kernel(T* noalias x, T* noalias out)` and
    `void batched(T* X, T* OUT, i64 rows)` over row-major (rows, n_in) / (rows, n_out) blocks.

    Kernels of more than `shard` items (instructions plus output stores) are split into
    functions of about `shard` items (LLVM's code generator is superlinear in function size);
    values crossing a split go through a scratch array, and 32 or more constant outputs are
    stored by a loop over a table. A one-function body lives in `batched`'s row loop and
    `kernel` runs one row (`inline_batched=False`: the body lives in `kernel`, which `batched`
    calls per row). With `simd`, `batched` also runs `simd.lanes` rows per iteration (vector
    arithmetic; libmvec calls when `simd.libmvec`) — inline, or through `kernel_v` and vector
    copies of the shards — the scalar body taking the remaining rows and `kernel`'s single
    row (kernels with a constant table stay scalar).

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
            for d in getattr(ins, "carry_dsts", ()):  # a loop's other results
                owner[d] = j
    scratch: dict[int, int] = {}  # tmp index → slot, for values used outside their shard
    for j, (part, ks) in enumerate(segs):
        uses = [a for ins in part for a in ins.args] + [sched.outputs[k] for k in ks]
        for a in uses:
            if a.kind == "tmp" and owner[a.index] != j and a.index not in scratch:
                scratch[a.index] = len(scratch)
    # loop tables read in a later function: slices of the scratch array after its values
    # (backends.llvm_loops reads `table_slots`: table tmp → (offset, width))
    widths = shared_tables(segs) if len(segs) > 1 else {}
    table_slots: dict[int, tuple[int, int]] = {}
    n_slots = len(scratch)
    for t, rows in table_sizes(segs, widths).items():
        table_slots[t] = (n_slots, widths[t])
        n_slots += rows
    decls: set[str] = set()
    body: list[str] = []
    ptr = f"{T}* noalias nocapture"
    x_arg, out_arg = f"{ptr} readonly %x", f"{ptr} %out"

    def emit_body(lines: list[str], seg: Segment, x: str, o: str,
                  local: Callable[[int], bool]) -> None:
        b = _Body(lines, T, sfx, dtype, fm, x, o, local, scratch, decls)
        b.table_slots = table_slots
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
        body += _kernel_calling_shards(T, size, len(segs), n_slots, len(sched.outputs),
                                       tail, x_arg, out_arg, attrs, decls)
    vector = None

    def vector_body(lines: list[str], seg: Segment, x: str, o: str,
                    local: Callable[[int], bool]) -> None:
        b = _Body(lines, T, sfx, dtype, fm, x, o, local, scratch, decls, simd, sched.n_in,
                  len(sched.outputs), "v")
        for ins in seg[0]:
            b.instr(ins)
        for k in seg[1]:
            b.store(k, sched.outputs[k])

    if simd is not None and simd.lanes > 1 and inline_batched:
        def vector(lines: list[str]) -> None:
            vector_body(lines, segs[0], "%vxrow", "%vorow", lambda i: True)
    elif (simd is not None and simd.lanes > 1 and not consts
          and len(scratch) * simd.lanes * size <= STACK_SCRATCH_BYTES):
        # a sharded body: `kernel_v` runs `lanes` rows through vector copies of the shards,
        # their crossing values in a vector scratch array (constant tables: scalar rows only)
        V = f"<{simd.lanes} x {T}>"
        body.append(f"define internal void @kernel_v({x_arg}, {out_arg}) noinline {attrs} {{")
        if len(segs) == 1:
            vector_body(body, segs[0], "%x", "%out", lambda i: True)
        else:
            body.append(f"  %c = alloca {V}, i64 {max(1, len(scratch))}, align 64")
            body += [f"  call void @vpart{j}({T}* %x, {T}* %out, {V}* %c)"
                     for j in range(len(segs))]
        body.append("  ret void\n}\n")
        for j, seg in enumerate(segs if len(segs) > 1 else []):
            body.append(f"define internal void @vpart{j}({x_arg}, {out_arg}, {V}* noalias "
                        f"nocapture %c) noinline {attrs} {{")
            vector_body(body, seg, "%x", "%out", lambda i, j=j: owner[i] == j)
            body.append("  ret void\n}\n")

        def vector(lines: list[str]) -> None:
            lines.append(f"  call void @kernel_v({T}* %vxrow, {T}* %vorow)")
    body += _batched(sched, T, inline_batched, emit_body, segs, vector,
                     simd.lanes if simd is not None else 1)
    text = "\n".join(sorted(decls) + [""] + body) + "\n"
    symbols = sorted({d.split("@", 1)[1].split("(", 1)[0] for d in decls
                      if not d.split("@", 1)[1].startswith("llvm.")})
    return IRModule(text, len(segs), len(scratch), inline_batched, symbols,
                    simd.lanes if vector is not None else 0)


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
             segs: list[Segment], vector: Callable | None = None, lanes: int = 1) -> list[str]:
    n_in, n_out = sched.n_in, len(sched.outputs)
    lines = [
        f"define void @batched({T}* noalias nocapture readonly %X, {T}* noalias nocapture %O, "
        "i64 %rows) nounwind {",
        "entry:",
        "  %empty = icmp sle i64 %rows, 0",
    ]
    start = "0"
    if vector is None:
        lines.append("  br i1 %empty, label %done, label %loop")
    else:  # whole vectors of `lanes` rows first, then the scalar loop from %vrows on
        start = "%vrows"
        lines += [
            "  br i1 %empty, label %done, label %ventry",
            "ventry:",
            f"  %vrows = and i64 %rows, {-lanes}",
            "  %vnone = icmp eq i64 %vrows, 0",
            "  br i1 %vnone, label %tail, label %vloop",
            "vloop:",
            "  %vi = phi i64 [0, %ventry], [%vi.next, %vloop]",
            f"  %vxoff = mul i64 %vi, {n_in}",
            f"  %vooff = mul i64 %vi, {n_out}",
            f"  %vxrow = getelementptr inbounds {T}, {T}* %X, i64 %vxoff",
            f"  %vorow = getelementptr inbounds {T}, {T}* %O, i64 %vooff",
        ]
        vector(lines)
        lines += [
            f"  %vi.next = add i64 %vi, {lanes}",
            "  %vmore = icmp slt i64 %vi.next, %vrows",
            "  br i1 %vmore, label %vloop, label %tail",
            "tail:",
            "  %rest = icmp slt i64 %vrows, %rows",
            "  br i1 %rest, label %loop, label %done",
        ]
    lines += [
        "loop:",
        f"  %i = phi i64 [{start}, %{'entry' if vector is None else 'tail'}], "
        "[%i.next, %loop]",
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
