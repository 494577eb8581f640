"""Graphs a person can look at (symnum.io.graph), LaTeX in Jupyter, and help() texts."""

from __future__ import annotations

import pydoc
import shutil

import numpy as np
import pytest

import symnum as sn

x, y = sn.symbols("x y")


def test_networkx_graph_shares_subterms_and_marks_inputs_outputs():
    fn = sn.trace(lambda a, b: (np.sin(a * b) + a * b, a), 1.0, 2.0)
    g = sn.to_networkx(fn)
    labels = sorted(d["label"] for _, d in g.nodes(data=True))
    assert labels == ["a", "add", "b", "mul", "sin"]  # a*b once: the DAG, not a tree
    ins = {d["label"]: d["input"] for _, d in g.nodes(data=True) if d["kind"] == "symbol"}
    assert ins == {"a": 0, "b": 1}
    outs = {d["label"]: d["outputs"] for _, d in g.nodes(data=True) if d["outputs"]}
    assert outs == {"add": [0], "a": [1]}
    mul = next(i for i, d in g.nodes(data=True) if d["label"] == "mul")
    assert sorted(d["index"] for _, _, d in g.in_edges(mul, data=True)) == [0, 1]
    assert sn.to_networkx(np.array([x, 2 * y])).number_of_nodes() == 4


def test_dot_text_and_svg():
    text = sn.to_dot(sn.exp(x) * y)
    assert text.startswith("digraph symnum {") and text.rstrip().endswith("}")
    assert 'label="exp"' in text and "->" in text
    weird = sn.Sym('q"uote\\')
    assert '\\"' in sn.to_dot(weird + 1)  # names are quoted, never break the DOT syntax
    if shutil.which("dot"):
        assert "<svg" in sn.to_dot(x + y, svg=True)
    else:
        with pytest.raises(sn.SymnumError, match="graphviz"):
            sn.to_dot(x, svg=True)


def test_repr_latex_of_symarray_and_fn():
    u = sn.symarray("u", (2, 2))
    assert u._repr_latex_() == (r"$\left[\begin{matrix}u_{0,0} & u_{0,1} \\ u_{1,0} & u_{1,1}"
                                r"\end{matrix}\right]$")
    fn = sn.trace(lambda a, b: (a * b, np.array([a, b])), 1.0, 2.0)
    assert fn._repr_latex_() == (r"$\left(a, b\right) \mapsto \left(a b, \left[\begin{matrix}"
                                 r"a & b\end{matrix}\right]\right)$")


@pytest.mark.parametrize("op", [sn.ifelse, sn.sin, sn.floor, sn.logaddexp, sn.fma])
def test_help_shows_each_ops_own_docstring(op):
    text = pydoc.render_doc(op, renderer=pydoc.plaintext)
    assert f"{op.name}(" in text and "Compiled as" in text
    assert "A primitive operation. Calling it" not in text  # not the Op class's doc


def test_help_of_ifelse_says_what_it_does():
    assert "instead of Python's if/else" in pydoc.render_doc(sn.ifelse, renderer=pydoc.plaintext)


def test_help_of_compile_lists_backends_and_options():
    doc = sn.compile.__doc__
    for word in ("llvm", "numba", "cuda", "numpy", "auto", "simplify", "cache_dir",
                 "fastmath", "shard", "dtype"):
        assert word in doc
