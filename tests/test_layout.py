"""The layout's two promises: no module imports another in a circle, and a lower layer never
imports a higher one (not even lazily inside a function), except through the lazy registries
(symnum.backends and symnum.rewrites, reached by name from symnum.compile and symnum.simplify).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder in the repository → the package it installs as
PACKAGES = {"symnum": "symnum", "backends": "symnum.backends", "rewrites": "symnum.rewrites"}
# lower layers first: a module may import its own layer and the layers before it
LAYERS = [
    ["symnum.errors"],
    ["symnum.core"],
    ["symnum.rules"],
    ["symnum.tracing"],
    ["symnum.io"],
    ["symnum.arrays"],
    ["symnum.autodiff", "symnum.loops"],
    ["symnum.simplify", "symnum.call_args", "symnum.built", "symnum.lowering",
     "symnum.lowering_options", "symnum.compile",
     "symnum.builders", "symnum.transforms", "symnum.transforms_inline",
     "symnum.transforms_higher", "symnum.batching",
     "symnum.persist"],
    ["symnum.rewrites", "symnum.backends"],
    ["symnum.testing", "symnum.distributed"],
    ["symnum"],  # the public API (symnum/__init__.py)
    ["symnum.demo", "symnum.__main__"],  # users of the public API
]
REGISTRIES = ("symnum.rewrites", "symnum.backends")


def modules() -> dict[str, Path]:
    mods = {}
    for folder, pkg in PACKAGES.items():
        for p in (ROOT / folder).rglob("*.py"):
            parts = list(p.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([pkg, *parts])] = p
    return mods


MODS = modules()


def imports(name: str, path: Path) -> set[str]:
    """The project modules `name` imports anywhere in its body (top level or inside functions)."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from pkg import module` imports the module; `from pkg import name`, the package
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODS else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODS:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for name, path in MODS.items():
        g.add_node(name)
        for t in imports(name, path):
            g.add_edge(name, t)
    return g


def layer(name: str) -> int:
    best, rank = -1, None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{name} belongs to no layer: add it to LAYERS"
    return rank


def test_no_import_circles():
    cycles = [c for c in nx.simple_cycles(graph()) if len(c) > 1]
    assert not cycles, "modules import each other in a circle: " + "; ".join(
        " → ".join(c + c[:1]) for c in cycles[:10])


def test_lower_layers_never_import_higher_ones():
    bad = []
    for a, b in graph().edges:
        into_registry = b.startswith(REGISTRIES) and not a.startswith(REGISTRIES)
        # a package's __init__ may re-export its own modules
        if layer(b) > layer(a) and not into_registry and not b.startswith(a + "."):
            bad.append(f"{a} → {b}")
    assert not bad, "a lower layer imports a higher one:\n" + "\n".join(sorted(bad))


def test_the_checker_sees_edges():
    # guard against a check that could never fail
    g = graph()
    assert g.has_edge("symnum.autodiff.ad", "symnum.core.terms")
    assert g.has_edge("symnum.backends.llvm_backend", "symnum.backends.llvm_ir")


@pytest.mark.parametrize("name", sorted(MODS))
def test_every_module_is_in_a_layer(name):
    layer(name)
