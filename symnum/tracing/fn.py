"""Fn, the unit every transform takes and returns, and `trace`, which makes one from Python code.

An Fn is immutable: its inputs (one pytree per positional argument, leaves Sym or SymArray) and
outputs (a pytree of terms and SymArrays) are fixed at construction, arrays frozen read-only.
Calling an Fn runs the reference interpreter; nothing here compiles, simplifies or mutates.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from symnum.core._gc import no_gc
from symnum.core.build import as_expr
from symnum.core.evaluate import assemble, bind, eval_many
from symnum.core.terms import Const, Expr, Sym, is_number
from symnum.errors import DTypeError, ShapeError, TracingError, UnsupportedOperationError
from symnum.tracing.mode import tracing as tracing_mode
from symnum.tracing.protocols import SymArray
from symnum.tracing.pytree import TreeDef, tree_flatten, tree_unflatten


def _frozen(a: np.ndarray) -> SymArray:
    a = np.array(a, dtype=object).view(SymArray)
    a.flags.writeable = False
    return a


def _shape_str(shape: tuple) -> str:
    return "[" + ",".join(map(str, shape)) + "]"


class Fn:
    """A traced function: input symbols and output terms, in the user's pytree structures.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> f = Fn((x, y), {"s": x + y, "p": x * y})
    >>> f(2.0, 3.0)
    {'s': np.float64(5.0), 'p': np.float64(6.0)}
    """

    __slots__ = ("_inputs", "_outputs", "_names", "_in_tree", "_out_tree", "_in_leaves",
                 "_out_leaves", "_flat_in", "_flat_out", "_out_shapes")

    def __init__(self, inputs: Sequence[Any], outputs: Any, names: Sequence[str] | None = None):
        inputs = tuple(inputs)
        names = tuple(names) if names is not None else tuple(f"arg{i}" for i in
                                                             range(len(inputs)))
        if len(names) != len(inputs):
            raise ShapeError(f"Fn got {len(names)} names for {len(inputs)} inputs")
        in_leaves, in_tree = tree_flatten(inputs)
        in_leaves = [_check_input(leaf) for leaf in in_leaves]
        flat_in: list[Sym] = []
        for leaf in in_leaves:
            if isinstance(leaf, Sym):
                flat_in.append(leaf)
            elif isinstance(leaf, np.ndarray):
                flat_in.extend(leaf.ravel())
        if len(set(flat_in)) != len(flat_in):
            # by identity: `==` on terms builds a symbolic comparison
            ids = [id(s) for s in flat_in]
            dup = next(s for s in flat_in if ids.count(id(s)) > 1)
            raise TracingError(
                f"the input symbol {dup.name!r} appears more than once among the inputs; "
                "every input needs its own symbol"
            )
        out_leaves, out_tree = tree_flatten(outputs)
        out_leaves = [_normalize_output(leaf, i) for i, leaf in enumerate(out_leaves)]
        flat_out: list[Expr] = []
        for leaf in out_leaves:
            flat_out.extend(leaf.ravel() if isinstance(leaf, np.ndarray) else [leaf])
        s = object.__setattr__
        s(self, "_names", names)
        s(self, "_in_tree", in_tree)
        s(self, "_out_tree", out_tree)
        s(self, "_in_leaves", tuple(in_leaves))
        s(self, "_out_leaves", tuple(out_leaves))
        s(self, "_inputs", tree_unflatten(in_tree, in_leaves))
        s(self, "_outputs", tree_unflatten(out_tree, out_leaves))
        s(self, "_flat_in", tuple(flat_in))
        s(self, "_flat_out", tuple(flat_out))
        s(self, "_out_shapes", tuple(np.shape(leaf) for leaf in out_leaves))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Fn is immutable; build a new one (e.g. fn.with_outputs(...))")

    def __reduce__(self) -> tuple:  # by graph: symnum.tracing.serial
        from symnum.tracing.serial import fn_to_data

        return (fn_from_data, (fn_to_data(self),))

    # structure ---------------------------------------------------------------------------------
    @property
    def inputs(self) -> tuple:
        """One pytree per positional argument; leaves are Sym, SymArray or static values."""
        return self._inputs

    @property
    def outputs(self) -> Any:
        """The outputs in the traced structure; leaves are terms or (read-only) SymArrays."""
        return self._outputs

    @property
    def names(self) -> tuple[str, ...]:
        """The positional arguments' names (from the traced function's signature)."""
        return self._names

    @property
    def flat_inputs(self) -> list[Sym]:
        """Every input Sym, pytree leaves in order, arrays raveled in C order."""
        return list(self._flat_in)

    @property
    def flat_outputs(self) -> list[Expr]:
        """Every output term, pytree leaves in order, arrays raveled in C order."""
        return list(self._flat_out)

    @property
    def in_tree(self) -> TreeDef:
        return self._in_tree

    @property
    def out_tree(self) -> TreeDef:
        return self._out_tree

    @property
    def out_shapes(self) -> list[tuple]:
        """The shape of each output leaf (() for a scalar), in pytree order."""
        return list(self._out_shapes)

    @property
    def in_shapes(self) -> list[tuple | None]:
        """The shape of each input leaf (() for a Sym, None for a static value)."""
        return [np.shape(v) if isinstance(v, (Sym, np.ndarray)) else None
                for v in self._in_leaves]

    def with_outputs(self, outputs: Any) -> Fn:
        """A new Fn with the same inputs and other outputs (any pytree)."""
        return Fn(self._inputs, outputs, self._names)

    def with_flat_outputs(self, flat: Sequence[Any]) -> Fn:
        """A new Fn whose outputs have this Fn's structure and shapes, filled from `flat`.

        >>> import symnum as sn
        >>> x = sn.symbols("x")
        >>> g = Fn((x,), [x, 2 * x]).with_flat_outputs([x + 1, x])
        >>> g.outputs[0] is x + 1, g(2.0)
        (True, [np.float64(3.0), np.float64(2.0)])
        """
        flat = list(flat)
        if len(flat) != len(self._flat_out):
            raise ShapeError(
                f"with_flat_outputs expected {len(self._flat_out)} terms, got {len(flat)}")
        leaves, pos = [], 0
        for shape in self._out_shapes:
            size = int(np.prod(shape, dtype=np.int64))
            if shape == ():
                leaves.append(flat[pos])
            else:
                a = np.empty(size, dtype=object)
                a[:] = flat[pos:pos + size] if size else []
                leaves.append(a.reshape(shape))
            pos += size
        return Fn(self._inputs, tree_unflatten(self._out_tree, leaves), self._names)

    def count_ops(self) -> int:
        """Operation nodes in the outputs' shared DAG (each shared subterm once)."""
        from symnum.core.traversal import count_ops

        return count_ops(list(self._flat_out))

    def __repr__(self) -> str:
        ins = []
        for name, tree in zip(self._names, self._inputs):
            leaves, td = tree_flatten(tree)
            if td.kind == "leaf" and isinstance(tree, np.ndarray):
                ins.append(f"{name}: {_shape_str(tree.shape)}")
            elif td.kind == "leaf":
                ins.append(name if isinstance(tree, Sym) else f"{name}=<static>")
            else:
                ins.append(f"{name}: {td.kind} of {len(leaves)}")
        outs = ", ".join(_shape_str(s) if s else "scalar" for s in self._out_shapes[:4])
        more = ", ..." if len(self._out_shapes) > 4 else ""
        return (f"Fn(({', '.join(ins)}) -> ({outs}{more}); {len(self._flat_in)} inputs, "
                f"{len(self._flat_out)} outputs)")

    # evaluation --------------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        """Numeric outputs for numeric arguments, by the reference interpreter.

        Each argument has the traced structure; array leaves the traced shape, optionally
        followed by batch dimensions (which broadcast across arguments and appear, on the right,
        in every output).
        """
        if len(args) != len(self._inputs):
            raise ShapeError(
                f"this Fn takes {len(self._inputs)} positional argument(s) "
                f"({', '.join(self._names)}), got {len(args)}"
            )
        env: dict = {}
        batches: list[tuple] = []
        for name, spec, arg in zip(self._names, self._inputs, args):
            for spec_leaf, value, path in _match(spec, arg, name):
                batches.append(_bind_leaf(spec_leaf, value, path, env))
        return self._run(env, _broadcast(batches))

    def evaluate(self, env: Any = None) -> Any:
        """Evaluate on a tuple of positional arguments or a mapping {Sym or name: value}."""
        if env is None:
            return self()
        if isinstance(env, (tuple, list)):
            return self(*env)
        if isinstance(env, Mapping):
            bound = bind(env)
            return self._run(bound, _broadcast([np.shape(v) for v in bound.values()]))
        raise TypeError(
            f"Fn.evaluate takes a tuple of arguments or a mapping, not {type(env).__name__}")

    def _run(self, env: dict, batch: tuple) -> Any:
        vals = eval_many(list(self._flat_out), env)
        leaves, pos = [], 0
        for shape in self._out_shapes:
            size = int(np.prod(shape, dtype=np.int64))
            chunk = vals[pos:pos + size]
            pos += size
            if shape == ():
                v = np.asarray(chunk[0])
                leaves.append(v[()] if not batch else np.array(np.broadcast_to(v, batch)))
                continue
            dt = np.result_type(*[np.asarray(v).dtype for v in chunk]) if chunk else float
            out = np.empty((size,) + batch, dtype=dt)
            for k, v in enumerate(chunk):
                out[k] = v
            leaves.append(out.reshape(shape + batch))
        return tree_unflatten(self._out_tree, leaves)


def fn_from_data(data: dict) -> Fn:
    """The Fn of `symnum.tracing.serial.fn_to_data`'s dict (unpickling, symnum.load)."""
    from symnum.tracing.serial import fn_parts

    return Fn(*fn_parts(data))


