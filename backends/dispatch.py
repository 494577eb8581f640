"""The fast call path of `symnum.compile`: one generated Python function per compiled function
that recognises its known argument signatures with a few identity and shape tests and calls the
raw kernels directly.

`sn.compile(f)(x)` used to build a signature key, walk pytrees and look the kernel up on every
call (3–17 µs around a 0.8 µs kernel). Here each signature whose arguments are plain leaves
(Python or numpy scalars, arrays, hashable static values) becomes one `if` in a generated
function: exact-type tests (`type(a) is ndarray`, `a.shape == (3,)`, `a.dtype is float64`), a
preallocated-free pack, the kernel called through its own trampoline (no functools.partial),
and the outputs cut from the flat result. Anything else — another shape, None, a string, a
complex number, a pytree, a keyword the function does not have — falls through to the slow path
(`CompiledFunction._dispatch`), which validates and raises the typed errors. So validation costs
nothing on the fast path: a bad argument never passes an exact-type test.

It sits with the backends (it knows the raw-kernel convention of `backends.compiled.Compiled`)
and must never trace, lower or compile anything itself: it only writes Python source that calls
kernels the backends already built.
"""

from __future__ import annotations

import functools
import keyword
from typing import Any

import numpy as np

MISSING = object()  # a parameter the caller did not pass (the generated defaults)
MAX_SIGNATURES = 8  # tests before the slow path; the most recent signature is tested first
MAX_TREE = 16  # a tuple, list or dict argument with more entries takes the slow path
_KEY_TYPES = (str, int)  # dict keys the generated tests can spell
_SIMPLE_STATIC = (int, float, str, bool, bytes, type(None))


def leaf_spec(value: Any) -> tuple | None:
    """How the fast path recognises one argument: ("float",) for Python floats, ("np", type)
    for numpy float scalars, ("int",), ("array", shape, dtype), ("tree", kind, keys, children)
    for tuples, lists and dicts of those; None when it cannot."""
    t = type(value)
    if t is float:
        return ("float",)
    if t is int:
        return ("int",)
    if t is np.ndarray:
        return ("array", value.shape, value.dtype)
    if t is np.float32 or t is np.float64:
        return ("np", t)
    if t is tuple or t is list or t is dict:
        keys = tuple(value) if t is dict else ()
        if len(value) > MAX_TREE or any(type(k) not in _KEY_TYPES for k in keys):
            return None
        kids = tuple(leaf_spec(v) for v in (value.values() if t is dict else value))
        if any(k is None for k in kids):
            return None
        return ("tree", t.__name__, keys, kids)
    return None


def _leaves(expr: str, s: tuple) -> tuple[list[str], list[tuple[str, tuple]]]:
    """The tests recognising a (possibly nested) argument `expr` of spec `s`, and its leaves as
    (Python expression, leaf spec) in the order pytrees flatten them."""
    if s[0] != "tree":
        return [], [(expr, s)]
    kind, keys, kids = s[1], s[2], s[3]
    tests = [f"type({expr}) is {kind}", f"len({expr}) == {len(kids)}"]
    if kind == "dict":  # insertion order is the flattening order
        tests.append(f"tuple({expr}) == {keys!r}")
    out: list[tuple[str, tuple]] = []
    for i, kid in enumerate(kids):
        sub = f"{expr}[{keys[i]!r}]" if kind == "dict" else f"{expr}[{i}]"
        t, leaves = _leaves(sub, kid)
        tests += t
        out += leaves
    return tests, out


def _matches(s: tuple, td: Any, tree: Any) -> bool:
    """Whether an argument spec has the structure and shapes the kernel was traced with."""
    if s[0] == "tree":
        if td.kind != s[1] or len(td.children) != len(s[3]) or (
                s[1] == "dict" and tuple(td.keys) != s[2]):
            return False
        subs = list(tree.values()) if s[1] == "dict" else list(tree)
        return all(_matches(k, c, t) for k, c, t in zip(s[3], td.children, subs))
    shape = s[1] if s[0] == "array" else ()
    return td.kind == "leaf" and np.shape(tree) == shape


def _fast_kernel(compiled: Any) -> tuple[Any, tuple]:
    """The callable and leading constant arguments of a raw kernel: the llvm backend's
    `functools.partial(trampoline, addr, n_in, n_out)` unwrapped, saving the partial's cost."""
    k = compiled.kernel
    if isinstance(k, functools.partial) and not k.keywords:
        return k.func, tuple(k.args)
    return k, ()


class Signature:
    """One fast-path entry: the argument specs (one per parameter slot), the compiled kernel
    and the static values bound into the trace."""

    __slots__ = ("specs", "compiled")

    def __init__(self, specs: list, compiled: Any):
        self.specs, self.compiled = specs, compiled


