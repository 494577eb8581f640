"""The rule engine: patterns with slots and segments, named rules, rulesets and rewriters.

Written only against the term interface, so the same rules run over symnum terms in canonical or
tree mode and over foreign expressions (SymPy, via symnum.sympy_terms). The rulesets themselves
live in the top-level `rewrites` package; this package must never import it. Rules are declared
once (`rule`, symnum.rules.ruledef) and read by this engine or translated for the e-graph.
"""

from __future__ import annotations

from symnum.rules.pattern import (
    Segment,
    Slot,
    is_associative,
    is_commutative,
    issegment,
    isslot,
    literal_value,
    match,
    register_ac,
    segment,
    slot,
    slot_accepts,
    slot_name,
)
from symnum.rules.rewriters import Chain, Fixpoint, PassThrough, Postwalk, Prewalk, Rewriter
from symnum.rules.rule import Bindings, Rule, RuleSet, Stats, record
from symnum.rules.ruledef import (
    BOTH,
    EGRAPH,
    INT,
    NUM,
    RULES,
    SEGMENT,
    RuleDef,
    classical_ruleset,
    rule,
)

__all__ = [
    "BOTH", "EGRAPH", "INT", "NUM", "RULES", "SEGMENT", "RuleDef", "classical_ruleset", "rule",
    "Bindings", "Chain", "Fixpoint", "PassThrough", "Postwalk", "Prewalk", "Rewriter", "Rule",
    "RuleSet", "Segment", "Slot", "Stats", "is_associative", "is_commutative", "issegment",
    "isslot", "literal_value", "match", "record", "register_ac", "segment", "slot",
    "slot_accepts", "slot_name",
]
