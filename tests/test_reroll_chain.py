"""Loop-carried re-rolling (backends.reroll_chain): a chain of isomorphic steps → one loop whose
results are bit-identical to the straight-line kernel's (the same operations in the same order)."""

from __future__ import annotations

import math
import tempfile
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.backends import reroll_chain
from symnum.backends.loop_schedule import LoopInstr
from symnum.backends.numba_backend import _HEADER
from symnum.backends.pysource import kernel_source
from symnum.backends.reroll_chain import _may_chain, roll_chains, thresholds
from symnum.backends.schedule import schedule

import symnum as sn
from symnum.compile import lower


def py_kernel(sched):
    """The schedule's numba source run as plain Python (no numba): an interpreter of rolled
    schedules, independent of both compilers."""
    ns: dict = {}
    exec(_HEADER + kernel_source(sched, "kernel", "float64", fallback=False), ns)  # noqa: S102
    k = ns["kernel"]

    def run(*xs):
        x = np.array(xs, dtype=np.float64)
        out = np.empty(len(sched.outputs))
        k(x, out)
        return out

    return run


def compiled(fn, backend, reroll=None):
    opts = {"cache_dir": tempfile.mkdtemp()}
    if reroll is not None:
        opts["reroll"] = reroll
    return lower(fn, backend, **opts)


def sin_chain(x, n, c=0.1):
    e = x
    for _ in range(n):
        e = sn.sin(e) * 0.5 + c
    return e


def rotation(a, b, w, n):
    """Two carried scalars and a shared parameter w. Traced in tree mode: canonical forms would
    flatten the linear recurrence into sums growing with every step (an O(n²) graph whose steps
    are not isomorphic)."""
    with sn.tree_mode():
        for _ in range(n):
            a, b = a * 0.99 - b * w + 0.01, a * w + b * 0.99
    return a, b


def loops_of(sched):
    return [i for i in sched.instrs if type(i) is LoopInstr]


def check_rolled(fn, args, backends=("llvm",), reroll=2, chains=1):
    """Rolled == unrolled (bit for bit) on the given backends and on the Python run of the
    rolled schedule; both ≈ the reference interpreter."""
    sched = schedule(fn.flat_inputs, fn.flat_outputs)
    rolled, info = roll_chains(sched, reroll if reroll is not True else 64)
    assert len(info) == chains and len(loops_of(rolled)) == chains
    plain = py_kernel(sched)(*args)
    np.testing.assert_array_equal(py_kernel(rolled)(*args), plain)
    ref = np.ravel(np.asarray(fn.evaluate(args), dtype=np.float64))
    np.testing.assert_allclose(plain, ref, rtol=1e-12, atol=1e-14)
    for be in backends:
        k = compiled(fn, be, reroll)
        assert k.info["rolled"] and k.info["rolled"]["chains"] == info
        got = np.ravel(np.asarray(k(*args), dtype=np.float64))
        straight = compiled(fn, be, False)
        assert not straight.info.get("rolled")
        np.testing.assert_array_equal(got, np.ravel(np.asarray(straight(*args))))
        np.testing.assert_array_equal(got, plain)
    return info


def test_one_scalar_carry_llvm_and_numba():
    x = sn.Sym("x")
    fn = sn.Fn((x,), sin_chain(x, 100))  # small: numba compiles the straight-line one too
    (info,) = check_rolled(fn, (0.3,), backends=("llvm", "numba"))
    assert info["carries"] == 1 and info["steps"] >= 98 and info["period"] == 3


def test_multi_scalar_carry_with_a_shared_parameter():
    a, b, w = sn.symbols("a b w")
    fn = sn.Fn((a, b, w), list(rotation(a, b, w, 200)))
    (info,) = check_rolled(fn, (1.0, 0.5, 0.02))
    assert info["carries"] >= 2 and info["consts"] >= 1  # w: one value read by every step


def test_per_step_constants_become_a_column():
    x = sn.Sym("x")
    e = x
    for k in range(200):
        e = sn.sin(e) * 0.5 + (0.1 + 1e-3 * k)
    fn = sn.Fn((x,), e)
    (info,) = check_rolled(fn, (0.3,))
    assert info["xs"] == 1


def test_non_repeating_prefix_and_suffix_stay_straight_line():
    x, y = sn.symbols("x y")
    e = sn.exp(x) * y + sn.cos(y)  # prologue
    e = sin_chain(e, 200)
    fn = sn.Fn((x, y), [e * e + sn.log(y), sn.tanh(x) - y])  # epilogue + an output apart
    sched = schedule(fn.flat_inputs, fn.flat_outputs)
    rolled, (info,) = roll_chains(sched, 2)
    k = rolled.instrs.index(loops_of(rolled)[0])
    assert 0 < k < len(rolled.instrs) - 1  # code before and after the loop
    check_rolled(fn, (0.2, 1.5))


