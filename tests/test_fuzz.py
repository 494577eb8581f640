"""The differential fuzzer at CI size (seeded, a few seconds): every category symnum computes a
value in agrees on random in-domain expressions, ties and branches included."""

from __future__ import annotations

import warnings

import numpy as np

from symnum.testing.fuzz import NUMPY, Report, draw_recipes, fuzz_round, numpy_value, summary


def test_ci_round_has_no_genuine_mismatch(tmp_path):
    rep = Report()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fuzz_round(rep, seed=13, n_exprs=12, n_points=12, backends=("llvm", "numba"),
                   cache_dir=str(tmp_path))
    cats = {c[0] for c in rep.triples}
    assert {"value", "diff-vs-fd", "grad-vs-diff", "jvp-vs-grad", "vjp-vs-grad",
            "taylor-vs-diff"} <= cats
    assert {c[2] for c in rep.triples} >= {"numpy", "evaluate", "llvm-batched", "llvm-scalar",
                                            "numba-batched", "numba-scalar"}
    assert sum(rep.triples.values()) > 2000
    assert not rep.genuine(), summary(rep) + "\n" + "\n".join(map(str, rep.genuine()))


def test_recipes_are_reproducible_and_cover_conditions():
    a, b = draw_recipes(30, seed=5), draw_recipes(30, seed=5)
    assert a == b
    assert any("ifelse" in str(r) for r in a)


def test_the_fuzzer_catches_a_wrong_answer():
    # a planted bug: the numpy oracle's sin made wrong must show up as genuine mismatches
    good = NUMPY["sin"]
    NUMPY["sin"] = lambda v: good(v) + 1e-6
    try:
        rep = Report()
        fuzz_round(rep, seed=3, n_exprs=40, n_points=8, backends=(), simplifiers=(),
                   transforms=False)
        assert any(m[0] == ("value", "none", "numpy") for m in rep.genuine())
    finally:
        NUMPY["sin"] = good


def test_numpy_interpreter_reads_recipes():
    r = ("ifelse", ("lt", ("sym", 0), ("const", 0.5)), ("sin", ("sym", 1)), ("const", 2))
    xs = [np.array([0.0, 1.0]), np.array([0.3, 0.3])]
    np.testing.assert_array_equal(numpy_value(r, xs), [np.sin(0.3), 2.0])


def test_the_oracle_knows_every_generated_op():
    from symnum.testing import CONDITION_OPS, VALUE_OPS

    assert set(VALUE_OPS) | set(CONDITION_OPS) <= set(NUMPY)
