"""The named e-graph rulesets and their compositions: what `simplify(method="egraph", ruleset=...)`
accepts. The e-graph's counterpart of symnum.rewrites.classical: it imports every eg_* ruleset
module (each translates its rules' one declaration, symnum.rules.ruledef, through
rewrites/eg_translate.py; none imports egglog) and composes them.
"""

from __future__ import annotations

from symnum.rewrites.eg_algebra import ALGEBRA
from symnum.rewrites.eg_explog import EXPLOG
from symnum.rewrites.eg_optimize import FUSION, OPTIMIZE
from symnum.rewrites.eg_stability import STABILITY
from symnum.rewrites.eg_trig import TRIG, TRIG_SHARED
from symnum.rewrites.egraph_rules import EgRuleSet

from symnum.errors import SimplifyError


def named_rulesets() -> dict[str, EgRuleSet]:
    """Every named ruleset and composition `simplify(method="egraph", ruleset=NAME)` accepts."""
    sets = {"algebra": ALGEBRA, "explog": EXPLOG, "trig": TRIG, "stability": STABILITY,
            "optimize": OPTIMIZE}
    fused = set(FUSION.names())
    default = EgRuleSet("default", [r for s in sets.values() for r in s if r.name not in fused],
                        "every sound ruleset: algebra, explog, trig, stability, optimize "
                        "(without fma and sin/cos pairs, which are for kernels: see 'cpu')")
    cpu = EgRuleSet("cpu", [*ALGEBRA, *OPTIMIZE, *TRIG_SHARED],
                    "the CPU-cycle ruleset: algebra + optimize + shared sin/cos")
    return {**sets, "default": default, "cpu": cpu}


def resolve_ruleset(ruleset: object) -> EgRuleSet:
    """None → "default"; a name, a list of names, or an EgRuleSet → an EgRuleSet."""
    if ruleset is None:
        ruleset = "default"
    if isinstance(ruleset, EgRuleSet):
        return ruleset
    sets = named_rulesets()
    names = [ruleset] if isinstance(ruleset, str) else list(ruleset)  # type: ignore[call-overload]
    out: EgRuleSet | None = None
    for n in names:
        if isinstance(n, EgRuleSet):
            rs = n
        elif n in sets:
            rs = sets[n]
        else:
            raise SimplifyError(
                f"unknown e-graph ruleset {n!r}; use one of {sorted(sets)}, a list of them, or "
                "an EgRuleSet (rewrite rules of the 'rules' method do not run in the e-graph)")
        out = rs if out is None else out + rs
    if out is None:
        raise SimplifyError("an empty list of rulesets: pass at least one name")
    return out


__all__ = ["named_rulesets", "resolve_ruleset"]
