"""Rolled chains grow over the copies of their step beside them (backends.reroll_grow): matched
as a dataflow graph whatever the statements' order, a partial last step too; the results stay
bit-identical to the straight-line kernel's."""

from __future__ import annotations

import random
import tempfile
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.backends import reroll_chain
from symnum.backends.loop_schedule import LoopInstr
from symnum.backends.numba_backend import _HEADER
from symnum.backends.pysource import kernel_source
from symnum.backends.reroll_chain import roll_chains
from symnum.backends.schedule import Schedule, schedule

import symnum as sn
from symnum.compile import lower


def py_kernel(sched):
    """The schedule's numba source run as plain Python: an interpreter of rolled schedules."""
    ns: dict = {}
    exec(_HEADER + kernel_source(sched, "kernel", "float64", fallback=False), ns)  # noqa: S102
    k = ns["kernel"]

    def run(*xs):
        out = np.empty(len(sched.outputs))
        k(np.array(xs, dtype=np.float64), out)
        return out

    return run


def rotation_schedule(n, last="whole"):
    """Two carries a, b and a parameter w stepped n times (tree mode: every step alike);
    `last`: "whole" (n full steps), "partial" (a last step that computes only the new a)."""
    a, b, w = sn.Sym("a"), sn.Sym("b"), sn.Sym("w")
    x, y = a, b
    with sn.tree_mode():
        for _ in range(n):
            x, y = x * 0.99 - y * w + 0.01, x * w + y * 0.99
        outs = [x, y]
        if last == "partial":  # the new a and what the next step starts with, not b
            a1 = x * 0.99 - y * w + 0.01
            outs = [a1, a1 * 0.99, x * w]
    return schedule([a, b, w], outs)


def shuffled(sched, lo, hi, seed):
    """The schedule with its statements in [lo, hi) in another dependency order."""
    instrs = list(sched.instrs)
    window = instrs[lo:hi]
    mine = {i.dst for i in window}
    rng = random.Random(seed)
    done: set[int] = set()
    order = []
    while window:
        ready = [i for i in window if all(a.kind != "tmp" or a.index not in mine
                                          or a.index in done for a in i.args)]
        pick = rng.choice(ready)
        order.append(pick)
        done.add(pick.dst)
        window.remove(pick)
    return Schedule(sched.n_in, instrs[:lo] + order + instrs[hi:], list(sched.outputs),
                    sched.n_tmp)


def loops_of(sched):
    return [i for i in sched.instrs if type(i) is LoopInstr]


def ungrown(sched, min_group=2):
    with mock.patch.object(reroll_chain, "grow_loops", lambda s, loops, max_ys: (s, {})):
        return roll_chains(sched, min_group)


ARGS = (0.7, -0.3, 0.2)


def test_a_reordered_last_step_joins_the_loop():
    """The scheduler may emit a step's statements in another order (a gradient's last forward
    step, interleaved with the adjoint): position-wise detection stops before it, growing
    takes it in."""
    sched = rotation_schedule(12)
    n = len(sched.instrs)
    P = 7  # statements per step
    sched = shuffled(sched, n - 2 * P, n, seed=3)
    before, info0 = ungrown(sched)
    rolled, (info,) = roll_chains(sched, 2)
    assert info["grown"][1] >= 1 and info["steps"] > info0[0]["steps"]
    assert len(rolled.instrs) < len(before.instrs)
    np.testing.assert_array_equal(py_kernel(rolled)(*ARGS), py_kernel(sched)(*ARGS))


@settings(max_examples=25, deadline=None)
@given(st.integers(6, 20), st.integers(0, 10_000), st.sampled_from(["head", "tail", "both"]))
def test_shuffled_steps_grow_bit_identically(n, seed, where):
    sched = rotation_schedule(n)
    m, P = len(sched.instrs), 7
    if where in ("tail", "both"):
        sched = shuffled(sched, m - 2 * P, m, seed)
    if where in ("head", "both"):
        sched = shuffled(sched, 0, 2 * P, seed + 1)
    rolled, info = roll_chains(sched, 2)
    np.testing.assert_array_equal(py_kernel(rolled)(*ARGS), py_kernel(sched)(*ARGS))
    if info:  # every step is in the loop (none left straight-line)
        (L,) = loops_of(rolled)
        assert info[0]["steps"] == n == L.spec.length


