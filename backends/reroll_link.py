"""Rolled chains that read another loop's stored outputs read its table in place (issue 12).

Sits after `symnum.backends.reroll_chain`'s passes (which call `link_tables` last) and before the
emitters: it reads a Schedule and returns one. It writes no code and never imports llvmlite or
numba.

The gradient of a Python-loop chain rolls into two loops: the forward sweep, which stores the
values the adjoint needs as stacked per-step outputs (its ys table, read back one value at a time
by TableReads), and the reversed adjoint chain, whose per-step inputs are those TableReads (its
explicit xs table, filled one value at a time). Both tables hold steps × columns values, so the
plumbing between the two loops is O(steps) statements in one function — at 1,000 steps the LLVM
compile never finished. Here an explicit xs column whose value at step s is row `off + stride·s`
of one column of one loop's table becomes a "table" column, `("table", table tmp, column, off,
stride)`, read in place by the loop (`loop_schedule.loop_step_header`, `llvm_loops.emit_loop`):
the adjoint reads the forward table backwards (stride −1), and a sum over every step's
contributions (a gradient's parameter cotangent, itself a rolled chain) reads the adjoint's
table forwards. The TableReads left unused are pruned.

The two loops rarely cover the same steps: a chain's first and last steps often differ from the
rest (prologue and epilogue stay straight-line), so the adjoint's first or last steps read
forward values that are no table rows. Those steps of the reading loop are *peeled*: computed by
a straight-line copy of its body before or after the shortened loop (the same operations in the
same order, so the results stay bit-identical), a few steps' statements instead of O(steps).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from symnum.backends.loop_schedule import LoopInstr, TableRead, prune, table_col
from symnum.backends.schedule import Instr, Ref, Schedule

MIN_LINKED_STEPS = 2  # steps a linked loop keeps


def sink(instrs: list, pos: dict, refs: list[Ref]) -> tuple | None:
    """(op, operands) when the per-step values `refs` of a chain's operand are each one plain
    statement of one operation over per-step temporaries (("x", operand index); stored values,
    table reads, in the middle step) and step-invariant operands (("same", Ref)): a cotangent
    term x·λ of a parameter that enters multiplicatively, computed after both sweeps. The
    chain computes it in its body (the same operation on the same values: bit-identical) and
    reads the stored values in place (linking peels the steps whose values are no table
    rows); the straight-line copies die (`dead_code`). None otherwise."""
    defs = []
    for r in refs:
        if r.kind != "tmp":
            return None
        d = instrs[pos[r.index]]
        if type(d) is not Instr:
            return None
        defs.append(d)
    d0 = defs[0]
    n = len(d0.args)
    if any(d.op != d0.op or len(d.args) != n for d in defs):
        return None
    ops: list[tuple] = []
    stored = False
    for m, a0 in enumerate(d0.args):
        col = [d.args[m] for d in defs]
        if all(c == a0 for c in col):
            ops.append(("same", a0))
        elif all(c.kind == "tmp" for c in col):
            # (the first and last steps may read straight-line values: linking peels them)
            ops.append(("x", m))
            mid = col[len(col) // 2]
            stored = stored or type(instrs[pos[mid.index]]) is TableRead
        else:
            return None
    return (d0.op, ops) if stored else None


def dead_code(sched: Schedule) -> Schedule:
    """Without the plain statements nobody reads (the straight-line copies of what `sink`
    moved into a loop) and the table reads nobody reads, in a copy of the schedule."""
    copy = Schedule(sched.n_in, list(sched.instrs), list(sched.outputs), sched.n_tmp)
    return prune(copy, drop=(Instr, TableRead))


def link_tables(sched: Schedule) -> tuple[Schedule, dict[int, dict]]:
    """The schedule with each loop's explicit xs columns that are linear in one table read in
    place (steps peeled where needed) and without what that (or `sink`) left unread, and per
    linked loop (by dst) what was done: columns linked, steps peeled before and after."""
    done: dict[int, dict] = {}
    k = 0
    while k < len(sched.instrs):
        ins = sched.instrs[k]
        k += 1
        if type(ins) is not LoopInstr or not ins.n_explicit:
            continue
        plan = _plan(sched, ins)
        if plan is None:
            continue
        sched, what = _apply(sched, ins, *plan)
        done[ins.dst] = what
        k = next(j for j, i in enumerate(sched.instrs) if i.dst == ins.dst) + 1
    return dead_code(sched), done


def _plan(sched: Schedule, L: LoopInstr) -> tuple | None:
    """(first step kept, end of the steps kept, {explicit column: (table, col, off, stride)})
    or None when linking gains nothing."""
    spec = L.spec
    nc, nk, m, K = spec.nc, spec.nk, L.n_explicit, spec.length
    if K < MIN_LINKED_STEPS:
        return None
    reads = {i.dst: i for i in sched.instrs if type(i) is TableRead}
    explicit = L.args[nc + nk:]
    mid = K // 2
    cols: dict[int, tuple] = {}
    ok = np.ones(K, dtype=bool)
    for c in range(m):
        def at(st: int, c: int = c) -> TableRead | None:
            r = explicit[st * m + c]
            return reads.get(r.index) if r.kind == "tmp" else None

        a0, a1 = at(mid), at(mid + 1) if mid + 1 < K else None
        if a0 is None or a1 is None or (a0.table, a0.col) != (a1.table, a1.col):
            continue  # not a table column (a per-step constant, a straight-line value)
        stride = a1.step - a0.step
        off = a0.step - stride * mid
        col = (a0.table, a0.col, off, stride)
        fits = np.zeros(K, dtype=bool)
        for st in range(K):
            t = at(st)
            fits[st] = (t is not None and t.table == col[0] and t.col == col[1]
                        and t.step == off + stride * st)
        cols[c] = col
        ok &= fits
    if not cols:
        return None
    runs = _runs(ok)
    a, b = max(runs, key=lambda r: r[1] - r[0]) if runs else (0, 0)
    if b - a < MIN_LINKED_STEPS:
        return None
    peel = K - (b - a)
    if peel:
        if not _peelable(sched, L):
            return None
        # a peeled step costs a body; a linked step saves two statements per linked column
        if peel * len(L.body.instrs) > (b - a) * len(cols) * 2:
            return None
    return a, b, cols


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate(([0], ok.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _peelable(sched: Schedule, L: LoopInstr) -> bool:
    """Steps can be copied out of L: a forward scan of plain statements whose table no loop
    reads in place (its rows would shift)."""
    spec = L.spec
    if spec.reverse or spec.has_cond or spec.kind != "scan":
        return False
    if any(type(i) is not Instr for i in L.body.instrs):
        return False
    for ins in sched.instrs:
        if type(ins) is LoopInstr and any(c[0] == "table" and c[1] == L.dst for c in ins.xcols):
            return False
    return True


class _Peeler:
    """Straight-line copies of L's steps, appended to `out` with fresh temporaries."""

    def __init__(self, L: LoopInstr, n_tmp: int, out: list):
        self.L, self.n_tmp, self.out = L, n_tmp, out

    def step(self, st: int, carries: list[Ref]) -> tuple[list[Ref], list[Ref]]:
        """(new carries, ys) of step `st` from `carries`."""
        L, spec = self.L, self.L.spec
        nc, nk, nx, m = spec.nc, spec.nk, spec.nx, L.n_explicit
        consts = list(L.args[nc:nc + nk])
        xs: list[Ref] = []
        for col in L.xcols:
            if col[0] == "xs":
                xs.append(L.args[nc + nk + st * m + col[1]])
            else:
                t, c, off, stride = table_col(col)
                xs.append(self._emit(TableRead(self.n_tmp, "table_read", (Ref("tmp", t),),
                                               table=t, step=off + stride * st, col=c)))
        inputs = carries + xs + consts + [Ref("const", value=float(spec.lo + st))]
        assert len(inputs) == nc + nx + nk + 1
        local: dict[int, Ref] = {}

        def fix(r: Ref) -> Ref:
            if r.kind == "in":
                return inputs[r.index]
            if r.kind == "tmp":
                return local[r.index]
            return r

        for ins in L.body.instrs:
            local[ins.dst] = self._emit(Instr(self.n_tmp, ins.op,
                                              tuple(fix(a) for a in ins.args)))
        outs = [fix(r) for r in L.body.outputs]
        return outs[:nc], outs[nc:nc + spec.ny]

    def _emit(self, ins: Instr) -> Ref:
        self.out.append(ins)
        self.n_tmp += 1
        return Ref("tmp", ins.dst)


