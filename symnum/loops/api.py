"""scan, fori_loop and while_loop with JAX's signatures: the body is traced once into an Fn and
the loop is one term (symnum.loops.terms), whatever the trip count.

On concrete values (no symbol among the carries, the xs or the body's closure) the loop simply
runs in Python, as JAX's loops do with jit disabled. Inside traced code the carries may be
scalars or arrays of scalar terms (scalar mode) or symbolic arrays (array mode: the body is an
array program, symnum.loops.arrays). While the array tracer runs (symnum.tracing.mode), every
symbolic loop is an array loop, scalar carries too: array-mode AD has rules for those only.
Never compiles or differentiates anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import symnum.loops.terms as T
from symnum.core.build import as_expr
from symnum.core.primitives import ifelse
from symnum.core.terms import Expr, Sym
from symnum.errors import ShapeError, TracingError
from symnum.loops.array_segments import segmented_loop
from symnum.tracing.mode import current as current_mode
from symnum.tracing.protocols import SymArray
from symnum.tracing.pytree import tree_flatten, tree_unflatten


def _is_array_term(v: Any) -> bool:
    return getattr(type(v), "_symnum_array_term", False)


def _symbolic(v: Any) -> bool:
    if isinstance(v, Expr) or _is_array_term(v):
        return True
    return isinstance(v, np.ndarray) and v.dtype == object and any(
        isinstance(e, Expr) for e in v.flat)


def _elements(v: Any, what: str) -> tuple[list, tuple]:
    """A leaf → (its scalar elements as terms, C order; its shape)."""
    if isinstance(v, Expr):
        return [v], ()
    try:
        a = np.asarray(v, dtype=object) if not isinstance(v, np.ndarray) else v
    except Exception:  # noqa: BLE001
        a = None
    if a is None or (a.dtype != object and a.dtype.kind not in "biuf"):
        raise TracingError(f"{what} holds a {type(v).__name__} ({v!r}); loop carries and xs "
                           "are numbers, symbolic expressions or arrays of them")
    try:
        return [as_expr(e) for e in a.ravel()], a.shape
    except Exception as e:  # noqa: BLE001
        raise TracingError(f"{what} holds a value that is not numeric: {e}") from None


def _placeholders(prefix: str, shapes: list) -> tuple[list, list]:
    """Fresh body symbols shaped like `shapes`: (leaves, flat syms)."""
    leaves, flat = [], []
    for shape in shapes:
        n = int(np.prod(shape, dtype=np.int64))
        syms = [Sym(f"{prefix}{len(flat) + k}") for k in range(n)]
        flat.extend(syms)
        if shape == ():
            leaves.append(syms[0])
        else:
            a = np.empty(n, dtype=object)
            a[:] = syms
            leaves.append(a.reshape(shape).view(SymArray))
    return leaves, flat


def _rebuild(elems: list, shapes: list) -> list:
    out, pos = [], 0
    for shape in shapes:
        n = int(np.prod(shape, dtype=np.int64))
        if shape == ():
            out.append(elems[pos])
        else:
            a = np.empty(n, dtype=object)
            a[:] = elems[pos:pos + n]
            out.append(a.reshape(shape).view(SymArray))
        pos += n
    return out


def _check_policy(checkpoint: Any) -> Any:
    """The policy, validated: "store", "recompute", or (loops in array programs) "sqrt" or an
    int k ≥ 1 — keep every k-th carry (symnum.loops.array_segments)."""
    if isinstance(checkpoint, (int, np.integer)) and not isinstance(checkpoint, bool):
        if checkpoint < 1:
            raise ValueError(f"checkpoint=k keeps every k-th carry: k must be ≥ 1, got "
                             f"{checkpoint}")
        return int(checkpoint)
    if checkpoint not in T.POLICIES + ("sqrt",):
        raise ValueError(f"checkpoint must be one of {', '.join(map(repr, T.POLICIES))}, "
                         f"'sqrt' or an int k ≥ 1 (keep every k-th carry), got {checkpoint!r}")
    return checkpoint


def _loop(kind: str, step: Callable, init: Any, xs: Any, length: int, *, reverse: bool = False,
          lo: int = 0, checkpoint: str | int = "store") -> tuple[Any, Any]:
    """Trace `step(carry, x, i) -> (carry, y, cond)` once; build the loop term and its outputs.
    Returns (final carry pytree, stacked ys pytree), or None when nothing is symbolic."""
    c_leaves, c_tree = tree_flatten(init)
    x_leaves, x_tree = tree_flatten(xs)
    if current_mode() == "array" or any(_is_array_term(v) for v in c_leaves + x_leaves):
        return _array_loop(kind, step, init, xs, length, c_leaves + x_leaves, reverse=reverse,
                           lo=lo, checkpoint=checkpoint)
    if checkpoint not in T.POLICIES:
        raise ValueError(f"checkpoint={checkpoint!r} (keep every k-th carry) is implemented for "
                         "loops in array programs (mode='array', the default for array "
                         "arguments); a scalar-mode loop takes 'store' or 'recompute'")
    c_parts = [_elements(v, f"the carry (leaf {k})") for k, v in enumerate(c_leaves)]
    x_parts = [_elements(v, f"xs (leaf {k})") for k, v in enumerate(x_leaves)]
    for (_, shape), k in zip(x_parts, range(len(x_parts))):
        if not shape or shape[0] != length:
            raise ShapeError(f"xs leaf {k} has shape {shape}; every xs leaf needs the leading "
                             f"axis of length {length} (the trip count)")
    c_shapes = [s for _, s in c_parts]
    x_shapes = [s[1:] for _, s in x_parts]
    d = T.depth() + 1
    c_syms_tree, c_syms = _placeholders(f"%{d}c", c_shapes)
    x_syms_tree, x_syms = _placeholders(f"%{d}x", x_shapes)
    i_sym = Sym(f"%{d}i")
    concrete = not any(_symbolic(v) for v in c_leaves + x_leaves)
    T.DEPTH.d = d
    try:
        new_c, ys, cond = step(tree_unflatten(c_tree, c_syms_tree),
                               tree_unflatten(x_tree, x_syms_tree) if x_leaves else None, i_sym)
    except Exception:
        if concrete:  # a body that needs concrete values (Python branches): run it in Python
            return None
        raise
    finally:
        T.DEPTH.d = d - 1
    nc_leaves, nc_tree = tree_flatten(new_c)
    if nc_tree != c_tree:
        raise ShapeError("the body's carry output has another structure than its carry input "
                         f"({nc_tree.kind} vs {c_tree.kind}); return the carry as it came in")
    new_flat: list = []
    for k, (v, shape) in enumerate(zip(nc_leaves, c_shapes)):
        e, s = _elements(v, f"the body's new carry (leaf {k})")
        if s != shape:
            raise ShapeError(f"carry leaf {k} changes shape in the body: {shape} -> {s}")
        new_flat.extend(e)
    y_leaves, y_tree = tree_flatten(ys)
    y_parts = [_elements(v, f"the body's y (leaf {k})") for k, v in enumerate(y_leaves)]
    y_flat = [e for es, _ in y_parts for e in es]
    outs = new_flat + y_flat + ([as_expr(cond)] if cond is not None else [])
    consts = T.closure_of(outs, c_syms + x_syms + [i_sym])
    init_flat = [e for es, _ in c_parts for e in es]
    xs_cols = [es for es, _ in x_parts]
    if not consts and concrete:
        return None
    # xs elements step-major: step s holds every leaf's elements of xs[s]
    xs_flat: list = []
    sizes = [int(np.prod(s, dtype=np.int64)) for s in x_shapes]
    for s in range(length):
        for es, m in zip(xs_cols, sizes):
            xs_flat.extend(es[s * m:(s + 1) * m])
    node = T.build_loop(kind, length, carry_syms=c_syms, x_syms=x_syms, index_sym=i_sym,
                        carry_outs=new_flat, y_outs=y_flat, init=init_flat, xs=xs_flat,
                        cond=cond, reverse=reverse, lo=lo, checkpoint=checkpoint)
    carries = _rebuild([T.carry(node, k) for k in range(len(c_syms))], c_shapes)
    y_shapes = [s for _, s in y_parts]
    y_out, j0 = [], 0
    for shape in y_shapes:
        m = int(np.prod(shape, dtype=np.int64))
        a = np.empty((length, m), dtype=object)
        for s in range(length):
            for j in range(m):
                a[s, j] = T.y_at(node, j0 + j, s)
        y_out.append(a.reshape((length,) + shape).view(SymArray))
        j0 += m
    return tree_unflatten(c_tree, carries), tree_unflatten(y_tree, y_out)


def _array_loop(kind: str, step: Callable, init: Any, xs: Any, length: int, leaves: list,
                **kw: Any) -> tuple[Any, Any] | None:
    """The array loop (symnum.loops.arrays) — also for scalar carries while the array tracer
    runs: array AD, JVP and Taylor have rules for array loops, not for scalar loop nodes, and a
    0-d carry is a plain Sym in both. None, as in `_loop`, when nothing is symbolic: neither
    the carries, the xs nor the body's closure (then the loop runs in Python)."""
    from symnum.loops.arrays import ArrayLoopOut, array_loop

    concrete = not any(_symbolic(v) for v in leaves)
    try:
        out = array_loop(kind, step, init, xs, length, **kw)
    except Exception:
        if concrete:  # a body that needs concrete values (Python branches): run it in Python
            return None
        raise
    if concrete:
        outs = [v for v in tree_flatten(out)[0] if isinstance(getattr(v, "op", None),
                                                                ArrayLoopOut)]
        if not outs or not outs[0].args[0].op.spec.nk:
            return None
    return _segmented(out)