def _check_input(leaf: Any) -> Any:
    if isinstance(leaf, Sym):
        return leaf
    if isinstance(leaf, np.ndarray):
        bad = [e for e in leaf.flat if not isinstance(e, Sym)]
        if bad:
            raise TracingError(
                f"an input array must hold only symbols (Sym), found {bad[0]!r}; make it with "
                "symnum.symarray(name, shape)"
            )
        return _frozen(leaf)
    if isinstance(leaf, Expr) or is_number(leaf):
        raise TracingError(
            f"an Fn input must be a symbol, a symbolic array or a static value, got {leaf!r}; "
            "use symnum.symbols / symnum.symarray for inputs"
        )
    return leaf  # a static value (string, callable, ...) the function was specialised on


def _normalize_output(leaf: Any, i: int) -> Any:
    try:
        if isinstance(leaf, Expr):
            return leaf
        if is_number(leaf):
            return Const(leaf)
        if isinstance(leaf, np.ndarray):
            if leaf.ndim == 0:
                return _normalize_output(leaf[()], i)
            a = np.empty(leaf.shape, dtype=object)
            for idx, e in np.ndenumerate(leaf):
                a[idx] = e if isinstance(e, Expr) else _as_const(e)
            return _frozen(a)
    except UnsupportedOperationError as e:
        raise TracingError(f"output leaf {i} holds a value that is not numeric: {e}") from e
    raise TracingError(
        f"output leaf {i} is a {type(leaf).__name__} ({leaf!r}); outputs must be numbers, "
        "symbolic expressions or arrays of them, in tuples, lists or dicts"
    )


