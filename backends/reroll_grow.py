"""Rolled chains grow over the isomorphic steps left straight-line beside them (issue 12).

Sits between `symnum.backends.reroll_chain`'s passes and `backends.reroll_link` (roll_chains
calls `grow_loops` before `link_tables`): it reads a Schedule and returns one. It writes no code
and never imports llvmlite or numba.

The chain detector compares steps position by position, so a step whose statements the scheduler
emitted in another order (the last steps of a gradient's forward sweep, interleaved with the
start of the adjoint; the first step, which reads the inputs) is no part of the run and stays
straight-line — and every step of the adjoint that reads such a step's values is peeled by the
linking (backends.reroll_link). Here a loop is grown by one step at a time while the statements
beside it compute exactly its body once more, matched as a dataflow graph, whatever their order:

* after the loop: each body statement, its operands renamed (carries → the loop's final carries,
  temporaries → the statements already matched, consts → the loop's consts, an explicit xs
  operand → the row its column reads at that step when the neighbouring steps read rows of one
  table (`_Rows`), else whatever the statement reads there), must be a statement after the
  loop — looked up by (op, operands), so the order does not matter. fp addition and
  multiplication commute exactly, so a commutative binary op is looked up with its operands
  swapped as well. A partial step (at least MIN_PARTIAL of the body there: a gradient's last
  forward step computes what the adjoint reads, not the next state) is absorbed too: the loop
  computes the rest, which nobody reads;
* before the loop: the carried-in values of the step before are proposed by walking back from
  the loop's initial carries through their defining statements (or read off the statements,
  as open operands), then the step is checked forward as above against the statements before
  the loop, and must reproduce every initial carry the body reads.

A grown loop computes the same operations on the same values: the results stay bit-identical.
Readers of the absorbed statements read the loop's final carries or rows of its ys table
instead (the statements die in `reroll_link.dead_code`); a reader of an old final carry, which
now holds a later step's value, reads a longer-lagged carry or a table row (a y column is added
where needed).
"""

from __future__ import annotations

import dataclasses
import struct

from symnum.backends.loop_schedule import LoopInstr, TableRead
from symnum.backends.schedule import Instr, Ref, Schedule

MAX_GROWTH = 64  # steps a loop may gain at either end (what is beside a loop is a few steps)
MIN_PARTIAL = 0.5  # share of a step's statements a partial step must hold to be absorbed
COMMUTATIVE = frozenset({"add", "mul"})  # exactly commutative in IEEE arithmetic

_dbits = struct.Struct("<d")


def _key(op: str, args) -> tuple:
    """(op, operands) with constants by their bits (-0.0 is not 0.0 here)."""
    return (op,) + tuple(
        None if a is None else (a.kind, a.index) if a.kind != "const"
        else ("c", _dbits.pack(a.value)) for a in args)


def _growable(sched: Schedule, L: LoopInstr) -> bool:
    spec = L.spec
    if spec.reverse or spec.has_cond or spec.kind != "scan" or spec.length < 1:
        return False
    if any(type(i) is not Instr for i in L.body.instrs):
        return False
    if any(c[0] != "xs" for c in L.xcols):  # (rolled chains read no table before linking)
        return False
    index = spec.nc + spec.nx + spec.nk
    if any(a.kind == "in" and a.index == index for i in L.body.instrs for a in i.args):
        return False  # a step that reads its own number is no copy of its neighbour
    for ins in sched.instrs:  # rows would shift under a loop reading the table in place
        if type(ins) is LoopInstr and any(c[0] == "table" and c[1] == L.dst for c in ins.xcols):
            return False
    return True


class _Index:
    """Plain statements in positions [lo, hi) by (op, operands), and with one operand left
    open (an explicit per-step value: whatever the statement reads there; several statements
    may fit, in order)."""

    def __init__(self, instrs: list, lo: int, hi: int, open_slots: bool,
                 backwards: bool = False):
        self.full: dict = {}
        self.open: dict = {}
        # nearest to the loop first: before it, the last statements (a candidate for an open
        # operand far from the loop is another step's, or no step's, statement)
        for k in (range(hi - 1, lo - 1, -1) if backwards else range(lo, hi)):
            ins = instrs[k]
            if type(ins) is not Instr:
                continue
            self.full.setdefault(_key(ins.op, ins.args), ins)
            if open_slots:
                for j in range(len(ins.args)):
                    a = list(ins.args)
                    a[j] = None
                    self.open.setdefault(_key(ins.op, a), []).append((ins, j))