def test_trajectory_outputs_are_stacked_per_step_values():
    x = sn.Sym("x")
    e, traj = x, []
    for k in range(60):
        e = sn.sin(e) * 0.5 + 0.1
        if k % 10 == 3:
            traj.append(e)
    fn = sn.Fn((x,), traj + [e])
    (info,) = check_rolled(fn, (0.3,), backends=("llvm", "numba"))
    assert info["ys"] == 1  # one stacked column; the final value is the carry


def test_every_step_an_output():
    a0, b0, w = sn.symbols("a b w")
    a, b, outs = a0, b0, []
    for _ in range(80):
        a, b = rotation(a, b, w, 1)
        outs += [a, b]
    fn = sn.Fn((a0, b0, w), outs)
    info = check_rolled(fn, (1.0, 0.5, 0.02))
    assert info[0]["ys"] >= 1


def test_rk4_python_loop_multi_carry():
    n = 4

    def rhs(x, F):
        return [(x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + F for i in range(n)]

    def sim(x, F, steps=30, h=1e-2):
        for _ in range(steps):
            k1 = rhs(x, F)
            k2 = rhs([a + h / 2 * b for a, b in zip(x, k1)], F)
            k3 = rhs([a + h / 2 * b for a, b in zip(x, k2)], F)
            k4 = rhs([a + h * b for a, b in zip(x, k3)], F)
            x = [a + h / 6 * (p + 2 * q + 2 * r + s)
                 for a, p, q, r, s in zip(x, k1, k2, k3, k4)]
        return x

    syms = sn.symbols("x0 x1 x2 x3 F")
    with sn.tree_mode():
        outs = sim(list(syms[:4]), syms[4])
    fn = sn.Fn(tuple(syms), outs)
    (info,) = check_rolled(fn, (1.0, 2.0, 0.5, -1.0, 8.0), reroll=True)
    assert info["carries"] >= n and info["steps"] >= 25


def test_gradient_of_a_python_loop_chain_rolls_both_sweeps():
    """Reverse mode through a Python loop (traced in tree mode): the forward sweep and the
    reversed adjoint chain are each one loop; the forward values the adjoint reads are the
    forward loop's stacked outputs."""

    def loss(a, b, w):
        for _ in range(40):
            a, b = sn.sin(a) * 0.9 - b * w + 0.01, a * w + b * 0.99
        return a * b

    with sn.tree_mode():
        fn = sn.trace(sn.grad(loss, argnums=(0, 1, 2)), 1.0, 0.5, 0.3)
    info = check_rolled(fn, (1.0, 0.5, 0.3), chains=2)
    assert all(c["steps"] >= 36 for c in info) and info[0]["ys"] >= 1


def test_deep_chain_compiles():
    x = sn.Sym("x")
    fn = sn.Fn((x,), sin_chain(x, 20_000))
    k = compiled(fn, "llvm")
    v = 0.3
    for _ in range(20_000):
        v = math.sin(v) * 0.5 + 0.1
    assert float(k(0.3)) == v  # libm's sin, the same operations in the same order
    (info,) = k.info["rolled"]["chains"]
    assert info["steps"] >= 19_998


def test_reroll_false_gives_the_straight_line_kernel():
    x = sn.Sym("x")
    fn = sn.Fn((x,), sin_chain(x, 400))
    k = compiled(fn, "llvm", False)
    assert not k.info.get("rolled") and k.info["statements"] == 1200
    assert ".head:" not in k.source  # no loop block (the batched row loop aside)


def test_short_or_independent_repeats_are_not_chains():
    x = sn.Sym("x")
    sched = schedule([x], [sin_chain(x, 10)])  # 30 statements: below the default threshold
    assert roll_chains(sched)[1] == []
    xs = sn.symbols(" ".join(f"x{i}" for i in range(300)))  # repeats with nothing carried
    sched = schedule(xs, [sn.sin(v) * 2 + 1 for v in xs])
    assert roll_chains(sched, 2)[1] == []
    assert thresholds(64) == (4, 512)


OPS = [lambda e, c: sn.sin(e) * c + 0.1, lambda e, c: e * e * c - 0.25,
       lambda e, c: sn.cos(e + c), lambda e, c: e / (1.0 + e * e) + c,
       lambda e, c: sn.exp(-e * e) * c]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, len(OPS) - 1), min_size=1, max_size=3), st.integers(8, 60),
       st.floats(0.1, 0.9), st.booleans(), st.integers(0, 3))
