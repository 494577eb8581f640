"""The e-graph rulesets: every rule checked numerically (its two sides evaluated at random
points wherever the left side is defined), a table entry (input ⇒ proven equal) for each rule,
the "never" table (unsound identities stay unproven), and the rule-table machinery."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from symnum.rewrites.eg_encode import Language
from symnum.rewrites.eg_rulesets import named_rulesets, resolve_ruleset
from symnum.rewrites.egraph import equivalent
from symnum.rewrites.egraph_rules import LANGUAGE, EgRule, EgRuleSet, ctor_name

import symnum as sn
from symnum.errors import SimplifyError

x, y, z, w = sn.symbols("x y z w")
ALL = named_rulesets()["default"] + named_rulesets()["optimize"]
OPS = Language().ctor_op

# ---------------------------------------------------------------------------------------------
# a numeric reading of the rule language, to test each rule's soundness without an e-graph


def parse(text: str):
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    stack: list[list] = [[]]
    for t in tokens:
        if t == "(":
            stack.append([])
        elif t == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(t)
    return stack[0]


_PRIM = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: (a // b if b and a * b >= 0 else -(-a // b)) if isinstance(a, int)
    else a / b,
    "%": lambda a, b: int(math.fmod(a, b)), "neg": lambda a: -a, "abs": abs,
    "to-f64": float, "to-i64": lambda a: int(a), ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def value(e, env):
    if isinstance(e, str):
        if e in env:
            return env[e]
        return int(e) if re.fullmatch(r"-?\d+", e) else float(e)
    head, *args = e
    vals = [value(a, env) for a in args]
    if head in _PRIM:
        return _PRIM[head](*vals)
    if head == "Num":
        return float(vals[0])
    if head == "Powi":
        return np.float64(vals[0]) ** vals[1] if vals[1] >= 0 else 1.0 / np.float64(
            vals[0]) ** -vals[1]
    if head == "Pow":
        return np.power(np.float64(vals[0]), vals[1])
    if head == "SinCos":  # the pair of its argument; SinOf / CosOf read its halves
        return vals[0]
    if head in ("SinOf", "CosOf"):
        return (np.sin if head == "SinOf" else np.cos)(np.float64(vals[0]))
    with np.errstate(all="ignore"):
        return OPS[head].impl(*[np.float64(v) for v in vals])


def sides(rule: EgRule):
    """(lhs, rhs, guards, given patterns) as parsed s-expressions; a multi-pattern rule's
    `(= t lhs)` and `(union t rhs)` give its two sides, its comparisons the guards."""
    if rule.lhs:
        return parse(rule.lhs)[0], parse(rule.rhs)[0], [parse(w)[0] for w in rule.when], []
    eq = next(parse(f)[0] for f in rule.body if f.startswith("(= t"))
    union = next(parse(h)[0] for h in rule.head if h.startswith("(union t"))
    rest = [parse(f)[0] for f in rule.body if not f.startswith("(= t")]
    guards = [f for f in rest if f[0] in ("=", "!=", "<", ">", "<=", ">=")]
    given = [f for f in rest if f[0] not in ("=", "!=", "<", ">", "<=", ">=")]
    return eq[2], union[2], guards, given


def variables(e, out):
    if isinstance(e, list):
        head, *args = e
        for i, a in enumerate(args):
            if isinstance(a, str) and re.fullmatch(r"[a-z]\w*", a):
                kind = ("int" if head == "Powi" and i == 1 else
                        "float" if head == "Num" else out.get(a, "value"))
                out[a] = kind
            else:
                variables(a, out)
    return out


INTS = list(range(-5, 7))
FLOATS = [-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 0.25]


@pytest.mark.parametrize("rule", list(ALL), ids=lambda r: r.name)
def test_every_rule_is_sound_numerically(rule):
    lhs, rhs, guards, given = sides(rule)
    kinds = variables(lhs, {})
    for g in given:  # slots bound only by the other patterns (their literals)
        kinds = variables(g, kinds)
    rng = np.random.default_rng(abs(hash(rule.name)) % 2**32)
    checked = 0
    for _ in range(400):
        env = {}
        for v, kind in kinds.items():
            env[v] = (int(rng.choice(INTS)) if kind == "int" else float(rng.choice(FLOATS))
                      if kind == "float" else float(rng.uniform(-3, 3)))
        if not all(value(g, env) for g in guards):
            continue
        with np.errstate(all="ignore"):
            left, right = float(value(lhs, env)), float(value(rhs, env))
        if not math.isfinite(left):
            continue  # undefined (or overflowing) on the left: the rule promises nothing
        assert math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9), (rule.name, env, left,
                                                                       right)
        checked += 1
    assert checked >= 10, f"{rule.name}: only {checked} points in its domain"


# ---------------------------------------------------------------------------------------------
# each rule proves its example equal (alone, or with the ones it needs)


def T(f):
    with sn.tree_mode():
        return f()


EXAMPLES = {
    "add-zero": (lambda: x + 0.0, x), "mul-one": (lambda: x * 1.0, x),
    "neg-neg": (lambda: sn.neg(sn.neg(x)), x), "add-neg": (lambda: x + (-y), lambda: x - y),
    "powi-one": (lambda: x**1, x), "powi-zero": (lambda: x**0, 1),
    "mul-self": (lambda: x * x, lambda: x**2), "fold-add": (lambda: sn.Const(2.0) + 3.0, 5),
    "fold-div": (lambda: sn.Const(1.0) / 4.0, 0.25),
    "add-comm": (lambda: x + y, lambda: y + x), "mul-comm": (lambda: x * y, lambda: y * x),
    "add-assoc-l": (lambda: x + (y + z), lambda: (x + y) + z),
    "distribute": (lambda: x * (y + z), lambda: x * y + x * z),
    "factor-add": (lambda: x * y + x * z, lambda: x * (y + z)),
    "factor-sub": (lambda: x * y - x * z, lambda: x * (y - z)),
    "add-self": (lambda: x + x, lambda: 2.0 * x),
    "log-exp": (lambda: sn.log(sn.exp(x)), x),
    "log-sqrt": (lambda: sn.log(sn.sqrt(x)), lambda: 0.5 * sn.log(x)),
    "log-pow-even": (lambda: sn.log(x**2), lambda: 2.0 * sn.log(abs(x))),
    "exp-add": (lambda: sn.exp(x + y), lambda: sn.exp(x) * sn.exp(y)),
    "pythagoras": (lambda: sn.sin(x)**2 + sn.cos(x)**2, 1),
    "sin-neg": (lambda: sn.sin(-x), lambda: -sn.sin(x)),
    "sqrt-square": (lambda: sn.sqrt(x**2), lambda: abs(x)),
    "log1p": (lambda: sn.log(1.0 + x), lambda: sn.log1p(x)),
    "expm1": (lambda: sn.exp(x) - 1.0, lambda: sn.expm1(x)),
    "hypot": (lambda: sn.sqrt(x**2 + y**2), lambda: sn.hypot(x, y)),
    "logsumexp": (lambda: sn.log(sn.exp(x) + sn.exp(y)),
                  lambda: sn.maximum(x, y) + sn.log1p(sn.exp(-abs(x - y)))),
    "powi-minus-one": (lambda: x**-1, lambda: 1.0 / x),
    "powi-even": (lambda: x**4, lambda: (x**2) * (x**2)),
    "powi-odd": (lambda: x**3, lambda: (x**2) * x),
    "div-const": (lambda: x / 4.0, lambda: x * 0.25),
    "div-div": (lambda: x / y / z, lambda: x / (y * z)),
    "add-div": (lambda: x / y + z / w, lambda: (x * w + z * y) / (y * w)),
    "exp-mul": (lambda: sn.exp(x) * sn.exp(y), lambda: sn.exp(x + y)),
    "pow-half": (lambda: x**0.5, lambda: sn.sqrt(x)),
    "powi-negative-recip": (lambda: x**-3, lambda: (1.0 / x)**3),
    "pow-half-odd": (lambda: x**2.5, lambda: x**2 * sn.sqrt(x)),
    "pow-neg-half-odd": (lambda: x**-1.5, lambda: 1.0 / (x**1 * sn.sqrt(x))),
    "pow-shared-log": (lambda: x**1.5 + x**0.25, lambda: sn.exp(1.5 * sn.log(x)) + x**0.25),
}
# operands of sums and products are reordered when loaded (most shared first), so each example
# runs with commutativity beside its rule — and commutativity alone must not prove it
COMM = [ALL["add-comm"], ALL["mul-comm"]]


def _term(v):
    return T(v) if callable(v) else sn.as_expr(v)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rule_proves_its_example(name):
    lhs, rhs = (_term(v) for v in EXAMPLES[name])
    assert equivalent(lhs, rhs, EgRuleSet("one", [ALL[name], *COMM]), iterations=4), name
    if name not in ("add-comm", "mul-comm"):
        assert not equivalent(lhs, rhs, EgRuleSet("comm", COMM), iterations=4)


# identities that are wrong somewhere on the reals: no ruleset may prove them
NEVER = [
    (lambda: sn.exp(sn.log(x)), x),           # x < 0
    (lambda: x / x, 1),                       # x = 0
    (lambda: x - x, 0),                       # x = inf
    (lambda: 0.0 * x, 0),                     # x = inf
    (lambda: sn.sqrt(x**2), x),               # x < 0
    (lambda: sn.log(x * y), lambda: sn.log(x) + sn.log(y)),  # x, y < 0
    (lambda: sn.asin(sn.sin(x)), x),          # |x| > π/2
    (lambda: sn.expm1(sn.log1p(x)), x),       # x < -1
    (lambda: sn.sqrt(x) * sn.sqrt(x), x),     # x < 0
    (lambda: x**0.5 * x**0.5, x),             # x < 0
]


@pytest.mark.parametrize("case", range(len(NEVER)))
def test_unsound_identities_are_never_proven(case):
    lhs, rhs = (_term(v) for v in NEVER[case])
    assert not equivalent(lhs, rhs, "default", iterations=8, nodes=20_000)


# ---------------------------------------------------------------------------------------------
# the rule-table machinery


def test_rules_have_unique_names_and_known_constructors():
    lang = Language()
    known = set(lang.ctor_op) | set(LANGUAGE)
    names = ALL.names()
    assert len(names) == len(set(names))
    for r in ALL:
        assert r.constructors() <= known, (r.name, r.constructors() - known)


def test_ruleset_composition_and_switching_off():
    sets = named_rulesets()
    assert {"algebra", "explog", "trig", "stability", "optimize", "default", "cpu"} <= set(sets)
    rs = resolve_ruleset(["algebra", "stability"])
    assert "log1p" in rs.names() and "add-comm" in rs.names()
    off = rs.without("log1p")
    assert "log1p" not in off.names() and len(off) == len(rs) - 1
    with pytest.raises(SimplifyError, match="no rule"):
        rs.without("no-such-rule")
    with pytest.raises(SimplifyError, match="unknown e-graph ruleset"):
        resolve_ruleset("bogus")
    assert "log1p" in sets["default"].table()
    print(sets["stability"].table())


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "", "lhs": "x", "rhs": "x"}, "non-empty name"),
    ({"name": "a", "lhs": "(Add x", "rhs": "x"}, "unbalanced"),
    ({"name": "a", "lhs": "x", "rhs": "x", "phase": "later"}, "phase"),
    ({"name": "a"}, "either lhs/rhs or body/head"),
])
def test_bad_rules_are_refused(kwargs, match):
    with pytest.raises(SimplifyError, match=match):
        EgRule(**kwargs)


def test_constructor_names():
    assert [ctor_name(n) for n in ("sin", "log1p", "logical_and", "num")] == [
        "Sin", "Log1p", "LogicalAnd", "UNum"]
    assert ctor_name("my-op!") == ""


def test_switching_a_rule_off_changes_the_result():
    e = T(lambda: sn.log(1.0 + x))
    on = sn.simplify(e, method="egraph", ruleset="stability")
    off = sn.simplify(e, method="egraph", ruleset=resolve_ruleset("stability").without(
        "log1p", "log1p-r"))
    assert on is T(lambda: sn.log1p(x))
    assert off is e
