"""Checkpointing in array-mode reverse mode: checkpoint="recompute" (symnum.loops.array_checkpoint)
and checkpoint=k / "sqrt" (symnum.loops.array_segments). Gradients equal the stored policy's (bit
for bit on the interpreter; a const's cotangent, summed per segment, within reassociation) and
finite differences, and the derivative graph holds the tables the policy says: none for
recompute, (segments, k and remainder) × carry for k."""

from __future__ import annotations

import numpy as np
import pytest

import symnum as sn
from symnum.arrays.terms import ArrayTerm
from symnum.compile import lower
from symnum.core.traversal import postorder
from symnum.loops.arrays import ArrayLoop, ArrayLoopOut

RNG = np.random.default_rng(1212)


def heat_loss(cp, steps=9):
    def loss(u0, k):
        def step(i, u):
            return u + k * (np.roll(u, 1) - 2 * u + np.roll(u, -1)) - 0.01 * u ** 3
        return np.sum(sn.fori_loop(0, steps, step, u0, checkpoint=cp) ** 2)
    return loss


def scan_loss(cp, reverse=False):
    """Two carries (an array and a 0-d one), xs and ys, a closed-over array."""
    def loss(u0, w, xs):
        def body(c, x):
            u, s = c
            v = np.sin(u) * w + x
            return (v, s + np.sum(v * u)), v[1:] * s
        (u, s), ys = sn.scan(body, (u0, 0.5), xs, reverse=reverse, checkpoint=cp)
        return np.sum(u ** 2) + s + np.sum(ys)
    return loss


def _grad(f, *args):
    return sn.grad(f, argnums=tuple(range(len(args))), mode="array")


def _nodes(roots: list) -> list:
    """Every node of a program, those of loop bodies (at any depth) included."""
    out, todo, seen = [], [list(roots)], set()
    while todo:
        for n in postorder(todo.pop()):
            if id(n) in seen:
                continue
            seen.add(id(n))
            out.append(n)
            if isinstance(n, ArrayTerm) and isinstance(n.op, ArrayLoop):
                todo.append(list(n.op.spec.body.flat_outputs))
    return out


def _stored_tables(fn) -> list:
    """Shapes of the stacked ys the derivative program reads, in loop bodies too (the stored
    carries among them)."""
    return [n.shape for n in _nodes(list(fn.flat_outputs))
            if isinstance(n, ArrayTerm) and isinstance(n.op, ArrayLoopOut) and n.op.stacked]


def _loops(fn) -> list:
    return [n for n in postorder(list(fn.flat_outputs))
            if isinstance(n, ArrayTerm) and isinstance(n.op, ArrayLoop)]


