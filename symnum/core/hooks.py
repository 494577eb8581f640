"""Extension points of the core that higher layers fill in, so that the core never imports them.

A term's arithmetic operators are the primitives (symnum.core.primitives), its numpy protocols
are tracing's (symnum.tracing.protocols), its text and LaTeX are symnum.io.printing's, and what to
say when Python asks a symbol for a concrete value is symnum.tracing.concrete's. Each of those
modules installs its entries here when it is imported, and `import symnum` imports them all —
the way JAX's core leaves its tracers' arithmetic to `lax`. Nothing here imports symnum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# name → who installs it
PROVIDERS = {
    "add": "symnum.core.primitives", "sub": "symnum.core.primitives",
    "mul": "symnum.core.primitives", "div": "symnum.core.primitives",
    "pow": "symnum.core.primitives", "neg": "symnum.core.primitives",
    "abs": "symnum.core.primitives", "lt": "symnum.core.primitives",
    "le": "symnum.core.primitives", "gt": "symnum.core.primitives",
    "ge": "symnum.core.primitives", "eq": "symnum.core.primitives",
    "ne": "symnum.core.primitives", "logical_and": "symnum.core.primitives",
    "logical_or": "symnum.core.primitives", "logical_not": "symnum.core.primitives",
    "floor_divide": "symnum.core.primitives_more", "mod": "symnum.core.primitives_more",
    "infer_dtype": "symnum.core.traversal",
    "concrete_value_error": "symnum.tracing.concrete",
    "array_ufunc": "symnum.tracing.protocols", "array_function": "symnum.tracing.protocols",
    "elementwise": "symnum.tracing.protocols",
    "to_str": "symnum.io.printing", "to_latex": "symnum.io.printing",
}


def _missing(name: str) -> Callable[..., Any]:
    def hook(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"symnum.core.hooks.{name} is not installed; it comes from {PROVIDERS[name]}, which "
            "`import symnum` imports — import symnum before using terms"
        )

    return hook


class Hooks:
    """One attribute per extension point (see PROVIDERS); unset ones raise a clear error."""

    def __init__(self) -> None:
        for name in PROVIDERS:
            setattr(self, name, _missing(name))


HOOKS = Hooks()


def install(**fns: Callable[..., Any]) -> None:
    """Install extension points by name (each provider calls this once, at import)."""
    for name, fn in fns.items():
        if name not in PROVIDERS:
            raise KeyError(f"unknown hook {name!r}; the hooks are {sorted(PROVIDERS)}")
        setattr(HOOKS, name, fn)
