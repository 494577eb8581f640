"""Compiled: a lowered Fn behind the Fn's own calling convention (pytrees in, pytrees out).

Every compiling backend produces a raw kernel `kernel(x, out)` over flat contiguous vectors (x: all
inputs, out: all outputs, in `Fn.flat_inputs` / `Fn.flat_outputs` order) and optionally
`batched(X, OUT)` over rows; this class packs arguments into x, unpacks out, and offers the
in-place variant. It never generates or compiles code itself.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from symnum.errors import ArgumentError, ShapeError
from symnum.tracing.pytree import tree_flatten, tree_unflatten

# rows × instructions from which a backend runs a batch on several threads. Below it, starting
# threads costs more than it saves — and numba's OpenMP workers spin after a parallel region,
# slowing whatever runs next on the machine (an llvm kernel timed right after a parallel numba
# call ran 1.5x slower, benchmarks/results_issue5.md).
PARALLEL_WORK = 400_000


class _Deciding:
    """A non-data descriptor: `c._call` asks `c._choose_call()` until an instance attribute of
    the same name (the decided call) shadows it."""

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else obj._choose_call()


class Compiled:
    """A compiled Fn. `c(*args)` ≡ `fn(*args)`; `c.call_into(out, *args)` writes into `out`
    (a flat float vector of all outputs); `.source`, `.fn` and `.kernel` show what was built.
    Arguments may carry extra batch dimensions on the right (as for Fn); the batched kernel
    then runs one row per batch element."""

    def __init__(self, fn: Any, kernel: Callable, *, source: str = "", backend: str = "",
                 batched: Callable | None = None, dtype: str = "float64", info: dict | None = None,
                 options: dict | None = None):
        self.fn = fn
        self.options = dict(options or {})  # the backend options it was lowered with
        self.kernel = kernel
        self.batched = batched
        self.source = source
        self.backend = backend
        self.dtype = np.dtype(dtype)
        self.info = dict(info or {})
        self._leaves = [leaf for leaf in tree_flatten(fn.inputs)[0]]
        self._sizes = [(leaf.size if isinstance(leaf, np.ndarray) else 1) if _symbolic(leaf)
                       else 0 for leaf in self._leaves]
        self._shapes = [np.shape(leaf) if _symbolic(leaf) else None for leaf in self._leaves]
        self.n_in = len(fn.flat_inputs)
        self.n_out = len(fn.flat_outputs)
        # fast path for the common case: one array argument in, one array (or scalar) out
        sym_leaves = [sh for sh in self._shapes if sh is not None]
        self._one_in = (len(self._leaves) == 1 and len(sym_leaves) == 1
                        and len(fn.inputs) == 1 and sym_leaves[0] == np.shape(fn.inputs[0]))
        self._one_out = fn.out_tree.kind == "leaf"
        self._out_shape = fn.out_shapes[0] if self._one_out else None
        td = fn.out_tree
        self._flat_tuple_out = td.kind == "tuple" and all(c.kind == "leaf" for c in td.children)
        bounds = np.cumsum([0] + [math.prod(sh) for sh in fn.out_shapes])
        self._out_slices = [(int(a), int(b), sh) for a, b, sh in
                            zip(bounds[:-1], bounds[1:], fn.out_shapes)]

    def __repr__(self) -> str:
        return f"<Compiled {self.backend} kernel of {self.fn!r}>"

    # without Python in the loop (symnum.backends.interop) ---------------------------------------
    @property
    def address(self) -> int:
        """The kernel's C function pointer: `void kernel(T *x, T *out)` (llvm and numba)."""
        from symnum.backends.interop import address

        return address(self)

    @property
    def ctypes(self) -> Any:
        """The kernel as a ctypes function `(POINTER(T) x, POINTER(T) out)`."""
        from symnum.backends.interop import ctypes_function

        return ctypes_function(self)

    @property
    def numba(self) -> Any:
        """`k(x, out)` over contiguous vectors, callable from `@numba.njit` code."""
        from symnum.backends.interop import numba_function

        return numba_function(self)

    def low_level_callable(self) -> Any:
        """A `scipy.LowLevelCallable` for scipy.integrate.quad (scalar-output kernels)."""
        from symnum.backends.interop import low_level_callable

        return low_level_callable(self)

    def __reduce__(self) -> tuple:
        """Pickled by graph: the Fn and how to lower it; the kernel is rebuilt (or loaded from
        the backend's disk cache) on unpickling, never shipped as machine code."""
        return (relower, (self.fn, self.backend, {**self.options, "dtype": self.dtype.name}))

    # argument packing ---------------------------------------------------------------------------
    def pack(self, *args: Any) -> tuple[np.ndarray, tuple]:
        """All arguments → one contiguous (n_in,) or (n_in, *batch) array and the batch shape."""
        leaves = _leaves_like(self.fn.in_tree, args)
        if leaves is None:
            leaves, _ = tree_flatten(args)
        if len(leaves) != len(self._leaves):
            raise ShapeError(
                f"expected arguments shaped like {self.fn!r} ({len(self._leaves)} leaves), got "
                f"{len(leaves)} leaves"
            )
        for i, (leaf, shape) in enumerate(zip(leaves, self._shapes)):
            if shape is not None:
                _check_leaf(leaf, i, shape)
        x = self._pack_unbatched(leaves)
        if x is not None:
            return x, ()
        parts, batches = [], []
        for leaf, shape, size in zip(leaves, self._shapes, self._sizes):
            if shape is None:
                continue
            a = np.asarray(leaf, dtype=self.dtype)
            if a.shape[: len(shape)] != shape:
                raise ShapeError(f"an argument should have shape {shape} (plus batch dims), "
                                 f"got {a.shape}")
            batch = a.shape[len(shape):]
            parts.append(a.reshape((size,) + batch))
            batches.append(batch)
        batch = np.broadcast_shapes(*batches) if batches else ()
        if not parts:
            return np.zeros((0,) + batch, dtype=self.dtype), batch
        if batch:
            parts = [np.broadcast_to(p, (p.shape[0],) + batch) for p in parts]
        x = np.ascontiguousarray(np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0])
        return x, batch

    def _pack_unbatched(self, leaves: list) -> np.ndarray | None:
        """Fast path: every leaf exactly its traced shape → fill one preallocated vector."""
        x = np.empty(self.n_in, dtype=self.dtype)
        pos = 0
        for leaf, shape, size in zip(leaves, self._shapes, self._sizes):
            if shape is None:
                continue
            if shape == ():
                if not isinstance(leaf, (float, int, np.floating, np.integer)):
                    return None
                x[pos] = leaf
            else:
                if np.shape(leaf) != shape:
                    return None
                x[pos:pos + size] = np.ravel(leaf)
            pos += size
        return x

    def unpack(self, out: np.ndarray, batch: tuple) -> Any:
        if not batch and self._flat_tuple_out:  # common: a tuple of leaves, no batch dims
            return tuple(out[a:b].reshape(sh) if sh != () else out[a]
                         for a, b, sh in self._out_slices)
        leaves, pos = [], 0
        for shape in self.fn.out_shapes:
            size = int(np.prod(shape, dtype=np.int64))
            chunk = out[pos:pos + size]
            pos += size
            leaves.append(chunk.reshape(shape + batch) if shape != () else
                          (chunk[0] if not batch else chunk.reshape(batch)))
        return tree_unflatten(self.fn.out_tree, leaves)

    # calling ------------------------------------------------------------------------------------
    # `c(*args)` calls `c._call`: the Python path below for the first calls, then (llvm
    # float64 kernels of plain arguments, on CPython) a machine-code front that takes the
    # traced signature and hands everything else — batch dimensions, other dtypes, bad input —
    # to the Python path (backends.native_dispatch). A one-shot call does not pay its build.
    __call__ = property(operator.attrgetter("_call"))

    def _choose_call(self) -> Any:
        """Until the front is decided: count calls, then decide once (stored in the instance,
        where it shadows the class's `_call`)."""
        n = self.__dict__.get("_calls", 0) + 1
        self.__dict__["_calls"] = n
        if n < _FRONT_AFTER:
            return self._call_py
        make = self.__dict__.get("front_maker")  # set by a backend that can build one
        front = (make(self) if make is not None else None) or self._call_py
        self.__dict__["_call"] = front
        return front

    _call = _Deciding()

    def _call_py(self, *args: Any) -> Any:
        if self._one_in and self._one_out and len(args) == 1:
            a = args[0]
            if (type(a) is np.ndarray and a.dtype == self.dtype and a.shape == self._shapes[0]
                    and a.flags.c_contiguous):
                out = np.empty(self._out_shape, dtype=self.dtype)
                self.kernel(a.reshape(-1), out.reshape(-1))
                return out if self._out_shape != () else out[()]
        x, batch = self.pack(*args)
        if not batch:
            out = np.empty(self.n_out, dtype=self.dtype)
            self.kernel(x, out)
            return self.unpack(out, batch)
        rows = int(np.prod(batch, dtype=np.int64))
        X = np.ascontiguousarray(x.reshape(self.n_in, rows).T)
        OUT = np.empty((rows, self.n_out), dtype=self.dtype)
        if self.batched is not None:
            self.batched(X, OUT)
        else:
            for i in range(rows):
                self.kernel(X[i], OUT[i])
        return self.unpack(np.ascontiguousarray(OUT.T).reshape((self.n_out,) + batch), batch)

    def call_into(self, out: np.ndarray, *args: Any) -> np.ndarray:
        """In-place variant: write all outputs, flat, into `out` (no allocation)."""
        x, batch = self.pack(*args)
        if batch:
            raise ShapeError("call_into takes unbatched arguments; use the batched kernel")
        if out.shape != (self.n_out,) or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ShapeError(f"out must be a contiguous {self.dtype} vector of shape "
                             f"({self.n_out},), got {out.dtype} {out.shape}")
        self.kernel(x, out)
        return out


