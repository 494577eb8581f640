"""Making symbols: `symbols("x y z")` and symbolic arrays `symarray("u", (n, n))`.

The user-facing way to create Syms before tracing or building expressions by hand. Any string is
a valid name (names never reach generated code), so this module never validates or mangles
names beyond splitting a single string on commas or whitespace. SymPy assumption keywords are
checked here: kept where simplify honours them, refused where ignoring them would mislead.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from symnum.core.terms import Sym
from symnum.errors import DTypeError, UnsupportedOperationError
from symnum.tracing.protocols import SymArray

# SymPy's assumption keywords. Symbols are real floats: `real=True` says nothing new, the sign
# facts are kept (simplify's sign predicates read them: sqrt(x**2) → x for a positive x), and
# the rest would be silently wrong if ignored, so they are refused.
SIGN_FACTS = ("positive", "nonnegative")
_REAL_ONLY = ("complex", "imaginary")
_SYMPY_ASSUMPTIONS = frozenset(
    "commutative real extended_real finite infinite integer rational irrational algebraic "
    "transcendental prime composite even odd zero nonzero negative nonpositive extended_positive "
    "extended_negative extended_nonnegative extended_nonpositive extended_nonzero hermitian "
    "antihermitian noninteger polar".split()) | set(SIGN_FACTS) | set(_REAL_ONLY)


def assumptions(meta: dict) -> dict:
    """Check SymPy-style assumption keywords; return the metadata a Sym keeps.

    >>> assumptions({"positive": True, "real": True, "units": "m"})
    {'positive': True, 'units': 'm'}
    """
    out = {}
    for k, v in meta.items():
        if k not in _SYMPY_ASSUMPTIONS:
            out[k] = v  # user metadata (units, role, …): kept verbatim
        elif k in _REAL_ONLY and v:
            raise DTypeError(
                f"symbols(..., {k}=True): symnum's symbols are real floating-point numbers and "
                "its kernels compute in float64/float32; model a complex value as two real "
                "symbols (re, im)"
            )
        elif k in ("real", "extended_real", "commutative", "finite") and v is True:
            pass  # what every symnum symbol already is as far as simplify is concerned
        elif k in SIGN_FACTS and v is True:
            out[k] = True
        elif k in _REAL_ONLY and not v:
            pass
        else:
            hint = " (use dtype='int64' for integer symbols)" if k == "integer" else ""
            raise UnsupportedOperationError(
                f"symbols(..., {k}={v!r}): symnum does not use this assumption and would silently "
                f"ignore it{hint}; the assumptions it honours are "
                f"{', '.join(f'{a}=True' for a in SIGN_FACTS)} (and real=True, a no-op)"
            )
    return out


def _split_names(names: str) -> tuple[list[str], bool]:
    """SymPy's parsing: names separated by commas and/or whitespace; a trailing comma asks for
    a tuple even for one name."""
    chunks = [c.strip() for c in names.split(",")]
    trailing = len(chunks) > 1 and chunks[-1] == ""
    if trailing:
        chunks.pop()
    if any(c == "" for c in chunks) and len(chunks) > 1:
        raise ValueError(f"symbols({names!r}) has an empty name between commas")
    parts = [p for c in chunks for p in c.split()]
    return parts, len(parts) == 1 and not trailing


def symbols(names: str | Sequence[str], dtype: str = "float64", **meta: Any) -> Any:
    """Symbols from a string ("x y z", "x, y" or "a,b c") or a list of arbitrary strings.

    A string is split like SymPy's: on commas and whitespace. One name gives one Sym; several
    names (or a trailing comma) give a tuple. A list or tuple gives a tuple with one Sym per
    element, each element used verbatim. SymPy assumption keywords: `positive=True` and
    `nonnegative=True` are kept (simplify uses them); `complex=True` raises DTypeError (symbols
    are real); other assumptions raise UnsupportedOperationError instead of being ignored.

    >>> x, y = symbols("x y")
    >>> symbols("x") is x, symbols("x,"), symbols("a,b c")
    (True, (x,), (a, b, c))
    >>> [s.name for s in symbols(["flow rate", "α β"])]
    ['flow rate', 'α β']
    """
    meta = assumptions(meta)
    if isinstance(names, str):
        parts, single = _split_names(names)
        if not parts:
            raise ValueError(
                f"symbols({names!r}) names no symbol; pass e.g. 'x y z', 'x, y' or a list"
            )
        syms = tuple(Sym(p, dtype, **meta) for p in parts)
        return syms[0] if single else syms
    if isinstance(names, (list, tuple)):
        for n in names:
            if not isinstance(n, str):
                raise TypeError(
                    f"symbols() takes a string or a list of strings; got an element of type "
                    f"{type(n).__name__}: {n!r}"
                )
        return tuple(Sym(n, dtype, **meta) for n in names)
    raise TypeError(
        f"symbols() takes a string or a list of strings, not {type(names).__name__}"
    )


def symarray(name: str, shape: int | Sequence[int], dtype: str = "float64",
             **meta: Any) -> SymArray:
    """A SymArray of fresh Syms named like `u[0,1]` (C order).

    >>> u = symarray("u", (2, 2))
    >>> u.shape, u[0, 1].name, symarray("p", 3)[2].name
    ((2, 2), 'u[0,1]', 'p[2]')
    """
    meta = assumptions(meta)
    if not isinstance(name, str):
        raise TypeError(f"symarray() needs a str name, got {type(name).__name__}")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(int(d) < 0 for d in shape):
        raise ValueError(f"symarray() shape must be non-negative, got {shape}")
    shape = tuple(int(d) for d in shape)
    out = np.empty(shape, dtype=object)
    if not shape:
        out[()] = Sym(name, dtype, **meta)
    else:
        for idx in itertools.product(*(range(d) for d in shape)):
            out[idx] = Sym(f"{name}[{','.join(map(str, idx))}]", dtype, **meta)
    return out.view(SymArray)
