"""The option names each backend takes, checked at the entry points (`lowering.lower`,
`sn.compile`/`jit`, `build_function`) before anything is traced or lowered: a misspelt option
(`arena=` for `scratch=`) is a CompileError naming it and listing the valid names. Checked
later, inside a backend, it would be one refusal among many — the array paths catch a
backend's CompileError to fall back to numba or to the scalar form, and the user saw a
SizeLimitError about scalarising instead.

The names are read from the backends' own `lower` signatures (and their array lowerers', named
by `backends.Backend.array_lowerer`), so this module holds no second list of them; a backend is
checked when it says its signatures are complete (`Backend.checks_options`). The answer is
cached per Backend object, so a backend registered again (`replace=True`) is read again.
Beside symnum.lowering; imports the backends lazily and only when options were given; never
lowers anything.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any

from symnum.errors import CompileError

_POSITIONAL = {"fn", "lb", "cb"}  # the program and the backend module handed in: not options
# options symnum.lowering / backends.lower handle themselves, for every backend
_LOWERING = frozenset({"array_loops", "reroll"})
_AUTO = ("llvm", "numba", "numpy")  # what backend="auto" may resolve to


def _keywords(f: Any) -> set[str]:
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.name not in _POSITIONAL
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def backend_options(name: str) -> frozenset | None:
    """The option names backend `name` takes (scalar and array programs), or None when they
    cannot be known (a backend that checks its own: `Backend.checks_options` False)."""
    from symnum import backends

    try:
        be = backends.get_backend(name)
    except CompileError:
        return None
    return _options_of(be)


@functools.lru_cache(maxsize=64)
def _options_of(be: Any) -> frozenset | None:
    # keyed on the Backend itself (a frozen dataclass: its lower, array lowerer, ... are the
    # key), never on the name: a name registered again with replace=True is another Backend
    if not be.checks_options:
        return None
    names = _keywords(be.lower)
    if be.array_lowerer is not None:
        try:
            names |= _keywords(be.array_lower())
        except ImportError:
            pass
    return frozenset(names | _LOWERING)


def check_options(backend: str, options: dict, where: str = "lower") -> None:
    """CompileError naming each option no backend `backend` can take ("auto": none of llvm,
    numba and numpy), with the valid names and the nearest spelling."""
    if not options or not isinstance(backend, str):
        return
    unknown = set(options)
    valid: set[str] = set()
    for name in (_AUTO if backend == "auto" else (backend,)):
        if name not in _registered():
            continue
        ok = backend_options(name)
        if ok is None:
            return
        valid |= ok
        unknown -= ok
        if not unknown:
            return
    if not valid:
        return  # an unknown backend: get_backend says so, with its own message
    which = "any of llvm, numba, numpy" if backend == "auto" else f"the {backend} backend"
    _refuse(where, unknown, valid, which)


def check_elementwise_options(elementwise: Any, backend: str, options: dict) -> None:
    """As check_options, for `sn.vectorize`: the names the backend's elementwise lowerer
    (`elementwise`) takes."""
    valid = _keywords(elementwise)
    unknown = set(options) - valid
    if unknown and valid:
        _refuse("vectorize", unknown, valid, f"the {backend} backend's elementwise kernels")


def _refuse(where: str, unknown: set, valid: set, which: str) -> None:
    hints = [f"{b!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(b, valid, 1))
             else repr(b) for b in sorted(unknown)]
    raise CompileError(f"{where}: unknown option(s) {', '.join(hints)} for {which}; valid "
                       f"options: {', '.join(sorted(valid))}")


def _registered() -> list[str]:
    from symnum import backends

    return backends.available_backends()
