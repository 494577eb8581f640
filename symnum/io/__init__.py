"""Terms shown and exchanged: text printing, LaTeX, and SymPy interop (conversion both ways and
the term interface for SymPy expressions).

Sits on symnum.core (and the rule engine, for SymPy pattern slots); nothing below imports it
(terms print through the hooks this package installs).
"""
