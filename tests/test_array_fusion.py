"""Broadcast-and-reduce fusion (rewrites/array_fusion.py): each shape fuses to what it should,
values are kept (random shapes and data, against numpy), and what cannot fuse is left alone."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symnum.rewrites.array_fusion import fuse

import symnum as sn
from symnum.arrays.ops_reduce import Contract, Reduce
from symnum.arrays.terms import ArraySym, ArrayTerm
from symnum.core.traversal import postorder


def _ops(t):
    return [type(n.op).__name__ for n in postorder([t]) if isinstance(n, ArrayTerm)]


def test_each_shape():
    x, W, V = ArraySym("x", (6,)), ArraySym("W", (6, 4)), ArraySym("V", (4, 6))
    a, b, c = ArraySym("a", (6,)), ArraySym("b", (6,)), sn.Sym("c")
    assert str(fuse([(x[:, None] * W).sum(0)])[0]) == "einsum('a,ab->b', x, W)"
    assert str(fuse([(W * x[:, None]).sum(0)])[0]) == "einsum('ab,a->b', W, x)"
    assert str(fuse([(V * x).sum(1)])[0]) == "einsum('ab,b->a', V, x)"
    assert str(fuse([np.sum(a * b)])[0]) == "einsum('a,a->', a, b)"
    assert str(fuse([np.sum(a * a)])[0]) == "einsum('a,a->', a, a)"
    assert str(fuse([np.sum(c * a)])[0]) == "c*sum(a)"
    assert str(fuse([np.sum(3.0 * sn.exp(a))])[0]) == "3*sum(exp(a))"
    assert str(fuse([np.broadcast_to(x, (5, 6)).sum(0)])[0]) == "5*x"
    # a batch axis (not a matrix product) and a stretched real size-1 axis: left alone
    e = (V * x).sum(0)
    assert fuse([e])[0] is e
    y = ArraySym("y", (1, 4))
    e = (W * y).sum(0)
    assert fuse([e])[0] is e
    e = np.broadcast_to(x, (5, 6)).sum(1)  # a real axis: not a multiple of x
    assert fuse([e])[0] is e


def test_simplify_runs_it_before_the_matrix_chains():
    def f(x, A, B):
        return ((x[:, None] * A).sum(0)) @ B  # (x @ A) @ B: already the cheap order

    rng = np.random.default_rng(0)
    args = (rng.standard_normal(7), rng.standard_normal((7, 5)), rng.standard_normal((5, 3)))
    t = sn.trace(f, *args, mode="array")
    s = sn.simplify(t)
    assert "Map" not in _ops(s.outputs) and "Reduce" not in _ops(s.outputs)
    assert _ops(s.outputs).count("Contract") == 2
    np.testing.assert_allclose(s(*args), f(*args), rtol=1e-12)
    np.testing.assert_allclose(sn.compile(f, mode="array", simplify="rules")(*args), f(*args),
                               rtol=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_values_are_kept(n, m, which, seed):
    rng = np.random.default_rng(seed)
    progs = [
        (lambda x, W: (x[:, None] * W).sum(0), ((n,), (n, m))),
        (lambda W, x: (W * x).sum(1), ((n, m), (m,))),
        (lambda a, b: np.sum(a * b), ((n,), (n,))),
        (lambda c, a: np.sum(c * np.exp(a) * 2.0), ((), (n, m))),
        (lambda x: np.broadcast_to(x, (m, 3, n)).sum((0, 1)), ((n,),)),
        (lambda W, V: (W * V).sum(0), ((n, m), (n, m))),  # batch axis: not fused
    ]
    f, shapes = progs[which]
    args = [float(rng.standard_normal()) if s == () else rng.standard_normal(s) for s in shapes]
    t = sn.trace(f, *args, mode="array")
    s = sn.simplify(t)
    np.testing.assert_allclose(np.asarray(s(*args)), np.asarray(f(*args)), rtol=1e-11,
                               atol=1e-12)
    if which < 3 and min(n, m) > 1:
        assert any(isinstance(nd, ArrayTerm) and isinstance(nd.op, Contract)
                   for nd in postorder(list(s.flat_outputs)))
        assert not any(isinstance(nd, ArrayTerm) and isinstance(nd.op, Reduce)
                       for nd in postorder(list(s.flat_outputs)))
