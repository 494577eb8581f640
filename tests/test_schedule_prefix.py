"""Sums that share their entries with another sum are computed from it (schedule.lower_grown_add).

A Python-loop integrator whose state is read twice a step (`x + h·v` and `k·x`, or `x + a` inside
`sin` and `x + h·sin(…)`) builds one flat sum per step over shared, append-only entries; lowered
from scratch each would cost O(step) statements a step. Oracles: the plain-Python rendering of
the schedule against the numpy reference interpreter (`sn.evaluate`), and the statement count's
growth with the step count.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.backends.schedule import PREFIX_MIN, _operands, schedule, walk_order
from test_schedule import run_source

import symnum as sn
from symnum.core.traversal import postorder

a, c, h, k, x0, v0 = sn.symbols("a c h k x0 v0")
INPUTS = [a, c, h, k, x0, v0]
POINT = {a: 0.3, c: 0.2, h: 0.01, k: 1.5, x0: 0.7, v0: -0.4}


def damped(steps: int):
    x, v = x0, v0
    for _ in range(steps):
        x, v = x + h * v, v - h * (k * x + c * v)
    return x


def sine_shift(steps: int):
    x = x0
    for _ in range(steps):
        x = x + h * sn.sin(x + a)
    return x


def numeric(f, steps: int) -> float:
    """The same loop on floats."""
    if f is damped:
        x, v = 0.7, -0.4
        for _ in range(steps):
            x, v = x + 0.01 * v, v - 0.01 * (1.5 * x + 0.2 * v)
        return x
    x = 0.7
    for _ in range(steps):
        x = x + 0.01 * math.sin(x + 0.3)
    return x


def test_loops_that_read_their_sum_twice_a_step_lower_to_linear_code():
    for f in (damped, sine_shift):
        n100 = len(schedule(INPUTS, [f(100)]))
        n400 = len(schedule(INPUTS, [f(400)]))
        # was quadratic: 5,350 → 81,400 (sine_shift), 5,574 → 82,224 (damped)
        assert n400 < 4.5 * n100, (f.__name__, n100, n400)
        assert n400 < 10 * 400, (f.__name__, n400)


def test_the_shared_prefix_code_computes_the_loop():
    for f in (damped, sine_shift):
        e = f(150)
        assert [id(m) for m in walk_order([e])] == [id(m) for m in postorder([e], _operands)]
        sched = schedule(INPUTS, [e])
        got = run_source(sched, *(POINT[s] for s in INPUTS))[0]
        assert math.isclose(got, numeric(f, 150), rel_tol=1e-12, abs_tol=1e-14)
        assert math.isclose(got, float(sn.evaluate(e, POINT)), rel_tol=1e-12, abs_tol=1e-14)


def test_a_sum_that_shares_nothing_is_lowered_as_before():
    """A loop sum's last form is the newest version of its entries and no older version is
    in the graph: lowered with its coefficient-1 terms first, as every other sum."""
    syms = sn.symbols(" ".join(f"s{i}" for i in range(20)))
    e = 0
    for i, s in enumerate(syms):
        e = e - s if i == 0 else e + s
    ops = [ins.op for ins in schedule(list(syms), [e]).instrs]
    assert ops == ["add"] * 18 + ["sub"]  # starts from s1, subtracts s0 last


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([1, -1, 2.5]),
                          st.booleans()), min_size=PREFIX_MIN, max_size=40),
       st.integers(0, 2**31 - 1))
def test_random_shared_chains_match_the_interpreter(steps, seed):
    """Random chains of sums extending each other (older versions and branches read as well)
    give the interpreter's values."""
    rng = np.random.default_rng(seed)
    leaves = [a, c, h, k, x0, v0]
    e = sn.add(*[sn.sin(s * (i + 1)) for i, s in enumerate(leaves)], 0.5)
    kept = [e]
    for j, coef, read in steps:
        base = kept[int(rng.integers(len(kept)))]
        term = sn.cos(base) if read else leaves[j] * (len(kept) + 1)
        e = base + coef * term
        kept.append(e)
    outs = kept[-4:] + [sum(kept[1:], sn.Const(0.0))]
    plain = postorder(list(outs), _operands)  # the walk that skips emitted prefixes: same list
    assert [id(m) for m in walk_order(outs)] == [id(m) for m in plain]
    sched = schedule(INPUTS, outs)
    got = run_source(sched, *(POINT[s] for s in INPUTS))
    want = [float(sn.evaluate(o, POINT)) for o in outs]
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_the_llvm_index_states_which_sums_share_entries(tmp_path):
    """The index key covers what the shared-prefix lowering depends on (llvm_index.fingerprint:
    a hit must compute what a fresh compile would), and a hit gives the same bits."""
    from symnum.backends import llvm_index

    e = damped(60)
    fp = llvm_index.fingerprint(INPUTS, [e])
    assert fp is not None and "@(" in fp
    vals = np.array([POINT[s] for s in INPUTS])
    first = sn.build_function([e], *INPUTS, backend="llvm", cache_dir=tmp_path)
    again = sn.build_function([e], *INPUTS, backend="llvm", cache_dir=tmp_path)
    assert np.array_equal(np.asarray(first(*vals)), np.asarray(again(*vals)))
    assert math.isclose(float(np.asarray(first(*vals)).ravel()[0]), numeric(damped, 60),
                        rel_tol=1e-12)
