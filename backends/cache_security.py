"""Trust for the on-disk kernel cache: private folders, a per-user secret, authenticated entries.

Sits under `kernel_cache` (numba modules) and `llvm_backend` (object code); imports nothing from
symnum but `symnum.errors`. It must never let a byte from a cache folder reach `pickle`, the
JIT linker or `exec` unless an HMAC under this user's secret proves that symnum wrote it for
exactly that entry (the MAC covers the entry's name, so two swapped entries both fail).

* Folders are 0700 and files 0600. A folder that is owned by another user, or writable by
  group/others (the folder itself or an ancestor without the sticky bit, through which it could
  be renamed away), is refused with a `CacheWarning`; a fresh private temporary folder serves
  this process instead.
* The secret is 32 random bytes in `<cache root>/secret.key` (0600, in the private root);
  when the root itself is refused, a per-process secret is used (entries then never hit across
  processes, but nothing foreign is trusted).
* numba's cache (index `*.nbi` and data `*.nbc` are pickles) is authenticated inside numba's
  own reader: `IndexDataCacheFile` reads a file once, and for symnum's generated modules (file
  names `k_<32 hex>.*`) the bytes are checked against their MAC before `pickle.loads` sees them.
  Reading once and unpickling the checked bytes leaves no window between check and use. Other
  numba caches are untouched. If numba's internals ever differ from what this expects,
  `numba_signing()` is False and generated modules are compiled without numba's disk cache.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import tempfile
import threading
import warnings
from pathlib import Path

from symnum.errors import CacheWarning

_LOCK = threading.RLock()
_PRIVATE: dict[str, Path] = {}  # requested folder -> the folder actually used (checked once)
_SECRET: dict[str, bytes] = {}  # cache root -> its secret
MAC_BYTES = 32
_MAC_MAGIC = b"symnum-mac1\n"


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/symnum`, else `~/.cache/symnum`: the secret and the default kernels."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symnum"


# private folders -------------------------------------------------------------------------------
def folder_problem(path: Path) -> str | None:
    """Why `path` (an existing folder) is unsafe to trust, or None. Checks the folder and every
    ancestor: each must be owned by this user or root, and none may be writable by group or
    others unless it has the sticky bit (as /tmp has: nobody else can rename entries in it)."""
    if not hasattr(os, "getuid"):  # Windows: no POSIX owners or modes (the MACs still hold)
        return None if path.is_dir() else "it is not a folder"
    uid = os.getuid()
    try:
        real = path.resolve(strict=True)
        st = os.stat(real)
    except OSError as e:
        return f"cannot inspect it ({e})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a folder"
    if st.st_uid != uid:
        return f"it is owned by uid {st.st_uid}, not by this user (uid {uid})"
    if st.st_mode & 0o022:
        return f"it is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    for parent in real.parents:
        pst = os.stat(parent)
        if pst.st_uid not in (uid, 0):
            return f"its ancestor {parent} is owned by uid {pst.st_uid}"
        if pst.st_mode & 0o022 and not pst.st_mode & stat.S_ISVTX:
            return (f"its ancestor {parent} is writable by group or others without the sticky "
                    f"bit (mode {stat.S_IMODE(pst.st_mode):04o})")
    return None


def private_dir(path: Path | str) -> Path:
    """`path` created (0700) and checked; if it is unsafe, a warning and a fresh private
    temporary folder (the same one for the rest of this process)."""
    path = Path(path)
    key = str(path)
    with _LOCK:
        got = _PRIVATE.get(key)
        if got is not None:
            return got
        problem = None
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            problem = f"it cannot be created ({e})"
        problem = problem or folder_problem(path)
        if problem is None:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o077:  # ours and not writable by others: only tighten (older symnum: 0755)
                os.chmod(path, 0o700)
            got = path
        else:
            got = Path(tempfile.mkdtemp(prefix="symnum-kernels-"))
            warnings.warn(f"symnum: refusing the kernel cache folder {path}: {problem}. Using the "
                          f"private folder {got} for this process instead; fix the folder's "
                          "owner/permissions (chmod 700) or pass another cache_dir.",
                          CacheWarning, stacklevel=3)
        _PRIVATE[key] = got
        return got


def forget_checked_dirs() -> None:
    """Check every folder again on its next use (after permissions changed; used by tests)."""
    with _LOCK:
        _PRIVATE.clear()
        _SECRET.clear()


# the secret and MACs ---------------------------------------------------------------------------
def secret() -> bytes:
    """This user's secret key (created on first use)."""
    root = cache_root()
    with _LOCK:
        if str(root) not in _SECRET:
            _SECRET[str(root)] = _load_or_create_secret(root)
        return _SECRET[str(root)]


def _load_or_create_secret(root: Path) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)  # the kernel folder warns for the root
        folder = private_dir(root)
    if folder != root:
        return secrets.token_bytes(32)  # refused root: a per-process secret
    path = root / "secret.key"
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            tmp = _write_temp(root, secrets.token_bytes(32))
            try:
                os.link(tmp, path)  # atomic and exclusive: a concurrent creator wins once
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
            continue
        except OSError:  # a symlink or unreadable: replace it
            _replace_bytes(path, secrets.token_bytes(32))
            continue
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            key = f.read()
        mine = not hasattr(os, "getuid") or (st.st_uid == os.getuid()
                                               and not st.st_mode & 0o077)
        if mine and len(key) == 32 and stat.S_ISREG(st.st_mode):
            return key
        # readable by others (or not ours): it may be known, so every entry under it is void
        _replace_bytes(path, secrets.token_bytes(32))
    return secrets.token_bytes(32)


