"""symnum: a symbolic-numeric compiler for Python (trace → transform → simplify → lower).

`import symnum` stays light: it never imports numba or egglog; backends and e-graph rewrites are
looked up lazily by name.
"""

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

# the modules that install behaviour into the core's hooks (symnum.core.hooks) and the term
# interface: importing symnum imports them all, so every term prints, compares and traces
import symnum.core.dispatch as _dispatch  # noqa: F401  (registers the term interface)
import symnum.core.primitives as _primitives  # noqa: F401  (operators)
import symnum.core.traversal as _traversal  # noqa: F401  (term.dtype)
import symnum.io.latex as _latex  # noqa: F401  (_repr_latex_)
import symnum.io.printing as _printing  # noqa: F401  (str, repr)
import symnum.tracing.concrete as _concrete  # noqa: F401  (bool(term) and friends)
import symnum.tracing.protocols as _protocols  # noqa: F401  (numpy protocols)
from symnum.autodiff.ad import diff, gradient, jacobian
from symnum.core.build import as_expr, tree_mode
from symnum.core.expand import expand, flatten
from symnum.core.merge import merge_limit
from symnum.builders import build_function, vectorize
from symnum.compile import compile
from symnum.compile import compile as jit  # JAX's name for the same thing
from symnum.errors import (
    ArgumentError,
    CompileError,
    DTypeError,
    MissingRuleError,
    RegistrationError,
    SerializationError,
    ShapeError,
    SimplifyError,
    SizeLimitError,
    SymnumError,
    TracingError,
    UnsupportedOperationError,
)
from symnum.arrays import ArrayFn, array_symbol, evaluate, scalarize, trace
from symnum.tracing.fn import Fn
from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.io.latex import latex
from symnum.io.serialize import load, save
from symnum.core.op import Linearity, Op, register
from symnum.core.primitives import (
    abs,
    acos,
    add,
    asin,
    atan,
    atan2,
    cos,
    cosh,
    div,
    eq,
    erf,
    exp,
    fma,
    expm1,
    ge,
    gt,
    hypot,
    ifelse,
    le,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    sign,
    sin,
    sinh,
    sqrt,
    sub,
    tan,
    tanh,
)
from symnum.core.primitives_more import (
    acosh,
    asinh,
    atanh,
    cbrt,
    ceil,
    copysign,
    floor,
    floor_divide,
    fmax,
    fmin,
    fmod,
    isfinite,
    isinf,
    isnan,
    logaddexp,
    logaddexp2,
    mod,
    rint,
    signbit,
    trunc,
)
from symnum.rules import (
    Chain,
    Fixpoint,
    PassThrough,
    Postwalk,
    Prewalk,
    Rule,
    RuleSet,
    segment,
    slot,
)
from symnum.simplify import canonicalize, simplify
from symnum.tracing.symbols import symarray, symbols
from symnum.io.sympy_interop import from_sympy, to_sympy
from symnum.autodiff.sparsity import (
    SparseJacobian,
    color_columns,
    compressed_jacobian,
    hessian_sparsity,
    jacobian_sparsity,
    sparse_jacobian,
)
from symnum.autodiff.taylor import (
    directional_derivative,
    jet_terms,
    mixed_derivative,
    nth_derivative,
    stochastic_laplacian,
)
from symnum.core.terms import Add, Const, Expr, Mul, Sym, Term
from symnum.tracing.protocols import SymArray
import symnum.tracing.linalg as _linalg  # noqa: F401,E402  (registers the np.linalg rules)
from symnum.io.graph import to_dot, to_networkx  # noqa: E402
from symnum.transforms import (
    grad,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from symnum.transforms_higher import derivative, hessian, hvp, laplacian, taylor
from symnum.batching import vmap
from symnum.loops import fori_loop, scan, while_loop
from symnum.core.traversal import count_ops, free_symbols, postorder, substitute, topological_order

import symnum.errors as errors  # noqa: E402  (sn.errors.CompileError, as jax.errors)
import symnum.persist as _persist  # noqa: E402,F401  (sn.save / sn.load of compiled functions)
from symnum.distributed import ensemble  # noqa: E402  (dask imported only when used)


def _public_names() -> list[str]:
    """Everything imported above that a user may touch: no helper modules, no subpackages."""
    import types

    return sorted(n for n, v in globals().items()
                  if not n.startswith("_") and (not isinstance(v, types.ModuleType) or v is errors))


__all__ = _public_names()


def __dir__() -> list[str]:
    return list(__all__)
