"""One rule language for both engines: a rule is declared once, as Python, and each engine reads it.

`rule("log-exp", lambda x: (log(exp(x)), x), sets=("explog",))` declares a rule by its name, a
function of its slots returning (lhs, rhs) — or (lhs, rhs, given) for a rule that fires only where
the `given` terms exist already — the rulesets it belongs to, and the engines that run it:
"rules" (the classical rewriter: the function is called in canonical mode and the result is an
ordinary `Rule`) and "egraph" (called in tree mode, so the patterns keep the binary shape they are
written in; symnum.rewrites.eg_translate turns them into egglog rewrites). A slot's kind is its
parameter's default: none (any term), NUM (a float literal, egglog `(Num c)`), INT (an integer
literal: an integer power's exponent, egglog `(Powi x n)`), SEGMENT (a run of arguments: classical
only) or a Python predicate (classical only). Side conditions are one Python expression over the
literal slots (`when="n % 2 == 0 and n != 0"`), evaluated on the bindings by the classical engine
and rendered as egglog facts for the e-graph; a Python callable as `when` or as right-hand side is
classical only. A rule that only one engine can run says so with `engines=`, and declaring an
engine that cannot run it is an error when the ruleset is built. The e-graph's own bookkeeping
constructors (SinCos) have no term: such rules carry their egglog text in `egglog=` and are
e-graph only. Never imports egglog or symnum.rewrites (the rule layer sits below both).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from symnum.core.build import tree_mode
from symnum.errors import SimplifyError
from symnum.rules.pattern import literal_value, segment, slot
from symnum.rules.predicates import integer_value, is_finite_literal
from symnum.rules.rule import Bindings, Rule, RuleSet

RULES, EGRAPH = "rules", "egraph"
BOTH = (RULES, EGRAPH)
ENGINES = frozenset(BOTH)
PHASES = ("simplify", "explore")


def is_num(t: Any) -> bool:
    """A finite numeric literal (the classical side of a NUM slot)."""
    return is_finite_literal(t)


def is_int(t: Any) -> bool:
    """An integral literal (the classical side of an INT slot)."""
    return integer_value(t) is not None


class _Kind:
    def __init__(self, name: str, predicate: Callable[[Any], bool] | None):
        self.name, self.predicate = name, predicate

    def __repr__(self) -> str:
        return self.name


NUM = _Kind("NUM", is_num)
INT = _Kind("INT", is_int)
SEGMENT = _Kind("SEGMENT", None)


# ---------------------------------------------------------------------------------------------
# side conditions: one Python expression, read into a small tree both engines evaluate/render

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
           ast.Mod: "%"}
_CMPS = {ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_CALLS = ("abs", "int", "float")


class Cond:
    """A guard over literal slots: `and` of comparisons of arithmetic over slots and numbers.
    `facts` is a tuple of comparison trees (op, left, right); an expression tree is a name
    (str), a number, or (op, *operands) with op in + - * / // % neg abs int float."""

    def __init__(self, text: str, kinds: dict[str, _Kind], rule_name: str):
        self.text, self.kinds = text, kinds
        try:
            tree = ast.parse(text, mode="eval").body
        except SyntaxError as e:
            raise SimplifyError(f"rule {rule_name!r}: its condition {text!r} is not a Python "
                                f"expression ({e.msg})") from None
        parts = tree.values if isinstance(tree, ast.BoolOp) and isinstance(
            tree.op, ast.And) else [tree]
        self.facts = tuple(self._fact(p, rule_name) for p in parts)
        self._code = compile(text, f"<condition of {rule_name}>", "eval")

    def _fact(self, node: ast.AST, rule_name: str) -> tuple:
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1
                and type(node.ops[0]) in _CMPS):
            raise SimplifyError(f"rule {rule_name!r}: a condition is `and` of single comparisons "
                                f"(a < b, a == b, …), got {ast.unparse(node)!r}")
        return (_CMPS[type(node.ops[0])], self._expr(node.left, rule_name),
                self._expr(node.comparators[0], rule_name))

    def _expr(self, node: ast.AST, rule_name: str) -> Any:
        if isinstance(node, ast.Name):
            k = self.kinds.get(node.id)
            if k not in (NUM, INT):
                raise SimplifyError(
                    f"rule {rule_name!r}: its condition reads {node.id!r}, which is not a NUM or "
                    "INT slot of the rule (conditions on whole terms are Python callables, "
                    "classical only)")
            return node.id
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not \
                isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self._expr(node.operand, rule_name)
            return -inner if isinstance(inner, (int, float)) else ("neg", inner)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return (_BINOPS[type(node.op)], self._expr(node.left, rule_name),
                    self._expr(node.right, rule_name))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _CALLS and len(node.args) == 1 and not node.keywords):
            return (node.func.id, self._expr(node.args[0], rule_name))
        raise SimplifyError(f"rule {rule_name!r}: {ast.unparse(node)!r} is not allowed in a "
                            f"condition (names of literal slots, numbers, + - * / // %, unary -, "
                            f"{', '.join(_CALLS)})")

    def __call__(self, b: Bindings) -> bool:
        env: dict[str, Any] = {}
        for name, k in self.kinds.items():
            if k is INT and name in b:
                env[name] = integer_value(b[name])
            elif k is NUM and name in b:
                env[name] = literal_value(b[name])
        try:
            return bool(eval(self._code, {"__builtins__": {}, "abs": abs, "int": int,
                                          "float": float}, env))
        except (ZeroDivisionError, OverflowError, ValueError, TypeError):
            return False  # the condition cannot be evaluated: the rule does not fire

    def __repr__(self) -> str:
        return f"Cond({self.text!r})"


