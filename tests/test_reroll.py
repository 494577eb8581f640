"""Re-rolling (symnum.backends.reroll, reroll_loops, llvm_reroll): rolled vs straight-line code.

Oracles: the numpy reference interpreter (backend="numpy"), the straight-line llvm kernel
(reroll=False), and an interpreter of the Plan written here (no LLVM), which lets hypothesis
check the planner on many random programs quickly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symnum.backends import reroll
from symnum.backends.reroll import Block, Loop
from symnum.backends.schedule import schedule

import symnum as sn
from symnum.demo.examples import brusselator_rhs, mass_action_rhs, reaction_network
from symnum.errors import CompileError

_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "neg": lambda a: -a, "sin": math.sin, "cos": math.cos,
        "exp": math.exp}


def run_plan(p: reroll.Plan, sched, x: np.ndarray) -> np.ndarray:
    """Execute a Plan step by step in Python (the semantics the emitters implement)."""
    out = np.full(len(sched.outputs), np.nan)
    c = np.full(len(p.scratch) + 1, np.nan)
    vals: dict[int, float] = {}

    def get(a, local=None):
        if a.kind == "const":
            return a.value
        if a.kind == "in":
            return local[a.index] if local is not None else x[a.index]
        if local is not None:
            return local[("t", a.index)]
        return vals[a.index] if a.index in vals else c[p.scratch[a.index]]

    for step in p.steps:
        if isinstance(step, Block):
            for ins in step.instrs:
                vals[ins.dst] = _OPS[ins.op](*[get(a) for a in ins.args])
                if ins.dst in p.scratch:
                    c[p.scratch[ins.dst]] = vals[ins.dst]
            for dest, di, r in step.stores:
                (out if dest == "out" else c)[di] = get(r)
            continue
        assert isinstance(step, Loop)
        nv = len(step.sources)
        for i in range(step.count):
            local: dict = {}
            for j, src in enumerate(step.sources):
                local[j] = (x if src == "x" else c)[step.index[i, j]]
            for q in range(step.coefs.shape[1]):
                local[nv + q] = step.coefs[i, q]
            for ins in step.body:
                local[("t", ins.dst)] = _OPS[ins.op](*[get(a, local) for a in ins.args])
            for r, (root, dest) in enumerate(zip(step.roots, step.dests)):
                arr, k, v = (out if dest == "out" else c), step.dest_index[i, r], get(root, local)
                arr[k] = v if step.acc is None else arr[k] + v if step.acc == "add" else arr[k] - v
    return out


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    scale = np.maximum(1.0, np.abs(b))
    return bool(np.all(np.abs(a - b) <= rtol * scale * 8))


# the workloads, small -----------------------------------------------------------------------
def _bruss(n=8):
    state = np.random.default_rng(0).random((2, n, n)) + 0.5
    fn = sn.trace(lambda s: brusselator_rhs(s, (1.0, 3.4, 10.0), 0.0), state, mode="scalar")
    return fn, state


def _mass(n=256):
    net = reaction_network(n)
    c0 = np.random.default_rng(1).random(n) + 0.5
    return sn.trace(lambda c: mass_action_rhs(c, net), c0, mode="scalar"), c0, net


def test_brusselator_rolled_matches_straight_and_numpy():
    fn, state = _bruss(8)
    rolled, _ = sn.build_function(fn.outputs, *fn.inputs, cache=False)
    straight, _ = sn.build_function(fn.outputs, *fn.inputs, cache=False, reroll=False)
    ref = brusselator_rhs(state, (1.0, 3.4, 10.0), 0.0)
    assert rolled.info["rolled"]["loops"] >= 1 and straight.info["rolled"] is None
    # one fused loop over the 64 grid points computes u' and v' (u²v shared, u read once)
    assert rolled.info["rolled"]["loops"] == 1
    assert _close(rolled(state), ref) and _close(rolled(state), straight(state))
    assert "@r0.i" in rolled.source and "@r0.i" not in straight.source


def test_mass_action_rolled_matches_straight_and_numpy():
    fn, c0, net = _mass(256)
    rolled, _ = sn.build_function(fn.outputs, *fn.inputs, cache=False)
    straight, _ = sn.build_function(fn.outputs, *fn.inputs, cache=False, reroll=False)
    info = rolled.info["rolled"]
    assert info["loops"] >= 3 and info["rolled_instances"] > 256
    ref = mass_action_rhs(c0, net)
    assert _close(rolled(c0), ref, 1e-11) and _close(rolled(c0), straight(c0), 1e-11)
    p = reroll.plan(schedule(fn.flat_inputs, fn.flat_outputs))
    assert any(isinstance(s, Loop) and s.acc is not None for s in p.steps)  # split sums
    # a reaction's rate computed once per trip and added into several species' sums
    assert any(isinstance(s, Loop) and s.acc and len(s.roots) >= 3 for s in p.steps)
    assert _close(run_plan(p, schedule(fn.flat_inputs, fn.flat_outputs), c0), ref, 1e-11)


def test_mass_action_sums_start_from_a_term_and_scatter_columns_line_up():
    fn, c0, net = _mass(256)
    sched = schedule(fn.flat_inputs, fn.flat_outputs)
    p = reroll.plan(sched)
    loops = [s for s in p.steps if isinstance(s, Loop)]
    # no loop zeroes destinations for scatter-adds: every split sum starts from one of its terms
    assert not any(s.acc is None and not s.body and s.roots[0].kind == "const" for s in loops)
    # the terms of a bucket are ordered by pattern: a destination that is one of the rate's
    # species has the same column as that species' index (the emitter reads it once)
    lined = [s for s in loops if s.acc and any(
        np.array_equal(s.dest_index[:, r], s.index[:, j])
        for r in range(s.dest_index.shape[1]) for j in range(s.index.shape[1]))]
    assert lined
    assert _close(run_plan(p, sched, c0), mass_action_rhs(c0, net), 1e-11)
    from symnum.backends.llvm_reroll import emit_rolled_ir

    text = emit_rolled_ir(p, sched).text
    tables = sum(1 for line in text.splitlines() if line.startswith("@r") and ".d" in
                 line.split(" = ")[0])
    dest_columns = sum(s.dest_index.shape[1] for s in loops if not all(
        np.all(np.diff(s.dest_index[:, r]) == (s.dest_index[1, r] - s.dest_index[0, r]))
        for r in range(s.dest_index.shape[1])))
    assert tables < dest_columns  # reused index columns: no table of their own


def test_sparse_jacobian_values_rolled():
    fn, state = _bruss(8)
    J = sn.sparse_jacobian(np.asarray(fn.outputs).ravel(), fn.inputs[0].ravel())
    x = state.ravel()
    rolled = sn.build_function(J, fn.inputs[0].ravel(), cache=False)
    straight = sn.build_function(J, fn.inputs[0].ravel(), cache=False, reroll=False)
    ref = sn.build_function(J, fn.inputs[0].ravel(), backend="numpy")
    assert rolled.compiled.info["rolled"] is not None
    assert _close(rolled(x), ref(x)) and _close(rolled(x), straight(x))


def test_off_switch_and_threshold():
    xs = sn.symbols(" ".join(f"x{i}" for i in range(40)))
    outs = np.empty(40, dtype=object)
    outs[:] = [sn.sin(x) * 3.0 + 1.0 for x in xs]
    below, _ = sn.build_function(outs, np.array(xs, dtype=object), cache=False)
    assert below.info["rolled"] is None  # 40 < 64 instances: straight-line
    at, _ = sn.build_function(outs, np.array(xs, dtype=object), cache=False, reroll=8)
    off, _ = sn.build_function(outs, np.array(xs, dtype=object), cache=False, reroll=False)
    assert at.info["rolled"]["loops"] == 1 and off.info["rolled"] is None
    x = np.linspace(0.1, 2.0, 40)
    assert np.array_equal(at(x), off(x))  # no sums reordered here: bit for bit
    with pytest.raises(CompileError, match="reroll"):
        sn.build_function(outs, np.array(xs, dtype=object), cache=False, reroll=1)


def test_compile_passes_reroll_and_other_backends_ignore_it():
    def f(x):
        return np.sin(x) * 2.0 + x[::-1]

    x = np.linspace(0.0, 1.0, 70)
    on = sn.compile(f)
    off = sn.compile(f, reroll=False)
    assert _close(on(x), f(x)) and _close(off(x), f(x))
    assert on.lower(x).info["rolled"] is not None and off.lower(x).info["rolled"] is None
    assert _close(sn.compile(f, backend="numpy", reroll=False)(x), f(x))


def test_shared_expensive_subexpression_computed_once():
    xs = sn.symbols(" ".join(f"x{i}" for i in range(80)))
    shared = [sn.exp(xs[i]) * sn.sin(xs[(i + 1) % 80]) + xs[i] for i in range(80)]
    outs = [s * 2.0 + xs[(i + 3) % 80] for i, s in enumerate(shared)]
    outs += [s * s - 1.0 for s in shared]
    sched = schedule(xs, outs)
    p = reroll.plan(sched)
    loops = [s for s in p.steps if isinstance(s, Loop)]
    # the shared values are computed by one loop into scratch, and read from it afterwards
    writers = [lp for lp in loops if "c" in lp.dests]
    readers = [lp for lp in loops if "c" in lp.sources]
    assert len(writers) == 1 and writers[0].instances == 80 and readers
    # exp runs once per shared value (80 times a call), not once per use (160)
    assert sum(lp.count * sum(ins.op == "exp" for ins in lp.body) for lp in loops) == 80
    x = np.random.default_rng(2).random(80)
    ref = _reference(xs, outs, x)
    assert _close(run_plan(p, sched, x), ref)
    k, _ = sn.build_function(np.array(outs, dtype=object), np.array(xs, dtype=object),
                             cache=False)
    assert _close(k(x), ref)


def test_outputs_that_copy_inputs_constants_and_each_other():
    xs = sn.symbols(" ".join(f"x{i}" for i in range(70)))
    vals = [sn.cos(x) * x for x in xs]
    outs = vals + [xs[3], sn.Const(2.5)] + vals[:5]
    arr = np.empty(len(outs), dtype=object)
    arr[:] = outs
    k, _ = sn.build_function(arr, np.array(xs, dtype=object), cache=False)
    x = np.random.default_rng(3).random(70)
    want = np.array([math.cos(v) * v for v in x] + [x[3], 2.5] + [math.cos(v) * v for v in x[:5]])
    assert k.info["rolled"] is not None and _close(k(x), want)


# random programs built from repeated templates ---------------------------------------------
def _recipe(depth):
    leaf = st.one_of(st.tuples(st.just("slot"), st.integers(0, 3)),
                     st.tuples(st.just("coef"), st.integers(0, 2)))
    if depth == 0:
        return leaf
    sub = _recipe(depth - 1)
    return st.one_of(leaf,
                     st.tuples(st.sampled_from(["add", "sub", "mul"]), sub, sub),
                     st.tuples(st.just("sin"), sub),
                     st.tuples(st.just("exp"), st.tuples(st.just("slot"), st.integers(0, 3))))


def _build(rec, slots, coefs):
    tag = rec[0]
    if tag == "slot":
        return slots[rec[1]]
    if tag == "coef":
        return coefs[rec[1]]
    if tag in ("sin", "exp"):
        return (sn.sin if tag == "sin" else sn.exp)(_build(rec[1], slots, coefs))
    a, b = _build(rec[1], slots, coefs), _build(rec[2], slots, coefs)
    return a + b if tag == "add" else a - b if tag == "sub" else a * b


@st.composite
def programs(draw):
    n_in = draw(st.integers(3, 10))
    xs = sn.symbols(" ".join(f"x{i}" for i in range(n_in)))
    pool = list(xs)
    # shared subexpressions: several outputs read them
    for _ in range(draw(st.integers(0, 3))):
        i, j = draw(st.integers(0, n_in - 1)), draw(st.integers(0, n_in - 1))
        pool.append(sn.sin(xs[i]) * sn.exp(xs[j]) + xs[i])
    outs = []
    coef_choices = st.sampled_from([1.0, -1.0, 2.0, 0.5, 3.25])
    for _ in range(draw(st.integers(1, 3))):
        rec = draw(_recipe(3))
        for _ in range(draw(st.integers(1, 14))):
            slots = [pool[draw(st.integers(0, len(pool) - 1))] for _ in range(4)]
            coefs = [draw(coef_choices) for _ in range(3)]
            outs.append(_build(rec, slots, coefs))
    # sums of a varying number of template instances (split into rolled terms)
    term = draw(_recipe(2))
    for _ in range(draw(st.integers(0, 8))):
        parts = [_build(term, [pool[draw(st.integers(0, len(pool) - 1))] for _ in range(4)],
                        [draw(coef_choices) for _ in range(3)])
                 for _ in range(draw(st.integers(1, 5)))]
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        outs.append(total)
    # irregular outputs
    for _ in range(draw(st.integers(0, 3))):
        outs.append(_build(draw(_recipe(3)), [pool[draw(st.integers(0, len(pool) - 1))]
                                              for _ in range(4)], [1.5, -0.25, 4.0]))
    order = draw(st.permutations(range(len(outs))))
    outs = [outs[i] if not isinstance(outs[i], float) else sn.Const(outs[i]) for i in order]
    x = np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=n_in, max_size=n_in)))
    return xs, outs, x


def _reference(xs, outs, x):
    arr = np.empty(len(outs), dtype=object)
    arr[:] = outs
    f, _ = sn.build_function(arr, np.array(xs, dtype=object), backend="numpy")
    return np.array(f(x), dtype=float).ravel()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.sampled_from([2, 3, 4]))
def test_random_template_programs_plan_matches_reference(prog, min_group):
    xs, outs, x = prog
    sched = schedule(xs, outs)
    p = reroll.plan(sched, min_group)
    ref = _reference(xs, outs, x)
    if p is None:
        return
    got = run_plan(p, sched, x)
    assert _close(got, ref, 1e-10), (got, ref)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_template_programs_compiled(prog):
    xs, outs, x = prog
    arr = np.empty(len(outs), dtype=object)
    arr[:] = outs
    k, _ = sn.build_function(arr, np.array(xs, dtype=object), cache=False, reroll=2)
    assert _close(k(x), _reference(xs, outs, x), 1e-10)


def test_plan_is_none_without_repeats():
    x, y = sn.symbols("x y")
    assert reroll.plan(schedule([x, y], [sn.sin(x) * y])) is None
    assert reroll.min_group_of(None) == reroll.MIN_GROUP and reroll.min_group_of(False) is None


def test_fold_makes_interleaved_columns_affine():
    xs = sn.symbols(" ".join(f"x{i}" for i in range(96)))
    outs = []
    for k in range(32):  # three sines per block of four outputs: dests 4k, 4k+1, 4k+2
        outs += [sn.sin(xs[3 * k + j]) * 2.0 for j in range(3)] + [sn.exp(xs[k]) + xs[k + 1]]
    sched = schedule(xs, outs)
    p = reroll.plan(sched, 16)
    sines = [s for s in p.steps if isinstance(s, Loop) and any(i.op == "sin" for i in s.body)]
    # folded to 32 trips of three sines, then fused with the 32 exp(x)+x outputs
    assert len(sines) == 1 and sines[0].count == 32 and len(sines[0].roots) == 4
    from symnum.backends.reroll_loops import _tables

    assert _tables(sines[0]) == 0  # every index is computed from the trip counter
    x = np.random.default_rng(4).random(96)
    ref = _reference(xs, outs, x)
    assert _close(run_plan(p, sched, x), ref)
    arr = np.empty(len(outs), dtype=object)
    arr[:] = outs
    k, _ = sn.build_function(arr, np.array(xs, dtype=object), cache=False, reroll=16)
    assert k.info["rolled"]["loops"] >= 1 and "@r0.i" not in k.source and _close(k(x), ref)


def test_float32_batched_and_pickled_rolled_kernels():
    import pickle

    xs = sn.symbols(" ".join(f"x{i}" for i in range(70)))
    outs = np.empty(70, dtype=object)
    outs[:] = [sn.sin(x) * 3.0 + xs[(i + 1) % 70] * x for i, x in enumerate(xs)]

    def want(b):
        return np.sin(b) * 3.0 + np.roll(b, -1, axis=-1) * b

    k32, _ = sn.build_function(outs, np.array(xs, dtype=object), cache=False, dtype="float32")
    x = np.random.default_rng(5).random(70).astype(np.float32)
    assert k32.info["rolled"] is not None and k32(x).dtype == np.float32
    assert np.allclose(k32(x), want(x.astype(float)), rtol=1e-6, atol=1e-6)
    kb, _ = sn.build_function(outs, *xs, cache=False)  # rows of a batch, on threads
    B = np.random.default_rng(6).random((2000, 70))
    assert kb.info["rolled"] is not None
    assert np.allclose(kb(*B.T).T, want(B), rtol=1e-14, atol=1e-14)
    k, _ = sn.build_function(outs, np.array(xs, dtype=object), cache=False)
    k2 = pickle.loads(pickle.dumps(k))
    assert np.array_equal(k2(B[0]), k(B[0])) and k2.info["rolled"] is not None


def test_numba_backend_rolls_too(tmp_path):
    fn, state = _bruss(8)
    fm, c0, net = _mass(128)
    for f, x, ref in ((fn, state, brusselator_rhs(state, (1.0, 3.4, 10.0), 0.0)),
                      (fm, c0, mass_action_rhs(c0, net))):
        k, _ = sn.build_function(f.outputs, *f.inputs, backend="numba", cache_dir=tmp_path)
        assert k.info["rolled"] is not None and "for i in range(" in k.source
        assert _close(k(x), ref, 1e-11)
    from symnum.backends.numba_backend import generate

    src, _, rolled = generate(fn, reroll=False)  # the off switch: straight-line source
    assert rolled is None and "for i in range(" not in src.split("_T =")[0]


def test_opposite_coefficient_columns_read_once_bit_for_bit():
    from symnum.backends.reroll_loops import accumulate, tidy
    from symnum.backends.schedule import Instr, Ref

    xs = sn.symbols(" ".join(f"x{i}" for i in range(64)))
    k = np.random.default_rng(7).uniform(0.5, 2.0, 64)
    outs = []
    for i in range(64):  # a reactant's −k·x and a product's +k·x
        outs += [-float(k[i]) * xs[i], float(k[i]) * xs[i]]
    sched = schedule(xs, outs)
    body = [Instr(0, "mul", (Ref("in", 1), Ref("in", 0))),
            Instr(1, "mul", (Ref("in", 2), Ref("in", 0)))]
    raw = Loop(1, body, [Ref("tmp", 0), Ref("tmp", 1)], ["x"], np.arange(64).reshape(64, 1),
               np.stack([-k, k], axis=1), ["out", "out"],
               np.stack([2 * np.arange(64), 2 * np.arange(64) + 1], axis=1))
    lp = tidy(raw)
    assert lp.coefs.shape[1] == 1  # −k is computed from +k, not a second column
    assert [ins.op for ins in lp.body] == ["mul", "neg"]
    x = np.random.default_rng(8).random(64)
    straight, _ = sn.build_function(np.array(outs, dtype=object), np.array(xs, dtype=object),
                                    cache=False, reroll=False)
    for loop in (raw, lp):  # −(k·x) is (−k)·x exactly
        assert np.array_equal(run_plan(reroll.Plan([loop], {}, len(sched.instrs)), sched, x),
                              straight(x))
    # as a scatter-add, adding −(k·x) is subtracting k·x
    acc = Loop(lp.stage, lp.body, lp.roots, lp.sources, lp.index, lp.coefs, lp.dests,
               lp.dest_index, "add")
    assert accumulate(acc, acc.roots[0]) == ("add", acc.roots[0])
    assert accumulate(acc, acc.roots[1]) == ("sub", Ref("tmp", 0))
