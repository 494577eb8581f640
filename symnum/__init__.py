"""symnum: a symbolic-numeric compiler for Python (trace → transform → simplify → lower).

`import symnum` stays light: it never imports numba or egglog; backends and e-graph rewrites are
looked up lazily by name.
"""

from __future__ import annotations

from . import terms as _terms  # noqa: F401  (first: defines Expr before the primitives)
from . import dispatch as _dispatch  # noqa: F401  (registers the term interface)
from .ad import diff, gradient, jacobian
from .build import as_expr, tree_mode
from .canonical import expand
from .compile import build_function, compile, vectorize
from .errors import (
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
from .evaluate import evaluate
from .fn import Fn, trace
from .interface import arguments, iscall, maketerm, metadata, operation
from .latex import latex
from .op import Linearity, Op, register
from .primitives import (
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
from .rules import Chain, Fixpoint, PassThrough, Postwalk, Prewalk, Rule, RuleSet, segment, slot
from .simplify import canonicalize, simplify
from .symbols import symarray, symbols
from .sympy_interop import from_sympy, to_sympy
from .sparsity import (
    SparseJacobian,
    color_columns,
    compressed_jacobian,
    hessian_sparsity,
    jacobian_sparsity,
    sparse_jacobian,
)
from .taylor import (
    directional_derivative,
    jet_terms,
    mixed_derivative,
    nth_derivative,
    stochastic_laplacian,
)
from .terms import Add, Const, Expr, Mul, Sym, Term
from .tracing import SymArray
from .transforms import (
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
from .traversal import count_ops, free_symbols, postorder, substitute, topological_order
