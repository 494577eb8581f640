"""What to say when Python needs a concrete value from a symbolic one (if/while, float(), math.*).

The error names the user's own source line (the innermost frame outside symnum and numpy) and
says what to write instead: symnum.ifelse / np.where for branches, numpy or symnum functions for
math-module calls, object arrays for storing symbols. Used by Expr's __bool__/__float__/__int__.
"""

from __future__ import annotations

import linecache
import os
import sys
from typing import Any

import numpy as np

from symnum.core.hooks import install
from symnum.core.interface import arguments, iscall, operation
from symnum.core.traversal import postorder
from symnum.errors import TracingError

_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep


def _is_ours(frame: Any) -> bool:
    """A frame of symnum (any subpackage, wherever it is installed) or of numpy."""
    name = frame.f_globals.get("__name__", "")
    return (name == "symnum" or name.startswith("symnum.")
            or os.path.abspath(frame.f_code.co_filename).startswith(_NUMPY_DIR))


def user_source_line() -> str | None:
    """'file.py:12: `if x > 0:`' for the innermost stack frame outside symnum and numpy."""
    f = sys._getframe(1)
    while f is not None:
        fname = f.f_code.co_filename
        if not _is_ours(f) and not fname.startswith("<frozen"):
            line = linecache.getline(fname, f.f_lineno).strip()
            line = line if len(line) <= 100 else line[:97] + "..."
            shown = os.path.relpath(fname) if not fname.startswith("<") else fname
            if shown.startswith(".." + os.sep):
                shown = fname
            return f"{shown}:{f.f_lineno}" + (f": `{line}`" if line else "")
        f = f.f_back
    return None


def _short(expr: Any, limit: int = 80) -> str:
    """A printable summary that never blows up on DAGs with heavy sharing."""

    size: dict[int, int] = {}
    nodes = postorder([expr])
    for n in nodes:
        size[id(n)] = min(10**6, 1 + sum(size[id(a)] for a in arguments(n))) if iscall(n) else 1
    if size[id(expr)] > 400:
        head = getattr(operation(expr), "name", "?")
        return f"<{head}(...) with {sum(1 for n in nodes if iscall(n))} operations>"
    s = str(expr)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def concrete_value_error(expr: Any, kind: str) -> TracingError:
    """The TracingError for bool()/float()/int()/complex() of a symbolic value (not raised here).

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> "sn.ifelse" in str(concrete_value_error(x > 0, "bool"))
    True
    """
    where = user_source_line()
    at = f" (at {where})" if where else ""
    head = (f"cannot convert the symbolic value `{_short(expr)}` to a Python {kind}{at}: its "
            "value is unknown while tracing. ")
    branch = ("To choose between values use sn.ifelse(cond, a, b) (symnum.ifelse) or "
              "np.where(cond, a, b) instead of if/while/and/or/not.")
    if kind == "bool":
        return TracingError(
            head + branch + " If numpy itself asked for a truth value (np.maximum, np.where, "
            "np.sort on a plain object array), make the array symbolic with symnum.SymArray(arr) "
            "so numpy dispatches to symnum, or use sn.maximum / sn.ifelse."
        )
    tail = (" Indices, sizes and loop counts must be concrete Python ints." if kind == "int"
            else "")
    return TracingError(
        head + "math-module functions (math.sin, math.exp) need numbers: use np.sin or sn.sin. "
        "An array made with np.zeros/np.empty (dtype float) cannot hold symbols: use "
        "np.zeros_like(symbolic_array) or dtype=object. " + branch + tail
    )


install(concrete_value_error=concrete_value_error)  # bool(term), float(term), ...
