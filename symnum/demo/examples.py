"""Model problems written as ordinary numpy code: the workloads of the demo, tests and benchmarks.

Nothing here knows about symnum: each function runs on float arrays as it is, and symnum traces
the very same code. Keep them plain numpy so that they stay honest baselines.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Network:
    """A mass-action network: A+B→C, A→B and 2A→B reactions, first-order degradation of every
    species and a constant feed of a few. Index arrays name the species; k_* are rate constants."""

    n: int
    bi: np.ndarray  # (R₂, 3): A + B → C
    k_bi: np.ndarray
    uni: np.ndarray  # (R₁, 2): A → B
    k_uni: np.ndarray
    dim: np.ndarray  # (R_d, 2): 2A → B
    k_dim: np.ndarray
    k_deg: np.ndarray  # (n,): A → ∅
    feed: np.ndarray  # (n,): ∅ → A, zero for most species


def reaction_network(n: int, reactions_per_species: float = 2.0, seed: int = 0) -> Network:
    """A seeded random network: reactants and products drawn uniformly (distinct within a
    reaction), rate constants log-uniform over four decades, 5% of species fed."""
    rng = np.random.default_rng(seed)
    total = int(round(reactions_per_species * n))
    kinds = rng.choice(3, size=total, p=[0.5, 0.3, 0.2])

    def distinct(count: int, k: int) -> np.ndarray:
        # argsort of random keys: k distinct species per row, without a Python loop
        return np.argsort(rng.random((count, n)), axis=1)[:, :k].astype(np.int64)

    def rates(count: int) -> np.ndarray:
        return 10.0 ** rng.uniform(-2.0, 2.0, count)

    nb, nu, nd = (int(np.sum(kinds == i)) for i in range(3))
    feed = np.where(rng.random(n) < 0.05, rng.uniform(0.5, 2.0, n), 0.0)
    return Network(n, distinct(nb, 3), rates(nb), distinct(nu, 2), rates(nu), distinct(nd, 2),
                   rates(nd), 10.0 ** rng.uniform(-3.0, -1.0, n), feed)


def mass_action_rhs(c, net: Network, k=None):
    """dc/dt of the network under mass-action kinetics (plain numpy: scatter-adds by np.add.at).

    `k`, when given, replaces the bimolecular then unimolecular rate constants (an input of the
    traced function instead of numbers baked into it)."""
    bi, uni, dim = net.bi, net.uni, net.dim
    nb, nu = len(bi), len(uni)
    k_bi, k_uni = (net.k_bi, net.k_uni) if k is None else (k[:nb], k[nb:nb + nu])
    r_bi = k_bi * c[bi[:, 0]] * c[bi[:, 1]]
    r_uni = k_uni * c[uni[:, 0]]
    r_dim = net.k_dim * c[dim[:, 0]] ** 2
    dc = net.feed - net.k_deg * c
    np.add.at(dc, bi[:, 0], -r_bi)
    np.add.at(dc, bi[:, 1], -r_bi)
    np.add.at(dc, bi[:, 2], r_bi)
    np.add.at(dc, uni[:, 0], -r_uni)
    np.add.at(dc, uni[:, 1], r_uni)
    np.add.at(dc, dim[:, 0], -2.0 * r_dim)
    np.add.at(dc, dim[:, 1], r_dim)
    return dc
