"""The backend registry: lowering targets looked up by name and imported only when first used.

Sits after `symnum` in the dependency order: backends import symnum, never the reverse, and this
file must never import a backend module (numba, llvmlite, CUDA) until someone asks for it by name.
Each backend module exposes a `BACKEND`; only modules that exist here are registered.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from symnum.errors import CompileError, RegistrationError


@dataclass(frozen=True)
class Backend:
    """A lowering target: `lower(fn, **options)` turns an Fn into a callable with Fn's signature.

    >>> be = get_backend("numpy")
    >>> be.name, callable(be.lower)
    ('numpy', True)
    """

    name: str
    lower: Callable[..., Callable]
    description: str = ""
    # Fn → a kernel mapping arrays elementwise (numpy broadcasting), for backends that have one
    elementwise: Callable[..., Callable] | None = None
    # the dotted path of the module whose `lower_array_fn` lowers array programs (ArrayFn) for
    # this backend, imported only when one comes (`array_lower()`); its keyword options are
    # the backend's too (symnum.lowering_options reads them from here)
    array_lowerer: str | None = None
    # whether `lower`'s keywords (and the array lowerer's) are every option the backend takes,
    # so that the entry points may refuse other names (symnum.lowering_options); a backend
    # that reads options from **kwargs leaves it False and checks its own
    checks_options: bool = False

    def __call__(self, fn: Any, **options: Any) -> Callable:
        return self.lower(fn, **options)

    def array_lower(self) -> Callable[..., Callable]:
        """The array-program lowerer (`array_lowerer`'s `lower_array_fn`), imported now."""
        if self.array_lowerer is None:
            raise CompileError(f"the {self.name} backend has no array-program lowerer; lower "
                               "the program's scalar form (symnum.arrays.auto.needs_elements)")
        return importlib.import_module(self.array_lowerer).lower_array_fn


@dataclass(frozen=True)
class _Entry:
    module: str  # dotted module path, imported on first use
    attr: str  # the module attribute holding the Backend
    install_hint: str  # what to install if the import fails


_REGISTRY: dict[str, _Entry] = {}
_RESOLVED: dict[str, Backend] = {}


def register_backend(
    name: str, module: str, attr: str = "BACKEND", *, install_hint: str = "", replace: bool = False
) -> None:
    """Register a backend living at `module:attr`, imported only when first requested.

    >>> register_backend("numpy", "symnum.backends.numpy_backend", replace=True)
    >>> "numpy" in available_backends()
    True
    """
    if not name or not isinstance(name, str):
        raise RegistrationError("a backend needs a non-empty string name")
    if name in _REGISTRY and not replace:
        raise RegistrationError(
            f"a backend named '{name}' is already registered; pick another name or pass "
            "replace=True"
        )
    _REGISTRY[name] = _Entry(module, attr, install_hint)
    _RESOLVED.pop(name, None)


def available_backends() -> list[str]:
    """Names of the registered backends (registered, not necessarily importable here).

    >>> "numpy" in available_backends()
    True
    """
    return sorted(_REGISTRY)


def get_backend(name: str | Backend) -> Backend:
    """The backend registered as `name`, importing its module on first use.

    >>> k = get_backend("numpy")
    >>> k.name
    'numpy'
    """
    if isinstance(name, Backend):
        return name
    if not isinstance(name, str):
        raise CompileError(
            f"a backend is chosen by name, got {type(name).__name__}; pass one of: "
            f"{', '.join(available_backends())}"
        )
    hit = _RESOLVED.get(name)
    if hit is not None:
        return hit
    entry = _REGISTRY.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise CompileError(
            f"unknown backend {name!r}; {hint}available backends: "
            f"{', '.join(available_backends())}"
        )
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        extra = f" ({entry.install_hint})" if entry.install_hint else ""
        raise CompileError(
            f"backend '{name}' could not be loaded: {exc}{extra}; use another backend, e.g. "
            "backend='numpy'"
        ) from exc
    backend = getattr(module, entry.attr, None)
    if not isinstance(backend, Backend):
        raise RegistrationError(
            f"backend '{name}': {entry.module}.{entry.attr} is not a backends.Backend; fix its "
            "registration"
        )
    if backend.name != name:
        # one object may serve several aliases; keep the name it was asked by
        backend = dataclasses.replace(backend, name=name)
    _RESOLVED[name] = backend
    return backend


def lower(fn: Any, backend: str | Backend = "numpy", **options: Any) -> Callable:
    """Lower an Fn with the named backend; the result is called like the Fn itself.

    >>> import numpy as np, symnum as sn
    >>> f = sn.trace(lambda x: 2 * x + 1, np.zeros(3))
    >>> lower(f, "numpy")(np.array([0.0, 1.0, 2.0]))
    array([1., 3., 5.])
    """
    b = get_backend(backend)
    if "reroll" in options and b.name not in ("llvm", "numba"):
        # re-rolling (symnum.backends.reroll) is the llvm and numba backends'; the others
        # lower straight-line or loop code of their own, so the switch means nothing to them
        options = {k: v for k, v in options.items() if k != "reroll"}
    try:
        return b.lower(fn, **options)
    except CompileError:
        # a backend without array loops (or refusing this one: the llvm loops take float64
        # data) given an array program: lower its scalar form when that is small, else say
        # what to use instead
        from symnum.arrays.auto import is_array_fn, needs_elements

        if not is_array_fn(fn):
            raise
        return b.lower(needs_elements(fn, f"the {b.name} backend"), **options)


register_backend("numpy", "symnum.backends.numpy_backend")
register_backend("numba", "symnum.backends.numba_backend", install_hint="pip install numba")
register_backend("llvm", "symnum.backends.llvm_backend", install_hint="pip install llvmlite")
register_backend("cuda", "symnum.backends.cuda_backend", install_hint="pip install 'symnum[cuda]'")
