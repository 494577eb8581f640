"""Making symbols: `symbols("x y z")` and symbolic arrays `symarray("u", (n, n))`.

The user-facing way to create Syms before tracing or building expressions by hand. Any string is
a valid name (names never reach generated code), so this module never validates or mangles
names beyond splitting a single string on commas or whitespace.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from symnum.core.terms import Sym
from symnum.tracing.protocols import SymArray


def symbols(names: str | Sequence[str], dtype: str = "float64", **meta: Any) -> Any:
    """Symbols from a string ("x y z" or "x, y") or a list of arbitrary strings.

    A string holding one name gives one Sym; several names (or a trailing comma) give a tuple.
    A list or tuple gives a tuple with one Sym per element, each element used verbatim.

    >>> x, y = symbols("x y")
    >>> symbols("x") is x, symbols("x,")
    (True, (x,))
    >>> [s.name for s in symbols(["flow rate", "α β"])]
    ['flow rate', 'α β']
    """
    if isinstance(names, str):
        if "," in names:
            parts = [p.strip() for p in names.split(",")]
            if parts and parts[-1] == "":
                parts.pop()  # "x," asks for a tuple of one
                single = False
            else:
                single = len(parts) == 1
            if any(p == "" for p in parts):
                raise ValueError(f"symbols({names!r}) has an empty name between commas")
        else:
            parts = names.split()
            single = len(parts) == 1
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
