"""ArrayFn, an array program (inputs and outputs are array terms), and array-mode tracing.

`trace(f, *examples)` (mode="auto", the default, or mode="array") gives each array example an
ArraySym of its shape and dtype (numbers stay scalar Syms, pytrees recurse) and runs `f` once:
numpy calls build one term each, so the graph's size does not depend on the arrays' sizes.
`mode="scalar"` is symnum.tracing.fn.trace (arrays of scalar terms); mode="auto" falls back to
it where array terms cannot represent the program (symnum.arrays.auto). An ArrayFn evaluates
with the array reference interpreter and `.scalarize()` turns it into a scalar Fn on demand.
Never compiles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symnum.arrays.auto import SCALARIZE_LIMIT, array_elements, check_mode, trace_auto
from symnum.arrays.evaluate import eval_array_terms
from symnum.arrays.ops_index import as_array_operand
from symnum.arrays.scalarize import leaf_elements, scalarize_many
from symnum.arrays.terms import ArrayConst, ArrayExpr, ArraySym
from symnum.core._gc import no_gc
from symnum.core.build import as_expr
from symnum.core.terms import Const, Expr, Sym, is_number
from symnum.core.traversal import postwalk_many, substitute
from symnum.errors import DTypeError, ShapeError, TracingError
from symnum.tracing import fn as scalar_fn
from symnum.tracing.mode import tracing as tracing_mode
from symnum.tracing.protocols import SymArray
from symnum.tracing.pytree import tree_flatten, tree_unflatten


class ArrayFn:
    """A traced array program: input leaves (ArraySym, Sym or static values) and output terms
    (array terms or scalar terms), in the user's pytree structures.

    >>> import numpy as np
    >>> f = trace(lambda x: np.sum(x ** 2), np.zeros(4), mode="array")
    >>> f.outputs, float(f(np.arange(4.0))), f.count_ops()
    (sum(x^2), 14.0, 2)
    """

    __slots__ = ("_inputs", "_outputs", "_names", "_in_leaves", "_out_leaves", "_out_tree",
                 "_in_tree")

    def __init__(self, inputs: Sequence[Any], outputs: Any, names: Sequence[str] | None = None):
        inputs = tuple(inputs)
        names = tuple(names) if names is not None else tuple(f"arg{i}" for i in
                                                             range(len(inputs)))
        in_leaves, in_tree = tree_flatten(inputs)
        syms = [v for v in in_leaves if isinstance(v, (Sym, ArraySym))]
        if len({id(s) for s in syms}) != len(syms):
            raise TracingError("an input symbol appears more than once among the inputs")
        out_leaves, out_tree = tree_flatten(outputs)
        out_leaves = [_output(v, i) for i, v in enumerate(out_leaves)]
        s = object.__setattr__
        s(self, "_inputs", inputs)
        s(self, "_names", names)
        s(self, "_in_leaves", tuple(in_leaves))
        s(self, "_in_tree", in_tree)
        s(self, "_out_leaves", tuple(out_leaves))
        s(self, "_out_tree", out_tree)
        s(self, "_outputs", tree_unflatten(out_tree, out_leaves))

    def __setattr__(self, name, value):
        raise AttributeError("ArrayFn is immutable; build a new one (fn.with_outputs(...))")

    inputs = property(lambda self: self._inputs)
    outputs = property(lambda self: self._outputs)
    names = property(lambda self: self._names)
    in_tree = property(lambda self: self._in_tree)
    out_tree = property(lambda self: self._out_tree)

    @property
    def flat_inputs(self) -> list:
        """The symbolic input leaves (ArraySym and Sym), pytree order."""
        return [v for v in self._in_leaves if isinstance(v, (Sym, ArraySym))]

    @property
    def flat_outputs(self) -> list:
        """The output terms, pytree order (array terms and scalar terms)."""
        return list(self._out_leaves)

    @property
    def out_shapes(self) -> list[tuple]:
        return [v.shape if isinstance(v, ArrayExpr) else () for v in self._out_leaves]

    @property
    def in_shapes(self) -> list:
        return [v.shape if isinstance(v, ArraySym) else () if isinstance(v, Sym) else None
                for v in self._in_leaves]

    def with_outputs(self, outputs: Any) -> ArrayFn:
        return ArrayFn(self._inputs, outputs, self._names)

    def with_flat_outputs(self, flat: Sequence[Any]) -> ArrayFn:
        flat = list(flat)
        if len(flat) != len(self._out_leaves):
            raise ShapeError(f"expected {len(self._out_leaves)} outputs, got {len(flat)}")
        return ArrayFn(self._inputs, tree_unflatten(self._out_tree, flat), self._names)

    def count_ops(self) -> int:
        """Operation nodes (array operations and scalar calls outside map bodies)."""
        from symnum.core.traversal import count_ops

        return count_ops(list(self._out_leaves))

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {list(v.shape)}" if isinstance(v, ArraySym) else n
                        for n, v in zip(self._names, self._inputs))
        outs = ", ".join(str(list(s)) if s else "scalar" for s in self.out_shapes[:4])
        return f"ArrayFn(({ins}) -> ({outs}); {self.count_ops()} operations)"

    # evaluation --------------------------------------------------------------------------------
    def bind(self, args: tuple) -> dict:
        """{input symbol: value} for one call's arguments (no batch dimensions)."""
        env, batch = self._bind(args)
        if batch:
            raise ShapeError(f"the arguments carry batch dimensions {batch}; call the ArrayFn "
                             "(it loops over them) or pass one sample")
        return env

    def _bind(self, args: tuple) -> tuple[dict, tuple]:
        """(env, batch shape): as Fn's call, array leaves may carry trailing batch dimensions,
        which broadcast across arguments; the error messages are Fn's."""
        if len(args) != len(self._inputs):
            raise ShapeError(f"this function takes {len(self._inputs)} positional argument(s) "
                             f"({', '.join(self._names)}), got {len(args)}")
        env: dict = {}
        batches = []
        for name, spec, arg in zip(self._names, self._inputs, args):
            for leaf, v, path in scalar_fn._match(spec, arg, name):
                batches.append(_bind_leaf(leaf, v, path, env))
        return env, scalar_fn._broadcast(batches)

    def __call__(self, *args: Any) -> Any:
        if _symbolic_args(args):  # inside another trace: splice the terms in at the args
            return self._inline(args)
        env, batch = self._bind(args)
        if not batch:
            return tree_unflatten(self._out_tree, eval_array_terms(list(self._out_leaves), env))
        return self._batched(env, batch)

    def _inline(self, args: tuple) -> Any:
        """The outputs with the inputs replaced by symbolic arguments: array terms where every
        array argument is an array term or numbers (an array trace calling this one), else
        elements (scalarize with the arguments' elements as the leaves: a scalar trace)."""
        if len(args) != len(self._inputs):
            raise ShapeError(f"this function takes {len(self._inputs)} positional argument(s) "
                             f"({', '.join(self._names)}), got {len(args)}")
        pairs = [(leaf, v) for name, spec, arg in zip(self._names, self._inputs, args)
                 for leaf, v, _ in scalar_fn._match(spec, arg, name)
                 if isinstance(leaf, (ArraySym, Sym))]
        for leaf, v in pairs:
            want = leaf.shape if isinstance(leaf, ArraySym) else ()
            if np.shape(v) != want:
                raise ShapeError(f"argument for {leaf.name!r} should have shape {want}, got "
                                 f"{np.shape(v)} (no batch dimensions inside a trace)")
        if all(not isinstance(leaf, ArraySym) or isinstance(v, ArrayExpr) or
               (isinstance(v, np.ndarray) and v.dtype != object) for leaf, v in pairs):
            table = {leaf: as_array_operand(v, leaf.name) if isinstance(leaf, ArraySym)
                     else v for leaf, v in pairs}
            outs = [substitute(o, table) for o in self._out_leaves]
            return tree_unflatten(self._out_tree, outs)
        leaves = {leaf: np.asarray(v, dtype=object) for leaf, v in pairs
                  if isinstance(leaf, ArraySym)}
        scal = {id(leaf): as_expr(v) for leaf, v in pairs if isinstance(leaf, Sym)}
        elems = scalarize_many(list(self._out_leaves), leaves)
        outs = []
        for e in elems:
            flat = postwalk_many(list(e.ravel()), lambda n: scal.get(id(n))) if scal else \
                list(e.ravel())
            a = np.empty(len(flat), dtype=object)
            a[:] = flat
            outs.append(a[0] if e.ndim == 0 else a.reshape(e.shape).view(SymArray))
        return tree_unflatten(self._out_tree, outs)

    def _batched(self, env: dict, batch: tuple) -> Any:
        """One evaluation per batch index (the reference interpreter; kernels do better),
        batch dimensions on the right of every output, as Fn's call puts them."""
        shapes = self.out_shapes
        outs = [None] * len(shapes)
        for idx in np.ndindex(*batch):
            one = {s: _sample(v, s, idx, batch) for s, v in env.items()}
            vals = eval_array_terms(list(self._out_leaves), one)
            for k, v in enumerate(vals):
                v = np.asarray(v)
                if outs[k] is None:
                    outs[k] = np.empty(shapes[k] + batch, dtype=v.dtype)
                outs[k][(...,) + idx] = v
        if any(o is None for o in outs):  # an empty batch
            outs = [np.empty(sh + batch) for sh in shapes]
        return tree_unflatten(self._out_tree, outs)

    def evaluate(self, env: Any = None) -> Any:
        if isinstance(env, (tuple, list)):
            return self(*env)
        return tree_unflatten(self._out_tree, eval_array_terms(list(self._out_leaves),
                                                               env or {}))

    def scalarize(self) -> scalar_fn.Fn:
        """The same program over arrays of scalar terms (today's scalar-mode Fn; O(n) terms).

        >>> import numpy as np
        >>> f = trace(lambda x: np.sum(x[1:] * x[:-1]), np.zeros(3), mode="array")
        >>> f.scalarize().outputs
        x[0]*x[1] + x[1]*x[2]
        """
        leaves = {}
        ins = []
        for v in self._in_leaves:
            if isinstance(v, ArraySym):
                e = leaf_elements(v)
                leaves[v] = e
                ins.append(e[()] if v.shape == () else e)
            else:
                ins.append(v)
        outs = scalarize_many(list(self._out_leaves), leaves)
        outs = [o[()] if o.ndim == 0 else o for o in outs]
        return scalar_fn.Fn(tree_unflatten(self._in_tree, ins),
                            tree_unflatten(self._out_tree, outs), self._names)


