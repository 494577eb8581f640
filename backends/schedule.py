"""Scheduling: an Fn's output DAG → a backend-neutral list of SSA instructions.

Every backend (numba source, LLVM IR, CUDA) consumes the same schedule, so lowering decisions are
made once: polynomial forms become chains of binary adds/subs and multiplications, integer powers
become multiplication chains (binary powering), negative powers one division, and each shared
subterm is computed once (CSE falls out of hash-consing). Operands are input slots, temporaries
and float constants only: no user-supplied name ever reaches generated code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from symnum.core._gc import no_gc
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Add, Const, Mul, Sym, Term
from symnum.core.traversal import postorder
from symnum.errors import CompileError


@dataclass(frozen=True)
class Ref:
    """An operand: kind "in" (input slot), "tmp" (temporary) or "const" (a float value)."""

    kind: str
    index: int = 0
    value: float = 0.0

    def __repr__(self) -> str:
        if self.kind == "const":
            return repr(self.value)
        return f"{'x' if self.kind == 'in' else 't'}{self.index}"


@dataclass(frozen=True)
class Instr:
    """t[dst] = op(*args). `op` is a lowering name: add sub mul div neg, a math function name
    (sin, exp, …), pow, select (c ? a : b), the comparisons lt le gt ge eq ne, and/or/not."""

    dst: int
    op: str
    args: tuple[Ref, ...]


_new = object.__new__


@dataclass
class Schedule:
    """Straight-line code: inputs are slots 0..n_in-1, outputs[k] is the Ref of output k."""

    n_in: int
    instrs: list[Instr] = field(default_factory=list)
    outputs: list[Ref] = field(default_factory=list)
    n_tmp: int = 0

    def __len__(self) -> int:
        return len(self.instrs)

    def emit(self, op: str, *args: Ref) -> Ref:
        dst = self.n_tmp
        self.n_tmp = dst + 1
        # the frozen Instr's and Ref's fields filled directly: half the cost of the generated
        # __init__s, and this runs once per statement (300,000 for a 10⁵-deep chain)
        ins = _new(Instr)
        d = ins.__dict__
        d["dst"], d["op"], d["args"] = dst, op, args
        self.instrs.append(ins)
        r = _new(Ref)
        d = r.__dict__
        d["kind"], d["index"], d["value"] = "tmp", dst, 0.0
        return r

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ins in self.instrs:
            counts[ins.op] = counts.get(ins.op, 0) + 1
        return counts


# op type → fn(lowerer, node) -> Ref, for nodes that are not one instruction (loops:
# backends.loop_schedule registers itself here when imported)
SPECIAL: dict = {}

MAX_CHAIN = 64  # integer powers up to this exponent become multiplication chains
# a sum of at least this many entries whose entries another sum shares (a Python-loop state
# used twice a step: `x + h·v`, `x + a` inside `sin`) is computed from that sum's value
PREFIX_MIN = 8
PREFIX_TRIES = 4  # recorded prefix lengths tried below a sum's own length, per entries object


_CONSTS: dict = {}  # float → its Ref (Refs are immutable; a deep chain asks for 0.5 10⁵ times)


def _const(v: Any) -> Ref:
    if v.__class__ is float and v != 0.0:  # (0.0 and -0.0 are one dict key)
        r = _CONSTS.get(v)
        if r is None and v == v:  # (NaN is not a key that finds itself)
            if len(_CONSTS) > 4096:
                _CONSTS.clear()
            r = _CONSTS[v] = Ref("const", value=v)
        if r is not None:
            return r
    if isinstance(v, Fraction):
        v = v.numerator / v.denominator
    try:
        return Ref("const", value=float(v))
    except OverflowError:  # an integer beyond float range (x**(10**400)): pow(x, inf) alike
        return Ref("const", value=math.inf if v > 0 else -math.inf)


def _is_const(r: Ref, value: float) -> bool:
    return r.kind == "const" and r.value == value


class _Lowerer:
    def __init__(self, inputs: Sequence[Sym]):
        self.sched = Schedule(n_in=len(inputs))
        self.refs: dict[int, Ref] = {id(s): Ref("in", i) for i, s in enumerate(inputs)}
        self.pows: dict[tuple, Ref] = {}  # (base ref, exponent) → ref: x² reused by x³, x⁴
        # (coefficient, ref) → c·t: a term in several sums with one coefficient (a stencil's
        # 90·u[j] in four neighbours' sums) is multiplied once
        self.scaled: dict[tuple, Ref] = {}
        self.keep: list = []  # expansions' terms: alive while refs holds their ids
        self.loop_tables: dict[int, int] = {}  # loop node id → its ys table temporary
        self.loop_carries: dict[int, tuple] = {}
        self.op_info: dict[int, tuple] = {}  # id(op) → lower_call's facts about it
        # (id(entries), k) → the Ref of the first k entries' sum (no constant), for sums
        # lowered in entry order (`lower_grown_add`); the forms being lowered keep the entries
        # objects alive, so their ids stay theirs
        self.prefix_at: dict[tuple, Ref] = {}
        # sum_groups of the graph being lowered (set by `schedule`): which sums share entries
        self.groups: dict[int, tuple[int, int, int, bool]] = {}

    def ref(self, n: Any) -> Ref:
        r = self.refs.get(id(n))
        if r is None:
            if isinstance(n, Const):
                return _const(n.value)
            if isinstance(n, Sym):
                raise CompileError(
                    f"the outputs use the symbol {n.name!r}, which is not among the inputs; "
                    "add it to the inputs (or substitute a value for it) before compiling"
                )
            raise CompileError(f"cannot lower a leaf of type {type(n).__name__}")
        return r

    # arithmetic helpers with trivial-case folding ---------------------------------------------
    def add(self, a: Ref, b: Ref) -> Ref:
        if _is_const(a, 0.0):
            return b
        if _is_const(b, 0.0):
            return a
        return self.sched.emit("add", a, b)

    def mul(self, a: Ref, b: Ref) -> Ref:
        a_const = a.kind == "const"
        if a_const and a.value == 1.0:
            return b
        if b.kind == "const" and b.value == 1.0:
            return a
        if a_const and a.value == -1.0:
            return self.sched.emit("neg", b)
        return self.sched.emit("mul", a, b)

    def scale(self, c: Any, r: Ref) -> Ref:
        # keyed by the operand's identity (a Ref's dataclass hash is Python code, and the
        # lowerer hands out one Ref object per value: refs, pows and _CONSTS keep them alive
        # and unique); 2 and 2.0 are one key; an Add never holds a zero or NaN coefficient
        key = (c, id(r))
        hit = self.scaled.get(key)
        if hit is None:
            hit = self.scaled[key] = self.mul(_const(c), r)
        return hit

    def ipow(self, base: Ref, e: int) -> Ref:
        """base**e for e ≥ 1 by binary powering, memoised so x², x⁴ are shared."""
        if e == 1:
            return base
        key = (base, e)
        r = self.pows.get(key)
        if r is None:
            if e > MAX_CHAIN:  # a chain would be long (x**1e300: ~2000 products) and inexact
                r = self.sched.emit("pow", base, _const(e))
            elif e % 2 == 0:
                half = self.ipow(base, e // 2)
                r = self.sched.emit("mul", half, half)
            else:
                r = self.sched.emit("mul", self.ipow(base, e - 1), base)
            self.pows[key] = r
        return r

    # node lowering ----------------------------------------------------------------------------
    def lower_add(self, n: Add) -> Ref:
        if n._len >= PREFIX_MIN:
            r = self.lower_grown_add(n)
            if r is not None:
                return r
        acc: Ref | None = None
        items = n.entry_items()  # a fresh list
        if len(items) > 1:  # start from a term with coefficient 1 when there is one: x - y
            items.sort(key=_add_order)  # is one sub, not neg + add (a stable sort)
        refs = self.refs
        for t, c in items:
            acc = self.add_term(acc, refs.get(id(t)) or self.ref(t), c)
        if n.const != 0:
            acc = self.sched.emit("add", acc, _const(n.const))
        return acc

    def add_term(self, acc: Ref | None, r: Ref, c: Any) -> Ref:
        """acc + c·r (c·r when acc is None): one add or sub, the product shared (`scale`)."""
        if acc is None:
            return r if c == 1 else self.scale(c, r)
        if c == 1:
            return self.sched.emit("add", acc, r)
        if c == -1:
            return self.sched.emit("sub", acc, r)
        return self.sched.emit("add", acc, self.scale(c, r))

    def _prefix(self, E: Any, L: int) -> tuple[int, Ref | None]:  # noqa: N803
        """(k, Ref) of the longest recorded sum of the first k ≤ L entries of E, trying the
        few lengths just below L on E and then on the entries E was branched from."""
        get, groups = self.prefix_at.get, self.groups
        for _ in range(3):  # E, its parent, its grandparent (entries of sums in the graph)
            for k in range(L, max(L - PREFIX_TRIES, 0), -1):
                r = get((id(E), k))
                if r is not None:
                    return k, r
            g = groups[id(E)]
            if g[1] < 0:  # no source among the graph's sums
                break
            E, L = E.source()[0], min(L, g[2])
        return 0, None

    def lower_grown_add(self, n: Add) -> Ref | None:
        """A sum whose entries are shared (an older version of a chain, or a branch of one),
        lowered in entry order from the longest prefix already computed, recording each new
        partial sum; None for a sum that shares nothing (lowered as usual). A Python loop
        `x = x + h·v` whose every x is read then costs O(1) statements a step, not O(step)."""
        E, L = n._entries, n._len
        if not self.groups[id(E)][3]:
            return None
        k, acc = self._prefix(E, L)
        refs, prefix_at, eid = self.refs, self.prefix_at, id(E)
        keys, vals = E.keys, E.vals
        for i in range(k, L):
            t = keys[i]
            acc = self.add_term(acc, refs.get(id(t)) or self.ref(t), vals[i])
            prefix_at[(eid, i + 1)] = acc
        prefix_at[(eid, L)] = acc
        if n.const != 0:
            acc = self.sched.emit("add", acc, _const(n.const))
        return acc

    def lower_mul(self, n: Mul) -> Ref:
        num: Ref | None = None
        den: Ref | None = None
        for b, e in n.entry_items():
            p = self.ipow(self.ref(b), abs(e))
            if e > 0:
                num = p if num is None else self.sched.emit("mul", num, p)
            else:
                den = p if den is None else self.sched.emit("mul", den, p)
        coeff = _const(n.coeff)
        if num is None:
            num = coeff
        elif not _is_const(coeff, 1.0):
            num = self.scale(n.coeff, num)
        return num if den is None else self.sched.emit("div", num, den)

    def lower_node(self, n: Any) -> Ref:
        tp = type(n)
        if tp is Add:
            return self.lower_add(n)
        if tp is Mul:
            return self.lower_mul(n)
        return self.lower_call(n)

    def lower_expansion(self, n: Any) -> Ref:
        """An op with no lowering of its own (Op.expand): lower its formula instead."""
        e = operation(n).expand(*arguments(n))
        self.keep.append(e)
        for m in postorder([e], _operands):
            if id(m) not in self.refs and iscall(m):
                self.keep.append(m)
                self.refs[id(m)] = self.lower_node(m)
        return self.ref(e)

    def lower_call(self, n: Any) -> Ref:
        op, n_args = _op_args(n)
        # (op, special lowering, has an expansion, lowering name) per op: asked once per op
        # (the ops stay alive with the graph being lowered, so their ids stay theirs)
        info = self.op_info.get(id(op))
        if info is None or info[0] is not op:
            info = self.op_info[id(op)] = (op, SPECIAL.get(type(op)) if SPECIAL else None,
                                           getattr(op, "expand", None) is not None,
                                           op.lowering_name())
        _, special, expands, name = info
        if special is not None:
            return special(self, n)
        if expands:
            return self.lower_expansion(n)
        refs = self.refs
        args = [refs.get(id(a)) or self.ref(a) for a in n_args]
        if name in ("add", "mul") and len(args) != 2 and args:  # tree-mode n-ary (or unary:
            # tree-mode AD builds one-term sums)
            acc = args[0]
            for a in args[1:]:
                acc = self.sched.emit(name, acc, a)
            return acc
        if name == "pow" and args[1].kind == "const" and float(args[1].value).is_integer():
            e = int(args[1].value)
            if e == 0:
                return _const(1.0)
            p = self.ipow(args[0], abs(e))
            return p if e > 0 else self.sched.emit("div", _const(1.0), p)
        if name == "pow" and _is_const(args[1], 0.5):  # numpy's power takes sqrt: (-inf)**.5 is nan
            return self.sched.emit("sqrt", args[0])
        return self.sched.emit(name, *args)


def walk_order(outputs: Sequence[Any]) -> list:
    """`postorder(outputs, _operands)`, the same list, without rereading the entries of large
    sums that extend a sum already emitted: a sum's first k entries are all emitted once a sum
    of k entries over the same entries object (or the prefix it was branched from) is, so its
    children start after them (a Python-loop state sum read every step: O(step) per step
    otherwise). Entries skipped are ones the walk would skip as seen."""
    done: dict[int, int] = {}  # id(entries) → length of its prefix emitted

    def kids(n: Any) -> Any:
        if type(n) is Add and n._len >= PREFIX_MIN:
            E = n._entries
            start = done.get(id(E), 0)
            src = E.source()
            if src is not None:
                start = max(start, min(done.get(id(src[0]), 0), src[1]))
            return E.keys[start:n._len]
        return _operands(n)

    def emitted(n: Any) -> None:
        if type(n) is Add and n._len >= PREFIX_MIN:
            i = id(n._entries)
            if done.get(i, 0) < n._len:
                done[i] = n._len

    return postorder(list(outputs), kids, emitted)


def sum_groups(order: Sequence[Any]) -> dict[int, tuple[int, int, int, bool]]:
    """id(entries) → (group, parent group or -1, parent prefix length, shared) for the sums of
    at least PREFIX_MIN entries in `order` (groups numbered by first appearance). A sum's
    entries are shared when another sum of the graph has the same entries object, or when they
    were branched from (or into) the entries of another sum of the graph: only then is it
    lowered from a prefix (`_Lowerer.lower_grown_add`). Everything here is a fact about the
    graph, so llvm_index's fingerprint can state it (a cache hit must compute what a fresh
    compile would, bit for bit)."""
    first: dict[int, Any] = {}
    count: dict[int, int] = {}
    for n in order:
        if type(n) is Add and n._len >= PREFIX_MIN:
            E = n._entries
            i = id(E)
            if i not in first:
                first[i] = E
            count[i] = count.get(i, 0) + 1
    groups: dict[int, tuple[int, int, int, bool]] = {}
    linked: set[int] = set()
    number = {i: g for g, i in enumerate(first)}
    for i, E in first.items():
        src = E.source()
        if src is not None and id(src[0]) in number:
            groups[i] = (number[i], number[id(src[0])], src[1], True)
            linked.add(id(src[0]))
        else:
            groups[i] = (number[i], -1, 0, count[i] > 1)
    for i in linked:
        g = groups[i]
        groups[i] = (g[0], g[1], g[2], True)
    return groups


def _add_order(tc: tuple) -> tuple:
    """lower_add's sort key: coefficient 1 first, then others, then -1."""
    return (tc[1] == -1, tc[1] != 1)


