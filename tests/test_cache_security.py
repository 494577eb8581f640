"""Attacks on the kernel cache (backends/cache_security.py, kernel_cache.py, the llvm object
cache): swapped entries, truncated entries, a planted pickle that would leave a marker if it were
ever unpickled, folders with loose permissions or another owner. Every one must be refused, and
the compiled kernel must still give the right answer.
"""

from __future__ import annotations

import os
import pickle
import stat
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from symnum.backends import cache_security as cs
from symnum.backends import kernel_cache as kc
from symnum.backends import lower

import symnum as sn
from symnum.__main__ import main
from symnum.errors import CacheWarning


@pytest.fixture(autouse=True)
def fresh(monkeypatch, tmp_path):
    """A fresh process's view: no loaded modules, folders checked again, a new cache root."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(kc, "_LOADED", {})
    cs.forget_checked_dirs()
    yield
    cs.forget_checked_dirs()


def _forget_modules() -> None:
    for key in list(kc._LOADED):
        sys.modules.pop(key, None)
    kc._LOADED.clear()


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


class Marker:
    """Unpickling this creates a folder: proof that a planted pickle ran."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


# llvm objects ----------------------------------------------------------------------------------
def _llvm_pair(d: Path):
    x = sn.symbols("x")
    plus = lower(sn.Fn([x], x + 1), "llvm", cache_dir=d)
    times = lower(sn.Fn([x], x * 3), "llvm", cache_dir=d)
    return Path(plus.info["cache_file"]), Path(times.info["cache_file"])


def test_llvm_swapped_objects_are_refused(tmp_path):
    d = tmp_path / "c"
    a, b = _llvm_pair(d)
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)  # each entry now holds the other kernel's (authentic) object code
    x = sn.symbols("x")
    with pytest.warns(CacheWarning, match="refused cached object"):
        plus = lower(sn.Fn([x], x + 1), "llvm", cache_dir=d)
    assert not plus.info["cache_hit"] and float(plus(1.0)) == 2.0  # was 3.0 before the fix


@pytest.mark.parametrize("damage", ["truncated", "old unauthenticated format", "empty"])
def test_llvm_damaged_or_forged_object_is_refused(tmp_path, damage):
    import hashlib

    d = tmp_path / "c"
    a, b = _llvm_pair(d)
    obj_b = cs.unseal(b.name.removesuffix(".o"), b.read_bytes()[len(b"symnum-llvm-object 2\n"):])
    assert obj_b is not None
    if damage == "truncated":
        a.write_bytes(a.read_bytes()[:200])
    elif damage == "old unauthenticated format":  # what the checksum-only reader accepted
        magic = b"symnum-llvm-object 1\n"
        a.write_bytes(magic + hashlib.blake2b(obj_b, digest_size=16).hexdigest().encode() + obj_b)
    else:
        a.write_bytes(b"")
    x = sn.symbols("x")
    with pytest.warns(CacheWarning):
        plus = lower(sn.Fn([x], x + 1), "llvm", cache_dir=d)
    assert not plus.info["cache_hit"] and float(plus(1.0)) == 2.0
    again = lower(sn.Fn([x], x + 1), "llvm", cache_dir=d)  # the entry was rewritten, authentic
    assert again.info["cache_hit"] and float(again(1.0)) == 2.0


def test_llvm_entry_carries_its_full_key(tmp_path):
    a, _ = _llvm_pair(tmp_path / "c")
    key = a.name.removesuffix(".o")
    assert len(key) == len("llvm_") + 64  # 256-bit key
    data = a.read_bytes()[len(b"symnum-llvm-object 2\n"):]
    assert cs.unseal(key, data) is not None
    assert cs.unseal(key[:-1] + ("0" if key[-1] != "0" else "1"), data) is None


# numba's pickles -------------------------------------------------------------------------------
def _numba_kernel(d: Path, expr: str = "sin"):
    x, y = sn.symbols("x y")
    out = sn.sin(x) * y + 1.25 if expr == "sin" else sn.cos(x) * y - 0.5
    return lower(sn.Fn([x, y], out), "numba", cache_dir=d)


def _numba_files(d: Path, key: str) -> list[Path]:
    return sorted((d / "__pycache__").glob(f"{key}*.nb[ic]"))


