"""The on-disk kernel cache (backends/kernel_cache.py): content-hash keys, miss then hit, and
corrupt entries (module file or numba's machine code beside it) rebuilt, never trusted.

Most tests load plain Python modules (no numba compile); three tiny numba kernels check the
real thing, one of them in a fresh interpreter. Everything lives in temporary directories.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from symnum.backends import kernel_cache as kc

ROOT = Path(__file__).resolve().parents[1]
SOURCE = 'VALUE = 42\n\ndef f(a):\n    return a + VALUE\n'


@pytest.fixture(autouse=True)
def fresh_loaded(monkeypatch):
    """Each test sees an empty in-process table, as a fresh process would."""
    monkeypatch.setattr(kc, "_LOADED", {})


def key_of(source: str = SOURCE) -> str:
    return kc.source_key(source, "test")


# ---------------------------------------------------------------------------------------------
# keys and directories


def test_source_key_is_a_stable_module_name():
    k = key_of()
    assert k == key_of() and k.startswith("k_") and k.isidentifier() and len(k) == 34
    assert key_of(SOURCE + " ") != k
    assert kc.source_key(SOURCE, "other salt") != k


def test_source_key_covers_the_numba_version(monkeypatch):
    import numba

    before = key_of()
    monkeypatch.setattr(numba, "__version__", "0.0.0-stale")
    assert key_of() != before  # machine code cached by another numba is never reused


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kc.default_cache_dir() == tmp_path / "symnum" / "kernels"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kc.default_cache_dir() == tmp_path / "home" / ".cache" / "symnum" / "kernels"


# ---------------------------------------------------------------------------------------------
# miss, hit, corrupt: plain modules


def test_miss_then_hit(tmp_path):
    d = tmp_path / "new" / "dir"  # created on demand
    key = key_of()
    mod, hit = kc.load_module(SOURCE, key, d)
    assert not hit and mod.f(1) == 43
    assert (d / f"{key}.py").read_text() == SOURCE
    again, hit = kc.load_module(SOURCE, key, d)
    assert hit and again is mod  # same process: the loaded module
    kc._LOADED.clear()  # as in a new process: read back from disk
    fresh, hit = kc.load_module(SOURCE, key, d)
    assert hit and fresh is not mod and fresh.f(2) == 44
    assert not list(d.glob("*.tmp"))  # atomic writes leave no temporaries


CORRUPTIONS = {
    "garbage bytes": b"\xff\xfe\x00\x81garbage\x00",
    "truncated": SOURCE.encode()[: len(SOURCE) // 2],
    "empty": b"",
    "foreign module": b"VALUE = 666\n\ndef f(a):\n    return -a\n",
    "source plus junk": SOURCE.encode() + b"\nimport os\n",
}


@pytest.mark.parametrize("damage", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_corrupt_module_file_is_rebuilt(tmp_path, damage):
    key = key_of()
    path = tmp_path / f"{key}.py"
    path.write_bytes(damage)
    pycache = tmp_path / "__pycache__"
    pycache.mkdir()
    stale = [pycache / f"{key}.kernel-7.py311.nbi", pycache / f"{key}.kernel-7.py311.1.nbc"]
    for p in stale:
        p.write_bytes(b"stale machine code")
    other = pycache / "k_someone_else.nbi"
    other.write_bytes(b"keep")
    mod, hit = kc.load_module(SOURCE, key, tmp_path)
    assert not hit and mod.VALUE == 42 and mod.f(0) == 42
    assert path.read_text() == SOURCE
    assert not any(p.exists() for p in stale) and other.exists()  # only this entry's files


def test_module_that_fails_to_import_is_not_remembered(tmp_path):
    bad = "def f(:\n"
    key = key_of(bad)
    with pytest.raises(SyntaxError):
        kc.load_module(bad, key, tmp_path)
    assert key not in kc._LOADED and key not in sys.modules


def test_entry_that_cannot_be_replaced_raises(tmp_path):
    key = key_of()
    (tmp_path / f"{key}.py").mkdir()  # a directory where the module should be
    with pytest.raises(OSError):
        kc.load_module(SOURCE, key, tmp_path)  # cannot be replaced by a file: say so, loudly
    assert key not in kc._LOADED and not list(tmp_path.glob("*.tmp"))


# ---------------------------------------------------------------------------------------------
# real numba kernels: machine code cached beside the module


def _tiny_fn():
    import symnum as sn

    x, y = sn.symbols("x y")
    return sn.Fn([x, y], sn.sin(x) * y + 1.25)


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("numba_kernels")


def _lower(cache_dir):
    from symnum.backends.numba_backend import lower

    return lower(_tiny_fn(), cache_dir=cache_dir)


def _forget(key: str) -> None:
    kc._LOADED.clear()
    sys.modules.pop(key, None)


def test_numba_kernel_miss_then_hit_from_disk(kernel_dir):
    k = _lower(kernel_dir)
    key = k.info["module"]
    assert not k.info["cache_hit"] and k.kernel.stats.cache_misses
    assert list((kernel_dir / "__pycache__").glob(f"{key}*.nbi"))  # numba's index beside it
    _forget(key)
    again = _lower(kernel_dir)
    assert again.info["cache_hit"] and again.kernel is not k.kernel
    assert again.kernel.stats.cache_hits and not again.kernel.stats.cache_misses
    assert float(again(0.5, 2.0)) == float(k(0.5, 2.0))


def test_numba_kernel_hit_in_a_fresh_process(kernel_dir):
    _lower(kernel_dir)  # make sure the entry exists
    code = (
        "import json, sys\n"
        "from backends.numba_backend import lower\n"
        "import symnum as sn\n"
        "x, y = sn.symbols('x y')\n"
        f"k = lower(sn.Fn([x, y], sn.sin(x) * y + 1.25), cache_dir={str(kernel_dir)!r})\n"
        "print(json.dumps([k.info['cache_hit'], sum(k.kernel.stats.cache_hits.values()),"
        " sum(k.kernel.stats.cache_misses.values()), float(k(0.5, 2.0))]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    hit, numba_hits, numba_misses, value = json.loads(out.stdout.strip().splitlines()[-1])
    # one hit per signature (writable and read-only inputs), no compile
    assert hit and numba_hits == 2 and numba_misses == 0
    assert value == float(_lower(kernel_dir)(0.5, 2.0))


@pytest.mark.parametrize("what", ["module file", "machine code"])
def test_corrupt_numba_entry_is_rebuilt(kernel_dir, what):
    k = _lower(kernel_dir)
    key = k.info["module"]
    want = float(k(0.5, 2.0))
    _forget(key)
    if what == "module file":
        path = kernel_dir / f"{key}.py"
        path.write_text(path.read_text()[:40])
    else:  # numba's pickled machine code, truncated
        for p in (kernel_dir / "__pycache__").glob(f"{key}*.nbc"):
            p.write_bytes(p.read_bytes()[:10])
    rebuilt = _lower(kernel_dir)
    assert not rebuilt.info["cache_hit"] and rebuilt.kernel.stats.cache_misses
    assert float(rebuilt(0.5, 2.0)) == want
    assert (kernel_dir / f"{key}.py").read_text() == rebuilt.source
