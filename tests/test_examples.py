"""The Brusselator model problem (symnum.examples) is the workload of the demo and benchmarks:
check it is the PDE it claims to be, on plain floats, before anything traces it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symnum.demo.examples import brusselator_grid, brusselator_init, brusselator_rhs

P = (1.0, 3.4, 10.0)


def disc(n: int) -> np.ndarray:
    x, y = brusselator_grid(n)
    return (x - 0.3) ** 2 + (y - 0.6) ** 2 <= 0.1**2


@pytest.mark.parametrize("n", [3, 8, 32])
def test_shapes(n):
    u0 = brusselator_init(n)
    assert u0.shape == (2, n, n)
    assert brusselator_rhs(u0, P, 0.0).shape == (2, n, n)
    x, y = brusselator_grid(n)
    assert x.shape == y.shape == (n, n)
    assert x[0, 0] == 0.0 and x[-1, 0] == 1.0 and y[0, -1] == 1.0  # x along axis 0


def test_initial_condition_formula():
    n = 16
    x, y = brusselator_grid(n)
    u0 = brusselator_init(n)
    np.testing.assert_allclose(u0[0], 22.0 * y * (1 - y) ** 1.5)
    np.testing.assert_allclose(u0[1], 27.0 * x * (1 - x) ** 1.5)
    assert (u0 >= 0).all()
    assert np.all(u0[0] == u0[0][:1, :])  # u depends on y only


# uniform states: the Laplacian vanishes and only the reaction terms remain
@pytest.mark.parametrize(
    ("u", "v", "du", "dv"),
    [
        (1.0, 1.0, 1.0 + 1.0 - 4.4, 3.4 - 1.0),
        (0.0, 0.0, 1.0, 0.0),
        (2.0, 0.5, 1.0 + 2.0 - 8.8, 6.8 - 2.0),
    ],
)
def test_uniform_state_is_pure_reaction(u, v, du, dv):
    n = 6
    state = np.stack([np.full((n, n), u), np.full((n, n), v)])
    r = brusselator_rhs(state, P, 0.0)
    np.testing.assert_allclose(r[0], du, atol=1e-12)
    np.testing.assert_allclose(r[1], dv, atol=1e-12)


def test_laplacian_of_quadratic_is_exact_inside():
    # A = B = 0, alpha = 1: du = -u + ∇²u; the 5-point stencil is exact on x², so ∇²u = 2 inside
    n = 9
    x, _ = brusselator_grid(n)
    state = np.stack([x**2, np.zeros((n, n))])
    r = brusselator_rhs(state, (0.0, 0.0, 1.0), 0.0)
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(r[0][inner], -(x**2)[inner] + 2.0, atol=1e-9)
    assert np.all(r[1] == 0.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 7), st.integers(0, 7), st.integers(0, 2**32 - 1))
def test_periodic_shift_equivariance(sx, sy, seed):
    # with the forcing off, the periodic stencil commutes with grid shifts
    n = 8
    state = np.random.default_rng(seed).uniform(0, 3, (2, n, n))
    shifted = np.roll(state, (sx, sy), axis=(1, 2))
    np.testing.assert_allclose(
        brusselator_rhs(shifted, P, 0.0),
        np.roll(brusselator_rhs(state, P, 0.0), (sx, sy), axis=(1, 2)),
        rtol=1e-12, atol=1e-9,
    )


@pytest.mark.parametrize(
    ("t", "on"), [(0.0, False), (1.0, False), (1.0999, False), (1.1, True), (2.5, True)]
)
def test_forcing_switches_on_at_1_1(t, on):
    n = 32
    u0 = brusselator_init(n)
    d = brusselator_rhs(u0, P, t) - brusselator_rhs(u0, P, 0.0)
    inside = disc(n)
    assert inside.sum() > 0
    np.testing.assert_allclose(d[0][inside], 5.0 if on else 0.0, atol=1e-9)
    assert np.all(d[0][~inside] == 0.0)
    assert np.all(d[1] == 0.0)  # v has no forcing


def test_mass_action_network_is_seeded_and_conserves_under_its_own_rates():
    from symnum.demo.examples import mass_action_rhs, reaction_network

    a, b = reaction_network(40, seed=3), reaction_network(40, seed=3)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("bi", "uni", "dim", "feed"))
    c = np.random.default_rng(0).uniform(0.1, 2.0, 40)
    k = np.concatenate([a.k_bi, a.k_uni])
    np.testing.assert_allclose(mass_action_rhs(c, a, k), mass_action_rhs(c, a))
    # with every rate constant doubled, the reaction part of dc/dt doubles
    base = mass_action_rhs(c, a) - (a.feed - a.k_deg * c)
    doubled = mass_action_rhs(c, a, 2 * k) - (a.feed - a.k_deg * c)
    r_dim = a.k_dim * c[a.dim[:, 0]] ** 2
    dim_part = np.zeros(40)
    np.add.at(dim_part, a.dim[:, 0], -2.0 * r_dim)
    np.add.at(dim_part, a.dim[:, 1], r_dim)
    np.testing.assert_allclose(doubled - dim_part, 2 * (base - dim_part), rtol=1e-12, atol=1e-12)
