"""Terms as a flat node table and back: the one description of a term DAG that pickling
(`Expr.__reduce__`, `Fn.__reduce__`) and the JSON file format (`symnum.io.serialize`) share.

A table is a list of nodes, children before parents, each node a tuple that names its kind and
refers to earlier nodes by index:

    ("sym", name, meta)            meta: the symbol's metadata dict (dtype, shape, role, ...)
    ("const", number)
    ("term", op_name, (i, ...), meta)
    ("opterm", tag, data, (i, ...), meta)   an op that is data (a loop: OP_CODECS)
    ("add", const, ((i, coeff), ...))
    ("mul", coeff, ((i, exponent), ...))

Numbers stay Python numbers here (int, float, Fraction, np.float32, bool); the file format turns
them into exact text. Ops are stored by primitive name and looked up in the registry when the
table is read back, so a table never holds code. Both directions are iterative (no recursion
limit on deep graphs) and keep sharing (a subterm used twice is stored once). This module sits
in the core and must never import anything above it.
"""

from __future__ import annotations

from typing import Any

from symnum.core.op import PRIMITIVES
from symnum.core.terms import PICKLERS, Add, Const, Expr, Mul, Sym, Term
from symnum.errors import SerializationError

# Ops that are data rather than registered primitives (symnum.loops' loop nodes) store
# themselves: type → (tag, encode(op) -> plain data); tag → decode(data) -> op. Filled by the
# modules defining such ops; this module never imports them.
OP_CODECS: dict = {}
OP_DECODERS: dict = {}


def _children(node: Any) -> list:
    t = type(node)
    if t is Term:
        return list(node.args)
    if t is Add:
        return list(node.terms)
    if t is Mul:
        return list(node.bases)
    return []


def to_table(roots: list) -> tuple[list[tuple], list[int]]:
    """(nodes, index of each root) for a list of terms."""
    from symnum.core.traversal import postorder

    index: dict[int, int] = {}
    nodes: list[tuple] = []
    for n in postorder(roots, _children):
        t = type(n)
        if t is Sym:
            node = ("sym", n.name, dict(n.meta))
        elif t is Const:
            node = ("const", n.value)
        elif t is Term and OP_CODECS and type(n.op) in OP_CODECS:
            tag, encode = OP_CODECS[type(n.op)]
            node = ("opterm", tag, encode(n.op), tuple(index[id(a)] for a in n.args), n.meta)
        elif t is Term:
            node = ("term", n.op.name, tuple(index[id(a)] for a in n.args), n.meta)
        elif t is Add:
            node = ("add", n.const, tuple((index[id(k)], c) for k, c in n.terms.items()))
        elif t is Mul:
            node = ("mul", n.coeff, tuple((index[id(k)], e) for k, e in n.bases.items()))
        else:
            raise SerializationError(
                f"cannot store a {t.__name__} term ({n!r:.60}); only Sym, Const, Term, Add and "
                "Mul terms are saved (pattern slots belong to rules, not to expressions)")
        index[id(n)] = len(nodes)
        nodes.append(node)
    return nodes, [index[id(r)] for r in roots]


def from_table(nodes: list) -> list[Expr]:
    """The terms of a node table (interned: equal to the originals in this process)."""
    out: list[Expr] = []
    for k, node in enumerate(nodes):
        kind = node[0]
        try:
            if kind == "sym":
                meta = dict(node[2])
                dtype = meta.pop("dtype", "float64")
                meta.pop("shape", None)
                out.append(Sym(node[1], dtype, **meta))
            elif kind == "const":
                out.append(Const(node[1]))
            elif kind == "term":
                op = PRIMITIVES.get(node[1])
                if op is None:
                    raise SerializationError(
                        f"node {k} applies the primitive {node[1]!r}, which is not registered in "
                        "this process; register it (symnum.register) before loading")
                out.append(Term(op, tuple(out[i] for i in node[2]), node[3]))
            elif kind == "opterm":  # an op that describes itself (OP_CODECS)
                decode = OP_DECODERS.get(node[1])
                if decode is None:
                    raise SerializationError(
                        f"node {k} applies an operation of kind {node[1]!r}, which no module "
                        "loaded in this process reads back (import symnum first)")
                out.append(Term(decode(node[2]), tuple(out[i] for i in node[3]), node[4]))
            elif kind == "add":
                out.append(Add(node[1], {out[i]: c for i, c in node[2]}))
            elif kind == "mul":
                out.append(Mul(node[1], {out[i]: e for i, e in node[2]}))
            else:
                raise SerializationError(f"node {k} has the unknown kind {kind!r}")
        except SerializationError:
            raise
        except (IndexError, TypeError, ValueError, KeyError) as e:
            raise SerializationError(f"node {k} ({kind!r}) is malformed: {e}") from None
    return out


def rebuild(nodes: list, root: int) -> Expr:
    """Unpickling one expression."""
    return from_table(nodes)[root]


def reduce_expr(e: Expr) -> tuple:
    """`Expr.__reduce__`: the expression's node table, not its Python objects."""
    nodes, (root,) = to_table([e])
    return (rebuild, (nodes, root))


PICKLERS[:] = [reduce_expr]
