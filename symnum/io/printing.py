"""Printing terms as readable text (`sin(x)^2 + 2*x*y`); LaTeX lives in symnum.latex.

Works through the term interface and each Op's printing facts (infix symbol, precedence), so a
foreign term type prints too. Only symnum's canonical forms get a layout of their own: an Add is
sorted (lexicographic monomial order, constant last) and a Mul shows its negative powers as a
quotient; every other term, tree-mode terms included, prints exactly as written. Operators bind
as in Python (with `^` for `**`), so `str(e).replace("^", "**")` parses back to the same value.
Walks iteratively with one string per DAG node: deep graphs print without recursion errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from symnum.core.hooks import install
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Add, Const, Mul, Sym
from symnum.core.traversal import postorder

ATOM = 1000  # precedence of leaves and calls: never parenthesised
SUM, PRODUCT, UNARY, POWER = 10, 20, 40, 50

Printed = tuple[str, int]  # text and the precedence of its outermost operator


def op_name(op: Any) -> str:
    """An operation's name (an Op's `name`, else the object's name or text)."""
    return getattr(op, "name", None) or getattr(op, "__name__", None) or str(op)


# ---------------------------------------------------------------------------------------------
# numbers


def number_str(v: Any) -> str:
    """Shortest text that reads back as the number: 2, 0.5, 1/3, -inf, nan, True."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}" if v.denominator != 1 else str(v.numerator)
    if isinstance(v, float) or hasattr(v, "dtype"):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        r = repr(f)
        return r[:-2] if r.endswith(".0") and abs(f) < 1e16 else r
    return str(v)


def number_prec(v: Any) -> int:
    """Precedence of a number's text: 1/3 is a quotient, -2 a unary minus, 2 an atom."""
    if isinstance(v, Fraction) and v.denominator != 1:
        return UNARY if v < 0 else PRODUCT
    return UNARY if number_str(v).startswith("-") else ATOM


def _paren(s: str, prec: int, need: int) -> str:
    """Parenthesise `s` unless its precedence reaches `need`."""
    return f"({s})" if prec < need else s


# ---------------------------------------------------------------------------------------------
# canonical layouts, shared with symnum.latex


def summand_order(n: Add, text: Callable[[Any], str]) -> list:
    """The interface arguments of an Add in display order: monomials in lexicographic order of
    their bases' text (higher powers first, x^2 + x*y + y^2 + x + 1/x), the constant last, and a
    positive term first when there is one (1 - x, not -x + 1)."""
    args = arguments(n)
    const = [a for a in args if isinstance(a, Const)]
    terms = [a for a in args if not isinstance(a, Const)]
    monos = [_monomial(a) for a in terms]
    ranks = {b: i for i, b in enumerate(sorted({text(b) for _, m in monos for b in m}))}
    end = (len(ranks) + 1,)

    def key(i: int):
        coeff, m = monos[i]
        pos = sorted((ranks[text(b)], -e) for b, e in m.items() if e > 0)
        neg = sorted((ranks[text(b)], e) for b, e in m.items() if e < 0)
        return (*pos, end, *neg, text(terms[i]))

    order = [terms[i] for i in sorted(range(len(terms)), key=key)]
    out = order + const
    if out and _negative(out[0]):
        first_pos = next((i for i, a in enumerate(out) if not _negative(a)), None)
        if first_pos is not None:
            out.insert(0, out.pop(first_pos))
    return out


def _monomial(a: Any) -> tuple[Any, dict]:
    if isinstance(a, Mul):
        return a.coeff, dict(a.bases)
    return 1, {a: 1}


def _negative(a: Any) -> bool:
    v = a.value if isinstance(a, Const) else (a.coeff if isinstance(a, Mul) else None)
    return v is not None and not isinstance(v, bool) and v < 0


def product_parts(n: Mul) -> tuple[bool, list, list]:
    """(negative?, numerator factors, denominator factors) of a canonical product.

    Factors are (base, |exponent|) pairs or ("number", value) for the coefficient's parts;
    numbers come first, then symbols, then other bases, each group in text order (by `key`)."""
    c = n.coeff
    negative = not isinstance(c, bool) and c < 0
    mag = -c if negative else c
    num: list = []
    den: list = []
    if isinstance(mag, Fraction) and mag.denominator != 1:
        if mag.numerator != 1:
            num.append(("number", mag.numerator))
        den.append(("number", mag.denominator))
    elif mag != 1:
        num.append(("number", mag))
    for b, e in n.bases.items():
        (num if e > 0 else den).append((b, abs(e)))
    return negative, num, den


def _base_key(text: Callable[[Any], str]):
    def key(f):
        b = f[0]
        if isinstance(b, str):  # a number
            return (0, "")
        return (1 if isinstance(b, Sym) else 2, text(b))

    return key


