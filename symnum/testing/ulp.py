"""Accuracy of float math in units in the last place (ulp), over a function's whole input range.

Used by symnum's tests and benchmarks to measure compiled transcendentals (scalar libm, glibc's
vector libmvec) against a reference computed in x86 extended precision (`np.longdouble`, 64-bit
significand: its rounding error is 2⁻¹¹ ulp of a double) and against numpy. Needs numpy only;
imports nothing else of symnum.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["FUNCTIONS", "sample", "ulp_error", "max_ulp", "SPECIAL"]

# the functions measured: name → (numpy function, arity, the interesting domain (lo, hi) sampled
# uniformly besides the whole float range)
FUNCTIONS: dict[str, tuple[Callable, int, tuple[float, float]]] = {
    "sin": (np.sin, 1, (-10.0, 10.0)), "cos": (np.cos, 1, (-10.0, 10.0)),
    "tan": (np.tan, 1, (-10.0, 10.0)), "exp": (np.exp, 1, (-745.0, 710.0)),
    "log": (np.log, 1, (0.0, 10.0)), "expm1": (np.expm1, 1, (-40.0, 710.0)),
    "log1p": (np.log1p, 1, (-1.0, 10.0)), "tanh": (np.tanh, 1, (-20.0, 20.0)),
    "sinh": (np.sinh, 1, (-710.0, 710.0)), "cosh": (np.cosh, 1, (-710.0, 710.0)),
    "atan": (np.arctan, 1, (-10.0, 10.0)), "asin": (np.arcsin, 1, (-1.0, 1.0)),
    "acos": (np.arccos, 1, (-1.0, 1.0)), "pow": (np.power, 2, (0.0, 10.0)),
    "atan2": (np.arctan2, 2, (-10.0, 10.0)), "hypot": (np.hypot, 2, (-10.0, 10.0)),
}
# edge inputs every kernel must treat as numpy does (NaN where numpy gives NaN, the same
# infinities and signed zeros)
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
                    1e-300, -1e-300, 1e300, -1e300, 1.7976931348623157e308, -1.7976931348623157e308,
                    1.0, -1.0, 0.5, -0.5, 709.78, 710.0, -745.1, 1e-8, -1e-8, 3.141592653589793])


def sample(n: int, lo: float, hi: float, dtype: str = "float64", seed: int = 0) -> np.ndarray:
    """n points: half uniform in [lo, hi], half spread over every binade of the float format
    (both signs, |x| from the smallest normal to the largest finite value)."""
    rng = np.random.default_rng(seed)
    info = np.finfo(dtype)
    half = n // 2
    a = rng.uniform(lo, hi, half)
    e = rng.uniform(np.log2(float(info.tiny)), np.log2(float(info.max)) - 1e-9, n - half)
    b = np.exp2(e) * rng.choice([-1.0, 1.0], n - half)
    return np.concatenate([a, b]).astype(dtype)


def ulp_error(got: np.ndarray, ref: np.ndarray, dtype: str = "float64") -> np.ndarray:
    """|got − ref| in ulps of `dtype` at ref (ref in higher precision). Matching non-finite
    values (both NaN, equal infinities) count 0; one non-finite and not the other counts inf."""
    got = np.asarray(got, dtype=dtype)
    ref_l = np.asarray(ref, dtype=np.longdouble)
    with np.errstate(all="ignore"):
        ref_r = ref_l.astype(dtype)
        spacing = np.spacing(np.abs(ref_r)).astype(np.longdouble)
        # at the top of the range spacing overflows; use the largest binade's spacing
        spacing = np.where(np.isfinite(spacing), spacing,
                           np.longdouble(np.spacing(np.finfo(dtype).max)))
        err = np.abs(got.astype(np.longdouble) - ref_l) / spacing
    fin_g, fin_r = np.isfinite(got), np.isfinite(ref_r)
    both_nan = np.isnan(got) & np.isnan(ref_r)
    same_inf = np.isinf(got) & np.isinf(ref_r) & (np.sign(got) == np.sign(ref_r))
    err = np.where(fin_g & fin_r, err, np.inf)
    # a result that overflows to inf where the exact value rounds to the largest finite number
    # (or the reverse) is a rounding difference at the edge: measure it against that number
    edge = (np.isinf(got) & fin_r) | (np.isinf(ref_r) & fin_g)
    big = np.finfo(dtype).max
    with np.errstate(all="ignore"):
        g = np.where(np.isinf(got), np.sign(got) * big, got).astype(np.longdouble)
        edge_err = np.abs(g - np.clip(ref_l, -big, big)) / np.longdouble(np.spacing(big))
    err = np.where(edge, edge_err, err)
    return np.where(both_nan | same_inf, 0.0, err).astype(np.float64)


def max_ulp(got: np.ndarray, ref: np.ndarray, dtype: str = "float64") -> float:
    """The largest ulp error (see `ulp_error`); 0.0 for empty input."""
    e = ulp_error(got, ref, dtype)
    return float(e.max()) if e.size else 0.0
