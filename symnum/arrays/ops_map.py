"""The array operation base class, and Map: an elementwise map whose body is scalar IR.

`Map(body)` applied to arguments A₀…Aₖ (arrays or scalar terms) is `out[i] = body(A₀[i'], …)`
under numpy broadcasting, where `body` is an ordinary hash-consed scalar term over placeholder
symbols `_0 … _k`. So every scalar primitive — its numpy impl, partials, Taylor rule, cost and
lowering name in its Op block — works on arrays with no array-specific rule. One Map term per
numpy call, whatever the size. This module must never build per-element terms (scalarize does).

Differentiation (issue 11), stated here so the design stays ready: JVP of a Map is a Map whose
body is Σ ∂body/∂_j · ṫ_j (the partials from the Op blocks, over the same placeholders); the
VJP to argument j is the Map `ȳ · ∂body/∂_j`, summed (Reduce "sum") over the axes argument j was
broadcast along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from symnum.arrays.ops_base import ArrayOp, broadcast_shape
from symnum.arrays.ops_index import broadcast_to
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArrayTerm, Shape, shape_of
from symnum.core.build import as_expr
from symnum.core.evaluate import eval_many
from symnum.core.interface import iscall
from symnum.core.terms import Const, Expr, Sym, is_number
from symnum.core.traversal import free_symbols, infer_dtype, postorder, substitute
from symnum.errors import TracingError, UnsupportedOperationError


def placeholder(i: int, dtype: str = "float64") -> Sym:
    """The scalar standing for argument i inside a Map body."""
    return Sym(f"_{i}", dtype, placeholder=True)


def is_placeholder(s: Any) -> bool:
    return isinstance(s, Sym) and bool(s.meta.get("placeholder", False))


def placeholder_index(s: Sym) -> int:
    return int(s.name[1:])


@dataclass(frozen=True, eq=True)
class Map(ArrayOp):
    """Elementwise `body` (a scalar term over placeholders _0.._{nin-1}) with broadcasting."""

    body: Any
    nin: int
    name = "map"

    def infer(self, args):
        if len(args) != self.nin:
            raise TypeError(f"this map takes {self.nin} arguments, got {len(args)}")
        shape = broadcast_shape([shape_of(a) for a in args], f"elementwise {self.label()}")
        return shape, map_dtype(self.body)

    def label(self) -> str:
        return str(self.body)

    def impl(self, *vals):
        ph = {p.name: p for p in postorder([self.body]) if is_placeholder(p)}
        env = {ph[f"_{i}"]: v for i, v in enumerate(vals) if f"_{i}" in ph}
        shape = np.broadcast_shapes(*[np.shape(v) for v in vals])
        with np.errstate(all="ignore"):
            (r,) = eval_many([self.body], env)
        dt = map_dtype(self.body)
        return np.array(np.broadcast_to(np.asarray(r, dtype=dt), shape))

    def scalarize(self, elems):
        arrs = np.broadcast_arrays(*elems)
        phs = {p.name: p for p in postorder([self.body]) if is_placeholder(p)}
        out = np.empty(arrs[0].shape if arrs else (), dtype=object)
        for idx in np.ndindex(out.shape):
            m = {phs[f"_{i}"]: a[idx] for i, a in enumerate(arrs) if f"_{i}" in phs}
            out[idx] = substitute(self.body, m)
        return out

    def rebuild(self, args):
        return from_body(self.body, list(args), f"elementwise {self.label()}")


def map_dtype(body: Any) -> str:
    if not isinstance(body, Expr):
        return "float64"
    dt = infer_dtype(body)
    return dt if dt in ("bool", "float32") else "float64"


# ---------------------------------------------------------------------------------------------
# building maps


def as_array_arg(a: Any, what: str) -> Any:
    """An operand of an array operation: array terms and non-constant scalar terms as they are,
    numbers as Const, numeric ndarrays as ArrayConst (0-d ones as numbers)."""
    if isinstance(a, ArrayExpr):
        return a
    if isinstance(a, Expr):
        return a
    if is_number(a):
        return Const(a)
    if isinstance(a, np.ndarray):
        if a.dtype == object:
            raise TracingError(
                f"{what}: an array of scalar terms (a scalar-mode SymArray) cannot mix with "
                "symbolic arrays; trace the whole program in one mode, or build the array with "
                "np.stack of symbolic values")
        if a.ndim == 0:
            return Const(a[()])
        return ArrayConst(a)
    if isinstance(a, (list, tuple)):
        return as_array_arg(np.asarray(a), what)
    raise UnsupportedOperationError(
        f"{what}: cannot use a {type(a).__name__} ({a!r}) in a symbolic array expression")


def elementwise(fn: Any, args: tuple | list, what: str | None = None) -> Any:
    """`fn` (an Op or a function of scalar terms) mapped over array/scalar arguments.

    >>> import symnum as sn
    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (4,))
    >>> m = elementwise(sn.sin, [x])
    >>> m.shape, str(m.op.body)
    ((4,), 'sin(_0)')
    """
    what = f"elementwise {what or getattr(fn, 'name', getattr(fn, '__name__', 'map'))}"
    conv = [as_array_arg(a, what) for a in args]
    operands: list = []
    slots: dict[int, Sym] = {}
    inputs = []
    for a in conv:
        if isinstance(a, Const):
            inputs.append(a)
            continue
        p = slots.get(id(a))
        if p is None:
            p = slots[id(a)] = placeholder(len(operands), a.dtype)
            operands.append(a)
        inputs.append(p)
    shape = broadcast_shape([shape_of(a) for a in operands], what)
    body = fn(*inputs)
    return from_body(body, operands, what, shape)


def from_body(body: Any, operands: list, what: str, shape: Shape | None = None) -> Any:
    """The simplest term for Map(body)(operands) of the given broadcast shape."""
    if shape is None:
        shape = broadcast_shape([shape_of(a) for a in operands], what)
    if isinstance(body, ArrayExpr):
        raise TracingError(f"{what}: the scalar body produced an array term")
    if not isinstance(body, Expr):
        body = as_expr(body)
    if not iscall(body) and not isinstance(body, Sym):  # a constant
        dt = map_dtype(body)
        return broadcast_to(ArrayConst(np.array(body.value, dtype=dt)), shape)
    used = sorted(placeholder_index(s) for s in free_symbols(body) if is_placeholder(s))
    if any(not is_placeholder(s) for s in free_symbols(body)):
        raise TracingError(f"{what}: a map body may only read its placeholders")
    if used != list(range(len(operands))):  # drop unused operands, renumber the rest
        ren = {placeholder(i, operands[i].dtype): placeholder(k, operands[i].dtype)
               for k, i in enumerate(used)}
        body = substitute(body, ren) if ren else body
        operands = [operands[i] for i in used]
    if is_placeholder(body):  # the identity map
        r = operands[0]
        if not isinstance(r, ArrayExpr):
            r = _scalar_as_array(r)
    else:
        r = ArrayTerm(Map(body, len(operands)), tuple(operands))
    return r if r.shape == tuple(shape) else broadcast_to(r, shape)


def _scalar_as_array(s: Expr) -> ArrayExpr:
    """A scalar term as a 0-d array term (the identity map: a body that is its placeholder)."""
    return ArrayTerm(Map(placeholder(0, s.dtype), 1), (s,))
