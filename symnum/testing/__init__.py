"""Test helpers for users and for symnum's own suites (public API).

`strategies`: hypothesis strategies for random expressions and points, and a numeric comparison
through the reference interpreter; `gradcheck`: derivative checks in the spirit of JAX's
`check_grads` (no hypothesis needed). Needs hypothesis; `import symnum` never imports this package.
"""

from symnum.testing.strategies import *  # noqa: F403
from symnum.testing.strategies import __all__ as _strategies_all
from symnum.testing.gradcheck import check_grads, check_jvp_vjp, check_taylor

__all__ = [*_strategies_all, "check_grads", "check_jvp_vjp", "check_taylor"]