def _segmented(out: Any) -> Any:
    """A loop under checkpoint=k / "sqrt" as its segmented nest (array_segments.segmented_loop:
    the nest is the forward pass, so reverse mode runs each step twice, not three times)."""
    from symnum.loops.arrays import ArrayLoopOut

    leaves, tree = tree_flatten(out)
    node = next((v.args[0] for v in leaves if isinstance(getattr(v, "op", None),
                                                         ArrayLoopOut)), None)
    nest = None if node is None else segmented_loop(node)
    if nest is None:
        return out
    carries, ys = nest
    return tree_unflatten(tree, [(ys if v.op.stacked else carries)[v.op.index]
                                 if isinstance(getattr(v, "op", None), ArrayLoopOut) and
                                 v.args[0] is node else v for v in leaves])


def _length(xs: Any, length: int | None) -> int:
    leaves, _ = tree_flatten(xs)
    lens = {int(np.shape(v)[0]) if np.ndim(v) else -1 for v in leaves}
    if -1 in lens:
        raise ShapeError("every xs leaf needs a leading axis (the steps); got a scalar")
    if length is not None:
        length = int(length)
        lens.add(length)
    if len(lens) > 1:
        raise ShapeError(f"scan: the xs leaves and length= disagree on the trip count: "
                         f"{sorted(lens)}")
    if not lens:
        raise ShapeError("scan needs xs or length= to know the number of steps")
    n = lens.pop()
    if n < 0:
        raise ShapeError(f"scan: the length must be non-negative, got {n}")
    return n


