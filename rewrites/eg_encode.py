"""Terms ↔ e-graph node tables, and the egglog program text: the e-graph bridge's plain half.

A term DAG becomes a table of binary nodes (n-ary sums and products folded, most-shared operands
first so partial products are shared too), each shared subterm once; leaves that the e-graph
cannot hold exactly (bool, float32, non-finite, -0.0 constants, foreign leaves) become opaque
Vars. Extracted nodes come back through `maketerm` in tree mode, so the extracted shape is what
the backends lower. Never imports egglog.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from symnum.rewrites.egraph_rules import LANGUAGE, EgRuleSet, ctor_name

from symnum.core.build import tree_mode
from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.core.op import PRIMITIVES, Op
from symnum.core.primitives import add_op, cos_op, div_op, mul_op, neg_op, pow_op, sin_op, sub_op
from symnum.core.terms import Const, Term
from symnum.core.traversal import postorder

_SPECIAL = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "neg": "Neg"}
_SPECIAL_OPS = {"Add": add_op, "Sub": sub_op, "Mul": mul_op, "Div": div_op, "Neg": neg_op}

Node = tuple  # (ctor, lits, kids): lits are i64/f64 payloads, kids node ids


class Language:
    """Constructor names for every primitive (fixed arity; a variadic user op gets one per
    arity it is used with), and the way back from a constructor to its Op."""

    def __init__(self) -> None:
        self.ctor_op: dict[str, Op] = dict(_SPECIAL_OPS)
        self.arity: dict[str, int] = {c: sum(t == "M" for t in ts) for c, ts in LANGUAGE.items()}
        self._by_op: dict[tuple[str, int], str] = {}
        for op in PRIMITIVES.values():
            if op.name not in _SPECIAL and op.name != "pow" and op.nargs is not None:
                self.ctor(op, op.nargs)

    def ctor(self, op: Op, nargs: int) -> str:
        key = (op.name, nargs)
        c = self._by_op.get(key)
        if c is None:
            base = ctor_name(op.name) or f"U{len(self._by_op)}"
            c = base if op.nargs is not None else f"{base}{nargs}"
            while c in self.ctor_op and self.ctor_op[c] is not op:
                c = f"U{c}"
            self._by_op[key] = c
            self.ctor_op[c] = op
            self.arity[c] = nargs
        return c

    def declarations(self) -> str:
        """The datatype of the language (sort M) and the loader's constructor."""
        parts = [f"({c} {' '.join(ts)})" for c, ts in LANGUAGE.items()]
        parts += [f"({c}{' M' * self.arity[c]})" for c in self.ctor_op if c not in LANGUAGE]
        return ("(datatype M\n  " + "\n  ".join(parts) + ")\n"
                "(constructor Node (i64) M :unextractable)\n")

    def cost_table(self, model: Any) -> dict[str, float]:
        """Cost per constructor (Num and Var are free; Powi is costed by exponent; a SinCos pair
        costs the merged call and reading either half is free)."""
        costs = {c: model.op(op.name) for c, op in self.ctor_op.items()}
        costs.update({"Num": 0.0, "Var": 0.0, "Pow": model.op("pow"),
                      "SinCos": model.op("sincos"), "SinOf": 0.0, "CosOf": 0.0})
        return costs


def program(lang: Language, ctors_used: set[str], rules: EgRuleSet) -> str:
    """Declarations, one loader relation and rule per constructor used, and the rulesets."""
    out = [lang.declarations()]
    out.append("(ruleset load)\n(ruleset simp)\n(ruleset explore)")
    for c in sorted(ctors_used):
        if c in LANGUAGE and c not in ("Num", "Var", "Powi"):
            types, n_kids = ["i64"] * lang.arity[c], lang.arity[c]
        elif c == "Num":
            types, n_kids = ["f64"], 0
        elif c == "Var":
            types, n_kids = ["i64"], 0
        elif c == "Powi":
            types, n_kids = ["i64", "i64"], 1
        else:
            types, n_kids = ["i64"] * lang.arity[c], lang.arity[c]
        cols = [f"a{j}" for j in range(len(types))]
        args = [f"(Node {v})" if j < n_kids else v for j, v in enumerate(cols)]
        out.append(f"(relation L_{c} (i64 {' '.join(types)}))")
        out.append(f"(rule ((L_{c} i {' '.join(cols)})) ((union (Node i) ({c} {' '.join(args)})))"
                   f" :ruleset load)")
    for r in rules:
        out.append(r.to_egglog("simp" if r.phase == "simplify" else "explore"))
    # a class known to be a constant keeps only its Num: other nodes there are subsumed (no
    # longer matched or extracted). Without this, 1 = 1·1 = 1² = 1⁴ = … and 0 = 2·0 = 4·0 = …
    # grow forever under the power and folding rules (egg prunes constant classes the same way)
    for c in dict.fromkeys([*LANGUAGE, *lang.ctor_op]):
        if c in ("Num", "Var"):
            continue
        if c == "Powi":
            pat = "(Powi a0 n)"
        else:
            pat = f"({c}{''.join(f' a{j}' for j in range(lang.arity[c]))})"
        out.append(f'(rule ((= e (Num v)) (= e {pat})) ((subsume {pat})) :ruleset simp '
                   f':name "prune-const-{c}")')
    return "\n".join(out) + "\n"


