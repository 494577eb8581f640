"""LaTeX for terms, from each Op's `latex` template and precedence (Jupyter's `_repr_latex_`).

Sits beside symnum.printing and shares its layouts of the canonical forms (summand order,
quotients for negative powers), so text and LaTeX show the same arrangement. Works through the
term interface, iteratively (deep graphs are fine); it never changes or simplifies a term.
"""

from __future__ import annotations

import math
import re
import string
from fractions import Fraction
from typing import Any

from symnum.core._gc import no_gc
from symnum.core.hooks import install
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Add, Const, Mul, Sym
from symnum.core.traversal import postorder
from symnum.io.printing import (
    ATOM,
    POWER,
    PRODUCT,
    SUM,
    UNARY,
    TextKey,
    _base_key,
    op_name,
    product_parts,
    str_memo,
    summand_order,
)

FRAC = 45  # \frac{a}{b}: needs no brackets as a factor or after a minus, but does as a base

Printed = tuple[str, int]

_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
    "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}
_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
            "#": r"\#", "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}


def _escape(s: str) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in s)


def _word(w: str) -> str:
    if w in _GREEK:
        return "\\" + w
    if len(w) == 1:
        return w
    return r"\mathrm{" + w + "}"


def latex_name(name: str) -> str:
    r"""A symbol's name in LaTeX: x → x, alpha → \alpha, x1 and x_1 → x_{1},
    u[0,1] → u_{0,1}, anything else as escaped upright text.

    >>> print(latex_name("theta_2"), latex_name("rate"), latex_name("a b"))
    \theta_{2} \mathrm{rate} \text{a b}
    """
    if re.fullmatch(r"[A-Za-z]+", name):
        return _word(name)
    m = re.fullmatch(r"([A-Za-z]+?)_?(\d+)", name) or re.fullmatch(
        r"([A-Za-z]+)_([A-Za-z0-9]+)", name)
    if m:
        return f"{_word(m.group(1))}_{{{m.group(2)}}}"
    m = re.fullmatch(r"([A-Za-z]+)\[([0-9, ]+)\]", name)
    if m:
        return f"{_word(m.group(1))}_{{{m.group(2)}}}"
    return r"\text{" + _escape(name) + "}"


def latex_number(v: Any) -> Printed:
    r"""A number in LaTeX with its precedence: 1/3 → \frac{1}{3}, 1e-05 → 1 \cdot 10^{-5}."""
    if isinstance(v, bool):
        return r"\mathrm{" + str(v) + "}", ATOM
    if isinstance(v, Fraction) and v.denominator != 1:
        body = rf"\frac{{{abs(v.numerator)}}}{{{v.denominator}}}"
        return ("-" + body, UNARY) if v < 0 else (body, FRAC)
    if isinstance(v, (int, Fraction)):
        return str(int(v)), (UNARY if v < 0 else ATOM)
    f = float(v)
    if math.isnan(f):
        return r"\mathrm{NaN}", ATOM
    if math.isinf(f):
        return (r"\infty", ATOM) if f > 0 else (r"-\infty", UNARY)
    r = repr(f)
    if "e" in r:
        mant, exp = r.split("e")
        mant = mant[:-2] if mant.endswith(".0") else mant
        body = rf"{mant} \cdot 10^{{{int(exp)}}}"
        return body, (UNARY if f < 0 else PRODUCT)
    r = r[:-2] if r.endswith(".0") else r
    return r, (UNARY if f < 0 else ATOM)


def _paren(s: str, prec: int, need: int) -> str:
    return rf"\left({s}\right)" if prec < need else s


# ---------------------------------------------------------------------------------------------
# templates: which argument slots are exposed to an operator and must be bracketed


_FMT = string.Formatter()


