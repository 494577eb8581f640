"""Saving: pickling of terms, Fns, compiled functions and kernels (by graph), and the JSON file
format of symnum.save / symnum.load (symnum.io.serialize)."""

from __future__ import annotations

import json
import multiprocessing as mp
import pickle
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import symnum as sn
from symnum.errors import CompileError, SerializationError
from symnum.io.serialize import from_json, to_json

x, y = sn.symbols("x y")


def _roundtrip(obj):
    return from_json(json.loads(json.dumps(to_json(obj))))


@given(st.one_of(st.floats(allow_nan=False), st.integers(-10**30, 10**30),
                 st.fractions(max_denominator=10**12),
                 st.floats(width=32, allow_nan=False).map(np.float32)))
def test_constants_come_back_exactly(c):
    e = sn.Const(c)
    assert _roundtrip(e) is e  # interned by type and bit pattern: identity means exact


def test_expressions_and_pytrees_of_them(tmp_path):
    e = sn.sin(x) * y + x ** 2 / 3 + np.float32(1.5) * x + Fraction(1, 3) * y - 0.0 * x
    p = tmp_path / "e.json"
    sn.save(e, p)
    assert sn.load(p) is e
    tree = {"a": e, "b": [x, np.array([[x, y], [e, x]], dtype=object)], "c": None}
    sn.save(tree, p)
    got = sn.load(p)
    assert got["a"] is e and got["b"][0] is x and got["c"] is None
    assert got["b"][1].shape == (2, 2) and got["b"][1][1, 0] is e
    assert pickle.loads(pickle.dumps(e)) is e


def test_symbol_metadata_survives():
    t = sn.Sym("v", "float32", role="tangent")
    assert _roundtrip(t) is t and pickle.loads(pickle.dumps(t)) is t


def test_fn_roundtrips_and_evaluates_the_same(tmp_path):
    # scalar mode: saving array programs (ArrayFn) is not supported yet
    f = sn.trace(lambda u, q: {"a": np.sin(u) * q["k"], "b": (u.sum(), None)},
                 np.zeros(3), {"k": 1.0}, mode="scalar")
    u, q = np.array([0.1, 0.2, 0.3]), {"k": 2.0}
    for g in (_roundtrip(f), pickle.loads(pickle.dumps(f))):
        assert g.names == f.names and g.flat_outputs == f.flat_outputs
        want, got = f(u, q), g(u, q)
        np.testing.assert_array_equal(got["a"], want["a"])
        assert got["b"] == want["b"]


def test_unknown_primitive_is_named():
    d = to_json(sn.sin(x))
    text = json.dumps(d).replace('"sin"', '"my_bessel"')
    with pytest.raises(SerializationError, match="'my_bessel'.*not registered"):
        from_json(json.loads(text))


def test_versions_and_foreign_files_are_refused(tmp_path):
    d = to_json(x)
    d["version"] = 99
    with pytest.raises(SerializationError, match="version 99"):
        from_json(d)
    with pytest.raises(SerializationError, match="not a symnum file"):
        from_json({"nodes": []})
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(SerializationError, match="not a JSON symnum file"):
        sn.load(p)
    with pytest.raises(SerializationError, match="cannot save a set"):
        to_json({x})


def _scaled_exp(u, p=2.0):
    return np.exp(u) * p


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_compiled_functions_save_load_and_pickle(tmp_path, backend):
    cf = sn.compile(_scaled_exp, backend=backend)
    u = np.array([0.0, 0.5, 1.0])
    cf(u)
    cf(u.astype(np.float32), 3.0)
    p = tmp_path / "cf.json"
    sn.save(cf, p)
    for h in (sn.load(p), pickle.loads(pickle.dumps(cf))):
        assert h._entries.keys() == cf._entries.keys()
        np.testing.assert_allclose(h(u), _scaled_exp(u), rtol=1e-14)
        got = h(u.astype(np.float32), p=3.0)
        assert got.dtype == np.float32
    assert pickle.loads(pickle.dumps(cf))(np.zeros(5)).shape == (5,)  # f pickled by reference
    loaded = sn.load(p)  # the file never holds code: only the saved signatures run
    with pytest.raises(CompileError, match="without its Python function"):
        loaded(np.zeros(5))


def test_raw_kernels_pickle_and_save(tmp_path):
    k = sn.build_function(sn.sin(x) * y, x, y)
    assert pickle.loads(pickle.dumps(k))(0.5, 2.0) == k(0.5, 2.0)
    sn.save(k, tmp_path / "k.json")
    assert sn.load(tmp_path / "k.json")(0.5, 2.0) == k(0.5, 2.0)


def test_a_compiled_lambda_runs_in_a_spawned_process():
    cf = sn.compile(lambda u, s: np.sin(u) * s)
    u = np.linspace(0, 1, 4)
    want = cf(u, 3.0)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
        got = ex.submit(cf, u, 3.0).result()
    np.testing.assert_array_equal(got, want)