def _match(L: LoopInstr, idx: _Index, carries: list, before: set | None,
           partial: bool = False, predicted: list | None = None):
    """Whether the statements of `idx` hold one more step of L's body from `carries`:
    ({body temporary: Ref of its statement}, [the explicit xs values]) or None. An explicit
    value must be an input, a constant or a temporary in `before` (defined before L).

    `partial`: a step of which only a part is there (the last step of a gradient's forward
    sweep computes what the adjoint reads, not the next state) matches too, when at least
    MIN_PARTIAL of its statements are found; the others map to None (the loop computes them,
    nobody reads them). `predicted`: explicit
    values known beforehand (see `_Rows`), else each is what the statement reads there."""
    spec = L.spec
    nc, nx = spec.nc, spec.nx
    consts = L.args[nc:nc + spec.nk]
    # the step's inputs: carries, then xs (None: open, whatever the statement reads there)
    slots: list = list(carries) + [None] * nx
    alts: dict[int, tuple] = {}  # slot → values equal to its predicted one
    for j, p in enumerate(predicted or ()):
        if p is not None:
            slots[nc + j] = p[0]
            if len(p) > 1:
                alts[nc + j] = p
    local: dict[int, Ref | None] = {}
    used: set[int] = set()
    for ins in L.body.instrs:
        args: list = []
        hole = hole_x = -1
        alt = None  # (operand position, column) of an operand with equal alternatives
        if partial and any(a.kind == "tmp" and local[a.index] is None for a in ins.args):
            local[ins.dst] = None
            continue
        for a in ins.args:
            if a.kind == "tmp":
                args.append(local[a.index])
            elif a.kind == "in":
                i = a.index
                if i < nc + nx:
                    if slots[i] is None:
                        if hole >= 0:
                            return None
                        hole, hole_x = len(args), i
                        args.append(None)
                    else:
                        if alt is None and i in alts:
                            alt = (len(args), i)
                        args.append(slots[i])
                else:
                    args.append(consts[i - nc - nx])
            else:
                args.append(a)
        table = idx.open if hole >= 0 else idx.full
        tries = [args]
        if alt is not None:
            for v in alts[alt[1]][1:]:
                tries.append(args[:alt[0]] + [v] + args[alt[0] + 1:])
        if ins.op in COMMUTATIVE and len(args) == 2:
            tries += [t[::-1] for t in tries]
        found = None
        for t in tries:
            found = table.get(_key(ins.op, t))
            if found is not None and hole >= 0:
                # the first fitting statement this step has not matched yet (two body
                # statements x·t and x'·t differ only in their per-step value)
                found = next((f for f in found if f[0].dst not in used), None)
            if found is not None:
                break
        if found is None:
            if not partial:
                return None
            local[ins.dst] = None
            continue
        if hole >= 0:
            s, j = found  # (j: where the key left the operand open)
            v = s.args[j]
            if v.kind == "tmp" and before is not None and v.index not in before:
                return None
            slots[hole_x] = v
            found = s
        local[ins.dst] = Ref("tmp", found.dst)
        used.add(found.dst)
    xs = slots[nc:]
    if partial:
        if sum(v is not None for v in local.values()) < MIN_PARTIAL * len(local):
            return None
        # an explicit value only unmatched statements read: 0.0 (their values are never
        # read). A column of table rows is predicted (`_Rows`), never a placeholder: the
        # linking would peel the step again
        xs = [Ref("const", value=0.0) if x is None else x for x in xs]
    if any(x is None for x in xs):
        return None
    # (an open carry no statement read: 0.0, as reroll_chain's initial carries never read)
    return local, xs, [Ref("const", value=0.0) if c is None else c for c in slots[:nc]]


