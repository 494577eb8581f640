"""Op: one object per primitive, carrying every fact the system knows about it.

A primitive's numpy implementation, partial derivatives, Taylor rule, linearity, CPU-cycle cost,
printing and lowering name are declared together in one `Op(...)` block (see symnum.primitives);
users add their own with `symnum.register`. A rule that is missing raises MissingRuleError where
it is needed, never earlier. This module must not import term types' constructors eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from symnum.core.build import apply
from symnum.errors import MissingRuleError, RegistrationError


@dataclass(frozen=True)
class Linearity:
    """How a primitive's second derivatives look, for Hessian sparsity without differentiating.

    linear: per argument (or one bool for all), whether the second derivative with respect to
        that argument alone is identically zero.
    cross: whether mixed second derivatives between different arguments can be non-zero, or
        the argument pairs (i, j) for which they can (fma(a, b, c): only (0, 1)).
    constant: the derivative is zero almost everywhere (comparisons, sign, logic).
    """

    linear: bool | tuple[bool, ...]
    cross: bool | tuple[tuple[int, int], ...]
    constant: bool = False

    def linear_in(self, i: int) -> bool:
        return self.linear if isinstance(self.linear, bool) else self.linear[i]

    def crosses(self, i: int, j: int) -> bool:
        """Whether ∂²/∂arg_i∂arg_j (i ≠ j) can be non-zero."""
        if isinstance(self.cross, bool):
            return self.cross
        return (i, j) in self.cross or (j, i) in self.cross


AFFINE = Linearity(linear=True, cross=False)
BILINEAR = Linearity(linear=True, cross=True)
NONLINEAR = Linearity(linear=False, cross=True)
PIECEWISE_CONSTANT = Linearity(linear=True, cross=False, constant=True)


@dataclass(frozen=True, eq=False)
class Op:
    """A primitive operation. Calling it on terms or numbers builds (or folds) a term.

    name:       unique name; also the default str/LaTeX printing and lowering name.
    nargs:      number of arguments, or None for variadic (add, mul).
    impl:       numpy implementation, elementwise with broadcasting.
    partials:   fn(*args) -> tuple of ∂op/∂arg_i as symnum expressions (hash-consing makes
                `exp` reuse its own output node for free).
    taylor:     Taylor-coefficient recurrence (filled by the Taylor-mode issue); None = missing.
    linearity:  a Linearity, for Hessian sparsity.
    cost:       CPU cycles, the cost model's default for this op.
    lower:      the name backends lower it to (math-module name where one exists).
    infix:      operator symbol for infix printing (None: printed as a call).
    precedence: binding strength for infix printing (higher binds tighter).
    latex:      LaTeX template with {0}, {1}, ... for the arguments.
    result:     "float" (follows its arguments) or "bool".
    commutative, associative: algebraic facts the rule engine's AC matching uses.
    canonical:  optional fn(*args) -> term | None used in canonical mode (add, mul, pow, ...).
    fallback:   set by `register` for an op without a lowering: the key (its name, then
                name~1, name~2 for replacements) under which kernels call this Op's impl.
    expand:     optional fn(*args) -> term computing the same value from other primitives; the
                backends lower that instead (logaddexp: no libm function, so a stable formula),
                while the op keeps its own derivatives and printing.
    """

    name: str
    nargs: int | None
    impl: Callable[..., Any]
    partials: Callable[..., tuple] | None = None
    taylor: Callable[..., Any] | None = None
    linearity: Linearity = NONLINEAR
    cost: float = 10.0
    lower: str | None = None
    infix: str | None = None
    precedence: int = 100
    latex: str | None = None
    result: str = "float"
    commutative: bool = False
    associative: bool = False
    canonical: Callable[..., Any] | None = None
    expand: Callable[..., Any] | None = None
    doc: str = ""
    fallback: str = ""

    def __post_init__(self):
        # help(sn.sin) documents this op, not the Op class: pydoc treats a descriptor (see
        # __get__) as a routine and shows its own __name__ and __doc__
        object.__setattr__(self, "__name__", self.name)
        object.__setattr__(self, "__doc__", self._docstring())

    def _docstring(self) -> str:
        args = "x" if self.nargs == 1 else "*args" if self.nargs is None else ", ".join(
            "abcdefgh"[: self.nargs])
        head = self.doc or f"{self.name}({args}): the symnum primitive '{self.name}'."
        facts = [f"Evaluates with {getattr(self.impl, '__name__', 'its numpy function')} "
                 "(numpy semantics: inf/nan, never an exception); on numbers it folds to a "
                 "constant, on terms it builds a term, on arrays it maps elementwise."]
        facts.append("Derivatives: " + ("declared partials (zero: piecewise constant)"
                                        if self.linearity.constant else "declared partials"
                                        if self.partials is not None else "none (register "
                                        "partials=...)") + "; Taylor rule: " + (
            "its own recurrence" if self.taylor is not None else "derived from the partials"
            if self.partials is not None else "none") + ".")
        facts.append(f"Compiled as '{self.lowering_name()}'" + (
            " through a formula of other primitives" if self.expand is not None else "")
            + f"; cost {self.cost:g} cycles; result {self.result}.")
        return head + "\n\n" + "\n".join(facts)

    def __get__(self, obj, objtype=None):
        return self  # stored on a class, still the op itself (never a bound method)

    def __call__(self, *args):
        return apply(self, args)

    def __repr__(self) -> str:
        return f"<Op {self.name}>"

    # identity, like equality (eq=False): hashing a Term's key must not call Python code
    __hash__ = object.__hash__

    def __reduce__(self):
        return (get_op, (self.name,))

    def derivatives(self, args: tuple) -> tuple:
        """Partial derivatives at `args`, or MissingRuleError saying how to supply them."""
        if self.partials is None:
            raise MissingRuleError(
                f"primitive '{self.name}' has no derivative rule; pass partials=... to "
                "symnum.register (a function of the arguments returning one expression per "
                "argument)"
            )
        ds = tuple(self.partials(*args))
        if len(ds) != len(args):
            raise RegistrationError(
                f"partials of '{self.name}' returned {len(ds)} derivatives for {len(args)} "
                "arguments"
            )
        return ds

    def lowering_name(self) -> str:
        return self.lower or self.fallback or self.name


PRIMITIVES: dict[str, Op] = {}


def get_op(name: str) -> Op:
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise MissingRuleError(f"no primitive named '{name}' is registered") from None


_USER: set[str] = set()  # names added by `register` (the only ones `replace=True` may replace)
# ops without a lowering, by their fallback key: compiled kernels call FALLBACKS[key].impl. A
# replacement gets a new key, so kernels of terms built with the old Op keep its impl, as
# `evaluate` does; keys repeat across processes that register in the same order (kernel caches)
FALLBACKS: dict[str, Op] = {}
_GENERATION: dict[str, int] = {}


def _erf(x: Any) -> Any:
    import math

    import numpy as np

    return np.vectorize(math.erf, otypes=[float])(x)


def _lowering_reference() -> dict[str, Callable[..., Any]]:
    """What every lowering name the backends know computes, as numpy (the backends' tables in
    backends/pysource.py and backends/llvm_ir.py must cover exactly these names; a test says so)."""
    import numpy as np

    ref: dict[str, Callable[..., Any]] = {
        name: getattr(np, name) for name in (
            "sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log", "log1p", "expm1", "sqrt",
            "hypot", "sign")}
    ref.update({
        "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2,
        "fabs": np.abs, "erf": _erf, "add": np.add, "sub": np.subtract, "mul": np.multiply,
        "div": np.true_divide, "pow": np.power, "neg": np.negative, "min": np.minimum,
        "max": np.maximum, "lt": np.less, "le": np.less_equal, "gt": np.greater,
        "ge": np.greater_equal, "eq": np.equal, "ne": np.not_equal,
        "logical_and": np.logical_and, "logical_or": np.logical_or,
        "logical_not": np.logical_not, "select": lambda c, a, b: np.where(c, a, b),
        "fma": lambda a, b, c: a * b + c,
        "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "cbrt": np.cbrt,
        "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint,
        "copysign": np.copysign, "fmod": np.fmod,
    })
    return ref


LOWERING_NAMES = frozenset(_lowering_reference())

# sample points for checking a declared lowering against the impl: both signs, inside the
# domains of log/sqrt/asin (where both are nan, they agree), away from 0 and ±1
_SAMPLES = (-2.7, -1.3, -0.6, -0.05, 0.05, 0.3, 0.6, 0.95, 1.4, 2.2, 3.9)


def check_lowering(name: str, impl: Callable[..., Any], lowering: str, nargs: int | None) -> None:
    """Raise RegistrationError unless `impl` computes what the backends compute for `lowering`
    (compared at a grid of sample points, relative tolerance 1e-6: an approximation as good as
    float32 passes, a different function does not)."""
    import itertools

    import numpy as np

    ref = _lowering_reference().get(lowering)
    if ref is None:
        raise RegistrationError(
            f"'{name}' declares lower={lowering!r}, which no backend knows; the lowering names "
            f"are {', '.join(sorted(LOWERING_NAMES))}. Leave `lower` out if none computes "
            f"'{name}' (numba kernels then call its impl; llvm raises CompileError naming it)")
    n = nargs or 2
    grid = list(itertools.product(_SAMPLES[:: max(1, n * 2 - 1)], repeat=n)) if n > 1 else \
        [(v,) for v in _SAMPLES]
    cols = [np.array(c, dtype=np.float64) for c in zip(*grid)]
    with np.errstate(all="ignore"):
        try:
            want = np.asarray(ref(*cols), dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise RegistrationError(f"'{name}' takes {n} argument(s) but its lowering "
                                    f"{lowering!r} does not ({e})") from None
        try:
            got = np.broadcast_to(np.asarray(impl(*cols), dtype=np.float64), want.shape)
        except Exception as e:
            raise RegistrationError(
                f"the impl of '{name}' failed on arrays of sample points ({type(e).__name__}: "
                f"{e}); impl must be a numpy function, elementwise with broadcasting") from None
    bad = ~np.isclose(got, want, rtol=1e-6, atol=1e-9, equal_nan=True)
    if bad.any():
        i = int(np.argmax(bad))
        at = ", ".join(f"{c[i]:g}" for c in cols)
        raise RegistrationError(
            f"'{name}' lowers to {lowering!r}, but its impl disagrees with {lowering} at "
            f"({at}): impl gives {float(got.flat[i])!r}, {lowering} gives "
            f"{float(want.flat[i])!r}. Compiled "
            f"kernels would compute {lowering}, numpy the impl: pass the right `lower` name, or "
            "leave it out (and if the op's own name is that backend function, rename the op)")


def declare(op: Op, *, replace: bool = False) -> Op:
    """Add `op` to the registry (the one place ops are looked up by name)."""
    if not replace and op.name in PRIMITIVES:
        raise RegistrationError(
            f"a primitive named '{op.name}' already exists; pick another name or pass replace=True"
        )
    PRIMITIVES[op.name] = op
    return op


def register(
    name: str,
    impl: Callable[..., Any],
    *,
    nargs: int = 1,
    partials: Callable[..., tuple] | None = None,
    taylor: Callable[..., Any] | None = None,
    linearity: Linearity = NONLINEAR,
    cost: float = 50.0,
    lower: str | None = None,
    latex: str | None = None,
    result: str = "float",
    replace: bool = False,
    doc: str = "",
) -> Op:
    """Register a user primitive; returns the Op, which builds terms when called.

    `lower` names the backend function compiled kernels call for it (see `LOWERING_NAMES`); it
    is checked against `impl` at sample points, so a kernel never computes something else than
    numpy. Without one, numba kernels call `impl` in object mode (correct, but it takes the GIL
    per call) and the llvm and CUDA backends raise CompileError naming the op. Built-in
    primitives cannot be replaced; `replace=True` replaces a user primitive.

    >>> import numpy as np, symnum as sn
    >>> softplus = sn.register("softplus", lambda x: np.log1p(np.exp(x)),
    ...                        partials=lambda x: (1 / (1 + sn.exp(-x)),), replace=True)
    >>> x = sn.symbols("x")
    >>> float(sn.evaluate(softplus(x), {x: 0.0}))
    0.6931471805599453
    """
    if not name or not isinstance(name, str):
        raise RegistrationError("a primitive needs a non-empty string name")
    if not callable(impl):
        raise RegistrationError(f"impl of '{name}' must be callable (a numpy function)")
    if nargs is not None and nargs < 1:
        raise RegistrationError(f"nargs of '{name}' must be at least 1")
    if name in PRIMITIVES and name not in _USER:
        raise RegistrationError(
            f"'{name}' is a built-in primitive and cannot be replaced: symnum's rewrite rules, "
            f"derivatives and backends assume its meaning (and sn.{name} would keep it). "
            "Register your function under another name")
    lowering = lower if lower is not None else name
    if lower is not None or lowering in LOWERING_NAMES:  # a name a backend would lower to
        check_lowering(name, impl, lowering, nargs)
    if not replace and name in PRIMITIVES:
        declare(PRIMITIVES[name])  # raises: a primitive of this name exists
    key = ""
    if lowering not in LOWERING_NAMES:
        gen = _GENERATION.get(name, 0)
        key = name if gen == 0 else f"{name}~{gen}"
    op = Op(
        name=name, nargs=nargs, impl=impl, partials=partials, taylor=taylor,
        linearity=linearity, cost=cost, lower=lower, latex=latex, result=result, doc=doc,
        fallback=key,
    )
    declare(op, replace=replace)
    _USER.add(name)
    if key:
        FALLBACKS[key] = op
        _GENERATION[name] = _GENERATION.get(name, 0) + 1
    return op


