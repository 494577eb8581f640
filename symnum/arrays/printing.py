"""Printing array terms numpy-style: `sum((x[1:] - x[:-1]^2)^2)`, `A @ v`, `roll(u, 1)`.

Chains of elementwise maps print as one scalar expression (their bodies composed over the
printed text of their non-elementwise arguments), through the scalar printer
(symnum.io.printing), so precedence and the house conventions (`^` for powers) are the scalar
world's. Never evaluates; one string per DAG node.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symnum.arrays.ops_index import (
    BroadcastTo,
    Concatenate,
    Index,
    Pad,
    Reshape,
    Roll,
    Transpose,
)
from symnum.arrays.ops_map import Map, is_placeholder
from symnum.arrays.ops_reduce import Contract, Reduce, Scan
from symnum.arrays.ops_segment import SegmentScan
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Expr, Sym
from symnum.core.traversal import free_symbols, postorder, substitute
from symnum.io.printing import ATOM, PRODUCT, join, number_str, str_memo

Printed = tuple[str, int]


def _const_text(c: ArrayConst) -> str:
    if c.ndim == 0:
        return number_str(c.value.item())
    if c.size <= 6:
        return np.array2string(c.value, separator=", ")
    return f"const{c.shape}"


def _slice_text(e: tuple, n: int) -> str:
    if e[0] == "i":
        return str(e[1])
    if e[0] == "n":
        return "None"
    _, start, step, length = e
    stop = start + step * length
    if step > 0:
        a = "" if start == 0 else str(start)
        b = "" if stop >= n else str(stop - n) if stop > start or length == 0 else str(stop)
        return f"{a}:{b}" + ("" if step == 1 else f":{step}")
    a = "" if start == n - 1 else str(start)
    b = "" if stop < 0 else str(stop)
    return f"{a}:{b}:{step}"


def _index_text(op: Index, a: ArrayExpr) -> str:
    parts, axis = [], 0
    for e in op.entries:
        if e[0] == "n":
            parts.append("None")
            continue
        parts.append(_slice_text(e, a.shape[axis]))
        axis += 1
    while parts and parts[-1] == ":":
        parts.pop()
    return ", ".join(parts) or "..."


def _paren(p: Printed) -> str:
    return p[0] if p[1] >= ATOM else f"({p[0]})"


def _matmul_spec(spec: str) -> bool:
    return spec in ("ij,jk->ik", "ij,j->i", "j,jk->k", "j,j->")


def _axis_kw(axes: tuple, ndim: int) -> str:
    if len(axes) == ndim:
        return ""
    return f", axis={axes[0] if len(axes) == 1 else axes}"


def _array_text(n: ArrayExpr, parts: list[Printed]) -> Printed:
    op = operation(n)
    args = arguments(n)
    if isinstance(op, Reduce):
        kw = _axis_kw(op.axes, args[0].ndim) + (", keepdims=True" if op.keepdims else "")
        return f"{op.kind}({parts[0][0]}{kw})", ATOM
    if isinstance(op, Index):
        return f"{_paren(parts[0])}[{_index_text(op, args[0])}]", ATOM
    if isinstance(op, Scan):
        kw = f", axis={op.axis}" if args[0].ndim > 1 else ""
        name = {"sum": "cumsum", "prod": "cumprod"}.get(op.kind, f"{op.kind}imum.accumulate")
        return f"{name}({parts[0][0]}{kw})", ATOM
    if isinstance(op, SegmentScan):
        kw = f", axis={op.axis}" if args[0].ndim > 1 else ""
        return f"segment_{op.kind}({parts[0][0]}, starts={parts[1][0]}{kw})", ATOM
    if isinstance(op, Roll):
        kw = f", axis={op.axis}" if args[0].ndim > 1 else ""
        return f"roll({parts[0][0]}, {op.shift}{kw})", ATOM
    if isinstance(op, Reshape):
        return f"reshape({parts[0][0]}, {op.shape})", ATOM
    if isinstance(op, Transpose):
        if op.perm == tuple(reversed(range(len(op.perm)))):
            return f"{_paren(parts[0])}.T", ATOM
        return f"transpose({parts[0][0]}, {op.perm})", ATOM
    if isinstance(op, BroadcastTo):
        return f"broadcast_to({parts[0][0]}, {op.shape})", ATOM
    if isinstance(op, Concatenate):
        return f"concatenate([{', '.join(p[0] for p in parts)}], axis={op.axis})", ATOM
    if isinstance(op, Pad):
        v = "" if op.value == 0 else f", constant_values={op.value:g}"
        return f"pad({parts[0][0]}, {op.widths}{v})", ATOM
    if isinstance(op, Contract):
        if _matmul_spec(op.spec):
            return f"{_paren_at(parts[0], PRODUCT)} @ {_paren_at(parts[1], PRODUCT + 1)}", PRODUCT
        return f"einsum('{op.spec}', {', '.join(p[0] for p in parts)})", ATOM
    return f"{getattr(op, 'name', op)}({', '.join(p[0] for p in parts)})", ATOM


def _paren_at(p: Printed, need: int) -> str:
    return p[0] if p[1] >= need else f"({p[0]})"


def array_str_memo(roots: list) -> dict[int, Printed]:
    """Text and precedence of every node reachable from `roots` (array and scalar terms)."""
    memo: dict[int, Printed] = {}
    shown: dict[int, Any] = {}  # Map node → its composed scalar display expression
    keep: list = []
    for n in postorder(roots):
        if not isinstance(n, ArrayExpr):
            s, prec = str_memo([n])[id(n)]
            memo[id(n)] = (join(s), prec)
            continue
        if isinstance(n, ArraySym):
            memo[id(n)] = (n.name, ATOM)
        elif isinstance(n, ArrayConst):
            memo[id(n)] = (_const_text(n), ATOM)
        elif iscall(n) and isinstance(operation(n), Map):
            body = operation(n).body
            table = {}
            for p in free_symbols(body):
                if not is_placeholder(p):
                    continue
                a = arguments(n)[int(p.name[1:])]
                if id(a) in shown:
                    table[p] = shown[id(a)]
                elif isinstance(a, Expr):
                    table[p] = a
                else:
                    table[p] = Sym(_paren(memo[id(a)]), p.dtype, display=id(a))
            e = substitute(body, table) if table else body
            keep.append(e)
            shown[id(n)] = e
            s, prec = str_memo([e])[id(e)]
            memo[id(n)] = (join(s), prec)
        else:
            memo[id(n)] = _array_text(n, [memo[id(a)] for a in arguments(n)])
    return memo


def to_str(e: Any) -> str:
    """Readable numpy-like text of an array term.

    >>> from symnum.arrays.terms import ArraySym
    >>> import numpy as np
    >>> x = ArraySym("x", (5,))
    >>> to_str(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2))
    'sum(100*(x[1:] - x[:-1]^2)^2)'
    """
    return array_str_memo([e])[id(e)][0]


# ---------------------------------------------------------------------------------------------
# LaTeX: maps through the scalar LaTeX printer, other operations as operators


def _slot_name(k: int) -> str:  # letters only, so latex_name prints it as one \mathrm word
    s = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        s = chr(97 + r) + s
    return "zqslot" + s


def _latex_op(n: ArrayExpr, parts: list[str]) -> str:
    op, args = operation(n), arguments(n)
    if isinstance(op, Reduce):
        sub = "" if len(op.axes) == args[0].ndim else f"_{{{','.join(map(str, op.axes))}}}"
        return rf"\operatorname{{{op.kind}}}{sub}\left({parts[0]}\right)"
    if isinstance(op, Index):
        return rf"{{{parts[0]}}}\left[{_index_text(op, args[0]).replace(':', '{:}')}\right]"
    if isinstance(op, Transpose) and op.perm == tuple(reversed(range(len(op.perm)))):
        return rf"{{{parts[0]}}}^{{T}}"
    if isinstance(op, Contract) and _matmul_spec(op.spec):
        return rf"\left({parts[0]}\right) \left({parts[1]}\right)"
    detail = {Roll: lambda: f", {op.shift}", Reshape: lambda: f", {op.shape}"}
    extra = detail.get(type(op), lambda: "")()
    name = (f"cum{op.kind}" if isinstance(op, Scan) else f"segment\\_{op.kind}"
            if isinstance(op, SegmentScan) else getattr(op, "kind", None)
            or getattr(op, "name", "op"))
    return rf"\operatorname{{{name}}}\left({', '.join(parts)}{extra}\right)"


def to_latex(e: Any) -> str:
    r"""LaTeX for an array term (Jupyter's `_repr_latex_`).

    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (5,))
    >>> print(to_latex(x[1:] ** 2))
    {{x}\left[1{:}\right]}^{2}
    """
    from symnum.io.latex import latex, latex_name

    memo: dict[int, str] = {}
    shown: dict[int, Any] = {}  # Map node → its composed scalar expression over slot symbols
    slots: dict[str, str] = {}  # slot symbol name → LaTeX of the array it stands for
    slot_of: dict[int, Sym] = {}
    for n in postorder([e]):
        if not isinstance(n, ArrayExpr):
            continue
        if isinstance(n, ArraySym):
            memo[id(n)] = latex_name(n.name)
        elif isinstance(n, ArrayConst):
            memo[id(n)] = rf"\mathrm{{{_const_text(n)}}}" if n.ndim else _const_text(n)
        elif isinstance(operation(n), Map):
            body, args = operation(n).body, arguments(n)
            table = {}
            for p in free_symbols(body):
                if is_placeholder(p):
                    a = args[int(p.name[1:])]
                    if isinstance(a, Expr):
                        table[p] = a
                    elif id(a) in shown:
                        table[p] = shown[id(a)]
                    else:
                        if id(a) not in slot_of:
                            slot_of[id(a)] = Sym(_slot_name(len(slot_of)), p.dtype)
                            slots[slot_of[id(a)].name] = memo[id(a)]
                        table[p] = slot_of[id(a)]
            shown[id(n)] = substitute(body, table) if table else body
            text = latex(shown[id(n)])
            for name, sub in slots.items():
                text = text.replace(latex_name(name), "{" + sub + "}")
            memo[id(n)] = text
        else:
            memo[id(n)] = _latex_op(n, [memo.get(id(a)) or latex(a) for a in arguments(n)])
    return memo[id(e)]
