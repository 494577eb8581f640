"""Hand-made e-graphs for the extractor's tests (test_egraph, test_estrin)."""

from __future__ import annotations

from symnum.rewrites.eg_extract import EGraph


def hand_graph(nodes):
    """An EGraph of `nodes`: (op, class, kid classes, cost) each; classes made as needed."""
    g = EGraph()
    for op, cls, kids, cost in nodes:
        while g.n_classes <= max([cls, *kids]):
            g.class_index(g.n_classes)
        g.add(op, cls, tuple(kids), (), cost)
    return g
