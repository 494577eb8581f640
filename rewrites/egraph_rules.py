"""Named e-graph rules as data: EgRule, EgRuleSet, and the e-graph language they are rendered in.

Rules are egglog s-expressions over one sort `M` (see LANGUAGE); nothing here imports egglog or
builds terms, so rule tables can be listed, tested and switched off by name without an e-graph.
symnum.rewrites.egraph renders them into an egglog program. The project's rules are not written
here: they are declared once in the Python rule language (symnum.rules.ruledef) and translated
(rewrites/eg_translate.py); `rw`/`explore`/`together` remain for raw egglog text (experiments,
tests, rules over constructors that have no term). A rule must be sound on the reals: where
its left side is defined the right side is defined and has the same value (signed zeros aside).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from symnum.errors import SimplifyError

# The rule language. Leaves: (Num f64) a float constant, (Var i64) leaf number k of the input.
# Arithmetic is binary: Add Sub Mul Div Neg, (Powi x n) an integer power, (Pow x y) any other;
# SinCos/SinOf/CosOf: a sine and cosine of one argument computed together.
# Every other primitive `name` is the constructor ctor_name(name): Sin, Log1p, LogicalAnd, …
LANGUAGE = {
    "Num": ("f64",), "Var": ("i64",), "Add": ("M", "M"), "Sub": ("M", "M"),
    "Mul": ("M", "M"), "Div": ("M", "M"), "Neg": ("M",), "Powi": ("M", "i64"),
    "Pow": ("M", "M"),
    # sin and cos of x computed together: (SinCos x) is the pair (one merged libm call), SinOf
    # and CosOf read it for free; only the optimize ruleset introduces them
    "SinCos": ("M",), "SinOf": ("M",), "CosOf": ("M",),
}
# constructors the bridge declares for its own bookkeeping: never used in rules
RESERVED = frozenset(LANGUAGE) | {"Node"}

PHASES = ("simplify", "explore")


def ctor_name(op_name: str) -> str:
    """The e-graph constructor of a primitive: "log1p" → "Log1p", "logical_and" → "LogicalAnd".

    >>> ctor_name("log1p"), ctor_name("logical_and")
    ('Log1p', 'LogicalAnd')
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", op_name):
        return ""  # not expressible: the bridge numbers it (U0, U1, …)
    c = "".join(p[:1].upper() + p[1:] for p in op_name.split("_") if p)
    return c if c not in RESERVED else "U" + c


