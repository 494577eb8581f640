"""Loop terms in the file format (symnum.loops.files, symnum.io.serialize version 2).

Oracles: the original terms (loading gives back the same interned terms), the reference
interpreter (sn.evaluate / Fn calls) and the compiled kernels of the original graphs.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import symnum as sn
from symnum.errors import SerializationError
from symnum.io.serialize import from_json, to_json

x, q = sn.symbols("x q")


def _roundtrip(obj, tmp_path=None):
    if tmp_path is None:
        return from_json(json.loads(json.dumps(to_json(obj))))
    p = tmp_path / "obj.symnum"
    sn.save(obj, p)
    return sn.load(p)


def _loops():
    """One of each kind: scalar and array carries, reverse, fori from 2, while, recompute,
    a loop nested in a body."""
    c, ys = sn.scan(lambda c, v: (c * sn.cos(v) + q, c * v), x, np.array([x, q, 0.5]),
                    reverse=True)
    arr, ys2 = sn.scan(lambda c, v: (c * v + q, c.sum()), np.array([x, q]),
                       np.array([[0.5, x], [q, 2.0]]), checkpoint="recompute")
    f = sn.fori_loop(2, 6, lambda i, d: d * sn.sin(x) + i * q, x)
    w = sn.while_loop(lambda v: v < 10, lambda v: v * 2 + q, x, max_steps=40)

    def outer(c, v):
        inner = sn.fori_loop(0, 3, lambda i, d: d * sn.sin(c) + v + i * q, c)
        return inner, inner * 2

    n, zs = sn.scan(outer, x, np.arange(3.0))
    return {"scan": (c, ys), "array carry": (arr, ys2), "fori": f, "while": w,
            "nested": (n, zs)}


ENV = {x: 0.7, q: 1.3}


@pytest.mark.parametrize("name", list(_loops()))
def test_each_loop_kind_round_trips_to_the_same_terms(name, tmp_path):
    obj = _loops()[name]
    got = _roundtrip(obj, tmp_path)
    flat_o = [e for leaf in (obj if isinstance(obj, tuple) else (obj,))
              for e in np.ravel(np.asarray(leaf, dtype=object))]
    flat_g = [e for leaf in (got if isinstance(got, tuple) else (got,))
              for e in np.ravel(np.asarray(leaf, dtype=object))]
    assert len(flat_g) == len(flat_o) and all(a is b for a, b in zip(flat_g, flat_o))
    assert [sn.evaluate(e, ENV) for e in flat_g] == [sn.evaluate(e, ENV) for e in flat_o]
    assert to_json(obj)["version"] == 2


def test_files_without_loops_stay_version_1():
    assert to_json(sn.sin(x) * q)["version"] == 1
    assert from_json(to_json(sn.sin(x) * q)) is sn.sin(x) * q


def test_a_loop_record_lists_its_static_part():
    d = to_json(sn.fori_loop(2, 6, lambda i, d: d * sn.sin(x) + i * q, x))
    (rec,) = [n[2] for n in d["nodes"] if n[0] == "opterm" and n[1] == "loop"]
    assert (rec["kind"], rec["length"], rec["lo"], rec["carries"], rec["xs"], rec["consts"],
            rec["ys"], rec["checkpoint"]) == ("fori", 4, 2, 1, 0, 2, 0, "store")
    assert len(rec["body"]["inputs"]) == 1 + 0 + 2 + 1


def _model(u, p):
    c, ys = sn.scan(lambda c, v: (c * np.cos(v) + p, c * v), u, np.linspace(0.0, 1.0, 6))
    k = sn.fori_loop(0, 4, lambda i, d: d * 0.5 + i, c)
    return k + ys.sum()


def test_a_traced_fn_with_loops_round_trips_and_compiles_the_same(tmp_path):
    fn = sn.trace(_model, 0.3, 1.1, mode="scalar")
    got = _roundtrip(fn, tmp_path)
    assert got.flat_outputs == fn.flat_outputs
    assert float(got(0.4, 0.9)) == float(fn(0.4, 0.9))
    k0 = sn.build_function(fn.flat_outputs, *fn.flat_inputs, cache=False)
    k1 = sn.build_function(got.flat_outputs, *got.flat_inputs, cache=False)
    assert np.array_equal(np.asarray(k1(0.4, 0.9)), np.asarray(k0(0.4, 0.9)))
    assert float(np.ravel(k1(0.4, 0.9))[0]) == pytest.approx(float(fn(0.4, 0.9)), rel=1e-13)


def _array_program(v):
    c, ys = sn.scan(lambda c, xi: (c * xi + 1.0, c.sum()), v, np.ones((3, 2)) * 2.0)
    return c, ys


def test_compiled_array_mode_loop_saves_and_loads(tmp_path):
    # an array-mode scan: the compiled function's signature holds the scalar loop it lowers to
    cf = sn.compile(_array_program)
    v = np.array([1.0, 0.5])
    want = cf(v)
    p = tmp_path / "cf.symnum"
    sn.save(cf, p)
    assert json.loads(p.read_text())["version"] == 2
    got = sn.load(p)(v)
    for a, b in zip(got, want):
        assert np.array_equal(a, b)
    c, ys = v.copy(), []
    for _ in range(3):  # the reference: the loop in numpy
        ys.append(c.sum())
        c = c * 2.0 + 1.0
    assert np.allclose(want[0], c) and np.allclose(want[1], ys)


def test_raw_kernel_with_a_loop_saves_and_loads(tmp_path):
    fn = sn.trace(_model, 0.3, 1.1, mode="scalar")
    k = sn.build_function(fn.flat_outputs, *fn.flat_inputs)
    got = _roundtrip(k, tmp_path)
    assert np.array_equal(np.asarray(got(0.4, 0.9)), np.asarray(k(0.4, 0.9)))


# tampered files -----------------------------------------------------------------------------
def _loop_file():
    return to_json(sn.scan(lambda c, v: (c * v + q, c * v), x, np.array([x, q, 0.5]))[0])


def _edit(d, f):
    d = json.loads(json.dumps(d))
    (node,) = [n for n in d["nodes"] if n[0] == "opterm" and n[1] == "loop"]
    f(node, d)
    return d


@pytest.mark.parametrize("edit, message", [
    (lambda n, d: n.__setitem__(1, "evil"), "unknown kind 'evil'"),
    (lambda n, d: n[2].__setitem__("kind", "for"), "loop kind 'for'"),
    (lambda n, d: n[2].__setitem__("checkpoint", "pickle"), "checkpoint policy"),
    (lambda n, d: n[2].__setitem__("length", 7), "arguments where its record says"),
    (lambda n, d: n[2].__setitem__("length", -1), "count"),
    (lambda n, d: n[2].__setitem__("reverse", "yes"), "'reverse' must be"),
    (lambda n, d: n[2].__setitem__("code", "import os"), "exactly the fields"),
    (lambda n, d: n[2].pop("ys"), "exactly the fields"),
    (lambda n, d: n[2]["body"]["outputs"].append(0), "outputs"),
    (lambda n, d: n[2]["body"]["inputs"].__setitem__(0, 10**6), "indices into"),
    (lambda n, d: n[2]["body"]["inputs"].__setitem__(
        0, n[2]["body"]["outputs"][0]), "inputs must be symbols|distinct"),
    (lambda n, d: n[2]["body"]["nodes"].append(["pickle", "cos\nsystem"]), "unknown kind"),
    (lambda n, d: n[3].append(10**6), "not an earlier node"),
    (lambda n, d: n[2]["body"]["nodes"].append({"op": "system"}), "malformed"),
    (lambda n, d: d.__setitem__("version", 1), "version-1 file"),
])
def test_tampered_loop_records_are_refused(edit, message):
    with pytest.raises(SerializationError, match=message):
        from_json(_edit(_loop_file(), edit))


def test_tampered_loop_outputs_are_refused():
    d = json.loads(json.dumps(_loop_file()))
    (out,) = [n for n in d["nodes"] if n[0] == "opterm" and n[1] == "loop_out"]
    out[2]["index"] = 5
    with pytest.raises(SerializationError, match="carry 5 of a loop with 1 carries"):
        from_json(d)
    out[2] = {"index": 0, "step": 9}
    with pytest.raises(SerializationError, match="step 9 of a loop of 3 steps"):
        from_json(d)
    out[3] = [0]  # reads the symbol x, not a loop
    out[2] = {"index": 0, "step": None}
    with pytest.raises(SerializationError, match="exactly one loop node"):
        from_json(d)


def test_pickling_still_works():
    obj = _loops()["nested"]
    got = pickle.loads(pickle.dumps(obj))
    assert got[0] is obj[0]
