"""`import symnum` must stay light: the heavy or optional packages load only when asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["numba", "llvmlite", "egglog", "rewrites", "backends", "sympy", "scipy", "networkx"]
PROBE = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"


def loaded_after(code: str) -> set[str]:
    """Names in sys.modules after running `code` in a fresh interpreter (from the repo root)."""
    out = subprocess.run([sys.executable, "-c", code + PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def top_level(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


@pytest.fixture(scope="module")
def after_import() -> set[str]:
    return top_level(loaded_after("import symnum"))


@pytest.mark.parametrize("name", HEAVY)
def test_import_symnum_stays_light(after_import, name):
    assert name not in after_import, f"`import symnum` imported {name}"


def test_the_probe_sees_imports():
    # guard against a probe that could never fail
    assert {"numba", "symnum"} <= top_level(loaded_after("import symnum, numba"))


def test_backends_registry_imports_backends_lazily():
    mods = loaded_after("import backends")
    assert "backends" in mods
    assert "backends.numpy_backend" not in mods and "numba" not in top_level(mods)
    assert "backends.numpy_backend" in loaded_after(
        "import backends; backends.get_backend('numpy')")
