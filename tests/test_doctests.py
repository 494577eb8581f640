"""The doctests of symnum.backends and symnum.rewrites (pytest collects those of symnum/ itself).

The repository keeps those two packages in top-level folders that install as symnum.backends and
symnum.rewrites; pytest's collector would import them as top-level `backends.*` / `rewrites.*`
(a second copy of every module), so their doctests run here, by their installed names.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import symnum.backends
import symnum.rewrites

# cuda_backend needs numba-cuda (an optional extra); its doctests run where that is installed
OPTIONAL = {"symnum.backends.cuda_backend": "numba.cuda"}
MODULES = sorted(
    info.name
    for pkg in (symnum.backends, symnum.rewrites)
    for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + ".")
)


def test_the_registry_packages_have_modules():
    assert "symnum.backends.llvm_backend" in MODULES and "symnum.rewrites.egraph" in MODULES


@pytest.mark.parametrize("name", ["symnum.backends", "symnum.rewrites", *MODULES])
def test_docstring_examples(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
