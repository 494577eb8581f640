"""Where generated kernels live on disk: one module per kernel, keyed by content hash.

Location: `$XDG_CACHE_HOME/symnum/kernels`, else `~/.cache/symnum/kernels` (or the `cache_dir`
a backend is given); `python -m symnum cache info` prints it and `python -m symnum cache clear`
empties it. numba's `cache=True` needs a real module file (source run through exec has "no
locator"), so generated source is written to `<cache dir>/<hash>.py`; numba keeps its compiled
machine code in `__pycache__` beside it and the llvm backend its object files (`llvm_*.o`). The
hash covers the source text and the versions that shape the machine code.

Entries are never trusted (see `cache_security`): the folder must be private (0700, this user's;
otherwise a warning and a private temporary folder), the module file must equal the source it is
looked up by, and the module is run from that in-memory source, never from the file or a `.pyc`;
numba's pickles and llvm's objects carry an HMAC under a per-user secret bound to their entry's
name. Anything that fails a check is deleted and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

from symnum.backends.cache_security import (
    cache_root,
    folder_problem,
    numba_signing,
    private_dir,
    write_private,
)

_LOCK = threading.Lock()
_LOADED: dict[str, ModuleType] = {}


def default_cache_dir() -> Path:
    """The user's cache directory for symnum kernels (XDG_CACHE_HOME or ~/.cache)."""
    return cache_root() / "kernels"


def numba_cache() -> bool:
    """The `cache=` flag generated modules pass to numba: True only where numba's pickles are
    authenticated (`cache_security.numba_signing`)."""
    return numba_signing()


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


def is_loaded(key: str) -> bool:
    """Whether this process already holds the module for `key`."""
    return key in _LOADED


def load_module(source: str, key: str, cache_dir: Path | None) -> tuple[ModuleType, bool]:
    """Import the module for `source` from the cache (writing it first when absent).

    Returns (module, hit): hit is True when a file with exactly this source was already on disk.
    """
    with _LOCK:
        mod = _LOADED.get(key)
        if mod is not None:
            return mod, True
        directory = private_dir(Path(cache_dir) if cache_dir is not None else default_cache_dir())
        (directory / "__pycache__").mkdir(mode=0o700, exist_ok=True)  # numba's, made private
        numba_signing()  # before anything numba could read from this folder
        path = directory / f"{key}.py"
        hit = False
        if os.path.lexists(path):
            try:
                hit = not path.is_symlink() and path.read_bytes() == source.encode()
            except OSError:
                hit = False
            if not hit:  # corrupt or foreign: drop it and numba's files next to it
                _remove(path)
        if not hit:
            write_private(path, source.encode())
        try:
            mod = _import(path, key, source)
        except Exception:
            if not list(path.parent.glob(f"__pycache__/{path.stem}*.nb[ic]")):
                raise  # no machine code cached to blame: a real compile error
            # numba's machine code beside the module may be unusable though authentic (written
            # by another numba build): drop the whole entry and compile from source once more
            _remove(path)
            write_private(path, source.encode())
            hit = False
            mod = _import(path, key, source)
        _LOADED[key] = mod
        return mod, hit


def _import(path: Path, key: str, source: str) -> ModuleType:
    """Run `source` (the text this entry is keyed by, not the file's bytes: a file swapped after
    the check, or a planted `.pyc`, is never executed) as module `key` whose file is `path`
    (numba's cache locator needs the file and the module importable by name)."""
    code = compile(source, str(path), "exec")
    mod = ModuleType(key)
    mod.__file__ = str(path)
    sys.modules[key] = mod
    try:
        exec(code, mod.__dict__)
    except BaseException:
        sys.modules.pop(key, None)
        raise
    return mod


def _remove(path: Path) -> None:
    for p in [path, *path.parent.glob(f"__pycache__/{path.stem}*")]:
        try:
            p.unlink()  # a folder in an entry's place stays: replacing it then fails loudly
        except OSError:
            pass


# what `python -m symnum cache info | clear` show and do ----------------------------------------
_KINDS = {"numba modules": "k_*.py", "numba machine code": "__pycache__/k_*.nb[ic]",
          "llvm objects": "llvm_*.o", "failed IR dumps": "*.failed.ll"}


def cache_info(cache_dir: Path | str | None = None) -> dict:
    """Where the cache is, whether it is trusted, and what it holds (entries and bytes per kind).

    >>> import tempfile
    >>> cache_info(tempfile.mkdtemp())["entries"]["llvm objects"]
    0
    """
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    exists = directory.is_dir()
    info: dict = {"folder": str(directory), "exists": exists,
                  "secret": str(cache_root() / "secret.key"),
                  "problem": folder_problem(directory) if exists else None,
                  "entries": {}, "bytes": 0}
    for kind, pattern in _KINDS.items():
        files = [p for p in directory.glob(pattern) if p.is_file()] if exists else []
        info["entries"][kind] = len(files)
        info["bytes"] += sum(p.stat().st_size for p in files)
    return info


def format_cache_info(info: dict) -> str:
    """`cache_info` as the lines `python -m symnum cache info` prints."""
    state = ("does not exist yet" if not info["exists"] else
             f"REFUSED ({info['problem']})" if info["problem"] else "private (trusted)")
    lines = [f"kernel cache: {info['folder']}", f"  state: {state}",
             f"  secret key: {info['secret']}"]
    lines += [f"  {kind}: {n}" for kind, n in info["entries"].items()]
    lines.append(f"  total: {info['bytes'] / 1e6:.2f} MB")
    return "\n".join(lines)


def cache_clear(cache_dir: Path | str | None = None) -> int:
    """Delete every kernel entry in the folder (not the secret); returns the number of files.
    Only files symnum names are touched, so a mistyped folder loses nothing else."""
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    removed = 0
    with _LOCK:
        for pattern in (*_KINDS.values(), "*.tmp", "__pycache__/k_*"):
            for p in directory.glob(pattern):
                try:
                    p.unlink()
                    removed += 1
                except OSError:
                    pass
        _LOADED.clear()
    return removed