_FRONT_AFTER = 3  # calls before a raw kernel builds its machine-code front
_REAL = (bool, int, float, np.integer, np.floating, np.bool_)


def _check_leaf(leaf: Any, i: int, shape: tuple) -> None:
    """A kernel input must be a real number or a real array: None would become nan, a string
    would be parsed, a complex number would fail inside numpy's float()."""
    if isinstance(leaf, _REAL):
        return
    if isinstance(leaf, np.ndarray):
        if leaf.dtype.kind in "biuf":
            return
        what = f"an array of dtype {leaf.dtype}"
    elif isinstance(leaf, (list, tuple)):  # numbers for a batch dimension
        try:
            kind = np.asarray(leaf).dtype.kind
        except ValueError:
            kind = "O"
        if kind in "biuf":
            return
        what = f"a {type(leaf).__name__} of non-real values"
    elif leaf is None:
        what = "None"
    else:
        what = f"a {type(leaf).__name__} ({leaf!r:.40})"
    expected = "a real number" if shape == () else f"a real array of shape {shape}"
    raise ArgumentError(f"kernel input leaf {i} is {what}; expected {expected} (plus batch "
                        "dimensions, if any)")


def relower(fn: Any, backend: str, options: dict) -> Any:
    """Unpickling a Compiled: lower its Fn again with the same backend and options."""
    from symnum.backends import lower

    return lower(fn, backend, **options)