class _Template:
    """A parsed `Op.latex` template: literal text around numbered slots, and how each slot sits
    (delimited by the template, the base of a power, or an operand of an infix operator)."""

    def __init__(self, template: str, op: Any):
        lits, slots, cur = [], [], ""
        for lit, field, _spec, _conv in _FMT.parse(template):
            cur += lit  # parse() has already turned {{ and }} into braces
            if field is not None:
                lits.append(cur)
                slots.append(int(field))
                cur = ""
        lits.append(cur)
        self.lits, self.slots = lits, slots
        self.nslots = 1 + max(slots, default=-1)
        infix = getattr(op, "infix", None)
        self.infix = bool(infix)
        self.op_prec = getattr(op, "precedence", 100)
        self.boolean = getattr(op, "result", "float") == "bool"
        skeleton = "@".join(lits)
        if skeleton.startswith(r"\frac"):
            self.prec = FRAC
        elif infix:
            self.prec = self.op_prec
        elif _top_level_power(skeleton):
            self.prec = POWER
        else:
            self.prec = ATOM
        self.needs = [self._need(lits[i], lits[i + 1], i == 0 and len(slots) > 1)
                      for i in range(len(slots))]

    def _need(self, before: str, after: str, leftmost: bool) -> int:
        """Precedence an argument needs to go in unbracketed."""
        if after.lstrip("}").startswith("^"):
            return POWER + 1  # a base: x + 1 needs brackets before ^{2}
        head, tail = before.rstrip(), after.lstrip()
        opened = head.endswith(("{", "(", "|", "&", ",", "}", "\\\\"))  # \\: a cases row
        closed = tail.startswith(("}", r"\right", ")", ",", "&", "\\\\"))
        if opened and closed:
            return 0  # the template delimits it
        if not self.infix:
            return POWER + 1
        if leftmost and head == "":
            if self.boolean and self.op_prec < 6:
                return self.op_prec + 1  # comparisons do not chain
            return self.op_prec  # left operand of a left-associative operator
        return self.op_prec + 1

    def render(self, parts: list[Printed]) -> str:
        out = [self.lits[0]]
        for i, slot in enumerate(self.slots):
            s, p = parts[slot]
            need = self.needs[i]
            if need and self.infix and self.lits[i] and s.startswith("-"):
                s = rf"\left({s}\right)"  # x - (-y), -(-x), x (-2)
            else:
                s = _paren(s, p, need)
            if self.lits[i] == " " and s[:1].isdigit():
                out[-1] = r" \cdot "  # 2 \cdot 3, not "2 3"
            out.append(s)
            out.append(self.lits[i + 1])
        return "".join(out)


def _top_level_power(skeleton: str) -> bool:
    depth = 0
    for ch in skeleton:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "^" and depth == 0:
            return True
    return False


_TEMPLATES: dict[tuple[str, str], _Template] = {}


def _template(op: Any, template: str) -> _Template:
    key = (op_name(op), template)
    t = _TEMPLATES.get(key)
    if t is None:
        t = _TEMPLATES[key] = _Template(template, op)
    return t


# ---------------------------------------------------------------------------------------------
# nodes


def _power(b: Printed, e: str) -> Printed:
    return f"{_paren(b[0], b[1], POWER + 1)}^{{{e}}}", POWER


def _sum(n: Add, memo: dict, text) -> Printed:
    out = ""
    for i, a in enumerate(summand_order(n, text)):
        s, p = memo[id(a)]
        if i == 0:
            out = _paren(s, p, SUM)
        elif s.startswith("-") and p >= UNARY:
            out += f" - {s[1:]}"
        else:
            out += f" + {_paren(s, p, SUM + 1)}"
    return out, SUM


def _product(n: Mul, memo: dict, text) -> Printed:
    if n.coeff == 1 and len(n.bases) == 1:
        ((b, e),) = n.bases.items()
        if e > 0:
            return _power(memo[id(b)], str(e))
    negative, num, den = product_parts(n)

    def factor(f) -> str:
        b, e = f
        if isinstance(b, str):
            return latex_number(e)[0]
        s, p = memo[id(b)]
        if e == 1:
            return _paren(s, p, PRODUCT + 1) if not s.startswith("-") else rf"\left({s}\right)"
        return _power((s, p), str(e))[0]

    key = _base_key(text)

    def join(fs) -> str:
        if den and len(fs) == 1 and fs[0][1] == 1 and not isinstance(fs[0][0], str):
            return memo[id(fs[0][0])][0]  # alone in a \frac part: no brackets needed
        out = ""
        for f in sorted(fs, key=key):
            s = factor(f)
            out += s if not out else (r" \cdot " if s[:1].isdigit() else " ") + s
        return out

    top = join(num)
    if den:
        body, prec = rf"\frac{{{top or '1'}}}{{{join(den)}}}", FRAC
    else:
        body = top or "1"
        prec = PRODUCT if len(num) > 1 else _single_prec(num, memo)
    return ("-" + body, UNARY) if negative else (body, prec)


def _single_prec(num: list, memo: dict) -> int:
    if not num:
        return ATOM
    b, e = num[0]
    if isinstance(b, str):
        return latex_number(e)[1]
    return memo[id(b)][1] if e == 1 else POWER


