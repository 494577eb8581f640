"""An index in front of the llvm backend's object cache: an Fn's exact content → its entry.

The object cache is keyed by the IR text, so even a hit pays for scheduling and printing the IR
(~3-6 ms for 200 operations, most of a warm compile). This index keys each entry by what the IR
is made from — the Fn's terms in the order the schedule walks them (sums and products in their
stored order, so a hit computes bit for bit what a fresh compile would), the options, the LLVM
and host facts, and the source of the modules that generate the IR — and stores the IR key,
the facts a Compiled reports and the IR text (for `.source`). A damaged or foreign index entry
is a miss. Sits beside llvm_backend; never imports llvmlite.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from symnum.backends.schedule import PREFIX_MIN, sum_groups, walk_order

from symnum.core._gc import no_gc
from symnum.core.terms import Add, Const, Mul, Term, numkey

_FORMAT = "symnum-llvm-index 1"
_CODE: list[str] = []


def _code_digest() -> str:
    """The modules whose code decides the IR for a given Fn: an edit there retires old keys."""
    if not _CODE:
        h = hashlib.blake2b(digest_size=16)
        here = Path(__file__).parent
        for name in ("schedule.py", "llvm_ir.py", "llvm_index.py", "reroll.py", "llvm_reroll.py"):
            h.update((here / name).read_bytes())
        _CODE.append(h.hexdigest())
    return _CODE[0]


@no_gc  # walks of 10⁵-node graphs allocate while the graph is alive: no full GC scans
def walk(outputs: list[Any]) -> list[Any]:
    """The schedule's walk order of the terms (`schedule(..., order=)` takes it too)."""
    return walk_order(list(outputs))


@no_gc
def fingerprint(inputs: list[Any], outputs: list[Any], order: list | None = None) -> str | None:
    """The Fn's terms as text, in the schedule's walk order (`walk(outputs)`, computed here
    unless given); None for anything unusual (the schedule then runs and reports it)."""
    slot = {id(s): i for i, s in enumerate(inputs)}
    pos: dict[int, int] = {}
    parts: list[str] = []
    order = walk(outputs) if order is None else order
    # which large sums share entries (the schedule computes those from the sums before them)
    groups = sum_groups(order)
    told: dict[int, int] = {}  # group → its entries stated so far (shared groups only)
    for n in order:
        k, tp = id(n), type(n)
        if k in slot:
            tok = f"I{slot[k]}"
        elif tp is Const:
            tok = f"C{numkey(n.value)!r}"
        elif tp is Add:
            start = 0
            if n._len >= PREFIX_MIN:
                g = groups[id(n._entries)]
                if g[3]:  # shared: state only the entries beyond those its group's earlier
                    # sums (or its parent group's first g[2]) stated: linear text, not O(step²)
                    start = told.get(g[0], -1)
                    if start < 0:
                        start = min(told.get(g[1], 0), g[2]) if g[1] >= 0 else 0
                    start = min(start, n._len)
                    told[g[0]] = max(start, n._len)
                head = f"A{numkey(n.const)!r}@{g!r}:{start}:{n._len}|"
            else:
                head = f"A{numkey(n.const)!r}|"
            E, L = n._entries, n._len
            tok = head + ";".join(f"{pos[id(t)]}:{numkey(c)!r}"
                                  for t, c in zip(E.keys[start:L], E.vals[start:L]))
        elif tp is Mul:
            tok = f"M{numkey(n.coeff)!r}|" + ";".join(
                f"{pos[id(b)]}:{e!r}" for b, e in n.entry_items())
        elif tp is Term and n.meta is None:  # (the interface's view of a Term is its args)
            op = n.op
            tok = f"F{op.name}/{op.lowering_name()}|" + ",".join(
                str(pos[id(a)]) for a in n.args)
        else:
            return None
        pos[k] = len(parts)
        parts.append(tok)
    outs = []
    for o in outputs:
        p = pos.get(id(o))
        if p is None:
            return None
        outs.append(str(p))
    return f"{len(inputs)}\n" + "\n".join(parts) + "\n=" + ",".join(outs)


def index_key(inputs: list[Any], outputs: list[Any], env: str, options: dict,
              order: list | None = None) -> str | None:
    """The index entry's name for this Fn under these options and this LLVM/host `env`."""
    fp = fingerprint(inputs, outputs, order)
    if fp is None:
        return None
    h = hashlib.blake2b(digest_size=16)
    for part in (_FORMAT, _code_digest(), env, repr(sorted(options.items())), fp):
        h.update(part.encode())
        h.update(b"\0")
    return "llvmfn_" + h.hexdigest()


def read(directory: Path, key: str) -> dict | None:
    """The entry, or None (absent, unreadable, damaged, another format, or not sealed by this
    user for this key: an index that points a function at another kernel's object is refused)."""
    from symnum.backends.cache_security import unseal

    try:
        data = unseal(key, (directory / f"{key}.json").read_bytes())
        entry = json.loads(data) if data is not None else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != _FORMAT:
        return None
    return entry


def write(directory: Path, key: str, entry: dict) -> None:
    """Store an entry atomically (0600), sealed under its key with this user's secret; a
    read-only cache is a slow cache, not an error."""
    from symnum.backends.cache_security import private_dir, seal, write_private

    try:
        folder = private_dir(directory)
        write_private(folder / f"{key}.json",
                      seal(key, json.dumps({"format": _FORMAT, **entry}).encode()))
    except OSError:
        pass