def _stack(ys: list) -> Any:
    if not ys:
        return None
    leaves0, td = tree_flatten(ys[0])
    cols = [[tree_flatten(y)[0][k] for y in ys] for k in range(len(leaves0))]
    return tree_unflatten(td, [np.stack([np.asarray(v) for v in c]) for c in cols])


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, *, checkpoint: str | int = "store") -> tuple[Any, Any]:
    """JAX's `lax.scan`: `carry, y = f(carry, x)` for each x along xs' leading axis; returns
    (final carry, stacked ys). The body is traced once: the loop is one term of the IR.

    checkpoint says what reverse mode keeps of the forward pass: "store" (every step's carry),
    "recompute" (none: each step's carry recomputed from the start, O(n²) steps), and in array
    programs an int k or "sqrt" (every k-th carry, k = ⌈√n⌉: the rest recomputed per segment,
    memory O(n/k + k) carries, each step run twice: the forward pass and once more in its
    segment's recomputation; the loop is built as that nest of loops).

    >>> import numpy as np, symnum as sn
    >>> sn.scan(lambda c, x: (c + x, 2 * c), 0.0, np.arange(3.0))
    (np.float64(3.0), array([0., 0., 2.]))
    """
    checkpoint = _check_policy(checkpoint)
    n = _length(xs, length)

    def step(c, x, i):
        c2, y = _pair(f(c, x), "scan's body")
        return c2, y, None

    out = _loop("scan", step, init, xs, n, reverse=reverse, checkpoint=checkpoint)
    if out is not None:
        return out
    carry, ys = init, []
    x_leaves, x_tree = tree_flatten(xs)
    order = range(n - 1, -1, -1) if reverse else range(n)
    got: dict = {}
    for s in order:
        x = tree_unflatten(x_tree, [v[s] for v in x_leaves]) if x_leaves else None
        carry, got[s] = _pair(f(carry, x), "scan's body")
    ys = [got[s] for s in range(n)]
    return carry, _stack(ys)


