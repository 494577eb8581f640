"""Array loop plans → LLVM IR text: the llvm backend's renderer of backends.array_loops' plan.

backends.array_loops.LoopGen plans an ArrayFn once (which nodes are materialised, fused bodies,
index maps as index arithmetic, accumulators, peeled boundary segments) and writes the plan as a
small, fixed subset of Python: `for v in range(a[, b])`, `if c:`, assignments and augmented
assignments to scalars and to array elements `m[i, j]`, `m = np.empty(shape, dtype)`,
`m = np.dot(a, b)`, `m[...] = c`, `return`. The numba renderer compiles that text as it is;
this module reads the same text (Python's `ast`) and prints LLVM IR for it, with the scalar ops
spelled neutrally (`_op_<lowering name>(…)`, LoopGen's `op_src`) and emitted by the scalar
backend's own emitter (backends.llvm_ir._Body: libm, intrinsics, numpy's min/max/sign).
Shapes are static, arrays C-contiguous. Scalars live in allocas (LLVM's mem2reg promotes
them; the IR pipeline runs for array kernels). Writes text only; never imports llvmlite.

The function: `void @run(i8** %p)` with p[k] the data of argument k (inputs: arrays, or a
pointer to a scalar; then one buffer per flat output); `void @kernel(i8* x, i8* out)` calls
run with (x, out) for the llvm_call trampoline; constants are external globals `@sn_c<k>`
resolved at link time (the object code stays cacheable across processes). Where arrays live
(output buffers, temporaries in the kernel's scratch block, whose `@run` checks the block out
and calls the loops as `@sn_body`) is backends.llvm_scratch's.
"""

from __future__ import annotations

import ast
from typing import Any

from symnum.backends.llvm_array_calls import CallsOut
from symnum.backends.llvm_ir import LIBMVEC, _Body
from symnum.backends.llvm_ops import float_hex
from symnum.backends.llvm_scratch import ELEM as _ELEM
from symnum.backends.llvm_scratch import Arr as _Arr
from symnum.backends.llvm_scratch import Buffers
from symnum.backends.schedule import Instr, Ref

from symnum.arrays.terms import ArraySym
from symnum.errors import CompileError

_NPDT = {"np.float64": "float64", "np.int64": "int64", "np.int32": "int32",
         "np.bool_": "bool"}
_FBIN = {ast.Add: "fadd", ast.Sub: "fsub", ast.Mult: "fmul", ast.Div: "fdiv"}
_IBIN = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.FloorDiv: "sdiv",
         ast.Mod: "srem"}
_FCMP = {ast.Lt: "olt", ast.LtE: "ole", ast.Gt: "ogt", ast.GtE: "oge", ast.Eq: "oeq",
         ast.NotEq: "une"}
_ICMP = {ast.Lt: "slt", ast.LtE: "sle", ast.Gt: "sgt", ast.GtE: "sge", ast.Eq: "eq",
         ast.NotEq: "ne"}


def neutral_op(op: str, args: list[str]) -> str:
    """LoopGen's op spelling for this renderer: `_op_<lowering name>(args)`."""
    return f"_op_{op}({', '.join(args)})"


