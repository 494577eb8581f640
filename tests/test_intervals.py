"""Range facts from an expression's shape (rewrites/intervals.py): every sampled value of a
random expression lies inside its bounds, and the shapes the log-product guard relies on get
the bounds they should."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symnum.rewrites.intervals import bounds

import symnum as sn
from symnum.testing import expressions

X, Y = sn.Sym("x"), sn.Sym("y")


def test_shapes():
    assert bounds(sn.exp(-X**2)) == (0.0, 1.0)
    assert bounds(1 + X**2) == (1.0, math.inf)
    assert bounds(0.1 + 0.9 * sn.exp(-X**2)) == (0.1, 1.0)
    assert bounds(2 + sn.sin(X)) == (1.0, 3.0)
    assert bounds(1 / (1 + X**2)) == (0.0, 1.0)
    assert bounds(X) == (-math.inf, math.inf)
    assert bounds(sn.Sym("p", positive=True)) == (0.0, math.inf)
    lo, hi = bounds(sn.log(1 + X**2))
    assert lo == 0.0 and hi == math.inf
    assert bounds(sn.exp(X)) == (0.0, math.inf)
    p = sn.Sym("p", nonnegative=True)
    assert bounds(p**-0.5) == (0.0, math.inf)  # 0.0 ** -0.5 raises in Python: caught
    assert bounds((1 + sn.exp(-p)) ** -1.5) == (pytest.approx(2**-1.5), 1.0)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(expressions([X, Y], max_depth=4), st.integers(0, 2**32 - 1))
def test_every_value_lies_inside_the_bounds(e, seed):
    lo, hi = bounds(e)
    assert lo <= hi
    rng = np.random.default_rng(seed)
    for scale in (1.0, 30.0):
        env = {X: rng.uniform(-scale, scale, 64), Y: rng.uniform(-scale, scale, 64)}
        with np.errstate(all="ignore"):
            v = np.broadcast_to(np.asarray(sn.evaluate(e, env), dtype=float), (64,))
        v = v[~np.isnan(v)]
        slack = 1e-9 * np.maximum(1.0, np.abs(v))
        assert np.all(v >= lo - slack) and np.all(v <= hi + slack), (str(e), lo, hi, v.min(),
                                                                     v.max())
