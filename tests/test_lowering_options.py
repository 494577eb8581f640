"""Unknown options at the entry points (symnum.lowering_options): a CompileError naming the
option, the nearest valid spelling and the valid names — before any trace or fallback (an
array program's llvm refusal used to be swallowed by the scalar fallback, which then raised a
SizeLimitError about scalarising)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from symnum.backends import Backend, get_backend, numpy_backend, register_backend

import symnum as sn
from symnum import backends
from symnum.errors import CompileError, SizeLimitError
from symnum.lowering import lower
from symnum.lowering_options import backend_options, check_options


def _big_array_fn():
    return sn.trace(lambda x: np.sum(np.maximum.accumulate(np.sin(x))), np.zeros(100_000),
                    mode="array")


@pytest.mark.parametrize("backend", ["llvm", "auto"])
def test_an_unknown_option_of_an_array_program_names_itself(backend):
    g = _big_array_fn()
    with pytest.raises(CompileError, match=r"unknown option\(s\) 'arena'.*valid options:.*"
                                           r"scratch") as info:
        lower(g, backend, arena=True)
    assert not isinstance(info.value, SizeLimitError)


def test_a_misspelling_gets_the_nearest_name():
    with pytest.raises(CompileError, match=r"'fastmat' \(did you mean 'fastmath'\?\)"):
        lower(sn.trace(lambda x: x * 2.0, 1.0), "llvm", fastmat=True)


def test_compile_jit_and_build_function_check_options_before_tracing():
    traced = []

    def f(x):
        traced.append(x)
        return x * 2.0

    for make in (sn.compile, sn.jit):
        with pytest.raises(CompileError, match=r"compile: unknown option\(s\) 'opt_level'"):
            make(f, opt_level=2)
        with pytest.raises(CompileError, match="'peal' \\(did you mean 'peel'\\?\\)"):
            make(f, backend="numba", peal=3)
    assert traced == []
    x = sn.Sym("x")
    with pytest.raises(CompileError, match=r"build_function: unknown option\(s\) 'threads'"):
        sn.build_function(x + 1, x, backend="llvm", threads=4)


def test_valid_options_still_pass():
    assert {"opt", "scratch", "tier", "array_loops"} <= backend_options("llvm")
    assert {"peel", "parallel"} <= backend_options("numba")
    assert sn.compile(lambda x: x * 2.0, opt=0, cache=False)(1.5) == 3.0
    assert float(lower(sn.trace(lambda x: x + 1.0, 1.0), "numpy")(1.0)) == 2.0
    with pytest.raises(CompileError, match=r"'opt' for the numpy backend; valid options: "
                                           r"array_loops, reroll"):
        lower(sn.trace(lambda x: x + 1.0, 1.0), "numpy", opt=1)  # llvm's, not numpy's


def test_vectorize_names_an_unknown_option_before_compiling():
    with pytest.raises(CompileError, match=r"vectorize: unknown option\(s\) 'cache_dri' "
                                           r"\(did you mean 'cache_dir'\?\)"):
        sn.vectorize(lambda x: x * 2.0, cache_dri="/tmp")


def _probe_module(monkeypatch, name, lower, **fields):
    m = types.ModuleType(name)
    m.BACKEND = Backend("probe", lower, checks_options=True, **fields)
    monkeypatch.setitem(sys.modules, name, m)


def _lower_alpha(fn, *, alpha: float = 1.0):
    return numpy_backend.lower(fn)


def _lower_beta(fn, *, beta: int = 2):
    return numpy_backend.lower(fn)


def lower_array_fn(fn, *, gamma: bool = False):  # the array lowerer of the probe below
    raise AssertionError("not called: only its signature is read")


def test_a_backend_registered_again_is_read_again(monkeypatch):
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))
    monkeypatch.setattr(backends, "_RESOLVED", {})
    _probe_module(monkeypatch, "w_probe_alpha", _lower_alpha)
    _probe_module(monkeypatch, "w_probe_beta", _lower_beta, array_lowerer=__name__)
    # a built-in name first, its answer cached, then replaced by another backend
    assert backend_options("numpy") == {"array_loops", "reroll"}
    register_backend("numpy", "w_probe_alpha", replace=True)
    assert backend_options("numpy") == {"alpha", "array_loops", "reroll"}
    check_options("numpy", {"alpha": 2.0})
    register_backend("numpy", "w_probe_beta", replace=True)
    # the new backend's lower and its array lowerer (Backend.array_lowerer), not the old list
    assert backend_options("numpy") == {"beta", "gamma", "array_loops", "reroll"}
    with pytest.raises(CompileError, match=r"'alpha' for the numpy backend; valid options: "
                                           r"array_loops, beta, gamma, reroll"):
        check_options("numpy", {"alpha": 2.0})


def test_each_backend_names_its_array_lowerer_once():
    from symnum.backends import llvm_arrays, numba_arrays

    assert get_backend("llvm").array_lower() is llvm_arrays.lower_array_fn
    assert get_backend("numba").array_lower() is numba_arrays.lower_array_fn
    assert get_backend("cuda").array_lowerer == "symnum.backends.cuda_arrays"
    with pytest.raises(CompileError, match="no array-program lowerer"):
        get_backend("numpy").array_lower()
    # the array lowerer's keywords are the backend's options: llvm_arrays' scratch, numba's peel
    assert "scratch" in backend_options("llvm") and "peel" in backend_options("numba")


def test_an_alias_keeps_the_backends_fields_and_a_backend_that_checks_its_own_is_left_alone(
        monkeypatch):
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))
    monkeypatch.setattr(backends, "_RESOLVED", {})
    register_backend("fast", "symnum.backends.llvm_backend")
    assert get_backend("fast").array_lowerer == "symnum.backends.llvm_arrays"
    assert backend_options("fast") == backend_options("llvm")
    m = types.ModuleType("w_probe_own")
    m.BACKEND = Backend("own", _lower_alpha)  # checks_options False: it checks its own
    monkeypatch.setitem(sys.modules, "w_probe_own", m)
    register_backend("own", "w_probe_own")
    assert backend_options("own") is None
    check_options("own", {"anything": 1})  # not refused here
