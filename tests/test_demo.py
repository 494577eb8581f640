"""The main job, `python -m symnum demo`: it runs end to end, checks itself, and fails loudly."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symnum import demo
from symnum.__main__ import build_parser, main
from symnum.demo import pipeline

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small():
    return demo.run_demo(n=5, seed=1)


def test_small_demo_passes(small):
    assert small.ok
    stages = [r.stage for r in small.rows]
    assert stages[:3] == ["numpy rhs (reference)", "trace", "simplify (rules)"]
    # every Fn is evaluated at the initial state and at a random state with the forcing on
    assert sum(s.startswith("evaluate") for s in stages) == 4
    assert sum(s.startswith("integrate BDF") for s in stages) == 2  # dense FD is opt-in
    # 4 evaluations, 2 compiled rhs, the compiled Jacobian vs differences, 1 final state
    assert len(small.checks) == 8 and all(c.error <= c.tol for c in small.checks)


def test_dense_fd_baseline_is_opt_in():
    r = demo.run_demo(n=4, seed=1, dense_fd=True)
    assert r.ok and sum(row.stage.endswith("dense FD") for row in r.rows) == 1
    assert len(r.checks) == 9


def test_rows_print_as_each_stage_finishes():
    seen = []
    r = demo.run_demo(n=4, seed=2, on_row=lambda row: seen.append((row.stage, len(seen))))
    assert [s for s, _ in seen] == [row.stage for row in r.rows]
    out = io.StringIO()
    assert demo.main(4, out=out) == 0
    text = out.getvalue()
    # the rows come before the checks, the table head before the first row
    assert text.index("stage") < text.index("trace") < text.index("[ok  ]")


def test_sizes_are_reported_and_simplify_does_not_grow_the_graph(small):
    rows = {r.stage: r for r in small.rows}
    traced, simplified = rows["trace"], rows["simplify (rules)"]
    assert traced.ops > 0 and traced.nodes > traced.ops
    # 2 outputs per grid point need at least a few operations each
    assert traced.ops >= 2 * 5 * 5
    assert simplified.ops <= traced.ops


def test_table_lists_every_stage_and_check(small):
    text = demo.format_table(small)
    for row in small.rows:
        assert row.stage in text
    assert text.count("[ok  ]") == 8
    assert text.rstrip().endswith("all checks passed")


def test_wrong_reference_fails_the_check(monkeypatch):
    def off_by_a_bit(state, t):
        return demo.brusselator_rhs(state, demo.PARAMS, t) + 1e-3

    r = demo.run_demo(n=4, reference=off_by_a_bit)
    values = [c for c in r.checks if "jacobian" not in c.name]  # a shift leaves J unchanged
    assert not r.ok and values and all(not c.ok for c in values)
    assert "CHECK FAILED" in demo.format_table(r)

    monkeypatch.setattr(pipeline, "_reference", off_by_a_bit)
    out = io.StringIO()
    assert demo.main(4, out=out) == 1
    assert "FAIL" in out.getvalue()


@pytest.mark.parametrize(
    ("error", "tol", "ok"),
    [(0.0, 0.0, True), (1e-9, 1e-8, True), (1e-7, 1e-8, False), (float("nan"), 1.0, False),
     (float("inf"), float("inf"), False)],
)
def test_check_verdicts(error, tol, ok):
    assert demo.Check("c", error, tol).ok is ok


def test_shape_mismatch_is_a_failed_check():
    c = demo._compare("x", np.zeros((2, 3)), np.zeros((3, 2)))
    assert not c.ok and "shape" in c.name


def test_cli_main_and_exit_code(capsys):
    assert main(["demo", "--n", "4", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "4x4 grid" in out and "all checks passed" in out and "dense FD" not in out
    assert main(["demo", "--n", "4", "--dense-fd"]) == 0
    assert "dense FD" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["demo", "--n", "2"], ["demo", "--n", "x"], ["nope"]])
def test_cli_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    assert e.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_run_demo_rejects_tiny_grid():
    with pytest.raises(ValueError, match="n >= 3"):
        demo.run_demo(n=2)


def test_python_dash_m_symnum_help():
    out = subprocess.run([sys.executable, "-m", "symnum", "demo", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--n N" in out.stdout


def test_jacobian_stage_array_path(monkeypatch):
    # the array path (index-map sparsity, coefficient loops) at a small size; its rows and
    # checks are the scalar path's
    from symnum.demo import solve

    monkeypatch.setattr(solve, "ARRAY_JACOBIAN_STATES", 0)
    r = demo.run_demo(n=4, seed=2)
    assert r.ok, demo.format_table(r)
    row = next(x for x in r.rows if x.stage == "compile jacobian")
    assert row.note == "numba"
    assert any(x.stage == "sparse jacobian (symbolic)" and "192 non-zeros" in x.note
               for x in r.rows)
