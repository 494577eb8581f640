"""Where generated kernels live on disk: one importable module per kernel, keyed by content hash.

numba's `cache=True` needs a real module file (source run through exec has "no locator"), so
generated source is written to `<cache dir>/<hash>.py` and imported from there; numba then keeps
its compiled machine code beside it. The hash covers the source text and the versions that shape
the machine code, so a stale entry is never reused. A corrupt entry (unreadable, not importable,
missing the kernel) is deleted and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

_LOCK = threading.Lock()
_LOADED: dict[str, ModuleType] = {}


def default_cache_dir() -> Path:
    """The user's cache directory for symnum kernels (XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symnum" / "kernels"


# modules generated kernels import: numba's cache tracks only the generated file, so their
# source is part of every key (an edited intrinsic must not leave stale machine code behind)
_IMPORTED_BY_KERNELS = ("numba_ops.py",)
_HELPERS: list[str] = []


def _helpers_digest() -> str:
    if not _HELPERS:
        h = hashlib.blake2b(digest_size=16)
        for name in _IMPORTED_BY_KERNELS:
            h.update((Path(__file__).parent / name).read_bytes())
        _HELPERS.append(h.hexdigest())
    return _HELPERS[0]


def source_key(source: str, *salt: str) -> str:
    """Content hash naming a kernel module (also a valid Python module name)."""
    import numba
    import numpy

    h = hashlib.blake2b(digest_size=16)
    for part in (source, numba.__version__, numpy.__version__, sys.version, _helpers_digest(),
                 *salt):
        h.update(part.encode())
        h.update(b"\0")
    return "k_" + h.hexdigest()


def load_module(source: str, key: str, cache_dir: Path | None) -> tuple[ModuleType, bool]:
    """Import the module for `source` from the cache (writing it first when absent).

    Returns (module, hit): hit is True when a valid file was already on disk.
    """
    with _LOCK:
        mod = _LOADED.get(key)
        if mod is not None:
            return mod, True
        directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{key}.py"
        hit = False
        if path.exists():
            try:
                hit = path.read_text() == source
            except (OSError, UnicodeDecodeError):
                hit = False
            if not hit:  # corrupt or foreign: drop it and numba's files next to it
                _remove(path)
        if not hit:
            _atomic_write(path, source)
        try:
            mod = _import(path, key)
        except Exception:
            if not list(path.parent.glob(f"__pycache__/{path.stem}*.nb[ic]")):
                raise  # no machine code cached to blame: a real compile error
            # numba's machine code beside the module may be corrupt (a truncated .nbc fails to
            # unpickle): drop the whole entry and compile from source once more
            _remove(path)
            _atomic_write(path, source)
            hit = False
            mod = _import(path, key)
        _LOADED[key] = mod
        return mod, hit


def _import(path: Path, key: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(key, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import generated kernel module {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[key] = mod  # numba's cache locator needs the module to be importable by name
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(key, None)
        raise
    return mod


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)  # never leave a half-written temporary behind
        raise


def _remove(path: Path) -> None:
    for p in [path, *path.parent.glob(f"__pycache__/{path.stem}*")]:
        try:
            p.unlink()
        except OSError:
            pass
