"""The random-numpy-program fuzzer at CI size (seeded, a few seconds): a traced program agrees with
plain numpy running it, in scalar and array mode, simplified, compiled, and differentiated."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings

from symnum.testing import numpy_programs
from symnum.testing.fuzz import Report, summary
from symnum.testing.fuzz_programs import draw_programs, program_points, program_round
from symnum.testing.programs import INPUTS, UNARY, program_ops, run_program


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_ci_round_of_programs_has_no_genuine_mismatch(tmp_path):
    rep = Report()
    # interpreter, array mode, both simplifiers and derivatives on 6 programs; the compiled
    # backends on 2 (numba compiles are the slow part)
    _quiet(program_round, rep, seed=7, n_programs=6, n_points=8, backends=(), array_grad=False,
           cache_dir=str(tmp_path))
    _quiet(program_round, rep, seed=8, n_programs=2, n_points=6, backends=("llvm", "numba"),
           simplifiers=("rules",), array_grad=True, cache_dir=str(tmp_path))
    cats = set(rep.triples)
    assert {("value", "none", "evaluate"), ("value", "array", "evaluate"),
            ("value", "rules", "evaluate"), ("value", "egraph", "evaluate"),
            ("value", "none", "llvm-batched"), ("value", "none", "numba-scalar"),
            ("grad-vs-jvp", "none", "evaluate")} <= cats, cats
    assert sum(rep.triples.values()) > 1000
    assert not rep.genuine(), summary(rep) + "\n" + "\n".join(map(str, rep.genuine()))


def test_programs_are_reproducible_and_cover_the_numpy_idioms():
    a, b = draw_programs(40, seed=3), draw_programs(40, seed=3)
    assert a == b
    ops = set().union(*(program_ops(p) for p in a))
    assert {"where", "tie", "matmul"} <= ops
    assert ops & {"sum", "mean", "max", "min", "prod"}
    assert ops & {"tail", "head", "rev", "first", "col", "T", "newaxis"}


@settings(max_examples=25, deadline=None)
@given(numpy_programs())
def test_programs_run_in_domain_on_plain_numpy(program):
    rng = np.random.default_rng(0)
    args = [rng.uniform(-2, 2, shape) if shape else float(rng.uniform(-2, 2))
            for _, shape in INPUTS]
    with np.errstate(all="raise"):  # in domain: no NaN, no overflow, no division by zero
        outs = run_program(program, *args)
    assert all(np.all(np.abs(np.asarray(o)) < 1e3) for o in outs)


def test_ties_are_in_the_points():
    args = program_points(np.random.default_rng(1), 8)
    assert np.array_equal(args[0][..., :2], args[1][..., :2])
    assert np.array_equal(args[3][:2], args[4][:2])


def test_the_program_fuzzer_catches_a_wrong_answer():
    # a planted bug in the oracle: sin off by 1e-6 must show up as genuine mismatches
    good = UNARY["sin"]
    UNARY["sin"] = (lambda x: np.sin(x) + 1e-6 if isinstance(x, (float, np.ndarray))
                    and np.asarray(x).dtype != object else np.sin(x), good[1])
    try:
        rep = Report()
        progs = [p for p in draw_programs(60, seed=11) if "sin" in program_ops(p)]
        assert progs
        _quiet(program_round, rep, seed=11, n_programs=60, n_points=4, backends=(),
               simplifiers=(), array=False, transforms=False)
        assert any(m[0] == ("value", "none", "evaluate") for m in rep.genuine())
    finally:
        UNARY["sin"] = good


def _replay(program, **kwargs):
    from symnum.testing import fuzz_programs as FP

    rep = Report()
    draw = FP.draw_programs
    FP.draw_programs = lambda n, seed: [program]
    try:
        _quiet(FP.program_round, rep, seed=1, n_programs=1, n_points=16, backends=(),
               simplifiers=(), array_grad=False, **kwargs)
    finally:
        FP.draw_programs = draw
    return rep


def test_a_kink_at_a_tie_is_not_a_derivative_mismatch():
    # max(s, t) written with np.where, at the tied points s = t: central differences are
    # step-independent there, only the one-sided test tells the kink apart
    prog = ((("v0", "where", "gt", "s", "t", "s", "t"),), ("v0",))
    rep = _replay(prog, array=False)
    assert rep.triples[("grad-vs-fd", "none", "evaluate")] == 12  # the 4 ties left out
    assert not rep.mismatches


def test_array_mode_equality_takes_the_tied_branch():
    # `==` on array terms once was structural identity, so np.where(a == b, ...) with a
    # numerically equal to b took the other branch (the fuzzer's first catch); now np.equal
    prog = ((("v0", "where", "eq", "a", "b", "s", "t"),), ("v0",))
    rep = _replay(prog, array=True)
    assert not rep.genuine()
    assert not [m for m in rep.mismatches if m[0][0] == "value"]  # values: every form agrees


def test_array_grad_of_a_binary_op_on_a_reversed_slice():
    # found by the program fuzzer: composed index maps (a reversed slice read inside a fused
    # loop) lacked parentheses in the generated loops and read the wrong elements
    import symnum as sn

    a, w = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, 3.0])
    b = np.array([0.5, 0.2, -0.4])
    for f in (lambda a, b: np.sum(w * np.hypot(b, a[::-1])),
              lambda a, b: np.sum(w * np.maximum(a[::-1], a))):
        want = sn.grad(f, argnums=(0, 1))(a, b)
        got = sn.grad(f, argnums=(0, 1), mode="array")(a, b)
        np.testing.assert_allclose(np.asarray(got[0], float), want[0], rtol=1e-12)