class _Rows:
    """The explicit value of each xs column at a step beside the loop, where the two steps
    next to it read rows r, r + d of one column of one table: the table read of row r + 2d
    (or r − d before), made when the schedule has none. A statement reading a table row one
    op apart from its neighbour's reads x·t and x'·t alike: matching by "whatever the
    statement reads there" can pair the wrong ones, a predicted value cannot.

    A row that is also a final carry of its loop (the last row of a lag-1 carry's column) may
    be read as that carry (growing puts carries first): a prediction is (the table read, the
    carry), the table read being what the loop keeps (its column stays linkable)."""

    def __init__(self, instrs: list, k: int):
        self.instrs, self.k = instrs, k
        self.reads = {i.dst: i for i in instrs[:k] if type(i) is TableRead}
        self.have = {(i.table, i.col, i.step): i.dst for i in self.reads.values()}
        self.loops = {i.dst: i for i in instrs[:k] if type(i) is LoopInstr}
        self.made: list[TableRead] = []

    def _carry(self, table: int, col: int, row: int) -> Ref | None:
        T = self.loops[table]
        y = T.body.outputs[T.spec.nc + col]
        if y.kind != "tmp":
            return None
        for c, lag in enumerate(_lags(T)):
            if lag == (y.index, T.spec.length - row):
                return Ref("tmp", T.carry_dsts[c])
        return None

    def predict(self, L: LoopInstr, at_end: bool, n_tmp: int) -> tuple[list, int]:
        spec = L.spec
        m, K, nc, nk = L.n_explicit, spec.length, spec.nc, spec.nk
        out: list = [None] * spec.nx
        if K < 2:
            return out, n_tmp
        explicit = L.args[nc + nk:]
        near, far = (K - 1, K - 2) if at_end else (0, 1)
        for j, col in enumerate(L.xcols):
            a = self.reads.get(explicit[near * m + col[1]].index)
            b = self.reads.get(explicit[far * m + col[1]].index)
            if a is None or b is None or (a.table, a.col) != (b.table, b.col):
                continue
            row = 2 * a.step - b.step
            if a.table not in self.loops or not 0 <= row < self.loops[a.table].spec.length:
                continue
            key = (a.table, a.col, row)
            if key not in self.have:
                self.made.append(TableRead(n_tmp, "table_read", (Ref("tmp", a.table),),
                                           table=a.table, step=row, col=a.col))
                self.have[key] = n_tmp
                n_tmp += 1
            carry = self._carry(a.table, a.col, row)
            out[j] = (Ref("tmp", self.have[key]),) + ((carry,) if carry is not None else ())
        return out, n_tmp


def _out(L: LoopInstr, local: dict, carries: list, r: Ref) -> Ref:
    """A body output's value in a matched step."""
    if r.kind == "tmp":
        return local[r.index]  # (None: not in a partial step)
    if r.kind == "in" and r.index < L.spec.nc:
        return carries[r.index]
    return r


def _lags(L: LoopInstr) -> list[tuple[int, int] | None]:
    """Per carry (body temporary, lag): which step's value it holds, or None (another kind)."""
    outs = L.body.outputs
    nc = L.spec.nc
    lag: list = [None] * nc
    for _ in range(nc):
        changed = False
        for c in range(nc):
            if lag[c] is not None:
                continue
            r = outs[c]
            if r.kind == "tmp":
                lag[c] = (r.index, 1)
            elif r.kind == "in" and r.index < nc and lag[r.index] is not None:
                lag[c] = (lag[r.index][0], lag[r.index][1] + 1)
            else:
                continue
            changed = True
        if not changed:
            break
    return lag


def _explicit(L: LoopInstr, xs: list) -> tuple:
    """The explicit xs args of one step in the table's column order."""
    by_col = {c[1]: xs[j] for j, c in enumerate(L.xcols)}
    return tuple(by_col[c] for c in range(L.n_explicit))


class _Wide:
    """Per instruction with many operands (a loop's explicit per-step values: steps × columns
    of them before linking), the positions of each temporary among its operands, so that a
    remap or a liveness scan costs a set operation, not a walk over O(steps) operands. Keyed
    by id, the instruction held (ids are not reused while it lives)."""

    MIN_ARGS = 32

    def __init__(self):
        self.memo: dict[int, tuple] = {}

    def positions(self, ins) -> dict[int, list[int]]:
        hit = self.memo.get(id(ins))
        if hit is None:
            pos: dict[int, list[int]] = {}
            for j, a in enumerate(ins.args):
                if a.kind == "tmp":
                    pos.setdefault(a.index, []).append(j)
            hit = self.memo[id(ins)] = (ins, pos)
        return hit[1]


