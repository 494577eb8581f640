"""Loops that carry arrays (symnum.loops.arrays' ArrayLoop nodes) in a loop plan: one sequential
loop over the steps around the body's own loop plan, whatever the carries' sizes.

Part of backends.array_loops' planner (LoopGen calls `plan` and `materialise` for loop nodes),
so the numba and llvm renderers both get it. The emitted plan:

    cc1 = np.empty(shape); cc1[...] = init            (a copy loop reading the init inline)
    m7 = np.empty(shape)                              (the body's buffers, hoisted)
    ys1 = np.empty((L,) + shape)
    for t in range(L):
        <the body's plan: reads cc1, x slices xs[t, ...] by offset, consts; writes m7>
        ys1[t, ...] = ...                             (stacked ys, by offset)
        cc1, m7 = m7, cc1                             (ping-pong: pointers swap, nothing copied)
        if cond == 0: <fill the remaining ys>; break  (while loops)

A carry whose new value is not a buffer the body wrote itself (an input, a constant, another
carry, a nested loop's carry, a BLAS product) is copied into a buffer of its own first. What
the plan cannot express raises CompileError with the reason (symnum.compile then scalarises
the loop, as before). Writes plan text only; never compiles anything.
"""

from __future__ import annotations

import re
from typing import Any

from symnum.arrays.terms import ArrayExpr, ArrayTerm
from symnum.errors import CompileError
from symnum.loops.arrays import ArrayLoop, ArrayLoopOut

_EMPTY = re.compile(r"((?:m|cc|cn|ys)\d+) = np\.empty\(")
# a loop body's periodic stencils are peeled (backends.array_loops.nest) on numba too, whose
# array kernels otherwise keep a conditional index per element (numba_arrays.PEEL_NUMBA): the
# body runs once per step, so its speed outweighs the extra compile time of its copies
BODY_PEEL = 3


def _shape(v: Any) -> tuple:
    return tuple(getattr(v, "shape", ()))


def _np_dtype(dt: str) -> str:
    return {"bool": "np.bool_"}.get(dt, f"np.{dt}")


def plan(n: ArrayTerm, must: set) -> None:
    """LoopGen._plan's part for loop nodes: the node and its projections are computed (never
    inlined into a reader), and the arrays the body reads by name — xs and array consts —
    have buffers of their own (init is read inline by the copy into the carry)."""
    must.add(id(n))
    if isinstance(n.op, ArrayLoop):
        s = n.op.spec
        for a in n.args[s.nc:]:
            if isinstance(a, ArrayTerm) and a.shape:
                must.add(id(a))


def _refuse(spec: Any) -> str | None:
    """Why this loop has no loop plan (None: it has one)."""
    outs = spec.body.flat_outputs
    if spec.kind == "while" and spec.reverse:
        return "a reversed while loop"
    for v in list(spec.body.flat_inputs[:spec.nc]) + list(outs[:spec.nc + spec.ny]):
        dt = getattr(v, "dtype", "float64")
        if dt not in ("float64", "float32"):
            return f"a carry or y of dtype {dt}"
    return None