def _apply(sched: Schedule, L: LoopInstr, a: int, b: int, cols: dict) -> tuple[Schedule, dict]:
    spec = L.spec
    nc, K = spec.nc, spec.length
    out: list = []
    remap: dict[int, Ref] = {}
    front_ys: list[list[Ref]] = []
    back_ys: list[list[Ref]] = []
    peeler = _Peeler(L, sched.n_tmp, out)
    for ins in sched.instrs:
        if ins is L:
            carries = list(L.args[:nc])
            for st in range(a):
                carries, ys = peeler.step(st, carries)
                front_ys.append(ys)
            out.append(_shortened(L, a, b, cols, carries))
            if b < K:
                carries = [Ref("tmp", d) for d in L.carry_dsts]
                for st in range(b, K):
                    carries, ys = peeler.step(st, carries)
                    back_ys.append(ys)
                remap.update(zip(L.carry_dsts, carries))
            continue
        if type(ins) is TableRead and ins.table == L.dst:
            if ins.step < a:
                remap[ins.dst] = front_ys[ins.step][ins.col]
                continue
            if ins.step >= b:
                remap[ins.dst] = back_ys[ins.step - b][ins.col]
                continue
            if a:
                ins = dataclasses.replace(ins, step=ins.step - a)
        elif remap and any(r.kind == "tmp" and r.index in remap for r in ins.args):
            ins = dataclasses.replace(ins, args=tuple(
                remap.get(r.index, r) if r.kind == "tmp" else r for r in ins.args))
        out.append(ins)
    outputs = [remap.get(r.index, r) if r.kind == "tmp" else r for r in sched.outputs]
    new = Schedule(sched.n_in, out, outputs, peeler.n_tmp)
    return new, {"linked": len(cols), "peeled": (a, K - b)}


def _shortened(L: LoopInstr, a: int, b: int, cols: dict, init: list[Ref]) -> LoopInstr:
    """L over its steps [a, b), the linked columns read in place, the rest explicit."""
    spec = L.spec
    nc, nk, m = spec.nc, spec.nk, L.n_explicit
    keep = [c for c in range(m) if c not in cols]
    new_c = {c: j for j, c in enumerate(keep)}
    xcols = []
    for col in L.xcols:
        if col[0] == "xs" and col[1] in cols:
            t, c, off, stride = cols[col[1]]
            xcols.append(("table", t, c, off + stride * a, stride))
        elif col[0] == "xs":
            xcols.append(("xs", new_c[col[1]]))
        else:
            t, c, off, stride = table_col(col)
            xcols.append(("table", t, c, off + stride * a, stride))
    explicit = L.args[nc + nk:]
    args = tuple(init) + L.args[nc:nc + nk] + tuple(
        explicit[st * m + c] for st in range(a, b) for c in keep)
    return dataclasses.replace(
        L, args=args, spec=dataclasses.replace(spec, length=b - a, lo=spec.lo + a),
        xcols=tuple(xcols), n_explicit=len(keep))
