"""The e-graph half of the one rule language: RuleDef (symnum.rules.ruledef) → EgRule (egglog text).

A rule's patterns are built in tree mode, so they keep the binary shape they are written in, and
are read into the e-graph's language (rewrites/egraph_rules.LANGUAGE): add/sub/mul/div/neg are
Add/Sub/Mul/Div/Neg, a power with an integer exponent (an int literal, an INT slot, or integer
arithmetic on them) is `(Powi x n)`, any other power `(Pow x y)`, every other primitive its
constructor (`ctor_name`); a constant is `(Num 2.0)`, a NUM slot `(Num c)`. On a right-hand side,
arithmetic on literals alone is computed by egglog: `-c` → `(Num (neg c))`, `x**(n/2)` →
`(Powi x (/ n 2))`, an INT slot where a value goes `(Num (to-f64 n))`, a NUM slot as an exponent
`(to-i64 c)`; `trunc(c)` is the integer a NUM slot holds (`x**trunc(c)` →
`(Powi x (to-i64 c))`). Conditions
(symnum.rules.ruledef.Cond) become `:when` facts. What cannot be translated — Python callables,
predicates, segments — is refused with the rule's name: declare such a rule for the classical
engine only. Never imports egglog.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from symnum.rewrites.egraph_rules import EgRule, EgRuleSet, ctor_name

from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Const
from symnum.errors import SimplifyError
from symnum.rules.pattern import Segment, Slot
from symnum.rules.ruledef import EGRAPH, INT, NUM, Cond, RuleDef, select

_SPECIAL = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "neg": "Neg"}
_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


class _Untranslatable(SimplifyError):
    pass


def _float(v: Any) -> str:
    f = float(v)
    text = repr(f)
    if "e" in text or "inf" in text or "nan" in text:
        if f != f or f in (float("inf"), float("-inf")):
            raise _Untranslatable(f"the constant {v!r} has no egglog literal")
        text = f"{f:.17f}".rstrip("0")
        text = text + "0" if text.endswith(".") else text
        if float(text) != f:
            raise _Untranslatable(f"the constant {v!r} has no exact egglog literal")
    return text


class _Reader:
    """Reads one rule's pattern terms; `kinds` are the rule's slot kinds."""

    def __init__(self, kinds: dict[str, Any], rhs: bool):
        self.kinds, self.rhs = kinds, rhs

    # -- literal arithmetic (right-hand sides only): i64 or f64 expressions

    def _lit_type(self, t: Any) -> str | None:
        """'i64' / 'f64' when t is arithmetic on literals alone, else None."""
        if isinstance(t, Segment):
            return None
        if isinstance(t, Slot):
            k = self.kinds.get(t.name)
            return "i64" if k is INT else "f64" if k is NUM else None
        if type(t) is Const:
            v = t.value
            if isinstance(v, bool):
                return None
            return "i64" if isinstance(v, int) else "f64"
        if not iscall(t):
            return None
        name = getattr(operation(t), "name", None)
        if name not in (*_ARITH, "neg", "abs", "trunc"):
            return None
        types = [self._lit_type(a) for a in arguments(t)]
        if None in types:
            return None
        if name == "trunc":
            return "i64"  # trunc(c): the integer a NUM slot holds, e.g. as an exponent
        if name == "div" and types == ["i64", "i64"]:
            return "i64"  # integer division (the rule's condition makes it exact)
        return "f64" if "f64" in types else "i64"

    def lit(self, t: Any, want: str) -> str:
        """t (literal arithmetic) as an egglog expression of type `want`."""
        have = self._lit_type(t)
        if have is None:
            raise _Untranslatable(f"{t} is not arithmetic on literals")
        if have != want:
            inner = self.lit(t, have)
            return f"(to-f64 {inner})" if want == "f64" else f"(to-i64 {inner})"
        if isinstance(t, Slot):
            return t.name
        if type(t) is Const:
            return str(int(t.value)) if want == "i64" else _float(t.value)
        name = operation(t).name
        if name == "trunc":
            return f"(to-i64 {self.lit(arguments(t)[0], 'f64')})"
        args = [self.lit(a, want) for a in arguments(t)]
        if name == "neg":
            return f"(neg {args[0]})" if want == "f64" else f"(- 0 {args[0]})"
        if name == "abs":
            return f"(abs {args[0]})"
        return f"({_ARITH[name]} {' '.join(args)})"

    # -- terms of sort M

    def term(self, t: Any) -> str:
        if isinstance(t, Segment):
            raise _Untranslatable(f"the segment ~~{t.name} (a run of arguments) has no e-graph "
                                  "form")
        if isinstance(t, Slot):
            k = self.kinds.get(t.name)
            if k is NUM:
                return f"(Num {t.name})"
            if k is INT:
                if not self.rhs:
                    raise _Untranslatable(f"the INT slot {t.name} is matched as a value; it can "
                                          "only be an integer power's exponent on a left side")
                return f"(Num (to-f64 {t.name}))"
            if k is not None:
                raise _Untranslatable(f"the slot {t.name} has a Python predicate")
            return t.name
        if type(t) is Const:
            if isinstance(t.value, bool):
                raise _Untranslatable("boolean constants have no e-graph form")
            return f"(Num {_float(t.value)})"
        if not iscall(t):
            raise _Untranslatable(f"the leaf {t} is neither a slot nor a constant")
        if self.rhs and self._lit_type(t) is not None:
            return f"(Num {self.lit(t, 'f64')})"
        op = operation(t)
        name = getattr(op, "name", None)
        args = arguments(t)
        if name == "pow":
            base, e = self.term(args[0]), args[1]
            if type(e) is Const and not isinstance(e.value, bool) and float(e.value).is_integer():
                return f"(Powi {base} {int(e.value)})"
            if (isinstance(e, Slot) and self.kinds.get(e.name) is INT) or (
                    self.rhs and self._lit_type(e) == "i64"):
                return f"(Powi {base} {self.lit(e, 'i64')})"
            return f"(Pow {base} {self.term(e)})"
        if name in _SPECIAL:
            ctor = _SPECIAL[name]
        else:
            ctor = ctor_name(name or "")
            if not ctor:
                raise _Untranslatable(f"the operation {op!r} has no e-graph constructor")
        return f"({ctor} {' '.join(self.term(a) for a in args)})"

    # -- conditions

    def cond_expr(self, e: Any, want: str | None = None) -> tuple[str, str]:
        """(text, type) of a Cond expression tree; `want` converts."""
        if isinstance(e, str):
            text, typ = e, ("i64" if self.kinds.get(e) is INT else "f64")
        elif isinstance(e, (int, float)):
            typ = "i64" if isinstance(e, int) and want != "f64" else "f64"
            text = str(e) if typ == "i64" else _float(e)
            return text, typ
        else:
            op, *xs = e
            if op in ("int", "float"):
                inner, it = self.cond_expr(xs[0])
                typ = "i64" if op == "int" else "f64"
                text = inner if it == typ else f"({'to-i64' if typ == 'i64' else 'to-f64'} " \
                                               f"{inner})"
            elif op in ("neg", "abs"):
                inner, typ = self.cond_expr(xs[0], want)
                text = (f"(abs {inner})" if op == "abs" else
                        f"(neg {inner})" if typ == "f64" else f"(- 0 {inner})")
            else:
                parts = [self.cond_expr(x) for x in xs]
                typ = "f64" if any(p[1] == "f64" for p in parts) or op == "/" and want == "f64" \
                    else "i64"
                parts = [self.cond_expr(x, typ) for x in xs]
                sym = {"//": "/", "%": "%"}.get(op, op)
                if op == "/" and typ == "i64":
                    raise _Untranslatable("use // for integer division in a condition")
                text = f"({sym} {parts[0][0]} {parts[1][0]})"
        if want is not None and typ != want:
            text = f"({'to-f64' if want == 'f64' else 'to-i64'} {text})"
            typ = want
        return text, typ

    def fact(self, f: tuple) -> str:
        cmp, a, b = f
        ta = self.cond_expr(a)[1]
        tb = self.cond_expr(b)[1]
        typ = "f64" if "f64" in (ta, tb) else "i64"
        sym = {"==": "=", "<=": "<=", ">=": ">="}.get(cmp, cmp)
        return f"({sym} {self.cond_expr(a, typ)[0]} {self.cond_expr(b, typ)[0]})"


def translate(d: RuleDef) -> EgRule:
    """The EgRule of a declaration the e-graph runs (SimplifyError naming the rule if it cannot
    be translated: declare it for the classical engine only)."""
    if EGRAPH not in d.engines:
        raise SimplifyError(f"rule {d.name!r} is declared for {d.engines}: the e-graph does not "
                            "run it")
    phase = d.phase
    if d.egglog is not None:
        return EgRule(d.name, body=d.egglog[0], head=d.egglog[1], phase=phase, doc=d.doc)
    try:
        lhs, rhs, given = d.patterns(tree=True)
        kinds = d.kinds()
        if callable(rhs) and not isinstance(rhs, (Slot, Const)) and not iscall(rhs):
            raise _Untranslatable("its right-hand side is Python code")
        cond = d.condition()
        if cond is not None and not isinstance(cond, Cond):
            raise _Untranslatable("its condition is Python code")
        left, right = _Reader(kinds, rhs=False), _Reader(kinds, rhs=True)
        lt = left.term(lhs)
        rt = right.term(rhs if not isinstance(rhs, (int, float)) else Const(rhs))
        when = tuple(right.fact(f) for f in cond.facts) if cond is not None else ()
        if given:  # the condition's facts join the body
            body = (f"(= t {lt})", *(left.term(g) for g in given), *when)
            return EgRule(d.name, body=body, head=(f"(union t {rt})",), phase=phase, doc=d.doc)
        return EgRule(d.name, lt, rt, when, phase, d.subsume, doc=d.doc)
    except _Untranslatable as e:
        raise SimplifyError(f"rule {d.name!r} cannot run in the e-graph: {e}; declare it with "
                            "engines=(RULES,)") from None


def egraph_ruleset(name: str, defs: Iterable[RuleDef], doc: str = "") -> EgRuleSet:
    """The EgRuleSet `name`: every declaration in it that the e-graph runs, translated."""
    return EgRuleSet(name, [translate(d) for d in select(defs, name, EGRAPH)], doc)


__all__ = ["egraph_ruleset", "translate"]
