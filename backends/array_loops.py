"""Array programs → loop plans: the one planner of the numba, llvm and cuda array lowerings.

An ArrayFn's DAG is cut into materialised nodes — outputs, reductions, contractions,
concatenations, pads, and elementwise maps read more than once — each computed by one loop nest;
everything between them is inlined into the reading loop's body: chains of elementwise maps fuse
into one loop (their bodies lowered through the scalar schedule, backends.schedule, so every
primitive lowers by its Op's lowering name), index maps (slices, roll, transpose, broadcast,
reshape) become index arithmetic, and reductions run with a running accumulator. Large matmul-
shaped contractions call np.dot (BLAS through numba). Periodic stencils are split where their
rolls wrap: an interior loop and peeled boundary loops, each reading through plain offsets
(`nest`, up to `peel` copies of the body). The plan is written as a small Python subset (for,
if, assignments, np.empty, np.dot, return) that numba compiles as it is
(backends.numba_arrays), backends.llvm_array_ir prints as LLVM IR and backends.cuda_arrays turns
into grid-stride kernels; `op_src` spells the scalar ops for each. Generated source holds
generated names only. Never imported by `import symnum`.
"""

from __future__ import annotations

from typing import Any

from symnum.backends import array_loop_carry as carry
from symnum.backends.pysource import instr_src
from symnum.backends.schedule import Ref, float_literal, schedule

from symnum.arrays.ops_gather import Take
from symnum.arrays.ops_index import BroadcastTo, Concatenate, Index, Pad, Reshape, Roll, Transpose
from symnum.arrays.ops_map import Map, is_placeholder, placeholder
from symnum.arrays.ops_reduce import Contract, Reduce, Scan
from symnum.arrays.ops_segment import SegmentScan
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym, ArrayTerm
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Const, Expr, Sym
from symnum.core.traversal import free_symbols, postorder
from symnum.errors import CompileError
from symnum.loops.arrays import ArrayLoop, ArrayLoopOut

# a map read k times is recomputed in each reader unless (k − 1) × its body's cost exceeds this
# (cycles): u·u·v read by two outputs is cheaper twice than through a buffer (memory traffic)
RECOMPUTE = 30.0
BLAS_WORK = 4096  # multiply-adds from which a matmul-shaped contraction calls np.dot
PARALLEL_ELEMENTS = 1 << 16  # parallel lowering: nests visiting fewer elements stay serial
# a periodic stencil's nest is split at its rolls' wrap points into an interior loop and peeled
# boundary loops (branch-free index arithmetic in each) while the copies of its body stay ≤ this
PEEL_BODIES = 3
# matmul-shaped contractions → np.dot, operands used transposed included (numba passes the
# transposed layout to BLAS; the array passes of simplify fold transposes into these specs)
_BLAS_SPECS = {"ij,jk->ik": "{a}, {c}", "ij,j->i": "{a}, {c}", "j,jk->k": "{a}, {c}",
               "j,j->": "{a}, {c}", "ji,jk->ik": "{a}.T, {c}", "ij,kj->ik": "{a}, {c}.T",
               "ji,kj->ik": "{a}.T, {c}.T", "ji,j->i": "{a}.T, {c}", "j,kj->k": "{a}, {c}.T"}
_MATERIAL_OPS = (Reduce, Contract, Concatenate, Pad, Scan, SegmentScan)
_INIT = {"sum": "0.0", "prod": "1.0", "max": "-math.inf", "min": "math.inf"}


def _canonical_spec(spec: str) -> str:
    """The spelling of an einsum spec, up to renaming its letters, that the BLAS table uses
    (`i,ij->j`, the gradient's Xᵀr, is `j,jk->k`); the spec itself when none does."""
    import itertools

    seen = list(dict.fromkeys(c for c in spec if c.isalpha()))
    if len(seen) > 3:
        return spec
    for perm in itertools.permutations("ijk", len(seen)):
        renamed = spec.translate(str.maketrans(dict(zip(seen, perm))))
        if renamed in _BLAS_SPECS:
            return renamed
    return spec


