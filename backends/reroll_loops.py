"""Rolled loops of `symnum.backends.reroll`: the Loop record, and what makes one cheap to run.

Sits under `symnum.backends.reroll` (which builds one Loop per group of same-shaped trees) and is
read by the emitters (`symnum.backends.llvm_reroll`). Backend-neutral; writes no code.

After grouping, loops are tidied as a person would write them by hand:
* loops of one stage with the same trip count are fused into one (`fuse`): the Brusselator's
  u′ and v′ loops become one loop over grid points, as in a hand-written kernel;
* a table column equal in every row becomes a literal (a coefficient shared by all instances);
* columns equal to another column are read once (u read three times by u′ = A + u²v − (B+1)u
  + …), a coefficient column that is another's negation too (−k and +k of a reaction's
  reactant and product: the product `(−k)·r` is computed as `−(k·r)`, which is exact), and the
  body is value-numbered (u²v computed once for u′ and v′ after fusion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from symnum.backends.schedule import Instr, Ref

MAX_FUSED_BODY = 256  # statements in one fused loop body (LLVM compiles a body once)
MAX_SCATTER = 8  # sums one computed term is added into, in one trip


@dataclass
class Loop:
    """`for i in range(m)`: value slot j reads `x` or the scratch array `c` (`sources[j]`) at
    `index[i, j]`; coefficient q is `coefs[i, q]`; `body` computes `roots` over Refs ("in", j)
    for value slot j and ("in", n_val + q) for coefficient q; then for each root r:
    dests[r][dest_index[i, r]] = value (acc None) or += / -= value (acc "add" / "sub")."""

    stage: int
    body: list[Instr]
    roots: list[Ref]
    sources: list[str]
    index: np.ndarray  # (m, n_val) int64
    coefs: np.ndarray  # (m, n_coef) float64
    dests: list[str]  # "out" or "c", per root
    dest_index: np.ndarray  # (m, n_roots) int64
    acc: str | None = None

    @property
    def count(self) -> int:
        """Trip count."""
        return self.dest_index.shape[0]

    @property
    def instances(self) -> int:
        """Trees computed (trip count × roots)."""
        return self.dest_index.size


def _rewrite(body: list[Instr], roots: list[Ref], slots: dict[int, Ref],
             negs: dict[int, Ref] | None = None) -> tuple[list, list]:
    """The body with slot refs mapped through `slots` (a missing one stays), temporaries
    renumbered and value-numbered (an (op, operands) pair computed once), dead code dropped.
    A slot in `negs` is the negation of the Ref it maps to: `mul(slot, b)` becomes
    `neg(mul(ref, b))` (exact: rounding is symmetric), elsewhere `neg(ref)`."""
    tmp: dict[int, Ref] = {}
    seen: dict[tuple, Ref] = {}
    out: list[Instr] = []
    negs = negs or {}

    def emit(op: str, args: tuple) -> Ref:
        key = (op, args)
        hit = seen.get(key)
        if hit is None:
            hit = seen[key] = Ref("tmp", len(out))
            out.append(Instr(len(out), op, args))
        return hit

    def fix(a: Ref) -> Ref:
        if a.kind == "in":
            if a.index in negs:
                return emit("neg", (negs[a.index],))
            return slots.get(a.index, a)
        if a.kind == "tmp":
            return tmp[a.index]
        return a

    for ins in body:
        flip = False
        args = []
        for a in ins.args:
            if ins.op == "mul" and not flip and a.kind == "in" and a.index in negs:
                flip = True
                args.append(negs[a.index])
            else:
                args.append(fix(a))
        hit = emit(ins.op, tuple(args))
        tmp[ins.dst] = emit("neg", (hit,)) if flip else hit
    new_roots = [fix(r) for r in roots]
    # drop what no root needs (a value numbered away leaves nothing dead, but be exact)
    live = {r.index for r in new_roots if r.kind == "tmp"}
    for ins in reversed(out):
        if ins.dst in live:
            live.update(a.index for a in ins.args if a.kind == "tmp")
    if len(live) == len(out):
        return out, new_roots
    renum: dict[int, Ref] = {}
    kept: list[Instr] = []
    for ins in out:
        if ins.dst in live:
            renum[ins.dst] = Ref("tmp", len(kept))
            kept.append(Instr(len(kept), ins.op, tuple(
                renum[a.index] if a.kind == "tmp" else a for a in ins.args)))
    return kept, [renum[r.index] if r.kind == "tmp" else r for r in new_roots]


def accumulate(lp: Loop, root: Ref) -> tuple[str | None, Ref]:
    """(acc, value) of a root as an emitter writes it: adding `neg(v)` is subtracting `v`
    (and the reverse), which is the same IEEE operation without the negation."""
    if lp.acc is not None and root.kind == "tmp" and lp.body[root.index].op == "neg":
        return ("sub" if lp.acc == "add" else "add"), lp.body[root.index].args[0]
    return lp.acc, root


def tidy(lp: Loop) -> Loop:
    """Uniform coefficient columns → literals; repeated columns read once; value numbering."""
    m, nv = lp.index.shape
    nq = lp.coefs.shape[1]
    slots: dict[int, Ref] = {}
    keep_v: list[int] = []
    first: dict[tuple, int] = {}
    for j in range(nv):  # a value column equal to an earlier one (same source): that slot
        col = lp.index[:, j]
        key = (lp.sources[j], col.tobytes())
        if key in first:
            slots[j] = Ref("in", first[key])
        else:
            first[key] = len(keep_v)
            slots[j] = Ref("in", len(keep_v))
            keep_v.append(j)
    nv2 = len(keep_v)
    keep_q: list[int] = []
    firstq: dict[bytes, int] = {}
    negs: dict[int, Ref] = {}
    for q in range(nq):
        col = lp.coefs[:, q]
        if m and np.all((col == col[0]) | (np.isnan(col) & np.isnan(col[0]))):
            slots[nv + q] = Ref("const", value=float(col[0]))
            continue
        key = col.tobytes()
        if key in firstq:
            slots[nv + q] = Ref("in", nv2 + firstq[key])
        elif (-col).tobytes() in firstq:  # a reactant's −k beside a product's +k: read once
            negs[nv + q] = Ref("in", nv2 + firstq[(-col).tobytes()])
        else:
            firstq[key] = len(keep_q)
            slots[nv + q] = Ref("in", nv2 + len(keep_q))
            keep_q.append(q)
    body, roots = _rewrite(lp.body, lp.roots, slots, negs)
    return Loop(lp.stage, body, roots, [lp.sources[j] for j in keep_v],
                np.ascontiguousarray(lp.index[:, keep_v]),
                np.ascontiguousarray(lp.coefs[:, keep_q]), lp.dests, lp.dest_index, lp.acc)


def concat(a: Loop, b: Loop) -> Loop:
    """One loop computing both (instance i of each per trip)."""
    nva, nvb = len(a.sources), len(b.sources)
    nqa = a.coefs.shape[1]
    nv = nva + nvb
    sa = {nva + q: Ref("in", nv + q) for q in range(nqa)}
    sb = {j: Ref("in", nva + j) for j in range(nvb)}
    sb.update({nvb + q: Ref("in", nv + nqa + q) for q in range(b.coefs.shape[1])})
    body: list[Instr] = []
    ra = _shift(a.body, a.roots, sa, 0, body)
    rb = _shift(b.body, b.roots, sb, len(body), body)
    return Loop(a.stage, body, ra + rb, a.sources + b.sources,
                np.hstack([a.index, b.index]), np.hstack([a.coefs, b.coefs]),
                a.dests + b.dests, np.hstack([a.dest_index, b.dest_index]), a.acc)


def _shift(src: list[Instr], roots: list[Ref], slots: dict[int, Ref], base: int,
           into: list[Instr]) -> list[Ref]:
    def fix(r: Ref) -> Ref:
        if r.kind == "in":
            return slots.get(r.index, r)
        if r.kind == "tmp":
            return Ref("tmp", r.index + base)
        return r

    into += [Instr(ins.dst + base, ins.op, tuple(fix(x) for x in ins.args)) for ins in src]
    return [fix(r) for r in roots]


MAX_FOLD = 16  # instances per trip that `fold` tries
MIN_TRIPS = 8  # trips a folded loop keeps


def _tables(lp: Loop, rows: slice = slice(None)) -> int:
    """Columns read from tables over these rows: index columns not affine in the trip counter,
    coefficient columns not uniform (all columns of a kind at once: `fold` asks this for every
    candidate fold of every loop)."""
    ix, cf, dx = lp.index[rows], lp.coefs[rows], lp.dest_index[rows]
    n = 0
    for a in (ix, dx):
        if a.shape[0] > 2 and a.shape[1]:
            d = np.diff(a, axis=0)
            n += int(np.count_nonzero(np.any(d != d[0], axis=0)))
    if cf.shape[0] > 1 and cf.shape[1]:
        n += int(np.count_nonzero(np.any((cf != cf[0]) & ~(np.isnan(cf) & np.isnan(cf[0])),
                                         axis=0)))
    return n


MAX_PARTIAL_BODY = 64  # statements of a fold that leaves some tables


def fold(lp: Loop) -> Loop:
    """Several instances per trip when that takes index columns out of tables (computed from
    the trip counter) and coefficient columns out of them (literals): instances i·r + k
    (interleaved: three outputs of each block of four) or k·m/r + i (blocked: a Jacobian's
    u-diagonal entries, then its v-diagonal ones, each with its own constants) as the r
    roots of trip i. Taken when no table is left, or when the tables per instance fall below
    half and the body stays small."""
    m = lp.count
    base = _tables(lp)
    if base == 0:
        return lp
    best = None  # (tables per instance, r, rows)
    for r in range(2, MAX_FOLD + 1):
        if m % r or m // r < MIN_TRIPS or len(lp.body) * r > MAX_FUSED_BODY:
            continue
        h = m // r
        for rows in ([slice(k, None, r) for k in range(r)],
                     [slice(k * h, (k + 1) * h) for k in range(r)]):
            cost = sum(_tables(lp, s) for s in rows)
            if cost == 0:
                best = (0.0, r, rows)
                break
            if (cost / r < base / 2 and len(lp.body) * r <= MAX_PARTIAL_BODY
                    and (best is None or cost / r < best[0])):
                best = (cost / r, r, rows)
        if best is not None and best[0] == 0.0:
            break
    if best is None:
        return lp
    parts = [Loop(lp.stage, lp.body, lp.roots, lp.sources, lp.index[s], lp.coefs[s],
                  lp.dests, lp.dest_index[s], lp.acc) for s in best[2]]
    out = parts[0]
    for p in parts[1:]:
        out = concat(out, p)
    return tidy(out)


def fuse(loops: list[Loop]) -> list[Loop]:
    """Map loops (acc None) of one stage with equal trip counts, fused while the body stays
    under MAX_FUSED_BODY statements; then tidied. Order of the rest is kept."""
    out: list[Loop] = []
    open_: dict[int, int] = {}  # trip count → position in `out` of the loop still growing
    for lp in [fold(tidy(lp)) for lp in loops]:
        pos = open_.get(lp.count) if lp.acc is None else None
        if pos is not None and len(out[pos].body) + len(lp.body) <= MAX_FUSED_BODY:
            out[pos] = concat(out[pos], lp)
            continue
        if lp.acc is None:
            open_[lp.count] = len(out)
        out.append(lp)
    return [tidy(lp) for lp in out]
