"""Matrix chains in their cheapest bracketing, transposes folded (rewrites/array_chain.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.rewrites.array_chain import chain_order, reassociate

import symnum as sn
from symnum.arrays.evaluate import eval_array_terms
from symnum.arrays.ops_index import Transpose
from symnum.arrays.ops_reduce import Contract
from symnum.arrays.terms import ArraySym, ArrayTerm
from symnum.core.traversal import postorder


def flops(roots) -> int:
    """Multiply-adds of every contraction in the program (the pass's cost model)."""
    total = 0
    for n in postorder(list(roots)):
        if isinstance(n, ArrayTerm) and isinstance(n.op, Contract):
            p = 1
            for v in n.op.sizes(n.args).values():
                p *= v
            total += p
    return total


def transposes(roots) -> int:
    return sum(isinstance(n, ArrayTerm) and isinstance(n.op, Transpose)
               for n in postorder(list(roots)))


def test_chain_order_is_the_textbook_dp():
    assert chain_order([10, 100, 5, 50])[0] == 7500
    assert chain_order([30, 35, 15, 5, 10, 20, 25])[0] == 15125  # CLRS 15.2


def test_matrix_vector_chain_goes_right_to_left():
    A, B, C = (ArraySym(n, (40, 40)) for n in "ABC")
    x = ArraySym("x", (40,))
    e = A @ B @ C @ x
    (r,) = reassociate([e])
    assert str(r) == "A @ (B @ (C @ x))"
    assert flops([r]) == 3 * 40 * 40 < flops([e])


def test_transposes_fold_into_the_contraction():
    A, x = ArraySym("A", (5, 7)), ArraySym("x", (5,))
    (r,) = reassociate([A.T @ x])
    assert transposes([r]) == 0 and r.op.spec == "ji,j->i"
    (r,) = reassociate([(A @ A.T).T])
    env = {"A": np.arange(35.0).reshape(5, 7)}
    assert np.allclose(eval_array_terms([r], env)[0], env["A"] @ env["A"].T)


def test_a_product_needed_as_an_output_is_computed_once():
    A, B = ArraySym("A", (30, 30)), ArraySym("B", (30, 30))
    x = ArraySym("x", (30,))
    M = A @ B
    out = reassociate([M @ x, M])
    assert out[1] is M and any(a is M for a in out[0].args)


def test_nothing_to_do_returns_the_same_terms():
    A, x = ArraySym("A", (4, 4)), ArraySym("x", (4,))
    roots = [A @ x, np.sin(x) * 2]
    assert all(a is b for a, b in zip(reassociate(roots), roots))


@st.composite
def chains(draw):
    k = draw(st.integers(2, 5))
    dims = draw(st.lists(st.integers(1, 9), min_size=k + 1, max_size=k + 1))
    vec_left, vec_right = draw(st.booleans()), draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    env, factors = {}, []
    for i in range(k):
        name = f"M{i}"
        vec = (i == 0 and vec_left) or (i == k - 1 and vec_right)
        if vec:
            shape = (dims[i + 1],) if i == 0 else (dims[i],)
            t = ArraySym(name, shape)
        elif draw(st.booleans()):
            shape = (dims[i + 1], dims[i])
            t = ArraySym(name, shape).T  # used transposed
        else:
            shape = (dims[i], dims[i + 1])
            t = ArraySym(name, shape)
        env[name] = rng.standard_normal(shape)
        factors.append(t)

    def bracket(lo, hi):  # a random bracketing of factors[lo..hi]
        if lo == hi:
            return factors[lo]
        s = draw(st.integers(lo, hi - 1))
        return bracket(lo, s) @ bracket(s + 1, hi)

    e = bracket(0, k - 1)
    if e.ndim == 2 and draw(st.booleans()):
        e = e.T
    return e, env


@settings(max_examples=60, deadline=None)
@given(chains())
def test_reassociation_keeps_the_value_and_never_costs_more(case):
    e, env = case
    (r,) = reassociate([e])
    want = eval_array_terms([e], env)[0]
    got = eval_array_terms([r], env)[0]
    assert r.shape == e.shape
    assert np.allclose(got, want, rtol=1e-10, atol=1e-10)
    assert flops([r]) <= flops([e])
    assert transposes([r]) <= transposes([e])


def test_simplify_runs_the_array_pass_on_array_programs():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    x = rng.standard_normal(6)

    def f(A, B, x):
        return np.sin(A @ B @ x) + A.T @ x

    F = sn.trace(f, A, B, x, mode="array")
    G = sn.simplify(F)
    assert flops(G.flat_outputs) < flops(F.flat_outputs)
    assert transposes(G.flat_outputs) == 0
    assert np.allclose(G(A, B, x), f(A, B, x))
