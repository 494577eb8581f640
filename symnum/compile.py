"""`compile` and `build_function`: the pipeline trace → transform → simplify → lower, cached.

`@symnum.compile` traces on the first call of each argument signature (shapes, dtypes, pytree
structure, static values), simplifies if asked, lowers with a backend looked up by name (the
`backends` package is imported lazily, never by `import symnum`), and caches the result in memory
per signature; backends cache machine code on disk by content hash. Concurrent first calls of one
signature compile once (a lock per signature).
"""

from __future__ import annotations

import inspect
import operator
import sys
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symnum.arrays.auto import check_mode
from symnum.arrays.fn import ArrayFn, trace_sized
from symnum.call_args import (
    StaticArg,
    _auto_static_positions,
    _blame_strings,
    _check_leaves,
    _has_identity,
    _Identity,
    _parameters,
    _static_positions,
    check_hashable,
    is_symbolic,
    kernel_dtype,
    signature_key,
    static_kind,
)
from symnum.errors import ArgumentError, CompileError, SerializationError, TransformError
from symnum.lowering import _backends, _lower_simplified, _simplified, lower, resolve_backend  # noqa: F401  (re-exported: symnum.compile.lower is public)
from symnum.lowering_options import check_options
from symnum.tracing.fn import Fn


class _Entry:
    __slots__ = ("lock", "compiled", "parts")

    def __init__(self, parts: tuple = ((), None)) -> None:
        self.lock = threading.Lock()
        self.compiled: Any = None
        self.parts = parts  # (static pairs, key dtype): what saving needs to rebuild the key


def _make_key(sigkey: tuple, stat: tuple, dtype: str | None) -> tuple:
    key = sigkey if dtype is None else (sigkey, dtype)
    return (stat, key) if stat else key


