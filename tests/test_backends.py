"""The backend registry: lazy lookup by name, the numpy reference backend, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from symnum.backends import Backend, available_backends, get_backend, lower, register_backend

import symnum as sn
from symnum import backends
from symnum.errors import CompileError, RegistrationError
from symnum.tracing.pytree import tree_flatten, tree_map


@pytest.mark.parametrize("name", ["numpy", "numba", "llvm", "cuda"])
def test_every_registered_backend_resolves_to_its_module(name):
    # resolving imports the module (not numba.cuda: that waits for the first kernel)
    assert name in available_backends()
    be = get_backend(name)
    assert be.name == name and callable(be.lower)


def test_numpy_backend_is_registered_and_resolves():
    assert "numpy" in available_backends()
    be = get_backend("numpy")
    assert isinstance(be, Backend) and be.name == "numpy"
    assert get_backend("numpy") is be  # resolved once
    assert get_backend(be) is be


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (lambda x, y: x * y + sn.sin(x), (0.3, -1.2)),
        (lambda v: np.exp(v) - 2 * v, (np.linspace(-1, 1, 5),)),
        (lambda s, t: s[0] * t + s[1] ** 2, (np.array([0.5, 2.0]), 0.25)),
        (lambda d: {"a": d["x"] + 1, "b": (d["x"] * d["y"],)}, ({"x": 1.5, "y": -2.0},)),
    ],
)
def test_numpy_backend_matches_the_function(f, args):
    fn = sn.trace(f, *args)
    k = lower(fn, "numpy")
    rng = np.random.default_rng(0)
    for _ in range(3):
        # fresh inputs of the same structure
        new = tree_map(lambda a: rng.uniform(-2, 2, np.shape(a)), args)
        got, want = k(*new), f(*new)
        for g, w in zip(tree_flatten(got)[0], tree_flatten(want)[0]):
            np.testing.assert_allclose(np.asarray(g, float), np.asarray(w, float), rtol=1e-13)


def test_backend_object_is_callable_like_lower():
    fn = sn.trace(lambda x: x + 1, 1.0)
    assert float(get_backend("numpy")(fn)(2.0)) == 3.0


@pytest.mark.parametrize(
    ("name", "match"),
    [("nump", "did you mean 'numpy'"), ("cuda-x", "available backends: .*numpy"),
     (3, "by name")],
)
def test_unknown_backend_lists_available(name, match):
    with pytest.raises(CompileError, match=match):
        get_backend(name)


def test_numpy_backend_rejects_options_and_non_fn():
    fn = sn.trace(lambda x: x, 1.0)
    with pytest.raises(CompileError, match="no options"):
        lower(fn, "numpy", fastmath=True)
    with pytest.raises(CompileError, match="symnum.evaluate"):
        lower(sn.Sym("x") + 1, "numpy")


def test_register_backend_errors_and_lazy_failure(monkeypatch):
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))
    monkeypatch.setattr(backends, "_RESOLVED", {})
    with pytest.raises(RegistrationError, match="already registered"):
        register_backend("numpy", "symnum.backends.numpy_backend")
    register_backend("ghost", "symnum.backends._no_such_module", install_hint="pip install ghost")
    assert "ghost" in available_backends()
    with pytest.raises(CompileError, match="could not be loaded.*pip install ghost"):
        get_backend("ghost")
    register_backend("bad", "backends", attr="available_backends")
    with pytest.raises(RegistrationError, match="not a backends.Backend"):
        get_backend("bad")
    # an alias keeps the name it was asked by
    register_backend("ref", "symnum.backends.numpy_backend")
    assert get_backend("ref").name == "ref"
