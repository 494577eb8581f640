"""Converting between symnum terms and SymPy expressions (`to_sympy`, `from_sympy`).

An interop edge, not part of the pipeline: SymPy is optional and imported only when one of these
functions runs. Conversion walks the DAG iteratively, one SymPy object per shared subterm; it
never simplifies beyond what SymPy's own constructors do. (The term-interface registration that
lets rewriters walk SymPy expressions directly is symnum.sympy_terms, a separate concern.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import numpy as np

import symnum.core.primitives as P
import symnum.core.primitives_more as PM
from symnum.core.build import as_expr
from symnum.core.interface import arguments, iscall, operation
from symnum.core.op import PRIMITIVES
from symnum.core.terms import Const, Expr, Sym, is_number
from symnum.core.traversal import postorder
from symnum.errors import UnsupportedOperationError
from symnum.io.printing import op_name
from symnum.tracing.pytree import tree_map


def _sympy():
    try:
        import sympy
    except ImportError as exc:  # pragma: no cover - exercised only without sympy
        raise ImportError(
            "converting to or from SymPy needs SymPy, which is optional: `pip install sympy`"
        ) from exc
    return sympy


# ---------------------------------------------------------------------------------------------
# symnum → SymPy


def _to_table(sp) -> dict:
    from sympy.codegen.cfunctions import expm1, log1p

    def piecewise(c, a, b):
        return sp.Piecewise((_num(sp, a), _cond(sp, c)), (_num(sp, b), True))

    def arith(f):
        return lambda *xs: f(*[_num(sp, x) for x in xs])

    def logic(f):
        return lambda *xs: f(*[_cond(sp, x) for x in xs])

    return {
        "add": arith(sp.Add), "sub": arith(lambda a, b: a - b), "neg": arith(lambda a: -a),
        "mul": arith(sp.Mul), "div": arith(lambda a, b: a / b), "pow": arith(sp.Pow),
        "fma": arith(lambda a, b, c: a * b + c),
        "exp": arith(sp.exp), "log": arith(sp.log), "log1p": arith(log1p),
        "expm1": arith(expm1), "sqrt": arith(sp.sqrt), "sin": arith(sp.sin),
        "cos": arith(sp.cos), "tan": arith(sp.tan), "asin": arith(sp.asin),
        "acos": arith(sp.acos), "atan": arith(sp.atan), "atan2": arith(sp.atan2),
        "sinh": arith(sp.sinh), "cosh": arith(sp.cosh), "tanh": arith(sp.tanh),
        "abs": arith(sp.Abs), "sign": arith(sp.sign), "erf": arith(sp.erf),
        "hypot": arith(lambda a, b: sp.sqrt(a**2 + b**2)),  # one way: SymPy has no hypot
        "minimum": arith(sp.Min), "maximum": arith(sp.Max), "ifelse": piecewise,
        "lt": arith(sp.Lt), "le": arith(sp.Le), "gt": arith(sp.Gt), "ge": arith(sp.Ge),
        "eq": arith(sp.Eq), "ne": arith(sp.Ne),
        "logical_and": logic(sp.And), "logical_or": logic(sp.Or), "logical_not": logic(sp.Not),
        "asinh": arith(sp.asinh), "acosh": arith(sp.acosh), "atanh": arith(sp.atanh),
        "cbrt": arith(lambda a: sp.sign(a) * sp.Abs(a) ** sp.Rational(1, 3)),  # the real root
        "copysign": arith(lambda a, b: sp.Abs(a) * sp.sign(b)),  # one way (b = ±0 differ)
        "floor": arith(sp.floor), "ceil": arith(sp.ceiling),
        "trunc": arith(lambda a: sp.sign(a) * sp.floor(sp.Abs(a))),
        "rint": arith(lambda a: sp.floor(a + sp.S.Half)),  # one way: ties differ (numpy: even)
        "fmod": arith(lambda a, b: a - b * sp.sign(a / b) * sp.floor(sp.Abs(a / b))),
        "logaddexp": arith(lambda a, b: sp.log(sp.exp(a) + sp.exp(b))),
        "logaddexp2": arith(lambda a, b: sp.log(2**a + 2**b, 2)),
    }


def _is_boolean(sp, v) -> bool:
    return isinstance(v, sp.logic.boolalg.Boolean) and not isinstance(v, sp.Symbol)


def _num(sp, v):
    """A condition used as a number counts 1 or 0 (numpy's bool arithmetic)."""
    return sp.Piecewise((1, v), (0, True)) if _is_boolean(sp, v) else v


def _cond(sp, v):
    """A number used as a condition is true when non-zero (np.where's reading)."""
    if _is_boolean(sp, v) or (isinstance(v, sp.Symbol) and v.is_real is None):
        return v  # a condition, or a boolean Sym (a plain Symbol)
    return sp.Ne(v, 0)


def _sympy_number(sp, v):
    if isinstance(v, bool):
        return sp.true if v else sp.false
    if isinstance(v, int):
        return sp.Integer(v)
    if isinstance(v, Fraction):
        return sp.Rational(v.numerator, v.denominator)
    f = float(v)
    if math.isnan(f):
        return sp.nan
    if math.isinf(f):
        return sp.oo if f > 0 else -sp.oo
    return sp.Float(f)  # exact: a Float from a float keeps all 53 bits


def _sympy_symbol(sp, s: Sym):
    if s.dtype == "bool":
        return sp.Symbol(s.name)
    if s.dtype.startswith(("int", "uint")):
        return sp.Symbol(s.name, integer=True)
    signs = {k: True for k in ("positive", "nonnegative") if s.meta.get(k)}
    return sp.Symbol(s.name, real=True, **signs)


def _to_sympy_terms(sp, roots: list) -> dict:
    table = _to_table(sp)
    memo: dict[int, Any] = {}
    for n in postorder(roots):
        if isinstance(n, Const):
            memo[id(n)] = _sympy_number(sp, n.value)
        elif isinstance(n, Sym):
            memo[id(n)] = _sympy_symbol(sp, n)
        elif iscall(n):
            name = op_name(operation(n))
            args = [memo[id(a)] for a in arguments(n)]
            make = table.get(name)
            if make is None:  # a user's primitive: an undefined SymPy function of that name
                make = sp.Function(name)
            memo[id(n)] = make(*args)
        else:
            raise UnsupportedOperationError(
                f"to_sympy cannot convert the leaf {n!r} of type {type(n).__name__}; only Sym "
                "and Const leaves have SymPy counterparts"
            )
    return memo


def to_sympy(e: Any) -> Any:
    """A SymPy expression for a term; pytrees map leafwise (arrays become sympy.Array); an Fn
    converts its outputs.

    Syms become real Symbols of the same name (integer ones integer, boolean ones plain),
    exact numbers stay exact and floats keep every bit; ifelse becomes Piecewise, comparisons
    relationals, logic And/Or/Not, minimum/maximum Min/Max, hypot sqrt(a² + b²), fma a·b + c, log1p
    and expm1 the functions of sympy.codegen.cfunctions; a user's primitive an undefined Function.

    >>> import symnum as sn
    >>> x = sn.Sym("x")
    >>> to_sympy(sn.ifelse(x < 0, -x, x ** 2 / 3))
    Piecewise((-x, x < 0), (x**2/3, True))
    """
    sp = _sympy()
    if hasattr(e, "outputs") and hasattr(e, "inputs") and not isinstance(e, Expr):
        e = e.outputs

    def leaf(v):
        if isinstance(v, np.ndarray):
            flat = [as_expr(x) for x in v.ravel()]
            memo = _to_sympy_terms(sp, flat)
            return sp.Array([memo[id(t)] for t in flat], v.shape) if v.ndim else memo[id(flat[0])]
        t = as_expr(v)
        return _to_sympy_terms(sp, [t])[id(t)]

    return tree_map(leaf, e)


# ---------------------------------------------------------------------------------------------
# SymPy → symnum


def _from_table(sp) -> dict:
    from sympy.codegen import cfunctions as cf

    def fold(f):
        def go(*xs):
            acc = xs[0]
            for x in xs[1:]:
                acc = f(acc, x)
            return acc

        return go

    return {
        sp.Add: P.add, sp.Mul: P.mul, sp.exp: P.exp, sp.log: P.log, sp.sin: P.sin,
        sp.cos: P.cos, sp.tan: P.tan, sp.asin: P.asin, sp.acos: P.acos, sp.atan: P.atan,
        sp.atan2: P.atan2, sp.sinh: P.sinh, sp.cosh: P.cosh, sp.tanh: P.tanh, sp.Abs: P.abs,
        sp.sign: P.sign, sp.erf: P.erf, sp.Min: fold(P.minimum), sp.Max: fold(P.maximum),
        cf.log1p: P.log1p, cf.expm1: P.expm1, cf.hypot: P.hypot,
        sp.sec: lambda a: 1 / P.cos(a), sp.csc: lambda a: 1 / P.sin(a),
        sp.cot: lambda a: 1 / P.tan(a),
        sp.StrictLessThan: P.lt, sp.LessThan: P.le, sp.StrictGreaterThan: P.gt,
        sp.GreaterThan: P.ge, sp.Equality: P.eq, sp.Unequality: P.ne,
        sp.And: fold(P.logical_and), sp.Or: fold(P.logical_or), sp.Not: P.logical_not,
        sp.ITE: P.ifelse, sp.asinh: PM.asinh, sp.acosh: PM.acosh, sp.atanh: PM.atanh,
        sp.floor: PM.floor, sp.ceiling: PM.ceil,
    }


def _pow(sp, b, e, raw_exp):
    if raw_exp == sp.S.Half:  # SymPy spells sqrt(x) as x**(1/2) and 1/sqrt(x) as x**(-1/2)
        return P.sqrt(b)
    if raw_exp == -sp.S.Half:
        return 1 / P.sqrt(b)
    return P.pow(b, e)


def _piecewise(pairs: list) -> Expr:
    """Piecewise((a1, c1), (a2, c2), …) → ifelse(c1, a1, ifelse(c2, a2, …)); NaN where no
    condition holds, as SymPy leaves it undefined there."""
    acc: Any = Const(math.nan)
    for value, cond in reversed(pairs):
        acc = value if cond is Const(True) else P.ifelse(cond, value, acc)
    return acc


def _leaf_from_sympy(sp, x, by_name: dict) -> Any:
    if isinstance(x, sp.Symbol):
        if x.name in by_name:
            return by_name[x.name]
        return Sym(x.name, "int64" if x.is_integer else "float64")
    if x is sp.true or x is sp.false:
        return Const(bool(x))
    if x is sp.nan:
        return Const(math.nan)
    if x is sp.oo:
        return Const(math.inf)
    if x is sp.S.NegativeInfinity:
        return Const(-math.inf)
    if isinstance(x, sp.Integer):
        return Const(int(x))
    if isinstance(x, sp.Rational):
        return Const(Fraction(int(x.p), int(x.q)))
    if isinstance(x, sp.Float):
        return Const(float(x))
    if isinstance(x, sp.NumberSymbol):  # pi, E, EulerGamma, …
        return Const(float(x))
    if x is sp.zoo or x is sp.I or isinstance(x, sp.Number):
        raise UnsupportedOperationError(
            f"from_sympy cannot convert {x} (a complex number); symnum terms are real-valued"
        )
    return None


def _unsupported(sp, x) -> UnsupportedOperationError:
    if isinstance(x, sp.core.function.AppliedUndef):
        name = x.func.__name__
        return UnsupportedOperationError(
            f"SymPy function '{name}' has no symnum primitive; register one with "
            f"symnum.register('{name}', impl, partials=...) and convert again"
        )
    name = getattr(x.func, "__name__", type(x).__name__)
    return UnsupportedOperationError(
        f"from_sympy has no rule for SymPy's '{name}' (in {x}); rewrite it with supported "
        "functions (sympy's .rewrite()) or register a symnum primitive for it"
    )


def _from_sympy_expr(sp, root, by_name: dict) -> Any:
    table = _from_table(sp)
    memo: dict = {}
    stack = [(root, False)]
    while stack:  # iterative postorder: deep SymPy trees convert without recursion errors
        x, ready = stack.pop()
        if x in memo:
            continue
        if not ready:
            leaf = _leaf_from_sympy(sp, x, by_name)
            if leaf is not None:
                memo[x] = leaf
                continue
            if not (isinstance(x, (sp.Piecewise, sp.Pow)) or x.func in table or (
                    isinstance(x, sp.core.function.AppliedUndef)
                    and x.func.__name__ in PRIMITIVES)):
                raise _unsupported(sp, x)  # before its arguments: name the outermost culprit
            stack.append((x, True))
            kids = x.args if not isinstance(x, sp.Piecewise) else [
                part for pair in x.args for part in pair]
            stack.extend((a, False) for a in kids if a not in memo)
            continue
        if isinstance(x, sp.Piecewise):
            memo[x] = _piecewise([(memo[v], memo[c]) for v, c in x.args])
        elif isinstance(x, sp.Pow):
            memo[x] = _pow(sp, memo[x.base], memo[x.exp], x.exp)
        elif x.func in table:
            memo[x] = table[x.func](*[memo[a] for a in x.args])
        else:  # a user's primitive, checked above
            memo[x] = PRIMITIVES[x.func.__name__](*[memo[a] for a in x.args])
    return memo[root]


def from_sympy(expr: Any, symbols: Iterable[Sym] | None = None) -> Any:
    """A symnum term for a SymPy expression (pytrees map leafwise; Matrix/Array → object
    ndarray). Symbols map to Syms by name: pass `symbols` to reuse Syms with their metadata.

    Integers become int, Rationals Fraction, Floats float, pi/E floats; Piecewise nests
    ifelse; sqrt, Min/Max, relationals and And/Or/Not map back to their primitives; sec, csc
    and cot become reciprocals. Anything else raises UnsupportedOperationError naming it.

    >>> import sympy, symnum as sn
    >>> x = sympy.Symbol("x")
    >>> from_sympy(sympy.sin(x) ** 2 + sympy.Rational(1, 3))
    sin(x)^2 + 1/3
    """
    sp = _sympy()
    by_name = {s.name: s for s in symbols} if symbols is not None else {}

    def leaf(v):
        if isinstance(v, (sp.MatrixBase, sp.NDimArray)):
            shape = v.shape
            flat = [_from_sympy_expr(sp, sp.sympify(x), by_name) for x in _flat(v)]
            out = np.empty(len(flat), dtype=object)
            out[:] = flat
            return out.reshape(shape)
        if isinstance(v, sp.Basic):
            return _from_sympy_expr(sp, v, by_name)
        if is_number(v) or isinstance(v, Expr):
            return as_expr(v)
        raise UnsupportedOperationError(
            f"from_sympy expects SymPy expressions, got a {type(v).__name__}: {v!r}"
        )

    if isinstance(expr, np.ndarray):
        return np.vectorize(leaf, otypes=[object])(expr)
    return tree_map(leaf, expr)


def _flat(v) -> list:
    if hasattr(v, "tolist") and not hasattr(v, "rows"):  # an NDimArray
        return list(np.array(v.tolist(), dtype=object).ravel())
    return list(v)  # a Matrix iterates row-major