class CompiledFunction:
    """A Python function compiled per argument signature. Call it like the function: positional
    or keyword arguments, defaults, pytrees of arrays in and out; as a method too.

    `static_argnums` / `static_argnames` mark arguments the function is specialised on (a
    recompile per value, as in JAX): flags, sizes, callables. They must be hashable. A
    parameter whose default is an int, bool, str or None (or a tuple of those) is static too
    when it gets such a value, passed or not (call_args.static_kind); data given for it (a
    float, a numpy scalar, an array) is traced. Float and array defaults are traced.
    `.lower(*args)` returns the backend's compiled object for such arguments (with `.source`,
    `.fn`, `.info`); `.source` / `.fn` show the most recent one.

    Calls go through a generated dispatcher (`symnum.backends.dispatch`) that recognises the
    known signatures of plain arguments with exact-type tests and calls the raw kernel; anything
    else takes `_dispatch`, which binds, validates, traces and compiles.
    """

    # The call goes straight to the instance's current dispatcher: a property whose getter is
    # C code, so no Python frame of ours runs before the generated one.
    __call__ = property(operator.attrgetter("_call"))

    def __init__(self, f: Callable, *, backend: str = "auto", simplify: str | dict | None = None,
                 make_fn: Callable[[tuple], Fn] | None = None,
                 static_argnums: int | Sequence[int] = (),
                 static_argnames: str | Sequence[str] = (), mode: str = "auto",
                 **options: Any):
        if not callable(f):
            raise TransformError(f"compile()/jit() needs a callable (a Python function or a "
                                 f"transformed one), got {type(f).__name__} ({f!r:.60})")
        check_options(backend, options, "compile")  # a misspelt option, before any trace
        self._f = f
        self._backend = backend
        self._simplify = dict(simplify) if isinstance(simplify, dict) else simplify
        self._options = options
        self._custom_fn = make_fn is not None
        # "auto": array terms (loop nests) for large array programs, scalar terms (LLVM) for
        # small ones and numbers (symnum.arrays.fn.trace_sized); "array" / "scalar" force one
        self._mode = check_mode(mode)
        self._make_fn = make_fn or self._trace
        self._entries: dict = {}
        self._fast: list = []
        self._lock = threading.Lock()
        self._last: Any = None
        self.__name__ = getattr(f, "__name__", "compiled")
        self.__qualname__ = getattr(f, "__qualname__", self.__name__)
        self.__doc__ = getattr(f, "__doc__", None)
        self.__wrapped__ = f
        # a transform (symnum.transforms) boxes its static arguments itself (StaticArg: in the
        # trace's inputs and the signature key), ours too: it takes the positions we name
        self._box = getattr(f, "box_args", None) if make_fn is not None else None
        if make_fn is None:
            self._params, self._defaults, self._var, self._sig = _parameters(f)
            names_of = self._params
        else:  # a transform takes more arguments than f: positional only
            self._params, self._defaults, self._var, self._sig = [], [], True, None
            names_of = getattr(f, "param_names", [])  # f's own, for static_argnames
        self._static = _static_positions(static_argnums, static_argnames, names_of,
                                         self.__name__)
        if self._static and make_fn is not None and self._box is None:
            raise ArgumentError(f"static_argnums / static_argnames need a Python function or a "
                                f"transform of one; {self.__name__} takes neither")
        # parameters with an int/bool/str/None default: static when given such a value
        self._auto_static = _auto_static_positions(self._defaults) - self._static
        self._method = False  # set by __get__: argument 0 is the instance, static by identity
        self._fast_params: list[str] = []
        self._auto_dtype = "dtype" not in options
        self._call = self._dispatch

    # the slow path ---------------------------------------------------------------------------
    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        """All arguments as one positional tuple (keywords and defaults filled in), or a typed
        error naming what is missing or unexpected."""
        from symnum.backends.dispatch import MISSING

        if any(a is MISSING for a in args):  # the dispatcher's unfilled slots
            first = next(i for i, a in enumerate(args) if a is MISSING)
            kwargs = dict(kwargs)
            for j in range(first, len(args)):  # filled after a gap: they came as keywords
                if args[j] is not MISSING:
                    kwargs[self._params[j] if j < len(self._params) else f"a{j}"] = args[j]
            args = args[:first]
        if self._sig is None:
            if kwargs:
                raise ArgumentError(
                    f"{self.__name__} takes positional arguments only here (its signature is "
                    f"not known), got keyword(s) {', '.join(sorted(kwargs))}")
            return args
        if not kwargs and len(args) == len(self._params) and not self._var:
            return args
        try:
            ba = self._sig.bind(*args, **kwargs)
        except TypeError as e:
            raise ArgumentError(f"{self.__name__}{self._sig}: {e}") from None
        ba.apply_defaults()
        if self._var:  # *args/**kwargs: the function sees them as given
            if ba.kwargs:
                raise ArgumentError(
                    f"{self.__name__}: compiled functions take no **kwargs beyond their named "
                    f"parameters, got {', '.join(sorted(ba.kwargs))}")
            return tuple(ba.args)
        return tuple(ba.args)

    def _split(self, args: tuple) -> tuple[tuple, tuple]:
        """(dynamic arguments, static (position, value) pairs). A transform's arguments stay
        together, its statics boxed (call_args.StaticArg: keyed by value, skipped by the
        kernel's argument packing)."""
        if self._box is not None:
            return self._box(args, self._static), ()
        if not self._static and not self._auto_static:
            return args, ()
        dyn, stat = [], []
        for i, a in enumerate(args):
            if i == 0 and self._method:
                stat.append((0, _Identity(a)))
            elif i in self._auto_static and static_kind(a):
                stat.append((i, a))
            elif i in self._static:
                check_hashable(a, self._name_of(i), self.__name__)
                stat.append((i, a))
            else:
                dyn.append(a)
        return tuple(dyn), tuple(stat)

    def _name_of(self, i: int) -> str:
        return repr(self._params[i]) if i < len(self._params) else f"#{i}"

    def _trace(self, dyn: tuple, stat: tuple = ()) -> Fn:
        if "dask.array" in sys.modules and any(
                isinstance(a, sys.modules["dask.array"].Array) for a in dyn):
            raise ArgumentError(
                f"{self.__name__} got a dask array: compiled functions run on numpy arrays. "
                "Elementwise functions: sn.vectorize(f)(x) is lazy on dask arrays; array "
                "functions: symnum.distributed.map_blocks(f, x) runs them block by block "
                "(stencils with depth=...); or x.compute() first")
        if not stat:
            return trace_sized(self._f, *dyn, names=self._dyn_names(len(dyn), ()),
                               mode=self._mode)
        f, n = self._f, len(dyn) + len(stat)

        def with_statics(*d: Any) -> Any:
            it, full = iter(d), []
            fixed = {i: v.obj if type(v) is _Identity else v for i, v in stat}
            for i in range(n):
                full.append(fixed[i] if i in fixed else next(it))
            return f(*full)

        stat = tuple((i, v.obj if type(v) is _Identity else v) for i, v in stat)
        return trace_sized(with_statics, *dyn, names=self._dyn_names(len(dyn), stat),
                           mode=self._mode)

    def _dyn_names(self, n: int, stat: tuple) -> list[str] | None:
        if not self._params:
            return None
        fixed = {i for i, _ in stat}
        total = n + len(fixed)
        names = [p for i, p in enumerate(self._params[:total]) if i not in fixed]
        names += [f"arg{i}" for i in range(len(self._params), total) if i not in fixed]
        return names if len(names) == n else None

    def _validate(self, dyn: tuple, stat: tuple) -> None:
        fixed = {i for i, _ in stat}
        positions = [i for i in range(len(dyn) + len(fixed)) if i not in fixed]
        for i, a in zip(positions, dyn):
            _check_leaves(a, self, i)

    def _compiled_for(self, dyn: tuple, stat: tuple) -> Any:
        # float vs np.float64 trace alike but promote differently: the dtype is in the key
        dt = kernel_dtype(dyn) if self._auto_dtype else None
        key = _make_key(signature_key(dyn), stat, dt)
        entry = self._entries.get(key)  # the hit path takes no lock (dict reads are atomic)
        if entry is not None and entry.compiled is not None:
            return entry.compiled
        self._validate(dyn, stat)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry((stat, dt))
        if entry.compiled is None:
            with entry.lock:  # one compile per signature, however many threads ask at once
                if entry.compiled is None:
                    try:
                        made = (self._make_fn(dyn) if self._custom_fn
                                else self._make_fn(dyn, stat))
                    except (TypeError, ValueError) as e:
                        _blame_strings(e, dyn, stat, self)
                        raise
                    options = dict(self._options)
                    backend = resolve_backend(self._backend, made)
                    if self._auto_dtype and backend in ("llvm", "numba"):
                        options["dtype"] = kernel_dtype(dyn)
                    entry.compiled = _lower_simplified(made, self._simplify, self._backend,
                                                       options)
                    self._remember(dyn, stat, entry.compiled)
        return entry.compiled

    def _remember(self, dyn: tuple, stat: tuple, compiled: Any) -> None:
        """Add this signature to the generated dispatcher (when its arguments are plain)."""
        from symnum.backends import dispatch

        if self._params:
            params = list(self._params)
        else:  # positional only (a transform): slots named after the first signature's arity
            if not self._fast_params:
                self._fast_params = [f"a{i}" for i in range(len(dyn))]
            params = self._fast_params
        full, it, fixed = [], iter(dyn), dict(stat)
        for i in range(len(dyn) + len(stat)):
            if i not in fixed:
                a = next(it)  # a transform's own static argument comes boxed (StaticArg)
                full.append(("static", a.value, False) if type(a) is StaticArg
                            else dispatch.leaf_spec(a))
            elif type(fixed[i]) is _Identity:
                full.append(("static", fixed[i].obj, True))
            else:
                full.append(("static", fixed[i], False))
        if len(full) != len(params) or not dispatch.supports(compiled, full):
            return
        fast = self._fast
        if fast and fast[0].specs == full and fast[0].compiled is compiled:
            return  # already the first test (the dispatcher missed for another reason)
        with self._lock:
            self._fast = [dispatch.Signature(full, compiled)] + [
                e for e in self._fast if e.specs != full][:dispatch.MAX_SIGNATURES - 1]
            self._py_call = dispatch.build(params, self._var, self._fast, self._dispatch,
                                           self.__name__, self._defaults)
            self._call = dispatch.native(self._fast, self._py_call, len(params))

    def _dispatch(self, *args: Any, **kwargs: Any) -> Any:
        args = self._bind(args, kwargs)
        if is_symbolic(args):
            # called inside an outer trace (sn.grad(sn.compile(f))): trace the Python function
            # again, never the kernel (a transformed function inlines its own transform)
            return self._f(*args)
        dyn, stat = self._split(args)
        n = len(self._entries)
        compiled = self._compiled_for(dyn, stat)
        if len(self._entries) == n:
            # a known kernel for a new fast signature (a 0-d array after a float), or one
            # pushed out of the dispatcher: make it the first test again
            self._remember(dyn, stat, compiled)
        self._last = compiled
        return compiled(*dyn)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        dyn, stat = self._split(self._bind(args, kwargs))
        compiled = self._compiled_for(dyn, stat)
        self._last = compiled
        return compiled

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """As a method: bound to the instance (static: one kernel per instance, as its
        attributes are read at trace time)."""
        if obj is None:
            return self
        self._method = True
        return types.MethodType(self, obj)

    @property
    def source(self) -> str:
        if self._last is None:
            raise CompileError("nothing compiled yet: call the function (or .lower(*args)) first")
        return getattr(self._last, "source", "")

    @property
    def fn(self) -> Fn:
        if self._last is None:
            raise CompileError("nothing compiled yet: call the function (or .lower(*args)) first")
        return self._last.fn

    def __repr__(self) -> str:
        return f"<symnum.compile of {self.__name__!r} backend={self._backend!r}>"

    # pickling: by graph ----------------------------------------------------------------------
    def saved_state(self) -> dict:
        """What pickling and symnum.save keep: settings, and each compiled signature as its
        (simplified) Fn with the backend and options that lowered it — never machine code.
        The Python function itself only when it pickles by reference (a module-level function);
        without it the restored function runs its saved signatures and no others."""
        import pickle

        from symnum.backends.dispatch import MISSING

        f = None
        if not self._custom_fn:
            try:
                pickle.dumps(self._f)
                f = self._f
            except Exception:  # noqa: BLE001  (lambdas, closures: kept out, said in the docstring)
                f = None
        sigs = []
        for key, entry in list(self._entries.items()):
            c = entry.compiled
            if c is None or _has_identity(key):  # an instance of this process only
                continue
            if isinstance(getattr(c, "fn", None), ArrayFn):
                # array terms do not pickle yet: the restored function traces this signature
                # again from its Python function (kept by reference), else say so
                if f is None:
                    raise SerializationError(
                        f"{self.__name__} has an array-program kernel (mode='auto' for large "
                        "arrays) and its Python function is a lambda or closure: array terms do "
                        "not pickle yet; define the function at module level, or compile with "
                        "mode='scalar' to save its scalar kernels")
                continue
            backend = getattr(c, "backend", None) or "numpy"
            options = dict(self._options) if backend != "numpy" else {}
            if getattr(c, "dtype", None) is not None and backend != "numpy":
                options["dtype"] = np.dtype(c.dtype).name
            sigs.append({"key": key, "fn": c.fn, "backend": backend, "options": options,
                         "statics": entry.parts[0], "key_dtype": entry.parts[1]})
        return {"f": f, "name": self.__name__, "backend": self._backend,
                "simplify": self._simplify, "options": dict(self._options),
                "static": sorted(self._static), "method": self._method,
                "params": list(self._params), "var": self._var, "custom": self._custom_fn,
                "defaults": {p: d for p, d in zip(self._params, self._defaults)
                             if d is not MISSING},
                "signatures": sigs}

    def __reduce__(self) -> tuple:
        return (restore, (self.saved_state(),))


