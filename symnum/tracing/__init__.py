"""Tracing: numpy code → symbolic graphs. Symbolic arrays and numpy's protocols, Fn, pytrees,
symbols, and what to say when Python needs a concrete value.

Sits on symnum.core; never imports differentiation, simplification, compilation or printing.
"""
