"""Taylor mode on array programs (issue 11): jets through array terms, without scalarising.

Each node of an array program gets coefficient arrays [c₀ … c_K] of t ↦ node(x + t·v + …):
c₀ is the node itself, cₘ an array term of the node's shape. The rules, one per operation:

* a Map: the scalar Taylor engine (symnum.autodiff.taylor.jet_terms) run once on the Map's BODY,
  with each argument's coefficients standing in as fresh placeholders; each cₘ is again one Map
  over (arguments, their coefficients). So every primitive's Taylor rule (its Op block's `taylor`
  slot) works on arrays with no array-specific rule. Scalar terms among the arrays are the
  same with a body of one call.
* linear operations (index maps, take, roll, transpose, reshape, broadcast, pad with a zero fill,
  concatenate, sum, cumsum): the operation applied to each coefficient.
* contractions: multilinear, cₘ = Σ_{m₁+…+m_r=m} einsum(spec, c_{m₁}, …, c_{m_r}).
* prod and cumprod: through log-derivative series (cₘ of log x, summed or cumsummed, then the exp
  recurrence) — undefined where x has a zero, as the first-order rules.
* max / min reductions: each coefficient routed to the positions equal to the result (ties split
  evenly, as the JVP); cummax / cummin: each coefficient filled over the segments of one
  running maximum (array_scan_rules.records); the segment scans: linear in their values.

`batch=B` gives every coefficient above c₀ a leading axis of B directions (one jet per direction
in one program — the exact Laplacian's n directions, the stochastic estimator's samples): the
rules lift their axes by one, c₀ stays unbatched. Cost of building: O(K²) per operation, never
per element. Sits in the autodiff layer; never evaluates anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

import symnum.core.primitives as P
from symnum.arrays.fn import ArrayFn
from symnum.arrays.ops_gather import Take
from symnum.arrays.ops_index import (
    BroadcastTo,
    Concatenate,
    Index,
    Pad,
    Reshape,
    Roll,
    Transpose,
    broadcast_to,
    getitem,
    reshape,
)
from symnum.arrays.ops_map import Map, elementwise, from_body, is_placeholder, placeholder
from symnum.arrays.ops_reduce import Contract, Reduce, Scan, einsum, reduce, scan
from symnum.arrays.ops_segment import SegmentScan
from symnum.arrays.terms import ArrayConst, ArraySym, ArrayTerm, shape_of
from symnum.autodiff.array_rules import arr, zeros
from symnum.autodiff.array_scan_rules import records, segment
from symnum.autodiff.taylor import jet_terms
from symnum.core._gc import no_gc
from symnum.core.interface import arguments, iscall, maketerm, operation
from symnum.core.terms import Const, Expr, Sym
from symnum.core.traversal import free_symbols, postorder
from symnum.errors import MissingRuleError, ShapeError

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Ctx:
    """The jet's order and batch size (None: unbatched coefficients)."""

    def __init__(self, order: int, batch: int | None):
        self.K, self.B = order, batch

    def shape(self, shape: tuple) -> tuple:
        return shape if self.B is None else (self.B,) + tuple(shape)

    def lift(self, c: Any, ndim: int) -> Any:
        """A batched coefficient of a rank-r operand aligned to rank `ndim` (+ batch): the
        batch axis stays in front, missing axes are inserted after it (numpy's broadcasting
        would otherwise align the batch axis with an operand axis)."""
        if self.B is None:
            return c
        s = shape_of(c)[1:]
        return c if len(s) == ndim else reshape(arr(c), (self.B,) + (1,) * (ndim - len(s)) + s)

    def ax(self, a: int) -> int:
        return a if self.B is None else a + 1


# ---------------------------------------------------------------------------------------------
# maps (and scalar terms): the scalar engine on the body


def _map(n: Any, cs: list, ctx: _Ctx) -> list:
    body, args = n.op.body, list(n.args)
    byname = {s.name: s for s in free_symbols(body) if is_placeholder(s)}
    return _body_jet(body, args, [byname.get(f"_{j}") for j in range(len(args))], cs, ctx,
                     shape_of(n))


