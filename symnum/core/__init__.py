"""The core: term types and the term interface, Op blocks and the primitives, canonical forms,
building, traversal and the reference interpreter.

The bottom layer of symnum: it imports only `symnum.errors`, never tracing, differentiation,
printing, the rewrites or the backends (those register hooks into it instead, see terms.HOOKS).
"""
