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
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from symnum.core._gc import no_gc
from symnum.core.hooks import install
from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Add, Const, Mul, Sym, Term
from symnum.core.traversal import postorder

ATOM = 1000  # precedence of leaves and calls: never parenthesised
SUM, PRODUCT, UNARY, POWER = 10, 20, 40, 50

# Text is built as a rope (a str, or a tuple of ropes): a node's text holds its children's texts
# without copying them, so printing a 10⁵-deep chain is linear in its output, not quadratic.
# `to_str` joins the rope once; sorting and sign tests read only a bounded prefix.
Rope = Any
Printed = tuple[Rope, int]  # text and the precedence of its outermost operator
_KEY_CHARS = 256  # sort keys compare this many leading characters before the whole texts


def join(r: Rope) -> str:
    """The whole text of a rope (iteratively: deep ropes never recurse)."""
    if type(r) is str:
        return r
    out: list[str] = []
    stack = [r]
    while stack:
        x = stack.pop()
        if type(x) is str:
            out.append(x)
        else:
            stack.extend(reversed(x))
    return "".join(out)


_LOCAL = threading.local()  # heads of the ropes of the str_memo run in progress, by id


def _head(r: Rope, heads: dict | None) -> str:
    """The first _KEY_CHARS characters of rope `r`. Pieces whose head is in `heads` (the ropes
    of nodes already printed) are read from there, so a node's head costs the size of its own
    pieces, however deep the rope below them; a piece that is an uncached tuple is read by
    _head_walk (iterative, any depth)."""
    out: list[str] = []
    n = 0
    get = heads.get if heads is not None else None
    for x in r:
        if type(x) is not str:
            h = get(id(x)) if get is not None else None
            x = h if h is not None else _head_walk(x, heads)
        out.append(x)
        n += len(x)
        if n >= _KEY_CHARS:
            break
    return "".join(out)[:_KEY_CHARS]


def _head_walk(r: Rope, heads: dict | None) -> str:
    out: list[str] = []
    n = 0
    stack = [r]
    while stack:
        x = stack.pop()
        if type(x) is str:
            out.append(x)
            n += len(x)
        else:
            h = heads.get(id(x)) if heads is not None else None
            if h is None:
                stack.extend(reversed(x))
                continue
            out.append(h)
            n += len(h)
        if n >= _KEY_CHARS:
            break
    return "".join(out)[:_KEY_CHARS]


def prefix(r: Rope, k: int = _KEY_CHARS) -> str:
    """The first k ≤ 256 characters of a rope (fewer if it is shorter). Ropes made during a
    str_memo run remember their head, so a node's head is read off its children's in O(k)."""
    if type(r) is str:
        return r[:k]
    heads = getattr(_LOCAL, "heads", None)
    h = heads.get(id(r)) if heads is not None else None
    if h is None:
        h = _head(r, heads)
    return h[:k]


def _drop_first(r: Rope) -> Rope:
    """The rope without its first character (rebuilding only its left spine)."""
    if type(r) is str:
        return r[1:]
    spine = []
    x = r
    while type(x) is not str:
        if not x:
            return join(r)[1:]
        spine.append(x)
        x = x[0]
    if not x:  # an empty leading piece: rare, take the simple way
        return join(r)[1:]
    new: Rope = x[1:]
    for parent in reversed(spine):
        new = (new, *parent[1:])
    return new


class TextKey:
    """Orders ropes by their text, reading only a bounded prefix unless two prefixes tie."""

    __slots__ = ("rope", "head", "full")

    def __init__(self, rope: Rope, head: str | None = None) -> None:
        self.rope, self.head = rope, prefix(rope, _KEY_CHARS) if head is None else head
        self.full = None if len(self.head) >= _KEY_CHARS else self.head

    def _full(self) -> str:
        if self.full is None:
            self.full = join(self.rope)
        return self.full

    def __lt__(self, other: TextKey) -> bool:
        if self.head != other.head:
            return self.head < other.head
        return self.rope is not other.rope and self._full() < other._full()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextKey) and self.head == other.head and (
            self.rope is other.rope or self._full() == other._full())

    def __hash__(self) -> int:
        return hash(self.head)