def _scalar(n: Expr, cs: list, ctx: _Ctx) -> list:
    args = arguments(n)
    phs = [placeholder(j, getattr(a, "dtype", "float64")) if not isinstance(a, Const) else None
           for j, a in enumerate(args)]
    body = maketerm(type(n), operation(n), [p if p is not None else a for p, a in
                                            zip(phs, args)])
    return _body_jet(body, args, phs, cs, ctx, ())


def _body_jet(body, args, phs, cs, ctx, shape) -> list:
    K = ctx.K
    seeds, operands = {}, list(args)
    for p, c in zip(phs, cs):
        if p is None or c is None or all(x is None for x in c[1:]):
            continue
        s = [p]
        for m in range(1, K + 1):
            if c[m] is None:
                s.append(Const(0))
            else:
                s.append(placeholder(len(operands), "float64"))
                operands.append(ctx.lift(arr(c[m]), len(shape)))
        seeds[p] = s
    # the coefficients' placeholders are numbered after the arguments' own (operand order)
    jets = jet_terms([body], seeds, K)[0]
    out = [None]
    for m in range(1, K + 1):
        cm = jets[m]
        if isinstance(cm, Const) and cm.value == 0:
            out.append(None)
            continue
        out.append(from_body(cm, operands, "jet of a map", ctx.shape(shape)))
    return out


# ---------------------------------------------------------------------------------------------
# linear operations: the operation on each coefficient


def _lin(n: Any, c: Any, ctx: _Ctx) -> Any:
    """n's (linear) operation applied to a coefficient of its first argument."""
    op, c = n.op, arr(c)
    if ctx.B is None:
        return op.rebuild((c,) + tuple(n.args[1:]))
    if isinstance(op, Index):
        return getitem(c, (slice(None),) + op.numpy_key())
    if isinstance(op, Take):
        return ArrayTerm(Take(op.axis + 1), (c, n.args[1]))
    if isinstance(op, Roll):
        return ArrayTerm(Roll(op.shift, op.axis + 1), (c,))
    if isinstance(op, Transpose):
        return ArrayTerm(Transpose((0,) + tuple(p + 1 for p in op.perm)), (c,))
    if isinstance(op, Reshape):
        return reshape(c, ctx.shape(n.shape))
    if isinstance(op, BroadcastTo):
        return broadcast_to(ctx.lift(c, len(n.shape)), ctx.shape(n.shape))
    if isinstance(op, Pad):
        return ArrayTerm(Pad(((0, 0),) + op.widths, 0.0), (c,))
    if isinstance(op, Reduce):
        return reduce(op.kind, c, tuple(a + 1 for a in op.axes), op.keepdims)
    if isinstance(op, Scan):
        return scan(op.kind, c, op.axis + 1)
    raise MissingRuleError(f"no batched Taylor rule for {type(op).__name__}")  # pragma: no cover


def _linear(n, cs, ctx):
    (c,) = cs[:1]
    return [None] + [None if x is None else _lin(n, x, ctx) for x in c[1:]]


def _pad(n, cs, ctx):
    c = cs[0]
    widths = n.op.widths if ctx.B is None else ((0, 0),) + n.op.widths
    return [None] + [None if x is None else ArrayTerm(Pad(widths, 0.0), (arr(x),))
                     for x in c[1:]]


def _concatenate(n, cs, ctx):
    out = [None]
    for m in range(1, ctx.K + 1):
        parts = [c[m] if c is not None else None for c in cs]
        if all(p is None for p in parts):
            out.append(None)
            continue
        parts = [arr(p) if p is not None else zeros(ctx.shape(a.shape))
                 for a, p in zip(n.args, parts)]
        out.append(ArrayTerm(Concatenate(ctx.ax(n.op.axis)), tuple(parts)))
    return out


