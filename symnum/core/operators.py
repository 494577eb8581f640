"""The arithmetic, comparison and logic operators of every symnum term (the base of
symnum.core.terms' Expr): each builds a new term through the hooks the higher layers install
(symnum.core.hooks; canonical forms, or plain Terms in tree mode). Holds no state and knows no
term type; a sum's and a product's own `+`/`*` fast paths override two of these in terms.py.
"""

from __future__ import annotations

from symnum.core.hooks import HOOKS


class Operators:
    """Python's operator protocol, delegated to HOOKS (numpy's meaning, symbolic results)."""

    __slots__ = ()

    # arithmetic ------------------------------------------------------------------------------
    def __add__(self, o):
        return HOOKS.add(self, o)

    def __radd__(self, o):  # o + self
        return HOOKS.add(o, self)

    def __sub__(self, o):
        return HOOKS.sub(self, o)

    def __rsub__(self, o):  # o - self
        return HOOKS.sub(o, self)

    def __mul__(self, o):
        return HOOKS.mul(self, o)

    def __rmul__(self, o):  # o * self
        return HOOKS.mul(o, self)

    def __truediv__(self, o):
        return HOOKS.div(self, o)

    def __rtruediv__(self, o):  # o / self
        return HOOKS.div(o, self)

    def __pow__(self, o):
        return HOOKS.pow(self, o)

    def __rpow__(self, o):  # o ** self
        return HOOKS.pow(o, self)

    def __neg__(self):
        return HOOKS.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return HOOKS.abs(self)

    # comparisons and logic build boolean terms (for ifelse / np.where conditions)
    def __lt__(self, o):
        return HOOKS.lt(self, o)

    def __le__(self, o):
        return HOOKS.le(self, o)

    def __gt__(self, o):
        return HOOKS.gt(self, o)

    def __ge__(self, o):
        return HOOKS.ge(self, o)

    def __and__(self, o):
        return HOOKS.logical_and(self, o)

    def __rand__(self, o):
        return HOOKS.logical_and(o, self)

    def __or__(self, o):
        return HOOKS.logical_or(self, o)

    def __ror__(self, o):
        return HOOKS.logical_or(o, self)

    def __invert__(self):
        return HOOKS.logical_not(self)

    def __floordiv__(self, o):  # numpy's floor_divide, exactly (derivative 0)
        return HOOKS.floor_divide(self, o)

    def __rfloordiv__(self, o):
        return HOOKS.floor_divide(o, self)

    def __mod__(self, o):  # numpy's remainder: the sign of the divisor, as Python's %
        return HOOKS.mod(self, o)

    def __rmod__(self, o):
        return HOOKS.mod(o, self)
