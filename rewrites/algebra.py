"""ALGEBRA: arithmetic normal forms — `canonicalize` (the polynomial forms do the work) and a
tree-mode simplifier built only from rules (the baseline of the benchmark "polynomial forms vs
tree mode", as SymbolicUtils.jl's rule-based simplifier was for Symbolics.jl).

The tree rules run on plain tree-mode Terms and reach the canonical forms' result: sums and
products flattened, arguments sorted, like terms and like bases collected, numbers folded exactly
(with canonical's own arithmetic), a numeric multiple of a sum distributed inside a sum; the
EXPAND rules multiply products and positive integer powers of sums out. They never build Add/Mul.
"""

from __future__ import annotations

from typing import Any

from symnum.core.build import tree_mode
from symnum.core.canonical import num_add, num_mul
from symnum.core.dispatch import digest
from symnum.core.interface import arguments, iscall, maketerm, operation
from symnum.core.primitives import add, mul
from symnum.core.terms import Const, Term
from symnum.rules import Bindings, Fixpoint, Postwalk, Rewriter, Rule, RuleSet, segment, slot
from symnum.rules.pattern import literal_value
from symnum.rules.predicates import integer_value, is_integer, is_literal, opname
from symnum.simplify import canonicalize, canonicalize_many

__all__ = ["CANONICALIZE", "EXPAND_TREE", "TREE_ALGEBRA", "canonicalize", "simplify_tree",
           "tree_simplifier"]


class _Canonicalize(Rewriter):
    """canonicalize as a rewriter (rebuilds tree-mode terms in canonical mode)."""

    def __call__(self, term: Any) -> Any:
        new = canonicalize(term)
        return None if new is term else new

    def many(self, roots):
        return canonicalize_many(roots)

    def __repr__(self) -> str:
        return "CANONICALIZE"


CANONICALIZE = _Canonicalize()

# ---------------------------------------------------------------------------------------------
# helpers: tree-mode builders (the current mode is tree mode while these rules run)


def _const(v: Any) -> Const:
    return Const(v)


def _sum(args: list) -> Any:
    if not args:
        return _const(0)
    return args[0] if len(args) == 1 else add(*args)


def _prod(args: list) -> Any:
    if not args:
        return _const(1)
    return args[0] if len(args) == 1 else mul(*args)


def _order_key(a: Any) -> tuple:
    return (0, b"") if is_literal(a) else (1, digest(a))


def _split_term(a: Any) -> tuple[Any, tuple]:
    """A summand as (numeric coefficient, its non-numeric factors)."""
    if opname(a) == "mul":
        coeff: Any = 1
        factors = []
        for f in arguments(a):
            if is_literal(f):
                coeff = num_mul(coeff, literal_value(f))
            else:
                factors.append(f)
        return coeff, tuple(factors)
    if is_literal(a):
        return literal_value(a), ()
    return 1, (a,)


def _split_power(a: Any) -> tuple[Any, int]:
    """A factor as (base, integer exponent); only integer exponents merge (as in canonical)."""
    if opname(a) == "pow":
        b, e = arguments(a)
        n = integer_value(e)
        if n is not None:
            return b, n
    return a, 1


# ---------------------------------------------------------------------------------------------
# right-hand sides


def _flatten(op: Any):
    def rhs(b: Bindings):
        return maketerm(Term, op, [*b.xs, *b.ys])

    rhs.__doc__ = f"{op.name}(~~xs..., ~~ys...)"
    return rhs


def _collect_terms(b: Bindings):
    """Σ (Σ coefficients)·monomial, constants folded"""
    groups: dict = {}
    order: list = []
    for a in b.xs:
        c, fs = _split_term(a)
        key = tuple(sorted(fs, key=id))  # the factors as a multiset (hash-consed: ids suffice)
        if key not in groups:
            order.append(key)
            groups[key] = [0, fs, 0]
        g = groups[key]
        g[0] = num_add(g[0], c)
        g[2] += 1
    if all(groups[k][2] == 1 for k in order) and not any(groups[k][0] == 0 for k in order):
        return None
    out = []
    for k in order:
        c, fs, _ = groups[k]
        if c == 0:
            continue
        if not fs:
            out.append(_const(c))
        else:
            out.append(_prod(list(fs)) if c == 1 else _prod([_const(c), *fs]))
    if not out:  # as canonical: a vanished sum is its constant (0.0 stays a float)
        return _const(groups[()][0] if () in groups else 0)
    return _sum(out)


def _collect_powers(b: Bindings):
    """Π base^(Σ exponents), numbers folded"""
    coeff: Any = 1
    groups: dict = {}
    n_lit = 0
    for a in b.xs:
        if is_literal(a):
            coeff = num_mul(coeff, literal_value(a))
            n_lit += 1
            continue
        base, e = _split_power(a)
        g = groups.setdefault(base, [0, 0])
        g[0] += e
        g[1] += 1
    merge = any(g[1] > 1 for g in groups.values())
    fold = n_lit >= 2 or (n_lit == 1 and (coeff == 0 or coeff == 1))
    if not (merge or fold):
        return None
    if coeff == 0:
        return _const(coeff)
    out = [] if coeff == 1 else [_const(coeff)]
    for base, (e, _) in groups.items():
        if e != 0:
            out.append(base if e == 1 else base ** e)
    return _prod(out)


