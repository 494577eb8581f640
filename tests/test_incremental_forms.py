"""Sums and products built one entry at a time (symnum.core.terms._Form, canonical._add_one /
_mul_one): the same canonical, hash-consed term as building them at once, in time that does not
grow with the form's size, and walks of deep chains that never recurse."""

from __future__ import annotations

import math
import sys
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

import symnum as sn
from symnum.core import terms as T
from symnum.core.terms import Add, Mul

S = sn.symbols("a b c d e f g h")
a, b, c, d = S[:4]

# one step of a loop: (kind, coefficient, symbol index)
steps = st.lists(st.tuples(st.sampled_from(["add", "sub", "addc", "mul", "mulc", "scale"]),
                           st.sampled_from([1, 2, -1, 0.5, F(1, 3), -2.5, 3]),
                           st.integers(0, len(S) - 1)), max_size=30)


def _loop(seq, start):
    e = start
    for kind, k, i in seq:
        s = S[i]
        if kind == "add":
            e = e + s
        elif kind == "sub":
            e = e - k * s
        elif kind == "addc":
            e = e + k
        elif kind == "mul":
            e = e * s
        elif kind == "mulc":
            e = e * k
        else:
            e = k * e
    return e


def _rebuilt(e):
    """The same value built in one call of the general constructors (no incremental path)."""
    if type(e) is Add:
        return sn.add(e.const, *[sn.mul(coef, t) for t, coef in e.terms.items()])
    if type(e) is Mul:
        return sn.mul(e.coeff, *[sn.pow(base, x) for base, x in e.bases.items()])
    return e


@given(steps)
def test_a_loop_builds_the_canonical_term(seq):
    e = _loop(seq, 0)
    assert _rebuilt(e) is e
    env = {s: 0.37 + 0.11 * i for i, s in enumerate(S)}
    got = sn.evaluate(e, env)
    # the same loop on floats
    x = 0.0
    for kind, k, i in seq:
        v = env[S[i]]
        k = float(k)
        x = {"add": x + v, "sub": x - k * v, "addc": x + k, "mul": x * v, "mulc": x * k,
             "scale": k * x}[kind]
    assert math.isclose(float(got), x, rel_tol=1e-9, abs_tol=1e-9)


def test_older_versions_stay_valid_when_a_chain_branches():
    e = a + b
    e1 = e + c
    e2 = e + d  # e is no longer the newest version of its entries: a copy branches off
    assert dict(e.terms) == {a: 1, b: 1}
    assert dict(e1.terms) == {a: 1, b: 1, c: 1}
    assert dict(e2.terms) == {a: 1, b: 1, d: 1}
    assert e1 + d is e2 + c is a + b + c + d
    p = a * b
    p1, p2 = p * c, p * d
    assert dict(p1.bases) == {a: 1, b: 1, c: 1} and dict(p2.bases) == {a: 1, b: 1, d: 1}
    assert p1 * d is p2 * c


def test_forms_stay_distinct_when_every_hash_collides(monkeypatch):
    # with a zero mask every form of one size and constant has the same key: the entry-by-entry
    # check must still tell them apart
    monkeypatch.setattr(T, "_MASK", 0)
    x, y, z, w = sn.symbols("cx cy cz cw")
    s1, s2 = x + y + 7, z + w + 7
    assert s1 is not s2
    assert dict(s1.terms) == {x: 1, y: 1} and dict(s2.terms) == {z: 1, w: 1}
    assert x + y + 7 is s1 and w + z + 7 is s2
    assert (x * y * 3) is not (z * w * 3) and (y * x * 3) is (x * y * 3)


def test_extending_with_a_smaller_form_keeps_both_orders_canonical():
    big = sum(S[1:], S[0])
    small = sn.Sym("p") + sn.Sym("q")
    assert big + small is small + big is sn.add(*S, sn.Sym("p"), sn.Sym("q"))
    assert (2 * big) + 3 is 2 * big + 3  # hash-consed
    assert dict((big * 2 - big).terms) == dict(big.terms)


