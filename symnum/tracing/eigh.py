"""np.linalg.eigh / eigvalsh of small symmetric symbolic matrices as closed formulas.

Sizes 1, 2 and 3: the formulas are built from primitives (hypot, atan2, cos, sin, acos, sqrt,
ifelse), so derivatives, Taylor series and every backend come for free. Only the triangle named
by UPLO is read, as numpy does. Eigenvalues come ascending, as numpy's.

* 2×2 [[a, b], [b, d]]: λ = m ∓ r with m = (a + d)/2, r = hypot((a − d)/2, b); eigenvectors by
  the rotation angle θ = atan2(2b, a − d)/2 ∈ (−π/2, π/2]: the columns are (−sin θ, cos θ) for
  λ₁ ≤ λ₂ and (cos θ, sin θ) for λ₂. Exact to rounding everywhere; the vectors are undefined
  (and not differentiable) at a = d, b = 0, where every vector is an eigenvector.
* 3×3: eigenvalues by the trigonometric closed form (Smith 1961): q = tr A / 3,
  p = sqrt(Σ(A − qI)ᵢⱼ² / 6), r = det(A − qI) / (2p³) clipped to [−1, 1], φ = acos(r)/3,
  λ₃ = q + 2p cos φ, λ₁ = q + 2p cos(φ + 2π/3), λ₂ = 3q − λ₁ − λ₃. Rounding: like LAPACK's
  (about 1e-14 relative to ‖A‖) for well-separated eigenvalues; near a double eigenvalue acos
  loses half the digits (errors up to about 1e-8·‖A‖). A multiple of the identity (p = 0) gives
  λ = q exactly (p is replaced by 1 in the quotient, where det(A − qI) = 0).
  Eigenvectors: the cross product of two rows of A − λI, the largest of the three pairs
  (ifelse on their squared norms), normalised; defined for a simple eigenvalue only.

eigh returns a plain tuple (w, v), not numpy's named EighResult: a traced function's outputs
must be tuples, lists or dicts (`w, v = np.linalg.eigh(A)` works the same).

Sign convention of eigenvectors (LAPACK's signs are an implementation detail; numpy documents
none): 2×2 as above; 3×3 the column's largest-magnitude component is made positive. Compare
with numpy up to the sign of each column. Registered into np.linalg's rules by
symnum.tracing.linalg; never evaluates a term.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import symnum.core.primitives as P


def symmetric(m: np.ndarray, uplo: str) -> np.ndarray:
    """The symmetric matrix numpy's eigh sees: the lower (UPLO='L') or upper triangle."""
    n = m.shape[0]
    s = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(n):
            lo, hi = max(i, j), min(i, j)
            s[i, j] = m[lo, hi] if uplo == "L" else m[hi, lo]
    return s


def values_2(s: np.ndarray) -> list:
    mid = P.div(P.add(s[0, 0], s[1, 1]), 2)
    r = P.hypot(P.div(P.sub(s[0, 0], s[1, 1]), 2), s[1, 0])
    return [P.sub(mid, r), P.add(mid, r)]


def vectors_2(s: np.ndarray) -> np.ndarray:
    theta = P.div(P.atan2(P.mul(2, s[1, 0]), P.sub(s[0, 0], s[1, 1])), 2)
    c, sn_ = P.cos(theta), P.sin(theta)
    v = np.empty((2, 2), dtype=object)
    v[0, 0], v[1, 0] = P.neg(sn_), c
    v[0, 1], v[1, 1] = c, sn_
    return v


def _det3(b: np.ndarray) -> Any:
    return P.add(
        P.mul(b[0, 0], P.sub(P.mul(b[1, 1], b[2, 2]), P.mul(b[1, 2], b[2, 1]))),
        P.neg(P.mul(b[0, 1], P.sub(P.mul(b[1, 0], b[2, 2]), P.mul(b[1, 2], b[2, 0])))),
        P.mul(b[0, 2], P.sub(P.mul(b[1, 0], b[2, 1]), P.mul(b[1, 1], b[2, 0]))))