def _fold(b: Bindings):
    """the constant value, folded as canonical folds it"""
    t = b.t
    if not iscall(t) or not all(is_literal(a) for a in arguments(t)):
        return None
    with tree_mode(False):
        new = maketerm(Term, operation(t), list(arguments(t)))
    return new if is_literal(new) else None


def _distribute_scalar(b: Bindings):
    """~~xs + Σ c·yᵢ"""
    c = b.c
    return add(*b.xs, *[mul(c, y) for y in b.ys])


def _pow_pow(b: Bindings):
    """x^(n·m)"""
    return b.x ** (integer_value(b.n) * integer_value(b.m))


def _pow_mul(b: Bindings):
    """Π xᵢ^n"""
    n = integer_value(b.n)
    return _prod([f ** n for f in b.xs])


def _sorted(op: Any):
    def rhs(b: Bindings):
        xs = list(b.xs)
        s = sorted(xs, key=_order_key)
        if all(p is q for p, q in zip(xs, s)):
            return None
        return maketerm(Term, op, s)

    rhs.__doc__ = f"{op.name}(~~xs sorted: numbers first, then by content digest)"
    return rhs


def _distribute(b: Bindings):
    """Σⱼ (Π ~~xs)·yⱼ"""
    return add(*[_prod([*b.xs, y]) for y in b.ys])


def _expand_pow(b: Bindings):
    """s·s^(n-1)"""
    s = add(*b.ys)
    n = integer_value(b.n)
    return mul(s, s ** (n - 1)) if n > 2 else mul(s, s)


# ---------------------------------------------------------------------------------------------
# the rulesets (patterns in tree mode: they must present like the tree terms they match)

with tree_mode():
    x, y, t = slot("x"), slot("y"), slot("t")
    xs, ys = segment("xs"), segment("ys")
    c = slot("c", is_literal)
    n_int, m_int = slot("n", is_integer), slot("m", is_integer)
    n_big = slot("n", lambda e: (integer_value(e) or 0) >= 2)
    add_op, mul_op = operation(add(x, y)), operation(mul(x, y))

    TREE_ALGEBRA = RuleSet("algebra-tree", [
        Rule("sub-to-add", x - y, x + (-1) * y),
        Rule("neg-to-mul", -x, (-1) * x),
        Rule("div-to-pow", x / y, x * y ** -1),
        Rule("fold-constants", t, _fold),
        Rule("flatten-add", add(xs, add(ys)), _flatten(add_op)),
        Rule("flatten-mul", mul(xs, mul(ys)), _flatten(mul_op)),
        Rule("add-single", add(x), x),
        Rule("mul-single", mul(x), x),
        Rule("pow-zero", x ** 0, 1),
        Rule("pow-one", x ** 1, x),
        Rule("pow-pow", (x ** n_int) ** m_int, _pow_pow),
        Rule("pow-mul", mul(xs) ** n_int, _pow_mul),
        Rule("distribute-scalar", add(xs, mul(c, add(ys))), _distribute_scalar),
        Rule("collect-like-terms", add(xs), _collect_terms),
        Rule("collect-powers", mul(xs), _collect_powers),
        Rule("sort-add", add(xs), _sorted(add_op)),
        Rule("sort-mul", mul(xs), _sorted(mul_op)),
    ], doc=__doc__)

    EXPAND_TREE = RuleSet("expand-tree", [
        Rule("distribute", mul(xs, add(ys)), _distribute),
        Rule("expand-pow", add(ys) ** n_big, _expand_pow),
    ])


def tree_simplifier(expand: bool = False, max_iter: int = 200) -> Rewriter:
    """The tree-mode rule simplifier: Fixpoint(Postwalk(Fixpoint(rules))); run it in tree mode."""
    # expansion first: collect-powers would fold s·s back into s^2 before it is multiplied out
    rules = EXPAND_TREE + TREE_ALGEBRA if expand else TREE_ALGEBRA
    return Fixpoint(Postwalk(Fixpoint(rules, max_iter=max_iter)), max_iter=max_iter)


def simplify_tree(e: Any, expand: bool = False, max_iter: int = 200) -> Any:
    """Simplify tree-mode terms with rules only (no polynomial forms); a term or a list.

    >>> import symnum as sn
    >>> a, b = sn.symbols("a b")
    >>> with sn.tree_mode():
    ...     e = (a + b) * (a + b) - a * a
    >>> print(simplify_tree(e, expand=True))
    2*a*b + b^2
    """
    many = isinstance(e, (list, tuple))
    roots = list(e) if many else [e]
    with tree_mode():
        out = tree_simplifier(expand, max_iter).many(roots)
    return type(e)(out) if many else out[0]

