"""Re-rolling: repeated isomorphic pieces of a schedule → loops over tables (issue 12, item 2).

Sits between `symnum.backends.schedule` (straight-line SSA code, CSE'd by hash-consing) and the
emitters (`symnum.backends.llvm_reroll`). Backend-neutral: it reads a Schedule and returns a Plan;
it never writes code and never imports llvmlite or numba.

A model written element by element (a stencil traced point by point, a reaction network, a
Jacobian's values) is thousands of copies of a few expression shapes. The schedule is cut into
trees: a root is an output's value or a temporary used several times (a shared subexpression,
kept shared: computed once into scratch memory) — except cheap shared ones (at most INLINE_MAX
add/sub/mul/neg instructions over leaves: `9610·x[j]`, `u·u·v`), which each user recomputes.
Each tree is keyed by its shape: the ops in preorder with each leaf replaced by a numbered slot of
its kind (an input, a shared value in scratch, a constant). Trees of one key (and one stage:
everything they read is computed in earlier stages) become one loop: per instance a row of a
table of indices (which input / scratch value each slot reads) and of coefficients (its
constants; a column equal in every row becomes a literal of the body).

Sums whose shape is rare (the species of a reaction network: each a sum of a different mix of
rate terms) are split into their terms: terms of one shape across all such sums become one
loop that adds into the sums' destinations (a scatter-add, as a hand-written loop does), and
what is left of each sum is a tree of its own (a sum whose terms all roll keeps one of them:
it is stored first, not zeroed and added to). The terms scaling one value are ordered by a
pattern so that their loops' columns line up (reroll_loops.tidy then reads equal and
opposite columns once). Rolled sums add in another order than the
straight-line code: results agree to rounding, not bit for bit.

Everything that is not repeated often enough (fewer than `min_group` instances) stays
straight-line code, in stage order between the loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from symnum.backends.reroll_loops import MAX_SCATTER, MIN_TRIPS, Loop, concat, fold, fuse, tidy
from symnum.backends.schedule import Instr, Ref, Schedule

from symnum.core._gc import no_gc

MIN_GROUP = 64  # instances of one shape before it becomes a loop
INLINE_MAX = 2  # a shared value of at most this many cheap instructions is recomputed per user
CHEAP = frozenset({"add", "sub", "mul", "neg"})

_PRIVATE, _INLINED, _ROOT = 0, 1, 2


@dataclass
class Block:
    """Straight-line code: `instrs` in dependency order (schedule temporaries, and new ones for
    what is left of split sums), then `stores` (dest "out" or "c", index, value)."""

    stage: int
    instrs: list[Instr] = field(default_factory=list)
    stores: list[tuple[str, int, Ref]] = field(default_factory=list)


@dataclass
class Plan:
    """Steps in execution order; `scratch` maps each shared root's temporary to its slot of the
    scratch array (emitters add slots for values crossing their own function boundaries)."""

    steps: list
    scratch: dict[int, int]
    n_tmp: int  # temporaries in use (the schedule's and the new ones)

    def table_size(self) -> int:
        """Numbers in the loops' tables (affine index columns included: an upper bound)."""
        return sum(lp.index.size + lp.coefs.size + lp.dest_index.size for lp in self.steps
                   if isinstance(lp, Loop))

    def summary(self) -> dict:
        loops = [s for s in self.steps if isinstance(s, Loop)]
        return {"loops": len(loops), "rolled_instances": sum(lp.instances for lp in loops),
                "loop_statements": sum(len(lp.body) for lp in loops),
                "straight_statements": sum(len(b.instrs) for b in self.steps
                                           if isinstance(b, Block))}


def min_group_of(reroll: bool | int | None) -> int | None:
    """The `reroll=` option as a threshold: None / True → MIN_GROUP, False → off, an int ≥ 2
    → that threshold."""
    if reroll is None or reroll is True:
        return MIN_GROUP
    if reroll is False:
        return None
    if isinstance(reroll, int) and reroll >= 2:
        return reroll
    from symnum.errors import CompileError

    raise CompileError(f"reroll= takes True, False or a minimum group size ≥ 2, got {reroll!r}")


_X, _C, _K = 0, 1, 2  # shape ids of the leaves: an input, a shared value (scratch), a constant