def materialise(gen: Any, n: ArrayTerm, top: Any) -> None:
    """Emit the loop of node `n` into block `top` of the plan `gen` (a LoopGen) and name its
    projections (final carries, stacked ys) in `gen.names`."""
    spec = n.op.spec
    why = _refuse(spec)
    if why is not None:
        raise CompileError(f"no loop plan for this array loop: {why}")
    big = _superset(gen, n)
    if big is not None:  # reverse mode's augmented forward loop computes this one's values too
        if id(big) not in gen.names:
            materialise(gen, big, top)
        cur, ys = gen.loop_buffers[id(big)]
        _name_projections(gen, n, cur, ys)
        return
    body = spec.body
    nc, nx, nk, ny, L = spec.nc, spec.nx, spec.nk, spec.ny, spec.length
    ins, outs = body.flat_inputs, body.flat_outputs
    init, consts, xs = n.args[:nc], n.args[nc:nc + nk], n.args[nc + nk:]
    child = type(gen)(body, gen.parallel, gen.op_src, max(gen.peel, BODY_PEEL), parent=gen)
    # the carries: a buffer each (arrays, filled from init) or a scalar variable
    cur: list[str] = []
    for ph, a in zip(ins[:nc], init):
        sh = _shape(ph)
        if sh:
            c = gen.fresh("cc")
            top.add(f"{c} = np.empty({sh}, {_np_dtype(ph.dtype)})")
            idx, b = gen.loops(sh, top, work=_size(sh))
            b.add(f"{c}[{', '.join(idx)}] = {gen.read(a, idx, b)}")
        else:
            c = gen.fresh("cs")
            top.add(f"{c} = {gen.read(a, [], top)}")
        cur.append(c)
    ys: list[str] = []
    for o in outs[nc:nc + ny]:
        y = gen.fresh("ys")
        top.add(f"{y} = np.empty({(L,) + _shape(o)}, {_np_dtype(_dt(o))})")
        ys.append(y)
    # the body's inputs, bound to the loop's buffers and values
    t = gen.fresh("t")
    step = t if not spec.reverse else gen.fresh("s")
    iv = gen.fresh("iv")
    for ph, c in zip(ins[:nc], cur):
        child.names[id(ph)] = c
    # (an enclosing loop's x slice is read through that loop's step index too)
    for ph, a in zip(ins[nc:nc + nx], xs):
        name, pre = _name_of(gen, a), gen.offsets.get(id(a), [])
        if _shape(ph):
            child.names[id(ph)] = name
            child.offsets[id(ph)] = pre + [step]
        else:
            child.names[id(ph)] = f"{name}[{', '.join(pre + [step])}]"
    for ph, a in zip(ins[nc + nx:-1], consts):
        if _shape(a):
            child.names[id(ph)] = _name_of(gen, a)
            child.offsets[id(ph)] = gen.offsets.get(id(a), [])
        else:
            child.names[id(ph)] = gen.read(a, [], top)
    child.names[id(ins[-1])] = iv
    # the loop
    top.add(f"for {t} in range({L}):")
    loop = top.child()
    if spec.reverse:
        loop.add(f"{step} = {L - 1} - {t}")
    loop.add(f"{iv} = {step} + {spec.lo}" if spec.lo else f"{iv} = {step}")
    mark = len(top.lines)
    child.prologue(loop)
    for m in child.order:
        if id(m) in child.material and id(m) not in child.names:
            child.materialise(m, loop)
    # buffers the body allocates at its top level, its own (m…) and a nested loop's carries
    # and ys (cc…, cn…, ys…; refilled every step): allocated once, before the loop — an
    # allocation inside it would cost a malloc per step, and llvm frees only on return
    hoisted = []
    for k in range(mark, len(top.lines)):
        line = top.lines[k]
        if line.startswith(loop.indent) and _EMPTY.match(line[len(loop.indent):]):
            hoisted.append(k)
    own = {_EMPTY.match(top.lines[k][len(loop.indent):]).group(1) for k in hoisted}
    own = {m for m in own if m.startswith("m")}  # a nested loop's values are copied (below)
    moved = [top.lines[k] for k in hoisted]
    keep = [ln for k, ln in enumerate(top.lines[mark:], mark) if k not in set(hoisted)]
    head = top.lines[:mark]
    loop_at = max(i for i, ln in enumerate(head) if ln == f"{top.indent}for {t} in range({L}):")
    top.lines[:] = head[:loop_at] + [top.indent + ln[len(loop.indent):] for ln in moved] + \
        head[loop_at:] + keep
    # new carries: swap with the body's own buffer, else copy into a buffer of the loop's
    swaps: list[tuple[str, str]] = []
    new_scalars: list[tuple[str, str]] = []
    taken: set[str] = set()
    for ph, o, c in zip(ins[:nc], outs[:nc], cur):
        if o is ph:
            continue  # unchanged
        if not _shape(ph):
            v = gen.fresh("cn")
            loop.add(f"{v} = {child.read(o, [], loop)}")
            new_scalars.append((c, v))
            continue
        name = child.names.get(id(o)) if isinstance(o, ArrayTerm) else None
        if name in own and name not in taken:
            taken.add(name)
            swaps.append((c, name))
            continue
        nxt = gen.fresh("cn")
        at = top.lines.index(f"{top.indent}for {t} in range({L}):")
        top.lines.insert(at, f"{top.indent}{nxt} = np.empty({_shape(ph)}, "
                              f"{_np_dtype(ph.dtype)})")
        idx, b = gen.loops(_shape(ph), loop, work=_size(_shape(ph)))
        b.add(f"{nxt}[{', '.join(idx)}] = {child.read(o, idx, b)}")
        swaps.append((c, nxt))
    direct: list[tuple[str, str]] = []  # body buffers that become their ys' rows
    for o, y in zip(outs[nc:nc + ny], ys):
        sh = _shape(o)
        name = child.names.get(id(o)) if isinstance(o, ArrayTerm) else None
        if sh and name in own and name not in taken:
            taken.add(name)
            direct.append((name, y))
            continue
        if sh:
            idx, b = gen.loops(sh, loop, work=_size(sh))
            b.add(f"{y}[{', '.join([step] + idx)}] = {child.read(o, idx, b)}")
        else:
            loop.add(f"{y}[{step}] = {child.read(o, [], loop)}")
    p = gen.fresh("go") if spec.kind == "while" else None
    if p is not None:  # go on while the condition holds (anywhere, for an array condition)
        c = outs[-1]
        if _shape(c):
            loop.add(f"{p} = False")
            idx, b = gen.loops(_shape(c), loop)
            b.add(f"{p} = {p} | (({child.read(c, idx, b)}) != 0)")
        else:
            loop.add(f"{p} = {child.read(c, [], loop)}")
    for c, v in new_scalars:
        loop.add(f"{c} = {v}")
    for c, name in swaps:
        loop.add(f"{c}, {name} = {name}, {c}")
    if p is not None:
        loop.add(f"if {p} == 0:")
        stop = loop.child()
        for o, y in zip(outs[nc:nc + ny], ys):  # the steps not taken repeat the last ys
            r = gen.fresh("r")
            stop.add(f"for {r} in range({t} + 1, {L}):")
            idx, b = gen.loops(_shape(o), stop.child())
            b.add(f"{y}[{', '.join([r] + idx)}] = {y}[{', '.join([t] + idx)}]")
        stop.add("break")
    _write_rows(top, t, L, step, direct)
    _name_projections(gen, n, cur, ys)