def _cost(op: Map) -> float:
    """CPU cycles of one evaluation of a map's body (the Op blocks' cost table)."""
    total = 0.0
    for t in postorder([op.body]):
        if not iscall(t):
            continue
        o = operation(t)
        if o.name == "pow" and isinstance(arguments(t)[1], Const):
            total += 3.0 * max(1.0, abs(float(arguments(t)[1].value)))  # lowered to products
        else:
            total += getattr(o, "cost", 10.0)
    return total


def _np_dtype(dt: str) -> str:
    return {"bool": "np.bool_"}.get(dt, f"np.{dt}")


class _Block:
    """A list of statements at one indentation, with a memo of values computed in it."""

    def __init__(self, indent: str, memo: dict | None = None, lines: list | None = None):
        self.indent = indent
        self.lines: list[str] = [] if lines is None else lines  # nested blocks share one list
        self.memo = dict(memo or {})

    def add(self, line: str) -> None:
        self.lines.append(self.indent + line)

    def child(self) -> _Block:
        return _Block(self.indent + "    ", self.memo, self.lines)


def _is_sum(n: Any) -> bool:
    """A map adding its same-shaped array arguments, each once (an adjoint's accumulation)."""
    if not (isinstance(n, ArrayTerm) and isinstance(n.op, Map)) or len(n.args) < 2:
        return False
    body = n.op.body
    if not (iscall(body) and operation(body).name == "add"):
        return False
    args = arguments(body)
    return (len(args) == n.op.nin and all(is_placeholder(a) for a in args)
            and len(set(map(id, args))) == len(args)
            and all(isinstance(a, ArrayTerm) and a.shape == n.shape for a in n.args)
            and n.dtype == "float64")


def _affine(start: int, step: int, j: str) -> str:
    s = j if step == 1 else f"{step} * {j}" if j.isidentifier() else f"{step} * ({j})"
    if start == 0:
        return s
    return f"{start} + {s}"


def _bcast(idx: list[str], shape: tuple, out_shape: tuple) -> list[str]:
    """Indices into an operand of `shape` broadcast to `out_shape`."""
    lead = len(out_shape) - len(shape)
    return ["0" if n == 1 and out_shape[lead + k] != 1 else idx[lead + k]
            for k, n in enumerate(shape)]