def op_name(op: Any) -> str:
    """An operation's name (an Op's `name`, else the object's name or text)."""
    return getattr(op, "name", None) or getattr(op, "__name__", None) or str(op)


# ---------------------------------------------------------------------------------------------
# numbers


_NUMBER_TEXTS: dict = {}  # (type, value) → text of plain ints and non-zero floats seen lately
_NUMBER_TEXTS_MAX = 4096


def number_str(v: Any) -> str:
    """Shortest text that reads back as the number: 2, 0.5, 1/3, -inf, nan, True."""
    cls = v.__class__
    if cls is float or cls is int:  # the common case, memoised (a deep chain's 0.5 and 0.1)
        key = (cls, v)
        s = _NUMBER_TEXTS.get(key)
        if s is None:
            s = _number_str(v)
            if v and v == v:  # (0.0 and -0.0: equal keys, two texts; NaN: never found)
                if len(_NUMBER_TEXTS) >= _NUMBER_TEXTS_MAX:
                    _NUMBER_TEXTS.clear()
                _NUMBER_TEXTS[key] = s
        return s
    return _number_str(v)


def _number_str(v: Any) -> str:
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


def _paren(s: Rope, prec: int, need: int) -> Rope:
    """Parenthesise `s` unless its precedence reaches `need`."""
    return ("(", s, ")") if prec < need else s


def _negated(s: Rope) -> bool:
    if type(s) is str:  # most texts a sign is asked of are a number's or a symbol's
        return s[:1] == "-"
    return prefix(s, 1) == "-"


# ---------------------------------------------------------------------------------------------
# canonical layouts, shared with symnum.latex


def summand_order(n: Add, text: Callable[[Any], str]) -> list:
    """The interface arguments of an Add in display order: monomials in lexicographic order of
    their bases' text (higher powers first, x^2 + x*y + y^2 + x + 1/x), the constant last, and a
    positive term first when there is one (1 - x, not -x + 1)."""
    args = arguments(n)
    const = [a for a in args if isinstance(a, Const)]
    terms = [a for a in args if not isinstance(a, Const)]
    if len(terms) > 1:  # (one term: nothing to sort, and no text asked of it)
        monos = [_monomial(a) for a in terms]
        ranks = {b: i for i, b in enumerate(sorted({text(b) for _, m in monos for b in m}))}
        end = (len(ranks) + 1,)

        def key(i: int):
            coeff, m = monos[i]
            pos = sorted((ranks[text(b)], -e) for b, e in m.items() if e > 0)
            neg = sorted((ranks[text(b)], e) for b, e in m.items() if e < 0)
            # (-1,) closes the negative powers: two monomials equal up to there compare a
            # tuple, never a power with a text (`x + x/y`: the one with fewer comes first)
            return (*pos, end, *neg, (-1,), text(terms[i]))

        terms = [terms[i] for i in sorted(range(len(terms)), key=key)]
    out = terms + const
    if out and _negative(out[0]):
        first_pos = next((i for i, a in enumerate(out) if not _negative(a)), None)
        if first_pos is not None:
            out.insert(0, out.pop(first_pos))
    return out


def _one_term_order(n: Add) -> list:
    """summand_order for a sum of one term and a constant (`0.5*sin(x) + 0.1`): nothing to
    sort, only the positive-first rule."""
    out = list(arguments(n))
    if len(out) == 2 and type(out[0]) is Const:  # arguments put the constant first
        out.reverse()
        if _negative(out[0]) and not _negative(out[1]):
            out.reverse()
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
            return (0, TextKey(""))
        return (1 if isinstance(b, Sym) else 2, text(b))

    return key


# ---------------------------------------------------------------------------------------------
# text


def _str_power(b: Printed, e: Printed) -> Printed:
    # right-associative like Python's **: (x^y)^z and x^(y^z) both need their parentheses
    return (_paren(b[0], b[1], POWER + 1), "^", _paren(e[0], e[1], POWER + 1)), POWER


class _Keys(dict):
    """memo["keys"]: each node's sort key by id, made on first use (most nodes are never
    sorted) from the node's text and the head str_memo recorded for it."""

    def __init__(self, memo: dict, heads: dict) -> None:
        super().__init__()
        self.memo, self.heads = memo, heads

    def __missing__(self, i: int) -> TextKey:
        rope = self.memo[i][0]
        k = self[i] = TextKey(rope, rope[:_KEY_CHARS] if type(rope) is str
                              else self.heads[id(rope)])
        return k


