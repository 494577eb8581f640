"""Which numpy functions trace through numpy's own implementation on object arrays, which need
concrete values and are refused at once, and the error that says so.

Pure tables, read by symnum.tracing.protocols' `array_function`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symnum.errors import UnsupportedOperationError

# known to work with numpy's implementation on object arrays (their TypeErrors propagate)
SUPPORTED_FUNCTIONS = frozenset(
    getattr(np, n) for n in (
        "sum prod max min amax amin all any cumsum cumprod dot vdot matmul inner outer "
        "tensordot einsum kron trace diag diagonal diff stack concatenate hstack vstack "
        "dstack column_stack block split array_split reshape ravel transpose swapaxes moveaxis "
        "roll flip fliplr flipud rot90 squeeze expand_dims broadcast_to broadcast_arrays "
        "atleast_1d atleast_2d atleast_3d zeros_like ones_like full_like empty_like copy tile "
        "repeat pad take take_along_axis shape ndim size append insert delete tril triu "
        "result_type copyto meshgrid"
    ).split()
) | {np.linalg.norm}

# need concrete values (order, truth, membership): raised at once, never half-run
UNSUPPORTED_FUNCTIONS = frozenset(
    getattr(np, n) for n in (
        "sort argsort argmax argmin nanargmax nanargmin argwhere nonzero flatnonzero unique "
        "partition argpartition searchsorted lexsort count_nonzero isclose allclose "
        "array_equal array_equiv median percentile quantile nanmax nanmin nansum histogram"
    ).split() if hasattr(np, n)
)


def _function_label(func: Any) -> str:
    return f"{getattr(func, '__module__', 'numpy') or 'numpy'}.{func.__name__}"


def _unsupported_function(func: Any, cause: Exception | None = None) -> UnsupportedOperationError:
    why = ("it needs concrete values (ordering, truth tests or data-dependent shapes) that are "
           "unknown while tracing" if cause is None else
           f"numpy's implementation fails on symbolic arrays ({type(cause).__name__}: {cause})")
    return UnsupportedOperationError(
        f"{_function_label(func)} has no symbolic rule in symnum: {why}. Rewrite it with "
        "elementwise ufuncs, np.where/sn.ifelse, reductions (sum, prod, max, min, mean), "
        "matmul/dot and array reshaping, or evaluate numerically"
    )