def _as_const(e: Any) -> Expr:

    if e is None:
        raise UnsupportedOperationError(
            "an array element is None (np.empty_like leaves elements unset); fill every "
            "element or start from np.zeros_like")
    return as_expr(e)


def _match(spec: Any, arg: Any, path: str) -> list[tuple[Any, Any, str]]:
    """Pair the leaves of `spec` (an input pytree) with the parts of `arg` in the same places."""
    if isinstance(spec, (Sym, np.ndarray)) or not isinstance(spec, (tuple, list, dict, type(None))):
        return [(spec, arg, path)]
    if spec is None:
        if arg is not None:
            raise ShapeError(f"argument {path} should be None (as traced), got {arg!r}")
        return []
    if isinstance(spec, dict):
        if not isinstance(arg, Mapping) or set(arg) != set(spec):
            got = sorted(map(repr, arg)) if isinstance(arg, Mapping) else type(arg).__name__
            raise ShapeError(
                f"argument {path} should be a dict with keys {sorted(map(repr, spec))}, got {got}")
        return [m for k in spec for m in _match(spec[k], arg[k], f"{path}[{k!r}]")]
    if not isinstance(arg, (tuple, list)) or len(arg) != len(spec):
        got = f"length {len(arg)}" if isinstance(arg, (tuple, list)) else type(arg).__name__
        raise ShapeError(f"argument {path} should be a sequence of length {len(spec)}, got {got}")
    return [m for i, (s, a) in enumerate(zip(spec, arg)) for m in _match(s, a, f"{path}[{i}]")]


