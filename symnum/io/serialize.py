"""`symnum.save(obj, path)` / `symnum.load(path)`: expressions, Fns and compiled functions in a
documented, versioned JSON file that holds data only — loading it never runs code.

The file (format "symnum", version 1 or 2) is one JSON object:

    {"format": "symnum", "version": 1, "kind": KIND, ...}

KIND "terms": {"nodes": [...], "tree": TREE} — an expression, or a pytree of expressions
    and arrays of them.
KIND "fn": {"fn": FN} with FN = {"nodes": [...], "inputs": TREE, "outputs": TREE,
    "names": [...]}.
Further kinds are registered by the layers that own the objects (`register_kind`):
"compiled_function" and "kernel" by `symnum.compile`.

Version 2 adds loop terms (sn.scan / fori_loop / while_loop); a file without them is still
written as version 1, which older readers read.

NODES (children before parents, referred to by index):
    ["sym", name, META]              META: {"dtype": "float64", "shape": [], "role": ...}
    ["const", NUM]
    ["term", primitive_name, [i, ...], VALUE]     (VALUE: the term's metadata, usually null)
    ["add", NUM, [[i, NUM], ...]]    const + Σ coeff·node_i
    ["mul", NUM, [[i, NUM], ...]]    coeff × Π node_i^exponent
    ["opterm", TAG, RECORD, [i, ...], VALUE]   (version 2) an operation that is data, not a
                                     registered primitive: a loop (TAG "loop") or a loop's
                                     output (TAG "loop_out"); RECORD is the JSON object the
                                     owner of TAG registered (`register_opterm`,
                                     symnum.loops.files documents the loop records), checked
                                     field by field when read; an unknown TAG is an error
NUM, exactly: {"int": "12"}, {"float": "0x1.8000000000000p+0"} (float.hex: also "inf",
    "-0x0.0p+0", "nan"), {"float32": hex of its exact float64 value}, {"bool": true},
    {"fraction": ["1", "3"]}.
VALUE (metadata, static arguments, dict keys): null, strings, NUM, {"tuple": [VALUE, ...]},
    {"list": [...]}, {"dict": [[VALUE, VALUE], ...]}.
TREE: ["expr", i], ["array", shape, [i, ...]], ["tuple", [TREE, ...]], ["list", [...]],
    ["dict", [[VALUE, TREE], ...]], ["none"], ["static", VALUE].

Primitives are stored by name and looked up in this process's registry; an unknown one is a
SerializationError naming it (register it with symnum.register before loading). This module sits
in the io layer: it knows terms and Fns, never the compile layer or the backends (those register
their kinds here).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from symnum.errors import SerializationError
from symnum.tracing.fn import Fn, fn_from_data
from symnum.tracing.serial import fn_to_data, trees_from_data, trees_to_data

FORMAT = "symnum"
VERSION = 2  # the newest version this module reads and writes
LOOP_VERSION = 2  # the first version with loop terms (opterm nodes)

# kind → (predicate, to_json(obj, enc) -> dict, from_json(dict, dec) -> obj)
_KINDS: dict[str, tuple[Callable, Callable, Callable]] = {}


def register_kind(kind: str, is_kind: Callable[[Any], bool], to_json: Callable,
                  from_json: Callable) -> None:
    """Teach save/load another kind of object (the compile layer registers its own)."""
    _KINDS[kind] = (is_kind, to_json, from_json)


# tag → (to_json(data) -> JSON object, from_json(JSON object, argument nodes) -> data): ops
# that are data (symnum.core.serial.OP_CODECS) in the file; registered by the layers that own
# them (symnum.loops.files), since this layer never imports them
_OPTERMS: dict[str, tuple[Callable, Callable]] = {}
_STATE = threading.local()  # `loops`: whether the file being written holds loop terms;
# `version`: the version of the file being read


def register_opterm(tag: str, to_json: Callable, from_json: Callable) -> None:
    """Teach save/load an op that is data (an OP_CODECS tag). `from_json(record, args)` gets
    the record and the decoded nodes of the term's arguments; it must check every field and
    raise SerializationError on anything it does not expect."""
    _OPTERMS[tag] = (to_json, from_json)


# numbers and values ----------------------------------------------------------------------------
def enc_num(v: Any) -> dict:
    if isinstance(v, (bool, np.bool_)):
        return {"bool": bool(v)}
    if isinstance(v, (int, np.integer)):
        return {"int": str(int(v))}
    if isinstance(v, np.float32):
        return {"float32": float(v).hex()}
    if isinstance(v, (float, np.floating)):
        return {"float": float(v).hex()}
    if isinstance(v, Fraction):
        return {"fraction": [str(v.numerator), str(v.denominator)]}
    raise SerializationError(f"cannot store the number {v!r} ({type(v).__name__})")


def dec_num(d: Any) -> Any:
    try:
        (k, v), = d.items()
        if k == "float":
            return float.fromhex(v)
        if k == "int":
            return int(v)
        if k == "float32":
            return np.float32(float.fromhex(v))
        if k == "bool":
            return bool(v)
        if k == "fraction":
            return Fraction(int(v[0]), int(v[1]))
    except (AttributeError, ValueError, TypeError, IndexError) as e:
        raise SerializationError(f"malformed number {d!r}: {e}") from None
    raise SerializationError(f"unknown number kind in {d!r}")


_NUM_KEYS = {"float", "int", "float32", "bool", "fraction"}


def enc_value(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float, Fraction, np.number, np.bool_)):
        return enc_num(v)
    if isinstance(v, tuple):
        return {"tuple": [enc_value(x) for x in v]}
    if isinstance(v, list):
        return {"list": [enc_value(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[enc_value(k), enc_value(x)] for k, x in v.items()]}
    raise SerializationError(
        f"cannot store the value {v!r:.60} ({type(v).__name__}): the file holds numbers, "
        "strings, None and tuples/lists/dicts of them (it never stores code or objects)")


def dec_value(d: Any) -> Any:
    if d is None or isinstance(d, str):
        return d
    if isinstance(d, dict) and len(d) == 1:
        k = next(iter(d))
        if k in _NUM_KEYS:
            return dec_num(d)
        if k == "tuple":
            return tuple(dec_value(x) for x in d[k])
        if k == "list":
            return [dec_value(x) for x in d[k]]
        if k == "dict":
            return {dec_value(a): dec_value(b) for a, b in d[k]}
    raise SerializationError(f"malformed value {d!r:.80}")


# node tables and trees -------------------------------------------------------------------------
def enc_nodes(nodes: list) -> list:
    out = []
    for n in nodes:
        kind = n[0]
        if kind == "sym":
            out.append(["sym", n[1], enc_value(n[2])])
        elif kind == "const":
            out.append(["const", enc_num(n[1])])
        elif kind == "term":
            out.append(["term", n[1], list(n[2]), enc_value(n[3])])
        elif kind == "opterm":
            codec = _OPTERMS.get(n[1])
            if codec is None:
                raise SerializationError(
                    f"an operation of kind {n[1]!r} has no file form (import the module that "
                    "defines it, or pickle instead)")
            _STATE.loops = True
            out.append(["opterm", n[1], codec[0](n[2]), list(n[3]), enc_value(n[4])])
        else:  # add / mul
            out.append([kind, enc_num(n[1]), [[i, enc_num(c)] for i, c in n[2]]])
    return out


def dec_nodes(nodes: Any) -> list:
    if not isinstance(nodes, list):
        raise SerializationError("'nodes' must be a list")
    out: list = []
    for k, n in enumerate(nodes):
        try:
            kind = n[0]
            if kind == "sym":
                out.append(("sym", n[1], dec_value(n[2])))
            elif kind == "const":
                out.append(("const", dec_num(n[1])))
            elif kind == "term":
                out.append(("term", n[1], tuple(int(i) for i in n[2]), dec_value(n[3])))
            elif kind in ("add", "mul"):
                out.append((kind, dec_num(n[1]), tuple((int(i), dec_num(c)) for i, c in n[2])))
            elif kind == "opterm":
                out.append(_dec_opterm(k, n, out))
            else:
                raise SerializationError(f"node {k} has the unknown kind {kind!r}")
        except (IndexError, KeyError, TypeError, ValueError) as e:
            raise SerializationError(f"node {k} is malformed ({n!r:.80}): {e}") from None
    return out


def _dec_opterm(k: int, n: Any, done: list) -> tuple:
    """An opterm node, its record checked by the decoder registered for its tag."""
    version = getattr(_STATE, "version", VERSION)
    if version < LOOP_VERSION:
        raise SerializationError(f"node {k} is a loop record, which a version-{version} file "
                                 "cannot hold (the file is damaged or was edited)")
    if len(n) != 5 or not isinstance(n[1], str) or not isinstance(n[3], list):
        raise SerializationError(f"node {k} is a malformed operation record ({n!r:.80})")
    codec = _OPTERMS.get(n[1])
    if codec is None:
        raise SerializationError(
            f"node {k} is an operation of the unknown kind {n[1]!r} (known: "
            f"{', '.join(sorted(_OPTERMS)) or 'none'}); this symnum does not read it")
    args = []
    for i in n[3]:
        if type(i) is not int or not 0 <= i < k:
            raise SerializationError(f"node {k} refers to node {i!r}, which is not an "
                                     "earlier node")
        args.append(i)
    data = codec[1](n[2], [done[i] for i in args])
    return ("opterm", n[1], data, tuple(args), dec_value(n[4]))


def enc_tree(t: Any) -> list:
    kind = t[0]
    if kind in ("none",):
        return ["none"]
    if kind == "expr":
        return ["expr", t[1]]
    if kind == "array":
        return ["array", list(t[1]), list(t[2])]
    if kind in ("tuple", "list"):
        return [kind, [enc_tree(c) for c in t[1]]]
    if kind == "dict":
        return ["dict", [[enc_value(k), enc_tree(v)] for k, v in t[1]]]
    return ["static", enc_value(t[1])]


def dec_tree(t: Any) -> tuple:
    try:
        kind = t[0]
        if kind == "none":
            return ("none",)
        if kind == "expr":
            return ("expr", int(t[1]))
        if kind == "array":
            return ("array", [int(s) for s in t[1]], [int(i) for i in t[2]])
        if kind in ("tuple", "list"):
            return (kind, [dec_tree(c) for c in t[1]])
        if kind == "dict":
            return ("dict", [[dec_value(k), dec_tree(v)] for k, v in t[1]])
        if kind == "static":
            return ("static", dec_value(t[1]))
    except (IndexError, KeyError, TypeError, ValueError) as e:
        raise SerializationError(f"malformed tree {t!r:.80}: {e}") from None
    raise SerializationError(f"unknown tree kind {t!r:.80}")


def enc_fn(fn: Fn) -> dict:
    d = fn_to_data(fn)
    return {"nodes": enc_nodes(d["nodes"]), "inputs": enc_tree(d["inputs"]),
            "outputs": enc_tree(d["outputs"]), "names": list(d["names"])}


def dec_fn(d: dict) -> Fn:
    try:
        data = {"nodes": dec_nodes(d["nodes"]), "inputs": dec_tree(d["inputs"]),
                "outputs": dec_tree(d["outputs"]), "names": list(d["names"])}
    except KeyError as e:
        raise SerializationError(f"an Fn entry lacks {e}") from None
    return fn_from_data(data)


def _refuse(t: Any) -> Any:
    raise SerializationError(f"cannot save a {type(t).__name__} here: save expressions, arrays "
                             "of them or pytrees of them, an Fn or a compiled function")


def _terms_to_json(obj: Any) -> dict:
    nodes, (tree,) = trees_to_data([obj], static=_refuse)
    return {"nodes": enc_nodes(nodes), "tree": enc_tree(tree)}


def _terms_from_json(d: dict) -> Any:
    return trees_from_data(dec_nodes(d["nodes"]), [dec_tree(d["tree"])])[0]


# the public entry points -----------------------------------------------------------------------
def to_json(obj: Any) -> dict:
    """The file's JSON object for `obj` (what `save` writes)."""
    outer = getattr(_STATE, "loops", None)
    _STATE.loops = False
    try:
        body = _body_json(obj)
        version = LOOP_VERSION if _STATE.loops else 1  # readable by the oldest reader it can
    finally:
        _STATE.loops = outer
    return {"format": FORMAT, "version": version, **body}


