"""symnum.transforms_inline: a transformed function traced through a wrapper (`sn.trace`,
`sn.compile`, an outer transform) renames its traced inputs to the caller's symbols where that
is all the substitution would do — the same term objects as the substitution, checked with `is`
against `renaming(False)` — and substitutes where it is not (closures over the caller's
symbols, numbers or expressions as arguments, a symbol passed twice)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum as sn
from symnum import transforms_inline as TI
from symnum.testing.strategies import build, expression_recipes
from symnum.tracing.pytree import tree_flatten


def routes(trace):
    """(outputs renamed, outputs substituted, routes taken): `trace()` run both ways; the
    first result stays alive, so equal structure means the same interned objects."""
    TI.stats.clear()
    fast = trace()
    taken = dict(TI.stats)
    TI.stats.clear()
    with TI.renaming(False):
        slow = trace()
    assert dict(TI.stats) == {"substituted": taken.get("renamed", 0)
                              + taken.get("substituted", 0)}
    return fast, slow, taken


def assert_same_objects(a: sn.Fn, b: sn.Fn) -> None:
    assert len(a.flat_outputs) == len(b.flat_outputs)
    for x, y in zip(a.flat_outputs, b.flat_outputs):
        assert x is y, (str(x)[:200], str(y)[:200])
    assert all(x is y for x, y in zip(a.flat_inputs, b.flat_inputs))


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


X3 = np.array([0.3, -1.2, 0.8])


@pytest.mark.parametrize("transform", [
    lambda f: sn.grad(f),
    lambda f: sn.value_and_grad(f),
    lambda f: sn.jacfwd(f),
    lambda f: sn.jacrev(f),
    lambda f: sn.hessian(f),
    lambda f: sn.grad(lambda x: np.sum(sn.grad(f)(x) ** 2)),  # one inside the other
])
@pytest.mark.parametrize("tree", [False, True])
def test_a_wrapper_around_a_transform_gives_the_substitutions_terms(transform, tree):
    g = transform(rosen)

    def wrapper(x):
        if tree:
            with sn.tree_mode():
                return g(x)
        return g(x)

    fast, slow, taken = routes(lambda: sn.trace(wrapper, X3, mode="scalar"))
    assert taken.get("renamed", 0) >= 1 and "substituted" not in taken
    assert_same_objects(fast, slow)
    want = np.asarray(sn.compile(g)(X3), float) if not isinstance(g(X3), tuple) else None
    if want is not None:
        np.testing.assert_allclose(np.asarray(fast(X3), float), want, rtol=1e-12)


def test_a_loop_gradient_with_closure_constants_and_has_aux():
    def loss(x, F):
        def step(i, c):
            return c + 1e-2 * (np.roll(c, 1) * F - c)
        out = sn.fori_loop(0, 5, step, x)
        return np.sum(out ** 2), out[0]

    g = sn.grad(loss, argnums=(0, 1), has_aux=True)
    fast, slow, taken = routes(lambda: sn.trace(lambda x, F: g(x, F), X3, 0.5, mode="scalar"))
    assert taken == {"renamed": 1}
    # a loop term's body is an Fn of its own, built anew by each AD sweep (not interned), so
    # two builds are equal in structure, not one object: compare the printed terms (bodies
    # included) and the values bit for bit
    assert [str(t) for t in fast.flat_outputs] == [str(t) for t in slow.flat_outputs]
    assert all(x is y for x, y in zip(fast.flat_inputs, slow.flat_inputs))
    for u, v in zip(tree_flatten(fast(X3, 0.5))[0], tree_flatten(slow(X3, 0.5))[0]):
        assert np.array_equal(u, v)
    got, want = tree_flatten(fast(X3, 0.5))[0], tree_flatten(g(X3, 0.5))[0]
    np.testing.assert_allclose(np.concatenate([np.ravel(v) for v in got]),
                               np.concatenate([np.ravel(v) for v in want]), rtol=1e-12)


def test_static_arguments_pass_through_the_renaming():
    def f(x, n=3):
        return np.sum(x ** n)

    g = sn.grad(f)
    fast, slow, taken = routes(lambda: sn.trace(lambda x: g(x, 4), X3, mode="scalar"))
    assert taken == {"renamed": 1}
    assert_same_objects(fast, slow)
    np.testing.assert_allclose(fast(X3), 4 * X3 ** 3, rtol=1e-12)


@pytest.mark.parametrize("case", ["closure", "twice", "expression", "number", "mixed"])
def test_what_is_not_a_renaming_is_substituted(case):
    if case == "closure":  # the inner parameter and the outer x must stay distinct
        def wrapper(x, y):
            return sn.grad(lambda t: x * t)(x) + y  # x + y
        want = 5.0
    elif case == "twice":
        inner = sn.grad(lambda a, b: a * b * b, argnums=(0, 1))
        def wrapper(x, y):
            ga, gb = inner(x, x)
            return ga + gb + y  # x² + 2x² + y
        want = 15.0
    elif case == "expression":
        def wrapper(x, y):
            return sn.grad(lambda t: t ** 3)(2 * x) + y  # 3 (2x)² + y
        want = 51.0
    elif case == "number":
        inner = sn.grad(lambda a, b: a * b, argnums=(0, 1))
        def wrapper(x, y):
            return inner(x, 5.0)[1] + y  # x + y
        want = 5.0
    else:  # an array of a float and an int symbol: traced at one (promoted) dtype
        def wrapper(x, y):
            v = np.empty(2, dtype=object)
            v[:] = [x, y]
            return sn.grad(lambda t: t[0] * t[1])(v)[0]
        want = 3.0
    args = (2.0, np.int64(3))
    fast, slow, taken = routes(lambda: sn.trace(wrapper, *args, mode="scalar"))
    assert taken == {"substituted": 1}
    assert_same_objects(fast, slow)
    assert float(fast(*args)) == pytest.approx(want)


def test_an_int_symbol_is_renamed_only_to_an_int_symbol():
    fn = sn.trace(lambda a: a * 2, 1.0)
    i = sn.Sym("i", "int64")
    assert TI.rename_inputs(fn, (i,)) is None
    x = sn.Sym("x")
    r = TI.rename_inputs(fn, (x,))
    assert r.flat_inputs[0] is x and r.outputs is 2 * x


def test_compile_of_a_wrapper_around_grad_is_renamed_and_correct():
    g = sn.grad(rosen)
    TI.stats.clear()
    k = sn.compile(lambda x: g(x) * 2.0)
    np.testing.assert_allclose(k(X3), 2.0 * g(X3), rtol=1e-12)
    assert TI.stats["renamed"] == 1 and TI.stats["substituted"] == 0


@settings(max_examples=60, deadline=None)
@given(expression_recipes(2, max_depth=4), st.booleans(), st.booleans(),
       st.sampled_from(["grad", "hessian"]))
def test_random_programs_rename_to_the_substitutions_objects(recipe, tree, wrap_tree, which):
    def f(v):
        return build(recipe, [v[0], v[1]], mode="tree" if tree else "canonical")

    g = sn.grad(f) if which == "grad" else sn.hessian(f)

    def wrapper(v):
        if wrap_tree:
            with sn.tree_mode():
                return g(v)
        return g(v)

    fast, slow, taken = routes(lambda: sn.trace(wrapper, np.array([0.5, -0.7]), mode="scalar"))
    assert_same_objects(fast, slow)
    if tree == wrap_tree:  # the rebuild in the same mode is an isomorphic copy
        assert taken == {"renamed": 1}
    # a tree-mode trace rebuilt in canonical mode folds (x + 0 → x): substituted, the same terms
