"""Estrin forms (rewrites/estrin.py) and the critical-path-aware cost that picks them
(rewrites/costs.py CRITICAL, rewrites/eg_extract.py kernel_cost/_shorten)."""

from __future__ import annotations

import numpy as np
import pytest
from _egraph_cases import hand_graph as _graph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symnum.rewrites.costs import CPU_LATENCY, CRITICAL, resolve_cost, schedule_cost
from symnum.rewrites.eg_extract import critical, extract, kernel_cost, reachable
from symnum.rewrites.estrin import estrin_form
from symnum.rewrites.horner import horner_form

import symnum as sn

X, Y = sn.Sym("x"), sn.Sym("y")


def _poly(coefs):
    return sum(float(c) * X**k for k, c in enumerate(coefs))


def test_shape_and_refusals():
    e = estrin_form(_poly(range(1, 8)))
    assert str(e) == "fma(fma(7, x^2, fma(6, x, 5)), x^4, fma(fma(4, x, 3), x^2, fma(2, x, 1)))"
    assert estrin_form(_poly(range(1, 6))) is None  # degree 4: Horner's chain is short
    assert estrin_form(X**7 * Y + X**6 + X + 1) is None  # not univariate
    assert estrin_form(sn.sin(X)) is None


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(st.just(0.0), st.floats(-4, 4, allow_subnormal=False)),
                min_size=7, max_size=30),
       st.floats(-1.5, 1.5))
def test_estrin_keeps_the_value(coefs, x):
    coefs[-1] = coefs[-1] or 1.0
    p = _poly(coefs)
    e = estrin_form(p)
    if e is None:  # the sum folded to fewer monomials than its degree suggests: fine
        return
    want = float(sn.evaluate(p, {X: x}))
    scale = sum(abs(c) * abs(x) ** k for k, c in enumerate(coefs))
    assert float(sn.evaluate(e, {X: x})) == pytest.approx(want, abs=1e-13 * (1 + scale))


def test_schedule_cost_is_critical_path_aware():
    p = _poly(np.linspace(-1, 1, 49))  # degree 48: a chain of 48 fmas in Horner's form
    h, e = horner_form(p), estrin_form(p)
    # under the sum (latency table) Horner is cheaper; under max(sum/2, chain) Estrin is
    assert schedule_cost([h], [X], CPU_LATENCY) < schedule_cost([e], [X], CPU_LATENCY)
    assert schedule_cost([e], [X], CRITICAL) < schedule_cost([h], [X], CRITICAL)
    assert resolve_cost(None) is CRITICAL
    # a wide program is costed by its sum / width: 4 independent products + 3 adds
    wide = X * Y + (X + 1.0) * Y + (X + 2.0) * (Y + 1.0)
    assert schedule_cost([wide], [X, Y], CRITICAL) >= schedule_cost([wide], [X, Y],
                                                                    CPU_LATENCY) / 2


def test_the_extractor_takes_the_shorter_chain_only_under_the_critical_model():
    # class 5 (root): a chain 0→1→2→5 of three ops costing 3 each (sum 9, chain 9), or a wide
    # form over classes 3, 4 (two independent ops of 3, then one of 4: sum 10, chain 7)
    g = _graph([("X", 0, [], 0), ("A", 1, [0], 3), ("B", 2, [1], 3), ("C", 5, [2], 3),
                ("P", 3, [0], 3), ("Q", 4, [0], 3), ("W", 5, [3, 4], 4)])
    plain = extract(g, [5])
    assert g.op[plain.choice[5]] == "C" and plain.cost == 9
    fast = extract(g, [5], width=2.0)
    assert g.op[fast.choice[5]] == "W"
    order = reachable(g, fast.choice, [5])
    assert critical(g, fast.choice, order, [5]) == 7
    assert fast.cost == kernel_cost(g, fast.choice, [5], 2.0) < kernel_cost(g, plain.choice, [5],
                                                                            2.0)


def test_a_short_chain_is_hidden_so_a_short_polynomial_stays_horner():
    # measured (bench_estrin.py): single polynomials of degree 8-24 gain nothing from Estrin's
    # form (slower in the scalar loop), so the model's `hidden` cycles keep Horner there
    for n in (9, 13, 17, 25):
        p = _poly(np.random.default_rng(n).uniform(-1, 1, n))
        h, e = horner_form(p), estrin_form(p)
        assert schedule_cost([h], [X], CRITICAL) < schedule_cost([e], [X], CRITICAL)


def test_the_cpu_ruleset_picks_estrin_for_a_long_polynomial_and_keeps_its_value():
    pytest.importorskip("egglog")
    from symnum.rewrites.egraph import EgraphReport

    p = _poly(np.random.default_rng(0).uniform(-1, 1, 41))  # degree 40
    r = EgraphReport()
    (got,) = sn.simplify([p], method="egraph", ruleset="cpu", stats=r)
    assert r.schedule_after < r.schedule_before and r.cost_after <= r.cost_before
    (sum_model,) = sn.simplify([p], method="egraph", ruleset="cpu", cost="latency")
    xs = np.linspace(-1, 1, 33)
    for form in (got, sum_model):
        np.testing.assert_allclose(sn.evaluate(form, {X: xs}), sn.evaluate(p, {X: xs}),
                                   rtol=1e-12, atol=1e-14)
    # Estrin under the critical model, Horner's chain without
    assert schedule_cost([got], [X], CRITICAL) < schedule_cost([sum_model], [X], CRITICAL)
    assert schedule_cost([sum_model], [X], CPU_LATENCY) <= schedule_cost([got], [X], CPU_LATENCY)
