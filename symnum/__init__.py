"""symnum: a symbolic-numeric compiler for Python (trace → transform → simplify → lower).

`import symnum` stays light: it never imports numba or egglog; backends and e-graph rewrites are
looked up lazily by name.
"""

from __future__ import annotations

import symnum.core.terms as _terms  # noqa: F401  (first: defines Expr before the primitives)
import symnum.core.dispatch as _dispatch  # noqa: F401  (registers the term interface)
from symnum.autodiff.ad import diff, gradient, jacobian
from symnum.core.build import as_expr, tree_mode
from symnum.core.canonical import expand
from symnum.compile import build_function, compile, vectorize
from symnum.errors import (
    CompileError,
    DTypeError,
    MissingRuleError,
    RegistrationError,
    ShapeError,
    SimplifyError,
    SymnumError,
    TracingError,
    UnsupportedOperationError,
)
from symnum.core.evaluate import evaluate
from symnum.tracing.fn import Fn, trace
from symnum.core.interface import arguments, iscall, maketerm, metadata, operation
from symnum.io.latex import latex
from symnum.core.op import Linearity, Op, register
from symnum.core.primitives import (
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cbrt,
    ceil,
    copysign,
    cos,
    cosh,
    div,
    eq,
    erf,
    exp,
    fma,
    expm1,
    floor,
    floor_divide,
    fmax,
    fmin,
    fmod,
    ge,
    gt,
    hypot,
    ifelse,
    isfinite,
    isinf,
    isnan,
    le,
    log,
    log1p,
    logaddexp,
    logaddexp2,
    logical_and,
    logical_not,
    logical_or,
    lt,
    maximum,
    minimum,
    mod,
    mul,
    ne,
    neg,
    pow,
    rint,
    sign,
    signbit,
    sin,
    sinh,
    sqrt,
    sub,
    tan,
    tanh,
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
    derivative,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    laplacian,
    taylor,
    value_and_grad,
    vjp,
)
from symnum.core.traversal import count_ops, free_symbols, postorder, substitute, topological_order
