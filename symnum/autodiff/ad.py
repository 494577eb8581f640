"""Forward and reverse mode as term → term transforms (no tape, no mutation).

Reverse mode walks the reverse topological order of the output's DAG and accumulates adjoint
contributions in a dict keyed by node; each node's contributions are summed once, when the walk
reaches it, so a node with k parents costs O(k), not O(k²). The adjoint program is an ordinary
term DAG: it can be simplified, differentiated again and compiled. Derivatives come from each
Op's `partials` (a missing one raises MissingRuleError naming the primitive).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from symnum.core._gc import no_gc
from symnum.core.build import as_expr, as_number, in_tree_mode
from symnum.core.build import is_zero as _is_zero
from symnum.core.canonical import linear_combination, make_mul
from symnum.core.interface import Generic, arguments, iscall, operation
from symnum.core.primitives import add, mul
from symnum.core.terms import Add, Const, Expr, Mul, Sym, Term
from symnum.core.traversal import postorder
from symnum.errors import ShapeError

ZERO = Const(0)

# Nodes that differentiate themselves, by the type of their op: multi-output nodes (a loop,
# symnum.loops, and the projections of its outputs) whose adjoint is not one term. A rule has
# `vjp(node, adjoint or None, side) -> [(child, cotangent)]` (side: a dict shared by one sweep,
# where projections leave their adjoints for the node they project) and `jvp(node, tangents)
# -> tangent term or None`. symnum.loops registers its ops here.
NODE_RULES: dict[type, Any] = {}


def _node_rule(n: Any) -> Any:
    return NODE_RULES.get(type(n.op)) if NODE_RULES and type(n) is Term else None


def flatten_terms(xs: Any) -> tuple[list, tuple]:
    """A scalar term, a sequence or an array of terms → (flat list of terms, shape)."""
    if isinstance(xs, Expr) or np.isscalar(xs):
        return [as_expr(xs)], ()
    arr = np.asarray(xs, dtype=object)
    return [as_expr(v) for v in arr.ravel()], arr.shape


def _check_wrt(wrt: Sequence) -> list:
    out = []
    for v in wrt:
        if not isinstance(v, Sym):
            raise TypeError(
                f"can only differentiate with respect to symbols, got {type(v).__name__} ({v}); "
                "introduce a symbol and substitute it"
            )
        out.append(v)
    return out


# ---------------------------------------------------------------------------------------------
# local derivatives: what a node's value depends on, and how


def _local_partials(n: Any) -> list[tuple[Any, Any]]:
    """[(child, ∂n/∂child)] for a call node: by default its arguments and its Op's partials.

    The polynomial forms specialise it: d(c₀ + Σ cᵢtᵢ) = Σ cᵢ dtᵢ and the product rule on
    c·Πbᵢ^eᵢ, straight from the dicts. That is add's and mul's partials composed, without
    materialising the views `cᵢ·tᵢ` and `bᵢ^eᵢ` (3x fewer nodes built on sparse Jacobians).
    """
    if not iscall(n):
        return []
    op = operation(n)
    if op.linearity.constant:
        return []
    args = arguments(n)
    return list(zip(args, op.derivatives(tuple(args))))


local_partials = Generic(_local_partials)


@local_partials.register
def _(n: Term) -> list:  # _local_partials for a call as written, without the interface's calls
    op = n.op
    if op.linearity.constant:
        return []
    return list(zip(n.args, op.derivatives(n.args)))


@local_partials.register
def _(n: Add) -> list:  # (the sum's own entries: no mapping view built per node)
    return n.entry_items()


_DIRECT_PRODUCT = 8  # beyond this many bases, prefix/suffix products keep the work O(n)


@local_partials.register
def _(n: Mul) -> list:
    bases = list(n.bases.items())
    if len(bases) <= _DIRECT_PRODUCT:
        out = []
        for b, e in bases:
            rest = dict(n.bases)
            rest[b] = e - 1
            out.append((b, make_mul(n.coeff * e, rest)))
        return out
    factors = [make_mul(1, {b: e}) for b, e in bases]
    pre, suf = [Const(1)], [Const(1)]
    for f in factors:
        pre.append(mul(pre[-1], f))
    for f in reversed(factors):
        suf.append(mul(f, suf[-1]))
    suf.reverse()
    return [(b, mul(n.coeff * e, make_mul(1, {b: e - 1}), pre[i], suf[i + 1]))
            for i, (b, e) in enumerate(bases)]


def _dependencies(n: Any) -> list:
    """The children `local_partials` differentiates through (must list the same nodes)."""
    if not iscall(n) or operation(n).linearity.constant:
        return []
    return arguments(n)


dependencies = Generic(_dependencies)


@dependencies.register
def _(n: Term) -> list:
    return [] if n.op.linearity.constant else list(n.args)


@dependencies.register
def _(n: Add) -> list:
    return n.entry_keys()


@dependencies.register
def _(n: Mul) -> list:
    return n.entry_keys()


def _order_and_active(outputs: list, wrt: list, deps: dict | None = None) -> tuple[list, set]:
    """The derivative-relevant DAG in topological order, and the ids that depend on `wrt`.
    `deps`, when given, receives each node's `dependencies` by id (computed once per node)."""
    deps = {} if deps is None else deps

    def children(n):
        d = deps[id(n)] = dependencies(n)
        return d

    order = postorder(outputs, children)  # expands each node once: one dependencies() call
    active = {id(w) for w in wrt}
    for n in order:
        for a in deps[id(n)]:
            if id(a) in active:
                active.add(id(n))
                break
    return order, active