def _is_call(n: Any) -> bool:
    """iscall(n), without the interface's dispatch for symnum's own term types (scheduling a
    300,000-node graph asks this for every node)."""
    tp = type(n)
    if tp is Term or tp is Add or tp is Mul:
        return True
    if tp is Sym or tp is Const:
        return False
    return iscall(n)


def _op_args(n: Any) -> tuple[Any, Any]:
    """(operation(n), arguments(n)), read directly from a Term."""
    if type(n) is Term:
        return n.op, n.args
    return operation(n), arguments(n)


def _operands(n: Any) -> list:
    """What lowering `n` reads: the polynomial forms' dict keys, never their argument views."""
    tp = type(n)
    if tp is Term:
        return n.args
    if tp is Add or tp is Mul:
        return n.entry_keys()
    if tp is Sym or tp is Const:
        return ()
    return arguments(n) if iscall(n) else []


def _sin_cos_pairs(order: list) -> dict[int, Any]:
    """id(sin(a)) → cos(a) and back, for every argument whose sine and cosine are both used.

    Emitted next to each other they stay in one function (the llvm backend shards long kernels),
    where LLVM's code generator turns the two libm calls into one `sincos` (measured: the pair
    costs 1.2x one sine, not 2x; benchmarks/results_issue5.md).
    """
    seen: dict[tuple[str, int], Any] = {}
    pairs: dict[int, Any] = {}
    names: dict[int, str] = {}  # id(op) → its lowering name (the ops outlive this walk)
    for n in order:
        tp = type(n)
        if tp is Term:
            op, args = n.op, n.args
        elif tp is Add or tp is Mul or tp is Sym or tp is Const or not _is_call(n):
            continue
        else:
            op, args = _op_args(n)
        name = names.get(id(op))
        if name is None:
            name = names[id(op)] = op.lowering_name()
        if name != "sin" and name != "cos":
            continue
        (a,) = args
        other = seen.get(("cos" if name == "sin" else "sin", id(a)))
        if other is not None:
            pairs[id(n)], pairs[id(other)] = other, n
        seen[(name, id(a))] = n
    return pairs


