"""Horner forms offered to the e-graph (rewrites/horner.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.rewrites.horner import horner_form

import symnum as sn
from symnum.testing import assert_allclose_at

x, y, z = sn.symbols("x y z")


def test_univariate_is_the_textbook_scheme():
    assert str(horner_form(3 * x**3 + 2 * x**2 + x + 5)) == "fma(x, fma(x, fma(x, 3, 2), 1), 5)"
    assert horner_form(x + y + 1) is None  # linear: nothing to offer
    assert horner_form(x**2 + 1) is None  # two monomials
    assert horner_form(sn.sin(x)) is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 3).filter(lambda v: v != 0), st.integers(0, 4),
                          st.integers(0, 3), st.integers(0, 2)), min_size=3, max_size=8))
def test_horner_form_keeps_the_value(monos):
    p = sum(c * x**i * y**j * sn.sin(z)**k for c, i, j, k in monos)
    h = horner_form(p)
    if h is None:
        return
    assert_allclose_at(h, p, {x: (-2, 2), y: (-2, 2), z: (-2, 2)}, rtol=1e-9, atol=1e-9)


def test_the_cpu_ruleset_takes_horner_where_it_is_cheaper():
    c = np.random.default_rng(0).uniform(-1, 1, 9)
    p = sum(c[k] * x**k for k in range(9))
    out = sn.simplify(p, method="egraph", ruleset="cpu")
    assert str(out).count("fma") == 8
    assert abs(sn.evaluate(out, {x: 0.7}) - sn.evaluate(p, {x: 0.7})) < 1e-12
    # the default ruleset (for reading) has no fma: no Horner form either
    assert "fma" not in str(sn.simplify(p, method="egraph"))
