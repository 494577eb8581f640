"""Arguments of compiled functions like Python's and JAX's: parameters and defaults, static
arguments (by value, or by identity for a method's instance), the leaves a kernel accepts, the
kernel dtype numpy's promotion gives, and errors that name the argument.

Used by symnum.compile; imports nothing above symnum.arrays (the backends' dispatch only lazily,
through the registry).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symnum.arrays.terms import ArrayExpr
from symnum.errors import ArgumentError


def _parameters(f: Callable) -> tuple[list[str], list[Any], bool, inspect.Signature | None]:
    """Positional parameter names, their defaults (dispatch.MISSING where none) and whether `f`
    takes *args/**kwargs; the signature binds keyword calls."""
    from symnum.backends.dispatch import MISSING

    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return [], [], True, None
    names, defaults, var = [], [], False
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
            defaults.append(MISSING if p.default is p.empty else p.default)
        else:
            var = True
    return names, defaults, var, sig


def _has_identity(key: Any) -> bool:
    if type(key) is _Identity:
        return True
    if isinstance(key, tuple):
        return any(_has_identity(k) for k in key)
    return False


class _Identity:
    """A static argument keyed by identity (a method's instance: often unhashable, and its
    attributes are what the trace reads)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return type(other) is _Identity and other.obj is self.obj


STATIC_KINDS = (bool, int, str, type(None))  # Python values, never data: see static_kind


def static_kind(v: Any) -> bool:
    """Whether `v` is a Python int, bool, str or None, or a tuple of those (nested): the
    kinds of default value that make a parameter static (a configuration — a step count, a
    flag, a mode name — that decides the program's structure), and the kinds of value such a
    parameter takes as static. Floats, numpy scalars and arrays are data: they are traced.

    >>> static_kind(6), static_kind(("rk4", None, (1, True))), static_kind(0.5)
    (True, True, False)
    >>> static_kind(np.int64(6)), static_kind([1, 2])
    (False, False)
    """
    if type(v) in STATIC_KINDS:
        return True
    return type(v) is tuple and all(static_kind(e) for e in v)


def _auto_static_positions(defaults: list) -> frozenset:
    """Parameters whose default is a static kind (static_kind): static unless the caller passes
    data (a float, a numpy scalar, an array) for them."""
    from symnum.backends.dispatch import MISSING

    return frozenset(i for i, d in enumerate(defaults) if d is not MISSING and static_kind(d))


class StaticArg:
    """A static argument inside a transform's trace: a leaf that is no number, so the trace
    keeps it in the Fn's inputs (at its position: argnums keep their meaning) and the signature
    key holds its value (a new value, a new trace); the function gets `value` itself."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return hash((StaticArg, type(self.value), self.value))

    def __eq__(self, other: object) -> bool:
        return (type(other) is StaticArg and type(other.value) is type(self.value)
                and other.value == self.value)

    def __repr__(self) -> str:
        return f"static({self.value!r})"


class StaticArgs:
    """Which arguments of `f` are static: those named (static_argnums / static_argnames) and
    those of parameters with a static-kind default given a static-kind value (static_kind)."""

    def __init__(self, f: Callable | None, nums: int | Sequence[int] = (),
                 names: str | Sequence[str] = (), fname: str = "f", *,
                 traced: frozenset = frozenset(), auto: bool = True):
        """`traced`: positions that must stay traced (what grad differentiates): never static
        by default, and an error when named static. `auto=False`: named statics only."""
        params, defaults, _, _ = _parameters(f) if f is not None else ([], [], True, None)
        self.params = params
        self.explicit = _static_positions(nums, names, params, fname)
        both = self.explicit & traced
        if both:
            raise ArgumentError(
                f"{fname}: argument(s) {sorted(both)} are both differentiated (argnums) and "
                "static (static_argnums / static_argnames); a static argument is a Python "
                "value, not a variable: drop it from one of them")
        self.auto = (_auto_static_positions(defaults) - self.explicit - traced if auto
                     else frozenset())
        self.fname = fname

    def is_static(self, i: int, a: Any) -> bool:
        return i in self.explicit or (i in self.auto and static_kind(a))

    def box(self, args: tuple, extra: frozenset = frozenset()) -> tuple:
        """`args` with each static one wrapped in a StaticArg (hashable, else ArgumentError)."""
        out = []
        for i, a in enumerate(args):
            if type(a) is not StaticArg and (self.is_static(i, a) or i in extra):
                check_hashable(a, repr(self.params[i]) if i < len(self.params) else f"#{i}",
                               self.fname)
                a = StaticArg(a)
            out.append(a)
        return tuple(out)


def unbox(f: Callable) -> Callable:
    """f called with StaticArg arguments replaced by their values (its signature kept, so the
    trace names the symbols after f's parameters)."""
    import functools

    @functools.wraps(f)
    def unboxed(*args: Any) -> Any:
        return f(*[a.value if type(a) is StaticArg else a for a in args])

    return unboxed


def check_hashable(a: Any, name: str, fname: str) -> None:
    try:
        hash(a)
    except TypeError:
        raise ArgumentError(
            f"static argument {name} of {fname} must be hashable (it keys the compiled "
            f"kernels), got {type(a).__name__}; pass a tuple instead of a list, or make it a "
            "traced argument") from None


def _static_positions(nums: int | Sequence[int], names: str | Sequence[str], params: list[str],
                      fname: str) -> frozenset:
    nums = (nums,) if isinstance(nums, int) else tuple(nums)
    names = (names,) if isinstance(names, str) else tuple(names)
    out = set()
    for i in nums:
        if not isinstance(i, int) or i < 0:
            raise ArgumentError(f"static_argnums holds non-negative positions, got {i!r}")
        out.add(i)
    for n in names:
        if n not in params:
            raise ArgumentError(f"static_argnames: {fname} has no parameter {n!r} (its "
                                f"parameters: {', '.join(params) or 'unknown'})")
        out.add(params.index(n))
    return frozenset(out)


def _check_leaves(arg: Any, cf: Any, i: int) -> None:
    """Numbers and real arrays only (in pytrees); others are static only when declared so —
    except callables and strings inside the traced function's own statics (kept as before)."""
    from symnum.tracing.pytree import tree_flatten

    if arg is None:
        raise ArgumentError(
            f"argument {cf._name_of(i)} of {cf.__name__} is None; pass a number or an array "
            "(or mark it static with static_argnums / static_argnames)")
    for leaf in tree_flatten(arg)[0]:
        bad = None
        if isinstance(leaf, (complex, np.complexfloating)):
            bad = "a complex number"
        elif isinstance(leaf, np.ndarray) and leaf.dtype.kind not in "biuf":
            bad = f"an array of dtype {leaf.dtype}"
        if bad is not None:
            raise ArgumentError(
                f"argument {cf._name_of(i)} of {cf.__name__} is {bad}; compiled functions take "
                "real numbers and real (bool, integer, float) arrays, in tuples, lists or dicts; "
                "mark other arguments static with static_argnums / static_argnames")


def _blame_strings(err: Exception, dyn: tuple, stat: tuple, cf: Any) -> None:
    """A string argument is passed to the function unchanged (a static value); when tracing
    then fails on it, say so rather than leave numpy's message about ufunc loops."""
    from symnum.errors import SymnumError
    from symnum.tracing.pytree import tree_flatten

    if isinstance(err, SymnumError):
        return
    fixed = {i for i, _ in stat}
    positions = [i for i in range(len(dyn) + len(fixed)) if i not in fixed]
    for i, a in zip(positions, dyn):
        for leaf in tree_flatten(a)[0]:
            if isinstance(leaf, (str, bytes)):
                raise ArgumentError(
                    f"argument {cf._name_of(i)} of {cf.__name__} is a string ({leaf!r}), passed "
                    f"to the function unchanged, and tracing failed on it ({err}); pass a real "
                    "number or array") from err


def kernel_dtype(dyn: tuple) -> str:
    """The kernel dtype for these arguments by numpy's promotion: float32 when numpy would
    compute in float32 (float32 arrays with Python scalars, int8/int16), else float64. Python
    scalars are weak (NEP 50): they never widen an array."""
    from symnum.tracing.pytree import tree_flatten

    strong = []
    for leaf in tree_flatten(dyn)[0]:
        if isinstance(leaf, (np.ndarray, np.generic)) and leaf.dtype.kind in "biuf":
            strong.append(leaf.dtype)
    if not strong:
        return "float64"
    dt = np.result_type(*strong, np.float16)
    return "float32" if dt.itemsize <= 4 else "float64"


def signature_key(args: tuple) -> tuple:
    """What a traced program depends on: pytree structure, array shapes and dtypes, statics."""
    from symnum.tracing.pytree import tree_flatten

    # fast path for the common call (arrays and Python floats): no pytree rebuilt on every call
    fast = []
    for a in args:
        if type(a) is np.ndarray:
            fast.append((a.shape, a.dtype.str))
        elif type(a) is float or type(a) is np.float64:  # the same program either way
            fast.append(((), "<f8"))
        else:
            break
    else:
        return ("flat", tuple(fast))
    leaves, td = tree_flatten(args)
    sig = []
    for leaf in leaves:
        if isinstance(leaf, np.ndarray) or isinstance(leaf, (bool, int, float, complex,
                                                             np.number, np.bool_)):
            a = np.asarray(leaf)
            sig.append(("a", a.shape, a.dtype.str))
        else:
            sig.append(("s", type(leaf).__name__, repr(leaf)))
    return (td, tuple(sig))


def is_symbolic(args: Any) -> bool:
    """Whether any leaf of `args` is a term (or an array holding terms): the call comes from
    inside a trace, so a compiled or transformed function must trace through, not run a kernel."""
    for a in args:  # the common call (floats, numeric arrays) without flattening a pytree
        if not (type(a) is float or (type(a) is np.ndarray and a.dtype != object)):
            break
    else:
        return False
    from symnum.core.terms import Expr
    from symnum.tracing.pytree import tree_flatten

    for leaf in tree_flatten(args)[0]:
        if isinstance(leaf, (Expr, ArrayExpr)):
            return True
        if isinstance(leaf, np.ndarray) and leaf.dtype == object and any(
                isinstance(v, Expr) for v in leaf.flat):
            return True
    return False