def sincos_at(instrs: Sequence[Instr], j: int) -> bool:
    """Whether instructions j and j+1 are the sine and cosine of one operand — a pair the
    schedule emits side by side and LLVM computes in one `sincos` call."""
    if j + 1 >= len(instrs):
        return False
    a, b = instrs[j], instrs[j + 1]
    return {a.op, b.op} == {"sin", "cos"} and a.args == b.args


@no_gc
def schedule(inputs: Sequence[Sym], outputs: Sequence[Any],
             order: list | None = None) -> Schedule:
    """Lower output terms over the given input symbols to SSA instructions.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> s = schedule([x, y], [sn.sin(x) * y + x**3])
    >>> [i.op for i in s.instrs]
    ['sin', 'mul', 'mul', 'mul', 'add']

    `order`: `walk_order(outputs)` when the caller has it already (the llvm backend's
    index walks the same order).
    """
    low = _Lowerer(inputs)
    if order is None:
        order = walk_order(outputs)
    pairs = _sin_cos_pairs(order)
    low.groups = sum_groups(order)
    refs = low.refs
    for n in order:  # lower_node's dispatch, inlined (once per node of the graph)
        if id(n) in refs:
            continue
        tp = type(n)
        if tp is Add:
            refs[id(n)] = low.lower_add(n)
            continue
        if tp is Mul:
            refs[id(n)] = low.lower_mul(n)
            continue
        if tp is Sym or tp is Const or (tp is not Term and not iscall(n)):
            continue
        r = low.lower_call(n)
        if pairs:
            partner = pairs.get(id(n))
            if partner is not None and id(partner) not in low.refs:
                # right after: one sincos call (LLVM merges them)
                low.refs[id(partner)] = low.lower_call(partner)
        low.refs[id(n)] = r
    low.sched.outputs = [low.ref(o) for o in outputs]
    return low.sched


def float_literal(v: float) -> str:
    """A float as source text that survives a round trip (inf/nan included)."""
    if math.isnan(v):
        return "math.nan"
    if math.isinf(v):
        return "math.inf" if v > 0 else "-math.inf"
    return repr(float(v))