def mac(name: str, payload: bytes | memoryview) -> bytes:
    """HMAC-SHA256 of an entry's name and bytes under this user's secret."""
    h = hmac.new(secret(), name.encode() + b"\0", hashlib.sha256)
    h.update(payload)  # no copy of a large payload
    return h.digest()


def seal(name: str, payload: bytes) -> bytes:
    """The bytes to store for entry `name`: a header with the MAC, then the payload."""
    return _MAC_MAGIC + mac(name, payload) + payload


def unseal(name: str, data: bytes) -> bytes | None:
    """The payload if `data` was sealed by this user for exactly `name`, else None."""
    head = len(_MAC_MAGIC) + MAC_BYTES
    if len(data) < head or not data.startswith(_MAC_MAGIC):
        return None
    ok = hmac.compare_digest(data[len(_MAC_MAGIC):head], mac(name, memoryview(data)[head:]))
    return data[head:] if ok else None


# atomic private writes ---------------------------------------------------------------------------
def _write_temp(folder: Path, data: bytes) -> str:
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")  # mkstemp: 0600, O_EXCL
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _replace_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temporary file + os.replace), mode 0600. os.replace
    swaps the name, so a symlink planted at `path` is replaced, never followed."""
    tmp = _write_temp(path.parent, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


write_private = _replace_bytes


# numba's pickles -------------------------------------------------------------------------------
_GENERATED = re.compile(r"k_[0-9a-f]{32}\.")
_NUMBA: dict[str, bool] = {}


def numba_signing(module: str = "numba.core.caching") -> bool:
    """Install the MAC check into the `IndexDataCacheFile` of numba's caching `module` (numba-cuda
    may carry its own copy); False if it is missing or its internals are not the ones this was
    written against: then generated modules must not use numba's disk cache."""
    with _LOCK:
        if module not in _NUMBA:
            _NUMBA[module] = _install_numba_signing(module)
        return _NUMBA[module]


def cuda_signing() -> bool:
    """`numba_signing` for numba-cuda's cache, which may use numba's class or its own copy."""
    import importlib.util

    try:
        own = importlib.util.find_spec("numba.cuda.core.caching") is not None
    except (ImportError, ValueError):
        own = False
    return numba_signing() and (not own or numba_signing("numba.cuda.core.caching"))


def _install_numba_signing(module: str) -> bool:
    import importlib
    import pickle

    try:
        cls = importlib.import_module(module).IndexDataCacheFile
        needed = ("_load_index", "_save_index", "_load_data", "_save_data", "_index_path",
                  "_data_path", "_source_stamp", "_version", "_dump")
        probe = cls.__new__(cls)
        cls.__init__(probe, cache_path=tempfile.gettempdir(), filename_base="k_probe",
                     source_stamp=None)
        if not all(hasattr(probe, n) for n in needed):
            return False
    except Exception:  # numba missing or reorganised
        return False
    if getattr(cls, "_symnum_signed", False):
        return True
    originals = {n: getattr(cls, n) for n in needed[:4]}

    def ours(self: object) -> bool:
        return bool(_GENERATED.match(os.path.basename(self._index_path)))  # type: ignore[attr-defined]

    def read(path: str) -> bytes | None:
        name = os.path.basename(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        payload = unseal(name, data)
        if payload is None:
            warnings.warn(f"symnum: refused numba cache file {path}: it does not carry this "
                          "user's MAC for this entry (foreign, swapped or damaged); it is "
                          "removed and the kernel compiled again.", CacheWarning, stacklevel=2)
            try:
                os.unlink(path)
            except OSError:
                pass
        return payload

    def _load_index(self):  # noqa: ANN001, ANN202 (numba's signature)
        if not ours(self):
            return originals["_load_index"](self)
        payload = read(self._index_path)
        if payload is None:
            return {}
        version, stamp, overloads = pickle.loads(payload)  # authenticated: symnum wrote it
        if version != self._version or stamp != self._source_stamp:
            return {}
        return overloads

    def _save_index(self, overloads):  # noqa: ANN001, ANN202
        if not ours(self):
            return originals["_save_index"](self, overloads)
        payload = self._dump((self._version, self._source_stamp, overloads))
        write_private(Path(self._index_path), seal(os.path.basename(self._index_path), payload))
        return None

    def _load_data(self, name):  # noqa: ANN001, ANN202
        if not ours(self):
            return originals["_load_data"](self, name)
        payload = read(self._data_path(name))
        if payload is None:
            raise OSError(f"unauthenticated cache entry {name}")  # numba: a miss
        return pickle.loads(payload)  # authenticated: symnum wrote it

    def _save_data(self, name, data):  # noqa: ANN001, ANN202
        if not ours(self):
            return originals["_save_data"](self, name, data)
        path = self._data_path(name)
        write_private(Path(path), seal(os.path.basename(path), self._dump(data)))
        return None

    for fn in (_load_index, _save_index, _load_data, _save_data):
        setattr(cls, fn.__name__, fn)
    cls._symnum_signed = True
    return True
