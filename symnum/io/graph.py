"""Graphs a person can look at: a term DAG (or a traced Fn) as a networkx DiGraph or Graphviz DOT.

Nodes are the DAG's shared subterms (each once: hash-consing makes sharing visible), edges run
from an argument to its user with the argument's position; a Fn's inputs and outputs are marked.
Reads terms through the interface only; never evaluates or simplifies. `to_dot(..., svg=True)`
runs Graphviz's `dot` binary when it is installed and says how to get it when it is not.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import numpy as np

from symnum.core.interface import arguments, iscall, operation
from symnum.core.terms import Const, Expr, Sym
from symnum.core.traversal import postorder
from symnum.errors import SymnumError
from symnum.tracing.fn import Fn


def _roots(obj: Any) -> tuple[list, list, dict]:
    """(output terms, input symbols, id(term) → output indices) of an Fn, term or array."""
    if isinstance(obj, Fn):
        outs, ins = list(obj.flat_outputs), list(obj.flat_inputs)
    elif isinstance(obj, np.ndarray):
        outs, ins = [o if isinstance(o, Expr) else Const(o) for o in obj.ravel()], []
    elif isinstance(obj, (list, tuple)):
        outs, ins = [o if isinstance(o, Expr) else Const(o) for o in obj], []
    elif isinstance(obj, Expr):
        outs, ins = [obj], []
    else:
        raise TypeError(f"to_networkx/to_dot take a term, an array of terms or an Fn, not "
                        f"{type(obj).__name__}")
    where: dict[int, list] = {}
    for k, o in enumerate(outs):
        where.setdefault(id(o), []).append(k)
    return outs, ins, where


def _label(n: Any) -> tuple[str, str]:
    if isinstance(n, Sym):
        return n.name, "symbol"
    if isinstance(n, Const):
        return repr(n.value) if not isinstance(n.value, float) else f"{n.value:.6g}", "const"
    op = operation(n)
    return getattr(op, "name", str(op)), "call"


def to_networkx(obj: Any):
    """A networkx DiGraph of the DAG: node attributes label, kind ("symbol", "const", "call"),
    input (slot or None), outputs (indices); edge attribute index (argument position).

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> g = sn.to_networkx(sn.sin(x * y) + x * y)
    >>> sorted(d["label"] for _, d in g.nodes(data=True))
    ['add', 'mul', 'sin', 'x', 'y']
    """
    import networkx as nx

    outs, ins, where = _roots(obj)
    slot = {id(s): i for i, s in enumerate(ins)}
    g = nx.DiGraph()
    ids: dict[int, int] = {}
    for n in postorder(outs + ins):
        i = ids[id(n)] = len(ids)
        label, kind = _label(n)
        g.add_node(i, label=label, kind=kind, input=slot.get(id(n)),
                   outputs=where.get(id(n), []))
        if iscall(n):
            for pos, a in enumerate(arguments(n)):
                if id(a) not in ids:  # an Add/Mul's numeric coefficient: a fresh leaf
                    j = ids[id(a)] = len(ids)
                    al, ak = _label(a)
                    g.add_node(j, label=al, kind=ak, input=None, outputs=[])
                g.add_edge(ids[id(a)], i, index=pos)
    return g


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(obj: Any, *, svg: bool = False) -> str:
    """Graphviz DOT text of the DAG (arguments above their users, outputs double-circled); with
    svg=True the SVG that Graphviz's `dot` renders from it.

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> print(sn.to_dot(sn.exp(x) * x).splitlines()[0])
    digraph symnum {
    """
    g = to_networkx(obj)
    shapes = {"symbol": "box", "const": "plaintext", "call": "ellipse"}
    lines = ["digraph symnum {", "  rankdir=BT;", '  node [fontname="Helvetica"];']
    for i, d in g.nodes(data=True):
        label = d["label"]
        if d["outputs"]:
            label += "\n→ out " + ",".join(map(str, d["outputs"]))
        shape = "doublecircle" if d["outputs"] and d["kind"] == "call" else shapes[d["kind"]]
        lines.append(f"  n{i} [label={_quote(label)}, shape={shape}];")
    for a, b, d in g.edges(data=True):
        lines.append(f'  n{a} -> n{b} [label="{d["index"]}"];')
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if not svg:
        return text
    exe = shutil.which("dot")
    if exe is None:
        raise SymnumError(
            "to_dot(..., svg=True) needs Graphviz's `dot` program, which is not on PATH; "
            "install graphviz (apt install graphviz, brew install graphviz, conda install "
            "graphviz) or render the DOT text from to_dot(...) elsewhere")
    return subprocess.run([exe, "-Tsvg"], input=text, capture_output=True, text=True,
                          check=True).stdout
