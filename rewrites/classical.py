"""CLASSICAL: the named composition that `symnum.simplify(method="rules")` runs.

canonicalize (the polynomial forms collect, flatten and fold), then the POWERS, TRIG and EXPLOG
rules bottom-up to a fixpoint. Adding a concern means adding its RuleSet to RULES; switching a
rule off is `RULES.without("name")`, passed as `simplify(..., ruleset=...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symnum.rewrites.algebra import CANONICALIZE
from symnum.rewrites.explog import EXPLOG
from symnum.rewrites.powers import POWERS
from symnum.rewrites.trig import TRIG

from symnum.rules import Chain, Fixpoint, Postwalk, Rewriter, RuleSet, record
from symnum.rules.rule import Stats

RULES: RuleSet = POWERS + TRIG + EXPLOG
RULES.name = "classical"


def classical(ruleset: Any = None, max_iter: int = 20) -> Rewriter:
    """Chain([canonicalize, Fixpoint(Postwalk(ruleset))]) with `ruleset` defaulting to RULES.

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> print(classical()(sn.exp(x) * sn.exp(-x) + sn.sqrt(x**2)))
    abs(x) + 1
    """
    rules = RULES if ruleset is None else ruleset  # one RuleSet: one head index for all rules
    return Chain([CANONICALIZE, Fixpoint(Postwalk(rules), max_iter=max_iter)])


CLASSICAL: Rewriter = classical()


def simplify_rules(roots: Sequence[Any], *, ruleset: Any = None, max_iter: int = 20,
                   stats: Stats | None = None) -> list:
    """The "rules" method of symnum.simplify: CLASSICAL over roots sharing one DAG."""
    rw = CLASSICAL if ruleset is None and max_iter == 20 else classical(ruleset, max_iter)
    if stats is None:
        return rw.many(list(roots))
    with record(stats):
        return rw.many(list(roots))
