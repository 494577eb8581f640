"""Loop terms in symnum's file format (`sn.save` / `sn.load`, format version 2).

Sits beside symnum.loops.terms, whose pickling codec (`_encode_loop`: the static part of a loop
as plain data, its body as a nested node table) this module writes as JSON records and reads
back, registering both with symnum.io.serialize (`register_opterm`). Reading checks every
field before anything is built: a record that was edited, truncated or comes from a newer
symnum is a SerializationError, never a half-built loop; like the rest of the format it holds
data only (numbers, strings, node tables: no code, no pickles), and the body's operations are
looked up by name in this process's registry.

A loop node, ["opterm", "loop", RECORD, [init..., consts..., xs...], VALUE], with RECORD:

    {"kind": "scan" | "fori" | "while", "length": trips (≥ 0), "reverse": bool,
     "lo": step index of the first step (int), "carries": nc, "xs": nx, "consts": nk,
     "ys": ny, "checkpoint": "store" | "recompute",
     "body": {"nodes": NODES, "inputs": [i, ...], "outputs": [i, ...]}}

where the body's inputs are nc carries, nx per-step xs, nk closed-over symbols and the step
index (all "sym" nodes, distinct), its outputs nc new carries, ny per-step ys and, for a while
loop, the condition; the node's arguments are nc + nk + length·nx earlier nodes. A loop's output,
["opterm", "loop_out", {"index": k, "step": null | s}, [loop node], VALUE], is final carry k
(step null) or y k of step s. Array-mode loops are stored as the scalar loops they lower to
(a compiled function's signatures hold scalar Fns). Never evaluates or compiles anything.
"""

from __future__ import annotations

from typing import Any

from symnum.errors import SerializationError
from symnum.io.serialize import dec_nodes, enc_nodes, register_opterm
from symnum.loops.terms import POLICIES

KINDS = ("scan", "fori", "while")
_LOOP_KEYS = frozenset({"kind", "length", "reverse", "lo", "carries", "xs", "consts", "ys",
                        "checkpoint", "body"})


def loop_to_json(data: tuple) -> dict:
    """The record of a loop (from symnum.loops.terms' codec data)."""
    kind, length, reverse, lo, nc, nx, nk, ny, checkpoint, nodes, roots, n_in = data
    return {"kind": kind, "length": int(length), "reverse": bool(reverse), "lo": int(lo),
            "carries": nc, "xs": nx, "consts": nk, "ys": ny, "checkpoint": checkpoint,
            "body": {"nodes": enc_nodes(list(nodes)), "inputs": list(roots[:n_in]),
                     "outputs": list(roots[n_in:])}}


def _bad(what: str) -> SerializationError:
    return SerializationError(f"a loop record is malformed: {what} (the file is damaged, was "
                              "edited, or was written by a newer symnum)")


def _count(d: dict, key: str) -> int:
    v = d[key]
    if type(v) is not int or v < 0:
        raise _bad(f"{key!r} must be a count (an integer ≥ 0), not {v!r:.40}")
    return v


def _indices(v: Any, n: int, what: str) -> list[int]:
    if not isinstance(v, list) or any(type(i) is not int or not 0 <= i < n for i in v):
        raise _bad(f"the body's {what} must be a list of indices into its {n} nodes")
    return v


def loop_from_json(d: Any, args: list) -> tuple:
    """The codec data of a loop record, every field checked (see the module docstring)."""
    if not isinstance(d, dict) or set(d) != _LOOP_KEYS:
        got = sorted(d) if isinstance(d, dict) else type(d).__name__
        raise _bad(f"it must have exactly the fields {sorted(_LOOP_KEYS)}, it has {got}")
    kind, checkpoint = d["kind"], d["checkpoint"]
    if kind not in KINDS:
        raise _bad(f"the loop kind {kind!r:.40} is none of {KINDS}")
    if checkpoint not in POLICIES:
        raise _bad(f"the checkpoint policy {checkpoint!r:.40} is none of {POLICIES}")
    if type(d["reverse"]) is not bool or type(d["lo"]) is not int:
        raise _bad("'reverse' must be true or false and 'lo' an integer")
    length, nc, nx, nk, ny = (_count(d, k) for k in ("length", "carries", "xs", "consts", "ys"))
    body = d["body"]
    if not isinstance(body, dict) or set(body) != {"nodes", "inputs", "outputs"}:
        raise _bad("'body' must have exactly the fields nodes, inputs and outputs")
    nodes = dec_nodes(body["nodes"])  # a nested loop's records are checked here too
    ins = _indices(body["inputs"], len(nodes), "inputs")
    outs = _indices(body["outputs"], len(nodes), "outputs")
    if len(ins) != nc + nx + nk + 1 or len(set(ins)) != len(ins):
        raise _bad(f"the body must read {nc + nx + nk + 1} distinct inputs (carries, xs, "
                   f"closed-over symbols, the step index), it lists {len(ins)}")
    if any(nodes[i][0] != "sym" for i in ins):
        raise _bad("the body's inputs must be symbols")
    if len(outs) != nc + ny + (kind == "while"):
        raise _bad(f"a {kind} body with {nc} carries and {ny} ys has "
                   f"{nc + ny + (kind == 'while')} outputs, not {len(outs)}")
    if len(args) != nc + nk + length * nx:
        raise _bad(f"the loop node has {len(args)} arguments where its record says "
                   f"{nc + nk + length * nx} (carries, closed-over values, every step's xs)")
    return (kind, length, d["reverse"], d["lo"], nc, nx, nk, ny, checkpoint, nodes,
            tuple(ins + outs), len(ins))


def out_to_json(data: tuple) -> dict:
    index, step = data
    return {"index": int(index), "step": None if step is None else int(step)}


def out_from_json(d: Any, args: list) -> tuple:
    """(index, step) of a loop output record, checked against the loop node it reads."""
    if not isinstance(d, dict) or set(d) != {"index", "step"}:
        raise _bad("a loop output must have exactly the fields index and step")
    index, step = d["index"], d["step"]
    if len(args) != 1 or args[0][0] != "opterm" or args[0][1] != "loop":
        raise _bad("a loop output must read exactly one loop node")
    _, length, _, _, nc, _, _, ny = args[0][2][:8]
    if type(index) is not int or index < 0 or (step is not None and type(step) is not int):
        raise _bad("a loop output's index must be an integer ≥ 0 and its step null or one")
    if step is None and index >= nc:
        raise _bad(f"carry {index} of a loop with {nc} carries")
    if step is not None and (index >= ny or not 0 <= step < length):
        raise _bad(f"y {index} of step {step} of a loop of {length} steps with {ny} ys")
    return index, step


register_opterm("loop", loop_to_json, loop_from_json)
register_opterm("loop_out", out_to_json, out_from_json)
