"""Loops carrying arrays on the cuda backend (backends.cuda_step_loops) without a GPU: the host
steps and kernel source generated from the loop plan. The kernels themselves run on the CUDA
simulator (tests/_cuda_sim_cases.py: array_carry_loops) and compile to sm_90 cubins
(tests/test_cuda_ptx.py); nothing here imports numba.cuda."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from symnum.backends import cuda_step_loops as SL
from symnum.backends.cuda_arrays import generate

import symnum as sn
from symnum.errors import CompileError


def heat(steps, k=0.1):
    def run(u0):
        return sn.fori_loop(0, steps, lambda i, u: u + k * (np.roll(u, 1) - 2 * u
                                                            + np.roll(u, -1)), u0)
    return run


def _kinds(steps):
    return [s[0] for s in steps]


def test_heat_is_a_host_loop_of_one_launch_per_step():
    src, steps, _ = generate(sn.trace(heat(100), np.zeros(64), mode="array"))
    assert _kinds(steps) == ["alloc", "launch", "alloc", "loop", "return"]
    loop = steps[3]
    assert loop[2] == 100
    # buffers allocated before the loop; per step: the step index, one kernel (the peeled
    # stencil's three boxes together), the ping-pong swap of the two carry buffers
    assert _kinds(loop[3]) == ["int", "launch", "swap"]
    cc, m = loop[3][2][1]
    assert loop[3][2][2] == [m, cc] and steps[-1] == ("return", [cc])
    assert src.count("cuda.grid(1)") == 1 + 3
    assert SL.launches(steps) == 1 + 100


def test_source_does_not_grow_with_the_step_count():
    a = generate(sn.trace(heat(10), np.zeros(64), mode="array"))[0]
    b = generate(sn.trace(heat(10_000), np.zeros(64), mode="array"))[0]
    assert a == b  # the trip count lives in the host steps only


def test_dependent_nests_are_launched_apart():
    def two(u0):  # the second nest reads the buffer the first writes: a grid-wide dependency
        def step(i, u):
            v = np.sin(u) + np.roll(u, 1)
            return np.roll(v, 1) * v
        return sn.fori_loop(0, 3, step, u0)

    _, steps, _ = generate(sn.trace(two, np.zeros(50), mode="array"))
    loop = next(s for s in steps if s[0] == "loop")
    assert _kinds(loop[3]).count("launch") == 2


def test_scan_reads_xs_and_writes_ys_at_the_step():
    def f(u0, xs):
        return sn.scan(lambda c, x: (c * 0.5 + x, c * 2.0), u0, xs, reverse=True)

    src, steps, _ = generate(sn.trace(f, np.zeros(30), np.zeros((7, 30)), mode="array"))
    loop = next(s for s in steps if s[0] == "loop")
    ints = [s for s in loop[3] if s[0] == "int"]
    assert ints[0][2] == f"6 - {loop[1]}"  # reversed: step s = 6 - t
    s = ints[0][1]
    assert f"a1[{s}, " in src and f"[{s}, " in src.split("ys")[-1]
    assert _kinds(loop[3]).count("launch") == 1  # the carry and the y nests share a kernel


def test_a_scalar_carry_is_computed_on_the_host():
    def timed(u0, h):  # (time, field): the time is a host scalar, passed to the kernel
        return sn.fori_loop(0, 4, lambda i, c: (c[0] + h, c[1] + h * np.sin(c[0]) * (
            np.roll(c[1], 1) - c[1])), (0.0, u0))

    src, steps, _ = generate(sn.trace(timed, np.zeros(40), 0.1, mode="array"))
    assert steps[0][0] == "scalar"  # the initial time
    loop = next(s for s in steps if s[0] == "loop")
    assert _kinds(loop[3]).count("launch") == 1
    assert [s[2] for s in loop[3] if s[0] == "scalar"][:2] == ["cs2 + s1", "math.sin(cs2)"]
    launch = next(s for s in loop[3] if s[0] == "launch")
    assert not any(a.startswith("cs") for a in launch[3])  # only what the kernel reads
    assert steps[-1][1][0] == "cs2"  # the final time is returned by the host


def test_what_cannot_be_launched_is_refused_by_name():
    def summed(u0):  # a scalar carry that needs a reduction over the array, every step
        return sn.fori_loop(0, 3, lambda i, c: (c[0] + np.sum(c[1]), c[1] * 0.5), (0.0, u0))

    with pytest.raises(CompileError, match="backend='llvm' or 'numba'"):
        generate(sn.trace(summed, np.zeros(40), mode="array"))

    def wl(v):
        return sn.while_loop(lambda w: np.sum(w) < 50.0, lambda w: w * 1.5, v, max_steps=8)

    with pytest.raises(CompileError, match="backend='llvm' or 'numba'"):
        generate(sn.trace(wl, np.zeros(40), mode="array"))


def test_host_steps():
    scope = {"t5": "int", "s1": "float"}
    st = SL.host_step(ast.parse("s6 = 99 - t5").body[0], scope)
    env = {"t5": 4}
    SL.run_host_step(st, env)
    assert st[:2] == ("int", "s6") and env["s6"] == 95 and scope["s6"] == "int"
    st = SL.host_step(ast.parse("v = 1.5 - t5").body[0], scope)  # a float: a scalar step
    assert st[0] == "scalar"
    st = SL.host_step(ast.parse("w = math.log(s1) * v").body[0], scope)
    env.update(s1=np.e, v=2.0)
    SL.run_host_step(st, env, {"math": np})
    assert env["w"] == pytest.approx(2.0)
    assert SL.host_step(ast.parse("v = q - t5").body[0], scope) is None  # q: not a host value
    assert SL.host_step(ast.parse("v = m3[0] + 1.0").body[0], scope) is None  # a device read
    assert SL.host_step(ast.parse("v = cuda.fma(s1, s1, s1)").body[0], scope) is None
    env = {"a": 1, "b": 2}
    SL.run_host_step(SL.host_step(ast.parse("a, b = b, a").body[0], {}), env)
    assert env == {"a": 2, "b": 1}