class _Unavailable:
    """The stand-in for a function that was not saved: its signature, no body."""

    def __init__(self, name: str, params: list[str], var: bool, defaults: dict):
        self.__name__ = name
        kind, empty = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty
        ps = [inspect.Parameter(p, kind, default=defaults.get(p, empty)) for p in params]
        if var or not params:
            ps.append(inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL))
        self.__signature__ = inspect.Signature(ps)

    def __call__(self, *args: Any) -> Any:
        raise CompileError(
            f"{self.__name__} was restored (unpickled or loaded) without its Python function "
            "(a lambda or closure is not saved): it runs the argument signatures it was saved "
            "with, and cannot trace new ones; call it with arguments like those, or compile "
            "the function again")


def restore(state: dict) -> CompiledFunction:
    """A CompiledFunction from `saved_state()`: kernels lowered again from the saved graphs
    (the backends' disk caches make that a load, not a compile, when they hold them)."""
    f = state["f"] or _Unavailable(state["name"], state["params"], state["var"],
                                   state.get("defaults", {}))
    cf = CompiledFunction(f, backend=state["backend"], simplify=state["simplify"],
                          static_argnums=tuple(state["static"]), **state["options"])
    if state.get("custom"):
        cf._sig, cf._params, cf._var = None, [], True
    cf.__name__ = state["name"]
    cf._method = state["method"]
    for sig in state["signatures"]:
        parts = (tuple(sig.get("statics", ())), sig.get("key_dtype"))
        entry = _Entry(parts)
        entry.compiled = lower(sig["fn"], sig["backend"], **sig["options"])
        key = sig.get("key")
        if key is None:  # from a file: rebuilt from the Fn's inputs, as a call would make it
            key = _make_key(signature_key(_examples(sig["fn"])), *parts)
        cf._entries[key] = entry
    return cf