def _call(n: Any, parts: list[Printed]) -> Printed:
    op = operation(n)
    name = op_name(op)
    tmpl = getattr(op, "latex", None)
    if name == "pow" and len(parts) == 2:
        return _power(parts[0], parts[1][0])
    if not tmpl:
        args = ", ".join(s for s, _ in parts)
        return rf"\operatorname{{{_escape(name)}}}\left({args}\right)", ATOM
    t = _template(op, tmpl)
    if t.nslots == len(parts):
        return t.render(parts), t.prec
    if t.nslots == 2 and len(parts) > 2:  # a variadic op with a binary template: fold left
        acc = parts[0]
        for p in parts[1:]:
            acc = (t.render([acc, p]), t.prec)
        return acc
    raise ValueError(
        f"the LaTeX template of '{name}' has {t.nslots} slot(s) but the term has "
        f"{len(parts)} argument(s); fix the latex= template given to symnum.register"
    )


@no_gc
def latex(e: Any) -> str:
    r"""LaTeX for a term (no surrounding `$`).

    >>> import symnum as sn
    >>> x, y = sn.Sym("x"), sn.Sym("y")
    >>> print(latex(sn.sin(x) ** 2 + x / (3 * y)))
    \sin{\left(x\right)}^{2} + \frac{x}{3 y}
    """
    strings = str_memo([e])

    keys = strings["keys"]

    def text(t) -> TextKey:
        return keys[id(t)]

    memo: dict[int, Printed] = {}
    for n in postorder([e]):
        if isinstance(n, Add):
            memo[id(n)] = _sum(n, memo, text)
        elif isinstance(n, Mul):
            memo[id(n)] = _product(n, memo, text)
        elif iscall(n):
            memo[id(n)] = _call(n, [memo[id(a)] for a in arguments(n)])
        elif isinstance(n, Const):
            memo[id(n)] = latex_number(n.value)
        elif isinstance(n, Sym):
            memo[id(n)] = (latex_name(n.name), ATOM)
        else:
            memo[id(n)] = (_escape(str(n)), ATOM)
    return memo[id(e)][0]


install(to_latex=latex)  # term._repr_latex_ (Jupyter)


# ---------------------------------------------------------------------------------------------
# Jupyter: SymArray and Fn render as LaTeX (installed here: the tracing layer cannot import io)


def _cell(v: Any) -> str:
    from symnum.core.build import as_expr

    return latex(as_expr(v))


def array_latex(a: Any) -> str:
    r"""A symbolic vector or matrix as a LaTeX matrix (higher ranks: nested brackets per row).

    >>> import symnum as sn
    >>> print(array_latex(sn.symarray("u", 2) * 2))
    \left[\begin{matrix}2 u_{0} & 2 u_{1}\end{matrix}\right]
    """
    import numpy as np

    a = np.asarray(a, dtype=object)
    if a.ndim == 0:
        return _cell(a[()])
    if a.ndim == 1:
        return r"\left[\begin{matrix}" + " & ".join(_cell(v) for v in a) + r"\end{matrix}\right]"
    if a.ndim == 2:
        rows = [" & ".join(_cell(v) for v in row) for row in a]
        return r"\left[\begin{matrix}" + r" \\ ".join(rows) + r"\end{matrix}\right]"
    return r"\left[" + ", ".join(array_latex(sub) for sub in a) + r"\right]"


def fn_latex(fn: Any) -> str:
    r"""An Fn as `(inputs) ↦ outputs`.

    >>> import symnum as sn
    >>> print(fn_latex(sn.trace(lambda x, y: x * y, 1.0, 2.0)))
    \left(x, y\right) \mapsto x y
    """
    import numpy as np

    def show(o: Any) -> str:
        if isinstance(o, np.ndarray):
            return array_latex(o)
        if isinstance(o, (list, tuple)):
            return r"\left(" + ", ".join(show(v) for v in o) + r"\right)"
        return _cell(o)

    ins = ", ".join(latex_name(n) for n in fn.names)
    body = show(fn.outputs)
    return rf"\left({ins}\right) \mapsto {body}"


def _install() -> None:
    from symnum.tracing.fn import Fn
    from symnum.tracing.protocols import SymArray

    SymArray._repr_latex_ = lambda self: f"${array_latex(self)}$"
    Fn._repr_latex_ = lambda self: f"${fn_latex(self)}$"


_install()