def _remapped(instrs: list, outputs: list, remap: dict,
              wide: _Wide) -> tuple[list, list]:
    def fix(r: Ref) -> Ref:
        return remap.get(r.index, r) if r.kind == "tmp" else r

    out = []
    read = TableRead
    for ins in instrs:
        # (a table read reads a loop, never a remapped statement or carry: the bulk of a
        # gradient's schedule before linking, skipped cheaply)
        if type(ins) is read:
            pass
        elif len(ins.args) >= wide.MIN_ARGS:
            pos = wide.positions(ins)
            hit = remap.keys() & pos.keys()
            if hit:
                args = list(ins.args)
                pos = dict(pos)  # (the new instruction's positions: the old ones, moved)
                for t in hit:
                    r = remap[t]
                    for j in pos[t]:
                        args[j] = r
                    if r.kind == "tmp":
                        pos[r.index] = pos.get(r.index, []) + pos[t]  # (lists not shared)
                    del pos[t]
                ins = dataclasses.replace(ins, args=tuple(args))
                wide.memo[id(ins)] = (ins, pos)
        elif any(a.index in remap and a.kind == "tmp" for a in ins.args):
            ins = dataclasses.replace(ins, args=tuple(fix(a) for a in ins.args))
        out.append(ins)
    return out, [fix(r) for r in outputs]


def _live(instrs: list, outputs: list, wide: _Wide) -> set[int]:
    """Temporaries other than loops read by what survives `prune` of plain statements and
    table reads (a table read only reads a loop: skipped)."""
    used = {r.index for r in outputs if r.kind == "tmp"}
    plain, read = Instr, TableRead
    for ins in reversed(instrs):
        t = type(ins)
        if t is read or (t is plain and ins.dst not in used):
            continue
        if len(ins.args) >= wide.MIN_ARGS:
            used.update(wide.positions(ins).keys())
        else:
            used.update(r.index for r in ins.args if r.kind == "tmp")
        used.update(c[1] for c in getattr(ins, "xcols", ()) if c[0] == "table")
    return used


def _add_y(L: LoopInstr, p: int) -> tuple[LoopInstr, int]:
    """L with body temporary p stored per step (its column), reusing an existing column."""
    spec, body = L.spec, L.body
    nc = spec.nc
    for j, r in enumerate(body.outputs[nc:nc + spec.ny]):
        if r == Ref("tmp", p):
            return L, j
    outs = list(body.outputs)
    outs.insert(nc + spec.ny, Ref("tmp", p))
    body = Schedule(body.n_in, body.instrs, outs, body.n_tmp)
    return dataclasses.replace(L, body=body, spec=dataclasses.replace(spec, ny=spec.ny + 1)), \
        spec.ny


