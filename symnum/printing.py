"""Printing terms as readable text (`sin(x)^2 + 2*x*y`) and as LaTeX.

Works only through the term interface and the Op's printing facts (infix symbol, precedence,
LaTeX template). Walks iteratively with one string per DAG node, so deep graphs print without
recursion errors.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .interface import arguments, iscall, operation
from .terms import Const, Sym
from .traversal import postorder

ATOM = 1000  # precedence of leaves and calls: never parenthesised


def _num_str(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}"
    if isinstance(v, float) or hasattr(v, "dtype"):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        r = repr(f)
        return r[:-2] if r.endswith(".0") and abs(f) < 1e16 else r
    return str(v)


def _num_prec(v) -> int:
    if isinstance(v, Fraction) and v.denominator != 1:
        return 20
    s = _num_str(v)
    return 40 if s.startswith("-") else ATOM


def _paren(s: str, prec: int, need: int) -> str:
    return f"({s})" if prec < need else s


def _str_node(n, parts) -> tuple[str, int]:
    op = operation(n)
    name = getattr(op, "name", None) or getattr(op, "__name__", str(op))
    args = arguments(n)
    if name == "add":
        return _str_sum(args, parts), 10
    if name == "mul":
        return _str_product(args, parts)
    if name == "pow":
        (b, bp), (e, ep) = parts[0], parts[1]
        ev = args[1].value if isinstance(args[1], Const) else None
        if ev is not None and not isinstance(ev, bool) and ev < 0:
            pos = _num_str(-ev)
            body = _paren(b, bp, 51) if pos == "1" else f"{_paren(b, bp, 51)}^{pos}"
            return f"1/{body}", 20
        return f"{_paren(b, bp, 51)}^{_paren(e, ep, 51)}", 50
    infix = getattr(op, "infix", None)
    prec = getattr(op, "precedence", 100)
    if infix and len(args) == 1:
        s, p = parts[0]
        return f"{infix}{_paren(s, p, prec + 1)}", prec
    if infix and len(args) >= 2:
        left = _paren(parts[0][0], parts[0][1], prec)
        rest = [_paren(s, p, prec + 1) for s, p in parts[1:]]
        return f" {infix} ".join([left, *rest]), prec
    return f"{name}({', '.join(s for s, _ in parts)})", ATOM


def _str_sum(args, parts) -> str:
    items = []
    const = None
    for a, (s, _p) in zip(args, parts):
        if isinstance(a, Const):
            const = s
        else:
            items.append(s)
    items.sort(key=lambda s: s.lstrip("-").lstrip("0123456789./*"))
    if const is not None:
        items.append(const)
    out = items[0]
    for s in items[1:]:
        out += f" - {s[1:]}" if s.startswith("-") else f" + {s}"
    return out


def _str_product(args, parts) -> tuple[str, int]:
    coeff = None
    num, den = [], []
    for a, (s, p) in zip(args, parts):
        if isinstance(a, Const) and coeff is None:
            coeff = a.value
            continue
        if iscall(a) and _opname(a) == "pow" and isinstance(arguments(a)[1], Const):
            ev = arguments(a)[1].value
            if not isinstance(ev, bool) and ev < 0:
                den.append(s[2:] if s.startswith("1/") else s)
                continue
        num.append(_paren(s, p, 20))
    num.sort(key=lambda s: s.lstrip("("))
    sign = ""
    if coeff is not None:
        if coeff == -1:
            sign = "-"
        elif coeff != 1:
            if isinstance(coeff, Fraction) and coeff.denominator != 1 and coeff.numerator in (1, -1):
                sign = "-" if coeff < 0 else ""
                den.insert(0, str(coeff.denominator))
            else:
                num.insert(0, _num_str(coeff))
    body = "*".join(num) if num else "1"
    if den:
        d = den[0] if len(den) == 1 else "(" + "*".join(den) + ")"
        body = f"{body}/{d}"
    return sign + body, (40 if sign else 20)


def _opname(n) -> str:
    op = operation(n)
    return getattr(op, "name", "")


def to_str(e) -> str:
    """Readable infix text of a term.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> to_str(sn.sin(x) ** 2 + 2 * x * y)
    'sin(x)^2 + 2*x*y'
    """
    memo: dict[int, tuple[str, int]] = {}
    for n in postorder([e]):
        if iscall(n):
            memo[id(n)] = _str_node(n, [memo[id(a)] for a in arguments(n)])
        elif isinstance(n, Const):
            memo[id(n)] = (_num_str(n.value), _num_prec(n.value))
        elif isinstance(n, Sym):
            memo[id(n)] = (n.name, ATOM)
        else:
            memo[id(n)] = (str(n), ATOM)
    return memo[id(e)][0]


def to_latex(e) -> str:
    """LaTeX for a term (used by `_repr_latex_` in Jupyter)."""
    from .latex import latex

    return latex(e)
