"""The bounded merge policy of canonical sums (symnum/core/canonical.py, "the merge policy"):
a sum over MERGE_LIMIT entries (or holding one) stays one entry of another sum, so a Python
loop that reuses its sums (RK4) builds O(1) entries per step; below the limit nothing changes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum.core.canonical import add
from symnum.core.expand import flatten
from symnum.core.merge import MERGE_LIMIT, merge_limit
from symnum.core.terms import Add
from symnum.core.traversal import arguments, count_ops, iscall, postorder
from symnum.errors import ArgumentError, SizeLimitError

N = 8
H = 1e-3


def rhs(x, F):  # Lorenz-96, element by element (benchmarks/bench_loops.py rhs_scalar)
    return [(x[(i + 1) % N] - x[i - 2]) * x[i - 1] - x[i] + F for i in range(N)]


def rk4(steps: int, x, F):
    def axpy(a, x, k):
        return [xi + a * ki for xi, ki in zip(x, k)]

    for _ in range(steps):
        k1 = rhs(x, F)
        k2 = rhs(axpy(H / 2, x, k1), F)
        k3 = rhs(axpy(H / 2, x, k2), F)
        k4 = rhs(axpy(H, x, k3), F)
        x = [xi + H / 6 * (a + 2 * b + 2 * c + d) for xi, a, b, c, d in zip(x, k1, k2, k3, k4)]
    return x


def leaves():
    return list(sn.symbols(" ".join(f"x{i}" for i in range(N)))), sn.Sym("F")


def test_python_loop_rk4_grows_linearly_with_steps():
    xs, F = leaves()
    ops = {n: count_ops(rk4(n, xs, F)) for n in (32, 64, 96)}
    # past the first steps (the state's sums reach the limit) every step adds the same nodes
    assert ops[96] - ops[64] == ops[64] - ops[32] > 0
    assert ops[64] / ops[32] < 2.05
    with sn.tree_mode():
        per_step_tree = count_ops(rk4(2, xs, F)) - count_ops(rk4(1, xs, F))
    assert (ops[64] - ops[32]) / 32 <= 1.1 * per_step_tree


def test_without_the_bound_the_loop_is_quadratic():
    # the growth the policy removes (a regression guard that the bound is what does it)
    xs, F = leaves()
    with merge_limit(None):
        a, b = count_ops(rk4(4, xs, F)), count_ops(rk4(8, xs, F))
    assert b / a > 3


@pytest.mark.parametrize("steps", [3, 40])
def test_rk4_values_equal_tree_mode_and_unbounded(steps):
    xs, F = leaves()
    rng = np.random.default_rng(1)
    env = {x.name: 8.0 + v for x, v in zip(xs, rng.normal(size=N))} | {"F": 8.0}
    got = [sn.evaluate(e, env) for e in rk4(steps, xs, F)]
    with sn.tree_mode():
        tree = [sn.evaluate(e, env) for e in rk4(steps, xs, F)]
    np.testing.assert_allclose(got, tree, rtol=1e-13)
    if steps <= 3:  # the unbounded form is small here
        with merge_limit(None):
            flat = rk4(steps, xs, F)
        np.testing.assert_allclose(got, [sn.evaluate(e, env) for e in flat], rtol=1e-13)


def test_rk4_compiles_rolled_and_matches_the_interpreter():
    xs, F = leaves()
    out = rk4(30, xs, F)
    k = sn.build_function(out, [*xs, F], backend="llvm")
    args = [8.0 + 0.1 * i for i in range(N)] + [8.0]
    env = {x.name: v for x, v in zip([*xs, F], args)}
    np.testing.assert_allclose(np.asarray(k(*args)), [sn.evaluate(e, env) for e in out],
                               rtol=1e-13)
    # the steps past the bound are alike: the chain re-roller rolls them into one loop
    chains = (k.info.get("rolled") or {}).get("chains", [])
    assert chains and chains[0]["steps"] >= 20


def test_flatten_gives_the_unbounded_canonical_form():
    xs, F = leaves()
    with merge_limit(2):
        e = rk4(2, xs, F)
    with merge_limit(None):
        want = rk4(2, xs, F)
    assert any(type(k) is Add for t in e for k in (t.entry_keys() if type(t) is Add else []))
    assert all(flatten(a) is b for a, b in zip(e, want))


def test_groupings_above_the_limit_differ_but_flatten_to_one_form():
    s = sn.symbols("a0 a1 a2 a3 a4")
    x, y = sn.symbols("x y")
    with merge_limit(3):
        b1, b2 = s[0] + s[1] + s[2] + s[3], s[1] - s[4] + s[2] + s[0]
        one, two = ((b1 + b2) + x) + y, (b1 + b2) + (x + y)
    assert one is not two
    assert flatten(one) is flatten(two)
    assert flatten(one) is sn.expand(two)


def test_every_sum_entry_is_over_the_limit_or_layered():
    xs, F = leaves()
    limit = MERGE_LIMIT.get()
    for t in postorder(rk4(20, xs, F)):
        if type(t) is Add:
            for k in t.entry_keys():
                if type(k) is Add:
                    assert len(k) > limit or any(type(j) is Add for j in k.entry_keys())


def test_loop_sum_stays_one_flat_sum():
    syms = sn.symbols(" ".join(f"s{i}" for i in range(300)))
    e = 0
    for s in syms:
        e = e + s
    e = e + 2 * sn.sin(syms[0]) + 1.5
    assert type(e) is Add and len(e) == 301 and not any(type(k) is Add for k in e.entry_keys())


def test_merge_limit_validates_and_restores():
    before = MERGE_LIMIT.get()
    with pytest.raises(ArgumentError, match="positive int"):
        with merge_limit(0):
            pass
    with merge_limit(5):
        assert MERGE_LIMIT.get() == 5
    assert MERGE_LIMIT.get() == before


def test_flatten_refuses_oversized_sums():
    s = sn.symbols(" ".join(f"a{i}" for i in range(12)))
    with merge_limit(2):
        e = (s[0] + s[1] + s[2]) - 2 * (s[3] + s[4] + s[5] + s[6])
    with pytest.raises(SizeLimitError, match="max_terms"):
        flatten(e, max_terms=5)
    assert len(flatten(e, max_terms=7)) == 7


# -- below the limit, canonical forms are exactly what unbounded merging gives ----------------

POOL = list(sn.symbols("p0 p1 p2 p3")) + [sn.sin(sn.Sym("p0")), sn.Sym("p1") * sn.Sym("p2")]


OPS = st.lists(st.tuples(st.sampled_from(["add", "sub", "axpy", "const"]), st.integers(0, 40),
                         st.integers(0, 40), st.sampled_from([1, -1, 2, 0.5, -3])),
               min_size=1, max_size=14)


def run(ops):
    """A program of +, -, scaling and reuse of earlier values over at most len(POOL) distinct
    non-sum terms: every sum it builds has at most len(POOL) entries."""
    vals = list(POOL)
    for kind, i, j, c in ops:
        a, b = vals[i % len(vals)], vals[j % len(vals)]
        vals.append(a + b if kind == "add" else a - b if kind == "sub" else
                    a + c * b if kind == "axpy" else a + c)
    return vals


def same_with_and_without_the_bound(program, ops, pool) -> None:
    """`program(ops)` builds the same objects bounded and unbounded (the bound leaves forms
    over at most `pool` distinct operands as they were); the products' tests use it too."""
    assert len(pool) <= MERGE_LIMIT.get()
    bounded = program(ops)
    with merge_limit(None):
        unbounded = program(ops)
    assert all(a is b for a, b in zip(bounded, unbounded))


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_small_sums_are_canonical_as_without_the_bound(ops):
    same_with_and_without_the_bound(run, ops, POOL)