def _contract(n, cs, ctx):
    ins, outsub = n.op.parts()
    r = len(ins)
    bl = next(ch for ch in _LETTERS if ch not in n.op.spec)
    out = [None]
    for m in range(1, ctx.K + 1):
        terms = []
        for comp in _compositions(m, r):
            ops, subs = [], []
            for k, mk in enumerate(comp):
                c = n.args[k] if mk == 0 else (cs[k][mk] if cs[k] is not None else None)
                if c is None:
                    break
                ops.append(arr(c))
                subs.append(ins[k] if mk == 0 or ctx.B is None else bl + ins[k])
            else:
                o = outsub if ctx.B is None else bl + outsub
                terms.append(einsum(",".join(subs) + "->" + o, *ops))
        out.append(_add(terms))
    return out


def _compositions(m: int, r: int):
    """Tuples of r non-negative ints summing to m."""
    if r == 1:
        yield (m,)
        return
    for a in range(m + 1):
        for rest in _compositions(m - a, r - 1):
            yield (a,) + rest


def _add(terms: list) -> Any:
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else elementwise(lambda *a: P.add(*a), terms, "jet sum")


# ---------------------------------------------------------------------------------------------
# reductions and scans


def _log_series(x: Any, c: list, ctx: _Ctx) -> list:
    """[None, L₁ … L_K]: the coefficients of log x (the log's own Taylor rule on a body)."""
    return _body_jet(P.log(placeholder(0)), [x], [placeholder(0)], [c], ctx, shape_of(x))


def _exp_series(y: Any, s: list, ctx: _Ctx) -> list:
    """Coefficients of y·exp(S(t) − S₀) from S's: Yₘ = (1/m) Σⱼ j Sⱼ Y_{m−j}, Y₀ = y."""
    ys = [y]
    for m in range(1, ctx.K + 1):
        terms = [elementwise(lambda a, b, q=Fraction(j, m): P.mul(q, a, b), [s[j], ys[m - j]],
                             "jet of a product")
                 for j in range(1, m + 1) if s[j] is not None and ys[m - j] is not None]
        ys.append(_add(terms))
    return ys


def _sum_or_prod(n, cs, ctx):
    """A reduction's or scan's jet when it sums (linear) or multiplies (exp of the sum of
    logs); None for max/min."""
    if n.op.kind == "sum":
        return _linear(n, cs, ctx)
    if n.op.kind == "prod":
        logs = _log_series(n.args[0], cs[0], ctx)
        s = [None] + [None if v is None else _lin(_SumOf(n), v, ctx) for v in logs[1:]]
        return [None] + _exp_series(n, s, ctx)[1:]
    return None


def _reduce(n, cs, ctx):
    (x,), op, c = n.args, n.op, cs[0]
    if op.kind in ("sum", "prod"):
        return _sum_or_prod(n, cs, ctx)
    kshape = tuple(1 if j in op.axes else s for j, s in enumerate(x.shape))
    yk = n if op.keepdims else reshape(n, kshape)
    hit = elementwise(lambda v, y: P.ifelse(P.eq(v, y), 1.0, 0.0), [x, yk], "jet max")
    cnt = reduce("sum", hit, op.axes, keepdims=True)
    out = [None]
    for v in c[1:]:
        if v is None:
            out.append(None)
            continue
        w = elementwise(lambda h, t, k: P.div(P.mul(h, t), k), [hit, arr(v), cnt], "jet max")
        out.append(reduce("sum", w, tuple(ctx.ax(a) for a in op.axes), op.keepdims))
    return out


class _SumOf:
    """A stand-in node: the sum (or cumsum) with a prod's (cumprod's) parameters, for _lin."""

    def __init__(self, n: Any):
        op = n.op
        self.op = Reduce("sum", op.axes, op.keepdims) if isinstance(op, Reduce) else \
            Scan("sum", op.axis)
        self.args, self.shape = n.args, n.shape