class Encoder:
    """Terms → node table. `nodes[i] = (ctor, lits, kids)`; `leaves[k]` is the term of Var k."""

    def __init__(self, lang: Language, reuse: dict[int, Any] | None = None):
        self.lang = lang
        self.nodes: list[Node] = []
        self.leaves: list[Any] = []
        self.consts: dict[float, Any] = {}  # value → the input's Const (keeps ints, Fractions)
        self._key: dict[tuple, int] = {}
        self._ids: dict[int, int] = {}
        self._keep: list[Any] = []  # terms whose id() we hold: keep them alive
        self.reuse = reuse or {}  # id(term) → replacement term: encoded as an opaque leaf

    def node(self, ctor: str, lits: tuple = (), kids: tuple = ()) -> int:
        key = (ctor, lits, kids)
        i = self._key.get(key)
        if i is None:
            i = self._key[key] = len(self.nodes)
            self.nodes.append(key)
        return i

    def leaf(self, t: Any) -> int:
        k = len(self.leaves)
        self.leaves.append(t)
        return self.node("Var", (k,))

    def encode(self, roots: Sequence[Any]) -> list[int]:
        """Node ids of `roots`, encoding every node reachable from them once."""
        order = postorder(list(roots), self._children)
        freq: dict[int, int] = {}
        for n in order:  # how many sums/products use each operand: most shared first
            if self._nary(n):
                for a in arguments(n):
                    freq[id(a)] = freq.get(id(a), 0) + 1
        for n in order:
            if id(n) in self._ids:
                continue
            self._keep.append(n)
            self._ids[id(n)] = self._encode(n, freq)
        return [self._ids[id(r)] for r in roots]

    def _children(self, n: Any) -> list:
        if id(n) in self.reuse or not iscall(n):
            return []
        return arguments(n) if isinstance(operation(n), Op) else []

    @staticmethod
    def _nary(n: Any) -> bool:
        return iscall(n) and operation(n) in (add_op, mul_op)

    def _encode(self, n: Any, freq: dict[int, int]) -> int:
        if id(n) in self.reuse:
            return self.leaf(self.reuse[id(n)])
        if not iscall(n):
            v = _exact_float(n)
            if v is None:
                return self.leaf(n)
            self.consts.setdefault(v, n)
            return self.node("Num", (v,))
        op = operation(n)
        if not isinstance(op, Op) or (type(n) is Term and metadata(n) is not None):
            return self.leaf(n)  # a foreign operation, or a term carrying metadata: opaque
        args = arguments(n)
        kids = [self._ids[id(a)] for a in args]
        if op is add_op or op is mul_op:
            order = sorted(range(len(args)), key=lambda j: (-freq.get(id(args[j]), 0), kids[j]))
            ctor = "Add" if op is add_op else "Mul"
            acc = kids[order[0]]
            for j in order[1:]:
                acc = self.node(ctor, (), (acc, kids[j]))
            return acc
        if op is pow_op:
            e = _integer(args[1])
            if e is not None:
                return self.node("Powi", (e,), (kids[0],))
            return self.node("Pow", (), tuple(kids))
        if op.name in _SPECIAL:
            return self.node(_SPECIAL[op.name], (), tuple(kids))
        return self.node(self.lang.ctor(op, len(kids)), (), tuple(kids))


def _exact_float(t: Any) -> float | None:
    """The float64 a constant stands for when the e-graph can hold it exactly, else None."""
    if type(t) is not Const:
        return None
    v = t.value
    if isinstance(v, bool) or not isinstance(v, (int, float, Fraction)):
        return None  # bool and float32 keep their dtype as opaque leaves
    if isinstance(v, int) and abs(v) > 2**53:
        return None
    f = float(v)
    if not math.isfinite(f) or (f == 0.0 and math.copysign(1.0, f) < 0):
        return None  # egglog equates -0.0 with 0.0 and cannot parse non-finite values
    return f


def _integer(t: Any) -> int | None:
    if type(t) is not Const or isinstance(t.value, bool):
        return None
    v = t.value
    if isinstance(v, int):
        return v if abs(v) < 2**31 else None
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**31:
        return int(v)
    return None


def decode(entries: Sequence[Node], roots: Sequence[int], enc: Encoder) -> tuple[list, list]:
    """Terms (built in tree mode through maketerm) for extracted entries; returns (root terms,
    term of every entry)."""
    terms: list[Any] = []
    with tree_mode():
        for ctor, lits, kids in entries:
            args = [terms[k] for k in kids]
            if ctor == "Num":
                v = lits[0]
                t = enc.consts.get(v)
                if t is None:
                    t = Const(int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v))
            elif ctor == "Var":
                t = enc.leaves[lits[0]]
            elif ctor == "Powi":
                t = maketerm(Term, pow_op, [args[0], Const(int(lits[0]))], None)
            elif ctor == "Pow":
                t = maketerm(Term, pow_op, args, None)
            elif ctor == "SinCos":  # the pair stands for its argument; its halves rebuild
                t = args[0]  # sin(x) and cos(x), which the schedule emits side by side
            elif ctor in ("SinOf", "CosOf"):
                t = maketerm(Term, sin_op if ctor == "SinOf" else cos_op, args, None)
            else:
                t = maketerm(Term, enc.lang.ctor_op[ctor], args, None)
            terms.append(t)
    return [terms[r] for r in roots], terms
