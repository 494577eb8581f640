"""The llvm backend's object files on disk: sealed (an HMAC per user and key, see
cache_security), written atomically and privately, and refused — deleted, with a warning —
when they do not carry this user's MAC for exactly their key. Also where a failed compile's IR
is kept for the error message. Never compiles anything itself."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from symnum.backends.cache_security import private_dir, seal, unseal, write_private

from symnum.errors import CacheWarning, CompileError

MAGIC = b"symnum-llvm-object 2\n"


def fail(what: str, err: Exception, ir_text: str, key: str, cache_dir: Path | None) -> None:
    try:  # a private folder: a fixed name in a shared /tmp could be a planted symlink
        directory = private_dir(cache_dir) if cache_dir is not None else \
            Path(tempfile.mkdtemp(prefix="symnum-failed-"))
        path = directory / f"{key}.failed.ll"
        write_private(path, ir_text.encode())
        where = f"the generated IR is in {path}"
    except OSError:
        head = "\n".join(ir_text.splitlines()[:40])
        where = f"the generated IR starts:\n{head}"
    raise CompileError(f"LLVM {what} failed ({type(err).__name__}: {str(err).strip()}); "
                       f"{where}") from err


def read_cached(path: Path) -> bytes | None:
    """The object stored at `path` if symnum wrote it for exactly this key (the file's name);
    anything else (damaged, foreign, another entry's object) is deleted."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    key = path.name.removesuffix(".o")
    obj = unseal(key, data[len(MAGIC):]) if data.startswith(MAGIC) else None
    if obj is not None:
        return obj
    warnings.warn(f"symnum: refused cached object {path}: it does not carry this user's MAC "
                  "for this key (foreign, swapped or damaged); compiling again.", CacheWarning,
                  stacklevel=3)
    unlink(path)
    return None


def write_cached(path: Path, obj: bytes) -> None:
    try:  # atomic (temporary + os.replace), 0600: a concurrent reader sees old or new
        write_private(path, MAGIC + seal(path.name.removesuffix(".o"), obj))
    except OSError:
        pass  # a read-only cache is a slow cache, not an error


def unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
