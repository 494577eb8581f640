"""The llvm backend's Fn-level index: a warm compile skips the schedule and the IR, computes
exactly what a fresh compile computes, and every doubt (damage, other options, a different
term order, unusual terms) means compiling as before."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from symnum.backends import llvm_index, lower  # noqa: E402

import symnum as sn  # noqa: E402


def fn_of(f, *args):
    return sn.trace(f, *args)


def test_a_warm_compile_is_an_index_hit_with_the_same_kernel_and_source(tmp_path):
    fn = fn_of(lambda x, y: [np.cos(x) * y - x, x ** 3 / y], 1.0, 2.0)
    first = lower(fn, "llvm", cache_dir=tmp_path)
    assert not first.info["cache_hit"] and "index_hit" not in first.info
    again = lower(fn_of(lambda x, y: [np.cos(x) * y - x, x ** 3 / y], 1.0, 2.0), "llvm",
                  cache_dir=tmp_path)  # traced anew: other objects, the same content
    assert again.info["index_hit"] and again.info["schedule_seconds"] == 0.0
    assert again.source == first.source and again.info["statements"] == first.info["statements"]
    X = np.random.default_rng(0).uniform(0.5, 2.0, (2, 50))
    for a, b in zip(again(*X), first(*X)):
        np.testing.assert_array_equal(a, b)


def test_options_and_damage_are_misses(tmp_path):
    fn = fn_of(lambda x: np.exp(x) + 1.0, 1.0)
    first = lower(fn, "llvm", cache_dir=tmp_path)
    assert not lower(fn, "llvm", cache_dir=tmp_path, opt=0).info["cache_hit"]
    assert not lower(fn, "llvm", cache_dir=tmp_path, fastmath=True).info.get("index_hit")
    entries = list(tmp_path.glob("llvmfn_*.json"))
    assert len(entries) == 3
    for p in entries:
        p.write_text("{not json")
    c = lower(fn, "llvm", cache_dir=tmp_path)
    assert "index_hit" not in c.info and c.info["cache_hit"]  # the object cache still hits
    assert float(c(0.5)) == float(first(0.5))
    assert lower(fn, "llvm", cache_dir=tmp_path).info["index_hit"]  # the entry was rewritten
    (tmp_path / f"{first.info['key']}.o").write_bytes(b"garbage")
    c = lower(fn, "llvm", cache_dir=tmp_path)  # the index points at a damaged object
    assert not c.info["cache_hit"] and float(c(0.5)) == float(first(0.5))


def test_the_fingerprint_follows_the_schedules_order_and_content():
    x, y, z = sn.symbols("x y z")
    a = llvm_index.fingerprint([x, y, z], [x * y + sn.sin(z)])
    assert a == llvm_index.fingerprint([x, y, z], [x * y + sn.sin(z)])
    assert a != llvm_index.fingerprint([y, x, z], [x * y + sn.sin(z)])  # input slots
    assert a != llvm_index.fingerprint([x, y, z], [x * y + sn.cos(z)])
    assert a != llvm_index.fingerprint([x, y, z], [x * y + 2.0 * sn.sin(z)])
    # a sum built in another order is stored (and scheduled) in that order: another key
    with sn.tree_mode():
        s1, s2 = sn.add(x, y, z), sn.add(z, y, x)
    assert llvm_index.fingerprint([x, y, z], [s1]) != llvm_index.fingerprint([x, y, z], [s2])
    w = sn.Sym("w")  # a symbol that is not an input: no key (the schedule reports it)
    assert llvm_index.fingerprint([x], [x + w]) is None