def test_numba_files_are_authenticated_and_private(tmp_path):
    d = tmp_path / "c"
    k = _numba_kernel(d)
    files = _numba_files(d, k.info["module"])
    assert files and all(_mode(p) == 0o600 for p in files)
    assert all(p.read_bytes().startswith(b"symnum-mac1\n") for p in files)
    assert _mode(d) == 0o700 and _mode(d / "__pycache__") == 0o700
    assert _mode(d / f"{k.info['module']}.py") == 0o600
    assert _mode(tmp_path / "xdg" / "symnum" / "secret.key") == 0o600
    assert not list(d.rglob("*.tmp"))  # atomic writes leave no temporaries
    _forget_modules()
    again = _numba_kernel(d)  # authentic files hit
    assert again.info["cache_hit"] and float(again(0.5, 2.0)) == float(k(0.5, 2.0))


def test_planted_numba_pickle_is_never_unpickled(tmp_path):
    d = tmp_path / "c"
    k = _numba_kernel(d)
    want = float(k(0.5, 2.0))
    marker = tmp_path / "PWNED"
    payload = pickle.dumps(Marker(marker))
    pickle.loads(payload)  # the planted bytes really run code when unpickled ...
    assert marker.exists()
    marker.rmdir()
    import numba

    files = _numba_files(d, k.info["module"])
    for p in files:  # ... written in numba's own index format over every file of the entry
        p.write_bytes(pickle.dumps(numba.__version__) + payload if p.suffix == ".nbi" else payload)
    _forget_modules()
    with pytest.warns(CacheWarning, match="refused numba cache file"):
        again = _numba_kernel(d)
    assert not marker.exists()  # ... and were refused
    assert not again.info["cache_hit"] and float(again(0.5, 2.0)) == want


def test_swapped_numba_machine_code_is_refused(tmp_path):
    d = tmp_path / "c"
    k1, k2 = _numba_kernel(d, "sin"), _numba_kernel(d, "cos")
    w1 = float(k1(0.5, 2.0))
    f1 = [p for p in _numba_files(d, k1.info["module"]) if ".kernel-" in p.name
          and p.suffix == ".nbc"]
    f2 = [p for p in _numba_files(d, k2.info["module"]) if ".kernel-" in p.name
          and p.suffix == ".nbc"]
    # one file per compiled signature (writable and read-only inputs): swap them pairwise
    assert len(f1) == len(f2) >= 1
    for a, b in zip(sorted(f1), sorted(f2)):
        ba, bb = a.read_bytes(), b.read_bytes()
        a.write_bytes(bb)
        b.write_bytes(ba)
    _forget_modules()
    with pytest.warns(CacheWarning):
        again = _numba_kernel(d, "sin")
    assert not again.info["cache_hit"] and float(again(0.5, 2.0)) == w1


def test_truncated_numba_index_is_refused(tmp_path):
    d = tmp_path / "c"
    k = _numba_kernel(d)
    for p in _numba_files(d, k.info["module"]):
        if p.suffix == ".nbi":
            p.write_bytes(p.read_bytes()[:30])
    _forget_modules()
    with pytest.warns(CacheWarning):
        again = _numba_kernel(d)
    assert not again.info["cache_hit"] and float(again(0.5, 2.0)) == float(k(0.5, 2.0))


def test_module_runs_from_the_keyed_source_not_the_file(tmp_path):
    """A module file swapped after the check, or a planted .pyc, is never executed: the module
    is compiled from the source it is looked up by."""
    src = "VALUE = 42\n"
    key = kc.source_key(src, "t")
    d = tmp_path / "c"
    kc.load_module(src, key, d)
    pyc = d / "__pycache__" / f"{key}.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc"
    assert not pyc.exists()  # Python's own bytecode cache is never written ...
    import py_compile

    evil = tmp_path / "evil.py"
    evil.write_text("VALUE = 666\n")
    py_compile.compile(str(evil), cfile=str(pyc))  # ... and a planted one is never read
    _forget_modules()
    mod, hit = kc.load_module(src, key, d)
    assert hit and mod.VALUE == 42