def _pair(out: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TracingError(f"{what} must return a pair (new carry, y), got {type(out).__name__}")
    return out[0], out[1]


def _static_int(v: Any, what: str) -> int:
    if isinstance(v, Expr) or _is_array_term(v):
        raise TracingError(
            f"fori_loop's {what} bound is symbolic ({v}); the trip count must be a Python int. "
            "For a data-dependent trip count use sn.while_loop(cond, body, init, max_steps=N)")
    try:
        return int(v)
    except (TypeError, ValueError):
        raise TracingError(f"fori_loop's {what} bound must be an int, got {v!r}") from None


def fori_loop(lower: int, upper: int, body_fun: Callable, init_val: Any, *,
              checkpoint: str | int = "store") -> Any:
    """JAX's `lax.fori_loop`: `val = body_fun(i, val)` for i in range(lower, upper); the bounds
    are Python ints. Traced once: one loop term whatever the trip count.

    >>> import symnum as sn
    >>> float(sn.fori_loop(0, 4, lambda i, v: v * 2 + i, 1.0))
    27.0
    """
    checkpoint = _check_policy(checkpoint)
    lo, hi = _static_int(lower, "lower"), _static_int(upper, "upper")
    n = max(0, hi - lo)

    def step(c, x, i):
        return body_fun(i, c), None, None

    out = _loop("fori", step, init_val, None, n, lo=lo, checkpoint=checkpoint)
    if out is not None:
        return out[0]
    val = init_val
    for i in range(lo, hi):
        val = body_fun(i, val)
    return val


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any, *,
               max_steps: int | None = None, checkpoint: str | int = "store") -> Any:
    """JAX's `lax.while_loop`, bounded: `val = body_fun(val)` while `cond_fun(val)`, at most
    `max_steps` times (needed when the values are symbolic; the loop stops there, cond or not).
    Its derivative is that of the steps actually taken.

    >>> import symnum as sn
    >>> float(sn.while_loop(lambda v: v < 10, lambda v: v * 2, 1.0, max_steps=100))
    16.0
    """
    checkpoint = _check_policy(checkpoint)
    if max_steps is not None:
        max_steps = _static_int(max_steps, "max_steps")
        if max_steps < 0:
            raise ValueError(f"max_steps must be non-negative, got {max_steps}")

    def step(c, x, i):
        p = cond_fun(c)
        new = body_fun(c)
        nl, nt = tree_flatten(new)
        ol, ot = tree_flatten(c)
        if nt != ot:
            raise ShapeError("while_loop's body must return the carry in the structure it got")
        sel = [_select(p, a, b) for a, b in zip(nl, ol)]
        return tree_unflatten(ot, sel), None, p

    leaves, _ = tree_flatten(init_val)
    symbolic = any(_symbolic(v) for v in leaves)
    if max_steps is None and symbolic:
        raise TracingError("while_loop on symbolic values needs max_steps=N (a bound on the "
                           "trip count), so that the loop is a term of bounded cost")
    if max_steps is not None:
        out = _loop("while", step, init_val, None, max_steps, checkpoint=checkpoint)
        if out is not None:
            return out[0]
    val, k = init_val, 0
    while (max_steps is None or k < max_steps) and bool(np.all(cond_fun(val))):
        val = body_fun(val)
        k += 1
    return val


def _select(p: Any, a: Any, b: Any) -> Any:
    if any(_is_array_term(v) for v in (p, a, b)):  # array mode: numpy's where on array terms
        return np.where(p, a, b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_, b_ = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        out = np.empty(np.broadcast_shapes(a_.shape, b_.shape), dtype=object)
        for idx in np.ndindex(out.shape):
            out[idx] = ifelse(p, np.broadcast_to(a_, out.shape)[idx],
                              np.broadcast_to(b_, out.shape)[idx])
        return out.view(SymArray)
    return ifelse(p, a, b)