def euler(steps: int, x, rhs):
    for _ in range(steps):
        x = x + 0.01 * rhs(x)
    return x


@pytest.mark.parametrize("rhs", [sn.sin, lambda x: x * (1 - x)], ids=["sin", "logistic"])
def test_euler_with_a_one_term_rhs_grows_linearly(rhs):
    # x + h·f(x) with f(x) one term that reads x: past the bound x is kept whole, not extended
    x = sn.Sym("x")
    ops = {n: count_ops(euler(n, x, rhs)) for n in (50, 100, 150)}
    assert ops[150] - ops[100] == ops[100] - ops[50] > 0
    assert len(euler(100, x, rhs)) == 2
    with merge_limit(None):
        assert count_ops(euler(40, x, rhs)) > 3 * count_ops(euler(20, x, rhs)) / 2
    env = {"x": 0.3}
    with sn.tree_mode():
        want = sn.evaluate(euler(60, x, rhs), env)
    np.testing.assert_allclose(sn.evaluate(euler(60, x, rhs), env), want, rtol=1e-13)


BIG = sum(sn.symbols(" ".join(f"a{i}" for i in range(12))), 0)  # over the limit, not layered
A0 = sn.Sym("a0")


def three_ways(a, b):
    """a + b by Add.__add__ (its fast path), by canonical.add and in the other order."""
    r = a + b
    assert r is add(a, b) is b + a is add(b, a)
    return r


@pytest.mark.parametrize("rhs", [
    lambda x: sn.sin(x), lambda x: sn.sin(2 * x), lambda x: sn.sin(x + 1),
    lambda x: sn.sin(x * A0), lambda x: sn.exp(-x * x), lambda x: 0.5 * sn.sin(2 * x),
    lambda x: 0.5 * sn.sin(x) * sn.cos(2 * x), lambda x: sn.atan2(x - 2, A0)],
    ids=["sin(x)", "sin(2x)", "sin(x+1)", "sin(x*a0)", "exp(-x*x)", "h*sin(2x)",
         "h*sin(x)*cos(2x)", "atan2(x-2,a0)"])
