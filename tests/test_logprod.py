"""Σ log → log Π within range guards (rewrites/logprod.py): the rule fires only where the
product provably stays a normal double, keeps the value at random points (and at the bounds'
extremes), and the e-graph's kernel ruleset takes it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symnum.rewrites.logprod import LOGPROD, log_product_form

import symnum as sn
from symnum.core.traversal import postorder
from symnum.rules.ruledef import RULES
from symnum.testing import expressions

X, Y, G = sn.Sym("x"), sn.Sym("y"), sn.Sym("g")


def _logs(e):
    return sum(1 for n in postorder([e]) if getattr(getattr(n, "op", None), "name", "") == "log")


def test_declared_once_in_the_rule_language():
    from symnum.rewrites.logprod import DEFS

    (d,) = DEFS
    assert d.name == "log-sum-product" and d.engines == (RULES,) and "logprod" in d.sets
    assert LOGPROD.names() == ["log-sum-product"]


def test_fires_on_bounded_arguments_only():
    bounded = [sn.log(0.05 + 0.95 * sn.exp(-(c - X) ** 2 / (2 * G**2))) for c in (0.1, 0.7, 2.0)]
    got = LOGPROD.rules[0](sum(bounded))
    assert got is not None and _logs(got) == 1
    cauchy = sum(sn.log(G**2 + (c - X) ** 2) for c in (0.1, 0.7, 2.0))
    assert LOGPROD.rules[0](cauchy) is None  # unbounded above: no guard, no rewrite
    assert log_product_form([sn.log(X), sn.log(Y)]) is None  # could be ≤ 0


def test_logs_with_different_coefficients_are_merged_separately():
    terms = [sn.log(2 + sn.sin(X)), sn.log(2 + sn.cos(X)), -sn.log(2 + sn.sin(Y)),
             -sn.log(2 + sn.cos(Y)), X]
    got = log_product_form(terms)
    assert _logs(got) == 2
    env = {X: 0.3, Y: -1.2}
    assert float(sn.evaluate(got, env)) == pytest.approx(float(sn.evaluate(sum(terms), env)),
                                                         rel=1e-14)


def test_long_sums_are_chunked_so_no_product_underflows():
    # 600 factors each ≥ 1e-3: one product could reach 1e-1800; chunks of ≤ 96 stay ≥ 1e-288
    xs = [sn.Sym(f"x{i}") for i in range(600)]
    terms = [sn.log(1e-3 + sn.exp(-v**2)) for v in xs]
    got = log_product_form(terms)
    assert 2 <= _logs(got) <= 10
    env = {v: 40.0 for v in xs}  # every factor at its lower bound 1e-3
    want = 600 * np.log(1e-3)
    assert float(sn.evaluate(got, env)) == pytest.approx(want, rel=1e-13)
    env = {v: 0.0 for v in xs}  # every factor at its upper bound 1 + 1e-3
    assert float(sn.evaluate(got, env)) == pytest.approx(600 * np.log1p(1e-3), rel=1e-12)


_BOUNDED = [lambda e: 2 + sn.sin(e), lambda e: 0.1 + sn.exp(-e**2), lambda e: 1 / (1 + e**2),
            lambda e: 1.5 + sn.tanh(e), lambda e: 3 - sn.cos(e) ** 2]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(expressions([X, Y], max_depth=3), st.integers(0, len(_BOUNDED) - 1),
                          st.sampled_from([1.0, -1.0, 2.5])), min_size=2, max_size=12),
       st.integers(0, 2**32 - 1))
def test_the_value_is_kept_at_random_points(parts, seed):
    terms = [c * sn.log(_BOUNDED[k](e)) for e, k, c in parts]
    s = sum(terms)
    got = log_product_form(list(terms))
    if got is None:
        return
    rng = np.random.default_rng(seed)
    env = {X: rng.uniform(-3, 3, 32), Y: rng.uniform(-3, 3, 32)}
    with np.errstate(all="ignore"):
        a = np.asarray(sn.evaluate(s, env), dtype=float)
        b = np.asarray(sn.evaluate(got, env), dtype=float)
    ok = np.isfinite(a)
    np.testing.assert_allclose(b[ok], a[ok], rtol=1e-12, atol=1e-12 * len(terms))


def test_the_kernel_ruleset_takes_the_product_and_keeps_the_value():
    pytest.importorskip("egglog")
    from symnum.rewrites.egraph import EgraphReport

    data = [0.1, 0.4, 1.3, 2.0, -0.7, 0.9]
    ll = sum(sn.log(0.05 + 0.95 * sn.exp(-(c - X) ** 2 / (2 * G**2))) for c in data)
    r = EgraphReport()
    (got,) = sn.simplify([ll], method="egraph", ruleset="cpu", stats=r)
    assert _logs(got) == 1 and r.cost_after <= r.cost_before
    (plain,) = sn.simplify([ll], method="egraph", ruleset="default")
    assert _logs(plain) == len(data)  # the reading ruleset leaves the logs alone
    env = {X: np.linspace(-3, 3, 17), G: np.linspace(0.2, 2, 17)}
    np.testing.assert_allclose(sn.evaluate(got, env), sn.evaluate(ll, env), rtol=1e-13)
