"""TRIG for the e-graph: the declarations of rewrites/trig.py (and the shared abs/power rules of
rewrites/powers.py) that the e-graph runs, translated (rewrites/eg_translate.py). TRIG_SHARED
holds the multi-pattern rules that fire only where sin(x) and cos(x) both exist already."""

from __future__ import annotations

from symnum.rewrites import powers, trig
from symnum.rewrites.eg_translate import egraph_ruleset

TRIG_SHARED = egraph_ruleset("trig-shared", trig.DEFS,
                             "sin(x) and cos(x) computed once, reused by tan(x), sin(2x), cos(2x)")
TRIG = egraph_ruleset("trig", trig.DEFS + powers.DEFS, trig.__doc__ or "")