class LoopGen:
    """Generates `kernel(<inputs>, <constants>)` returning the outputs as a tuple."""

    def __init__(self, fn: Any, parallel: bool = False, op_src: Any = instr_src,
                 peel: int = PEEL_BODIES, parent: LoopGen | None = None):
        self.fn = fn
        # a loop body's plan (backends.array_loop_carry) shares its kernel's constants and names
        self.parent = parent
        self.peel = peel  # body copies a peeled stencil nest may have (1: no peeling)
        self.op_src = op_src  # how one scalar op is spelled: numba's Python, or neutral calls
        self.parallel = parallel  # outer loops of large nests as numba.prange (opt-in)
        self.used_prange = False
        self.n = 0
        self.params: list[str] = []
        self.names: dict[int, str] = {}  # leaf or materialised node → its variable
        self.offsets: dict[int, list[str]] = {}  # leaf read with leading indices (a scan's x)
        self.consts: list[ArrayConst] = parent.consts if parent is not None else []
        self.keep: list = []
        outs = fn.flat_outputs
        for k, leaf in enumerate(fn.flat_inputs):
            name = f"a{k}" if isinstance(leaf, ArraySym) and leaf.shape else f"s{k}"
            self.names[id(leaf)] = name
            self.params.append(name)
        self.order = postorder(outs)
        for n in self.order:
            if isinstance(n, ArrayConst) and n.ndim:
                k = next((j for j, c in enumerate(self.consts) if c is n), None)
                if k is None:
                    k = len(self.consts)
                    self.consts.append(n)
                self.names[id(n)] = f"c{k}"
        self.accumulated: set[int] = set()  # zero pads added into a sum's buffer
        self.breaks: dict[str, set] | None = None  # a nest's dry run: loop index → roll shifts
        self.seg: dict[str, tuple[int, int]] = {}  # loop index → the segment being emitted
        self.material = self._plan(outs)
        self.n_inputs = len(self.params)

    def fresh(self, prefix: str) -> str:
        if self.parent is not None:  # one counter per kernel: names never collide
            return self.parent.fresh(prefix)
        self.n += 1
        return f"{prefix}{self.n}"

    # planning ---------------------------------------------------------------------------------
    def _plan(self, outs: list) -> set[int]:
        must: set[int] = set()
        for o in outs:
            if isinstance(o, ArrayTerm):
                must.add(id(o))
        for n in self.order:
            if not isinstance(n, ArrayTerm):
                continue
            if isinstance(n.op, _MATERIAL_OPS) or (n.shape == () and not isinstance(n.op, Index)):
                must.add(id(n))
            if isinstance(n.op, (ArrayLoop, ArrayLoopOut)):
                carry.plan(n, must)
            if isinstance(n.op, Contract):  # np.dot needs arrays; loops re-read operands
                blas = self.blas(n)
                for a in n.args:
                    if isinstance(a, ArrayTerm) and (blas or isinstance(a.op, Map)):
                        must.add(id(a))
        reads: dict[int, int] = {}
        for n in reversed(self.order):  # every reader of n is decided before n
            if not (isinstance(n, ArrayTerm) and iscall(n)):
                continue
            if isinstance(n.op, Map) and (reads.get(id(n), 0) - 1) * _cost(n.op) > RECOMPUTE:
                must.add(id(n))  # computed once, read from its buffer
            r = 1 if id(n) in must else reads.get(id(n), 1)
            for a in set(arguments(n)):
                if not isinstance(a, ArrayTerm):
                    continue
                amp = 2 if (isinstance(n.op, (Map, BroadcastTo)) and a.size < n.size
                            and a.shape != ()) else 1
                reads[id(a)] = reads.get(id(a), 0) + r * amp
        # zero pads read only by materialised sums (reverse mode's adjoint of a slice, summed
        # with others): added into the sum's buffer over their interior, never a buffer of
        # their own (one array written instead of three)
        readers: dict[int, list] = {}
        for n in self.order:
            if isinstance(n, ArrayTerm):
                for a in n.args:
                    readers.setdefault(id(a), []).append(n)
        outs_ids = {id(o) for o in outs}
        for n in self.order:
            if (isinstance(n, ArrayTerm) and isinstance(n.op, Pad) and n.op.value == 0.0
                    and id(n) not in outs_ids and readers.get(id(n))
                    and all(id(m) in must and _is_sum(m) for m in readers[id(n)])):
                must.discard(id(n))
                self.accumulated.add(id(n))
        return must

    # reading elements -------------------------------------------------------------------------
    def read(self, n: Any, idx: list[str], b: _Block, inline: bool = False) -> str:
        if isinstance(n, Const):
            return float_literal(float(n.value))
        if isinstance(n, Expr):  # a scalar input or a scalar term computed in the prologue
            name = self.names.get(id(n))
            if name is None:
                raise CompileError(f"the scalar term {n} is not an input of the program")
            return name
        if isinstance(n, ArrayConst) and not n.ndim:
            return float_literal(float(n.value))
        if not inline and id(n) in self.names:
            name = self.names[id(n)]
            idx = self.offsets.get(id(n), []) + idx
            return f"{name}[{', '.join(idx)}]" if idx else name
        key = (id(n), tuple(idx))
        hit = b.memo.get(key)
        if hit is not None:
            return hit
        op = n.op
        if isinstance(op, Map):
            vals = [self.read(a, _bcast(idx, a.shape, n.shape) if isinstance(a, ArrayExpr)
                              else [], b) for a in n.args]
            r = self.body(op, vals, b)
        elif isinstance(op, Index):
            j, sub = 0, []
            for e in op.entries:
                if e[0] == "n":
                    j += 1
                elif e[0] == "i":
                    sub.append(str(e[1]))
                else:
                    sub.append(_affine(e[1], e[2], idx[j]))
                    j += 1
            r = self.read(n.args[0], sub, b)
        elif isinstance(op, Roll):
            a = n.args[0]
            k, s, size = op.axis, op.shift, a.shape[op.axis]
            i = idx[k]
            if self.breaks is not None and i in self.breaks:
                self.breaks[i].add(s)
            lo, hi = self.seg.get(i, (0, size))
            if hi <= s:  # a peeled segment where every index wraps
                v = f"{i} + {size - s}"
            elif lo >= s:  # ... where none does
                v = f"{i} - {s}"
            else:
                v = self.fresh("r")
                b.add(f"{v} = {i} - {s} + {size} if {i} < {s} else {i} - {s}")
            r = self.read(a, idx[:k] + [v] + idx[k + 1:], b)
        elif isinstance(op, Transpose):
            sub = [""] * len(idx)
            for k, p in enumerate(op.perm):
                sub[p] = idx[k]
            r = self.read(n.args[0], sub, b)
        elif isinstance(op, BroadcastTo):
            a = n.args[0]
            r = self.read(a, _bcast(idx, a.shape, n.shape) if isinstance(a, ArrayExpr) else [],
                          b)
        elif isinstance(op, Take):  # a constant index table: read through it
            a, table = n.args
            k, m = op.axis, table.ndim
            at = f"{self.names[id(table)]}[{', '.join(idx[k:k + m])}]"
            r = self.read(a, idx[:k] + [at] + idx[k + m:], b)
        elif isinstance(op, Reshape):
            r = self.read(n.args[0], self.reshape_index(n.args[0].shape, n.shape, idx, b), b)
        else:
            raise CompileError(f"no loop lowering for the array operation {type(op).__name__}")
        b.memo[key] = r
        return r

    def reshape_index(self, ins: tuple, outs: tuple, idx: list[str], b: _Block) -> list[str]:
        if [s for s in ins if s != 1] == [s for s in outs if s != 1]:
            it = iter([i for i, s in zip(idx, outs) if s != 1])
            return ["0" if s == 1 else next(it) for s in ins]
        flat = self.fresh("f")
        strides, acc = [], 1
        for s in reversed(outs):
            strides.append(acc)
            acc *= s
        terms = [f"({i}) * {st}" for i, st in zip(idx, reversed(strides))]  # i may be a sum
        b.add(f"{flat} = {' + '.join(terms) or '0'}")
        out, acc = [], 1
        in_strides = []
        for s in reversed(ins):
            in_strides.append(acc)
            acc *= s
        for s, st in zip(ins, reversed(in_strides)):
            out.append(f"({flat} // {st}) % {s}")
        return out

    def body(self, op: Map, vals: list[str], b: _Block) -> str:
        phs = {p.name: p for p in free_symbols(op.body) if is_placeholder(p)}
        ins = [phs.get(f"_{i}", placeholder(i)) for i in range(op.nin)]
        sched = schedule(ins, [op.body])
        return self.emit_schedule(sched, vals, b)[0]

    def emit_schedule(self, sched: Any, vals: list[str], b: _Block) -> list[str]:
        tmp: dict[int, str] = {}

        def ref(r: Ref) -> str:
            if r.kind == "in":
                return vals[r.index]
            if r.kind == "tmp":
                return tmp[r.index]
            return float_literal(r.value)

        for ins in sched.instrs:
            v = self.fresh("v")
            tmp[ins.dst] = v
            b.add(f"{v} = {self.op_src(ins.op, [ref(a) for a in ins.args])}")
        return [ref(r) for r in sched.outputs]

    # materialising ----------------------------------------------------------------------------
    def loops(self, shape: tuple, b: _Block, prefix: str = "i",
              work: int = 0) -> tuple[list[str], _Block]:
        """Nested loops over `shape`; the outermost a prange when parallel lowering is on and
        `work` (elements the nest visits) reaches PARALLEL_ELEMENTS."""
        idx = []
        par = self.parallel and work >= PARALLEL_ELEMENTS
        for s in shape:
            v = self.fresh(prefix)
            rng = "numba.prange" if par and s > 1 else "range"  # the first loop worth sharing
            if rng != "range":
                self.used_prange, par = True, False
            b.add(f"for {v} in {rng}({s}):")
            b = b.child()
            idx.append(v)
        return idx, b

    def materialise(self, n: ArrayTerm, top: _Block) -> None:
        name = self.fresh("m")
        op = n.op
        scalar = n.shape == ()
        if not scalar and not (isinstance(op, Contract) and self.blas(n)):
            top.add(f"{name} = np.empty({n.shape}, {_np_dtype(n.dtype)})")
        if isinstance(op, Reduce):
            self.reduce(n, name, top)
        elif isinstance(op, Contract):
            self.contract(n, name, top)
        elif isinstance(op, Scan):
            self.scan(n, name, top)
        elif isinstance(op, SegmentScan):
            self.segment_scan(n, name, top)
        elif isinstance(op, ArrayLoop):
            carry.materialise(self, n, top)
            return
        elif isinstance(op, Concatenate):
            off = 0
            for a in n.args:
                def piece(idx: list, b: _Block, a: Any = a, off: int = off) -> None:
                    out = list(idx)
                    out[op.axis] = _affine(off, 1, idx[op.axis])
                    b.add(f"{name}[{', '.join(out)}] = {self.read(a, idx, b)}")
                self.nest(a.shape, top, a.size, piece)
                off += a.shape[op.axis]
        elif _is_sum(n) and any(id(a) in self.accumulated for a in n.args):
            top.add(f"{name}[...] = 0.0")
            for a in n.args:
                if id(a) in self.accumulated:  # its interior only, read through the pad
                    inner = a.args[0]
                    idx, b = self.loops(inner.shape, top, work=inner.size)
                    out = [_affine(w[0], 1, i) for w, i in zip(a.op.widths, idx)]
                    b.add(f"{name}[{', '.join(out)}] += {self.read(inner, idx, b)}")
                else:
                    idx, b = self.loops(n.shape, top, work=n.size)
                    b.add(f"{name}[{', '.join(idx)}] += {self.read(a, idx, b)}")
        elif isinstance(op, Pad):
            top.add(f"{name}[...] = {float_literal(op.value)}")
            a = n.args[0]
            idx, b = self.loops(a.shape, top, work=a.size)
            out = [_affine(w[0], 1, i) for w, i in zip(op.widths, idx)]
            b.add(f"{name}[{', '.join(out)}] = {self.read(a, idx, b)}")
        elif scalar:
            top.add(f"{name} = {self.read(n, [], top, inline=True)}")
        else:
            self.nest(n.shape, top, n.size, lambda idx, b: b.add(
                f"{name}[{', '.join(idx)}] = {self.read(n, idx, b, inline=True)}"))
        self.names[id(n)] = name

    def nest(self, shape: tuple, top: _Block, work: int, emit: Any) -> None:
        """Loops over `shape` around `emit(idx, block)`, split where the body's rolls wrap:
        a dry run collects each loop index's roll shifts, then every axis with wrap points
        (innermost first, while the body copies stay ≤ PEEL_BODIES) loops segment by segment,
        so that each segment reads through plain offsets (`i - 1`, `i + 7`), not a
        conditional index per element."""
        idx, b = self.loops(shape, _Block(top.indent, top.memo, []), work=work)
        self.breaks = {v: set() for v in idx}
        try:
            emit(idx, b)  # the dry run; its lines are dropped
            breaks = self.breaks
        finally:
            self.breaks = None
        cuts: dict[int, list[int]] = {}
        bodies = 1
        for d in reversed(range(len(shape))):
            pts = sorted(p for p in breaks[idx[d]] if 0 < p < shape[d])
            if pts and bodies * (len(pts) + 1) <= self.peel:
                cuts[d] = pts
                bodies *= len(pts) + 1
        if not cuts:
            idx, b = self.loops(shape, top, work=work)
            emit(idx, b)
            return
        par = self.parallel and work >= PARALLEL_ELEMENTS

        def rec(d: int, blk: _Block) -> None:
            if d == len(shape):
                emit(idx, blk)
                return
            pts = cuts.get(d, [])
            for lo, hi in zip([0, *pts], [*pts, shape[d]]):
                rng = "numba.prange" if par and d == 0 and hi - lo > 1 else "range"
                self.used_prange |= rng != "range"
                blk.add(f"for {idx[d]} in {rng}({hi})" if lo == 0 else
                        f"for {idx[d]} in {rng}({lo}, {hi})")
                blk.lines[-1] += ":"
                if d in cuts:
                    self.seg[idx[d]] = (lo, hi)
                rec(d + 1, blk.child())
            self.seg.pop(idx[d], None)

        rec(0, top)

    def _acc(self, kind: str, acc: str, e: str, b: _Block) -> None:
        if kind == "sum":
            b.add(f"{acc} += {e}")
        elif kind == "prod":
            b.add(f"{acc} *= {e}")
        else:  # NaN propagates as in np.max / np.min
            cmp = ">" if kind == "max" else "<"
            v = self.fresh("e")
            b.add(f"{v} = {e}")
            b.add(f"if {v} {cmp} {acc} or {v} != {v}:")
            b.add(f"    {acc} = {v}")

    def reduce(self, n: ArrayTerm, name: str, top: _Block) -> None:
        op, a = n.op, n.args[0]
        kept = [j for j in range(a.ndim) if j not in op.axes]
        oidx, b = self.loops([a.shape[j] for j in kept], top, "o", work=a.size)
        acc = self.fresh("acc")
        b.add(f"{acc} = {_INIT[op.kind]}")
        work = a.size if not kept and op.kind in ("sum", "prod") else 0
        if n.shape == ():  # a full reduction: a stencil under it is peeled too (nest)
            def step(idx: list, blk: _Block) -> None:
                full = [""] * a.ndim
                for j, v in zip(op.axes, idx):
                    full[j] = v
                self._acc(op.kind, acc, self.read(a, full, blk), blk)
            self.nest([a.shape[j] for j in op.axes], b, work, step)
            b.add(f"{name} = {acc}")
            return
        # a full sum or product: the reduction loop itself in parallel (numba reduces `+=`)
        ridx, inner = self.loops([a.shape[j] for j in op.axes], b, work=work)
        full = [""] * a.ndim
        for j, v in zip(kept, oidx):
            full[j] = v
        for j, v in zip(op.axes, ridx):
            full[j] = v
        self._acc(op.kind, acc, self.read(a, full, inner), inner)
        if n.shape == ():
            b.add(f"{name} = {acc}")
        else:
            it = iter(oidx)
            out = ["0" if (j in op.axes) else next(it) for j in range(a.ndim)] if op.keepdims \
                else oidx
            b.add(f"{name}[{', '.join(out)}] = {acc}")

    def scan(self, n: ArrayTerm, name: str, top: _Block) -> None:
        op, a = n.op, n.args[0]
        others = [j for j in range(a.ndim) if j != op.axis]
        oidx, b = self.loops([a.shape[j] for j in others], top, "o", work=a.size)
        acc = self.fresh("acc")
        b.add(f"{acc} = {_INIT[op.kind]}")
        (k,), inner = self.loops([a.shape[op.axis]], b)
        full = list(oidx)
        full.insert(op.axis, k)
        self._acc(op.kind, acc, self.read(a, full, inner), inner)
        inner.add(f"{name}[{', '.join(full)}] = {acc}")

    def segment_scan(self, n: ArrayTerm, name: str, top: _Block) -> None:
        """One pass along the axis with one scalar carry (ops_segment): fill keeps the last
        segment start's value; collect runs backwards adding, and at each segment start writes
        the sum and restarts it. An `if` either way (the CUDA lowering refuses such loops)."""
        op, (a, s) = n.op, n.args
        m = a.shape[op.axis]
        others = [j for j in range(a.ndim) if j != op.axis]
        oidx, b = self.loops([a.shape[j] for j in others], top, "o", work=a.size)
        acc = self.fresh("acc")
        b.add(f"{acc} = 0.0")
        (k,), inner = self.loops([m], b)
        if op.kind == "collect":
            k, down = self.fresh("k"), k
            inner.add(f"{k} = {m - 1} - {down}")
        full = list(oidx)
        full.insert(op.axis, k)
        out = f"{name}[{', '.join(full)}]"
        e, begins = self.read(a, full, inner), f"{self.read(s, full, inner)} != 0.0"
        if op.kind == "fill":
            inner.add(f"if {begins} or {k} == 0:")
            inner.child().add(f"{acc} = {e}")
            inner.add(f"{out} = {acc}")
        else:
            inner.add(f"{acc} = {acc} + {e}")
            inner.add(f"{out} = {acc} if {begins} or {k} == 0 else 0.0")
            inner.add(f"if {begins}:")
            inner.child().add(f"{acc} = 0.0")

    def blas(self, n: ArrayTerm) -> bool:
        sizes = n.op.sizes(n.args)
        work = 1
        for s in sizes.values():
            work *= s
        return (_canonical_spec(n.op.spec) in _BLAS_SPECS and work >= BLAS_WORK
                and all(a.dtype == n.dtype for a in n.args))

    def contract(self, n: ArrayTerm, name: str, top: _Block) -> None:
        op = n.op
        if self.blas(n):
            a, c = (self.names[id(x)] for x in n.args)
            args = _BLAS_SPECS[_canonical_spec(op.spec)].format(a=a, c=c)
            top.add(f"{name} = np.dot({args})")
            return
        ins, out = op.parts()
        sizes = op.sizes(n.args)
        summed = [c for c in sizes if c not in out]
        total = 1
        for v in sizes.values():
            total *= v
        oidx, b = self.loops([sizes[c] for c in out], top, "o", work=total)
        acc = self.fresh("acc")
        b.add(f"{acc} = 0.0")
        sidx, inner = self.loops([sizes[c] for c in summed], b)
        env = dict(zip(out, oidx)) | dict(zip(summed, sidx))
        factors = [self.read(x, [env[c] for c in sub], inner) for sub, x in zip(ins, n.args)]
        inner.add(f"{acc} += {' * '.join(factors)}")
        if n.shape == ():
            b.add(f"{name} = {acc}")
        else:
            b.add(f"{name}[{', '.join(oidx)}] = {acc}")

    # the kernel -------------------------------------------------------------------------------
    def prologue(self, top: _Block) -> None:
        """Scalar terms (functions of scalar inputs) used by array terms or as outputs."""
        scalars = [n for n in self.order if isinstance(n, Expr) and iscall(n)]
        users = {id(a) for n in self.order if isinstance(n, ArrayTerm) for a in n.args}
        users |= {id(o) for o in self.fn.flat_outputs}
        roots = [n for n in scalars if id(n) in users]
        if not roots:
            return
        ins = [s for s in self.fn.flat_inputs if isinstance(s, Sym)]
        sched = schedule(ins, roots)
        outs = self.emit_schedule(sched, [self.names[id(s)] for s in ins], top)
        for n, v in zip(roots, outs):
            name = self.fresh("p")
            top.add(f"{name} = {v}")
            self.names[id(n)] = name

    def source(self) -> str:
        top = _Block("    ")
        self.prologue(top)
        for n in self.order:
            if id(n) in self.material and id(n) not in self.names:
                self.materialise(n, top)
        rets = []
        for o in self.fn.flat_outputs:
            if isinstance(o, (ArraySym, ArrayConst)) and o.ndim:
                rets.append(f"{self.names[id(o)]}.copy()")
            else:
                rets.append(self.read(o, [], top) if not isinstance(o, ArrayTerm) else
                            self.names[id(o)])
        ret = rets[0] if self.fn.out_tree.kind == "leaf" else f"({', '.join(rets)},)"
        # constants of loop bodies are planned with the body, so the list is complete only now
        params = self.params[:self.n_inputs] + [f"c{k}" for k in range(len(self.consts))]
        lines = [f"def kernel({', '.join(params)}):", *top.lines, f"    return {ret}"]
        return "\n".join(lines) + "\n"