def _bind_leaf(spec: Any, value: Any, path: str, env: dict) -> tuple:
    """One argument leaf into env; its batch shape (the dimensions after the traced shape)."""
    if not isinstance(spec, (ArraySym, Sym)):
        if value is not spec and not _same_static(value, spec):
            raise TracingError(f"argument {path} was traced with the static value {spec!r} but "
                               f"got {value!r}; trace again with the new value")
        return ()
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise DTypeError(f"argument {path} must be numeric, got dtype {a.dtype} ({value!r:.60})")
    want = spec.shape if isinstance(spec, ArraySym) else ()
    if a.shape[:len(want)] != want:
        raise ShapeError(f"argument {path} should have shape {want} (optionally followed by "
                         f"batch dimensions), got {a.shape}")
    env[spec] = a if a.ndim else a[()]
    return a.shape[len(want):]


def _sample(v: Any, spec: Any, idx: tuple, batch: tuple) -> Any:
    """Sample `idx` of a leaf's value whose trailing dimensions broadcast against `batch`."""
    own = spec.shape if isinstance(spec, ArraySym) else ()
    a = np.asarray(v)
    extra = a.shape[len(own):]
    if not extra:
        return v
    # batch shapes broadcast aligned on the right, after the leaf's own dimensions
    a = a.reshape(own + (1,) * (len(batch) - len(extra)) + extra)
    b = np.broadcast_to(a, own + batch)
    out = b[(...,) + idx]
    return out if out.ndim else out[()]