def _key_of(memo: dict) -> Callable[[Any], TextKey]:
    """A node's sort key (str_memo keeps one per node, in memo["keys"])."""
    keys = memo["keys"]
    return lambda t: keys[id(t)]


def _scaled_one(n: Add) -> tuple | None:
    """(base, coefficient) of a sum `c·b + const` whose one term is a plain base (a symbol or
    a call) times a Python number and whose constant is not zero — printed without building
    its argument view `c·b` (a product term per sum: a third of printing a deep chain)."""
    if len(n) != 1 or n.const == 0:
        return None
    ((b, c),) = n.entry_items()
    if (type(b) is Term or type(b) is Sym) and (c.__class__ is float or c.__class__ is int):
        return b, c
    return None


def _scaled(c: Any, b: Any, memo: dict) -> Printed:
    """c·b for a Python number c ≠ 1 (the layout _str_product gives the product c·b^1)."""
    negative = c < 0
    mag = -c if negative else c
    f = _factor((b, 1), memo)
    if mag != 1:
        body, prec = (number_str(mag), "*", f), PRODUCT
    else:
        body, prec = (f,), memo[id(b)][1]
    return (("-", body), UNARY) if negative else (body, prec)


def _str_sum(n: Add, memo: dict) -> Printed:
    one = _scaled_one(n)
    if one is not None:  # `c·b + const`: summand_order's layout, from the entry itself
        b, c = one
        k = n.const
        if c > 0 and c != 1 and (k.__class__ is float or k.__class__ is int):
            # the deep chain's `0.5*sin(…) + 0.1`: the layout below, written out flat
            ks = number_str(k)
            tail = (" - ", ks[1:]) if ks[0] == "-" else (" + ", ks)
            return (number_str(c), "*", _factor((b, 1), memo), *tail), SUM
        term = memo[id(b)] if c == 1 else _scaled(c, b, memo)
        if k.__class__ is not float and k.__class__ is not int:
            k = Const(k).value  # (normalised as a Const's value would be)
        const = (number_str(k), number_prec(k))
        if c < 0 and not (not isinstance(k, bool) and k < 0):
            return _join_summands([const, term])
        rope, prec = _join_summands([term, const])
        if c != 1 and type(rope[0]) is tuple:
            # `_scaled`'s own tuple (`0.5`, `*`, f) spliced in: no rope piece without a
            # recorded head between this sum and its term's base (its head is then read off
            # the base's in a few steps)
            rope = (*rope[0], *rope[1:])
        return rope, prec
    items = _one_term_order(n) if len(n) == 1 else summand_order(n, _key_of(memo))
    return _join_summands([memo[id(a)] for a in items])


def _join_summands(texts: list) -> Printed:
    out: list = []
    for i, (s, p) in enumerate(texts):
        if i == 0:
            out.append(_paren(s, p, SUM))
        elif p >= UNARY and _negated(s):  # -x, -2*x, -x/3: print as a subtraction
            out += [" - ", _drop_first(s)]
        else:
            out += [" + ", _paren(s, p, SUM + 1)]
    return tuple(out), SUM


def _str_product(n: Mul, memo: dict) -> Printed:
    if len(n) == 1:
        ((b, e),) = n.entry_items()
        c = n.coeff
        if e > 0:
            if c == 1:
                return _str_power(memo[id(b)], (number_str(e), ATOM))
            if c.__class__ is float or c.__class__ is int:
                # c·b^e (`0.5*sin(x)`): the general layout below, with nothing to sort
                negative = c < 0
                mag = -c if negative else c
                f = _factor((b, e), memo)
                if mag != 1:
                    body, prec = (number_str(mag), "*", f), PRODUCT
                else:
                    body, prec = (f,), memo[id(b)][1] if e == 1 else POWER
                return (("-", body), UNARY) if negative else (body, prec)
    negative, num, den = product_parts(n)
    text = _key_of(memo)

    def factor(f) -> Rope:
        return _factor(f, memo)

    def product(fs: list) -> Rope:
        out: list = []
        for f in fs:
            out += ["*", factor(f)] if out else [factor(f)]
        return tuple(out)

    key = _base_key(text)
    body: Rope = product(sorted(num, key=key)) if num else "1"
    prec = PRODUCT if len(num) > 1 or den else _single_prec(num, memo)
    if den:
        bottom = sorted(den, key=key)
        body = (body, "/", factor(bottom[0]) if len(bottom) == 1
                else ("(", product(bottom), ")"))
    if negative:
        return ("-", body), UNARY
    return body, prec