def _scan(n, cs, ctx):
    (x,), op, c = n.args, n.op, cs[0]
    if op.kind in ("sum", "prod"):
        return _sum_or_prod(n, cs, ctx)
    # y(t)_k = x(t)_{p(k)} near t = 0: every coefficient is filled over the records' segments
    return _filled("fill", records(n), [None] + [None if v is None else
                                                 ctx.lift(arr(v), x.ndim) for v in c[1:]],
                   op.axis, ctx)


def _filled(kind: str, starts: Any, coefs: list, axis: int, ctx: _Ctx) -> list:
    """The segment scan `kind` applied to each coefficient (linear in the values); batched
    coefficients get the start mask broadcast along their leading axis."""
    if ctx.B is not None:
        s = starts.shape
        starts = broadcast_to(reshape(arr(starts), (1,) + s), (ctx.B,) + s)
    return [None] + [None if v is None else segment(kind, arr(v), starts, ctx.ax(axis))
                     for v in coefs[1:]]


def _segment(n, cs, ctx):
    """A segment scan: linear in its values, constant in its start mask."""
    if cs[0] is None:
        return [None] * (ctx.K + 1)
    return _filled(n.op.kind, n.args[1], cs[0], n.op.axis, ctx)


RULES = {Map: _map, Reduce: _reduce, Scan: _scan, SegmentScan: _segment, Contract: _contract,
         Index: _linear,
         Take: _linear, Roll: _linear, Transpose: _linear, Reshape: _linear,
         BroadcastTo: _linear, Concatenate: _concatenate, Pad: _pad}


# ---------------------------------------------------------------------------------------------
# the engine


def _kids(n: Any) -> list:
    """A node's arguments: a scalar term's are its `arguments` (the jet of a call is built from
    them), not reverse mode's `dependencies` (the polynomial forms' terms and bases)."""
    if isinstance(n, ArrayTerm):
        return list(n.args)
    return arguments(n) if isinstance(n, Expr) and iscall(n) else []


@no_gc
def jet_arrays(outputs: Sequence[Any], seeds: dict, order: int,
               batch: int | None = None) -> list[list]:
    """Taylor coefficients [c₀ … c_order] of each output (array or scalar terms) when each
    seeded input symbol s follows s + Σₘ seeds[s][m−1]·tᵐ (unseeded inputs are constants).
    With `batch=B` every seed coefficient has a leading axis of B directions, and so has every
    cₘ, m ≥ 1.

    >>> import numpy as np
    >>> from symnum.arrays.evaluate import evaluate_array
    >>> x = ArraySym("x", (3,))
    >>> (c,) = jet_arrays([np.sum(np.exp(x))], {x: [ArrayConst(np.ones(3))]}, 2)
    >>> float(evaluate_array(c[2], {"x": np.zeros(3)}))  # ½ Σ exp(0)
    1.5
    """
    if not isinstance(order, int) or order < 0:
        raise ValueError(f"order must be a non-negative int, got {order!r}")
    ctx = _Ctx(order, batch)
    coefs: dict[int, list] = {}
    for s, cs in seeds.items():
        if not isinstance(s, (ArraySym, Sym)):
            raise TypeError(f"Taylor mode seeds input symbols, got {type(s).__name__} ({s})")
        cs = [arr(c) if c is not None else None for c in list(cs)[:order]]
        for c in cs:
            if c is not None and shape_of(c) != ctx.shape(shape_of(s)):
                raise ShapeError(f"a Taylor coefficient of shape {shape_of(c)} for an input "
                                 f"of shape {shape_of(s)}"
                                 + (f" with {batch} directions" if batch else ""))
        coefs[id(s)] = [s] + cs + [None] * (order - len(cs))
    for n in postorder(list(outputs), _kids):
        if id(n) in coefs or not iscall(n):
            continue
        if getattr(n, "dtype", "float64") not in ("float64", "float32"):
            continue
        if isinstance(n, Expr) and operation(n).linearity.constant:
            continue  # comparisons, sign, floor: every coefficient above c₀ is zero
        kids = [coefs.get(id(a)) for a in _kids(n)]
        if all(k is None for k in kids):
            continue
        if isinstance(n, ArrayTerm):
            rule = RULES.get(type(n.op))
            if rule is None:
                raise MissingRuleError(f"no Taylor rule for the array operation "
                                       f"{type(n.op).__name__}")
            got = rule(n, kids, ctx)
        else:
            got = _scalar(n, kids, ctx)
        coefs[id(n)] = [n] + list(got[1:])
    out = []
    for o in outputs:
        c = coefs.get(id(o)) or [o] + [None] * order
        out.append([c[0]] + [arr(x) if x is not None else zeros(ctx.shape(shape_of(o)))
                             for x in c[1:]])
    return out