def test_random_step_shapes_roll_bit_identically(shape, n, c, vary, every):
    """Random step shapes, one or two carries, constant or per-step coefficients, optional
    trajectory outputs: the rolled schedule (run as Python) equals the straight-line one."""
    x, y = sn.symbols("x y")
    a, b, outs = x, y, []
    with sn.tree_mode():
        for k in range(n):
            ck = c + (1e-3 * k if vary else 0.0)
            for o in shape:
                a = OPS[o](a, ck)
            a, b = a + 0.5 * b, b * 0.9 + 0.01 * a
            if every and k % (every + 2) == 1:
                outs.append(b)
    fn = sn.Fn((x, y), outs + [a, b])
    sched = schedule(fn.flat_inputs, fn.flat_outputs)
    rolled, info = roll_chains(sched, 2)
    args = (0.3, -0.2)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(py_kernel(rolled)(*args), py_kernel(sched)(*args))
    assert info, "a chain of ≥ 8 isomorphic steps was not rolled"


def test_detection_is_iterative():
    """A 20,000-step chain analysed under a recursion limit of 150 frames: nothing recurses."""
    import sys

    x = sn.Sym("x")
    sched = schedule([x], [sin_chain(x, 20_000)])
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        rolled, (info,) = roll_chains(sched)
    finally:
        sys.setrecursionlimit(limit)
    assert info["steps"] >= 19_998 and len(rolled.instrs) <= 4


def rk2_loss(n, additive=True):
    """Two states stepped n times by a two-stage Runge–Kutta scheme in a Python loop; the
    parameter w enters additively (its cotangent: a sum of the adjoint's own values) or
    multiplicatively."""

    def f(a, b, w):
        if additive:
            return sn.sin(a) * 0.7 - b + w, a * 0.3 - sn.cos(b) * 0.5 + w
        return sn.sin(a) * w - b, a * w - sn.cos(b) * 0.5

    def loss(a, b, w):
        for _ in range(n):
            k1a, k1b = f(a, b, w)
            k2a, k2b = f(a + 0.05 * k1a, b + 0.05 * k1b, w)
            a, b = a + 0.05 * (k1a + k2a), b + 0.05 * (k1b + k2b)
        return a * b

    return loss


def rolled_gradient(n, argnums=(0, 1, 2), additive=True):
    with sn.tree_mode():
        fn = sn.trace(sn.grad(rk2_loss(n, additive), argnums=argnums), 1.0, 0.5, 0.3)
    sched = schedule(fn.flat_inputs, fn.flat_outputs)
    return fn, sched, *roll_chains(sched, 2)


def test_adjoint_reads_the_forward_table_in_place():
    """The adjoint loop reads the forward loop's stored values backwards from its table (no
    explicit per-step table, no per-step reads), and the parameter's cotangent sum (a third
    chain) reads the adjoint's table forwards: the rolled program's size is independent of the
    step count."""
    sizes = set()
    for n in (24, 48, 96):
        fn, sched, rolled, info = rolled_gradient(n)
        fwd, adj, acc = loops_of(rolled)
        # the forward loop grew over its first and last steps (backends.reroll_grow): every
        # step is in it, so the adjoint reads all its rows in place and peels none; the
        # adjoint's seed step and the sum's first/last steps stay straight-line
        assert [c["steps"] for c in info] == [n, n - 1, n - 3]
        assert info[0]["grown"] == (1, 1) and info[1]["peeled"] == (0, 0)
        assert adj.n_explicit == 0 and acc.n_explicit == 0
        assert {c[:2] for c in adj.xcols} == {("table", fwd.dst)}
        assert all(c[4] == -1 for c in adj.xcols)  # the forward table, last row first
        assert {c[1] for c in acc.xcols} == {adj.dst} and all(c[4] == 1 for c in acc.xcols)
        assert info[1]["linked"] == 4
        args = (1.0, 0.5, 0.3)
        np.testing.assert_array_equal(py_kernel(rolled)(*args), py_kernel(sched)(*args))
        sizes.add(len(rolled.instrs))
    assert len(sizes) == 1, sizes
    assert len(sched.instrs) > 30 * len(rolled.instrs)


def test_linked_gradient_is_bit_identical_on_llvm_and_numba():
    fn, sched, rolled, info = rolled_gradient(30)
    assert any(c.get("linked") for c in info)
    args = (1.0, 0.5, 0.3)
    plain = py_kernel(sched)(*args)
    np.testing.assert_allclose(plain, np.ravel(fn.evaluate(args)), rtol=1e-12)
    straight = np.ravel(np.asarray(compiled(fn, "llvm", False)(*args)))
    np.testing.assert_array_equal(straight, plain)
    for be in ("llvm", "numba"):
        k = compiled(fn, be, 2)
        assert k.info["rolled"]["chains"] == info
        np.testing.assert_array_equal(np.ravel(np.asarray(k(*args))), plain)