def _factor(f: tuple, memo: dict) -> Rope:
    """A product's factor: a number's text, or a base (to a power) parenthesised as needed."""
    b, e = f
    if isinstance(b, str):
        return number_str(e)
    s, p = memo[id(b)]
    if e == 1:
        return _paren(s, p, PRODUCT + 1) if not _negated(s) else ("(", s, ")")
    return _str_power((s, p), (number_str(e), ATOM))[0]


def _single_prec(num: list, memo: dict) -> int:
    if not num:
        return ATOM
    b, e = num[0]
    if isinstance(b, str):
        return number_prec(e)
    return memo[id(b)][1] if e == 1 else POWER


def _str_as_written(n: Any, parts: list[Printed]) -> Printed:
    op = n.op if type(n) is Term else operation(n)
    name = op_name(op)
    if name == "pow" and len(parts) == 2:
        return _str_power(parts[0], parts[1])
    infix = getattr(op, "infix", None)
    prec = getattr(op, "precedence", 100)
    if infix and len(parts) == 1:
        s, p = parts[0]
        return (infix, _paren(s, p, prec + 1)), prec
    if infix and len(parts) >= 2:
        # left-associative; comparisons do not chain (x < y < z means something else in Python)
        left_need = prec + 1 if getattr(op, "result", "float") == "bool" and prec < 6 else prec
        out = [_paren(parts[0][0], parts[0][1], left_need)]
        sep = infix if infix in ("*", "/", "^") else f" {infix} "
        for s, p in parts[1:]:
            out += [sep, ("(", s, ")") if _negated(s) else _paren(s, p, prec + 1)]
        return tuple(out), prec
    args: list = []
    for s, _ in parts:
        args += [", ", s] if args else [s]
    return (name, "(", *args, ")"), ATOM


@no_gc
def str_memo(roots: list) -> dict:
    """Text (a rope: see `join`) and precedence of every node reachable from `roots`, by id;
    memo["keys"] holds each node's sort key (a TextKey), by id."""
    outer = getattr(_LOCAL, "heads", None)
    _LOCAL.heads = {}
    try:
        return _str_memo(roots)
    finally:
        _LOCAL.heads = outer


def _children(n: Any) -> Any:
    """postorder's children: a Term's own arguments read directly (the interface's answer); a
    product's bases, not its argument views (`b^e` products, the coefficient's Const): its
    layout reads only the bases' texts, and building views for every product costs more than
    printing it."""
    t = type(n)
    if t is Term:
        return n.args
    if t is Mul:
        return n.entry_keys()
    if t is Add:
        one = _scaled_one(n)
        if one is not None:
            return (one[0],)
    if t is Sym or t is Const:
        return ()
    return arguments(n) if iscall(n) else ()


def _str_memo(roots: list) -> dict:
    heads = _LOCAL.heads
    memo: dict = {}
    memo["keys"] = _Keys(memo, heads)
    for n in postorder(roots, _children):
        t = type(n)
        if t is Add:
            p = _str_sum(n, memo)
        elif t is Mul:
            p = _str_product(n, memo)
        elif t is Sym:
            p = (n.name, ATOM)
        elif t is Const:
            p = (number_str(n.value), number_prec(n.value))
        elif t is Term:
            p = _str_as_written(n, [memo[id(a)] for a in n.args])
        elif iscall(n):
            p = _str_as_written(n, [memo[id(a)] for a in arguments(n)])
        else:
            p = (str(n), ATOM)
        memo[id(n)] = p
        r = p[0]
        if type(r) is not str:  # its head, while its children's are at hand
            heads[id(r)] = _head(r, heads)
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
    return join(str_memo([e])[id(e)][0])


install(to_str=to_str)  # str(term) and repr(term)