def values_3(s: np.ndarray) -> list:
    q = P.div(P.add(s[0, 0], s[1, 1], s[2, 2]), 3)
    shifted = s.copy()
    for i in range(3):
        shifted[i, i] = P.sub(s[i, i], q)
    off = P.add(P.pow(s[1, 0], 2), P.pow(s[2, 0], 2), P.pow(s[2, 1], 2))
    p2 = P.add(*[P.pow(shifted[i, i], 2) for i in range(3)], P.mul(2, off))
    p = P.sqrt(P.div(p2, 6))
    safe = P.ifelse(P.gt(p, 0), p, 1)  # p = 0: A = qI, det(A − qI) = 0 and r = 0
    r = P.div(_det3(shifted), P.mul(2, P.pow(safe, 3)))
    r = P.minimum(P.maximum(r, -1), 1)  # rounding may step out of acos's domain
    phi = P.div(P.acos(r), 3)
    top = P.add(q, P.mul(2, p, P.cos(phi)))
    low = P.add(q, P.mul(2, p, P.cos(P.add(phi, 2 * math.pi / 3))))
    mid = P.sub(P.mul(3, q), P.add(top, low))
    return [low, mid, top]


def _cross(u: list, v: list) -> list:
    return [P.sub(P.mul(u[1], v[2]), P.mul(u[2], v[1])),
            P.sub(P.mul(u[2], v[0]), P.mul(u[0], v[2])),
            P.sub(P.mul(u[0], v[1]), P.mul(u[1], v[0]))]


def _pick(cond, a: list, b: list) -> list:
    return [P.ifelse(cond, x, y) for x, y in zip(a, b)]


def _norm2(v: list) -> Any:
    return P.add(*[P.pow(t, 2) for t in v])


def vector_3(s: np.ndarray, lam: Any) -> list:
    """A unit eigenvector for the simple eigenvalue `lam`, largest component positive."""
    rows = [[P.sub(s[i, j], lam) if i == j else s[i, j] for j in range(3)] for i in range(3)]
    c01, c02, c12 = _cross(rows[0], rows[1]), _cross(rows[0], rows[2]), _cross(rows[1], rows[2])
    n01, n02, n12 = _norm2(c01), _norm2(c02), _norm2(c12)
    best = _pick(P.ge(n01, n02), c01, c02)
    nbest = P.maximum(n01, n02)
    v = _pick(P.ge(nbest, n12), best, c12)
    length = P.sqrt(P.maximum(nbest, n12))
    v = [P.div(t, length) for t in v]
    # sign: the component of largest magnitude positive (the first such on a tie)
    a = [P.abs(t) for t in v]
    big = P.ifelse(P.logical_and(P.ge(a[0], a[1]), P.ge(a[0], a[2])), v[0],
                   P.ifelse(P.ge(a[1], a[2]), v[1], v[2]))
    sign = P.ifelse(P.lt(big, 0), -1, 1)
    return [P.mul(sign, t) for t in v]


def eigvalsh_formula(m: np.ndarray, uplo: str) -> list:
    """Ascending eigenvalues of the n×n (n ≤ 3) symmetric matrix read from `m`'s triangle."""
    s = symmetric(m, uplo)
    n = s.shape[0]
    if n == 1:
        return [s[0, 0]]
    return values_2(s) if n == 2 else values_3(s)


def eigh_formula(m: np.ndarray, uplo: str) -> tuple[list, np.ndarray]:
    """(ascending eigenvalues, eigenvectors as columns) of an n×n (n ≤ 3) symmetric matrix."""
    s = symmetric(m, uplo)
    n = s.shape[0]
    if n == 1:
        v = np.empty((1, 1), dtype=object)
        v[0, 0] = 1.0
        return [s[0, 0]], v
    if n == 2:
        return values_2(s), vectors_2(s)
    w = values_3(s)
    v = np.empty((3, 3), dtype=object)
    for k, lam in enumerate(w):
        v[:, k] = vector_3(s, lam)
    return w, v
