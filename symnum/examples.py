"""Model problems written as ordinary numpy code: the workloads of the demo, tests and benchmarks.

Nothing here knows about symnum: each function runs on float arrays as it is, and symnum traces
the very same code. Keep them plain numpy so that they stay honest baselines.
"""

from __future__ import annotations

import numpy as np


def brusselator_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the n×n grid on the unit square (x varies along axis 0)."""
    xs = np.linspace(0.0, 1.0, n)
    return np.meshgrid(xs, xs, indexing="ij")


def brusselator_rhs(state, p=(1.0, 3.4, 10.0), t=0.0):
    """2D Brusselator reaction–diffusion right-hand side with periodic boundaries.

    state: array (2, n, n) holding u and v; p = (A, B, alpha); t: time (the forcing switches on
    at t ≥ 1.1 inside a small disc). Follows the Symbolics.jl paper's benchmark problem:
        u' = A + u²v − (B + 1)u + α∇²u + f(x, y, t)
        v' = B u − u²v + α∇²v
    """
    A, B, alpha = p
    u, v = state[0], state[1]
    n = u.shape[0]
    dx = 1.0 / (n - 1)
    x, y = brusselator_grid(n)
    inside = (x - 0.3) ** 2 + (y - 0.6) ** 2 <= 0.1**2
    forcing = np.where(inside & (t >= 1.1), 5.0, 0.0)

    def laplacian(w):
        return (np.roll(w, 1, 0) + np.roll(w, -1, 0) + np.roll(w, 1, 1) + np.roll(w, -1, 1)
                - 4 * w) / dx**2

    u2v = u * u * v
    du = A + u2v - (B + 1) * u + alpha * laplacian(u) + forcing
    dv = B * u - u2v + alpha * laplacian(v)
    return np.stack([du, dv])


def brusselator_init(n: int) -> np.ndarray:
    """The standard initial condition: u = 22 y(1−y)^{3/2}, v = 27 x(1−x)^{3/2}."""
    x, y = brusselator_grid(n)
    u = 22.0 * y * (1.0 - y) ** 1.5
    v = 27.0 * x * (1.0 - x) ** 1.5
    return np.stack([u, v])