def supports(compiled: Any, specs: list) -> bool:
    """Whether a signature can take the fast path: a backends.compiled.Compiled whose inputs are
    exactly the non-static arguments, each a symbol or a symbolic array (no pytrees)."""
    from symnum.backends.compiled import Compiled

    if any(s is None for s in specs):
        return False
    if _is_array_kernel(compiled):
        return _supports_array_kernel(compiled, specs)
    if type(compiled) is not Compiled:
        return False
    dyn = [s for s in specs if s[0] != "static"]
    ins, td = compiled.fn.inputs, compiled.fn.in_tree
    if td.kind != "tuple" or len(td.children) != len(ins):
        return False
    if len(ins) == len(specs) and len(dyn) < len(specs):
        # a transform's trace keeps its static arguments among the inputs (call_args.StaticArg,
        # no symbol: the kernel's packing skips them): pair them position by position
        from symnum.arrays.terms import ArrayExpr
        from symnum.core.terms import Expr

        pairs = []
        for s, c, t in zip(specs, td.children, ins):
            if (s[0] == "static") == isinstance(t, (Expr, ArrayExpr)):
                return False
            if s[0] != "static":
                pairs.append((s, c, t))
    elif len(ins) == len(dyn):
        pairs = list(zip(dyn, td.children, ins))
    else:
        return False
    if not all(_matches(s, c, t) for s, c, t in pairs):
        return False
    return all(s[2] or type(s[1]) in _SIMPLE_STATIC or type(s[1]).__eq__ is object.__eq__
               for s in specs if s[0] == "static")


def build(params: list[str], has_var: bool, entries: list[Signature], slow: Any,
          name: str = "dispatch", defaults: list | None = None) -> Any:
    """The dispatcher for these signatures (most recent first), falling back to `slow`.

    `params`: the parameter names of the compiled function (keyword calls land in the same slots);
    `has_var`: whether it takes *args or **kwargs (then extra arguments go to the slow path;
    else the generated function takes exactly the named parameters: no *args/**kwargs packing
    on every call, ~0.1 µs). `defaults`: the function's own default per parameter (MISSING
    where none), the generated function's defaults too: an omitted static default
    (`def f(x, steps=6)` called as `f(x)`) then meets its signature's `steps == 6` test
    instead of falling to the slow path on every call (166 µs instead of ~7 µs).
    """
    names = [p if p.isidentifier() and not keyword.iskeyword(p) and not p.startswith("_sn")
             else f"_sn_a{i}" for i, p in enumerate(params)]
    if len(set(names)) != len(names):
        names = [f"_sn_a{i}" for i in range(len(params))]
    g: dict[str, Any] = {"_sn_ndarray": np.ndarray, "_sn_float64": np.float64,
                         "_sn_empty": np.empty, "_sn_slow": slow, "_sn_M": MISSING}
    defaults = list(defaults or [])
    for i, d in enumerate(defaults[:len(names)]):  # by reference: no repr in the source
        if d is not MISSING:
            g[f"_sn_def{i}"] = d
    slots = ", ".join(f"{n}=_sn_def{i}" if i < len(defaults) and defaults[i] is not MISSING
                      else f"{n}=_sn_M" for i, n in enumerate(names))
    fname = name if name.isidentifier() and not keyword.iskeyword(name) else "compiled"
    if has_var:
        lines = [f"def {fname}({slots + ', ' if slots else ''}*_sn_rest, **_sn_kw):",
                 "    if _sn_rest or _sn_kw:",
                 f"        return _sn_slow({', '.join(names + ['*_sn_rest', '**_sn_kw'])})"]
    else:  # an extra argument is Python's own TypeError, named after the function
        lines = [f"def {fname}({slots}):"]
    for k, e in enumerate(entries):
        lines += _entry_lines(k, e, names, g)
    args = ", ".join(names)
    lines.append(f"    return _sn_slow({args})")
    src = "\n".join(lines) + "\n"
    exec(compile(src, f"<symnum dispatch of {len(entries)} signature(s)>", "exec"), g)  # noqa: S102
    fn = g[fname]
    fn.source = src
    return fn


def native(entries: list[Signature], py_dispatch: Any, n_params: int) -> Any:
    """The machine-code front of `py_dispatch` (backends.native_dispatch) where the host and
    the signatures allow one, else `py_dispatch` itself."""
    from symnum.backends import llvm_backend, native_dispatch

    front = native_dispatch.wrap([(_native_view(e.compiled), e.specs) for e in entries],
                                 py_dispatch, n_params, llvm_backend._cached_object,
                                 llvm_backend._link)
    return py_dispatch if front is None else front