def _grow_after(sched: Schedule, k: int, max_ys: int, wide: _Wide) -> Schedule | None:
    """The schedule with the loop at position k one step longer (its ys table at most
    `max_ys` values), or None."""
    instrs = sched.instrs
    L = instrs[k]
    spec = L.spec
    nc, K = spec.nc, spec.length
    before: set[int] = set()
    if spec.nx:  # (what an explicit value may be: only loops with xs need it)
        before.update(i.dst for i in instrs[:k])
        for i in instrs[:k]:
            before.update(getattr(i, "carry_dsts", ()))
    olds = [Ref("tmp", d) for d in L.carry_dsts]
    rows = _Rows(instrs, k)
    predicted, n_tmp = rows.predict(L, True, sched.n_tmp)
    before.update(r.dst for r in rows.made)
    m = _match(L, _Index(instrs, k + 1, len(instrs), spec.nx > 0), olds, before, partial=True,
               predicted=predicted)
    if m is None:
        return None
    local, xs, _ = m
    if spec.nx and K and any(  # a column of table rows broken by a placeholder: not linkable
            x.kind == "const" and p is None and L.args[nc + spec.nk + (K - 1) * L.n_explicit
                                                       + col[1]].index in rows.reads
            for x, p, col in zip(xs, predicted, L.xcols)):
        return None
    new_carries = tuple(range(n_tmp, n_tmp + nc))
    n_tmp += nc
    lags = _lags(L)
    outs = L.body.outputs
    remap: dict[int, Ref] = {}
    reads: list[TableRead] = []
    row_reads: dict[tuple[int, int], Ref] = {}

    def table_read(step: int, col: int) -> Ref:
        nonlocal n_tmp
        r = row_reads.get((step, col))
        if r is None:
            reads.append(TableRead(n_tmp, "table_read", (Ref("tmp", L.dst),), table=L.dst,
                                   step=step, col=col))
            r = row_reads[(step, col)] = Ref("tmp", n_tmp)
            n_tmp += 1
        return r

    # the step's values: its carries (lag 1) and its stored ys
    for c in range(nc):
        if lags[c] is not None and lags[c][1] == 1 and local[lags[c][0]] is not None:
            remap.setdefault(local[lags[c][0]].index, Ref("tmp", new_carries[c]))
    for j, r in enumerate(outs[nc:nc + spec.ny]):
        v = _out(L, local, olds, r)
        if v is not None and v.kind == "tmp" and v.index not in remap \
                and v.index not in L.carry_dsts:
            remap[v.index] = table_read(K, j)
    grown = dataclasses.replace(
        L, args=L.args + _explicit(L, xs), spec=dataclasses.replace(spec, length=K + 1),
        carry_dsts=new_carries)
    rest, outputs = _remapped(instrs[k + 1:], sched.outputs, remap, wide)
    # an old final carry (lag g: step K − g) read by what stays: a longer lag, or a table row
    live = _live(rest, outputs, wide)
    by_lag = {lg: c for c, lg in enumerate(lags) if lg is not None}
    old_remap: dict[int, Ref] = {}
    for c, d in enumerate(L.carry_dsts):
        if d not in live:
            continue
        if lags[c] is None:
            return None
        p, g = lags[c]
        longer = by_lag.get((p, g + 1))
        if longer is not None:
            old_remap[d] = Ref("tmp", new_carries[longer])
        else:
            grown, col = _add_y(grown, p)
            if grown.spec.ny * (K + 1) > max_ys:
                return None
            old_remap[d] = table_read(K - g, col)
    if old_remap:
        rest, outputs = _remapped(rest, outputs, old_remap, wide)
    return Schedule(sched.n_in, instrs[:k] + rows.made + [grown] + reads + rest, outputs, n_tmp)


