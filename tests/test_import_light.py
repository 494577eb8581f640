"""`import symnum` must stay light: the heavy or optional packages load only when asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["numba", "llvmlite", "egglog", "sympy", "scipy", "networkx"]
REGISTRIES = ["symnum.rewrites", "symnum.backends"]  # reached lazily, by name
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


@pytest.mark.parametrize("name", REGISTRIES)
def test_import_symnum_loads_no_registry_package(name):
    assert name not in loaded_after("import symnum")


def test_no_top_level_backends_or_rewrites_module_is_imported():
    mods = top_level(loaded_after("import symnum; symnum.compile(lambda x: x * 2)(1.0); "
                                  "symnum.simplify(symnum.Sym('x'))"))
    assert "backends" not in mods and "rewrites" not in mods


def test_compiling_works_beside_a_users_own_backends_package(tmp_path):
    # a user's folder holding packages named like ours must not shadow symnum's (issue 9)
    for name in ("backends", "rewrites"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the user package')\n")
    code = ("import symnum as sn\n"
            "print(sn.compile(lambda x: x * 2, backend='llvm')(1.5), "
            "sn.simplify(sn.sin(sn.Sym('x'))**2 + sn.cos(sn.Sym('x'))**2))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3.0", "1"]


def test_the_probe_sees_imports():
    # guard against a probe that could never fail
    assert {"numba", "symnum"} <= top_level(loaded_after("import symnum, numba"))


def test_backends_registry_imports_backends_lazily():
    mods = loaded_after("from symnum import backends")
    assert "symnum.backends" in mods
    assert "symnum.backends.numpy_backend" not in mods and "numba" not in top_level(mods)
    assert "symnum.backends.numpy_backend" in loaded_after(
        "from symnum import backends; backends.get_backend('numpy')")