# ---------------------------------------------------------------------------------------------
# the transforms on ArrayFn


def _one_arg(fn: ArrayFn, argnums: Any) -> list:
    from symnum.autodiff.array_ad import _syms

    return _syms(fn.inputs[_arg_index(fn, argnums)])


def _arg_index(fn: ArrayFn, argnums: Any) -> int:
    from symnum.autodiff.array_ad import _argnums

    if not isinstance(argnums, int):
        raise TypeError("Taylor transforms take one argument (an int argnums)")
    return _argnums(fn, argnums)[0]


def _like_arg(fn: ArrayFn, argnums: Any, vs: list) -> Any:
    """The direction symbols `vs` in the structure of argument `argnums` (its symbolic leaves
    replaced, in order), so a direction is passed shaped like the argument, as in JAX."""
    from symnum.tracing.pytree import tree_flatten, tree_unflatten

    leaves, td = tree_flatten(fn.inputs[_arg_index(fn, argnums)])
    it = iter(vs)
    return tree_unflatten(td, [next(it) if isinstance(v, (ArraySym, Sym)) else v
                               for v in leaves])


def _direction_syms(ws: list, role: str) -> list:
    # named `direction(x)`: never a Python identifier, so never one of the user's argument names
    return [ArraySym(f"{role}({w.name})", w.shape, "float64") if isinstance(w, ArraySym) else
            Sym(f"{role}({w.name})", "float64") for w in ws]


def taylor_fn(fn: ArrayFn, order: int, argnums: int = 0) -> ArrayFn:
    """The jet transform of an array program: an ArrayFn of (*inputs, direction) whose output is
    the list [c₀ … c_order], each shaped like fn's outputs, of t ↦ f(x + t·direction); the
    direction has the structure and shapes of input `argnums`.

    >>> import numpy as np
    >>> from symnum.arrays.fn import trace
    >>> t = taylor_fn(trace(lambda x: np.sum(np.sin(x)), np.zeros(2), mode="array"), 3)
    >>> [round(float(c), 6) for c in t(np.zeros(2), np.ones(2))]
    [0.0, 2.0, 0.0, -0.333333]
    """
    vs, jets = _directional_jets(fn, order, argnums)
    coeffs = [fn.with_flat_outputs([j[k] for j in jets]).outputs for k in range(order + 1)]
    return ArrayFn(tuple(fn.inputs) + (_like_arg(fn, argnums, vs),), coeffs,
                   tuple(fn.names) + ("direction",))


def derivative_fn(fn: ArrayFn, order: int = 1, argnums: int = 0) -> ArrayFn:
    """dᵏf/dxᵏ for a scalar argument x (outputs of any shape, each entry differentiated), by
    one jet of order k: k!·c_k."""
    ws = _one_arg(fn, argnums)
    if len(ws) != 1 or not isinstance(ws[0], Sym):
        raise ShapeError("derivative needs a scalar argument; use taylor() along a direction")
    jets = jet_arrays(fn.flat_outputs, {ws[0]: [ArrayConst(np.array(1.0))]}, order)
    return fn.with_flat_outputs([_times_factorial(j[order], order) for j in jets])