def test_deep_chains_build_evaluate_print_and_differentiate():
    x = sn.Sym("x")
    e, v = x, 0.3
    for _ in range(5000):  # ten times Python's default recursion limit
        e = sn.sin(e) * 0.5 + 0.1
        v = math.sin(v) * 0.5 + 0.1
    assert float(sn.evaluate(e, {x: 0.3})) == pytest.approx(v, rel=1e-12)
    text = str(e)
    assert text.startswith("0.5*sin(0.5*sin(") and text.endswith(") + 0.1") and len(text) > 5e4
    d = sn.diff(e, x)
    h = 1e-6
    fd = (float(sn.evaluate(e, {x: 0.3 + h})) - float(sn.evaluate(e, {x: 0.3 - h}))) / (2 * h)
    assert float(sn.evaluate(d, {x: 0.3})) == pytest.approx(fd, rel=1e-4, abs=1e-300)


def test_printing_orders_long_texts_by_their_whole_text():
    # two summands whose texts share a prefix longer than the sort key's head
    long = "v" * 300
    p, q = sn.Sym(long + "b"), sn.Sym(long + "a")
    assert str(p + q) == f"{long}a + {long}b"
    assert str(sn.Sym("-neg") * 2 + 1).endswith(" + 1")


def test_intermediate_forms_that_escape_are_the_interned_forms():
    # the loop's intermediate sums and products are interned like any form: one kept from the
    # loop is the very object a fresh build of the same value returns, in any order
    xs = sn.symbols(" ".join(f"esc{i}" for i in range(60)))
    kept, e, p = {}, 0, 1
    for i, s in enumerate(xs):
        e, p = e + s, p * s
        if i % 7 == 1:
            kept[i + 1] = (e, p)
    del e, p
    for k, (e, p) in kept.items():
        assert sn.add(*reversed(xs[:k])) is e
        assert sn.mul(*xs[:k][::-1]) is p
        f = 0
        for s in xs[:k][::-1]:  # another chain, the other order
            f = f + s
        assert f is e and (e + xs[k] if k < len(xs) else e) is not e


def test_threads_extending_one_chain_get_the_canonical_interned_forms():
    import threading

    base_syms = sn.symbols(" ".join(f"tb{i}" for i in range(40)))
    base = sum(base_syms[1:], base_syms[0])
    extra = sn.symbols(" ".join(f"tx{i}" for i in range(24)))
    results: dict = {}
    barrier = threading.Barrier(6)

    def work(t):
        barrier.wait()
        out = []
        for r in range(40):
            e = base
            order = extra[t % 3::2] if r % 2 else extra[::-1]  # chains that branch and meet
            for s in order:
                e = e + s
            out.append((tuple(order), e))
        results[t] = out

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads between nearly every few bytecodes
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(interval)
    seen: dict = {}
    for out in results.values():
        for order, e in out:
            want = sn.add(*base_syms, *order)
            assert e is want and dict(e.terms) == {s: 1 for s in (*base_syms, *order)}
            assert seen.setdefault(frozenset(order), e) is e
    assert dict(base.terms) == {s: 1 for s in base_syms}  # the shared prefix is intact


def test_forms_under_one_key_come_and_go(monkeypatch):
    # every form's key collides (mask 0): the table keeps a bucket, drops the dead from it and
    # still returns the one live form of each value
    monkeypatch.setattr(T, "_MASK", 0)
    xs = sn.symbols("ka kb kc kd ke")
    forms = [xs[i] + xs[j] for i in range(5) for j in range(i + 1, 5)]
    before = T.live_terms()
    del forms[::2]
    assert T.live_terms() == before - 5
    for f in forms:
        (s, t) = f.entry_keys()
        assert t + s is f and sn.add(s, t) is f
    again = [xs[i] + xs[j] for i in range(5) for j in range(i + 1, 5)]
    assert all(again[k] is forms[(k - 1) // 2] for k in range(1, 10, 2))
    assert len({id(f) for f in again}) == 10
