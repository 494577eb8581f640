"""np.linalg on small symbolic matrices: closed formulas over scalar terms, so derivatives,
Taylor series and every backend come from the primitives for free.

det / inv / solve / slogdet by cofactor (Laplace) expansion with shared minors (O(n·2ⁿ) terms,
sizes up to MAX_N); cholesky by its textbook recurrence (any size up to MAX_N); eigh and
eigvalsh of symmetric matrices up to 3×3 in closed form (symnum.tracing.eigh); norm for vectors
and for the matrix norms that need no singular values. No pivoting: the formulas have no
branches, so they are exact as algebra but can round differently from LAPACK (which pivots) on
ill-conditioned matrices. What needs iteration (eig, svd, the nuclear and 2-norms of matrices)
raises a typed error instead of numpy's own. Registers its rules into protocols.FUNCTION_RULES
when imported (by symnum's package __init__); never evaluates a term.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

import symnum.core.primitives as P
import symnum.tracing.eigh as E
from symnum.errors import ShapeError, UnsupportedOperationError
from symnum.tracing.protocols import FUNCTION_RULES, _plain, wrap

MAX_N = 6  # cofactor formulas grow as n·2ⁿ terms: beyond this, a symbolic LU would be needed


def _matrix(a: Any, what: str) -> np.ndarray:
    m = np.asarray(_plain(a), dtype=object)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ShapeError(f"numpy.linalg.{what} needs a square matrix, got shape {m.shape}")
    n = m.shape[0]
    if n > MAX_N:
        raise UnsupportedOperationError(
            f"numpy.linalg.{what} of a symbolic {n}×{n} matrix: symnum expands small matrices "
            f"(n ≤ {MAX_N}) into closed formulas; for larger ones solve numerically "
            "(sn.evaluate / scalarize the inputs) or register a primitive with sn.register")
    return m


def _minors(m: np.ndarray) -> dict:
    """det of rows k..n-1 restricted to each column subset of size n-k (Laplace, memoised)."""
    n = m.shape[0]
    dets: dict[tuple, Any] = {(): 1}
    for size in range(1, n + 1):
        row = n - size
        for cols in itertools.combinations(range(n), size):
            terms = []
            for j, c in enumerate(cols):
                rest = cols[:j] + cols[j + 1:]
                t = P.mul(m[row, c], dets[rest])
                terms.append(t if j % 2 == 0 else P.neg(t))
            dets[cols] = P.add(*terms) if len(terms) > 1 else terms[0]
    return dets


def _det_of(m: np.ndarray) -> Any:
    return _minors(m)[tuple(range(m.shape[0]))]


def det(a):
    """np.linalg.det by cofactor expansion (shared minors)."""
    return _det_of(_matrix(a, "det"))


def _adjugate(m: np.ndarray) -> np.ndarray:
    n = m.shape[0]
    adj = np.empty((n, n), dtype=object)
    if n == 1:
        adj[0, 0] = 1
        return adj
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(m, j, axis=0), i, axis=1)  # transposed cofactor
            c = _det_of(minor)
            adj[i, j] = c if (i + j) % 2 == 0 else P.neg(c)
    return adj


def inv(a):
    """np.linalg.inv as adjugate / det."""
    m = _matrix(a, "inv")
    d = _det_of(m)
    return wrap(np.vectorize(lambda c: P.div(c, d), otypes=[object])(_adjugate(m)))


def solve(a, b):
    """np.linalg.solve(a, b) by Cramer's rule (adjugate · b / det)."""
    m = _matrix(a, "solve")
    rhs = np.asarray(_plain(b), dtype=object)
    if rhs.ndim not in (1, 2) or rhs.shape[0] != m.shape[0]:
        raise ShapeError(f"numpy.linalg.solve: b of shape {rhs.shape} does not match a of shape "
                         f"{m.shape}")
    d = _det_of(m)
    adj = _adjugate(m)
    cols = rhs if rhs.ndim == 2 else rhs[:, None]
    out = np.empty(cols.shape, dtype=object)
    for i in range(cols.shape[0]):
        for k in range(cols.shape[1]):
            out[i, k] = P.div(P.add(*[P.mul(adj[i, j], cols[j, k]) for j in range(m.shape[0])]),
                              d)
    return wrap(out if rhs.ndim == 2 else out[:, 0])


def slogdet(a):
    """np.linalg.slogdet: (sign, log|det|)."""
    d = det(a)
    return P.sign(d), P.log(P.abs(d))


def cholesky(a, upper: bool = False):
    """np.linalg.cholesky (lower factor; upper=True its transpose), the textbook recurrence."""
    m = _matrix(a, "cholesky")
    n = m.shape[0]
    L = np.zeros((n, n), dtype=object)
    for j in range(n):
        s = P.sub(m[j, j], P.add(*[P.pow(L[j, k], 2) for k in range(j)])) if j else m[j, j]
        L[j, j] = P.sqrt(s)
        for i in range(j + 1, n):
            t = P.sub(m[i, j], P.add(*[P.mul(L[i, k], L[j, k]) for k in range(j)])) if j \
                else m[i, j]
            L[i, j] = P.div(t, L[j, j])
    return wrap(L.T.copy() if upper else L)


MAX_EIGH = 3  # closed formulas for symmetric eigenproblems up to 3×3 (symnum.tracing.eigh)


