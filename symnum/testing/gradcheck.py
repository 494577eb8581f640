"""Derivative checks in the spirit of JAX's `check_grads`, for users and for symnum's own suites.

Sits beside the public API (re-exported from `symnum.testing`): it compares symnum's forward,
reverse and Taylor modes with central finite differences and with each other, numerically,
through the reference interpreter. It never alters the functions it checks, and its
finite-difference oracle uses only the primal's values, never the transforms under test.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symnum.autodiff.ad import jvp_terms, vjp_terms
from symnum.autodiff.taylor import jet_terms
from symnum.core.evaluate import eval_many
from symnum.core.terms import Expr, Sym
from symnum.errors import ShapeError
from symnum.tracing.fn import Fn, trace
from symnum.tracing.pytree import tree_flatten

__all__ = ["check_grads", "check_jvp_vjp", "check_taylor"]

# fourth-order central stencil: f'(x) ≈ Σ w·f(x + s·h) / h, truncation error h⁴·f⁽⁵⁾/30
_OFFSETS = np.array([-2.0, -1.0, 1.0, 2.0])
_WEIGHTS = np.array([1.0, -8.0, 8.0, -1.0]) / 12.0
_SHOWN = 4  # mismatches listed in a failure message
_LEVELS = itertools.count()  # distinct roles for the fixed tangents of each derived program


@dataclass(frozen=True)
class _Problem:
    """A function as flat lists: outputs (terms) of the float inputs `wrt` at `x0`, other
    symbols fixed by `fixed`. `what` names the function in messages."""

    outs: list
    out_names: list
    wrt: list
    x0: np.ndarray
    fixed: dict
    what: str

    def values(self, env: dict, batch: tuple) -> np.ndarray:
        """Outputs at env, shape (len(outs),) + batch, as float64."""
        vals = eval_many(self.outs, {**self.fixed, **env})
        out = np.empty((len(self.outs),) + batch)
        for i, v in enumerate(vals):
            out[i] = np.broadcast_to(np.asarray(v, dtype=np.float64), batch)
        return out

    def at_x0(self) -> dict:
        return dict(zip(self.wrt, self.x0))

    def point_str(self) -> str:
        items = [f"{w.name}={float(v)!r}" for w, v in zip(self.wrt, self.x0)]
        more = f", … ({len(items)} inputs)" if len(items) > 8 else ""
        return ", ".join(items[:8]) + more


def _as_args(args: Any) -> tuple:
    return args if isinstance(args, tuple) else (args,)


def _problem(f: Any, args: Any, caller: str) -> _Problem:
    """Trace f (unless it is an Fn) and bind the numeric arguments to its input symbols."""
    args = _as_args(args)
    if isinstance(f, Fn):
        fn = f
    elif callable(f):
        fn = trace(f, *args)
    else:
        raise TypeError(f"{caller} takes an Fn or a Python function, got {type(f).__name__}")
    if len(args) != len(fn.inputs):
        raise ShapeError(f"{caller}: the function takes {len(fn.inputs)} argument(s) "
                         f"({', '.join(fn.names)}), got {len(args)}")
    spec_leaves, spec_tree = tree_flatten(fn.inputs)
    arg_leaves, arg_tree = tree_flatten(args)
    if spec_tree != arg_tree:
        raise ShapeError(f"{caller}: the arguments' structure differs from the traced inputs "
                         f"{fn.inputs!r}")
    wrt, x0, fixed = [], [], {}
    for spec, value in zip(spec_leaves, arg_leaves):
        if not isinstance(spec, (Sym, np.ndarray)):
            continue  # a static value the function was specialised on
        v = np.asarray(value)
        syms = [spec] if isinstance(spec, Sym) else list(spec.ravel())
        if v.shape != np.shape(spec):
            raise ShapeError(f"{caller}: an argument for input(s) {syms[0].name}… has shape "
                             f"{v.shape}, the traced input has shape {np.shape(spec)}")
        for s, val in zip(syms, v.ravel()):
            if s.dtype.startswith("float"):
                wrt.append(s)
                x0.append(float(val))
            else:
                fixed[s] = val  # integer and boolean inputs are held fixed
    if not wrt:
        raise ValueError(f"{caller}: the function has no floating-point inputs to differentiate;"
                         " pass floats (1.0, not 1) for the arguments to check")
    what = getattr(f, "__name__", None) or "the traced function"
    return _Problem(fn.flat_outputs, _output_names(fn), wrt, np.asarray(x0), fixed, what)


def _output_names(fn: Fn) -> list[str]:
    """Readable names of the flat outputs: output['a'][1], output[2, 0], …"""
    names: list[str] = []

    def walk(t: Any, path: str) -> None:
        if t is None:
            return
        if isinstance(t, dict):
            for k, v in t.items():
                walk(v, f"{path}[{k!r}]")
        elif isinstance(t, (tuple, list)) and not hasattr(t, "_fields"):
            for i, v in enumerate(t):
                walk(v, f"{path}[{i}]")
        elif isinstance(t, np.ndarray) and t.ndim:
            names.extend(f"{path}[{', '.join(map(str, idx))}]" for idx in np.ndindex(t.shape))
        else:
            names.append(path)

    walk(fn.outputs, "output")
    return names


def _directions(n: int, limit: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Columns to probe: every unit vector when there are few, else random unit vectors."""
    if n <= limit:
        return np.eye(n), True
    v = rng.standard_normal((n, limit))
    return v / np.linalg.norm(v, axis=0), False


