"""`vmap`: batching as a transform, with JAX's `in_axes` / `out_axes`.

Sits beside symnum.transforms (same layer): it traces the per-example function once per
per-example signature, lowers it once (`backend="auto"`: LLVM machine code) and runs the
backend's batched kernel, one row per example (`backend="numpy"`: the reference interpreter,
each term evaluated on whole numpy arrays). Called with symbolic arguments (inside grad, jit
or another trace) it maps the function over the batch symbolically and stacks the terms. It
never differentiates by itself; it composes with the transforms that do.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from symnum.call_args import is_symbolic, signature_key
from symnum.compile import lower
from symnum.core.traversal import free_symbols
from symnum.errors import ShapeError, TransformError
from symnum.tracing.fn import Fn, trace
from symnum.tracing.protocols import SymArray
from symnum.tracing.pytree import tree_flatten, tree_unflatten
from symnum.transforms import check_function, inline


def vmap(f: Any, in_axes: Any = 0, out_axes: Any = 0, *, backend: str = "auto") -> Callable:
    """Map `f` over an axis of its arguments, as jax.vmap does.

    `in_axes`: an int (every argument mapped along that axis), None (not mapped), or a
    tuple/list with one int-or-None per positional argument (applied to every array leaf of
    that argument). `out_axes`: an int, None (the output must not depend on the batch), or a
    tuple with one entry per element of a tuple output. Negative axes count from the end.
    `backend`: what runs the batch (a symnum.compile backend name; "numpy" interprets).
    Inside grad / jit / another trace it maps symbolically, so those transforms see through it.

    >>> import numpy as np, symnum as sn
    >>> per_example = sn.vmap(sn.grad(lambda w, x: np.sum(w * x) ** 2), in_axes=(None, 0))
    >>> per_example(np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    array([[2., 0.],
           [0., 4.]])
    """
    check_function(f, "vmap")
    if isinstance(f, Fn):
        fn = f

        def f(*args: Any) -> Any:  # an Fn's terms, spliced in at each example's symbols
            return inline(fn, args)

        f.__name__ = "fn"
    return Batched(f, in_axes, out_axes, backend)


class Batched:
    """A vmapped function: traces per per-example signature, evaluates over the batch."""

    def __init__(self, f: Callable, in_axes: Any, out_axes: Any, backend: str = "auto"):
        _check_axes_spec(in_axes, "in_axes")
        _check_axes_spec(out_axes, "out_axes")
        self._f, self._in_axes, self._out_axes = f, in_axes, out_axes
        self._backend = backend
        self._cache: dict = {}
        self._lock = threading.Lock()
        functools.update_wrapper(self, f, updated=())
        self.__name__ = f"vmap({getattr(f, '__name__', 'f')})"

    def __repr__(self) -> str:
        return f"<{self.__name__}>"

    def __call__(self, *args: Any) -> Any:
        axes = self._arg_axes(len(args))
        size = _batch_size(args, axes)
        if is_symbolic(args):
            return self._symbolic(args, axes, size)
        examples = tuple(_map_leaves(a, ax, lambda x, k: np.take(x, 0, axis=k))
                         for a, ax in zip(args, axes))
        key = (signature_key(examples), axes)
        with self._lock:
            got = self._cache.get(key)
            if got is None:
                fn = trace(self._f, *examples)
                got = self._cache[key] = (fn, lower(fn, self._backend))
        fn, kernel = got
        moved = tuple(_map_leaves(a, ax, lambda x, k: np.moveaxis(x, k, -1)) if ax is not None
                      else _spread(a, size) for a, ax in zip(args, axes))
        out = kernel(*moved)  # the batch dimension comes out last on every output leaf
        batched = {id(s) for a, ax, spec in zip(args, axes, fn.inputs) if ax is not None
                   for s in tree_flatten(spec)[0] for s in np.ravel(np.asarray(s, object))}

        def place(leaf_out, leaf_terms, oax):
            if oax is None:
                terms = np.ravel(np.asarray(leaf_terms, dtype=object))
                if any(id(s) in batched for s in free_symbols(list(terms))):
                    raise TransformError(
                        "vmap: out_axes=None for an output that depends on a mapped argument; "
                        "give it an out axis")
                return np.asarray(leaf_out)[..., 0] if np.ndim(leaf_out) else leaf_out
            arr = np.asarray(leaf_out)
            return np.moveaxis(arr, -1, _norm_axis(oax, arr.ndim, "out_axes"))

        return self._place_outputs(out, fn.outputs, place)

    # the pieces --------------------------------------------------------------------------
    def _arg_axes(self, n: int) -> tuple:
        ia = self._in_axes
        if isinstance(ia, (tuple, list)):
            if len(ia) != n:
                raise TransformError(
                    f"vmap: in_axes has {len(ia)} entries but the function got {n} positional "
                    "arguments; give one int or None per argument")
            return tuple(ia)
        return (ia,) * n

    def _place_outputs(self, out: Any, terms: Any, place: Callable) -> Any:
        oa = self._out_axes
        if isinstance(oa, (tuple, list)):
            if not isinstance(out, (tuple, list)) or len(out) != len(oa):
                raise TransformError(
                    f"vmap: out_axes has {len(oa)} entries but the function returns "
                    f"{len(out) if isinstance(out, (tuple, list)) else 'a single output'}")
            return type(out)(self._place_one(o, t, ax, place)
                             for o, t, ax in zip(out, terms, oa))
        return self._place_one(out, terms, oa, place)

    @staticmethod
    def _place_one(out: Any, terms: Any, oax: Any, place: Callable) -> Any:
        leaves, td = tree_flatten(out)
        tleaves = tree_flatten(terms)[0]
        return tree_unflatten(td, [place(v, t, oax) for v, t in zip(leaves, tleaves)])

    def _symbolic(self, args: tuple, axes: tuple, size: int) -> Any:
        """Inside an outer trace: f at each example's terms, stacked (terms are interned, so an
        out_axes=None output is checked by identity)."""
        per = []
        for b in range(size):
            ex = tuple(_map_leaves(a, ax, lambda x, k, b=b: _take(x, b, k))
                       for a, ax in zip(args, axes))
            per.append(self._f(*ex))

        def place(_unused, group, oax):
            leaves_b = group.items
            if oax is None:
                first = leaves_b[0]
                same = all(np.all(np.asarray(v, object) == np.asarray(first, object))
                           if isinstance(v, np.ndarray) else v is first for v in leaves_b)
                if not same:
                    raise TransformError(
                        "vmap: out_axes=None for an output that depends on a mapped argument; "
                        "give it an out axis")
                return first
            stacked = np.empty((size,) + np.shape(leaves_b[0]), dtype=object)
            for b, v in enumerate(leaves_b):
                stacked[b] = v
            k = _norm_axis(oax, stacked.ndim, "out_axes")
            return np.moveaxis(stacked, 0, k).view(SymArray)

        # regroup: for each output leaf, the list of its per-example values
        td = tree_flatten(per[0])[1]
        cols = list(zip(*[tree_flatten(p)[0] for p in per]))
        grouped = tree_unflatten(td, [_Group(c) for c in cols])
        return self._place_outputs(grouped, grouped, lambda _o, t, ax: place(None, t, ax))


class _Group:
    """One output leaf's values across the batch (a pytree leaf, so lists stay whole)."""

    __slots__ = ("items",)

    def __init__(self, items: tuple):
        self.items = items