def _body_json(obj: Any) -> dict:
    if isinstance(obj, Fn):
        return {"kind": "fn", "fn": enc_fn(obj)}
    for kind, (is_kind, to_js, _) in _KINDS.items():
        if is_kind(obj):
            return {"kind": kind, **to_js(obj)}
    return {"kind": "terms", **_terms_to_json(obj)}


def from_json(d: Any) -> Any:
    """The object of a file's JSON object (what `load` returns)."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise SerializationError("not a symnum file (no \"format\": \"symnum\" entry)")
    version = d.get("version")
    if type(version) is not int or not 1 <= version <= VERSION:
        raise SerializationError(
            f"this file has format version {version!r}; this symnum reads versions up to "
            f"{VERSION}: upgrade symnum to load it")
    outer = getattr(_STATE, "version", None)
    _STATE.version = version
    try:
        return _body_from_json(d)
    finally:
        _STATE.version = outer if outer is not None else VERSION


def _body_from_json(d: dict) -> Any:
    kind = d.get("kind")
    if kind == "fn":
        return dec_fn(d["fn"])
    if kind == "terms":
        return _terms_from_json(d)
    if kind in _KINDS:
        return _KINDS[kind][2](d)
    raise SerializationError(f"unknown kind {kind!r} in a symnum file (known: fn, terms, "
                             f"{', '.join(sorted(_KINDS))})")


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write an expression (or pytree of them), an Fn or a compiled function to `path` as
    JSON (format documented in symnum.io.serialize). Written atomically.

    >>> import os, tempfile, symnum as sn
    >>> x = sn.symbols("x")
    >>> p = os.path.join(tempfile.mkdtemp(), "e.json")
    >>> sn.save(sn.sin(x) / 3, p)
    >>> sn.load(p) is sn.sin(x) / 3
    True
    """
    data = json.dumps(to_json(obj), separators=(",", ":"))
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
    os.replace(tmp, path)


def load(path: str | os.PathLike) -> Any:
    """Read what `save` wrote. Compiled functions come back with their saved signatures'
    kernels (rebuilt from the graphs, or taken from the backends' disk caches)."""
    with open(os.fspath(path), encoding="utf-8") as f:
        try:
            d = json.load(f)
        except json.JSONDecodeError as e:
            raise SerializationError(f"{path} is not a JSON symnum file: {e}") from None
    return from_json(d)