def _bind_leaf(spec: Any, value: Any, path: str, env: dict) -> tuple:
    """Put one argument leaf's values into env; return its batch shape."""
    if not isinstance(spec, (Sym, np.ndarray)):
        same = value is spec
        if not same:
            try:
                same = bool(value == spec)
            except Exception:  # noqa: BLE001  (incomparable values are simply different)
                same = False
        if not same:
            raise TracingError(
                f"argument {path} was traced with the static value {spec!r} but got {value!r}; "
                "trace again with the new value"
            )
        return ()
    v = np.asarray(value)
    if v.dtype.kind not in "biuf":
        raise DTypeError(f"argument {path} must be numeric, got dtype {v.dtype} ({value!r})")
    if isinstance(spec, Sym):
        env[spec] = v if v.ndim else v[()]
        return v.shape
    shape = spec.shape
    if v.shape[: len(shape)] != shape:
        raise ShapeError(
            f"argument {path} should have shape {shape} (optionally followed by batch "
            f"dimensions), got {v.shape}"
        )
    batch = v.shape[len(shape):]
    flat = v.reshape((spec.size,) + batch)
    for k, s in enumerate(spec.flat):
        env[s] = flat[k]
    return batch


def _broadcast(batches: list[tuple]) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*batches)) if batches else ()
    except ValueError:
        raise ShapeError(
            f"the arguments' batch dimensions {sorted(set(batches))} do not broadcast together"
        ) from None


# ---------------------------------------------------------------------------------------------
# trace


@no_gc
def trace(fn: Callable[..., Any], *example_args: Any, names: Sequence[str] | None = None,
          **example_kwargs: Any) -> Fn:
    """Run `fn` on symbols shaped like the example arguments; return the traced Fn.

    Numbers become Syms (dtype from the example), arrays symarrays of the same shape and dtype,
    tuples/lists/dicts recursively; other leaves (strings, callables) are passed unchanged.
    Symbols are named after the parameters: `x`, `u[0,1]`, `p[2]`, `p['k']`. To keep a flag
    or size static, bind it first with functools.partial. Keyword example arguments are placed
    in their parameters' positions (earlier parameters not given take their defaults); the Fn
    takes them positionally.

    >>> import numpy as np, symnum as sn
    >>> f = sn.trace(lambda x, p: np.sin(x) * p[0], 1.0, (2.0,))
    >>> f.outputs, f(0.5, (2.0,))
    (p[0]*sin(x), np.float64(0.958851077208406))
    """
    if not callable(fn):
        raise TypeError(f"trace() needs a callable, got {type(fn).__name__}")
    if example_kwargs:
        example_args = _positional(fn, example_args, example_kwargs)
    arg_names = _arg_names(fn, len(example_args), names)
    inputs = tuple(_symbolize(a, n) for a, n in zip(example_args, arg_names))
    # the function gets its own copies: in-place writes to an argument must not alter inputs
    call_args = [_copy_arrays(a) for a in inputs]
    with tracing_mode("scalar"):
        outputs = fn(*call_args)
    return Fn(inputs, outputs, arg_names)