def test_a_statement_that_differs_stays_straight_line():
    """A neighbour step with another constant in one statement is no whole copy of the step:
    what depends on that statement stays straight-line (the loop's own version of it is
    computed unread, at most), and the results stay bit-identical."""
    sched = rotation_schedule(10)
    k = max(j for j, i in enumerate(sched.instrs)
            if any(a.kind == "const" and a.value == 0.99 for a in i.args))
    ins = sched.instrs[k]
    args = tuple(type(a)("const", value=0.98) if a.kind == "const" else a for a in ins.args)
    changed = Schedule(sched.n_in, sched.instrs[:k] + [type(ins)(ins.dst, ins.op, args)]
                       + sched.instrs[k + 1:], sched.outputs, sched.n_tmp)
    rolled, info = roll_chains(changed, 2)
    np.testing.assert_array_equal(py_kernel(rolled)(*ARGS), py_kernel(changed)(*ARGS))
    assert info and any(type(i) is not LoopInstr and any(
        a.kind == "const" and a.value == 0.98 for a in i.args) for i in rolled.instrs)


def test_a_partial_last_step_is_computed_by_the_loop():
    """A last step of which only the part the outputs read is there (here the new a, not b)
    is absorbed when it holds at least half the body: the loop computes the rest unread."""
    sched = rotation_schedule(12, last="partial")
    before, _ = ungrown(sched)
    rolled, (info,) = roll_chains(sched, 2)
    # 12 whole steps and the partial one in the loop; x·w of step 11 (an old final carry) is
    # read from a stored column now
    assert info["grown"] == (1, 1) and info["steps"] == 13
    assert [type(i).__name__ for i in rolled.instrs].count("TableRead") == 1
    assert len(rolled.instrs) < len(before.instrs)
    np.testing.assert_array_equal(py_kernel(rolled)(*ARGS), py_kernel(sched)(*ARGS))


def test_grown_gradient_on_llvm_and_numba():
    """The gradient of a Python-loop RK2: the forward loop takes its first and last steps in,
    so the adjoint reads every row in place (nothing peeled); llvm and numba kernels are
    bit-identical to the straight-line one and the size is independent of the steps."""

    def loss(a, b, w):
        for _ in range(n):
            k1a, k1b = sn.sin(a) * 0.7 - b + w, a * 0.3 - sn.cos(b) * 0.5 + w
            a2, b2 = a + 0.05 * k1a, b + 0.05 * k1b
            k2a, k2b = sn.sin(a2) * 0.7 - b2 + w, a2 * 0.3 - sn.cos(b2) * 0.5 + w
            a, b = a + 0.05 * (k1a + k2a), b + 0.05 * (k1b + k2b)
        return a * b

    sizes = {}
    for n in (24, 40):
        with sn.tree_mode():
            fn = sn.trace(sn.grad(loss, argnums=(0, 1, 2)), 1.0, 0.5, 0.3)
        sched = schedule(fn.flat_inputs, fn.flat_outputs)
        before, _ = ungrown(sched)
        rolled, info = roll_chains(sched, 2)
        assert info[0]["steps"] == n and info[1].get("peeled") == (0, 0)
        sizes[n] = (len(before.instrs), len(rolled.instrs))
        plain = py_kernel(sched)(1.0, 0.5, 0.3)
        np.testing.assert_array_equal(py_kernel(rolled)(1.0, 0.5, 0.3), plain)
    assert sizes[24][1] == sizes[40][1] < sizes[40][0]
    for be in ("llvm", "numba"):
        k = lower(fn, be, cache_dir=tempfile.mkdtemp(), reroll=2)
        assert k.info["rolled"]["chains"] == info
        np.testing.assert_array_equal(np.ravel(np.asarray(k(1.0, 0.5, 0.3))), plain)