@no_gc
def vjp_terms(outputs: Sequence[Expr], wrt: Sequence[Sym], cotangents: Sequence[Any]) -> list:
    """Σᵢ cotangentᵢ · ∂outputᵢ/∂w for each w in `wrt`, by one reverse sweep."""
    wrt = _check_wrt(wrt)
    outputs = [as_expr(o) for o in outputs]
    order, active = _order_and_active(outputs, wrt)
    contribs: dict[int, list] = {}  # node -> [(number, term)]: adjoint = Σ number·term
    for o, ct in zip(outputs, cotangents):
        if id(o) in active and not _is_zero(ct):
            contribs.setdefault(id(o), []).append((1, as_expr(ct)))
    side: dict = {}
    for n in reversed(order):
        cs = contribs.get(id(n))
        rule = _node_rule(n)
        if rule is not None:
            for a, ct in rule.vjp(n, combine(cs) if cs else None, side):
                if id(a) in active and not _is_zero(ct):
                    contribs.setdefault(id(a), []).append((1, ct))
            continue
        if not cs or not iscall(n):
            continue
        adj = combine(cs)
        if _is_zero(adj):
            continue
        for a, d in local_partials(n):
            if id(a) in active:
                _push(contribs.setdefault(id(a), []), d, adj)
    return [combine(contribs[id(w)]) if id(w) in contribs else ZERO for w in wrt]


def _push(pairs: list, d: Any, v: Expr) -> None:
    """Append the contribution d·v: a numeric d stays a coefficient (no product node)."""
    dn = as_number(d)
    if dn is None:
        pairs.append((1, mul(d, v)))
    elif dn != 0:
        pairs.append((dn, v))


def combine(pairs: list) -> Expr:
    """Σ number·term as one canonical sum (in tree mode: as written, with add and mul)."""
    if len(pairs) == 1 and pairs[0][0] == 1:
        return pairs[0][1]
    if len(pairs) == 1 and not in_tree_mode():  # c·t: a product's coefficient, in O(1)
        return mul(pairs[0][0], pairs[0][1])
    if all(type(t) is Const for _, t in pairs) and not in_tree_mode():
        # numbers only (a linear node's derivative): no sum to build
        total = 0
        for c, t in pairs:
            total = total + c * t.value
        return Const(total.numerator if type(total) is Fraction and total.denominator == 1
                     else total)
    if in_tree_mode():
        return add(*[t if c == 1 else mul(c, t) for c, t in pairs])
    return linear_combination(pairs)


@no_gc
def jvp_terms(outputs: Sequence[Expr], wrt: Sequence[Sym], tangents: Sequence[Any]) -> list:
    """Σⱼ ∂outputᵢ/∂wⱼ · tangentⱼ for each output, by one forward sweep."""
    wrt = _check_wrt(wrt)
    outputs = [as_expr(o) for o in outputs]
    deps: dict = {}
    order, active = _order_and_active(outputs, wrt, deps)
    tan: dict[int, Expr] = {}
    for w, t in zip(wrt, tangents):
        if not _is_zero(t):
            tan[id(w)] = as_expr(t)
    for n in order:
        i = id(n)
        if i not in active or i in tan:
            continue
        for a in deps[i]:
            if id(a) in tan:
                break
        else:
            continue
        rule = _node_rule(n)
        if rule is not None:
            t = rule.jvp(n, tan)
            if t is not None:
                tan[id(n)] = t
            continue
        parts: list = []
        for a, d in local_partials(n):
            if id(a) in tan:
                _push(parts, d, tan[id(a)])
        if parts:
            tan[id(n)] = combine(parts)
    return [tan.get(id(o), ZERO) for o in outputs]


