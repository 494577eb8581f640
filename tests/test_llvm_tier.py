"""Tiered llvm compiles (symnum.backends.llvm_tier): the quick opt=0 code computes exactly what
the optimised code does, the optimised code is swapped in behind the same addresses, only the
optimised object reaches the disk cache (under the key a plain opt=1 compile uses), and a
failed upgrade leaves the quick code working."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from symnum.backends import llvm_batched, llvm_tier, lower  # noqa: E402

import symnum as sn  # noqa: E402


def graph(n: int = 80, seed: int = 3) -> sn.Fn:
    """A seeded DAG of `n` operations (arithmetic and libm calls, sin/cos pairs included)."""
    rng = np.random.default_rng(seed)
    xs = list(sn.symbols("a b c d e"))
    vals = list(xs)
    with sn.tree_mode():
        for i in range(n):
            a, b = vals[-1 - rng.integers(min(len(vals), 12))], vals[rng.integers(len(vals))]
            op = i % 7
            vals.append(a + b if op == 0 else a * b if op in (1, 4) else a - b if op == 2
                        else sn.sin(a) if op == 3 else sn.cos(a) if op == 5 else sn.tanh(a))
    return sn.Fn(xs, vals[5:])


class Blocker:
    """Holds the tier worker busy until released: upgrades queued behind it stay pending."""

    def __init__(self):
        self.go = threading.Event()

        def build():
            self.go.wait(30)
            raise RuntimeError("blocker")  # fails before touching any slot

        self.up = llvm_tier.submit("test-blocker", build, (0, 0), None)

    def release(self):
        self.go.set()
        assert self.up.wait(30) and isinstance(self.up.error, RuntimeError)


def outputs(c, X):
    one = np.empty(c.n_out, X.dtype)
    c.kernel(np.ascontiguousarray(X[0]), one)
    many = np.empty((len(X), c.n_out), X.dtype)
    c.batched(X, many)
    return one, many


@pytest.mark.parametrize("opts", [{}, {"shard": 30}, {"simd": True}, {"dtype": "float32"},
                                  {"vecmath": True, "inline_batched": False}])
def test_quick_and_optimised_code_agree_bitwise_with_a_plain_compile(opts):
    fn = graph()
    X = np.random.default_rng(0).uniform(-1, 1, (37, 5)).astype(opts.get("dtype", "float64"))
    plain = lower(fn, "llvm", cache=False, tier=False, **opts)
    blocker = Blocker()
    try:
        c = lower(fn, "llvm", cache=False, **opts)
        assert c.info["tier"] == "quick" and not c.info["upgrade"].done.is_set()
        address = c._address
        for a, b in zip(outputs(c, X), outputs(plain, X)):
            np.testing.assert_array_equal(a, b)  # the opt=0 code, before the swap
    finally:
        blocker.release()
    up = c.info["upgrade"]
    assert up.wait(30) and up.error is None and c.kernel.library.upgraded is not None
    assert c._address == address  # the same entry point, now jumping to the optimised code
    for a, b in zip(outputs(c, X), outputs(plain, X)):
        np.testing.assert_array_equal(a, b)
    assert plain.info["tier"] is None and plain.info["upgrade"] is None


def test_only_the_optimised_object_is_cached_under_the_plain_key(tmp_path):
    fn = graph(90, seed=5)
    blocker = Blocker()
    try:
        c = lower(fn, "llvm", cache_dir=tmp_path / "tiered")
        assert c.info["tier"] == "quick"
        assert not list((tmp_path / "tiered").glob("*.o"))  # the quick object: never on disk
        assert not list((tmp_path / "tiered").glob("llvmfn_*.json"))
    finally:
        blocker.release()
    assert c.info["upgrade"].wait(30) and c.info["upgrade"].error is None
    plain = lower(fn, "llvm", cache_dir=tmp_path / "plain", tier=False)
    assert plain.info["key"] == c.info["key"]  # the pipeline is in the key: opt=1's
    (obj,) = (tmp_path / "tiered").glob("*.o")
    assert obj.name == f"{plain.info['key']}.o"
    assert obj.read_bytes() == (tmp_path / "plain" / obj.name).read_bytes()
    warm = lower(fn, "llvm", cache_dir=tmp_path / "tiered")
    assert warm.info["index_hit"] and warm.info["opt"] == 1 and warm.info.get("tier") is None
    X = np.random.default_rng(1).uniform(-1, 1, (9, 5))
    for a, b in zip(outputs(warm, X), outputs(plain, X)):
        np.testing.assert_array_equal(a, b)
    quick0 = lower(fn, "llvm", cache_dir=tmp_path / "tiered", opt=0)  # another key, no tier
    assert not quick0.info["cache_hit"] and quick0.info["key"] != plain.info["key"]
    assert quick0.info["tier"] is None


def test_who_is_tiered():
    small = sn.trace(lambda x, y: np.sin(x) * y, 1.0, 2.0)
    assert lower(small, "llvm", cache=False).info["tier"] is None  # below TIER_MIN
    forced = lower(small, "llvm", cache=False, tier=True)
    assert forced.info["tier"] == "quick" and float(forced(0.5, 2.0)) == float(
        np.sin(0.5) * 2.0)
    big = graph(llvm_tier.TIER_MIN + 10)
    assert lower(big, "llvm", cache=False).info["tier"] == "quick"
    assert lower(big, "llvm", cache=False, tier=False).info["tier"] is None
    assert lower(big, "llvm", cache=False, opt=0).info["tier"] is None
    llvm_tier.drain(30)


def test_a_failed_upgrade_leaves_the_quick_code(monkeypatch):
    fn = graph(70, seed=8)
    from symnum.backends import llvm_backend

    def broken(*args):
        raise RuntimeError("no code generator today")

    monkeypatch.setattr(llvm_backend, "_compile_background", broken)
    c = lower(fn, "llvm", cache=False)
    up = c.info["upgrade"]
    assert up.wait(30) and isinstance(up.error, RuntimeError)
    assert c.kernel.library.upgraded is None
    plain = lower(fn, "llvm", cache=False, tier=False)
    X = np.random.default_rng(2).uniform(-1, 1, (5, 5))
    for a, b in zip(outputs(c, X), outputs(plain, X)):
        np.testing.assert_array_equal(a, b)


def test_a_long_batch_waits_for_the_optimised_code(monkeypatch):
    fn = graph(75, seed=9)
    monkeypatch.setattr(llvm_batched, "WAIT_WORK", 1)  # every batch counts as long
    blocker = Blocker()
    try:
        c = lower(fn, "llvm", cache=False)
        X = np.random.default_rng(3).uniform(-1, 1, (4, 5))
        out = np.empty((4, c.n_out))
        t = threading.Thread(target=c.batched, args=(X, out))
        t.start()
        t.join(0.2)
        assert t.is_alive()  # waiting for the upgrade, which waits for the blocker
    finally:
        blocker.release()
    t.join(30)
    assert not t.is_alive() and c.info["upgrade"].done.is_set()
    np.testing.assert_array_equal(out, outputs(lower(fn, "llvm", cache=False, tier=False),
                                               X)[1])


def test_a_second_compile_of_a_pending_kernel_reuses_its_upgrade(tmp_path):
    fn = graph(85, seed=11)
    blocker = Blocker()
    got = {}
    try:
        first = lower(fn, "llvm", cache_dir=tmp_path)
        t = threading.Thread(target=lambda: got.setdefault(
            "c", lower(fn, "llvm", cache_dir=tmp_path)))
        t.start()
        t.join(0.2)
        assert t.is_alive()  # waits for the pending upgrade instead of compiling again
    finally:
        blocker.release()
    t.join(30)
    second = got["c"]
    assert second.info["tier"] is None and first.info["upgrade"].done.is_set()
    assert second.info["key"] == first.info["key"]
    x = np.random.default_rng(4).uniform(-1, 1, 5)
    np.testing.assert_array_equal(second(*x), first(*x))


def test_a_tiered_kernel_pickles_with_its_options():
    import pickle

    fn = graph(66, seed=12)
    c = lower(fn, "llvm", cache=False, tier=False)
    again = pickle.loads(pickle.dumps(c))
    assert again.options["tier"] is False and again.info["tier"] is None


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="POSIX fork")
def test_a_fork_waits_for_the_compile_in_flight_and_the_child_compiles():
    import os

    fn = graph(72, seed=13)
    c = lower(fn, "llvm", cache=False)
    x = np.random.default_rng(5).uniform(-1, 1, 5)
    want = np.asarray(c(*x), float)
    pid = os.fork()
    if pid == 0:  # the child: the upgrade finished before the fork; LLVM works here
        code = 1
        try:
            ok = c.info["upgrade"].done.is_set() and np.array_equal(np.asarray(c(*x), float),
                                                                      want)
            d = lower(graph(70, seed=14), "llvm", cache=False)
            d.info["upgrade"].wait(30)
            code = 0 if ok and d.info["upgrade"].error is None else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_environment_can_turn_the_default_off(monkeypatch):
    fn = graph(68, seed=15)
    monkeypatch.setenv("SYMNUM_LLVM_TIER", "0")
    assert lower(fn, "llvm", cache=False).info["tier"] is None
    assert lower(fn, "llvm", cache=False, tier=True).info["tier"] == "quick"  # asked for
    llvm_tier.drain(30)
    assert not llvm_tier.wanted(None, 1, 10 ** 6) and not llvm_tier.wanted(True, 0, 10 ** 6)


def test_the_egraph_guard_times_the_optimised_code():
    from symnum.backends.compiled import faster

    fn = graph(74, seed=16)
    plain = lower(fn, "llvm", cache=False, tier=False)
    blocker = Blocker()
    try:
        c = lower(fn, "llvm", cache=False)
        assert c.info["tier"] == "quick"
        t = threading.Thread(target=faster, args=(c, plain), kwargs={"rounds": 1})
        t.start()
        t.join(0.2)
        assert t.is_alive()  # waits for the upgrade before timing
    finally:
        blocker.release()
    t.join(30)
    assert not t.is_alive() and c.info["upgrade"].done.is_set()


def test_back_to_back_tiered_compiles_overlap_their_background_builds_safely():
    fns = [graph(64 + 3 * i, seed=20 + i) for i in range(6)]
    tiered = [lower(fn, "llvm", cache=False, tier=True) for fn in fns]  # overlapping upgrades
    assert llvm_tier.drain(60)
    X = np.random.default_rng(6).uniform(-1, 1, (11, 5))
    for fn, c in zip(fns, tiered):
        assert c.info["upgrade"].error is None and c.kernel.library.upgraded is not None
        for a, b in zip(outputs(c, X), outputs(lower(fn, "llvm", cache=False, tier=False), X)):
            np.testing.assert_array_equal(a, b)
