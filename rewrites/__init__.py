"""Named rulesets, one concern per module; `symnum` reaches them only through lazy registries.

algebra (canonicalize; the tree-mode rule simplifier), powers, trig, explog, and classical (the
composition behind `symnum.simplify(method="rules")`). Importing this package loads no module
that imports egglog; the e-graph bridge arrives as its own module.
"""

from __future__ import annotations

from symnum.rewrites.classical import CLASSICAL, RULES, classical, simplify_rules

__all__ = ["CLASSICAL", "RULES", "classical", "simplify_rules"]