def directional_fn(fn: ArrayFn, order: int = 1, argnums: int = 0) -> ArrayFn:
    """dᵏ/dtᵏ f(x + t·v) at t = 0: an ArrayFn of (*inputs, v)."""
    vs, jets = _directional_jets(fn, order, argnums)
    outs = fn.with_flat_outputs([_times_factorial(j[order], order) for j in jets]).outputs
    return ArrayFn(tuple(fn.inputs) + (_like_arg(fn, argnums, vs),), outs,
                   tuple(fn.names) + ("direction",))


def _times_factorial(c: Any, k: int) -> Any:
    f = math.factorial(k)
    return c if f == 1 else elementwise(lambda a: P.mul(f, a), [c], "k!·c_k")


def _directional_jets(fn: ArrayFn, order: int, argnums: Any) -> tuple[list, list]:
    ws = _one_arg(fn, argnums)
    vs = _direction_syms(ws, "direction")
    return vs, jet_arrays(fn.flat_outputs, {w: [v] for w, v in zip(ws, vs)}, order)


def _eye_directions(w: Any, offset: int, total: int) -> Any:
    """The rows offset … offset + size(w) − 1 of the identity (total × total), each reshaped
    like w: (total,) + w.shape, built from two index vectors (never a total² constant)."""
    size = int(np.prod(shape_of(w), dtype=np.int64))
    rows = ArrayConst(np.arange(total, dtype=np.float64).reshape(total, 1))
    cols = ArrayConst(np.arange(offset, offset + size, dtype=np.float64).reshape(1, size))
    eye = elementwise(lambda a, b: P.ifelse(P.eq(a, b), 1.0, 0.0), [rows, cols], "identity")
    return reshape(eye, (total,) + shape_of(w))


def laplacian_fn(fn: ArrayFn, argnums: int = 0, method: str = "exact", samples: int = 16,
                 rng: Any = None, distribution: str = "rademacher") -> ArrayFn:
    """Σᵢ ∂²f/∂xᵢ² of a scalar-output array program: `exact` propagates n second-order jets
    along the unit directions as ONE batched jet (O(operations) terms, O(n · cost of f) work);
    `stochastic` the unbiased STDE estimator over `samples` random directions (Rademacher or
    normal), also one batched jet."""
    if method not in ("exact", "stochastic"):
        raise ValueError(f"method must be 'exact' or 'stochastic', got {method!r}")
    if fn.out_shapes != [()] or len(fn.flat_outputs) != 1:
        raise ShapeError(f"laplacian needs a function with one scalar output, got output "
                         f"shapes {fn.out_shapes}")
    ws = _one_arg(fn, argnums)
    sizes = [int(np.prod(shape_of(w), dtype=np.int64)) for w in ws]
    total = sum(sizes)
    if method == "exact":
        B, dirs, off = total, [], 0
        for w, s in zip(ws, sizes):
            dirs.append(_eye_directions(w, off, total))
            off += s
        scale = 2.0
    else:
        if samples < 1:
            raise ValueError("samples must be at least 1")
        r = np.random.default_rng(rng)
        if distribution == "rademacher":
            V = r.choice([-1.0, 1.0], size=(samples, total))
        elif distribution == "normal":
            V = r.standard_normal((samples, total))
        else:
            raise ValueError("distribution must be 'rademacher' or 'normal'")
        B, dirs, off = samples, [], 0
        for w, s in zip(ws, sizes):
            dirs.append(ArrayConst(V[:, off:off + s].reshape((samples,) + shape_of(w))))
            off += s
        scale = 2.0 / samples
    # one batched jet x + t·v: c₂ = ½ vᵀ∇²f v per direction
    ((_, _, c2),) = jet_arrays(fn.flat_outputs, {w: [d] for w, d in zip(ws, dirs)}, 2, batch=B)
    return fn.with_flat_outputs([elementwise(lambda s: P.mul(scale, s),
                                             [reduce("sum", c2, 0)], "laplacian")])