# folders ---------------------------------------------------------------------------------------
def test_world_writable_folder_is_refused(tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    d.chmod(0o777)
    x = sn.symbols("x")
    with pytest.warns(CacheWarning, match="writable by group or others"):
        k = lower(sn.Fn([x], x + 1), "llvm", cache_dir=d)
    assert float(k(1.0)) == 2.0
    assert not list(d.iterdir())  # nothing was written into the open folder
    used = Path(k.info["cache_file"]).parent
    assert used != d and _mode(used) == 0o700


def test_group_writable_folder_is_refused_for_numba(tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    d.chmod(0o770)
    with pytest.warns(CacheWarning):
        k = _numba_kernel(d)
    assert float(k(0.5, 2.0)) == pytest.approx(np.sin(0.5) * 2 + 1.25)
    assert not list(d.iterdir())


@pytest.mark.skipif(os.getuid() != 0, reason="changing a folder's owner needs root")
def test_folder_owned_by_another_user_is_refused(tmp_path):
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, 4242, -1)
    x = sn.symbols("x")
    with pytest.warns(CacheWarning, match="owned by uid 4242"):
        k = lower(sn.Fn([x], x + 1), "llvm", cache_dir=d)
    assert float(k(1.0)) == 2.0 and not list(d.iterdir())


def test_folder_under_an_open_ancestor_is_refused(tmp_path):
    parent = tmp_path / "shared"
    d = parent / "mine"
    d.mkdir(parents=True, mode=0o700)
    parent.chmod(0o777)  # no sticky bit: anyone could rename "mine" away and put theirs there
    assert "ancestor" in cs.folder_problem(d)
    parent.chmod(0o1777)  # as /tmp: fine
    assert cs.folder_problem(d) is None


def test_own_readable_folder_is_tightened_not_refused(tmp_path):
    d = tmp_path / "old"
    d.mkdir(mode=0o755)  # what older symnum versions created
    d.chmod(0o755)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert cs.private_dir(d) == d
    assert _mode(d) == 0o700


def test_secret_readable_by_others_is_replaced(tmp_path):
    first = cs.secret()
    path = tmp_path / "xdg" / "symnum" / "secret.key"
    assert _mode(path) == 0o600 and len(path.read_bytes()) == 32
    path.chmod(0o644)
    cs.forget_checked_dirs()
    second = cs.secret()
    assert second != first and _mode(path) == 0o600  # the old one may be known: void


def test_refused_folder_for_the_secret_gives_a_process_secret(tmp_path):
    root = tmp_path / "xdg" / "symnum"
    root.mkdir(parents=True)
    root.chmod(0o777)
    s1 = cs.secret()
    assert len(s1) == 32 and not (root / "secret.key").exists()


# python -m symnum cache info | clear -----------------------------------------------------------
def test_cache_cli_info_and_clear(tmp_path, capsys):
    d = tmp_path / "c"
    _llvm_pair(d)
    assert main(["cache", "info", "--dir", str(d)]) == 0
    out = capsys.readouterr().out
    assert str(d) in out and "private (trusted)" in out and "llvm objects: 2" in out
    assert main(["cache", "clear", "--dir", str(d)]) == 0
    assert "removed 2 file(s)" in capsys.readouterr().out
    assert kc.cache_info(d)["entries"]["llvm objects"] == 0


def test_cache_cli_default_folder(capsys, tmp_path):
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "xdg" / "symnum" / "kernels") in out and "does not exist yet" in out
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    main(["cache", "info", "--dir", str(open_dir)])
    assert "REFUSED" in capsys.readouterr().out


def test_swapped_llvm_index_entries_are_refused(tmp_path):
    # the index in front of the object cache maps a function to an object: an entry moved onto
    # another function's name must not make that function run the other kernel
    d = tmp_path / "c"
    x = sn.Sym("x")
    f1, f2 = sn.Fn([x], x + 1), sn.Fn([x], x * 3)
    lower(f1, "llvm", cache_dir=d), lower(f2, "llvm", cache_dir=d)
    entries = sorted(d.glob("llvmfn_*.json"))
    assert len(entries) == 2
    a, b = entries[0].read_bytes(), entries[1].read_bytes()
    entries[0].write_bytes(b)
    entries[1].write_bytes(a)
    k1, k2 = lower(f1, "llvm", cache_dir=d), lower(f2, "llvm", cache_dir=d)
    assert not k1.info.get("index_hit") and not k2.info.get("index_hit")
    assert float(k1(2.0)) == 3.0 and float(k2(2.0)) == 6.0
    assert all(_mode(p) == 0o600 for p in d.glob("llvmfn_*.json"))