class _Planner:
    def __init__(self, sched: Schedule, min_group: int):
        self.sched, self.min_group = sched, min_group
        self.defs: list[Instr] = list(sched.instrs)
        n = len(self.defs)
        uses, out_uses = [0] * n, [0] * n
        for ins in self.defs:
            for a in ins.args:
                if a.kind == "tmp":
                    uses[a.index] += 1
        for r in sched.outputs:
            if r.kind == "tmp":
                out_uses[r.index] += 1
        # one pass in schedule order (operands first): each temporary's kind, the size of
        # what a user would recompute, its shape id (hash-consed: equal ids, equal shapes up
        # to the leaves) and its stage (1 + the latest stage of the shared values it reads)
        kind = bytearray(n)
        size = [0] * n
        self.sid = sid = [0] * n
        self.stage = stage = [0] * n
        self.shapes: dict[tuple, int] = {}
        shapes = self.shapes
        for t, ins in enumerate(self.defs):
            s, dep = 1, 0
            key = [ins.op]
            for a in ins.args:
                k = a.kind
                if k == "tmp":
                    i = a.index
                    if kind[i] == _ROOT:
                        key.append(_C)
                        if stage[i] > dep:
                            dep = stage[i]
                    else:
                        s += size[i]
                        key.append(sid[i])
                        if stage[i] - 1 > dep:
                            dep = stage[i] - 1
                else:
                    key.append(_X if k == "in" else _K)
            tk = tuple(key)
            h = shapes.get(tk)
            if h is None:
                h = shapes[tk] = len(shapes) + 3
            sid[t] = h
            stage[t] = dep + 1
            size[t] = s
            if uses[t] == 0:  # an output's value only
                kind[t] = _ROOT
            elif uses[t] == 1 and not out_uses[t]:
                kind[t] = _PRIVATE
            elif ins.op in CHEAP and s <= INLINE_MAX:
                kind[t] = _INLINED
            else:
                kind[t] = _ROOT
        self.kind, self.uses, self.out_uses = kind, uses, out_uses
        # shared roots (read by instructions, or by several outputs) live in scratch
        self.scratch: dict[int, int] = {}
        for t in range(n):
            if kind[t] == _ROOT and (uses[t] or out_uses[t] > 1):
                self.scratch[t] = len(self.scratch)

    def shape(self, a: Ref, open_root: bool = False) -> tuple[int, int]:
        """(shape id, stage) of the tree at `a`; a shared root is a leaf unless `open_root`."""
        k = a.kind
        if k == "in":
            return _X, 1
        if k == "const":
            return _K, 1
        t = a.index
        if self.kind_of(t) == _ROOT and not open_root:
            return _C, self.stage[t] + 1
        return self.sid[t], self.stage[t]

    # shapes ----------------------------------------------------------------------------------
    def leaves(self, r: Ref, open_root: bool = False) -> list[Ref]:
        """The leaves of the tree at `r` left to right; a shared root is a leaf unless it is
        `r` itself and `open_root`."""
        leaves: list = []
        kind = self.kind
        n = len(kind)
        defs = self.defs
        stack = [r]
        pop, push, add = stack.pop, stack.append, leaves.append
        while stack:
            a = pop()
            if a.kind == "tmp":
                t = a.index
                if t < n and kind[t] == _ROOT and not (open_root and a is r):
                    add(a)
                    continue
                args = defs[t].args
                for j in range(len(args) - 1, -1, -1):
                    push(args[j])
            else:
                add(a)
        return leaves

    def template(self, r: Ref, open_root: bool) -> tuple[list[Instr], Ref, list[str]]:
        """The body of a loop: the tree at `r` with leaves numbered left to right (value
        slots first in their order, then constants) and temporaries renumbered from 0."""
        leaves = self.leaves(r, open_root)
        vals = [v for v in leaves if v.kind != "const"]
        n_val = len(vals)
        body: list[Instr] = []
        counters = [0, 0]  # value slots, coefficient slots seen so far (left to right)

        def leaf(a: Ref) -> Ref:
            if a.kind == "const":
                counters[1] += 1
                return Ref("in", n_val + counters[1] - 1)
            counters[0] += 1
            return Ref("in", counters[0] - 1)

        # postorder with an explicit stack: (ref, state); children resolved left to right
        stack: list = [(r, 0, [])]
        result = None
        while stack:
            a, i, got = stack.pop()
            if a.kind != "tmp" or (self.kind_of(a.index) == _ROOT
                                   and not (open_root and a is r)):
                val = leaf(a)
            else:
                ins = self.defs[a.index]
                if i < len(ins.args):
                    stack.append((a, i + 1, got))
                    stack.append((ins.args[i], 0, []))
                    continue
                val = Ref("tmp", len(body))
                body.append(Instr(len(body), ins.op, tuple(got)))
            if stack:
                stack[-1][2].append(val)
            else:
                result = val
        sources = ["x" if v.kind == "in" else "c" for v in vals]
        return body, result, sources

    def kind_of(self, t: int) -> int:
        return self.kind[t] if t < len(self.kind) else _PRIVATE

    def new(self, op: str, *args: Ref) -> Ref:
        t = len(self.defs)
        self.defs.append(Instr(t, op, tuple(args)))
        key = [op]
        dep = 0
        for a in args:
            h, st = self.shape(a)
            key.append(h)
            dep = max(dep, st - 1)
        self.sid.append(self.shapes.setdefault(tuple(key), len(self.shapes) + 3))
        self.stage.append(dep + 1)
        return Ref("tmp", t)

    # the plan --------------------------------------------------------------------------------
    def trees(self) -> list[tuple[Ref, str, int, bool]]:
        """(root, dest kind, dest index, open) of every tree: roots in schedule order (open:
        their instruction is the tree's top), then outputs that copy an input, a constant or
        a shared root."""
        kind, out_uses, uses = self.kind, self.out_uses, self.uses
        found: list[tuple[Ref, str, int, bool]] = []
        owner: dict[int, int] = {}
        for k, r in enumerate(self.sched.outputs):
            if r.kind == "tmp" and out_uses[r.index] == 1 and uses[r.index] == 0:
                owner[r.index] = k
        copies = []
        for k, r in enumerate(self.sched.outputs):
            if not (r.kind == "tmp" and owner.get(r.index) == k):
                copies.append((r, "out", k, False))
        for t in range(len(self.defs)):
            if kind[t] != _ROOT:
                continue
            if t in owner:
                found.append((Ref("tmp", t), "out", owner[t], True))
            else:
                found.append((Ref("tmp", t), "c", self.scratch[t], True))
        return found + copies

    def plan(self) -> Plan | None:
        mg = self.min_group
        trees = []  # (root, dest, dest index, shape id, stage, open)
        for root, dest, di, open_root in self.trees():
            h, st = self.shape(root, open_root)
            trees.append((root, dest, di, h, st, open_root))
        counts: dict = {}
        for tr in trees:
            k = (tr[4], tr[3])
            counts[k] = counts.get(k, 0) + 1
        # sums of a rare shape: count the shapes of their terms
        split: list = []
        keep: list = []
        term_counts: dict = {}
        defs = self.defs
        for tr in trees:
            root = tr[0]
            if tr[5] and counts[(tr[4], tr[3])] < mg and defs[root.index].op in ("add", "sub"):
                keyed = []
                for sign, a in self._terms(root):
                    tk = (tr[4], sign, self.shape(a)[0])
                    term_counts[tk] = term_counts.get(tk, 0) + 1
                    keyed.append((sign, a, tk))
                split.append((tr, keyed))
            else:
                keep.append(tr)
        acc_groups: dict = {}
        bases = self._base_counts(split, term_counts)  # (only read to pick a sum's first term)
        for tr, keyed in split:
            if not any(term_counts[tk] >= mg for _, _, tk in keyed):
                keep.append(tr)
                continue
            rest = []
            rolled = []
            for sign, a, tk in keyed:
                if term_counts[tk] >= mg:
                    rolled.append((sign, a, tk, _base_key(defs, a)))
                else:
                    rest.append((sign, a))
            if not rest:
                # a sum with every term rolled starts from one of them, not from 0: its
                # destination is then stored by a map loop (`k·x[s]` over species) instead of
                # zeroed by a loop of its own and added into (mass action N=2,048: 1,055
                # zeroing stores and 898 read-modify-writes fewer). The term taken is one whose
                # base no other term scales (it leaves no reaction's rate computed twice).
                pick = min(range(len(rolled)), key=lambda q: bases.get(rolled[q][3], 0))
                sign, a, _, _ = rolled.pop(pick)
                rest.append((sign, a))
            for _, a, tk, bk in rolled:
                acc_groups.setdefault((tk, tr[1]), []).append((a, tr[1], tr[2], False, bk))
            r = self._partial(rest)
            keep.append((r, tr[1], tr[2], self.shape(r)[0], tr[4], False))
        groups: dict = {}
        for tr in keep:
            groups.setdefault((tr[4], tr[1], tr[3]), []).append(tr)
        if not acc_groups and not any(len(g) >= mg for g in groups.values()):
            return None
        by_stage: dict[int, list] = {}
        for (st, _, _), members in groups.items():
            by_stage.setdefault(st, []).append(("map", members))
        for ((st, sign, _), _), members in acc_groups.items():
            by_stage.setdefault(st, []).append(("add" if sign else "sub", members))
        steps: list = []
        emitted: set[int] = set()
        for st in sorted(by_stage):
            block = Block(st)
            loops, accs = [], []
            for what, members in by_stage[st]:
                if what == "map" and len(members) < mg:
                    for root, dest, di, _, _, open_root in members:
                        self._straight(block, root, dest, di, open_root, emitted)
                elif what == "map":
                    loops.append(self._loop(st, [(m[0], m[1], m[2], m[5]) for m in members],
                                            None))
                else:
                    accs += self._scatter(st, members, what)
            if block.instrs or block.stores:
                steps.append(block)
            steps += fuse(loops) + accs
        return Plan(steps, dict(self.scratch), len(self.defs))

    def _base_counts(self, split: list, term_counts: dict) -> dict:
        """How many rolled terms scale each base value (`_base_key`)."""
        counts: dict = {}
        for _, keyed in split:
            for _, a, tk in keyed:
                if term_counts[tk] >= self.min_group:
                    k = _base_key(self.defs, a)
                    counts[k] = counts.get(k, 0) + 1
        return counts

    def _terms(self, root: Ref) -> list[tuple[bool, Ref]]:
        """The terms of an add/sub chain (left-deep through private temporaries), each with
        its sign (True: added)."""
        terms: list[tuple[bool, Ref]] = []
        a = root
        while True:
            ins = self.defs[a.index]
            terms.append((ins.op == "add", ins.args[1]))
            nxt = ins.args[0]
            if nxt.kind == "tmp" and self.kind_of(nxt.index) == _PRIVATE and \
                    self.defs[nxt.index].op in ("add", "sub"):
                a = nxt
                continue
            terms.append((True, nxt))
            break
        terms.reverse()
        return terms

    def _partial(self, terms: list[tuple[bool, Ref]]) -> Ref:
        """The sum of the terms not rolled, as new instructions (0 when none)."""
        if not terms:
            return Ref("const", value=0.0)
        pos = [a for s, a in terms if s]
        neg = [a for s, a in terms if not s]
        acc = pos[0] if pos else self.new("neg", neg.pop(0))
        for a in pos[1:]:
            acc = self.new("add", acc, a)
        for a in neg:
            acc = self.new("sub", acc, a)
        return acc

    def _straight(self, block: Block, root: Ref, dest: str, di: int, open_root: bool,
                  emitted: set) -> None:
        """Append the tree at `root` to a straight-line block (shared cheap values once)."""
        if root.kind == "tmp" and root.index not in emitted and (
                open_root or self.kind_of(root.index) != _ROOT):
            order: list[int] = []
            stack = [(root.index, 0)]
            while stack:
                t, i = stack.pop()
                args = self.defs[t].args
                while i < len(args):
                    a = args[i]
                    i += 1
                    if a.kind == "tmp" and a.index not in emitted and \
                            self.kind_of(a.index) != _ROOT:
                        stack.append((t, i))
                        stack.append((a.index, 0))
                        break
                else:
                    if t not in emitted:
                        emitted.add(t)
                        order.append(t)
            block.instrs += [self.defs[t] for t in order]
        if not (dest == "c" and open_root):
            block.stores.append((dest, di, root))
        # a shared root computed here is spilled to its scratch slot by the emitter

    def _scatter(self, stage: int, members: list, acc: str) -> list[Loop]:
        """Loops adding same-shaped terms into their sums. Terms scaling one value (a
        reaction's rate k·a·b in the three species it changes: −k·ab, −k·ab, +k·ab) are
        computed in one trip that stores to each of their sums, as a hand-written loop over
        reactions does: buckets of R terms per value, the r-th term of every bucket a slice,
        the slices fused (the value is then computed once by value numbering)."""
        buckets: dict = {}
        for mem in members:  # (term, dest, dest index, open, base key)
            key = mem[4]
            buckets.setdefault(key if key is not None else ("const", id(mem)), []).append(mem)
        # (a constant term's key is unique to it: a bucket of one)
        by_size: dict[int, list] = {}  # size → [(bucket in canonical order, its pattern)]
        for key, b in buckets.items():
            if len(b) <= MAX_SCATTER:
                by_size.setdefault(len(b), []).append(self._ordered(key, b))
            else:
                by_size.setdefault(1, []).extend(([m], None) for m in b)
        loops: list[Loop] = []
        rest: list = []
        for size, bs in sorted(by_size.items()):
            if size == 1 or len(bs) < MIN_TRIPS:
                rest += [m for b, _ in bs for m in b]
                continue
            # buckets of one pattern (which of the value's leaves each term's destination is,
            # and the signs of the terms' constants) make a loop of their own: its columns
            # then line up, so a destination equal to a leaf reuses that leaf's index and
            # coefficients equal or opposite to another are read once (`tidy`)
            by_pattern: dict[tuple, list] = {}
            for b, pattern in bs:
                by_pattern.setdefault(pattern, []).append(b)
            mixed = [b for p in by_pattern.values() if len(p) < MIN_TRIPS for b in p]
            groups = [p for p in by_pattern.values() if len(p) >= MIN_TRIPS]
            if len(mixed) >= MIN_TRIPS:
                groups.append(mixed)
            else:
                rest += [m for b in mixed for m in b]
            for g in groups:
                slices = [self._loop(stage, [b[r] for b in g], acc) for r in range(size)]
                lp = slices[0]
                for other in slices[1:]:
                    lp = concat(lp, other)
                loops.append(fold(tidy(lp)))
        if rest:
            loops.append(fold(tidy(self._loop(stage, rest, acc))))
        return loops

    def _ordered(self, key: tuple | None, bucket: list) -> tuple[list, tuple | None]:
        """(the bucket's terms in a canonical order, the pattern of that order): each term
        keyed by the first of the value leaves of the value it scales that is its
        destination's index (or one past them), then by whether its constant is negative."""
        if len(bucket) == 1 or key is None:
            return bucket, None
        if key[0] == "tmp":
            vals = [self.scratch.get(a.index, -1) if a.kind == "tmp" else a.index
                    for a in self.leaves(Ref("tmp", key[1])) if a.kind != "const"]
        else:
            vals = [key[1]]
        defs = self.defs
        keyed = []
        for m in bucket:
            a, di = m[0], m[2]
            neg = False
            if a.kind == "tmp":
                ins = defs[a.index]
                if ins.op == "mul" and ins.args[0].kind == "const":
                    neg = math.copysign(1.0, ins.args[0].value) < 0
            keyed.append(((vals.index(di) if di in vals else len(vals), neg), m))
        keyed.sort(key=lambda km: km[0])
        return [m for _, m in keyed], tuple(k for k, _ in keyed)

    def _loop(self, stage: int, members: list, acc: str | None) -> Loop:
        """One loop over same-shaped trees: members are (root, dest, dest index, open)."""
        body, result, sources = self.template(members[0][0], members[0][3])
        nv = len(sources)
        m = len(members)
        idx: list = []
        cs: list = []
        dest_index = np.fromiter((mem[2] for mem in members), dtype=np.int64, count=m)
        scratch, kind, defs = self.scratch, self.kind, self.defs
        n = len(kind)
        for mem in members:
            r, open_root = mem[0], mem[3]
            # the leaves left to right, as in `leaves` (inlined here: it runs per instance)
            stack = [r]
            pop, push = stack.pop, stack.append
            while stack:
                a = pop()
                k = a.kind
                if k == "tmp":
                    t = a.index
                    if t < n and kind[t] == _ROOT and not (open_root and a is r):
                        idx.append(scratch[t])
                        continue
                    args = defs[t].args
                    for j in range(len(args) - 1, -1, -1):
                        push(args[j])
                elif k == "in":
                    idx.append(a.index)
                else:
                    cs.append(a.value)
        index = np.array(idx, dtype=np.int64).reshape(m, nv)
        coefs = np.array(cs, dtype=np.float64).reshape(m, -1) if m else np.empty((0, 0))
        return Loop(stage, body, [result], sources, index, coefs, [members[0][1]],
                    dest_index.reshape(m, 1), acc)


def _base_key(defs: list[Instr], a: Ref) -> tuple | None:
    """The value a term scales (`b` of `k·b`, else the term itself) as a key; None for a
    constant (no two constant terms share a computation)."""
    base = a
    if a.kind == "tmp":
        ins = defs[a.index]
        if ins.op == "mul" and ins.args[0].kind == "const":
            base = ins.args[1]
    return (base.kind, base.index) if base.kind != "const" else None


@no_gc  # it allocates many small objects while the traced graph is alive: no GC scans
def plan(sched: Schedule, min_group: int = MIN_GROUP) -> Plan | None:
    """A Plan with at least one loop, or None when nothing repeats `min_group` times.

    >>> import symnum as sn
    >>> from symnum.backends.schedule import schedule
    >>> xs = sn.symbols(" ".join(f"x{i}" for i in range(100)))
    >>> p = plan(schedule(xs, [sn.sin(x) * 2 + 1 for x in xs]))
    >>> p.summary()["loops"], p.steps[0].count
    (1, 100)
    """
    if len(sched.instrs) + len(sched.outputs) < min_group:
        return None
    return _Planner(sched, min_group).plan()
