"""What a user sees of the package itself: version, the public namespace, the distribution."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import symnum as sn


def test_version_is_one_fact():
    assert sn.__version__ == metadata.version("symnum")
    out = subprocess.run([sys.executable, "-m", "symnum", "--version"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"symnum {sn.__version__}"


def test_dir_shows_only_the_public_api():
    names = dir(sn)
    assert names == sorted(sn.__all__)
    for private in ("annotations", "np", "core", "tracing", "autodiff", "io", "_dispatch"):
        assert private not in names
    for public in ("trace", "grad", "compile", "simplify", "Sym", "errors", "SymArray"):
        assert public in names
    assert all(hasattr(sn, n) for n in sn.__all__)


def test_distribution_metadata():
    md = metadata.metadata("symnum")
    assert md["License-Expression"] == "MIT"
    assert "symnum developers" in (md["Author"] or md["Author-email"] or "")


def test_no_top_level_backends_or_rewrites_is_installed(tmp_path):
    # run outside the repository, where only what is installed can be found
    code = ("import importlib.util as u; import symnum.backends, symnum.rewrites; "
            "print(u.find_spec('backends'), u.find_spec('rewrites'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "None"]


def test_every_subpackage_is_in_the_distribution():
    # pyproject.toml lists the packages explicitly (package-dir maps rewrites/ and backends/):
    # a new subpackage missing there would be absent from a wheel
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "symnum").rglob(
        "__init__.py")}
    found |= {"symnum.rewrites", "symnum.backends"}
    assert found == listed
