"""The term interface for SymPy expressions: five registrations, and the rule engine runs on them.

Importing this module registers `iscall/operation/arguments/metadata/maketerm` for
`sympy.Basic`, `sympy.Wild` as a pattern slot, SymPy numbers as literals and `sympy.Add`/`Mul`
as associative-commutative. It is the proof that rewriters touch terms only through the
interface. SymPy is optional: `import symnum` never imports this module.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

try:
    import sympy
except ImportError as exc:  # pragma: no cover - exercised only without sympy
    raise ImportError(
        "symnum.io.sympy_terms needs SymPy; install it with `pip install sympy`") from exc

from symnum.core.interface import arguments, iscall, metadata, operation, register_maketerm
from symnum.rules.pattern import isslot, literal_value, register_ac, slot_accepts, slot_name


@iscall.register(sympy.Basic)
def _iscall(t: sympy.Basic) -> bool:
    return not t.is_Atom


@operation.register(sympy.Basic)
def _operation(t: sympy.Basic) -> Any:
    return t.func


@arguments.register(sympy.Basic)
def _arguments(t: sympy.Basic) -> list:
    return list(t.args)


@metadata.register(sympy.Basic)
def _metadata(t: sympy.Basic) -> Any:
    return None


@register_maketerm(sympy.Basic)
def _maketerm(T: type, op: Any, args: list, meta: Any = None) -> sympy.Basic:
    # SymPy's constructors evaluate (x + 0 → x), the way symnum's canonical mode does
    return op(*args)


@isslot.register(sympy.Wild)
def _isslot(t: sympy.Wild) -> bool:
    return True


@slot_name.register(sympy.Wild)
def _slot_name(t: sympy.Wild) -> str:
    return t.name


@slot_accepts.register(sympy.Wild)
def _slot_accepts(t: sympy.Wild, term: Any) -> bool:
    # Wild's own check applies its `exclude` and `properties`
    return isinstance(term, sympy.Basic) and t.matches(term) is not None


@literal_value.register(sympy.Number)
def _literal_value(t: sympy.Number) -> Any:
    if t.is_Integer:
        return int(t)
    if t.is_Rational:
        return Fraction(int(t.p), int(t.q))
    return float(t)


register_ac(sympy.Add, sympy.Mul)


def is_registered() -> bool:
    """True once the SymPy term interface is active (importing this module does it).

    >>> import sympy, symnum as sn
    >>> from symnum.io import sympy_terms
    >>> a = sympy.Symbol("a")
    >>> sn.operation(sympy.sin(a)) is sympy.sin, sn.arguments(sympy.sin(a))
    (True, [a])
    """
    return iscall.dispatch(sympy.Basic) is _iscall