def _positional(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple:
    """Example arguments given by keyword, moved to their positions."""
    try:
        sig = inspect.signature(fn)
        bound = sig.bind_partial(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise ShapeError(f"trace(): the example arguments do not fit the function ({e})") from None
    params = [p for p in sig.parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    extra = set(bound.arguments) - {p.name for p in params}
    if extra:
        raise ShapeError(f"trace() traces positional-or-keyword parameters only, not "
                         f"{', '.join(sorted(extra))}; bind those with functools.partial")
    last = max(i for i, p in enumerate(params) if p.name in bound.arguments)
    out = []
    for p in params[:last + 1]:
        if p.name in bound.arguments:
            out.append(bound.arguments[p.name])
        elif p.default is not p.empty:
            out.append(p.default)
        else:
            raise ShapeError(f"trace(): no example for parameter {p.name!r}, which has no "
                             "default")
    return tuple(out)


def _arg_names(fn: Callable[..., Any], n: int, names: Sequence[str] | None) -> tuple[str, ...]:
    if names is not None:
        names = tuple(names)
        if len(names) != n or not all(isinstance(s, str) for s in names):
            raise ShapeError(
                f"names= needs one string per example argument ({n}), got {names!r}")
        return names
    out: list[str] = []
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            out.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            out.extend(f"{p.name}[{j}]" for j in range(n - len(out)))
            break
    out = out[:n]
    out.extend(f"arg{i}" for i in range(len(out), n))
    return tuple(out)


def _symbolize(tree: Any, name: str) -> Any:
    from symnum.tracing.symbols import symarray

    return symbolize(tree, name, symarray, (Sym, SymArray))


def symbolize(tree: Any, name: str, array_leaf: Callable[[str, tuple, str], Any],
              symbolic: tuple = (Sym,)) -> Any:
    """An example argument's pytree with symbols in place of its numbers and arrays, named
    after `name`: numbers become Syms; arrays `array_leaf(name, shape, dtype)` (symnum.arrays
    passes its array symbols); leaves already of a `symbolic` type pass; others are static."""
    if tree is None or isinstance(tree, symbolic):
        return tree
    if isinstance(tree, Expr) or getattr(type(tree), "_symnum_array_term", False):
        raise TracingError(
            f"example argument {name} is an expression ({tree}), not a symbol; pass numbers, "
            "arrays or symbols")
    if isinstance(tree, numbers.Number) or isinstance(tree, np.ndarray):
        dt = np.dtype("float64") if isinstance(tree, Fraction) else np.asarray(tree).dtype
        if dt.kind not in "biuf":
            raise DTypeError(
                f"example argument {name} has dtype {dt}; symnum traces real, integer and "
                "boolean values (pass other values through functools.partial)")
        if isinstance(tree, np.ndarray):
            return array_leaf(name, tree.shape, dt.name)
        return Sym(name, dt.name)
    def again(t: Any, n: str) -> Any:
        return symbolize(t, n, array_leaf, symbolic)

    if isinstance(tree, tuple) and not hasattr(tree, "_fields"):
        return tuple(again(t, f"{name}[{i}]") for i, t in enumerate(tree))
    if isinstance(tree, list):
        return [again(t, f"{name}[{i}]") for i, t in enumerate(tree)]
    if isinstance(tree, dict):
        return {k: again(v, f"{name}[{k!r}]") for k, v in tree.items()}
    return tree  # static


def _copy_arrays(tree: Any) -> Any:
    if isinstance(tree, np.ndarray):
        return tree.copy()
    if isinstance(tree, tuple) and not hasattr(tree, "_fields"):
        return tuple(_copy_arrays(t) for t in tree)
    if isinstance(tree, list):
        return [_copy_arrays(t) for t in tree]
    if isinstance(tree, dict):
        return {k: _copy_arrays(v) for k, v in tree.items()}
    return tree


# ---------------------------------------------------------------------------------------------
# the public interpreter entry: expressions, pytrees and arrays of them, or an Fn


def evaluate(e: Any, env: Mapping | None = None) -> Any:
    """Evaluate an expression, a pytree/array of expressions, or an Fn.

    For an Fn, `env` is a tuple of its positional arguments (or a mapping from its input
    symbols). Array-valued inputs evaluate elementwise with numpy broadcasting.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> float(sn.evaluate(x * y + 1, {x: 2.0, y: 3.0}))
    7.0
    >>> sn.evaluate([x, 2 * x], {"x": np.array([1.0, 2.0])})
    [array([1., 2.]), array([2., 4.])]
    """
    if isinstance(e, Fn):
        return e.evaluate(env)
    env = {} if env is None else env
    leaves, treedef = tree_flatten(e)
    roots: list = []
    slots: list = []
    for leaf in leaves:
        if isinstance(leaf, np.ndarray):
            flat = [_as_term(x) for x in leaf.ravel()]
            slots.append((leaf.shape, len(roots), len(flat)))
            roots.extend(flat)
        else:
            slots.append((None, len(roots), 1))
            roots.append(_as_term(leaf))
    vals = eval_many(roots, env)
    out = []
    for shape, start, count in slots:
        if shape is None:
            out.append(vals[start])
        else:
            out.append(assemble(vals[start:start + count], shape))
    return tree_unflatten(treedef, out)


def _as_term(x):
    return x if isinstance(x, Expr) else as_expr(x)
