"""The ensemble pattern, on the Brusselator: one solve as a picklable callable (compiled RHS and
sparse symbolic Jacobian, scipy's BDF), to hand to `symnum.ensemble` for a parameter sweep.

A user of the public API (the demo layer). Compiled parts travel to dask workers as their graphs
(lowered again there, from the disk cache when warm); nothing here knows about dask.
"""

from __future__ import annotations

import numpy as np

from symnum.demo.examples import brusselator_init, brusselator_rhs


class BrusselatorSolve:
    """`solve(B)`: the Brusselator (A=1, α=10, forcing as in the paper) from its standard
    initial state to `t_end` with B as given; returns the final state (2, n, n).

    >>> s = BrusselatorSolve(4, t_end=0.01)
    >>> s(3.4).shape
    (2, 4, 4)
    """

    def __init__(self, n: int, *, t_end: float = 0.5, rtol: float = 1e-6, atol: float = 1e-8,
                 backend: str = "llvm"):
        from symnum.autodiff.sparsity import sparse_jacobian
        from symnum.builders import build_function
        from symnum.compile import lower
        from symnum.tracing.fn import trace

        self.n, self.t_end, self.rtol, self.atol = n, t_end, rtol, atol
        u0 = brusselator_init(n)

        def rhs(state, B, t):
            return brusselator_rhs(state, (1.0, B, 10.0), t)

        fn = trace(rhs, u0, 3.4, 0.0)
        self.rhs = lower(fn, backend)
        J = sparse_jacobian(fn.flat_outputs, list(fn.inputs[0].ravel()))
        self.jac = build_function(J, fn.inputs[0], fn.inputs[1], fn.inputs[2], backend=backend)

    def __call__(self, B: float) -> np.ndarray:
        from scipy.integrate import solve_ivp

        shape = (2, self.n, self.n)
        u0 = brusselator_init(self.n)
        sol = solve_ivp(lambda t, y: self.rhs(y.reshape(shape), B, t).ravel(),
                        (0.0, self.t_end), u0.ravel(), method="BDF", rtol=self.rtol,
                        atol=self.atol,
                        jac=lambda t, y: self.jac.csr(y.reshape(shape), B, t))
        if not sol.success:
            raise RuntimeError(f"BDF failed for B={B}: {sol.message}")
        return sol.y[:, -1].reshape(shape)

