"""Loop programs on the llvm backend are sharded like straight-line kernels (backends/llvm_ir.py
`_segments`): a loop stays in one function with every reader of its table, values crossing
functions (a loop's carries among them) go through the scratch array. One function of ~15,000
instructions (a scalarised cummax gradient, n = 1,000) took 3-4 s at opt=1 — the tier upgrade
pending for seconds (benchmarks/results_issue12.md, "Session 4: small fixes")."""

from __future__ import annotations

import numpy as np
import pytest
from symnum.backends import llvm_backend

import symnum as sn


def _rotation_chain(steps: int):
    a0, b0, w = sn.symbols("a b w")
    a, b, outs = a0, b0, []
    for _ in range(steps):
        a, b = a * 0.99 - b * w + 0.01, a * w + b * 0.99
        outs += [a, b]  # every step an output: the loop's table, read after it
    return sn.Fn((a0, b0, w), outs + [a * b])


@pytest.mark.parametrize("shard", [8, 40, 250])
def test_a_rolled_chain_split_into_functions_matches_the_straight_line_kernel(shard):
    fn = _rotation_chain(120)
    args = (1.0, 0.5, 0.02)
    rolled = llvm_backend.lower(fn, shard=shard, reroll=2, cache=False, tier=False)
    straight = llvm_backend.lower(fn, reroll=False, cache=False, tier=False)
    assert rolled.info["rolled"]
    if shard < 250:
        assert rolled.info["functions"] > 1
    np.testing.assert_array_equal(np.ravel(rolled(*args)), np.ravel(straight(*args)))
    ref = np.ravel(np.asarray(fn.evaluate(args), dtype=np.float64))
    np.testing.assert_allclose(np.ravel(rolled(*args)), ref, rtol=1e-12)


def test_the_scalarised_cummax_gradient_is_sharded_and_right():
    n = 1000
    x = np.random.default_rng(3).random(n)
    g = sn.jit(sn.grad(lambda v: np.sum(np.maximum.accumulate(v))), mode="array",
               cache=False, tier=False)
    got = g(x)
    k = list(g._entries.values())[0].compiled
    assert k.info.get("rolled") and k.info["functions"] > 1
    runs = np.maximum.accumulate(x)
    owner = np.array([np.flatnonzero(x[:j + 1] == runs[j])[0] for j in range(n)])
    np.testing.assert_array_equal(got, np.bincount(owner, minlength=n).astype(float))


def test_shared_tables_let_a_cut_fall_between_a_loop_and_its_readers():
    """With shared tables (backends.llvm_segments.shared_tables) a loop's table read in a later
    function is a slice of the scratch array: more functions, the same bits."""
    import functools

    from symnum.backends import llvm_ir, llvm_segments

    fn = _rotation_chain(120)
    args = (1.0, 0.5, 0.02)
    got = {}
    for share in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(llvm_ir, "_segments",
                       functools.partial(llvm_segments.segments, share_tables=share))
            k = llvm_backend.lower(fn, shard=8, reroll=2, cache=False, tier=False)
        got[share] = (k.info["functions"], np.ravel(k(*args)), k.source)
    assert got[True][0] > got[False][0]
    assert "* %c, i64" in got[True][2] and "%T" in got[True][2]
    np.testing.assert_array_equal(got[True][1], got[False][1])
