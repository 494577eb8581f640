"""The merge policy for products and reads at any depth (symnum/core/merge.py): a product over
MERGE_LIMIT bases (or holding one) that another factor reads stays one base, so a running
product that reads itself (`p = p·sin(p)`) builds O(1) bases per step; a term reads a sum or
product at any depth (terms carry their height, Expr._h); below the limit nothing changes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_merge_policy import same_with_and_without_the_bound

import symnum as sn
from symnum.core.canonical import mul
from symnum.core.expand import flatten
from symnum.core.merge import READ_BUDGET, merge_limit, reads
from symnum.core.terms import Add, Mul, Term
from symnum.core.traversal import arguments, iscall, postorder

H = 1e-3


def statements(e):
    """Operations a lowering emits: an n-ary node of k arguments is k - 1 (sums, products)."""
    return sum(max(1, len(arguments(n)) - 1) for n in postorder([e]) if iscall(n))


def loop(steps, step, x):
    for _ in range(steps):
        x = step(x)
    return x


STEPS = {
    "p*sin(p)": lambda p: p * sn.sin(p),
    "p*(1+h*cos(p))": lambda p: p * (1 + H * sn.cos(p)),
    "p*(1+h*p)": lambda p: p * (1 + H * p),
    "p*exp(h*sin(2p))": lambda p: p * sn.exp(H * sn.sin(2 * p)),
    "p*sin(p)*y": lambda p: p * sn.sin(p) * sn.Sym("y"),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_running_products_that_read_themselves_grow_linearly(name):
    step, x = STEPS[name], sn.Sym("x")
    size = {n: statements(loop(n, step, x)) for n in (50, 100, 150)}
    assert size[150] - size[100] == size[100] - size[50] > 0
    with merge_limit(None):  # what the policy removes: n products of 1, 2, …, n bases
        grow = [statements(loop(n, step, x)) for n in (20, 40, 60)]
    assert grow[2] - grow[1] > grow[1] - grow[0] + 100
    env = {"x": 2.0, "y": 1.0}
    got = sn.evaluate(loop(60, step, x), env)
    with sn.tree_mode():
        want = sn.evaluate(loop(60, step, x), env)
    with merge_limit(None):
        flat = loop(60, step, x)
    np.testing.assert_allclose([got, sn.evaluate(flat, env)], [want, want], rtol=1e-12)
    assert flatten(loop(60, step, x)) is flat  # the unique canonical form


@pytest.mark.parametrize("make", [lambda s: s, sn.sin, lambda s: 2 * s, lambda s: s**2,
                                  lambda s: sn.sin(2 * s), lambda s: s + 1],
                         ids=["s", "sin(s)", "2s", "s^2", "sin(2s)", "s+1"])
def test_loop_products_of_fresh_factors_stay_flat_and_unique(make):
    syms = sn.symbols(" ".join(f"q{i}" for i in range(200)))
    factors = [make(s) for s in syms]
    p = 1
    for f in factors:
        p = p * f
    assert type(p) is Mul and len(p) == 200
    assert not any(type(k) is Mul for k in p.entry_keys())
    assert p is sn.mul(*factors) is mul(*factors)


BIG = sn.mul(*sn.symbols(" ".join(f"a{i}" for i in range(12))))  # over the limit
A0 = sn.Sym("a0")


def three_ways(a, b):
    """a · b by Mul.__mul__ (its fast path), by canonical.mul and in the other order."""
    r = a * b
    assert r is mul(a, b) is b * a is mul(b, a)
    return r


@pytest.mark.parametrize("f", [
    sn.sin, lambda p: sn.sin(2 * p), lambda p: 1 + H * sn.cos(p), lambda p: 2 * sn.sin(p),
    lambda p: sn.exp(-0.5 * p), lambda p: sn.sin(sn.sin(p) + 1), lambda p: 1 + p],
    ids=["sin(p)", "sin(2p)", "1+h*cos(p)", "2sin(p)", "exp(-p/2)", "sin(sin(p)+1)", "1+p"])
def test_a_factor_that_reads_the_product_keeps_it_whole_on_every_path(f):
    r = three_ways(BIG, f(BIG))
    assert len(r) == 2 and any(k is BIG for k in r.entry_keys())
    small = A0 * sn.Sym("b")  # below the limit: extended, as without the bound
    r = three_ways(small, f(small))
    assert not any(type(k) is Mul for k in r.entry_keys()) and len(r) >= 3


@pytest.mark.parametrize("factor", [sn.sin(A0), 2 * sn.Sym("z"), sn.Sym("z") ** 3,
                                    sn.sin(2 * sn.sin(sn.Sym("z"))), A0 + 1],
                         ids=["sin(a0)", "2z", "z^3", "sin(2sin(z))", "a0+1"])
def test_a_factor_that_does_not_read_the_product_extends_it_on_every_path(factor):
    r = three_ways(BIG, factor)
    assert len(r) == 13 and not any(type(k) is Mul for k in r.entry_keys())


def test_powers_and_quotients_of_a_kept_product():
    assert BIG * BIG is BIG**2 and len(BIG**2) == 1
    assert BIG / BIG == 1 and (2 * BIG) / BIG == 2
    x = sn.Sym("x")
    r = x * BIG * sn.sin(BIG)
    assert flatten(r) is sn.expand(r)
    with merge_limit(None):
        assert flatten(r) is x * BIG * sn.sin(BIG)
        assert flatten(BIG**2) is BIG**2 and len(BIG**2) == 12
    env = {f"a{i}": 0.5 + 0.1 * i for i in range(12)} | {"x": 0.7}
    np.testing.assert_allclose(sn.evaluate(r, env), sn.evaluate(flatten(r), env), rtol=1e-14)


def test_a_kept_product_compiles_and_differentiates():
    x = sn.Sym("x")
    p = loop(30, STEPS["p*sin(p)"], x)
    assert len(p) == 2 and any(type(k) is Mul for k in p.entry_keys())
    k = sn.build_function([p], [x], backend="llvm")
    np.testing.assert_allclose(np.asarray(k(2.0)).ravel()[0], sn.evaluate(p, {"x": 2.0}),
                               rtol=1e-13)
    d = sn.diff(p, x)
    step = 1e-6
    fd = (sn.evaluate(p, {"x": 2.0 + step}) - sn.evaluate(p, {"x": 2.0 - step})) / (2 * step)
    np.testing.assert_allclose(sn.evaluate(d, {"x": 2.0}), fd, rtol=1e-6)


# -- below the limit, products are exactly what unbounded merging gives -----------------------

POOL = list(sn.symbols("p0 p1 p2 p3")) + [sn.sin(sn.Sym("p0")), sn.Sym("p1") + sn.Sym("p2")]

OPS = st.lists(st.tuples(st.sampled_from(["mul", "div", "pow", "scale", "call"]),
                         st.integers(0, 40), st.integers(0, 40),
                         st.sampled_from([1, -1, 2, 0.5, -3])), min_size=1, max_size=14)


def run(ops):
    """A program of ·, /, integer powers, scaling and reuse of earlier values over at most
    len(POOL) distinct non-product factors: every product it builds has at most that many."""
    vals = list(POOL)
    for kind, i, j, c in ops:
        a, b = vals[i % len(vals)], vals[j % len(vals)]
        vals.append(a * b if kind == "mul" else a / b if kind == "div" else
                    a ** int(c) if kind == "pow" else c * a if kind == "scale" else
                    sn.sin(a * b))
    return vals


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_small_products_are_canonical_as_without_the_bound(ops):
    same_with_and_without_the_bound(run, ops, POOL)


POOL2 = list(sn.symbols("r0 r1 r2"))
UNARY = [lambda v: v, sn.sin, lambda v: sn.sin(2 * v), lambda v: 1 + H * sn.cos(v),
         lambda v: 0.5 * sn.exp(-v * v), lambda v: 2 * v, lambda v: v**2,
         lambda v: sn.sin(2 * sn.sin(2 * v)), lambda v: v + 1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60),
                          st.integers(0, len(UNARY) - 1)), min_size=1, max_size=16),
       st.sampled_from([1, 2, 8]))
def test_times_and_canonical_mul_build_one_form_and_flatten_to_the_unbounded_one(ops, limit):
    # a · f(b), f(b) reading a (at any depth) or not, below and above a small bound
    with merge_limit(limit):
        vals = list(POOL2)
        for i, j, k in ops:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            vals.append(three_ways(a, UNARY[k](b)))
    with merge_limit(None):
        flat = list(POOL2)
        for i, j, k in ops:
            a, b = flat[i % len(flat)], flat[j % len(flat)]
            flat.append(a * UNARY[k](b))
    assert flatten(vals[-1]) is flat[-1]


# -- reads at any depth -----------------------------------------------------------------------


def test_every_term_is_one_higher_than_its_highest_child():
    x, y = sn.symbols("x y")
    e = loop(40, lambda v: v + H * sn.sin(2 * sn.sin(v * y)) + sn.cos(v) * v, x)
    for n in postorder([e]):
        if type(n) is Term:
            kids = n.args
        elif type(n) in (Add, Mul):
            kids = n.entry_keys()
        else:
            assert n._h == 0
            continue
        assert n._h == 1 + max(k._h for k in kids)


def test_reads_at_any_depth_and_the_budget():
    s = sn.add(*sn.symbols(" ".join(f"b{i}" for i in range(12))))
    t = s
    for _ in range(20):
        t = sn.sin(2 * sn.cos(t + 1))
    assert reads(t, s) and reads(s + 1, s) and not reads(sn.sin(sn.Sym("b0")), s)
    fresh = sn.sin(sn.add(*[sn.sin(q) for q in sn.symbols(
        " ".join(f"c{i}" for i in range(READ_BUDGET + 1)))]))
    assert fresh._h > s._h
    assert reads(fresh, s)  # the part above s is too large to look at: counted as reading
    small = sn.sin(sn.add(*[sn.sin(q) for q in sn.symbols("c0 c1 c2")]))
    assert small._h > s._h and not reads(small, s)
    r = s + small  # taller, not a reader: extended on every path
    assert r is sn.add(s, small) is small + s and len(r) == 13
    r = s + fresh
    assert r is sn.add(s, fresh) is fresh + s and len(r) == 2