def _symbolic_args(args: tuple) -> bool:
    leaves, _ = tree_flatten(tuple(args))
    return any(isinstance(v, (Expr, ArrayExpr)) or (isinstance(v, np.ndarray) and
                                                     v.dtype == object) for v in leaves)


def _same_static(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001  (incomparable statics are different)
        return False


def _output(v: Any, i: int) -> Any:
    if isinstance(v, (ArrayExpr, Expr)):
        return v
    if is_number(v):
        return Const(v)
    if isinstance(v, np.ndarray) and v.dtype != object:
        return ArrayConst(v)
    if isinstance(v, np.ndarray):
        return as_array_operand(v, f"output {i}")
    raise TracingError(f"output leaf {i} is a {type(v).__name__} ({v!r}); outputs must be "
                       "numbers, symbolic arrays or terms, in tuples, lists or dicts")


# ---------------------------------------------------------------------------------------------
# tracing


def array_symbol(name: str, shape: Any, dtype: Any = "float64") -> ArraySym:
    """A symbolic array of a fixed shape: one term, whatever its size.

    >>> x = array_symbol("x", (1000,))
    >>> (x[1:] - x[:-1]).shape
    (999,)
    """
    return ArraySym(name, shape, dtype)


def _symbolize(tree: Any, name: str) -> Any:
    def leaf(n: str, shape: tuple, dtype: str) -> Any:  # a 0-d array is a scalar symbol
        return ArraySym(n, shape, dtype) if shape else Sym(n, dtype)

    return scalar_fn.symbolize(tree, name, leaf, (Sym, ArraySym))


@no_gc
def trace_arrays(fn: Callable[..., Any], *example_args: Any,
                 names: Sequence[str] | None = None) -> ArrayFn:
    """Trace `fn` with array inputs as array symbols (one term per numpy operation)."""
    if not callable(fn):
        raise TypeError(f"trace() needs a callable, got {type(fn).__name__}")
    arg_names = scalar_fn._arg_names(fn, len(example_args), names)
    inputs = tuple(_symbolize(a, n) for a, n in zip(example_args, arg_names))
    with tracing_mode("array"):  # scalar-carry loops become array loops (symnum.loops.api)
        outputs = fn(*inputs)
    return ArrayFn(inputs, outputs, arg_names)


def trace(fn: Callable[..., Any], *example_args: Any, names: Sequence[str] | None = None,
          mode: str = "auto", **example_kwargs: Any) -> Any:
    """Trace `fn` on symbols shaped like the example arguments.

    mode="auto" (the default): array inputs become array symbols and numpy calls array terms
    (an ArrayFn whose size does not depend on the arrays' sizes); where the array tracer cannot
    represent the program (item assignment into a traced array, a numpy function without an
    array rule, ...) the function is traced again in scalar mode; numbers-only programs and
    keyword examples trace in scalar mode (symnum.arrays.auto says exactly when).
    mode="array": array terms or the array tracer's typed error. mode="scalar": arrays become
    arrays of scalar symbols (symnum.tracing's Fn, every element its own term).

    >>> import numpy as np
    >>> trace(lambda x: np.sum(x[1:] - x[:-1] ** 2), np.zeros(10**6)).outputs
    sum(x[1:] - x[:-1]^2)
    >>> def square_in_place(x):
    ...     y = x.copy()
    ...     y[0] = y[0] ** 2  # item assignment: no array term, so scalar mode
    ...     return y
    >>> trace(square_in_place, np.zeros(2)).outputs
    SymArray([x[0]^2, x[1]], dtype=object)
    """
    check_mode(mode)
    if mode == "scalar":
        return scalar_fn.trace(fn, *example_args, names=names, **example_kwargs)
    if mode == "array":
        if example_kwargs:
            raise TypeError("mode='array' takes example arguments positionally; got "
                            f"keywords {', '.join(example_kwargs)}")
        return trace_arrays(fn, *example_args, names=names)
    return trace_auto(trace_arrays, scalar_fn.trace, fn, example_args, names, example_kwargs)


def trace_sized(fn: Callable[..., Any], *example_args: Any,
                names: Sequence[str] | None = None, mode: str = "auto") -> Any:
    """The trace compile and the transforms use. mode="auto": as `trace`, except that an array
    program with at most SCALARIZE_LIMIT array elements (symnum.arrays.auto) is scalarized —
    its scalar kernel compiles in milliseconds through LLVM and takes batch dimensions, where
    an array kernel costs a numba compile of a few hundred milliseconds. Larger array programs
    stay array terms (O(1) in the arrays' sizes). The Python function runs once (twice only
    where the array tracer cannot represent it and scalar mode traces it again)."""
    out = trace(fn, *example_args, names=names, mode=mode)
    if mode != "auto" or not isinstance(out, ArrayFn) or array_elements(out) > SCALARIZE_LIMIT:
        return out
    return out.scalarize()


def evaluate(e: Any, env: Any = None) -> Any:
    """symnum.evaluate, extended to array terms and ArrayFns (anything else goes to the scalar
    reference interpreter, symnum.core.evaluate).

    >>> import numpy as np
    >>> from symnum.arrays.terms import ArraySym
    >>> x = ArraySym("x", (2,))
    >>> evaluate({"y": x + 1}, {x: np.array([1.0, 2.0])})
    {'y': array([2., 3.])}
    """
    from symnum.tracing.fn import evaluate as scalar_evaluate

    if isinstance(e, ArrayFn):
        return e.evaluate(env)
    leaves, td = tree_flatten(e)
    if not any(isinstance(v, ArrayExpr) for v in leaves):
        return scalar_evaluate(e, env)
    return tree_unflatten(td, eval_array_terms(leaves, env or {}))