def _examples(fn: Fn) -> tuple:
    """Arguments with the signature of an Fn's inputs (zeros of the traced dtypes)."""
    from symnum.core.terms import Sym
    from symnum.tracing.pytree import tree_flatten, tree_unflatten

    leaves, td = tree_flatten(fn.inputs)
    ex = []
    for leaf in leaves:
        if isinstance(leaf, Sym):
            ex.append(np.dtype(leaf.dtype).type(0))
        elif isinstance(leaf, np.ndarray):
            dt = leaf.flat[0].dtype if leaf.size else "float64"
            ex.append(np.zeros(leaf.shape, dt))
        else:
            ex.append(leaf)
    return tuple(tree_unflatten(td, ex))



def compile(f: Callable | None = None, *, backend: str = "auto", simplify: str | dict | None = None,
            mode: str = "auto", **options: Any) -> Any:
    """Compile a numpy-style function (decorator or call): trace it on the first call of each
    argument signature (shapes, dtypes, pytree structure), optionally simplify, lower, cache.

    backend:
        "auto" (default): "llvm" when llvmlite is installed, else "numpy".
        "llvm": LLVM IR through llvmlite; milliseconds to compile, an on-disk object cache.
        "numba": Python source compiled by numba (cached by numba); also sn.vectorize's default.
        "cuda": numba-cuda kernels (a GPU, or the simulator with NUMBA_ENABLE_CUDASIM=1).
        "numpy": the reference interpreter (symnum.evaluate); nothing to compile.
    simplify: None (default), "rules", "egraph", or a dict of symnum.simplify arguments
        (e.g. {"method": "egraph", "ruleset": ...}).
    mode: "auto" (default): an array program larger than symnum.arrays.auto.SCALARIZE_LIMIT
        array elements is traced to array terms (one per numpy call) and lowered to loop nests
        ("auto" backend: numba), so trace and compile cost the same at any array size;
        smaller programs and numbers-only ones are traced to scalar terms (LLVM, milliseconds);
        what the array tracer cannot represent (item assignment, ...) is traced in scalar mode.
        "array" / "scalar" force one form.
    options (passed to the backend):
        cache_dir: where compiled kernels are cached (default: the user's symnum cache).
        fastmath (llvm, numba, cuda): allow reassociation and no-NaN assumptions (off: numpy's
            results bit for bit where the libm agrees).
        dtype (llvm, numba): "float64" (default) or "float32".
        shard (llvm): instructions per generated function (default 250; None: one function).
        parallel (llvm): run batches on several threads (None: decided by the work size).
        opt / ir_opt (llvm): LLVM optimisation levels of code generation and of the IR passes.
        reroll (llvm): on by default: shapes repeated ≥ 64 times (a model written element by
            element) become loops over index/coefficient tables (symnum.backends.reroll; sums
            may add in another order: equal to rounding), and a chain of ≥ 512 statements of
            isomorphic steps each reading the last (a Python loop over time steps) becomes one
            loop with carries (symnum.backends.reroll_chain; bit-identical); an int sets the
            thresholds; False: straight-line code. llvm and numba; other backends ignore it.

    Called like the function: keywords, defaults, pytrees of arrays, as a method too. One kernel
    per argument signature (structure, shapes, dtypes; float32 in → float32 kernel and out,
    `dtype=` forces one); `static_argnums` / `static_argnames` name arguments to specialise on
    (one kernel per value, as in JAX; hashable, else an ArgumentError). Parameters with an int,
    bool, str or None default (or a tuple of those) are static without being named — `def
    f(x, steps=6)` gets `steps` as a Python int, for `range(steps)` or a fori_loop bound,
    whether passed or not — unless the caller gives them data (a float, a numpy scalar, an
    array: traced). Float defaults are traced, so `f(u)` and `f(u, p=2.0)` share one kernel
    and sweeping p never recompiles (name it in static_argnames to fold it in as a constant).
    Compiled functions pickle (by graph) and `symnum.save`.

    >>> import numpy as np, symnum as sn
    >>> @sn.compile(backend="numpy")
    ... def rhs(u, p):
    ...     return p * u**2 - u
    >>> rhs(np.array([1.0, 2.0]), p=3.0)
    array([ 2., 10.])
    >>> power = sn.compile(lambda x, n: x**n, static_argnums=1)
    >>> float(power(2.0, 3))
    8.0
    >>> @sn.compile
    ... def decay(x, steps=4):
    ...     return sn.fori_loop(0, steps, lambda i, v: v / 2, x)
    >>> float(decay(16.0)), float(decay(16.0, steps=2))
    (1.0, 4.0)
    """
    def wrap(g: Callable) -> CompiledFunction:
        # sn.compile(sn.grad(f)): a transformed function says how to make its Fn (symnum.transforms
        # sits above this module, so it is recognised by that method, not by its type)
        make = getattr(g, "make_fn", None)
        if callable(make):
            return CompiledFunction(g, backend=backend, simplify=simplify,
                                    make_fn=lambda args: make(*args), **options)
        return CompiledFunction(g, backend=backend, simplify=simplify, mode=mode, **options)

    return wrap if f is None else wrap(f)