class IRRenderer(CallsOut, Buffers):
    """One kernel's IR from LoopGen's plan (`gen`, after `gen.source()` gave `src`)."""

    def __init__(self, gen: Any, src: str, fastmath: bool = False,
                 vector_isas: tuple = (), arena: bool = True):
        self.gen, self.fn = gen, gen.fn
        self.init_buffers(arena)
        # (isa letter, lanes) of libmvec variants the loop vectoriser may call (vecmath)
        self.vector_isas = vector_isas
        self.attrs: dict[str, int] = {}  # libm function → its call sites' attribute group
        self.attr_lines: list[str] = []
        self.used: list[str] = []  # vector variants kept for the vectoriser
        self.fm = " fast" if fastmath else ""
        self.lines: list[str] = []
        self.allocas: list[str] = []
        self.decls: set[str] = set()
        self.arrays: dict[str, _Arr] = {}
        self.scalars: dict[str, tuple[str, str]] = {}  # name → (alloca, type)
        self.n = 0
        self.body = _Body(self.lines, "double", "f64", "float64", self.fm, "%x", "%o",
                          lambda i: True, {}, self.decls)
        tree = ast.parse(src)
        fdef = next(s for s in tree.body if isinstance(s, ast.FunctionDef))
        self.stmts = fdef.body
        self.params = [a.arg for a in fdef.args.args]
        # arrays swapped by a loop carrying them (backends.array_loop_carry): their pointers
        # live in allocas, and they are never the caller's output buffers
        self.swapped = {e.id for s in ast.walk(fdef) if isinstance(s, ast.Assign)
                        and isinstance(s.targets[0], ast.Tuple) for e in s.targets[0].elts}
        self.depth = 0  # loops around the statement being rendered
        self.exits: list[str] = []  # their exit labels (`break`)
        self.n_out = len(self.fn.flat_outputs)

    def fresh(self, p: str = "q") -> str:
        self.n += 1
        return f"%{p}{self.n}"

    def label(self, p: str) -> str:
        self.n += 1
        return f"{p}{self.n}"

    def emit(self, line: str, at: list | None = None) -> None:
        if at is not None:  # the entry block (allocas, hoisted allocations)
            at.append(line)
            return
        self.lines.append("  " + line)

    def base(self, arr: _Arr) -> str:
        """The array's data pointer here: loaded from its slot when a loop swaps it."""
        if arr.slot is None:
            return arr.ptr
        E = _ELEM[arr.dtype]
        r = self.fresh("bp")
        self.emit(f"{r} = load {E}*, {E}** {arr.slot}")
        return r

    # the function ------------------------------------------------------------------------------
    def render(self) -> str:
        ret = self.stmts[-1]
        if not isinstance(ret, ast.Return):
            raise CompileError("internal error: the loop plan does not end in a return")
        outs = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
        # buffers the kernel returns are written straight into the caller's output buffers
        self.out_bind: dict[str, int] = {}
        for k, o in enumerate(outs):
            if isinstance(o, ast.Name) and o.id not in self.out_bind \
                    and o.id not in self.swapped:
                self.out_bind[o.id] = k
        self.inplace: dict[str, int] = {}
        for k, name in enumerate(self.params):
            self.bind_param(k, name)
        self.out_ptrs = [self.arg_ptr(len(self.fn.flat_inputs) + k) for k in range(self.n_out)]
        for s in self.stmts[:-1]:
            self.stmt(s)
        for k, o in enumerate(outs):
            self.store_output(k, o)
        self.free_temporaries()
        self.emit("ret void")
        if self.attrs:  # libm without side effects: vectorisable (vecmath)
            self.attr_lines.append("attributes #0 = { nounwind willreturn memory(none) }")
            self.attr_lines.append(f"@llvm.compiler.used = appending global [{len(self.used)} "
                                   f"x i8*] [{', '.join(self.used)}], section "
                                   '"llvm.metadata"')
        consts = [f"@sn_c{k} = external global i8" for k in range(len(self.gen.consts))]
        text = [*sorted(self.decls), *consts, *self.buffer_globals(), "",
                *self.entry_points(["  " + a for a in self.allocas] + self.lines),
                *self.attr_lines, ""]
        return "\n".join(text)

    def arg_ptr(self, k: int) -> str:
        a = self.fresh("pa")
        self.emit(f"{a} = getelementptr i8*, i8** %p, i64 {k}")
        v = self.fresh("pv")
        self.emit(f"{v} = load i8*, i8** {a}")
        return v

    def bind_param(self, k: int, name: str) -> None:
        n_in = len(self.fn.flat_inputs)
        if k < n_in:
            leaf = self.fn.flat_inputs[k]
            dt = leaf.dtype
            if dt not in _ELEM:
                raise CompileError(f"the llvm backend's array loops take float64, int64, "
                                   f"int32 or bool data, not {dt}; use backend='numba'")
            raw = self.arg_ptr(k)
            if isinstance(leaf, ArraySym) and leaf.shape:
                self.arrays[name] = _Arr(self.cast(raw, dt), leaf.shape, dt)
            else:  # a scalar, passed by pointer
                ptr = self.cast(raw, dt)
                v = self.fresh("s")
                self.emit(f"{v} = load {_ELEM[dt]}, {_ELEM[dt]}* {ptr}")
                rv, ty = self.to_reg(v, dt), self.reg_ty(dt)
                ptr2 = self.var_ptr(name, ty)
                self.emit(f"store {ty} {rv}, {ty}* {ptr2}")
            return
        c = self.gen.consts[k - n_in]
        if c.dtype not in _ELEM:
            raise CompileError(f"the llvm backend's array loops take float64, int64, int32 "
                               f"or bool data, not {c.dtype}; use backend='numba'")
        self.arrays[name] = _Arr(self.cast(f"@sn_c{k - n_in}", c.dtype), c.shape, c.dtype)

    def cast(self, raw: str, dt: str) -> str:
        v = self.fresh("ap")
        self.emit(f"{v} = bitcast i8* {raw} to {_ELEM[dt]}*")
        return v

    @staticmethod
    def reg_ty(dt: str) -> str:
        return {"float64": "double", "bool": "i1"}.get(dt, "i64")

    def to_reg(self, v: str, dt: str) -> str:
        """A loaded element as a register value: i32 → i64, bool byte → i1."""
        if dt == "int32":
            r = self.fresh()
            self.emit(f"{r} = sext i32 {v} to i64")
            return r
        if dt == "bool":
            r = self.fresh()
            self.emit(f"{r} = icmp ne i8 {v}, 0")
            return r
        return v

    # values ------------------------------------------------------------------------------------
    def convert(self, v: str, src: str, dst: str) -> str:
        if src == dst:
            return v
        r = self.fresh()
        if dst == "double":
            self.emit(f"{r} = {'uitofp i1' if src == 'i1' else 'sitofp i64'} {v} to double")
        elif dst == "i1":
            self.emit(f"{r} = fcmp une double {v}, 0.0" if src == "double"
                      else f"{r} = icmp ne i64 {v}, 0")
        elif dst == "i64":
            self.emit(f"{r} = fptosi double {v} to i64" if src == "double"
                      else f"{r} = zext i1 {v} to i64")
        else:
            raise CompileError(f"internal error: no conversion {src} → {dst}")
        return r

    def expr(self, e: ast.expr) -> tuple[str, str]:
        if isinstance(e, ast.Constant):
            v = e.value
            if isinstance(v, bool):
                return ("true" if v else "false"), "i1"
            if isinstance(v, int):
                return str(v), "i64"
            return float_hex(float(v)), "double"
        if isinstance(e, ast.Attribute) and getattr(e.value, "id", "") == "math":
            return float_hex({"inf": float("inf"), "nan": float("nan")}[e.attr]), "double"
        if isinstance(e, ast.Name):
            hit = self.scalars.get(e.id)
            if hit is None:
                raise CompileError(f"internal error: {e.id} read before it is assigned")
            ptr, ty = hit
            r = self.fresh()
            self.emit(f"{r} = load {ty}, {ty}* {ptr}")
            return r, ty
        if isinstance(e, ast.Subscript):
            arr, addr = self.address(e)
            r = self.fresh()
            E = _ELEM[arr.dtype]
            self.emit(f"{r} = load {E}, {E}* {addr}")
            return self.to_reg(r, arr.dtype), self.reg_ty(arr.dtype)
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
            v, ty = self.expr(e.operand)
            r = self.fresh()
            self.emit(f"{r} = fneg{self.fm} double {v}" if ty == "double"
                      else f"{r} = sub i64 0, {self.convert(v, ty, 'i64')}")
            return r, ty if ty == "double" else "i64"
        if isinstance(e, ast.BinOp):
            return self.binop(e)
        if isinstance(e, ast.Compare):
            return self.compare(e)
        if isinstance(e, ast.BoolOp):
            vals = [self.convert(*self.expr(x), "i1") for x in e.values]
            acc = vals[0]
            for v in vals[1:]:
                r = self.fresh()
                self.emit(f"{r} = {'or' if isinstance(e.op, ast.Or) else 'and'} i1 {acc}, {v}")
                acc = r
            return acc, "i1"
        if isinstance(e, ast.IfExp):
            c = self.convert(*self.expr(e.test), "i1")
            (a, ta), (b, tb) = self.expr(e.body), self.expr(e.orelse)
            ty = "double" if "double" in (ta, tb) else ta
            a, b = self.convert(a, ta, ty), self.convert(b, tb, ty)
            r = self.fresh()
            self.emit(f"{r} = select i1 {c}, {ty} {a}, {ty} {b}")
            return r, ty
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) \
                and e.func.id.startswith("_op_"):
            return self.scalar_op(e.func.id[4:], [self.expr(a) for a in e.args])
        raise CompileError(f"internal error: the llvm array renderer cannot read "
                           f"{ast.unparse(e)}")

    def binop(self, e: ast.BinOp) -> tuple[str, str]:
        (a, ta), (b, tb) = self.expr(e.left), self.expr(e.right)
        r = self.fresh()
        if ta == tb == "i64" and type(e.op) in _IBIN:
            self.emit(f"{r} = {_IBIN[type(e.op)]} i64 {a}, {b}")
            return r, "i64"
        if ta == tb == "i1" and isinstance(e.op, (ast.BitAnd, ast.BitOr)):
            self.emit(f"{r} = {'and' if isinstance(e.op, ast.BitAnd) else 'or'} i1 {a}, {b}")
            return r, "i1"
        if type(e.op) in _FBIN:
            a, b = self.convert(a, ta, "double"), self.convert(b, tb, "double")
            self.emit(f"{r} = {_FBIN[type(e.op)]}{self.fm} double {a}, {b}")
            return r, "double"
        raise CompileError(f"internal error: no lowering of {ast.unparse(e)}")

    def compare(self, e: ast.Compare) -> tuple[str, str]:
        if len(e.ops) != 1:
            raise CompileError(f"internal error: chained comparison {ast.unparse(e)}")
        (a, ta), (b, tb) = self.expr(e.left), self.expr(e.comparators[0])
        r, op = self.fresh(), type(e.ops[0])
        if ta == tb == "i64":
            self.emit(f"{r} = icmp {_ICMP[op]} i64 {a}, {b}")
        else:
            a, b = self.convert(a, ta, "double"), self.convert(b, tb, "double")
            self.emit(f"{r} = fcmp {_FCMP[op]} double {a}, {b}")
        return r, "i1"

    def scalar_op(self, op: str, args: list[tuple[str, str]]) -> tuple[str, str]:
        """One scalar op through the scalar backend's emitter (backends.llvm_ir._Body)."""
        if op in ("lt", "le", "gt", "ge", "eq", "ne") and all(t == "i64" for _, t in args):
            args = [(self.convert(v, t, "double"), "double") for v, t in args]
        refs = []
        for j, (v, ty) in enumerate(args):
            if ty == "i64":
                v, ty = self.convert(v, ty, "double"), "double"
            self.body.vals[("in", j)] = (v, "b" if ty == "i1" else "f")
            refs.append(Ref("in", j))
        self.n += 1
        dst = self.n
        mark = len(self.lines)
        self.body.instr(Instr(dst, op, tuple(refs)))
        if self.vector_isas and op in LIBMVEC:
            self.vector_variants(mark, len(args))
        name, kind = self.body.vals[("tmp", dst)]
        return name, "i1" if kind == "b" else "double"

    def address(self, e: ast.Subscript) -> tuple[_Arr, str]:
        name = e.value.id
        arr = self.arrays[name]
        idx = e.slice.elts if isinstance(e.slice, ast.Tuple) else [e.slice]
        if len(idx) != len(arr.shape):
            raise CompileError(f"internal error: {ast.unparse(e)} has the wrong rank")
        flat, ty = "0", "i64"
        for k, (i, s) in enumerate(zip(idx, arr.shape)):
            v, ty = self.expr(i)
            v = self.convert(v, ty, "i64")
            if k == 0:
                flat = v
                continue
            m = self.fresh()
            self.emit(f"{m} = mul nsw i64 {flat}, {s}")
            a = self.fresh()
            self.emit(f"{a} = add nsw i64 {m}, {v}")
            flat = a
        E = _ELEM[arr.dtype]
        p = self.fresh("ep")
        self.emit(f"{p} = getelementptr inbounds {E}, {E}* {self.base(arr)}, i64 {flat}")
        return arr, p

    # statements --------------------------------------------------------------------------------
    def stmt(self, s: ast.stmt) -> None:
        if isinstance(s, ast.For):
            self.loop(s)
        elif isinstance(s, ast.If):
            c = self.convert(*self.expr(s.test), "i1")
            t, end = self.label("then"), self.label("fi")
            self.emit(f"br i1 {c}, label %{t}, label %{end}")
            self.lines.append(f"{t}:")
            for x in s.body:
                self.stmt(x)
            self.emit(f"br label %{end}")
            self.lines.append(f"{end}:")
        elif isinstance(s, ast.Break):
            self.emit(f"br label %{self.exits[-1]}")
            self.lines.append(f"{self.label('after')}:")  # unreachable: what follows in it
        elif isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Tuple):
            self.swap(s.targets[0].elts, s.value.elts)
        elif isinstance(s, ast.Assign):
            self.assign(s.targets[0], s.value)
        elif isinstance(s, ast.AugAssign):
            op = {ast.Add: ast.Add(), ast.Mult: ast.Mult()}[type(s.op)]
            tgt = s.target
            read = ast.Name(tgt.id, ast.Load()) if isinstance(tgt, ast.Name) else \
                ast.Subscript(tgt.value, tgt.slice, ast.Load())
            # a running sum or product in a scalar accumulator may be reassociated: LLVM then
            # vectorises the loop (partial sums per lane, as numpy's pairwise sum also adds in
            # another order than left to right) — and with it the libm calls of its body
            outer, self.fm = self.fm, (self.fm or " reassoc") if isinstance(tgt, ast.Name) \
                else self.fm
            try:
                self.assign(tgt, ast.BinOp(read, op, s.value))
            finally:
                self.fm = outer
        else:
            raise CompileError(f"internal error: the llvm array renderer cannot run "
                               f"{ast.unparse(s)}")

    def loop(self, s: ast.For) -> None:
        it = s.iter
        if not (isinstance(it, ast.Call) and ast.unparse(it.func) in ("range", "numba.prange")):
            raise CompileError(f"internal error: loop over {ast.unparse(it)}")
        lo, hi = ("0", self.expr(it.args[0])[0]) if len(it.args) == 1 else \
            (self.expr(it.args[0])[0], self.expr(it.args[1])[0])

        def body(_: str) -> None:
            for x in s.body:
                self.stmt(x)
        self.counted(s.target.id, lo, hi, body)

    def counted(self, var: str, lo: str, hi: str, body: Any) -> None:
        """for var in range(lo, hi): body(value of var) — an i64 counter in an alloca."""
        ptr = self.var_ptr(var, "i64")
        self.emit(f"store i64 {lo}, i64* {ptr}")
        h, b, e = self.label("head"), self.label("body"), self.label("done")
        self.emit(f"br label %{h}")
        self.lines.append(f"{h}:")
        c = self.fresh()
        self.emit(f"{c} = load i64, i64* {ptr}")
        t = self.fresh()
        self.emit(f"{t} = icmp slt i64 {c}, {hi}")
        self.emit(f"br i1 {t}, label %{b}, label %{e}")
        self.lines.append(f"{b}:")
        self.depth += 1
        self.exits.append(e)
        body(c)
        self.exits.pop()
        self.depth -= 1
        c2, nx = self.fresh(), self.fresh()
        self.emit(f"{c2} = load i64, i64* {ptr}")
        self.emit(f"{nx} = add nsw i64 {c2}, 1")
        self.emit(f"store i64 {nx}, i64* {ptr}")
        self.emit(f"br label %{h}")
        self.lines.append(f"{e}:")

    def swap(self, tgts: list, vals: list) -> None:
        """`a, b = b, a` (a loop's carries): pointers of swapped arrays, or scalars."""
        loaded = []
        for v in vals:
            arr = self.arrays.get(v.id)
            if arr is not None:
                E = _ELEM[arr.dtype]
                loaded.append((self.base(arr), f"{E}*"))
            else:
                loaded.append(self.expr(v))
        for t, (v, ty) in zip(tgts, loaded):
            arr = self.arrays.get(t.id)
            if arr is not None:
                self.emit(f"store {ty} {v}, {ty}* {arr.slot}")
            else:
                ptr = self.var_ptr(t.id, ty)
                self.emit(f"store {ty} {v}, {ty}* {ptr}")

    def var_ptr(self, name: str, ty: str) -> str:
        hit = self.scalars.get(name)
        if hit is not None:
            return hit[0]
        ptr = f"%var.{name}"
        self.allocas.append(f"{ptr} = alloca {ty}")
        self.scalars[name] = (ptr, ty)
        return ptr

    def assign(self, tgt: ast.expr, value: ast.expr) -> None:
        if isinstance(tgt, ast.Subscript):
            arr = self.arrays[tgt.value.id]
            if isinstance(tgt.slice, ast.Constant) and tgt.slice.value is Ellipsis:
                self.fill(arr, value)
                return
            v, ty = self.expr(value)
            _, addr = self.address(tgt)
            self.store(arr, addr, v, ty)
            return
        name = tgt.id
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "np.empty":
            shape = ast.literal_eval(value.args[0])
            dt = _NPDT[ast.unparse(value.args[1])]
            self.new_array(name, shape, dt)
            return
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "np.dot":
            # operands may be used transposed (`np.dot(a.T, c)`: simplify's matrix chains)
            ops = [(x.value.id, True) if isinstance(x, ast.Attribute) and x.attr == "T"
                   else (x.id, False) for x in value.args]
            self.dot(name, ops[0][0], ops[1][0], ops[0][1], ops[1][1])
            return
        v, ty = self.expr(value)
        known = self.scalars.get(name)
        if known is not None:
            v, ty = self.convert(v, ty, known[1]), known[1]
        ptr = self.var_ptr(name, ty)
        self.emit(f"store {ty} {v}, {ty}* {ptr}")

    def store(self, arr: _Arr, addr: str, v: str, ty: str) -> None:
        E = _ELEM[arr.dtype]
        if arr.dtype == "float64":
            v = self.convert(v, ty, "double")
        elif arr.dtype == "bool":
            b = self.convert(v, ty, "i1")
            v = self.fresh()
            self.emit(f"{v} = zext i1 {b} to i8")
        else:
            v = self.convert(v, ty, "i64")
            if E == "i32":
                w = self.fresh()
                self.emit(f"{w} = trunc i64 {v} to i32")
                v = w
        self.emit(f"store {E} {v}, {E}* {addr}")

    def flat_loop(self, n: int, body: Any) -> None:
        """for k in range(n): body(k) over a flat index."""
        self.counted(f"flat{self.label('')}", "0", str(n), body)

    def fill(self, arr: _Arr, value: ast.expr) -> None:
        v, ty = self.expr(value)
        base = self.base(arr)

        def body(k: str) -> None:
            p = self.fresh("ep")
            E = _ELEM[arr.dtype]
            self.emit(f"{p} = getelementptr inbounds {E}, {E}* {base}, i64 {k}")
            self.store(arr, p, v, ty)
        self.flat_loop(arr.size, body)

    def store_output(self, k: int, o: ast.expr) -> None:
        out = self.fn.flat_outputs[k]
        dt = getattr(out, "dtype", "float64")
        if dt not in _ELEM:
            raise CompileError(f"the llvm array loops return float64, int or bool data, not "
                               f"{dt}")
        E = _ELEM[dt]
        optr = self.fresh("op")
        self.emit(f"{optr} = bitcast i8* {self.out_ptrs[k]} to {E}*")
        dest = _Arr(optr, getattr(out, "shape", ()), dt)
        if isinstance(o, ast.Name) and o.id in self.arrays:
            src = self.arrays[o.id]
            if self.inplace.get(o.id) == k:
                return  # computed in the output buffer
            if src.dtype != dt or src.size != dest.size:
                raise CompileError("internal error: an output's buffer has another layout")
            sbase = self.base(src)

            def body(i: str) -> None:
                Es = _ELEM[src.dtype]
                ps, pd = self.fresh("ep"), self.fresh("ep")
                self.emit(f"{ps} = getelementptr inbounds {Es}, {Es}* {sbase}, i64 {i}")
                v = self.fresh()
                self.emit(f"{v} = load {Es}, {Es}* {ps}")
                self.emit(f"{pd} = getelementptr inbounds {E}, {E}* {optr}, i64 {i}")
                self.emit(f"store {E} {v}, {E}* {pd}")
            self.flat_loop(dest.size if dest.shape else 1, body)
            return
        if isinstance(o, ast.Call) and isinstance(o.func, ast.Attribute) and o.func.attr == "copy":
            self.store_output(k, o.func.value)
            return
        v, ty = self.expr(o)
        self.store(dest, optr, v, ty)

