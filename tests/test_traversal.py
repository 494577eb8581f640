"""Walking DAGs through the term interface: postorder, postwalk, substitute, free_symbols,
count_ops, the interface views of Add/Mul, and the content digest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from fractions import Fraction

import pytest
from hypothesis import given

import symnum as sn
from symnum.core.dispatch import digest
from symnum.core.evaluate import eval_many
from symnum.core.interface import similarterm
from symnum.core.op import get_op
from symnum.core.traversal import postwalk
from symnum.testing import assert_allclose_at, build, expression_recipes, expressions, points

x, y, z = sn.Sym("x"), sn.Sym("y"), sn.Sym("z")
add_op, mul_op, pow_op = (get_op(n) for n in ("add", "mul", "pow"))


# ---------------------------------------------------------------------------------------------
# the interface views of the polynomial forms

VIEWS = [
    (lambda: 2 * x + 3 * y + 1, add_op, lambda: {sn.Const(1), 2 * x, 3 * y}),
    (lambda: x + y, add_op, lambda: {x, y}),
    (lambda: 2 * x * y + 1, add_op, lambda: {sn.Const(1), 2 * x * y}),
    (lambda: 3 * x**2 * y, mul_op, lambda: {sn.Const(3), x**2, y}),
    (lambda: x * y, mul_op, lambda: {x, y}),
    (lambda: x**2, pow_op, lambda: {x, sn.Const(2)}),
    (lambda: 1 / x, pow_op, lambda: {x, sn.Const(-1)}),
    (lambda: x / 3, mul_op, lambda: {sn.Const(Fraction(1, 3)), x}),
]


@pytest.mark.parametrize("make, op, args", VIEWS)
def test_views_of_add_and_mul(make, op, args):
    e = make()
    assert sn.iscall(e) and sn.operation(e) is op
    assert set(sn.arguments(e)) == args()
    assert sn.maketerm(type(e), sn.operation(e), sn.arguments(e), sn.metadata(e)) is e
    assert similarterm(e, sn.operation(e), sn.arguments(e)) is e


def test_leaves_are_not_calls():
    for leaf in (x, sn.Const(2.5)):
        assert not sn.iscall(leaf)
        with pytest.raises(TypeError, match="not a call term"):
            sn.operation(leaf)
        with pytest.raises(TypeError, match="not a call term"):
            sn.arguments(leaf)
    assert sn.metadata(x)["dtype"] == "float64"


@given(expressions([x, y, z], max_depth=4))
def test_every_node_rebuilds_to_itself_canonical(e):
    for n in sn.postorder([e]):
        if sn.iscall(n):
            assert sn.maketerm(type(n), sn.operation(n), sn.arguments(n), sn.metadata(n)) is n


@given(expression_recipes(3, max_depth=4))
def test_every_node_rebuilds_to_itself_tree_mode(recipe):
    e = build(recipe, [x, y, z], mode="tree")
    with sn.tree_mode():
        for n in sn.postorder([e]):
            if sn.iscall(n):
                assert sn.maketerm(type(n), sn.operation(n), sn.arguments(n)) is n


# ---------------------------------------------------------------------------------------------
# postorder and postwalk


@given(expressions([x, y, z], max_depth=4))
def test_postorder_visits_each_node_once_children_first(e):
    order = sn.postorder([e])
    pos = {id(n): i for i, n in enumerate(order)}
    assert len(pos) == len(order)  # each once
    assert order[-1] is e
    for n in order:
        if sn.iscall(n):
            for a in sn.arguments(n):
                assert pos[id(a)] < pos[id(n)]
    assert sn.topological_order([e]) == order


def test_postorder_of_several_roots_shares_nodes():
    s = sn.sin(x)
    order = sn.postorder([s + 1, s * y, s])
    assert sum(1 for n in order if n is s) == 1
    assert sum(1 for n in order if n is x) == 1


def test_postwalk_rewrites_a_shared_subterm_once():
    s = sn.sin(x + y)
    e = s * s + sn.exp(s) + s
    seen = []

    def rw(n):
        seen.append(n)
        if sn.iscall(n) and sn.operation(n).name == "sin":
            return sn.cos(sn.arguments(n)[0])
        return None

    out = postwalk(e, rw)
    c = sn.cos(x + y)
    assert out is c * c + sn.exp(c) + c
    assert len(seen) == len(sn.postorder([e]))


def test_deep_walks_do_not_recurse():
    e = x
    for _ in range(5000):
        e = sn.sin(e)
    assert len(sn.postorder([e])) == 5001
    assert sn.count_ops(e) == 5000
    assert sn.substitute(e, {x: y}) is not e
    assert len(digest(e)) == 16


# ---------------------------------------------------------------------------------------------
# substitute, free_symbols, count_ops

SUBSTITUTE = [
    (lambda: sn.sin(x) * x, {x: y + 1}, lambda: (y + 1) * sn.sin(y + 1)),
    (lambda: x + y, {x: y}, lambda: 2 * y),
    (lambda: x * y, {x: 0}, lambda: sn.Const(0)),
    (lambda: sn.sin(x) * x + sn.sin(x), {sn.sin(x): z}, lambda: z * x + z),
    (lambda: x + y, {x: y, y: x}, lambda: x + y),  # simultaneous, not sequential
    (lambda: sn.exp(x + 1), {x + 1: z}, lambda: sn.exp(z)),
    (lambda: x**2, {x: 2.5}, lambda: sn.Const(6.25)),
]


@pytest.mark.parametrize("make, mapping, expected", SUBSTITUTE)
def test_substitute_table(make, mapping, expected):
    assert sn.substitute(make(), mapping) is expected()


@given(expressions([x, y], max_depth=3), points([x, y]))
def test_substitute_a_value_equals_evaluating_there(e, env):
    partial = sn.substitute(e, {x: env[x]})
    assert x not in sn.free_symbols(partial)
    assert_allclose_at(partial, e, env, rtol=1e-9, atol=1e-12)


@given(expressions([x, y], max_depth=3))
def test_substitute_identity_and_free_symbols(e):
    assert sn.substitute(e, {}) is e
    assert sn.substitute(e, {x: x}) is e
    swapped = sn.substitute(e, {x: z})
    assert sn.free_symbols(swapped) <= (sn.free_symbols(e) - {x}) | {z}
    assert sn.substitute(swapped, {z: x}) is e


@given(expressions([x, y, z], max_depth=4))
def test_free_symbols_are_the_sym_leaves(e):
    leaves = {n for n in sn.postorder([e]) if isinstance(n, sn.Sym)}
    assert sn.free_symbols(e) == leaves
    env = {s: 0.5 for s in leaves}
    eval_many([e], env)  # the free symbols are exactly what evaluation needs


def test_free_symbols_table():
    assert sn.free_symbols(sn.sin(x) + y * 2) == {x, y}
    assert sn.free_symbols(sn.Const(3)) == set()
    assert sn.free_symbols([x + 1, z]) == {x, z}
    assert sn.free_symbols(sn.ifelse(x < y, 1, 2)) == {x, y}


def test_count_ops_counts_shared_nodes_once():
    s = sn.sin(x + y)
    assert sn.count_ops(s * s + s) == 4  # x + y, sin, s^2, the sum
    assert sn.count_ops(x) == 0
    assert sn.count_ops([s, s + 1]) == 3


# ---------------------------------------------------------------------------------------------
# digest


@given(expressions([x, y], max_depth=3), expressions([x, y], max_depth=3))
def test_digest_equal_exactly_for_identical_canonical_terms(a, b):
    assert (digest(a) == digest(b)) == (a is b)
    assert digest(a) == digest(build_again(a))


def build_again(e):
    return sn.substitute(e, {})


def test_digest_is_stable_across_processes():
    code = textwrap.dedent(
        """
        import symnum as sn
        from symnum.core.dispatch import digest
        x, y = sn.Sym("x"), sn.Sym("y")
        print(digest(sn.sin(x) ** 2 + 2 * x * y / 3 - sn.exp(-y)).hex())
        """
    )
    here = digest(sn.sin(x) ** 2 + 2 * x * y / 3 - sn.exp(-y)).hex()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a str hash salt unlike this process's
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout.strip()
    assert out == here


def test_digest_does_not_depend_on_construction_order():
    a = (x + 2 * y) + z
    b = z + (2 * y + x)
    assert a is b and digest(a) == digest(b)
    assert digest(x + 1) != digest(x + 1.0)
    assert digest(sn.Const(0.0)) != digest(sn.Const(-0.0))