def test_linked_columns_reverse_and_offset_rows_in_source():
    """A linked column reads row off + stride·s of the other loop's table: the numba source
    spells it, the LLVM IR multiplies the step by a negative row width."""
    fn, _, rolled, _ = rolled_gradient(12, argnums=(0, 1))
    src = kernel_source(rolled, "kernel", "float64", fallback=False)
    fwd, adj = loops_of(rolled)
    assert f"t{fwd.dst}[{adj.xcols[0][3]} + -1 * L{adj.dst}_s" in src
    k = compiled(fn, "llvm", 2)
    assert "mul i64" in k.source and ", -" in k.source


def test_multiplicative_parameter_products_move_into_the_sum_loop():
    """w's cotangent terms are products of a forward and an adjoint value, scheduled after both
    loops: the sum over them rolls with the products in its body (sunk), reading both tables in
    place; the straight-line products die. Bit-identical (interpreter and llvm)."""
    fn, sched, rolled, info = rolled_gradient(24, additive=False)
    assert len(info) == 3 and info[2]["linked"] >= 4
    fwd, adj, acc = loops_of(rolled)
    assert [i.op for i in acc.body.instrs].count("mul") >= 3  # the sunk products
    assert {c[1] for c in acc.xcols if c[0] == "table"} == {fwd.dst, adj.dst}
    assert len(rolled.instrs) < len(sched.instrs) / 5
    args = (1.0, 0.5, 0.3)
    plain = py_kernel(sched)(*args)
    np.testing.assert_array_equal(py_kernel(rolled)(*args), plain)
    k = compiled(fn, "llvm", 2)
    np.testing.assert_array_equal(np.ravel(np.asarray(k(*args))), plain)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(0, len(OPS) - 1), min_size=1, max_size=2), st.integers(10, 30),
       st.floats(0.1, 0.9))
def test_random_gradients_roll_and_link_bit_identically(shape, n, c):
    """Gradients of random Python-loop chains (interpreted): linking and peeling never change
    a bit."""

    def loss(x, y, w):
        a, b = x, y
        for _ in range(n):
            for o in shape:
                a = OPS[o](a, c)
            a, b = a + 0.5 * b + w, b * 0.9 + 0.01 * a
        return a * b + b

    with sn.tree_mode():
        fn = sn.trace(sn.grad(loss, argnums=(0, 1, 2)), 0.3, -0.2, 0.1)
    sched = schedule(fn.flat_inputs, fn.flat_outputs)
    rolled, info = roll_chains(sched, 2)
    args = (0.3, -0.2, 0.1)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(py_kernel(rolled)(*args), py_kernel(sched)(*args))
    assert len(info) >= 2
def _network(n_species: int, n_reactions: int, seed: int):
    """A random mass-action right-hand side, element by element: no chain in it."""
    rng = np.random.default_rng(seed)
    c = sn.symbols(" ".join(f"c{i}" for i in range(n_species)))
    rhs = [0] * n_species
    for _ in range(n_reactions):
        a, b, p = rng.integers(0, n_species, 3)
        rate = float(rng.random()) * (c[a] if rng.random() < 0.4 else c[a] * c[b])
        rhs[a] = rhs[a] - rate
        rhs[p] = rhs[p] + rate
    return c, [r for r in rhs if isinstance(r, sn.Expr)]


def test_precheck_rejects_a_reaction_network_cheaply():
    c, rhs = _network(300, 1500, 0)
    sched = schedule(c, rhs)
    assert len(sched.instrs) > 4000
    assert not _may_chain(sched.instrs, *thresholds(64))
    assert roll_chains(sched) == (sched, [])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, len(OPS) - 1), min_size=1, max_size=3), st.integers(60, 300),
       st.integers(0, 400), st.integers(0, 2**31))
def test_precheck_never_hides_a_chain(shape, n, n_noise, seed):
    """At the default threshold, with a network's code before and after a chain: the
    detection finds the same chains with the precheck as without it."""
    c, rhs = _network(40, n_noise, seed)
    x = sn.Sym("x")
    a = x + rhs[0] if rhs else x
    with sn.tree_mode():
        for _ in range(n):
            for o in shape:
                a = OPS[o](a, 0.7)
    sched = schedule([x, *c], [a, *rhs])
    found = roll_chains(sched)[1]
    with mock.patch.object(reroll_chain, "_may_chain", lambda *args: True):
        assert roll_chains(sched)[1] == found
    if found:
        assert _may_chain(sched.instrs, *thresholds(64))