# ---------------------------------------------------------------------------------------------
# text


def _str_power(b: Printed, e: Printed) -> Printed:
    # right-associative like Python's **: (x^y)^z and x^(y^z) both need their parentheses
    return f"{_paren(b[0], b[1], POWER + 1)}^{_paren(e[0], e[1], POWER + 1)}", POWER


def _str_sum(n: Add, memo: dict) -> Printed:
    items = summand_order(n, lambda t: memo[id(t)][0])
    out = ""
    for i, a in enumerate(items):
        s, p = memo[id(a)]
        if i == 0:
            out = _paren(s, p, SUM)
        elif s.startswith("-") and p >= UNARY:  # -x, -2*x, -x/3: print as a subtraction
            out += f" - {s[1:]}"
        else:
            out += f" + {_paren(s, p, SUM + 1)}"
    return out, SUM


def _str_product(n: Mul, memo: dict) -> Printed:
    if n.coeff == 1 and len(n.bases) == 1:
        ((b, e),) = n.bases.items()
        if e > 0:
            return _str_power(memo[id(b)], (number_str(e), ATOM))
    negative, num, den = product_parts(n)
    text = lambda b: memo[id(b)][0]  # noqa: E731

    def factor(f) -> str:
        b, e = f
        if isinstance(b, str):
            return number_str(e)
        s, p = memo[id(b)]
        if e == 1:
            return _paren(s, p, PRODUCT + 1) if not s.startswith("-") else f"({s})"
        return _str_power((s, p), (number_str(e), ATOM))[0]

    key = _base_key(text)
    top = "*".join(factor(f) for f in sorted(num, key=key)) or "1"
    body, prec = top, (PRODUCT if len(num) > 1 or den else _single_prec(num, memo))
    if den:
        bottom = [factor(f) for f in sorted(den, key=key)]
        body += "/" + (bottom[0] if len(bottom) == 1 else "(" + "*".join(bottom) + ")")
    if negative:
        return "-" + body, UNARY
    return body, prec


def _single_prec(num: list, memo: dict) -> int:
    if not num:
        return ATOM
    b, e = num[0]
    if isinstance(b, str):
        return number_prec(e)
    return memo[id(b)][1] if e == 1 else POWER


def _str_as_written(n: Any, parts: list[Printed]) -> Printed:
    op = operation(n)
    name = op_name(op)
    if name == "pow" and len(parts) == 2:
        return _str_power(parts[0], parts[1])
    infix = getattr(op, "infix", None)
    prec = getattr(op, "precedence", 100)
    if infix and len(parts) == 1:
        s, p = parts[0]
        return f"{infix}{_paren(s, p, prec + 1)}", prec
    if infix and len(parts) >= 2:
        # left-associative; comparisons do not chain (x < y < z means something else in Python)
        left_need = prec + 1 if getattr(op, "result", "float") == "bool" and prec < 6 else prec
        left = _paren(parts[0][0], parts[0][1], left_need)
        rest = [f"({s})" if s.startswith("-") else _paren(s, p, prec + 1) for s, p in parts[1:]]
        sep = infix if infix in ("*", "/", "^") else f" {infix} "
        return sep.join([left, *rest]), prec
    return f"{name}({', '.join(s for s, _ in parts)})", ATOM


def str_memo(roots: list) -> dict[int, Printed]:
    """Text and precedence of every node reachable from `roots`, keyed by id."""
    memo: dict[int, Printed] = {}
    for n in postorder(roots):
        if isinstance(n, Add):
            memo[id(n)] = _str_sum(n, memo)
        elif isinstance(n, Mul):
            memo[id(n)] = _str_product(n, memo)
        elif iscall(n):
            memo[id(n)] = _str_as_written(n, [memo[id(a)] for a in arguments(n)])
        elif isinstance(n, Const):
            memo[id(n)] = (number_str(n.value), number_prec(n.value))
        elif isinstance(n, Sym):
            memo[id(n)] = (n.name, ATOM)
        else:
            memo[id(n)] = (str(n), ATOM)
    return memo


def to_str(e: Any) -> str:
    """Readable infix text of a term.

    >>> import symnum as sn
    >>> x, y = sn.Sym("x"), sn.Sym("y")
    >>> to_str(sn.sin(x) ** 2 + 2 * x * y)
    'sin(x)^2 + 2*x*y'
    >>> to_str(1 - x / 3), to_str(-(x + y) ** 2)
    ('1 - x/3', '-(x + y)^2')
    """
    return str_memo([e])[id(e)][0]


install(to_str=to_str)  # str(term) and repr(term)