class _ArrayView:
    """An llvm array kernel of one float64 array in and one float64 output seen as the
    machine-code front sees raw kernels: `void kernel(double *x, double *out)` at `_address`
    (its trampoline entry), n_in inputs, one output slice."""

    backend, dtype, _flat_tuple_out = "llvm", np.dtype(np.float64), False

    def __init__(self, k: Any):
        self.kernel, self.fn = k, k.fn  # keeps the kernel's machine code alive
        self._address = k._kaddr
        self.n_in = int(np.prod(k._one[1], dtype=np.int64))
        self.n_out = max(k._osize, 1)
        self._out_slices = [(0, self.n_out, tuple(k._oshape))]


def _native_view(c: Any) -> Any:
    if _is_array_kernel(c) and getattr(c, "_fast", False) and getattr(c, "_kaddr", None):
        return _ArrayView(c)
    if getattr(c, "backend", "") == "numba" and getattr(c, "dtype", None) == np.float64 \
            and not _is_array_kernel(c):
        # a numba kernel takes the front through a C entry `void kernel(double *x, double
        # *out)` (backends.interop: a numba cfunc, one more small compile, once per kernel)
        from symnum.backends import interop

        from symnum.errors import CompileError

        try:
            interop.address(c)
        except (CompileError, RuntimeError, TypeError, ValueError):
            return c
    return c


def _is_array_kernel(c: Any) -> bool:
    from symnum.backends.numba_arrays import ArrayKernel

    return isinstance(c, ArrayKernel)


def _supports_array_kernel(k: Any, specs: list) -> bool:
    """A compiled array program (backends.numba_arrays / llvm_arrays) called with exactly its
    traced leaves: arrays of its shapes and dtypes, float scalars for its scalar symbols."""
    dyn = [s for s in specs if s[0] != "static"]
    if not k._flat or len(dyn) != len(k._specs):
        return False
    for s, (kind, shape, dt, _name) in zip(dyn, k._specs):
        if kind == "a" and not (s[0] == "array" and tuple(s[1]) == tuple(shape) and s[2] == dt):
            return False
        if kind == "s" and not (s[0] in ("float", "np") and dt == np.float64):
            return False
        if kind == "static":
            return False
    return all(s[2] or type(s[1]) in _SIMPLE_STATIC or type(s[1]).__eq__ is object.__eq__
               for s in specs if s[0] == "static")


def _test(expr: str, s: tuple, tag: str, g: dict) -> str:
    """The generated test that recognises one argument (or pytree leaf) `expr` of spec `s`;
    the objects it names go into `g` under `tag`."""
    if s[0] == "np":
        g[f"_sn_t{tag}"] = s[1]
        return f"type({expr}) is _sn_t{tag}"
    if s[0] == "array":
        g[f"_sn_dt{tag}"] = s[2]
        return (f"type({expr}) is _sn_ndarray and {expr}.shape == {tuple(s[1])!r} and "
                f"{expr}.dtype is _sn_dt{tag}")
    if s[0] == "static":  # identity for objects, equality (and the same type) for plain values
        g[f"_sn_s{tag}"] = s[1]
        if not s[2] and type(s[1]) in _SIMPLE_STATIC:
            return f"type({expr}) is type(_sn_s{tag}) and {expr} == _sn_s{tag}"
        return f"{expr} is _sn_s{tag}"
    return f"type({expr}) is {s[0]}"  # "float", "int"


def _array_kernel_lines(k: int, e: Signature, names: list[str], g: dict) -> list[str]:
    """Tests as for any entry, then the array kernel's own call (its checks are done)."""
    g[f"_sn_k{k}"] = e.compiled
    tests = [_test(n, s, f"{k}_{i}", g) for i, (n, s) in enumerate(zip(names, e.specs))]
    args = [n for n, s in zip(names, e.specs) if s[0] != "static"]
    return [f"    if {' and '.join(tests) or 'True'}:",
            f"        return _sn_k{k}({', '.join(args)})"]


