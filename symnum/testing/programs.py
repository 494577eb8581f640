"""Random multi-statement numpy programs: a hypothesis strategy and the interpreter that runs one.

A program is a plain tuple (so a failing example prints readably and replays exactly):
`(statements, outputs)` over the fixed inputs INPUTS — two vectors `a`, `b` of length 3, a 2×3
matrix `M` and two scalars `s`, `t`. Each statement `(target, op, *operands)` assigns a new
variable from earlier ones with one numpy idiom: an elementwise ufunc kept in its domain
(`np.log(1 + x*x)`), a binary ufunc that broadcasts, a reduction (total or along an axis), a
slice or transpose, a matrix-vector product, `np.where` on a comparison (`==` included), or a tie
`x = y` (an alias: later comparisons see two names for one value). Values stay within about
±LIMIT for inputs in [-2, 2]: statements that could grow a value squash an operand first
(`x / (1 + x*x)`, in [-1/2, 1/2]).

`run_program(program, a, b, M, s, t)` executes it with numpy's own functions and operators, so the
same call runs on numbers (the plain-numpy oracle), on traced scalar-mode object arrays and on
array-mode symbolic arrays. Sits in symnum.testing (needs hypothesis); never imported by symnum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

__all__ = ["INPUTS", "KINKED", "numpy_programs", "program_ops", "program_source", "run_program"]

# name → shape of each input
INPUTS: tuple[tuple[str, tuple], ...] = (("a", (3,)), ("b", (3,)), ("M", (2, 3)), ("s", ()),
                                         ("t", ()))
LIMIT = 50.0


def _sq(x):
    return x / (1 + x * x)


# elementwise unary: (numpy body, output bound given the input bound)
UNARY: dict[str, tuple] = {
    "sin": (lambda x: np.sin(x), lambda b: 1.0),
    "cos": (lambda x: np.cos(x), lambda b: 1.0),
    "tanh": (lambda x: np.tanh(x), lambda b: 1.0),
    "arctan": (lambda x: np.arctan(x), lambda b: 1.6),
    "arcsinh": (lambda x: np.arcsinh(x), lambda b: 1 + np.log1p(b)),
    "exp": (lambda x: np.exp(_sq(x)), lambda b: 1.65),
    "log": (lambda x: np.log(1 + x * x), lambda b: np.log1p(b * b)),
    "sqrt": (lambda x: np.sqrt(0.5 + x * x), lambda b: np.sqrt(0.5 + b * b)),
    "square": (lambda x: x * x, lambda b: b * b),
    "neg": (lambda x: -x, lambda b: b),
    "abs": (lambda x: np.abs(x), lambda b: b),
    "expm1": (lambda x: np.expm1(_sq(x)), lambda b: 0.65),
}
# elementwise binary, broadcasting
BINARY: dict[str, tuple] = {
    "add": (lambda x, y: x + y, lambda p, q: p + q),
    "sub": (lambda x, y: x - y, lambda p, q: p + q),
    "mul": (lambda x, y: x * y, lambda p, q: p * q),
    "div": (lambda x, y: x / (1 + y * y), lambda p, q: p),
    "maximum": (lambda x, y: np.maximum(x, y), max),
    "minimum": (lambda x, y: np.minimum(x, y), max),
    "hypot": (lambda x, y: np.hypot(x, y), lambda p, q: p + q),
    "arctan2": (lambda x, y: np.arctan2(x, 1.5 + y * y), lambda p, q: 1.6),
}
# comparisons for np.where(cmp(x, y), u, v)
COMPARE: dict[str, Any] = {
    "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y, "lt": lambda x, y: x < y,
    "eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "equal": np.equal,
}
# ops whose derivative jumps somewhere (finite differences are compared only where smooth)
KINKED = frozenset({"abs", "maximum", "minimum", "max", "min", "where"})


def _reduce(kind: str, axis):
    f = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}[kind]
    if kind == "prod":
        return lambda x: np.prod(np.tanh(x), axis=axis)
    return lambda x: f(x, axis=axis)


def _red_shape(shape: tuple, axis) -> tuple:
    if axis is None:
        return ()
    return shape[:axis] + shape[axis + 1:]


# slices: name → (numpy body, input shape → output shape or None when not applicable)
SLICES: dict[str, tuple] = {
    "tail": (lambda x: x[1:], lambda sh: (sh[0] - 1,) + sh[1:] if sh and sh[0] > 1 else None),
    "head": (lambda x: x[:-1], lambda sh: (sh[0] - 1,) + sh[1:] if sh and sh[0] > 1 else None),
    "rev": (lambda x: x[::-1], lambda sh: sh if sh else None),
    "first": (lambda x: x[0], lambda sh: sh[1:] if sh else None),
    "last": (lambda x: x[-1], lambda sh: sh[1:] if sh else None),
    "col": (lambda x: x[:, 1], lambda sh: sh[:1] if len(sh) == 2 else None),
    "cols": (lambda x: x[:, 1:], lambda sh: (sh[0], sh[1] - 1) if len(sh) == 2 else None),
    "T": (lambda x: x.T, lambda sh: sh[::-1] if len(sh) == 2 else None),
    "newaxis": (lambda x: x[:, None], lambda sh: (sh[0], 1) if len(sh) == 1 else None),
    "row": (lambda x: x[None, :], lambda sh: (1, sh[0]) if len(sh) == 1 else None),
}


def _broadcast(p: tuple, q: tuple) -> tuple | None:
    try:
        return tuple(np.broadcast_shapes(p, q))
    except ValueError:
        return None


def _matmul_shape(p: tuple, q: tuple) -> tuple | None:
    if len(p) == 1 and len(q) == 1 and p == q:
        return ()
    if len(p) == 2 and len(q) == 1 and p[1] == q[0]:
        return (p[0],)
    if len(p) == 1 and len(q) == 2 and p[0] == q[0]:
        return (q[1],)
    return None


@st.composite
def numpy_programs(draw, min_statements: int = 3, max_statements: int = 10,
                   ops: frozenset | None = None) -> tuple:
    """A random program: `(statements, outputs)` over INPUTS (see the module docstring).

    `ops` restricts the statement kinds to a subset of {"unary", "binary", "reduce", "slice",
    "matmul", "where", "tie"} (default: all). Replay one with `run_program`.
    """
    kinds = sorted(ops or {"unary", "binary", "reduce", "slice", "matmul", "where", "tie"})
    shapes = {name: sh for name, sh in INPUTS}
    bounds = {name: 2.0 for name, _ in INPUTS}
    names = [name for name, _ in INPUTS]
    stmts: list = []
    n = draw(st.integers(min_statements, max_statements))
    while len(stmts) < n:
        kind = draw(st.sampled_from(kinds))
        target = f"v{len(stmts)}"
        x = draw(st.sampled_from(names))
        if kind == "unary":
            op = draw(st.sampled_from(sorted(UNARY)))
            squash = bounds[x] * bounds[x] > LIMIT and op == "square"
            b = UNARY[op][1](0.5 if squash else bounds[x])
            stmt, sh = (target, "unary", op, x, squash), shapes[x]
        elif kind == "binary":
            y = draw(st.sampled_from(names))
            sh = _broadcast(shapes[x], shapes[y])
            if sh is None:
                continue
            op = draw(st.sampled_from(sorted(BINARY)))
            p, q = bounds[x], bounds[y]
            squash = BINARY[op][1](p, q) > LIMIT
            if squash:
                q = 0.5
            b = BINARY[op][1](p, q)
            if b > LIMIT:  # even squashed the product is too large: squash both
                continue
            stmt = (target, "binary", op, x, y, squash)
        elif kind == "reduce":
            red = draw(st.sampled_from(["sum", "mean", "max", "min", "prod"]))
            axes = [None] + list(range(len(shapes[x])))
            axis = draw(st.sampled_from(axes)) if shapes[x] else None
            if not shapes[x]:
                continue
            sh = _red_shape(shapes[x], axis)
            size = int(np.prod(shapes[x])) if axis is None else shapes[x][axis]
            b = {"sum": bounds[x] * size, "prod": 1.0}.get(red, bounds[x])
            if b > LIMIT:
                continue
            stmt = (target, "reduce", red, x, axis)
        elif kind == "slice":
            op = draw(st.sampled_from(sorted(SLICES)))
            sh = SLICES[op][1](shapes[x])
            if sh is None:
                continue
            b = bounds[x]
            stmt = (target, "slice", op, x)
        elif kind == "matmul":
            y = draw(st.sampled_from(names))
            sh = _matmul_shape(shapes[x], shapes[y])
            if sh is None:
                continue
            inner = shapes[x][-1]
            b = bounds[x] * bounds[y] * inner
            squash = b > LIMIT
            b = bounds[x] * 0.5 * inner if squash else b
            if b > LIMIT:
                continue
            stmt = (target, "matmul", x, y, squash)
        elif kind == "where":
            y, u, v = (draw(st.sampled_from(names)) for _ in range(3))
            sh = shapes[x]
            for other in (y, u, v):
                sh = _broadcast(sh, shapes[other]) if sh is not None else None
            if sh is None:
                continue
            cmp = draw(st.sampled_from(sorted(COMPARE)))
            b = max(bounds[u], bounds[v])
            stmt = (target, "where", cmp, x, y, u, v)
        else:  # tie: a second name for a value (x = y); comparisons then meet equal operands
            sh, b = shapes[x], bounds[x]
            stmt = (target, "tie", x)
        stmts.append(stmt)
        shapes[target], bounds[target] = sh, b
        names.append(target)
    made = [s[0] for s in stmts]
    extra = draw(st.lists(st.sampled_from(made), max_size=2, unique=True))
    outputs = tuple(dict.fromkeys([made[-1], *extra]))
    return tuple(stmts), outputs


def program_ops(program: tuple) -> set:
    """The op names a program uses ("sin", "maximum", "where", "eq", "max", ...)."""
    out: set = set()
    for s in program[0]:
        if s[1] in ("unary", "binary", "slice"):
            out.add(s[2])
        elif s[1] == "reduce":
            out.add(s[2])
        elif s[1] == "where":
            out |= {"where", s[2]}
        else:
            out.add(s[1])
    return out


def run_program(program: tuple, a, b, M, s, t) -> tuple:
    """Execute `program` on the inputs with numpy; returns the tuple of its outputs."""
    env: dict = {"a": a, "b": b, "M": M, "s": s, "t": t}
    for stmt in program[0]:
        target, kind = stmt[0], stmt[1]
        if kind == "unary":
            _, _, op, x, squash = stmt
            v = env[x]
            env[target] = UNARY[op][0](_sq(v) if squash else v)
        elif kind == "binary":
            _, _, op, x, y, squash = stmt
            w = env[y]
            env[target] = BINARY[op][0](env[x], _sq(w) if squash else w)
        elif kind == "reduce":
            _, _, red, x, axis = stmt
            env[target] = _reduce(red, axis)(env[x])
        elif kind == "slice":
            env[target] = SLICES[stmt[2]][0](env[stmt[3]])
        elif kind == "matmul":
            _, _, x, y, squash = stmt
            w = env[y]
            env[target] = env[x] @ (_sq(w) if squash else w)
        elif kind == "where":
            _, _, cmp, x, y, u, v = stmt
            env[target] = np.where(COMPARE[cmp](env[x], env[y]), env[u], env[v])
        elif kind == "tie":
            env[target] = env[stmt[2]]
        else:
            raise ValueError(f"unknown statement kind {kind!r} in {stmt!r}")
    return tuple(env[o] for o in program[1])


def program_source(program: tuple) -> str:
    """The program as readable Python-like text (for mismatch reports)."""
    lines = []
    for stmt in program[0]:
        lines.append(f"{stmt[0]} = {stmt[1]}{stmt[2:]}")
    lines.append("return " + ", ".join(program[1]))
    return "\n".join(lines)
