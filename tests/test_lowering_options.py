"""Unknown options at the entry points (symnum.lowering_options): a CompileError naming the
option, the nearest valid spelling and the valid names — before any trace or fallback (an
array program's llvm refusal used to be swallowed by the scalar fallback, which then raised a
SizeLimitError about scalarising)."""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn
from symnum.errors import CompileError, SizeLimitError
from symnum.lowering import lower
from symnum.lowering_options import backend_options


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
