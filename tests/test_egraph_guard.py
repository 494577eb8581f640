"""The e-graph never hurts, as modelled: for the `cpu` ruleset (no subsuming rules) neither the
extraction (DAG cost in the e-graph) nor the program handed back (the emitted code's cost under
the same table) ever costs more than the input, whatever the cost table."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("egglog")

from symnum.rewrites.costs import schedule_cost  # noqa: E402
from symnum.rewrites.egraph import EgraphReport, simplify_egraph  # noqa: E402

import symnum as sn  # noqa: E402
from symnum.testing import expressions  # noqa: E402

X, Y, Z = sn.Sym("x"), sn.Sym("y"), sn.Sym("z")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expressions([X, Y, Z], max_depth=4), min_size=3, max_size=8),
       st.sampled_from(["critical", "latency", "cpu", "paper"]))
def test_the_cpu_ruleset_never_returns_a_costlier_program(exprs, cost):
    exprs = [e for e in exprs if not isinstance(e, (int, float))]
    report = EgraphReport()
    out = simplify_egraph(exprs, ruleset="cpu", cost=cost, stats=report, max_iter=6)
    assert report.cost_after <= report.cost_before + 1e-9  # the extraction
    ins = [X, Y, Z]
    before, after = schedule_cost(exprs, ins, cost), schedule_cost(out, ins, cost)
    assert after <= before + 1e-9, (before, after)  # the final choice


_BOUNDED = [lambda e: 2 + sn.sin(e), lambda e: 0.1 + sn.exp(-e**2), lambda e: 1 / (1 + e**2)]


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.floats(-2, 2, allow_subnormal=False), min_size=7, max_size=14),
       st.lists(st.tuples(expressions([X, Y], max_depth=2), st.integers(0, 2)), min_size=2,
                max_size=6),
       st.sampled_from(["critical", "latency"]))
def test_the_new_alternatives_never_make_a_costlier_program(coefs, logs, cost):
    """Estrin forms, Horner forms and guarded log-products are offered next to the input:
    neither the extraction nor the final choice may cost more than the input, under the
    critical-path model and the plain sum."""
    poly = sum(c * Z**k for k, c in enumerate(coefs))
    ll = sum(sn.log(_BOUNDED[k](e)) for e, k in logs)
    exprs = [e for e in (poly, ll, poly * ll) if not isinstance(e, (int, float))]
    report = EgraphReport()
    out = simplify_egraph(exprs, ruleset="cpu", cost=cost, stats=report, max_iter=6)
    assert report.cost_after <= report.cost_before + 1e-9
    ins = [X, Y, Z]
    assert schedule_cost(out, ins, cost) <= schedule_cost(exprs, ins, cost) + 1e-9


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(expressions([X, Y, Z], max_depth=3), min_size=3, max_size=6),
       st.lists(st.floats(-2, 2, allow_subnormal=False), min_size=7, max_size=12))
def test_the_default_ruleset_is_never_costlier_than_rules_with_polynomials(exprs, coefs):
    """The default ruleset's result never costs more than method="rules" (under the default,
    critical-path-aware model), with long polynomials in the mix."""
    exprs = [e for e in exprs if not isinstance(e, (int, float))]
    exprs.append(sum(c * X**k for k, c in enumerate(coefs)) * Y)
    exprs = [e for e in exprs if not isinstance(e, (int, float))]
    got = simplify_egraph(exprs, max_iter=6)
    rules = sn.simplify(exprs, method="rules")
    ins = [X, Y, Z]
    keep = [i for i, r in enumerate(rules) if not isinstance(r, (int, float))]
    assert schedule_cost([got[i] for i in keep], ins) <= schedule_cost(
        [rules[i] for i in keep], ins) + 1e-9


def test_a_program_the_extractor_would_make_costlier_comes_back_unchanged(monkeypatch):
    """Force the extraction to a worse form: the final choice keeps the input."""
    import symnum.rewrites.egraph as eg

    x, y = sn.symbols("x y")
    inp = [x * y + x * 3]
    worse = [sn.exp(sn.log(x * y + x * 3))]
    monkeypatch.setattr(eg, "_run_partitions", lambda roots, *a, **k: list(worse))
    report = EgraphReport()
    out = simplify_egraph(inp, ruleset="cpu", stats=report)
    assert out == inp and report.schedule_after == report.schedule_before


def test_faster_keeps_the_kernel_that_runs_faster_whichever_comes_first():
    pytest.importorskip("llvmlite")
    from symnum.backends import lower
    from symnum.backends.compiled import faster

    x, y = sn.symbols("x y")
    cheap = lower(sn.Fn([x, y], [x * y + 1.0]), "llvm", cache=False)
    slow_out = x * y + 1.0
    for k in range(40):
        slow_out = slow_out + 1e-30 * sn.sin(x * (k + 1)) * sn.exp(y / (k + 2))
    slow = lower(sn.Fn([x, y], [slow_out]), "llvm", cache=False)
    for a, b in ((cheap, slow), (slow, cheap)):
        best, facts = faster(a, b, rounds=3)
        assert best is cheap, facts
        assert facts["kept"] == ("first" if a is cheap else "second")


def test_compile_with_the_egraph_keeps_the_faster_of_input_and_result():
    pytest.importorskip("llvmlite")
    import numpy as np

    def f(u, k):
        return k[0] * u[0] * u[1] + k[0] * u[0] * u[2] - k[1] * u[1] + np.exp(k[1] * u[2])

    c = sn.compile(f, backend="llvm", simplify="egraph", cache=False)
    u, k = np.array([0.5, 1.5, 2.0]), np.array([0.3, 0.7])
    assert float(c(u, k)) == pytest.approx(f(u, k), rel=1e-13)
    guard = c.lower(u, k).info["egraph_guard"]
    assert guard["kept"] in ("simplified", "input") and guard["first_s"] > 0
