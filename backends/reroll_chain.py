"""Loop-carried re-rolling: a chain of isomorphic steps in a schedule → one loop (issue 12).

Sits beside `symnum.backends.reroll` (which rolls *independent* repeated shapes into loops over
tables) and before the emitters: it reads a Schedule and returns a Schedule in which the chain is
one `backends.loop_schedule.LoopInstr` — the instruction a loop term (symnum.loops) lowers to, so
the llvm and numba backends emit it as a real loop with the carries in phi nodes / locals. It
writes no code and never imports llvmlite or numba.

A Python for-loop over time steps (`for _ in range(n): x = step(x)`) traces into n copies of one
step, each reading the previous one's results. The scheduler emits them in dependency order,
so the instruction stream is periodic: instruction i + P does what instruction i does, its
operands shifted by one period (a value of the step before: a carry, or of the same step), or
equal (a parameter, an input, a value computed before the chain), or varying (a constant or an
input of its own per step: a column of per-step values, the loop's xs). Detection is on arrays
of the instructions' operands (numpy, O(n) per candidate period; candidate periods are the most
common distances between equal instruction fingerprints), never recursive.

The rolled body is the first period's instructions, unchanged: the same operations in the same
order, so the loop's results are bit-identical to the straight-line code's. What is computed
before the chain (prologue) and what reads it afterwards (epilogue) stays straight-line; a value
of the chain read afterwards is the loop's final carry when it is the last step's (or, for lagged
carries, one of the last steps'), else a stacked per-step output (a y column, read back by a
TableRead): a trajectory costs one table of steps × columns.

Rolled when a chain has at least MIN_STEPS steps and MIN_STATEMENTS statements (scaled by the
`reroll=` threshold, see `thresholds`), and carries at least one value (steps with nothing
carried are independent repeats: `symnum.backends.reroll`'s tables handle those better).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from symnum.backends.loop_schedule import LoopInstr, TableRead
from symnum.backends.reroll_grow import grow_loops
from symnum.backends.reroll_link import link_tables, sink
from symnum.backends.schedule import Instr, Ref, Schedule

from symnum.core._gc import no_gc
from symnum.loops.terms import LoopSpec

MIN_STEPS = 4  # steps of a chain before it is rolled
MIN_STATEMENTS = 512  # statements of a chain before it is rolled (default threshold)
CANDIDATES = 6  # candidate periods tried per pass
MAX_PASSES = 8  # chains rolled in one schedule (a gradient: the forward and the reverse sweep)
MAX_ARGS = 4  # operands of an instruction that may be part of a chain (n-ary ones are not)
MAX_YS_VALUES = 1 << 19  # stacked per-step outputs (steps × columns) a rolled chain may store

_NONE, _IN, _TMP, _CONST = 0, 1, 2, 3
_SAME, _REL, _VARY = 0, 1, 2  # relation of an operand slot between a step and the next


def thresholds(min_group: int) -> tuple[int, int]:
    """(min steps, min statements) for the `reroll=` threshold `min_group` (64 by default:
    512 statements; `reroll=2`, as tests use, rolls chains of 16 statements and 2 steps)."""
    return max(2, min(MIN_STEPS, min_group)), max(16, MIN_STATEMENTS * min_group // 64)


class _Arrays:
    """The schedule's instructions as operand arrays, by position (not temporary number)."""

    def __init__(self, sched: Schedule):
        instrs = sched.instrs
        n = len(instrs)
        self.n = n
        plain = Instr
        pos = {ins.dst: k for k, ins in enumerate(instrs)}
        for k, ins in enumerate(instrs):  # a loop's other results are defined at its position
            if type(ins) is not plain:  # (a getattr with a default per plain one: ~10 %)
                for d in getattr(ins, "carry_dsts", ()):
                    pos[d] = k
        self.pos = pos
        width = max(1, min(MAX_ARGS, max((len(ins.args) for ins in instrs), default=0)))
        ops: dict = {}
        # filled as Python lists, converted once (numpy item assignment is ~10x a list's)
        op = [0] * n
        kind = [[0] * n for _ in range(width)]
        idx = [[0] * n for _ in range(width)]
        val = [[0.0] * n for _ in range(width)]
        for k, ins in enumerate(instrs):
            args = ins.args
            if type(ins) is plain and len(args) <= width:
                key = (ins.op, len(args))
                o = ops.get(key)
                if o is None:
                    o = ops[key] = len(ops)
                op[k] = o
            else:  # a loop or a table read never matches anything
                op[k] = -1 - k
            for j, a in enumerate(args if len(args) <= width else args[:width]):
                ak = a.kind
                if ak == "tmp":
                    kind[j][k] = _TMP
                    idx[j][k] = pos[a.index]
                elif ak == "in":
                    kind[j][k] = _IN
                    idx[j][k] = a.index
                else:
                    kind[j][k] = _CONST
                    val[j][k] = a.value
        reads = [-1] * n  # per position: (table, column) code of a table read, else -1
        any_reads = False
        for k, ins in enumerate(instrs):
            if type(ins) is TableRead:
                reads[k] = ins.table * 4099 + ins.col
                any_reads = True
        self.reads = np.array(reads, dtype=np.int64) if any_reads else None
        op = np.array(op, dtype=np.int64)
        kind = np.array(kind, dtype=np.int8).T.copy()
        idx = np.array(idx, dtype=np.int64).T.copy()
        val = np.array(val, dtype=np.float64).T.copy()
        self.op, self.kind, self.idx, self.val = op, kind, idx, val

    def periods(self) -> list[int]:
        """Candidate periods: the most common distances between consecutive instructions of
        one local fingerprint (op, operand kinds, distances back of temporaries, input slots;
        constants by kind only)."""
        n = self.n
        if n < 4:
            return []
        pos = np.arange(n, dtype=np.int64)[:, None]
        dist = pos - self.idx
        if self.reads is not None:  # a stored value of a loop: by table and column (its
            # position among the table reads is no distance that repeats from step to step)
            code = self.reads[np.clip(self.idx, 0, n - 1)]
            dist = np.where(code >= 0, code + (1 << 40), dist)
        part = np.where(self.kind == _TMP, dist, np.where(self.kind == _IN, self.idx, 0))
        h = self.op * 1_000_003
        for j in range(self.kind.shape[1]):
            h = h * 31 + self.kind[:, j].astype(np.int64)
            h = h * 1_000_033 + part[:, j]
        order = np.lexsort((np.arange(n), h))
        hs = h[order]
        same = hs[1:] == hs[:-1]
        gaps = (order[1:] - order[:-1])[same]
        gaps = gaps[gaps > 0]
        if not gaps.size:
            return []
        vals, counts = np.unique(gaps, return_counts=True)
        best = np.argsort(-counts, kind="stable")[:CANDIDATES]
        return [int(vals[b]) for b in best if counts[b] >= 2]

    def relation(self, P: int) -> tuple[np.ndarray, np.ndarray]:
        """match[i]: instruction i + P is instruction i one period on; code[i]: each slot's
        relation (SAME, REL or VARY; packed two bits per slot)."""
        n = self.n
        a, b = slice(0, n - P), slice(P, n)
        k1, k2 = self.kind[a], self.kind[b]
        i1, i2 = self.idx[a], self.idx[b]
        match = (self.op[a] == self.op[b]) & (self.op[a] >= 0) & np.all(k1 == k2, axis=1)
        same = ((k1 == _NONE) | ((k1 == _IN) & (i1 == i2)) | ((k1 == _TMP) & (i1 == i2))
                | ((k1 == _CONST) & ((self.val[a] == self.val[b])
                                     | (np.isnan(self.val[a]) & np.isnan(self.val[b])))))
        rel = (k1 == _TMP) & (i2 - i1 == P)
        code = np.where(same, _SAME, np.where(rel, _REL, _VARY)).astype(np.int64)
        packed = np.zeros(n - P, dtype=np.int64)
        for j in range(code.shape[1]):
            packed = packed * 4 + code[:, j]
        return match, packed


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [a, b) of True."""
    if not ok.size:
        return []
    d = np.diff(np.concatenate(([0], ok.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist()))


def _regions(arr: _Arrays, min_steps: int, min_statements: int) -> list[tuple[int, int, int]]:
    """Candidate chains (start, period, steps), the largest first."""
    found = []
    n = arr.n
    for P in arr.periods():
        if P * min_steps > n:
            continue
        match, code = arr.relation(P)
        m = n - P
        ok = match.copy()
        # a slot's relation must stay the same from step to step (else the "step" is not one)
        if m > P:
            cons = code[: m - P] == code[P:]
            ok[: m - P] &= cons | ~match[P:]
        for a, b in _runs(ok):
            if b - a + P < min_statements:  # too short even before _align (which only trims)
                continue
            if (b - a + P) // P >= 3:
                a = _align(arr, code, a, b, P)
            steps = (b - a + P) // P
            if steps >= min_steps and steps * P >= min_statements:
                found.append((steps * P, -P, a, steps))
    found.sort(reverse=True)
    return [(a, -negp, steps) for _, negp, a, steps in found]


def _may_chain(instrs: list, min_steps: int, min_statements: int) -> bool:
    """False when the schedule cannot hold a chain that `_regions` would accept: a cheap
    precheck (~3 ms for 20,000 instructions, against ~50 ms for `_Arrays` and `_regions`) so
    that large schedules without a chain (a reaction network) pay little for the detection.

    A chain of K ≥ min_steps steps of period P with K·P ≥ min_statements is a run of at least
    R = min over P of max(min_statements − P, (min_steps − 1)·P) instructions, each with the
    op of the instruction P later (what `relation`'s match needs first). Such a run holds a
    whole block [c·w, c·w + w) of width w = ⌈R / 2⌉ whose op sequence recurs P later. So if no
    aligned block's op sequence occurs again at a later position, there is no chain. Windows
    are compared by a polynomial hash of their ops (mod 2⁶⁴): a collision only lets the full
    detection run, it never skips it."""
    n = len(instrs)
    f = lambda p: max(min_statements - p, (min_steps - 1) * p)  # noqa: E731
    q = max(1, min_statements // min_steps)
    w = (min(f(q), f(q + 1)) + 1) // 2
    if w < 16 or n < 2 * w:
        return True
    # a chain usually starts early (a Python loop is most of its program): look at a prefix
    # first, so that a long chain pays for a few thousand instructions, not all of them
    head = min(n, 32 * w)
    return _recurs(instrs[:head], w) or (head < n and _recurs(instrs, w))


def _recurs(instrs: list, w: int) -> bool:
    """Whether some aligned block of w ops recurs later (by a window hash: see _may_chain)."""
    n = len(instrs)
    # ops by their strings' hashes (equal ops, equal codes; unequal ones collide harmlessly)
    c = np.fromiter(map(hash, [ins.op for ins in instrs]), dtype=np.int64, count=n)
    c = c.view(np.uint64) | np.uint64(1)
    base = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        pw = np.cumprod(np.full(n, base, dtype=np.uint64))  # base^(i+1)
        ipw = np.cumprod(np.full(n, np.uint64(pow(int(base), -1, 1 << 64)), dtype=np.uint64))
        pre = np.concatenate((np.zeros(1, dtype=np.uint64), np.cumsum(c * pw)))
        h = (pre[w:] - pre[:-w]) * ipw[: n - w + 1]  # window j: Σ c[j + t]·base^t
    starts = np.arange(0, n - w + 1, w)
    hb, first = np.unique(h[starts], return_index=True)
    k = np.minimum(np.searchsorted(hb, h), hb.size - 1)
    later = (hb[k] == h) & (np.arange(h.size) > starts[first[k]])
    return bool(later.any())


def _align(arr: _Arrays, code: np.ndarray, a: int, b: int, P: int) -> int:
    """Where in [a, a + P) the steps of the run [a, b + P) should start: the offset that
    carries the fewest values (with their lags) across a step boundary. A value at r read last
    at distance D crosses every boundary in (r, r + D]: D // P of them at every offset, and one
    more at the offsets of (r, r + D mod P]."""
    lo, hi = a + P, a + 2 * P  # a whole step with a step before it
    width = arr.kind.shape[1]
    reach: dict[int, int] = {}
    for i in range(lo, hi):
        c = int(code[i])
        for j in range(width):
            if (c >> (2 * (width - 1 - j))) & 3 == _REL:
                r = int(arr.idx[i, j])
                if r >= a and i - r > reach.get(r, 0):
                    reach[r] = i - r
    if not reach:
        return a
    diff = np.zeros(P + 1, dtype=np.int64)
    for r, d in reach.items():
        diff[0] += d // P
        diff[P] -= d // P
        m = d % P
        if m:  # offsets o (boundary positions mod P) in (r, r + m], circularly
            first, last = (r + 1) % P, (r + m) % P
            if first <= last:
                diff[first] += 1
                diff[last + 1] -= 1
            else:
                diff[first] += 1
                diff[P] -= 1
                diff[0] += 1
                diff[last + 1] -= 1
    cost = np.cumsum(diff)[:P]
    best = int(np.argmin(cost))  # boundary offset mod P
    return a + (best - a) % P


class _Chain:
    """One chain [s, s + K·P) of a schedule, as a loop instruction (or a reason it is not)."""

    def __init__(self, sched: Schedule, arr: _Arrays, s: int, P: int, K: int):
        self.sched, self.arr, self.s, self.P, self.K = sched, arr, s, P, K

    def build(self) -> Schedule | None:
        sched, arr, s, P, K = self.sched, self.arr, self.s, self.P, self.K
        instrs = sched.instrs
        end = s + K * P
        _, code = arr.relation(P)
        width = arr.kind.shape[1]
        carries: dict[tuple[int, int], int] = {}  # (position in step, lag) → carry slot
        consts: dict[tuple, int] = {}  # invariant operand → const slot
        const_refs: list[Ref] = []
        xs_cols: list[tuple] = []  # (position, operand[, sunk operand]) varying per step
        body: list[Instr] = []
        slots: list[list] = []  # per template instruction: per operand a body-ref recipe
        for q in range(P):
            i = s + q
            ins = instrs[i]
            c = int(code[i]) if i < len(code) else 0
            recipe = []
            for j, a in enumerate(ins.args):
                rel = (c >> (2 * (width - 1 - j))) & 3
                k = arr.kind[i, j]
                if rel == _REL and arr.idx[i + (K - 1) * P, j] < s:
                    rel = _VARY  # every step's value computed before the chain: per-step
                if rel == _VARY:
                    if k == _TMP:  # another value per step: it must exist before the chain
                        for st in range(K):
                            if arr.idx[i + st * P, j] >= s:
                                return None
                        # one statement of stored values per step: computed in the body
                        sunk = (sink(instrs, arr.pos, [instrs[i + st * P].args[j]
                                                       for st in range(K)])
                                if arr.reads is not None else None)
                        if sunk is not None:
                            ops = []
                            for how, what in sunk[1]:
                                if how == "x":
                                    ops.append(("x", len(xs_cols)))
                                    xs_cols.append((q, j, what))
                                elif what.kind == "const":
                                    ops.append(("lit", what))
                                else:
                                    key = ("t" if what.kind == "tmp" else "in", what.index)
                                    if key not in consts:
                                        consts[key] = len(const_refs)
                                        const_refs.append(what)
                                    ops.append(("k", consts[key]))
                            recipe.append(("s", (sunk[0], ops)))
                            continue
                    recipe.append(("x", len(xs_cols)))
                    xs_cols.append((q, j))
                elif rel == _REL:
                    p = int(arr.idx[i, j]) - s
                    if p >= 0:
                        recipe.append(("t", p))
                    else:
                        lag = (-p + P - 1) // P
                        if lag > 2 * P + 2:  # more carries than the check below allows
                            return None
                        p += lag * P
                        recipe.append(("c", (p, lag)))
                        for lg in range(1, lag + 1):
                            carries.setdefault((p, lg), len(carries))
                        if len(carries) > 2 * P + 2:  # (carries only grow: give up early)
                            return None
                elif k == _TMP:  # the same value every step: computed before the chain
                    if arr.idx[i, j] >= s:
                        return None
                    key = ("t", a.index)
                    if key not in consts:
                        consts[key] = len(const_refs)
                        const_refs.append(a)
                    recipe.append(("k", consts[key]))
                elif k == _IN:
                    key = ("in", a.index)
                    if key not in consts:
                        consts[key] = len(const_refs)
                        const_refs.append(a)
                    recipe.append(("k", consts[key]))
                else:
                    recipe.append(("lit", a))
            slots.append(recipe)
        if not carries:  # nothing carried from step to step: independent repeats
            return None
        # values of the chain read after it: by position and step
        readers: dict[int, set[int]] = {}

        def note(r: Ref) -> None:
            if r.kind == "tmp":
                # (a loop rolled after `arr` was made, later in the schedule: not in pos)
                k = arr.pos.get(r.index, -1)
                if s <= k < end:
                    readers.setdefault((k - s) % P, set()).add((k - s) // P)

        for ins in instrs[end:]:
            for a in ins.args:
                note(a)
        for r in sched.outputs:
            note(r)
        ys: dict[int, int] = {}
        outside: dict[tuple[int, int], tuple] = {}  # (position, step) → ("c", slot) / ("y", col)
        for p, steps in readers.items():
            for st in steps:
                lag = K - st
                if lag == 1 or (p, lag) in carries:
                    for lg in range(1, lag + 1):
                        carries.setdefault((p, lg), len(carries))
                    outside[(p, st)] = ("c", (p, lag))
                else:
                    if p not in ys:
                        ys[p] = len(ys)
                    outside[(p, st)] = ("y", ys[p])
        # a step that only reads its per-step values gains nothing, unless they are another
        # loop's stored values, which the loop will read in place (backends.reroll_link)
        mid = s + (K // 2 - 1) * P
        own = sum(1 for col in xs_cols
                  if not _stored(instrs, arr, _xref(instrs, arr, mid, col),
                                 _xref(instrs, arr, mid + P, col)))
        if not carries or len(ys) * K > MAX_YS_VALUES or own >= P:
            return None
        nc, nx, nk, ny = len(carries), len(xs_cols), len(const_refs), len(ys)
        if nc > 2 * P + 2:  # values passed along for many steps (lags): not a step's state
            return None
        cslot = {key: v for key, v in carries.items()}
        extra = P  # sunk statements' temporaries follow the step's own

        def operand(how: str, what) -> Ref:
            if how == "x":
                return Ref("in", nc + what)
            if how == "k":
                return Ref("in", nc + nx + what)
            return what

        for q in range(P):  # the body: the first step's instructions, operands renamed
            args = []
            for how, what in slots[q]:
                if how == "s":
                    body.append(Instr(extra, what[0], tuple(operand(h, w) for h, w in what[1])))
                    args.append(Ref("tmp", extra))
                    extra += 1
                elif how == "t":
                    args.append(Ref("tmp", what))
                elif how == "c":
                    args.append(Ref("in", cslot[what]))
                elif how == "x":
                    args.append(Ref("in", nc + what))
                elif how == "k":
                    args.append(Ref("in", nc + nx + what))
                else:
                    args.append(what)
            body.append(Instr(q, instrs[s + q].op, tuple(args)))
        order = sorted(carries, key=carries.get)
        new_vals = [Ref("tmp", p) if lg == 1 else Ref("in", cslot[(p, lg - 1)])
                    for p, lg in order]
        y_order = sorted(ys, key=ys.get)
        body_sched = Schedule(nc + nx + nk + 1, body, new_vals + [Ref("tmp", p) for p in y_order],
                              extra)
        # the first step's carried-in values: what it reads (never read: 0.0)
        init: list[Ref] = []
        for p, lg in order:
            k = s + p - lg * P
            init.append(Ref("tmp", instrs[k].dst) if k >= 0 and _defines(instrs[k])
                        else Ref("const", value=0.0))
        explicit: list[Ref] = []
        for st in range(K):
            for col in xs_cols:
                explicit.append(_xref(instrs, arr, s + st * P, col))
        spec = LoopSpec("scan", K, False, 0, nc, nx, nk, ny, None)
        dst = sched.n_tmp
        carry_dsts = tuple(range(dst + 1, dst + 1 + nc))
        n_tmp = dst + 1 + nc
        loop = LoopInstr(dst, "loop", tuple(init + const_refs + explicit), body=body_sched,
                         spec=spec, carry_dsts=carry_dsts,
                         xcols=tuple(("xs", c) for c in range(nx)), n_explicit=nx)
        reads: list[Instr] = []
        remap: dict[int, Ref] = {}
        for (p, st), (how, what) in sorted(outside.items()):
            old = instrs[s + st * P + p].dst
            if how == "c":
                remap[old] = Ref("tmp", carry_dsts[cslot[what]])
            else:
                reads.append(TableRead(n_tmp, "table_read", (Ref("tmp", dst),), table=dst,
                                       step=st, col=what))
                remap[old] = Ref("tmp", n_tmp)
                n_tmp += 1

        def fix(r: Ref) -> Ref:
            return remap.get(r.index, r) if r.kind == "tmp" else r

        tail = []
        for ins in instrs[end:]:
            if any(a.kind == "tmp" and a.index in remap for a in ins.args):
                ins = dataclasses.replace(ins, args=tuple(fix(a) for a in ins.args))
            tail.append(ins)
        out = Schedule(sched.n_in, instrs[:s] + [loop] + reads + tail,
                       [fix(r) for r in sched.outputs], n_tmp)
        self.info = {"start": s, "period": P, "steps": K, "carries": nc, "xs": nx,
                     "consts": nk, "ys": ny}
        self.dst = dst
        return out


def _xref(instrs: list, arr: _Arrays, at: int, col: tuple) -> Ref:
    """The value of xs column `col` in the step starting at position `at`: operand j of the
    step's statement q, or operand m of the statement defining it (a sunk statement)."""
    r = instrs[at + col[0]].args[col[1]]
    return r if len(col) == 2 else instrs[arr.pos[r.index]].args[col[2]]


def _stored(instrs: list, arr: _Arrays, r: Ref, r1: Ref) -> bool:
    """Whether `r` and `r1` (one operand at two consecutive steps) are stored values of one
    column of one loop (table reads): a column the loop can read in place."""
    if r.kind != "tmp" or r1.kind != "tmp":
        return False
    a, b = instrs[arr.pos[r.index]], instrs[arr.pos[r1.index]]
    return (type(a) is TableRead and type(b) is TableRead
            and (a.table, a.col) == (b.table, b.col))


def _defines(ins: Instr) -> bool:
    return type(ins) is Instr or type(ins) is TableRead


@no_gc
def roll_chains(sched: Schedule, min_group: int | None = 64) -> tuple[Schedule, list[dict]]:
    """The schedule with its chains of isomorphic steps as loops, and what was rolled (one dict
    per chain: start, period, steps, carries, xs, consts, ys); unchanged (and []) when there is
    none or `min_group` is None (re-rolling off).

    >>> import symnum as sn
    >>> from symnum.backends.schedule import schedule
    >>> x = sn.Sym("x")
    >>> e = x
    >>> for _ in range(1000):
    ...     e = sn.sin(e) * 0.5 + 0.1
    >>> s, info = roll_chains(schedule([x], [e]))
    >>> len(s.instrs), info[0]["steps"], info[0]["carries"]  # the loop alone: every step
    (1, 1000, 1)
    """
    if min_group is None:
        return sched, []
    min_steps, min_statements = thresholds(min_group)
    rolled: list[dict] = []
    by_dst: dict[int, dict] = {}
    for _ in range(MAX_PASSES):
        if len(sched.instrs) < min_statements:
            break
        if not _may_chain(sched.instrs, min_steps, min_statements):
            break
        arr = _Arrays(sched)
        limit = arr.n  # chains rolled in this pass start at or after this position
        for s, P, K in _regions(arr, min_steps, min_statements)[:CANDIDATES]:
            if s + K * P > limit:  # overlaps (or follows) a chain rolled in this pass
                continue
            # a value the first steps compute and later ones reuse (hash-consed: computed
            # once) makes the first step another shape: start a step or two later
            new = None
            for shift in range(3):
                if K - shift < min_steps:
                    break
                ch = _Chain(sched, arr, s + shift * P, P, K - shift)
                new = ch.build()
                if new is not None:
                    break
            if new is not None:
                # `arr` still describes every position before this chain: a chain wholly
                # before it is rolled from the same arrays (a gradient's forward sweep and
                # its adjoint in one pass)
                rolled.append(ch.info)
                by_dst[ch.dst] = ch.info
                sched, limit = new, ch.s
        if limit == arr.n:
            break
    if rolled:
        sched, grown = grow_loops(sched, set(by_dst), MAX_YS_VALUES)
        for dst, (front, back) in grown.items():
            c = by_dst[dst]
            c.update(grown=(front, back), steps=c["steps"] + front + back)
        sched, linked = link_tables(sched)
        for dst, what in linked.items():
            if dst in by_dst:
                c = by_dst[dst]
                c.update(what, steps=c["steps"] - sum(what["peeled"]))
    return sched, rolled


def roll_for(sched: Schedule, reroll: bool | int | None) -> tuple[Schedule, list[dict]]:
    """`roll_chains` under a backend's `reroll=` option (None/True: on, False: off, an int:
    the threshold, as `symnum.backends.reroll.min_group_of` reads it)."""
    from symnum.backends.reroll import min_group_of

    return roll_chains(sched, min_group_of(reroll))