def _leaves_like(td: Any, tree: Any) -> list | None:
    """The leaves of `tree` read in the order of the traced structure `td` (no new TreeDef
    objects: this runs on every call); None when `tree` does not have that structure."""
    out: list = []
    stack = [(td, tree)]
    while stack:
        d, t = stack.pop()
        kind = d.kind
        if kind == "leaf":
            out.append(t)
        elif kind == "none":
            if t is not None:
                return None
        elif kind == "dict":
            if not isinstance(t, dict) or len(t) != len(d.keys):
                return None
            try:
                stack.extend(reversed([(c, t[k]) for c, k in zip(d.children, d.keys)]))
            except KeyError:
                return None
        else:
            if not isinstance(t, (tuple, list)) or len(t) != len(d.children):
                return None
            stack.extend(reversed(list(zip(d.children, t))))
    return out


def _symbolic(leaf: Any) -> bool:
    from symnum.core.terms import Sym

    return isinstance(leaf, (Sym, np.ndarray))


def faster(first: Any, second: Any, *, rounds: int = 7, sample_s: float = 5e-4,
           seed: int = 0) -> tuple[Any, dict]:
    """Whichever of two compiled versions of one computation runs faster here, timed side by
    side on the batched kernels on the calling thread (inputs uniform in [0.5, 1.5]; a block
    of points whose outputs stay in cache; `rounds` interleaved samples of ≥ `sample_s` each,
    by the thread's CPU clock, so other tenants of the machine do not decide). Ties go to
    `first`. Returns
    (the winner, {"first_s", "second_s": median seconds per point, "kept": "first"|"second"}).
    Either version without a batched kernel: `first`, unmeasured."""
    import statistics
    import time

    if first.batched is None or second.batched is None or first.n_in != second.n_in:
        return first, {"kept": "first"}
    for c in (first, second):  # a tiered llvm compile: time its optimised code, not the quick
        up = getattr(c, "info", {}).get("upgrade")
        if up is not None:
            up.wait()
    n_out = max(first.n_out, second.n_out, 1)
    rows = max(16, min(1024, (1 << 20) // (8 * n_out)))
    X = np.random.default_rng(seed).uniform(0.5, 1.5, (rows, first.n_in)).astype(first.dtype)
    outs = [np.empty((rows, c.n_out), dtype=c.dtype) for c in (first, second)]
    calls = [_one_thread(c) for c in (first, second)]
    reps = []
    for call, out in zip(calls, outs):
        call(X, out)  # warm: first touch, lazy set-up
        t0 = time.thread_time()
        call(X, out)
        reps.append(max(1, int(sample_s / max(time.thread_time() - t0, 1e-7))))
    n = max(reps)
    samples: list[list[float]] = [[], []]
    for r in range(rounds):
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            call, out = calls[i], outs[i]
            t0 = time.thread_time()
            for _ in range(n):
                call(X, out)
            samples[i].append((time.thread_time() - t0) / (n * rows))
    a, b = statistics.median(samples[0]), statistics.median(samples[1])
    kept = "first" if a <= b else "second"
    return (first if kept == "first" else second), {"first_s": a, "second_s": b, "kept": kept}


def _one_thread(c: Any) -> Callable:
    """The batched kernel on the calling thread only (the thread's CPU clock must see all of
    its work): numba's serial row loop, the llvm kernel's own entry, else the batched call."""
    b = c.batched
    serial = getattr(b, "serial", None)
    if serial is not None:
        return serial
    if all(hasattr(b, a) for a in ("call", "addr", "n_in", "n_out")):
        return lambda X, OUT: b.call(b.addr, b.n_in, b.n_out, X, OUT)
    return b