# ---------------------------------------------------------------------------------------------
# the rule declaration


@dataclass(frozen=True)
class RuleDef:
    """One rule, written once. See the module docstring for the fields' meaning."""

    name: str
    build: Callable[..., Any] | None
    sets: tuple[str, ...]
    engines: tuple[str, ...] = BOTH
    when: str | Callable[[Bindings], bool] | None = None
    phase: str = "simplify"
    subsume: bool = False
    egglog: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    doc: str = ""
    budget: int = 20_000

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or '"' in self.name:
            raise SimplifyError(f"every rule needs a plain non-empty name, got {self.name!r}")
        if not self.sets:
            raise SimplifyError(f"rule {self.name!r}: name at least one ruleset it belongs to")
        bad = set(self.engines) - ENGINES
        if bad or not self.engines:
            raise SimplifyError(f"rule {self.name!r}: engines must be a non-empty subset of "
                                f"{sorted(ENGINES)}, got {self.engines!r}")
        if self.phase not in PHASES:
            raise SimplifyError(f"rule {self.name!r}: phase must be one of {PHASES}, "
                                f"got {self.phase!r}")
        if (self.build is None) == (self.egglog is None):
            raise SimplifyError(f"rule {self.name!r}: give either a pattern function or its "
                                "egglog text (egglog=(body, head)), not both")
        if self.egglog is not None and self.engines != (EGRAPH,):
            raise SimplifyError(f"rule {self.name!r}: a rule given as egglog text runs only in "
                                "the e-graph: declare engines=(EGRAPH,)")

    # -- slots and patterns

    def kinds(self) -> dict[str, Any]:
        """Slot name → kind (None, NUM, INT, SEGMENT or a Python predicate)."""
        if self.build is None:
            return {}
        out: dict[str, Any] = {}
        for p in inspect.signature(self.build).parameters.values():
            out[p.name] = None if p.default is inspect.Parameter.empty else p.default
        return out

    def condition(self) -> Cond | Callable[[Bindings], bool] | None:
        if isinstance(self.when, str):
            return Cond(self.when, self.kinds(), self.name)
        return self.when

    def patterns(self, tree: bool) -> tuple[Any, Any, tuple]:
        """(lhs, rhs, given) built in tree mode (`tree`) or canonical mode."""
        if self.build is None:
            raise SimplifyError(f"rule {self.name!r} is egglog text: it has no patterns")
        args = []
        for name, k in self.kinds().items():
            if k is SEGMENT:
                args.append(segment(name))
            elif isinstance(k, _Kind):
                args.append(slot(name, k.predicate))
            else:
                args.append(slot(name, k))
        with tree_mode(tree):
            out = self.build(*args)
        if not isinstance(out, tuple) or len(out) not in (2, 3):
            raise SimplifyError(f"rule {self.name!r}: its pattern function must return "
                                f"(lhs, rhs) or (lhs, rhs, [given terms]), got {out!r}")
        given = tuple(out[2]) if len(out) == 3 else ()
        return out[0], out[1], given

    # -- the classical engine

    def classical(self) -> Rule:
        """The classical `Rule` (patterns built in canonical mode)."""
        if RULES not in self.engines:
            raise SimplifyError(f"rule {self.name!r} is declared for {self.engines}: the "
                                "classical engine does not run it")
        lhs, rhs, given = self.patterns(tree=False)
        if given:
            raise SimplifyError(f"rule {self.name!r} has `given` terms (a multi-pattern rule): "
                                "only the e-graph runs it; declare engines=(EGRAPH,)")
        return Rule(self.name, lhs, rhs, self.condition(), doc=self.doc, budget=self.budget)


def rule(name: str, build: Callable[..., Any] | None = None, *, sets: str | Iterable[str],
         engines: str | Iterable[str] = BOTH, when: str | Callable[[Bindings], bool] | None = None,
         phase: str = "simplify", subsume: bool = False,
         egglog: tuple[Sequence[str], Sequence[str]] | None = None, doc: str = "",
         budget: int = 20_000) -> RuleDef:
    """Declare a rule (see the module docstring).

    >>> from symnum.core.primitives import exp, log
    >>> r = rule("log-exp", lambda x: (log(exp(x)), x), sets=("explog",))
    >>> r.classical()
    Rule('log-exp': log(exp(~x)) => ~x)
    """
    eg = None if egglog is None else (tuple(egglog[0]), tuple(egglog[1]))
    engines = (engines,) if isinstance(engines, str) else tuple(engines)  # RULES alone
    sets = (sets,) if isinstance(sets, str) else tuple(sets)
    return RuleDef(name, build, sets, engines, when, phase, subsume, eg, doc,
                   budget)


def select(defs: Iterable[RuleDef], ruleset: str, engine: str) -> list[RuleDef]:
    """The declarations in `ruleset` that `engine` runs, in declaration order."""
    return [d for d in defs if ruleset in d.sets and engine in d.engines]


def classical_ruleset(name: str, defs: Iterable[RuleDef], doc: str = "") -> RuleSet:
    """The classical RuleSet `name`: every declaration in it that the classical engine runs."""
    return RuleSet(name, [d.classical() for d in select(defs, name, RULES)], doc=doc)


__all__ = ["BOTH", "EGRAPH", "INT", "NUM", "RULES", "SEGMENT", "Cond", "RuleDef",
           "classical_ruleset", "rule", "select"]