@dataclass(frozen=True)
class EgRule:
    """One named rule. A rewrite `lhs → rhs` (guarded by egglog `when` facts), or, when `body`
    is given, a general rule: if every fact in `body` holds, run the `head` actions.

    phase "simplify": run to a fixpoint before every exploration step; such rules must not grow
    the graph without bound (identities, folding, directed rewrites). phase "explore": run under
    back-off scheduling with the node budget checked (commutativity, associativity, factoring).
    subsume: the matched left side may no longer be extracted (directed rewrites that are
    preferred whatever they cost, such as the numerically stable forms).
    """

    name: str
    lhs: str = ""
    rhs: str = ""
    when: tuple[str, ...] = ()
    phase: str = "simplify"
    subsume: bool = False
    body: tuple[str, ...] = ()
    head: tuple[str, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.name or '"' in self.name:
            raise SimplifyError(f"an e-graph rule needs a plain non-empty name, got {self.name!r}")
        if self.phase not in PHASES:
            raise SimplifyError(f"rule {self.name!r}: phase must be one of {PHASES}, "
                                f"got {self.phase!r}")
        if bool(self.body) == bool(self.lhs):
            raise SimplifyError(f"rule {self.name!r}: give either lhs/rhs or body/head")
        for text in (self.lhs, self.rhs, *self.when, *self.body, *self.head):
            if text.count("(") != text.count(")"):
                raise SimplifyError(f"rule {self.name!r}: unbalanced parentheses in {text!r}")

    def to_egglog(self, ruleset: str) -> str:
        """The egglog command declaring this rule in `ruleset`.

        >>> print(EgRule("mul-one", "(Mul x (Num 1.0))", "x").to_egglog("s"))
        (rewrite (Mul x (Num 1.0)) x :ruleset s :name "mul-one")
        """
        tail = f':ruleset {ruleset} :name "{self.name}"'
        if self.body:
            return f"(rule ({' '.join(self.body)}) ({' '.join(self.head)}) {tail})"
        parts = [f"(rewrite {self.lhs} {self.rhs}"]
        if self.subsume:
            parts.append(":subsume")
        if self.when:
            parts.append(f":when ({' '.join(self.when)})")
        return " ".join(parts) + f" {tail})"

    def constructors(self) -> set[str]:
        """Capitalised head symbols the rule mentions (constructors of the language)."""
        text = " ".join((self.lhs, self.rhs, *self.when, *self.body, *self.head))
        return set(re.findall(r"\(([A-Z][A-Za-z0-9_]*)", text))


class EgRuleSet:
    """An ordered, named collection of EgRules; `+` concatenates, `without` switches rules off.

    >>> rs = EgRuleSet("demo", [EgRule("a", "(Neg (Neg x))", "x")])
    >>> (rs + rs.without("a")).names()
    ['a']
    """

    def __init__(self, name: str, rules: Iterable[EgRule], doc: str = ""):
        self.name, self.doc = name, doc
        self.rules: list[EgRule] = []
        seen: set[str] = set()
        for r in rules:
            if not isinstance(r, EgRule):
                raise SimplifyError(f"ruleset {name!r} takes EgRules, got {type(r).__name__}")
            if r.name in seen:
                continue  # the same rule reached twice through two compositions
            seen.add(r.name)
            self.rules.append(r)

    def __iter__(self) -> Iterator[EgRule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __add__(self, other: EgRuleSet) -> EgRuleSet:
        return EgRuleSet(f"{self.name}+{other.name}", [*self.rules, *other.rules])

    def __getitem__(self, name: str) -> EgRule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(f"no rule named {name!r} in ruleset {self.name!r}; it has: "
                       f"{', '.join(self.names())}")

    def names(self) -> list[str]:
        return [r.name for r in self.rules]

    def without(self, *names: str) -> EgRuleSet:
        """The same rules minus those named (an unknown name is an error: typos stay visible)."""
        unknown = set(names) - set(self.names())
        if unknown:
            raise SimplifyError(f"ruleset {self.name!r} has no rule(s) {sorted(unknown)}; it has: "
                                f"{', '.join(self.names())}")
        return EgRuleSet(self.name, [r for r in self.rules if r.name not in names], self.doc)

    def phase(self, phase: str) -> list[EgRule]:
        return [r for r in self.rules if r.phase == phase]

    def table(self) -> str:
        """A readable listing: name, phase, rule."""
        rows = []
        for r in self.rules:
            what = (f"{r.lhs} => {r.rhs}" if r.lhs else
                    f"if {' '.join(r.body)} then {' '.join(r.head)}")
            if r.when:
                what += f"  when {' '.join(r.when)}"
            rows.append(f"{r.name:<24} {r.phase:<9} {'subsume ' if r.subsume else ''}{what}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        return f"<EgRuleSet {self.name!r}: {len(self.rules)} rules>"


def rw(name: str, lhs: str, rhs: str, *when: str, phase: str = "simplify",
       subsume: bool = False, doc: str = "") -> EgRule:
    """Shorthand for a rewrite rule."""
    return EgRule(name, lhs, rhs, tuple(when), phase, subsume, doc=doc)


def explore(name: str, lhs: str, rhs: str, *when: str, doc: str = "") -> EgRule:
    """Shorthand for an exploration (back-off scheduled) rewrite."""
    return EgRule(name, lhs, rhs, tuple(when), "explore", doc=doc)


def together(name: str, body: Iterable[str], head: Iterable[str], phase: str = "explore",
             doc: str = "") -> EgRule:
    """A multi-pattern rule: fires only where every fact of `body` is already in the graph
    (e.g. tan(x) → sin(x)/cos(x) only where sin(x) and cos(x) are computed anyway)."""
    return EgRule(name, body=tuple(body), head=tuple(head), phase=phase, doc=doc)


__all__ = ["EgRule", "EgRuleSet", "LANGUAGE", "ctor_name", "explore", "rw", "together"]