def _fresh(syms: Sequence[Sym], role: str) -> list[Sym]:
    # `role` metadata keeps them distinct from any user symbol of the same name
    return [Sym(s.name, s.dtype, role=role) for s in syms]


def _cotangents(m: int, role: str) -> list[Sym]:
    return [Sym(f"c{i}", role=role) for i in range(m)]


def _fd(p: _Problem, V: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Central differences J·v for each column v of V, and |f| per direction (for tolerances).

    All stencil points are evaluated in one batched pass of the interpreter.
    """
    reach = np.where(V != 0, np.abs(p.x0)[:, None], 0.0).max(axis=0, initial=0.0)
    h = eps * np.maximum(1.0, reach)  # step relative to the inputs it moves
    X = p.x0[:, None, None] + _OFFSETS[None, :, None] * h[None, None, :] * V[:, None, :]
    F = p.values(dict(zip(p.wrt, X)), X.shape[1:])
    fd = np.tensordot(F, _WEIGHTS, axes=([1], [0])) / h
    scale = 1.0 + np.max(np.abs(F), axis=(0, 1), initial=0.0)
    return fd, scale


def _vec_str(v: np.ndarray) -> str:
    return np.array2string(v, precision=3, threshold=6, separator=", ")


def _fail(title: str, p: _Problem, rows: list, extra: str) -> AssertionError:
    rows.sort(key=lambda r: -r[0])
    lines = [f"check_grads: {title}", f"  function: {p.what}", f"  at {p.point_str()}"]
    for _, where, ad, fd, tol in rows[:_SHOWN]:
        lines.append(f"  {where}: AD = {float(ad)!r}, FD = {float(fd)!r} "
                     f"(|AD − FD| = {abs(ad - fd):.3g} > tolerance {tol:.3g})")
    if len(rows) > _SHOWN:
        lines.append(f"  … and {len(rows) - _SHOWN} more mismatches")
    lines.append(f"  ({extra})")
    return AssertionError("\n".join(lines))


def _check_first(p: _Problem, modes: Sequence[str], eps: float, rtol: float, atol: float,
                 rng: np.random.Generator, limit: int, extra: str) -> None:
    n, m = len(p.wrt), len(p.outs)
    V, v_units = _directions(n, limit, rng)
    fd, scale = _fd(p, V, eps)  # (m, dirs), (dirs,)
    base = p.at_x0()

    def where(out: str, j: int) -> str:
        if v_units:
            return f"∂{out}/∂{p.wrt[j].name}"
        return f"∂{out} along v = {_vec_str(V[:, j])}"

    if "fwd" in modes:
        tans = _fresh(p.wrt, "gradcheck-tangent")
        jvp = _Problem(jvp_terms(p.outs, p.wrt, tans), [], p.wrt, p.x0, p.fixed, p.what)
        jv = jvp.values({**base, **dict(zip(tans, V))}, (V.shape[1],))
        tol = atol * scale[None, :] + rtol * np.maximum(np.abs(jv), np.abs(fd))
        bad = [(abs(jv[i, j] - fd[i, j]) / tol[i, j], where(p.out_names[i], j),
                jv[i, j], fd[i, j], tol[i, j])
               for i, j in zip(*np.nonzero(~(np.abs(jv - fd) <= tol)))]
        if bad:
            raise _fail("forward mode (jvp) disagrees with finite differences", p, bad, extra)
    if "rev" in modes and m:
        U, u_units = _directions(m, limit, rng)
        cts = _cotangents(m, "gradcheck-cotangent")
        # Jᵀu for each column u of U, by one symbolic reverse sweep evaluated per column
        grads = vjp_terms(p.outs, p.wrt, cts)
        jtu = _Problem(grads, [], p.wrt, p.x0, p.fixed, p.what).values(
            {**base, **dict(zip(cts, U))}, (U.shape[1],))  # (n, q)
        ad = jtu.T @ V  # ⟨Jᵀu, v⟩, (q, dirs)
        fdi = U.T @ fd  # ⟨u, J v⟩
        size = np.abs(U).T @ np.abs(fd)  # Σ|uᵢ (Jv)ᵢ|: immune to cancellation in the sum
        tol = atol * np.abs(U).sum(axis=0)[:, None] * scale[None, :] + rtol * np.maximum(
            size, np.abs(ad))
        bad = []
        for a, j in zip(*np.nonzero(~(np.abs(ad - fdi) <= tol))):
            of = p.out_names[a] if u_units else f"(uᵀf for u = {_vec_str(U[:, a])})"
            bad.append((abs(ad[a, j] - fdi[a, j]) / tol[a, j], where(of, j),
                        ad[a, j], fdi[a, j], tol[a, j]))
        if bad:
            raise _fail("reverse mode (vjp) disagrees with finite differences", p, bad, extra)


def _derived(p: _Problem, mode: str, rng: np.random.Generator) -> _Problem:
    """The forward- or reverse-mode program of p along a fixed random tangent/cotangent: its
    derivatives are p's second derivatives (checked like the first ones, one level down)."""
    if mode == "fwd":
        v = rng.standard_normal(len(p.wrt))
        v /= np.linalg.norm(v)
        tans = _fresh(p.wrt, f"gradcheck-tangent-{next(_LEVELS)}")
        outs = jvp_terms(p.outs, p.wrt, tans)
        names = [f"(∂{o}·t)" for o in p.out_names]
        what = f"the jvp of {p.what} along t = {_vec_str(v)}"
        return _Problem(outs, names, p.wrt, p.x0, {**p.fixed, **dict(zip(tans, v))}, what)
    u = rng.standard_normal(len(p.outs))
    u /= max(np.linalg.norm(u), 1e-300)
    cts = _cotangents(len(p.outs), f"gradcheck-cotangent-{next(_LEVELS)}")
    outs = vjp_terms(p.outs, p.wrt, cts)
    names = [f"(uᵀ∂f/∂{w.name})" for w in p.wrt]
    what = f"the vjp of {p.what} with u = {_vec_str(u)}"
    return _Problem(outs, names, p.wrt, p.x0, {**p.fixed, **dict(zip(cts, u))}, what)


def check_grads(f: Callable | Fn, args: Any, order: int = 1,
                modes: Sequence[str] = ("fwd", "rev"), eps: float = 1e-3,
                rtol: float = 1e-6, atol: float = 1e-8, *, rng: Any = 0,
                max_directions: int = 32) -> None:
    """Check forward and/or reverse mode derivatives of f at args against finite differences.

    `args` is a tuple of positional arguments (a non-tuple is one argument); each is a float, an
    array or a pytree of them; integer inputs are held fixed. Derivatives are compared along
    every input (and, in reverse mode, for every output) when there are at most
    `max_directions` of them, else along that many random unit directions. `order=2` also checks
    the derivatives of the forward- and reverse-mode programs (second derivatives), and so on.
    Finite differences use a fourth-order central stencil of step eps·max(1, |x|); a value
    passes when |AD − FD| ≤ atol·(1 + max|f|) + rtol·max(|AD|, |FD|) (rounding in FD grows
    with |f|; in reverse mode |FD| is Σ|uᵢ (J v)ᵢ|, so cancellation in ⟨u, J v⟩ cannot fail it).
    Raises AssertionError naming the output, the input or direction, and both values.

    >>> import numpy as np
    >>> check_grads(lambda x, y: np.sin(x) * y ** 2, (0.3, 1.5), order=2)
    >>> from symnum import register
    >>> bad = register("bad_sin", np.sin, partials=lambda x: (x,), replace=True)
    >>> check_grads(lambda x: bad(x), (0.3,))
    Traceback (most recent call last):
      ...
    AssertionError: check_grads: forward mode (jvp) disagrees with finite differences
    ...
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order must be a positive int, got {order!r}")
    unknown = set(modes) - {"fwd", "rev"}
    if unknown or not modes:
        raise ValueError(f"check_grads: modes must be a non-empty subset of ('fwd', 'rev'), "
                         f"got {tuple(modes)!r}")
    rng = np.random.default_rng(rng)
    levels = [_problem(f, args, "check_grads")]
    for k in range(1, order + 1):
        extra = (f"derivative order {k} of {order}; eps={eps}, rtol={rtol}, atol={atol}; "
                 "loosen them for badly scaled functions, and keep away from kinks")
        for p in levels:
            _check_first(p, modes, eps, rtol, atol, rng, max_directions, extra)
        if k < order:
            levels = [_derived(p, mode, rng) for p in levels for mode in modes]


def check_jvp_vjp(f: Callable | Fn, args: Any, rng: Any = 0, trials: int = 3,
                  rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """Check that forward and reverse mode agree: ⟨v, J u⟩ = ⟨Jᵀ v, u⟩ for random u and v.

    Both sides come from symnum's AD (no finite differences), so the tolerance is tight: a
    pair passes when the two sides differ by at most atol + rtol·Σ|vᵢ (J u)ᵢ| (cancellation-proof).

    >>> import numpy as np
    >>> check_jvp_vjp(lambda x: np.array([x[0] * x[1], np.exp(x[1])]), np.array([0.5, -1.0]))
    """
    p = _problem(f, args, "check_jvp_vjp")
    rng = np.random.default_rng(rng)
    n, m = len(p.wrt), len(p.outs)
    if m == 0:
        return
    U = rng.standard_normal((n, trials))
    W = rng.standard_normal((m, trials))
    tans = _fresh(p.wrt, "gradcheck-tangent")
    cts = _cotangents(m, "gradcheck-cotangent")
    jv = jvp_terms(p.outs, p.wrt, tans)
    vj = vjp_terms(p.outs, p.wrt, cts)
    both = _Problem(jv + vj, [], p.wrt, p.x0, p.fixed, p.what)
    vals = both.values({**p.at_x0(), **dict(zip(tans, U)), **dict(zip(cts, W))}, (trials,))
    Ju, JTw = vals[:m], vals[m:]
    lhs = np.sum(W * Ju, axis=0)
    rhs = np.sum(JTw * U, axis=0)
    size = np.maximum(np.sum(np.abs(W * Ju), axis=0), np.sum(np.abs(JTw * U), axis=0))
    tol = atol + rtol * size
    bad = np.flatnonzero(~(np.abs(lhs - rhs) <= tol))
    if bad.size:
        t = bad[0]
        raise AssertionError(
            "check_jvp_vjp: forward and reverse mode disagree\n"
            f"  at {p.point_str()}\n  u = {_vec_str(U[:, t])}, v = {_vec_str(W[:, t])}\n"
            f"  ⟨v, J u⟩ (forward) = {float(lhs[t])!r}\n"
            f"  ⟨Jᵀ v, u⟩ (reverse) = {float(rhs[t])!r}\n"
            f"  |difference| = {abs(lhs[t] - rhs[t]):.3g} > tolerance {tol[t]:.3g} "
            f"(rtol={rtol}, atol={atol})")


def check_taylor(f: Callable | Fn, args: Any, order: int = 4, *, direction: Any = None,
                 rng: Any = 0, rtol: float = 1e-8, atol: float = 1e-10) -> None:
    """Check Taylor mode against nested forward mode: along a direction v, the jet's k-th
    coefficient times k! must equal the k-th nested directional derivative, for k ≤ order.

    `direction` is a flat vector over the float inputs (default: a random unit vector). The
    nested derivatives grow quickly in size with k, so keep `order` moderate (≤ 6). Both sides
    are exact up to rounding: order k passes when every output's |k!·c_k − D^k f[v, …, v]| ≤
    atol·(1 + s) + rtol·max(s, |k!·c_k|), with s the largest |D^k f| over the outputs.

    >>> import numpy as np
    >>> check_taylor(lambda x: np.exp(np.sin(x)), 0.7, order=5)
    """
    if not isinstance(order, int) or order < 0:
        raise ValueError(f"check_taylor: order must be a non-negative int, got {order!r}")
    p = _problem(f, args, "check_taylor")
    n = len(p.wrt)
    if direction is None:
        v = np.random.default_rng(rng).standard_normal(n)
        v /= np.linalg.norm(v)
    else:
        v = np.asarray(direction, dtype=np.float64).ravel()
        if v.shape != (n,):
            raise ShapeError(f"check_taylor: direction needs {n} components (one per float "
                             f"input), got shape {np.shape(direction)}")
    vs = [float(c) for c in v]
    jets = jet_terms(p.outs, {w: [w, c] for w, c in zip(p.wrt, vs)}, order)
    nested = [list(p.outs)]
    for _ in range(order):
        nested.append(jvp_terms(nested[-1], p.wrt, vs))
    flat: list[Expr] = [j[k] for k in range(order + 1) for j in jets] + [
        d for level in nested for d in level]
    vals = _Problem(flat, [], p.wrt, p.x0, p.fixed, p.what).values(p.at_x0(), ())
    m = len(p.outs)
    coef = vals[: m * (order + 1)].reshape(order + 1, m)
    deriv = vals[m * (order + 1):].reshape(order + 1, m)
    for k in range(order + 1):
        a, b = coef[k] * math.factorial(k), deriv[k]
        scale = np.max(np.abs(b), initial=0.0)
        tol = atol * (1.0 + scale) + rtol * np.maximum(np.maximum(np.abs(a), np.abs(b)), scale)
        bad = np.flatnonzero(~(np.abs(a - b) <= tol))
        if bad.size:
            i = bad[0]
            raise AssertionError(
                f"check_taylor: Taylor mode disagrees with nested forward mode at order {k}\n"
                f"  function: {p.what}, {p.out_names[i]}\n  at {p.point_str()}\n"
                f"  along v = {_vec_str(v)}\n"
                f"  {k}!·c_{k} (Taylor) = {float(a[i])!r}\n"
                f"  D^{k} f[v, …] (nested jvp) = {float(b[i])!r}\n"
                f"  |difference| = {abs(a[i] - b[i]):.3g} > tolerance {tol[i]:.3g} "
                f"(rtol={rtol}, atol={atol})")