def _symmetric_matrix(a: Any, what: str, uplo: str) -> np.ndarray:
    m = _matrix(a, what)
    if uplo not in ("L", "U"):
        raise ValueError(f"numpy.linalg.{what}: UPLO must be 'L' or 'U', got {uplo!r}")
    if m.shape[0] > MAX_EIGH:
        raise UnsupportedOperationError(
            f"numpy.linalg.{what} of a symbolic {m.shape[0]}×{m.shape[0]} matrix: symnum has "
            f"closed formulas up to 3×3 (the eigenvalues of larger matrices have no formula it "
            "uses); compute them numerically or register a primitive with sn.register")
    return m


def eigvalsh(a, UPLO: str = "L"):  # noqa: N803  (numpy's name)
    """np.linalg.eigvalsh of a symmetric matrix up to 3×3, in closed form, ascending
    (symnum.tracing.eigh: 2×2 by hypot, 3×3 by the trigonometric formula)."""
    m = _symmetric_matrix(a, "eigvalsh", UPLO)
    return wrap(np.array(E.eigvalsh_formula(m, UPLO), dtype=object))


def eigh(a, UPLO: str = "L"):  # noqa: N803
    """np.linalg.eigh of a symmetric matrix up to 3×3: (ascending eigenvalues, unit
    eigenvectors as columns), in closed form; the vectors' sign convention is documented in
    symnum.tracing.eigh (compare with numpy up to each column's sign)."""
    m = _symmetric_matrix(a, "eigh", UPLO)
    w, v = E.eigh_formula(m, UPLO)
    return wrap(np.array(w, dtype=object)), wrap(v)


def _iterative(what: str):
    def refuse(*args, **kwargs):
        raise UnsupportedOperationError(
            f"numpy.linalg.{what} of a symbolic matrix has no closed formula in symnum (it needs "
            "an iterative algorithm); use np.linalg.eigh / eigvalsh for a symmetric matrix up to "
            "3×3, compute it numerically (sn.evaluate / scalarize), or register a primitive "
            "with sn.register")

    return refuse


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (numpy's name)
    """np.linalg.norm: vector norms (any ord) and matrix norms 'fro', 1, -1, inf, -inf."""
    a = np.asarray(_plain(x), dtype=object)
    absx = np.vectorize(P.abs, otypes=[object])

    if axis is None and (a.ndim == 1 or (a.ndim == 2 and ord in (None, "fro"))):
        flat = a.ravel()
        if ord in (None, 2, "fro"):
            r = P.sqrt(P.add(*[P.pow(v, 2) for v in flat])) if len(flat) > 1 else P.abs(flat[0])
        else:
            r = _vector_norm(flat, ord)
        return wrap(np.full((1,) * a.ndim, r, dtype=object)) if keepdims else r
    if a.ndim == 1 or isinstance(axis, (int, np.integer)):
        ax = 0 if axis is None else int(axis)
        r = np.apply_along_axis(lambda v: _vector_norm(v, 2 if ord is None else ord), ax, a)
        return wrap(np.expand_dims(r, ax) if keepdims else r)
    if a.ndim == 2 and axis in (None, (0, 1)):
        if ord in (1, -1):  # max/min column sum
            sums = [P.add(*absx(a[:, j])) if a.shape[0] > 1 else P.abs(a[0, j])
                    for j in range(a.shape[1])]
        elif ord in (np.inf, -np.inf):  # max/min row sum
            sums = [P.add(*absx(a[i, :])) if a.shape[1] > 1 else P.abs(a[i, 0])
                    for i in range(a.shape[0])]
        else:
            return _iterative(f"norm(ord={ord!r})")()
        pick = P.maximum if ord in (1, np.inf) else P.minimum
        r = sums[0]
        for s in sums[1:]:
            r = pick(r, s)
        return wrap(np.full((1, 1), r, dtype=object)) if keepdims else r
    raise UnsupportedOperationError(
        f"numpy.linalg.norm with axis={axis!r} on a symbolic array of {a.ndim} dimensions is not "
        "supported; reshape to a vector or a matrix first")


def _vector_norm(v, ord):  # noqa: A002
    v = list(v)
    if ord == np.inf or ord == -np.inf:
        r = P.abs(v[0])
        for t in v[1:]:
            r = (P.maximum if ord == np.inf else P.minimum)(r, P.abs(t))
        return r
    if ord == 0:
        nz = [P.ifelse(P.ne(t, 0), 1.0, 0.0) for t in v]  # a count, not a logical or
        return P.add(*nz) if len(nz) > 1 else nz[0]
    if ord == 1:
        return P.add(*[P.abs(t) for t in v]) if len(v) > 1 else P.abs(v[0])
    if ord == 2:
        return P.sqrt(P.add(*[P.pow(t, 2) for t in v])) if len(v) > 1 else P.abs(v[0])
    if isinstance(ord, str):
        raise UnsupportedOperationError(
            f"numpy.linalg.norm(ord={ord!r}) is a matrix norm; pass a 2-D array (and 'fro' for "
            "the Frobenius norm)")
    p = float(ord)
    s = P.add(*[P.pow(P.abs(t), p) for t in v]) if len(v) > 1 else P.pow(P.abs(v[0]), p)
    return P.pow(s, 1.0 / p)


RULES = {
    np.linalg.det: det, np.linalg.inv: inv, np.linalg.solve: solve,
    np.linalg.slogdet: slogdet, np.linalg.cholesky: cholesky, np.linalg.eigvalsh: eigvalsh,
    np.linalg.norm: norm, np.linalg.eig: _iterative("eig"), np.linalg.eigh: eigh,
    np.linalg.eigvals: _iterative("eigvals"), np.linalg.svd: _iterative("svd"),
    np.linalg.pinv: _iterative("pinv"), np.linalg.matrix_rank: _iterative("matrix_rank"),
    np.linalg.lstsq: _iterative("lstsq"),
}
FUNCTION_RULES.update(RULES)
