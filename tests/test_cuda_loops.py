"""The cuda backend's loop lowering (backends.cuda_loops) without a GPU: the generated source and
the typed refusals. The kernels themselves run under the CUDA simulator (tests/_cuda_sim_cases.py:
loop_rk4, loop_scan_ys, loop_while, through test_cuda_sim.py). Nothing here imports numba.cuda.
"""

from __future__ import annotations

import numpy as np
import pytest
from symnum.backends import cuda_loops
from symnum.backends.cuda_source import generate

import symnum as sn
from symnum.compile import resolve_backend
from symnum.errors import CompileError


def _decay(steps: int):
    return sn.trace(lambda a, b: sn.fori_loop(0, steps, lambda i, v: np.sin(v) * b + i, a),
                    1.0, 0.5)


def test_a_loop_is_one_for_loop_whatever_its_step_count():
    src10, s10 = generate(_decay(10))
    src1k, s1k = generate(_decay(1000))
    assert len(s10) == len(s1k) == 1  # one LoopInstr
    assert src1k.count("\n") == src10.count("\n")
    assert "for L0_it in range(1000):" in src1k
    # in every kernel: the device function, the batched and the elementwise kernel
    assert src1k.count("for L0_it in range(1000):") == 3


def test_scan_ys_go_to_the_outputs_by_offset():
    fn = sn.trace(lambda a: sn.scan(lambda c, x: (c * 2 + x, (c, c * c)), a,
                                    np.arange(500.0)), 1.0)
    src, sched = generate(fn)
    plans, skip, written = cuda_loops.direct_outputs(sched)
    assert list(plans.values()) == [{0: (1, 1), 1: (501, 1)}]
    assert written == set(range(1, 1001)) and len(skip) == 1000
    assert "OUTT[1 + 1 * L0_s, i] = L0_x0" in src and "OUTT[501 + 1 * L0_s, i]" in src
    assert "local.array((500, 2)" not in src and src.count("OUTT[") == 3


def test_ys_read_elsewhere_live_in_a_local_table():
    fn = sn.trace(lambda a: sn.scan(lambda c, x: (c * 0.5, c), a, None, length=8)[1].sum(), 1.0)
    src, sched = generate(fn)
    assert cuda_loops.direct_outputs(sched)[0] == {}
    assert "t0 = cuda.local.array((8, 1), np.float64)" in src


def test_a_while_loop_without_ys_leaves_early_and_with_ys_runs_every_step():
    f = sn.trace(lambda a: sn.while_loop(lambda v: v < 5, lambda v: v * 2, a, max_steps=9), 1.0)
    assert "break" in generate(f)[0]
    g = sn.trace(sn.grad(lambda a: sn.while_loop(lambda v: v < 5, lambda v: v * v, a,
                                                 max_steps=9)), 1.0)
    src = generate(g)[0]
    assert "break" not in src and "range(9)" in src


def test_float32_loops_keep_the_step_index_in_float32():
    src = generate(_decay(4), "float32")[0]
    assert "np.float32(0 + L0_s)" in src and "np.float64" not in src.split("def kernel")[1]


def test_tables_over_the_local_memory_budget_are_refused_with_what_to_do():
    xs = sn.trace(lambda a: sn.scan(lambda c, x: (c * x, c), a, np.linspace(0, 1, 20_000))[0],
                  1.0)
    with pytest.raises(CompileError, match=r"scan loop's xs table \(20000 steps.*fori_loop"):
        generate(xs)
    ys = sn.trace(lambda a: sn.scan(lambda c, x: (c * 0.5, c), a, None,
                                    length=20_000)[1].sum(), 1.0)
    with pytest.raises(CompileError, match="ys table.*return the ys as the function's outputs"):
        generate(ys)
    # returned as outputs, the same ys need no table
    ok = sn.trace(lambda a: sn.scan(lambda c, x: (c * 0.5, c), a, None, length=20_000)[1], 1.0)
    assert "local.array" not in generate(ok)[0]


def test_an_op_without_a_cuda_lowering_in_a_body_is_named():
    op = sn.register("cuda_loop_nolower", lambda x: x * 2.0, replace=True)
    fn = sn.trace(lambda a: sn.fori_loop(0, 3, lambda i, v: op(v), a), 1.0)
    with pytest.raises(CompileError, match="fori loop.*cuda_loop_nolower.*backend='numpy'"):
        generate(fn)


def test_compile_routes_loop_programs_to_cuda_when_asked():
    fn = _decay(3)
    assert resolve_backend("cuda", fn) == "cuda"
    assert resolve_backend("auto", fn) in ("llvm", "numba", "numpy")