# ---------------------------------------------------------------------------------------------
# expression level (Symbolics.jl / SymPy names)


def _diff_plan(spec: tuple) -> list:
    """SymPy's argument forms → [(symbol, order), ...]: diff(e, x), diff(e, x, 2),
    diff(e, x, y), diff(e, x, 2, y), diff(e, (x, 2), y)."""
    if not spec:
        raise TypeError("diff(e, x, ...) needs at least one symbol to differentiate by")
    plan: list = []
    for item in spec:
        if isinstance(item, tuple) and len(item) == 2 and not isinstance(item[1], Sym):
            plan.append(list(item))
        elif isinstance(item, (bool, np.bool_)) or (
                not isinstance(item, (int, np.integer)) and not isinstance(item, Expr)):
            raise ValueError(
                f"diff: {item!r} is neither a symbol nor a derivative order; write diff(e, x), "
                "diff(e, x, 2) or diff(e, x, y) (∂²e/∂x∂y)")
        elif isinstance(item, (int, np.integer)):
            if not plan:
                raise ValueError(
                    f"diff: the order {item} must follow a symbol, as in diff(e, x, 2)")
            if plan[-1][1] != 1:
                raise ValueError(f"diff: two orders in a row ({item!r}); write diff(e, x, 2)")
            plan[-1][1] = int(item)
        else:
            plan.append([item, 1])
    for _, n in plan:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"the derivative order n must be a non-negative int, got {n!r}")
    return plan


def diff(e: Any, *spec: Any) -> Any:
    """Derivatives of an expression (or array of expressions), with SymPy's arguments:
    diff(e, x) is ∂e/∂x, diff(e, x, 2) the second derivative, diff(e, x, y) is ∂²e/∂x∂y and
    diff(e, x, 2, y) is ∂³e/∂x²∂y.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> str(sn.diff(sn.sin(x) * x, x))
    'x*cos(x) + sin(x)'
    >>> str(sn.diff(x**2 * y**3, x, y)), str(sn.diff(x**3, x, 2)), str(sn.diff(x**2 * y, x, 2, y))
    ('6*x*y^2', '6*x', '2')
    """
    flat, shape = flatten_terms(e)
    for x, n in _diff_plan(spec):
        for _ in range(n):
            flat = jvp_terms(flat, [x], [1])
    return flat[0] if shape == () else _reshape(flat, shape)


def gradient(e: Any, xs: Iterable[Sym]) -> list:
    """[∂e/∂x for x in xs] by one reverse sweep (cost within a small constant of e's)."""
    flat, shape = flatten_terms(e)
    if shape != ():
        raise ShapeError(f"gradient needs a scalar expression, got shape {shape}; use jacobian")
    xs_flat, _ = flatten_terms(list(xs) if not isinstance(xs, np.ndarray) else xs)
    return vjp_terms(flat, xs_flat, [1])


@no_gc
def jacobian(es: Any, xs: Any, mode: str = "auto") -> np.ndarray:
    """Dense Jacobian as an object array of shape (len(es), len(xs)).

    mode "rev" differentiates each output's own cone by reverse mode; "fwd" pushes one tangent per
    input; "auto" picks reverse when there are no more outputs than inputs.
    """
    outs, _ = flatten_terms(es)
    wrt, _ = flatten_terms(xs)
    wrt = _check_wrt(wrt)
    if mode == "auto":
        mode = "rev" if len(outs) <= len(wrt) else "fwd"
    J = np.empty((len(outs), len(wrt)), dtype=object)
    if mode == "rev":
        for i, o in enumerate(outs):
            J[i, :] = vjp_terms([o], wrt, [1])
    elif mode == "fwd":
        for j, w in enumerate(wrt):
            J[:, j] = jvp_terms(outs, [w], [1])
    else:
        raise ValueError(f"mode must be 'auto', 'rev' or 'fwd', got {mode!r}")
    return J


@no_gc
def hessian(e: Any, xs: Any) -> np.ndarray:
    """Hessian (forward over reverse): one reverse sweep, then one tangent per variable."""
    wrt, _ = flatten_terms(xs)
    g = gradient(e, wrt)
    H = np.empty((len(wrt), len(wrt)), dtype=object)
    for j, w in enumerate(wrt):
        H[:, j] = jvp_terms(g, [w], [1])
    return H


def _reshape(flat: list, shape: tuple) -> np.ndarray:
    arr = np.empty(len(flat), dtype=object)
    arr[:] = flat
    return arr.reshape(shape)
