"""scipy's own functions (array-API coercion through `xp_promote`) trace in array mode."""

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

import symnum as sn
from symnum.errors import TracingError


@pytest.mark.parametrize("n", [10, 10**6])
def test_scipy_rosen_traces_to_array_terms(n):
    f = sn.trace(rosen, np.zeros(n), mode="array")
    assert str(f.outputs) == "sum((1 - x[:-1])^2 + 100*(x[1:] - x[:-1]^2)^2)"


def test_scipy_rosen_value_and_gradient():
    x = np.linspace(-0.5, 1.3, 12)
    g = sn.grad(rosen, mode="array")
    np.testing.assert_allclose(g(x), rosen_der(x), rtol=1e-13, atol=1e-12)
    f = sn.trace(rosen, np.zeros(12), mode="array")
    assert float(sn.evaluate(f.outputs, {f.inputs[0]: x})) == pytest.approx(rosen(x), rel=1e-14)


def test_other_conversions_still_refuse():
    with pytest.raises(TracingError, match="np.asarray"):
        sn.trace(lambda v: np.asarray(v) * 2, np.zeros(3), mode="array")
    with pytest.raises(TracingError):
        sn.trace(lambda v: np.asanyarray(v) * 2, np.zeros(3), mode="array")