def _name_projections(gen: Any, n: ArrayTerm, cur: list, ys: list) -> None:
    """The loop's final carries and stacked ys are the variables `cur` and `ys` hold."""
    if not hasattr(gen, "loop_buffers"):
        gen.loop_buffers = {}
    gen.loop_buffers[id(n)] = (cur, ys)
    for m in gen.order:
        if isinstance(m, ArrayTerm) and isinstance(m.op, ArrayLoopOut) and m.args[0] is n:
            gen.names[id(m)] = ys[m.op.index] if m.op.stacked else cur[m.op.index]
    gen.names[id(n)] = cur[0] if cur else "0.0"


def _superset(gen: Any, n: ArrayTerm) -> ArrayTerm | None:
    """Another loop node of the plan on the same arguments whose body computes this body's
    carries and ys as its first outputs (array_ad's augmented forward loop: the same loop with
    each step's incoming carries as extra ys) — one loop then serves both."""
    s = n.op.spec
    so = s.body.flat_outputs
    key = (s.kind, s.length, s.reverse, s.lo, s.nc, s.nx, s.nk)
    for m in gen.order:
        if m is n or not (isinstance(m, ArrayTerm) and isinstance(m.op, ArrayLoop)):
            continue
        t = m.op.spec
        to = t.body.flat_outputs
        if (t.kind, t.length, t.reverse, t.lo, t.nc, t.nx, t.nk) != key or t.ny <= s.ny \
                or len(m.args) != len(n.args) \
                or any(a is not b for a, b in zip(m.args, n.args)) \
                or any(a is not b for a, b in zip(t.body.flat_inputs, s.body.flat_inputs)) \
                or any(a is not b for a, b in zip(to[:s.nc + s.ny], so[:s.nc + s.ny])) \
                or (s.kind == "while" and to[-1] is not so[-1]):
            continue
        return m
    return None


def _write_rows(top: Any, t: str, L: int, step: str, direct: list) -> None:
    """A y the body computes into a buffer of its own is written straight into its row of the
    stacked ys (`m5[i]` → `ys3[t, i]`), where every use of the buffer is an element access."""
    at = top.lines.index(f"{top.indent}for {t} in range({L}):")
    for m, y in direct:
        alloc = f"{top.indent}{m} = np.empty("
        body = top.lines[at + 1:]
        text = "\n".join(body)
        if re.search(rf"\b{m}\b(?!\[)", text) or f"{m}[...]" in text:
            continue  # read whole (np.dot) or filled: keep the buffer and copy its rows
        top.lines[at + 1:] = [re.sub(rf"\b{m}\[", f"{y}[{step}, ", ln) for ln in body]
        drop = next(k for k in range(at) if top.lines[k].startswith(alloc))
        del top.lines[drop]
        at -= 1


def _name_of(gen: Any, a: Any) -> str:
    """The variable holding array `a` of the enclosing plan (an input, a constant, or a buffer
    its plan materialised first)."""
    name = gen.names.get(id(a))
    if name is None:
        raise CompileError(f"internal error: the loop's array argument {type(a).__name__} has "
                           "no buffer")
    return name


def _size(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _dt(v: Any) -> str:
    return str(getattr(v, "dtype", "float64")) if isinstance(v, ArrayExpr) else "float64"