def test_a_term_that_reads_the_sum_keeps_it_whole_on_every_path(rhs):
    r = three_ways(BIG, rhs(BIG))
    assert len(r) == 2 and any(k is BIG for k in r.entry_keys())
    small = A0 + sn.Sym("b")  # below the limit: extended, as without the bound
    r = three_ways(small, rhs(small))
    assert not any(type(k) is Add for k in r.entry_keys()) and len(r) >= 3


@pytest.mark.parametrize("term", [sn.sin(A0), sn.sin(2 * A0), sn.sin(A0 + 1),
                                  sn.sin(sn.Sym("z")), sn.sin(2 * sn.Sym("z"))],
                         ids=["sin(a0)", "sin(2a0)", "sin(a0+1)", "sin(z)", "sin(2z)"])
def test_a_term_that_does_not_read_the_sum_extends_it_on_every_path(term):
    r = three_ways(BIG, term)
    assert len(r) == 13 and not any(type(k) is Add for k in r.entry_keys())


def statements(e):
    """Operations a lowering emits: an n-ary node of k arguments is k - 1 (sums, products)."""
    return sum(max(1, len(arguments(n)) - 1) for n in postorder([e]) if iscall(n))


STEPS = {
    "x+sin(x)": lambda x: x + sn.sin(x),
    "x+sin(2x)": lambda x: x + sn.sin(2 * x),
    "x+h*sin(2x)": lambda x: x + H * sn.sin(2 * x),
    "x+h*sin(x+1)": lambda x: x + H * sn.sin(x + 1),
    "x+h*exp(-x*x)": lambda x: x + H * sn.exp(-x * x),
    "x+h*sin(x)*cos(2x)": lambda x: x + H * sn.sin(x) * sn.cos(2 * x),
    "x+h*sin(2sin(2x))": lambda x: x + H * sn.sin(2 * sn.sin(2 * x)),  # reads two levels down
    "x+h*sin(sin(x)+1)": lambda x: x + H * sn.sin(sn.sin(x) + 1),
    "x+h*exp(-sin(x*cos(x))^2)": lambda x: x + H * sn.exp(-sn.sin(sn.cos(x) * x) ** 2),
}


def loop(steps, step, x):
    for _ in range(steps):
        x = step(x)
    return x


@pytest.mark.parametrize("name", list(STEPS))
def test_euler_loops_that_read_the_sum_grow_linearly(name):
    step, x = STEPS[name], sn.Sym("x")
    size = {n: statements(loop(n, step, x)) for n in (50, 100, 150)}
    assert size[150] - size[100] == size[100] - size[50] > 0
    with merge_limit(None):  # what the policy removes: n sums of 1, 2, …, n entries
        grow = [statements(loop(n, step, x)) for n in (20, 40, 60)]
    assert grow[2] - grow[1] > grow[1] - grow[0] + 100
    env = {"x": 0.3}
    got = sn.evaluate(loop(60, step, x), env)
    with sn.tree_mode():
        want = sn.evaluate(loop(60, step, x), env)
    with merge_limit(None):
        flat = sn.evaluate(loop(60, step, x), env)
    np.testing.assert_allclose([got, flat], [want, want], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda s: s, sn.sin, lambda s: sn.sin(2 * s),
                                  lambda s: 3 * sn.cos(s + 1)],
                         ids=["s", "sin(s)", "sin(2s)", "3cos(s+1)"])
def test_loop_sums_of_fresh_terms_stay_flat_and_unique(make):
    syms = sn.symbols(" ".join(f"q{i}" for i in range(200)))
    terms = [make(s) for s in syms]
    e = 0
    for t in terms:
        e = e + t
    assert type(e) is Add and len(e) == 200
    assert not any(type(k) is Add for k in e.entry_keys())
    assert e is sn.add(*terms) is add(*terms)


POOL2 = list(sn.symbols("r0 r1 r2"))
UNARY = [lambda v: v, sn.sin, lambda v: sn.sin(2 * v), lambda v: sn.cos(v + 1),
         lambda v: 0.5 * sn.exp(-v * v), lambda v: 2 * v]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60),
                          st.integers(0, len(UNARY) - 1)), min_size=1, max_size=16),
       st.sampled_from([1, 2, 8]))
def test_plus_and_canonical_add_build_one_form(ops, limit):
    # a + f(b), with f(b) reading a or not, below and above a small bound: every path, one form
    with merge_limit(limit):
        vals = list(POOL2)
        for i, j, k in ops:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            vals.append(three_ways(a, UNARY[k](b)))