def _entry_lines(k: int, e: Signature, names: list[str], g: dict) -> list[str]:
    c = e.compiled
    if _is_array_kernel(c):
        return _array_kernel_lines(k, e, names, g)
    kern, lead = _fast_kernel(c)
    g[f"_sn_k{k}"] = kern
    lead_src = "".join(f"{int(v)}, " for v in lead)
    d = c.dtype
    g[f"_sn_d{k}"] = d
    tests: list[str] = []
    dyn: list[tuple[str, tuple]] = []
    for i, (n, s) in enumerate(zip(names, e.specs)):
        if s[0] == "tree":
            t, leaves = _leaves(n, s)
            tests += t + [_test(expr, leaf, f"{k}_{i}_{j}", g)
                          for j, (expr, leaf) in enumerate(leaves)]
            dyn += leaves
            continue
        tests.append(_test(n, s, f"{k}_{i}", g))
        if s[0] != "static":
            dyn.append((n, s))
    body: list[str] = []
    scalar_call = getattr(c, "scalar_call", None)  # the numba backend's own scalar entry
    if (scalar_call is not None and len(dyn) == c.n_in and d == np.float64
            and all(s[0] in ("float", "int", "np") for _, s in dyn)):  # float32 would box
        # as a Python float
        g[f"_sn_e{k}"] = scalar_call
        cond = " and ".join(tests)
        return [f"    if {cond}:",
                f"        return _sn_e{k}({', '.join(n for n, _ in dyn)})"]
    entry = _scalar_entry(c, len(dyn))
    if (entry is not None and dyn and all(_float64_scalar(s) for _, s in dyn)
            and c.fn.out_tree.kind == "leaf" and c.n_out == 1 and c._out_slices[0][2] == ()):
        # float64 scalars in, a scalar out: the stack-only entry, no arrays at all (a 0-d
        # array passes its element)
        g[f"_sn_e{k}"] = entry
        cond = " and ".join(tests)
        args = ", ".join(f"{n}[()]" if s[0] == "array" else n for n, s in dyn)
        return [f"    if {cond}:", f"        return _sn_e{k}({int(c.address)}, {args})"]
    direct = (len(dyn) == 1 and dyn[0][1][0] == "array" and len(dyn[0][1][1]) >= 1
              and dyn[0][1][2] == d)
    if direct:  # one contiguous array of the kernel's dtype: handed over as it is (a view)
        n = dyn[0][0]
        tests.append(f"{n}.flags.c_contiguous")
        xin = n if len(dyn[0][1][1]) == 1 else f"{n}.reshape(-1)"
    else:
        body.append(f"_sn_x = _sn_empty({c.n_in}, _sn_d{k})")
        pos = 0
        for n, s in dyn:
            if s[0] != "array":
                body.append(f"_sn_x[{pos}] = {n}")
                pos += 1
                continue
            size = int(np.prod(s[1], dtype=np.int64))
            if len(s[1]) == 0:
                body.append(f"_sn_x[{pos}] = {n}")
            elif len(s[1]) == 1:
                body.append(f"_sn_x[{pos}:{pos + size}] = {n}")
            else:
                body.append(f"_sn_x[{pos}:{pos + size}] = {n}.reshape(-1)")
            pos += size
        xin = "_sn_x"
    alloc = getattr(c, "alloc_call", None)
    call1 = getattr(c, "call1", None)
    if alloc is not None and lead:  # the output allocated inside the compiled trampoline
        g[f"_sn_a{k}"] = alloc
        body.append(f"_sn_out = _sn_a{k}({lead_src}{xin})")
    elif call1 is not None:  # likewise, inside the numba module
        g[f"_sn_a{k}"] = call1
        body.append(f"_sn_out = _sn_a{k}({xin})")
    else:
        body.append(f"_sn_out = _sn_empty({c.n_out}, _sn_d{k})")
        body.append(f"_sn_k{k}({lead_src}{xin}, _sn_out)")
    body.append("return " + _unpack_src(c, k, g))
    cond = " and ".join(tests) if tests else "True"
    return [f"    if {cond}:"] + [f"        {b}" for b in body]


def _scalar_entry(c: Any, arity: int) -> Any:
    """The numba-compiled stack-only entry for float64 llvm scalar kernels
    (backends.llvm_scalar) — only where the machine-code front (backends.native_dispatch) is
    unavailable, since it imports numba (~1 s on a process's first compile) for a path the
    front already covers."""
    from symnum.backends import native_dispatch

    if c.backend != "llvm" or c.dtype != np.float64 or c.n_out != 1 \
            or native_dispatch._symbols() is not None:
        return None
    from symnum.backends.llvm_scalar import scalar_entry

    entry = scalar_entry()
    return entry.get(arity) if entry is not None else None


def _float64_scalar(s: tuple) -> bool:
    return (s[0] == "float" or (s[0] == "np" and s[1] is np.float64)
            or (s[0] == "array" and s[1] == () and s[2] == np.float64))


def _unpack_src(c: Any, k: int, g: dict) -> str:
    td = c.fn.out_tree

    def leaf(a: int, b: int, shape: tuple) -> str:
        if shape == ():
            return f"_sn_out[{a}]"
        if len(shape) == 1 and (a, b) == (0, c.n_out):
            return "_sn_out"
        if len(shape) == 1:
            return f"_sn_out[{a}:{b}]"
        if (a, b) == (0, c.n_out):
            return f"_sn_out.reshape({tuple(shape)!r})"
        return f"_sn_out[{a}:{b}].reshape({tuple(shape)!r})"

    if td.kind == "leaf":
        return leaf(*c._out_slices[0])
    if c._flat_tuple_out:
        parts = [leaf(*s) for s in c._out_slices]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    g[f"_sn_u{k}"] = c.unpack
    return f"_sn_u{k}(_sn_out, ())"