def _fd(f, args, j, h=1e-6):
    """Central differences of f along a few coordinates of argument j."""
    a = np.asarray(args[j], dtype=float)
    out = []
    for i in [0, a.size // 2, a.size - 1] if a.ndim else [None]:
        e = np.zeros_like(a)
        if i is None:
            e = h
        else:
            e.reshape(-1)[i] = h
        plus = list(args)
        minus = list(args)
        plus[j], minus[j] = a + e, a - e
        out.append((f(*plus) - f(*minus)) / (2 * h))
    return np.array(out)


def test_heat_gradient_recompute_equals_store_and_finite_differences():
    u, k = RNG.standard_normal(30), 0.1
    gs = _grad(heat_loss("store"), u, k)(u, k)
    gr = _grad(heat_loss("recompute"), u, k)(u, k)
    # the same derivative expression on the same recomputed carries: bit-identical
    assert np.array_equal(gs[0], gr[0]) and gs[1] == gr[1]
    f = sn.trace(heat_loss("store"), u, k, mode="array")
    np.testing.assert_allclose(gr[0][[0, 15, 29]], _fd(f, (u, k), 0), rtol=1e-6, atol=1e-9)
    assert float(gr[1]) == pytest.approx(float(_fd(f, (u, k), 1)[0]), rel=1e-6)


def test_derivative_graph_stores_what_the_policy_says():
    u, k, steps = np.zeros(30), 0.1, 9
    store = sn.trace(_grad(heat_loss("store", steps), u, k), u, k, mode="array")
    rec = sn.trace(_grad(heat_loss("recompute", steps), u, k), u, k, mode="array")
    # store: one (steps × n) table of the carries entering each step
    assert _stored_tables(store) == [(steps, 30)]
    # recompute: no table at all; the backward scan's body holds one inner loop, whose carries
    # are the recomputed step carry (n) and its step counter
    assert _stored_tables(rec) == []
    back = [n for n in _loops(rec) if n.op.spec.kind == "scan"]
    assert len(back) == 1
    inner = [n for n in postorder(list(back[0].op.spec.body.flat_outputs))
             if isinstance(n, ArrayTerm) and isinstance(n.op, ArrayLoop)]
    assert len(inner) == 1
    s = inner[0].op.spec
    assert (s.kind, s.length, s.nc, s.ny) == ("while", steps, 2, 0)
    assert [getattr(c, "shape", ()) for c in s.body.flat_inputs[:s.nc]] == [(30,), ()]


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_with_xs_ys_and_two_carries(reverse):
    u, w, xs = RNG.standard_normal(6), RNG.standard_normal(6), RNG.standard_normal((5, 6))
    gs = _grad(scan_loss("store", reverse), u, w, xs)(u, w, xs)
    gr = _grad(scan_loss("recompute", reverse), u, w, xs)(u, w, xs)
    for a, b in zip(gs, gr):
        assert np.array_equal(a, b)
    f = sn.trace(scan_loss("store", reverse), u, w, xs, mode="array")
    for j in range(3):
        got = np.asarray(gr[j]).reshape(-1)
        a = np.asarray((u, w, xs)[j])
        np.testing.assert_allclose(got[[0, a.size // 2, a.size - 1]], _fd(f, (u, w, xs), j),
                                   rtol=1e-6, atol=1e-8)


def test_reversed_loop_stores_as_in_scalar_mode():
    u, w, xs = np.zeros(6), np.zeros(6), np.zeros((5, 6))
    rec = sn.trace(_grad(scan_loss("recompute", True), u, w, xs), u, w, xs, mode="array")
    assert (5, 6) in _stored_tables(rec)


def while_loss(cp):
    """sum(c²) after a bounded while loop under checkpoint policy `cp`."""
    def f(c0, q):
        c = sn.while_loop(lambda v: np.sum(v) < 40.0, lambda v: v * (1.0 + q) + 0.1, c0,
                          max_steps=30, checkpoint=cp)
        return np.sum(c ** 2)
    return f


def test_while_loop_recompute():
    c0, q = np.abs(RNG.standard_normal(7)), 0.2
    gs = _grad(while_loss("store"), c0, q)(c0, q)
    gr = _grad(while_loss("recompute"), c0, q)(c0, q)
    assert np.array_equal(gs[0], gr[0]) and gs[1] == gr[1]
    k = lower(sn.trace(_grad(while_loss("recompute"), c0, q), c0, q, mode="array"), "llvm",
              cache=False, array_loops="native")
    got = k(c0, q)
    np.testing.assert_allclose(got[0], gs[0], rtol=1e-13)
    assert float(got[1]) == pytest.approx(float(gs[1]), rel=1e-13)


def test_compiled_recompute_gradient_is_native_and_allocates_outside_the_loops():
    u, k = RNG.standard_normal(40), 0.1
    fn = sn.trace(_grad(heat_loss("recompute", 12), u, k), u, k, mode="array")
    ker = lower(fn, "llvm", cache=False, array_loops="native")
    assert ker.info["array_loops"] == "native"
    want = _grad(heat_loss("store", 12), u, k)(u, k)
    got = ker(u, k)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13, atol=1e-15)
    assert float(got[1]) == pytest.approx(float(want[1]), rel=1e-13)
    # every buffer (the inner loop's ping-pong pair too) is allocated once, before the loops:
    # memory O(n), not a buffer per step; and no (steps × n) table
    for line in ker.plan.splitlines():
        if "np.empty(" in line:
            assert line.startswith("    ") and not line.startswith("     "), line
            assert "(12, 40)" not in line


@pytest.mark.parametrize("cp", ["recompute", 3, "sqrt"])
def test_second_order_through_checkpointed_loops(cp):
    def f(u0):
        return np.sum(sn.fori_loop(0, 4, lambda i, u: np.sin(u) * 0.9 + 0.1 * np.roll(u, 1),
                                   u0, checkpoint=cp) ** 2)

    def g(u0):
        return np.sum(sn.fori_loop(0, 4, lambda i, u: np.sin(u) * 0.9 + 0.1 * np.roll(u, 1),
                                   u0) ** 2)

    u = RNG.standard_normal(5)
    hr = sn.hessian(f, mode="array")(u)
    hs = sn.hessian(g, mode="array")(u)
    np.testing.assert_allclose(hr, hs, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# checkpoint=k / "sqrt": every k-th carry kept, the segments recomputed (array_segments)


@pytest.mark.parametrize("cp", [1, 3, 4, "sqrt", 9, 20])
def test_segments_heat_gradient_equals_store(cp):
    u, k = RNG.standard_normal(30), 0.1
    gs = _grad(heat_loss("store"), u, k)(u, k)
    g = _grad(heat_loss(cp), u, k)(u, k)
    assert np.array_equal(gs[0], g[0])  # the carry's cotangent: the same steps, same order
    # the const's is summed per segment first: the same terms, reassociated
    assert float(g[1]) == pytest.approx(float(gs[1]), rel=1e-13)


@pytest.mark.parametrize("cp, tables", [
    (3, [(3, 30), (3, 30)]),          # 9 steps = 3 segments of 3: segment starts, one segment
    (4, [(2, 30), (4, 30), (1, 30)]),  # 2 segments of 4 and a remainder step
    ("sqrt", [(3, 30), (3, 30)]),     # ⌈√9⌉ = 3
])
def test_segments_store_what_the_policy_says(cp, tables):
    u, k = np.zeros(30), 0.1
    fn = sn.trace(_grad(heat_loss(cp), u, k), u, k, mode="array")
    got = [t for t in _stored_tables(fn) if t[1:] == (30,)]
    assert sorted(got) == sorted(tables) and (9, 30) not in got


@pytest.mark.parametrize("cp", [2, "sqrt"])
def test_segments_scan_with_xs_and_ys(cp):
    u, w, xs = RNG.standard_normal(6), RNG.standard_normal(6), RNG.standard_normal((5, 6))
    gs = _grad(scan_loss("store"), u, w, xs)(u, w, xs)
    g = _grad(scan_loss(cp), u, w, xs)(u, w, xs)
    assert np.array_equal(gs[0], g[0]) and np.array_equal(gs[2], g[2])
    np.testing.assert_allclose(g[1], gs[1], rtol=1e-13, atol=1e-14)
    f = sn.trace(scan_loss("store"), u, w, xs, mode="array")
    np.testing.assert_allclose(np.asarray(g[2]).reshape(-1)[[0, 15, 29]],
                               _fd(f, (u, w, xs), 2), rtol=1e-6, atol=1e-8)


def test_segments_while_loop_and_compiled():
    c0, q = np.abs(RNG.standard_normal(40)), 0.2
    gs = _grad(while_loss("store"), c0, q)(c0, q)
    g = _grad(while_loss(4), c0, q)(c0, q)
    assert np.array_equal(gs[0], g[0])
    assert float(g[1]) == pytest.approx(float(gs[1]), rel=1e-13)
    ker = lower(sn.trace(_grad(heat_loss("sqrt", 30), c0, q), c0, q, mode="array"), "llvm",
                cache=False, array_loops="native")
    want = _grad(heat_loss("store", 30), c0, q)(c0, q)
    got = ker(c0, q)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13, atol=1e-15)
    assert float(got[1]) == pytest.approx(float(want[1]), rel=1e-13)
    for line in ker.plan.splitlines():  # tables allocated once, none of (30, 40)
        if "np.empty(" in line:
            assert not line.startswith("     ") and "(30, 40)" not in line, line


def test_policies_are_checked():
    u = np.zeros(4)
    with pytest.raises(ValueError, match="k must be ≥ 1"):
        sn.fori_loop(0, 3, lambda i, v: v * 2, u, checkpoint=0)
    with pytest.raises(ValueError, match="'sqrt' or an int"):
        sn.fori_loop(0, 3, lambda i, v: v * 2, u, checkpoint="sometimes")
    with pytest.raises(ValueError, match="scalar-mode loop takes 'store' or 'recompute'"):
        sn.trace(lambda x: sn.fori_loop(0, 3, lambda i, v: v * x, x, checkpoint=2), 1.0,
                 mode="scalar")


def test_the_policy_is_printed_with_the_loop():
    def f(cp):
        return lambda u: sn.fori_loop(0, 5, lambda i, v: v * 0.5, u, checkpoint=cp)

    def w(cp):
        return lambda u: sn.while_loop(lambda v: np.sum(v) < 9.0, lambda v: v * 2.0, u,
                                       max_steps=5, checkpoint=cp)

    text = {cp: [str(n.op.name) for n in _loops(sn.trace(f(cp), np.zeros(3), mode="array"))]
            for cp in ("store", "recompute", 2, "sqrt")}
    assert text["store"][0].startswith("fori[5](")
    assert text["recompute"][0].startswith("fori[5, recompute](")
    # every k-th: the loop is its segmented nest — 2 segments of an inner loop of 2 steps, then
    # the step left (array_segments.segmented_loop); "sqrt" of 5 steps is k = 3
    assert sorted(t.split("(")[0] for t in text[2]) == ["fori[1]", "fori[2]"]
    assert "fori[2]((%1C0, " in text[2][0] or "fori[2]((%1C0, " in text[2][1]
    assert sorted(t.split("(")[0] for t in text["sqrt"]) == ["fori[1]", "fori[2]"]
    # a while loop keeps its early exit: whole, the policy printed with it
    (wl,) = _loops(sn.trace(w(2), np.ones(3), mode="array"))
    assert str(wl.op.name).startswith("while[5, checkpoint=2](")


def _forward_loops(plan: str) -> list[int]:
    """Trip counts of the forward (not reversed) step loops of a loop plan: a `for tN in
    range(n):` whose first line is not a reversed step `sN = n - 1 - tN`."""
    lines = plan.splitlines()
    out = []
    for a, b in zip(lines, lines[1:]):
        s = a.strip()
        if s.startswith("for t") and " in range(" in s and not b.strip().startswith("s"):
            out.append(int(s.split("range(")[1].rstrip("):")))
    return out


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_segments_run_each_step_twice(backend):
    # 14 steps, k = 4: 3 segments and a tail of 2. The forward pass is the nest itself (the
    # outer loop of 3, its inner loop of 4, the tail of 2; stored copies merged by the
    # backends), and the backward scan recomputes each segment once (an inner loop of 4):
    # no loop of all 14 steps (the plain primal loop the third pass ran)
    u, k = RNG.standard_normal(16), 0.1
    fn = sn.trace(_grad(heat_loss(4, 14), u, k), u, k, mode="array")
    ker = lower(fn, backend, array_loops="native")
    assert sorted(_forward_loops(ker.plan)) == [2, 3, 4, 4]
    want = _grad(heat_loss("store", 14), u, k)(u, k)
    got = ker(u, k)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13, atol=1e-15)
    assert float(got[1]) == pytest.approx(float(want[1]), rel=1e-13)
