"""EXPLOG for the e-graph: the declarations of rewrites/explog.py that the e-graph runs,
translated (rewrites/eg_translate.py). Sound ones only; see that module."""

from __future__ import annotations

from symnum.rewrites.eg_translate import egraph_ruleset
from symnum.rewrites.explog import DEFS

EXPLOG = egraph_ruleset("explog", DEFS, __doc__ or "")