def _grow_before(sched: Schedule, k: int, max_ys: int, wide: _Wide) -> Schedule | None:
    """The schedule with the loop at position k one step longer at its start, or None."""
    instrs = sched.instrs
    L = instrs[k]
    spec, body = L.spec, L.body
    nc = spec.nc
    init = list(L.args[:nc])
    defs = {i.dst: i for i in instrs[:k] if type(i) is Instr}
    by_dst = {i.dst: i for i in body.instrs}
    c_in: list = [None] * nc
    seen: dict[int, int] = {}
    work: list[tuple[Instr, Instr]] = []

    def want(c: int, v: Ref) -> None:
        if c_in[c] is None:
            c_in[c] = v

    # walk back from the initial carries to the step's carried-in values: a proposal only
    # (the first value found per carry, paths that do not fit skipped), checked below by
    # matching the whole step forward
    for c in range(nc):
        r, v = body.outputs[c], init[c]
        if v.kind == "const":  # never read at the first step (reroll_chain's 0.0)
            continue
        if r.kind == "in" and r.index < nc:
            want(r.index, v)
        elif r.kind == "tmp" and v.kind == "tmp" and v.index in defs:
            work.append((by_dst[r.index], defs[v.index]))
    while work:
        b, s = work.pop()
        if b.dst in seen or s.op != b.op or len(s.args) != len(b.args):
            continue
        seen[b.dst] = s.dst
        pairs = list(zip(b.args, s.args))
        if b.op in COMMUTATIVE and len(pairs) == 2 and not all(_could(a, v, by_dst, defs, nc)
                                                              for a, v in pairs):
            pairs = list(zip(b.args, s.args[::-1]))
        for a, v in pairs:
            if a.kind == "tmp":
                if v.kind == "tmp" and v.index in defs and a.index not in seen:
                    work.append((by_dst[a.index], defs[v.index]))
            elif a.kind == "in" and a.index < nc:
                want(a.index, v)
    rows = _Rows(instrs, k)
    predicted, n_tmp = rows.predict(L, False, sched.n_tmp)
    # the walk's proposal (unknown carries open: whatever the statements read there); where
    # a proposed value was wrong (many carries with one value — a gradient's seed step —
    # make the walk ambiguous), every carry open
    idx = _Index(instrs, 0, k, True, backwards=True)
    m = None
    for proposal in (c_in, [None] * nc):
        m = _match(L, idx, proposal, None, predicted=predicted)
        if m is not None:
            break
    if m is None:
        return None
    local, xs, carries = m
    read = {a.index for i in body.instrs for a in i.args if a.kind == "in" and a.index < nc}
    for c in range(nc):  # the step must hand the loop its initial carries
        v = _out(L, local, carries, body.outputs[c])
        if v != init[c] and not (init[c].kind == "const" and c not in read):
            return None
    if any(x.kind == "tmp" and x.index not in {i.dst for i in instrs[:k] + rows.made}
           for x in xs):
        return None
    reads: list[TableRead] = []
    remap: dict[int, Ref] = {}
    for j, r in enumerate(body.outputs[nc:nc + spec.ny]):
        v = _out(L, local, carries, r)
        if v.kind == "tmp" and v.index not in remap:
            reads.append(TableRead(n_tmp, "table_read", (Ref("tmp", L.dst),), table=L.dst,
                                   step=0, col=j))
            remap[v.index] = Ref("tmp", n_tmp)
            n_tmp += 1
    grown = dataclasses.replace(
        L, args=tuple(carries) + L.args[nc:nc + spec.nk] + _explicit(L, xs)
        + L.args[nc + spec.nk:],
        spec=dataclasses.replace(spec, length=spec.length + 1, lo=spec.lo - 1))
    rest = []
    for ins in instrs[k + 1:]:
        if type(ins) is TableRead and ins.table == L.dst:  # (dataclasses.replace: 2x slower)
            ins = TableRead(ins.dst, ins.op, ins.args, table=ins.table, step=ins.step + 1,
                            col=ins.col)
        rest.append(ins)
    rest, outputs = _remapped(rest, sched.outputs, remap, wide)
    return Schedule(sched.n_in, instrs[:k] + rows.made + [grown] + reads + rest, outputs, n_tmp)


def _could(a: Ref, v: Ref, by_dst: dict, defs: dict, nc: int) -> bool:
    """A cheap look whether body operand `a` may stand for statement operand `v` (which order
    of a commutative op's operands to follow back)."""
    if a.kind == "tmp":
        return v.kind == "tmp" and v.index in defs and defs[v.index].op == by_dst[a.index].op
    if a.kind == "in":
        return a.index < nc or v.kind != "const"
    return v.kind == "const" and _dbits.pack(v.value) == _dbits.pack(a.value)


def grow_loops(sched: Schedule, loops: set[int],
               max_ys: int) -> tuple[Schedule, dict[int, tuple]]:
    """The schedule with each loop whose dst is in `loops` (rolled chains) grown over the
    copies of its step beside it, and per grown loop (steps gained before, after). A grown
    loop's ys table holds at most `max_ys` values (steps × columns)."""
    grown: dict[int, tuple] = {}
    wide = _Wide()
    order = {i.dst: j for j, i in enumerate(sched.instrs)}
    # in schedule order: a grown forward sweep turns what the adjoint's straight-line steps
    # read into rows of its table, so the adjoint's loop can grow over them next
    for dst in sorted(loops, key=lambda d: order.get(d, -1)):
        gained = [0, 0]
        for side, fn in ((1, _grow_after), (0, _grow_before)):
            for _ in range(MAX_GROWTH):
                k = next((j for j, i in enumerate(sched.instrs) if i.dst == dst), None)
                if k is None or type(sched.instrs[k]) is not LoopInstr \
                        or not _growable(sched, sched.instrs[k]):
                    break
                new = fn(sched, k, max_ys, wide)
                if new is None:
                    break
                sched = new
                gained[side] += 1
        if any(gained):
            grown[dst] = tuple(gained)
    return sched, grown