def _check_axes_spec(spec: Any, what: str) -> None:
    items = spec if isinstance(spec, (tuple, list)) else [spec]
    for a in items:
        if a is not None and not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TransformError(f"vmap: {what} entries must be int or None, got "
                                 f"{type(a).__name__} ({a!r})")


def _norm_axis(ax: int, ndim: int, what: str) -> int:
    if not -ndim <= ax < ndim:
        raise ShapeError(f"vmap: {what} {ax} is out of range for a batched value of rank {ndim}")
    return ax % ndim


def _is_array_leaf(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def _map_leaves(tree: Any, ax: Any, op: Callable) -> Any:
    """op(leaf, axis) on every array leaf of a mapped argument; unmapped arguments as they are."""
    if ax is None:
        return tree
    leaves, td = tree_flatten(tree)
    out = []
    for x in leaves:
        if _is_array_leaf(x):
            out.append(op(x, _norm_axis(ax, x.ndim, "in_axes")))
        else:
            out.append(x)
    return tree_unflatten(td, out)


def _spread(tree: Any, size: int) -> Any:
    """An unmapped argument with the batch dimension added on the right (a broadcast view, no
    copy): the kernels' calling convention wants every numeric leaf to carry it."""
    leaves, td = tree_flatten(tree)
    out = []
    for x in leaves:
        if isinstance(x, (np.ndarray, bool, int, float, np.number, np.bool_)):
            a = np.asarray(x)
            out.append(np.broadcast_to(a[..., None], a.shape + (size,)))
        else:
            out.append(x)
    return tree_unflatten(td, out)


def _take(x: np.ndarray, b: int, k: int) -> Any:
    v = np.take(x, b, axis=k)
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return v[()]
    return v.view(SymArray) if isinstance(v, np.ndarray) and v.dtype == object else v


def _batch_size(args: tuple, axes: tuple) -> int:
    sizes = set()
    for i, (a, ax) in enumerate(zip(args, axes)):
        if ax is None:
            continue
        for x in tree_flatten(a)[0]:
            if _is_array_leaf(x):
                sizes.add(x.shape[_norm_axis(ax, max(x.ndim, 1), "in_axes")] if x.ndim
                          else _rank0(i, ax))
            elif isinstance(x, (int, float, complex, np.number)) or hasattr(x, "dtype"):
                _rank0(i, ax)
    if not sizes:
        raise TransformError("vmap: no argument is mapped (every in_axes entry is None, or "
                             "the mapped arguments hold no arrays)")
    if len(sizes) > 1:
        raise ShapeError(f"vmap: mapped axes have different sizes {sorted(sizes)}; every "
                         "mapped argument needs the same batch size")
    return sizes.pop()


def _rank0(i: int, ax: int) -> int:
    raise ShapeError(f"vmap: argument {i} is mapped along axis {ax} but holds a scalar "
                     "(rank 0); pass an array, or give it in_axes None")
