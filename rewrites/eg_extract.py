"""DAG-aware extraction from a serialized e-graph (egglog's `serialize()` JSON), in pure Python.

egglog's own extractors cost trees, which overflow on AD-sized DAGs (FIELD-NOTES); here a shared
e-class costs once. Candidates come from a Dijkstra-style pass (a node is ready when all its
children are chosen, so a selection is acyclic by construction) with children's costs weighted
by 1/uses, re-weighted from the previous selection; the cheapest by exact DAG cost is improved
by local switches whose children are already computed (tan(x) → sin(x)/cos(x) when both exist)
and by switches that compute one new class for several parents (a sin/cos pair, a shared factor).
Never imports egglog: it reads plain dicts, so it is tested on hand-made graphs too.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from symnum.rewrites.costs import kernel_cost as _kernel_cost

# a subsumed node (a directed rewrite replaced it) is taken only if nothing else is left
SUBSUMED_PENALTY = 1e12


@dataclass
class EGraph:
    """The serialized e-graph as arrays: node i has op[i], class cls[i], children kids[i]
    (class indices, in order), literal arguments lits[i] and a cost."""

    op: list[str] = field(default_factory=list)
    cls: list[int] = field(default_factory=list)
    kids: list[tuple[int, ...]] = field(default_factory=list)
    lits: list[tuple] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    members: list[list[int]] = field(default_factory=list)  # class → its nodes
    loader: dict[int, int] = field(default_factory=dict)  # loader id (Node i) → class
    ukids: list[tuple[int, ...]] = field(default_factory=list)  # distinct children
    # each node's share of a dependency chain (critical-path costs); empty: its cost
    chain: list[float] = field(default_factory=list)
    _classes: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.members)

    def class_index(self, key: Any) -> int:
        """The index of the class named `key` (a new one when unseen)."""
        i = self._classes.get(key)
        if i is None:
            i = self._classes[key] = len(self.members)
            self.members.append([])
        return i

    def add(self, op: str, cls: int, kids: tuple, lits: tuple, cost: float) -> int:
        i = len(self.op)
        self.op.append(op)
        self.cls.append(cls)
        self.kids.append(kids)
        self.ukids.append(tuple(set(kids)) if len(kids) > 1 else kids)
        self.lits.append(lits)
        self.cost.append(cost)
        self.members[cls].append(i)
        return i

    def parents(self) -> list[list[int]]:
        """class → the nodes that have it as a child (each node once per class)."""
        par: list[list[int]] = [[] for _ in range(self.n_classes)]
        for i, ks in enumerate(self.ukids):
            for k in ks:
                par[k].append(i)
        return par


def _literal(text: str) -> Any:
    """A primitive node's printed value: i64 or f64."""
    try:
        return int(text)
    except ValueError:
        return float(text)  # "inf", "-inf", "NaN" parse too


def from_serialized(data: dict, node_cost: Callable[[str, tuple], float],
                    extractable: set[str], loader_op: str = "Node") -> EGraph:
    """Arrays from egglog's serialized JSON (`serialize().to_json()`). `extractable`: the
    constructor names to keep; `loader_op` nodes map loader ids to classes."""
    nodes = data["nodes"]
    g = EGraph()
    for node in nodes.values():
        op = node["op"]
        if op != loader_op and op not in extractable:
            continue
        kids: list[int] = []
        lits: list[Any] = []
        for ch in node["children"]:
            c = nodes[ch]
            if c["children"] or c["op"] in extractable or c["op"] == loader_op:
                kids.append(g.class_index(c["eclass"]))
            else:  # a primitive (i64/f64 literal): part of this node
                lits.append(_literal(c["op"]))
        cls = g.class_index(node["eclass"])
        if op == loader_op:
            g.loader[int(lits[0])] = cls
            continue
        cost = float(node_cost(op, tuple(lits)))
        g.add(op, cls, tuple(kids), tuple(lits),
              cost + SUBSUMED_PENALTY if node.get("subsumed") else cost)
    return g


def from_frozen(functions: dict, literal: Callable[[str, Any], Any],
                node_cost: Callable[[str, tuple], float], extractable: set[str],
                sort: str = "M", loader_op: str = "Node") -> EGraph:
    """Arrays from egglog's frozen tables (`EGraph.freeze().functions`): rows of e-class ids,
    read without a JSON round trip (0.6 s instead of 4 s at 1.4·10⁵ rows, measured).
    `literal(sort, value)` converts a primitive argument (i64, f64) to a Python number."""
    g = EGraph()
    for op, fn in functions.items():
        if op != loader_op and op not in extractable:
            continue
        is_kid = [s == sort for s in fn.input_sorts]
        for row in fn.rows:
            kids, lits = [], []
            for v, kid, s in zip(row.inputs, is_kid, fn.input_sorts):
                if kid:
                    kids.append(g.class_index(v))
                else:
                    lits.append(literal(s, v))
            cls = g.class_index(row.output)
            if op == loader_op:
                g.loader[int(lits[0])] = cls
                continue
            lt = tuple(lits)
            cost = float(node_cost(op, lt))
            g.add(op, cls, tuple(kids), lt, cost + SUBSUMED_PENALTY if row.subsumed else cost)
    return g


def _select(g: EGraph, cost: list[float], parents: list[list[int]],
            combine: Callable[[int, list[float]], float], prune: bool) -> list[int]:
    """One selection (class → node, -1 where none) in Dijkstra order: a node becomes a
    candidate once all its children's classes are chosen, at `combine(node, best)` (best: the
    chosen cost per class); `prune` pushes a candidate only when it beats the class's cheapest
    pending one."""
    best = [0.0] * g.n_classes
    tentative = [float("inf")] * g.n_classes  # cheapest candidate pushed so far, per class
    choice = [-1] * g.n_classes
    ukids, cls = g.ukids, g.cls
    pending = [len(k) for k in ukids]
    heap = [(cost[i], i) for i, ks in enumerate(ukids) if not ks]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        c, i = pop(heap)
        cl = cls[i]
        if choice[cl] >= 0:
            continue
        choice[cl], best[cl] = i, c
        for p in parents[cl]:
            pending[p] -= 1
            if pending[p] == 0 and choice[cls[p]] < 0:
                pc = combine(p, best)
                if not prune:
                    push(heap, (pc, p))
                elif pc < tentative[cls[p]]:
                    tentative[cls[p]] = pc
                    push(heap, (pc, p))
    return choice


def _choose(g: EGraph, weight: list[float], parents: list[list[int]]) -> list[int]:
    """One selection on weighted costs: a node's cost plus its children's, each weighted."""
    ukids, cost = g.ukids, g.cost

    def combine(p: int, best: list[float]) -> float:
        pc = cost[p]
        for k in ukids[p]:
            pc += weight[k] * best[k]
        return pc

    return _select(g, cost, parents, combine, prune=True)


def reachable(g: EGraph, choice: list[int], roots: list[int]) -> list[int] | None:
    """Classes reachable from `roots` under `choice`, children first; None if a root or a
    reached class has no choice, or the choice has a cycle."""
    state = [0] * g.n_classes  # 0 new, 1 on the stack, 2 done
    order: list[int] = []
    for r in roots:
        if state[r]:
            continue
        stack = [(r, False)]
        while stack:
            c, expanded = stack.pop()
            if expanded:
                state[c] = 2
                order.append(c)
                continue
            if state[c] == 2:
                continue
            if state[c] == 1 or choice[c] < 0:
                return None
            state[c] = 1
            stack.append((c, True))
            for k in g.ukids[choice[c]]:
                if state[k] == 1:
                    return None  # a cycle
                if state[k] == 0:
                    stack.append((k, False))
    return order


def dag_cost(g: EGraph, choice: list[int], roots: list[int], raw: bool = False) -> float:
    """Exact cost of a selection: each reachable class once; inf if it is not a valid DAG.
    `raw`: without the penalty on subsumed nodes (what the code would really cost)."""
    order = reachable(g, choice, roots)
    if order is None:
        return float("inf")
    costs = (g.cost[choice[c]] for c in order)
    if raw:
        return sum(c - SUBSUMED_PENALTY if c >= SUBSUMED_PENALTY else c for c in costs)
    return sum(costs)


def _uses(g: EGraph, choice: list[int], order: list[int]) -> list[int]:
    uses = [0] * g.n_classes
    for c in order:
        for k in g.ukids[choice[c]]:
            uses[k] += 1
    return uses


def _improve(g: EGraph, choice: list[int], roots: list[int], rounds: int = 3) -> list[int]:
    """Switch a class to another node whose children are all computed already when that lowers
    the exact DAG cost (what the switch orphans is freed). A child later in the topological
    order is taken only if it cannot reach the class (no cycle); such a switch ends the round,
    since the order must then be recomputed."""
    choice = list(choice)
    for _ in range(rounds):
        order = reachable(g, choice, roots)
        if order is None:
            return choice
        pos = [-1] * g.n_classes
        for i, c in enumerate(order):
            pos[c] = i
        refs = _uses(g, choice, order)
        for r in roots:
            refs[r] += 1  # roots stay alive
        changed = reorder = False
        for c in reversed(order):
            if refs[c] <= 0:
                continue  # freed by an earlier switch
            cur = choice[c]
            for alt in g.members[c]:
                if alt == cur or g.cost[alt] >= SUBSUMED_PENALTY:
                    continue
                new_kids = set(g.ukids[alt])
                if any(refs[k] <= 0 for k in new_kids):
                    continue
                later = [k for k in new_kids if pos[k] >= pos[c]]
                if later and _reaches(g, choice, later, c, pos):
                    continue
                old_kids = set(g.ukids[cur])
                freed, delta = _freed(g, choice, refs, old_kids - new_kids, new_kids - old_kids)
                if g.cost[alt] - g.cost[cur] - freed < -1e-9:
                    for k, d in delta.items():
                        refs[k] += d
                    for k in new_kids - old_kids:
                        refs[k] += 1
                    choice[c] = cur = alt
                    changed = True
                    reorder = reorder or bool(later)
            if reorder:
                break
        if not changed:
            break
    return choice


def _reaches(g: EGraph, choice: list[int], starts: list[int], target: int,
             pos: list[int]) -> bool:
    """Whether any class in `starts` reaches `target` under `choice`. Classes before `target`
    in the topological order `pos` cannot reach it and are not explored."""
    seen = set(starts)
    stack = list(starts)
    limit = pos[target]
    while stack:
        k = stack.pop()
        if k == target:
            return True
        for j in g.ukids[choice[k]]:
            if j not in seen and pos[j] >= limit:
                seen.add(j)
                stack.append(j)
    return False


def _freed(g: EGraph, choice: list[int], refs: list[int], dropped: set[int],
           gained: set[int]) -> tuple[float, dict[int, int]]:
    """Cost of what dropping one reference to each class in `dropped` orphans (cascading);
    classes in `gained` get a reference from the new node, so they are never freed."""
    delta: dict[int, int] = {}
    freed = 0.0
    stack = list(dropped)
    while stack:
        k = stack.pop()
        delta[k] = delta.get(k, 0) - 1
        if refs[k] + delta[k] == 0 and k not in gained:
            freed += g.cost[choice[k]]
            stack.extend(g.ukids[choice[k]])
    return freed, delta


def _share(g: EGraph, choice: list[int], roots: list[int], parents: list[list[int]],
           budget: int = 2_000_000) -> list[int]:
    """Computing one new class K can pay for itself only through several parents at once: a
    SinCos pair serves a sine and a cosine, each dearer alone; a new common factor serves two
    sums. One switch at a time (`_improve`) never sees that, so for each class K not computed
    yet whose cheapest node has all its children computed, switch every computed class that
    has a node over K (its other children computed) and gains by it, if the exact DAG cost
    falls. `budget` bounds the work (exact costs are O(size) each)."""
    order = reachable(g, choice, roots)
    if order is None:
        return choice
    live = [False] * g.n_classes
    for c in order:
        live[c] = True
    cost, ukids, members, cls = g.cost, g.ukids, g.members, g.cls
    moves = []
    for k in range(g.n_classes):
        if live[k]:
            continue
        ready = [i for i in members[k] if cost[i] < SUBSUMED_PENALTY
                 and all(live[j] for j in ukids[i])]
        if not ready:
            continue
        kn = min(ready, key=lambda i: cost[i])
        gains: dict[int, tuple[float, int]] = {}
        for p in parents[k]:
            pc = cls[p]
            if not live[pc] or cost[p] >= SUBSUMED_PENALTY:
                continue
            if not all(live[j] for j in ukids[p] if j != k):
                continue
            gain = cost[choice[pc]] - cost[p]
            if gain > 0 and gain > gains.get(pc, (0.0, -1))[0]:
                gains[pc] = (gain, p)
        estimate = sum(gn for gn, _ in gains.values()) - cost[kn]
        if len(gains) >= 2 and estimate > 1e-9:
            moves.append((estimate, k, kn, [p for _, p in gains.values()]))
    if not moves:
        return choice
    moves.sort(key=lambda m: -m[0])
    best = dag_cost(g, choice, roots)
    checks = max(1, budget // max(1, len(order)))
    for _, k, kn, ps in moves[:checks]:
        trial = list(choice)
        trial[k] = kn
        for p in ps:
            trial[cls[p]] = p
        c = dag_cost(g, trial, roots)  # inf if the switch made a cycle
        if c < best - 1e-9:
            choice, best = trial, c
    return choice


@dataclass
class Extraction:
    """A selection: `choice` (class → node), the reachable classes children first, its cost,
    the cost of each candidate tried, and the input's own cost without penalties."""

    choice: list[int]
    order: list[int]
    cost: float
    candidates: dict[str, float]
    input_cost: float = float("nan")


def critical(g: EGraph, choice: list[int], order: list[int], roots: list[int],
             raw: bool = False) -> float:
    """The longest chain of a selection: each class's node cost plus its slowest child's
    (`raw`: without the penalty on subsumed nodes)."""
    lat = [0.0] * g.n_classes
    step = g.chain or g.cost
    for c in order:  # children first
        i = choice[c]
        ks = g.ukids[i]
        own = step[i]
        if raw and own >= SUBSUMED_PENALTY:
            own -= SUBSUMED_PENALTY
        lat[c] = own + (max(lat[k] for k in ks) if ks else 0.0)
    return max((lat[r] for r in roots), default=0.0)


def kernel_cost(g: EGraph, choice: list[int], roots: list[int], width: float = 0.0,
                raw: bool = False, hidden: float = 0.0) -> float:
    """The DAG cost (width 0), or max(DAG cost / width, critical path) — the critical-path-
    aware model of rewrites/costs.py; inf for a selection that is not a valid DAG."""
    if width <= 0:
        return dag_cost(g, choice, roots, raw)
    order = reachable(g, choice, roots)
    if order is None:
        return float("inf")
    return _kernel_cost(dag_cost(g, choice, roots, raw), critical(g, choice, order, roots, raw),
                        width, hidden)


def _critical_classes(g: EGraph, choice: list[int], order: list[int],
                      roots: list[int]) -> list[int]:
    """The classes on the longest chain, root first."""
    lat = [0.0] * g.n_classes
    step = g.chain or g.cost
    for c in order:
        ks = g.ukids[choice[c]]
        lat[c] = step[choice[c]] + (max(lat[k] for k in ks) if ks else 0.0)
    c = max(roots, key=lambda r: lat[r])
    path = [c]
    while g.ukids[choice[c]]:
        c = max(g.ukids[choice[c]], key=lambda k: lat[k])
        path.append(c)
    return path


def _choose_latency(g: EGraph, parents: list[list[int]]) -> list[int]:
    """A selection minimising each class's own chain (its node's cost plus its slowest
    child's): Dijkstra order with max in place of the sum, acyclic by construction."""
    ukids = g.ukids
    # the chain first, the node's own cost to break ties (a subsumed node stays last)
    cost = [(s + c * 1e-6 if c < SUBSUMED_PENALTY else c) for s, c in zip(g.chain or g.cost,
                                                                           g.cost)]
    return _select(g, cost, parents,
                   lambda p, best: cost[p] + max(best[k] for k in ukids[p]), prune=False)


def _with_subtree(g: EGraph, choice: list[int], c: int, alt: int, live: list[bool],
                  fill: list[int]) -> list[int]:
    """`choice` with class c on node `alt`, the classes only `alt` brings in taken from
    `fill` (where it has a node for them)."""
    trial = list(choice)
    trial[c] = alt
    seen: set[int] = set()
    stack = list(g.ukids[alt])
    while stack:
        k = stack.pop()
        if live[k] or k in seen:
            continue
        seen.add(k)
        if fill[k] >= 0:
            trial[k] = fill[k]
        if trial[k] >= 0:
            stack.extend(g.ukids[trial[k]])
    return trial


def _shorten(g: EGraph, choice: list[int], roots: list[int], width: float,
             hidden: float = 0.0, parents: list[list[int]] | None = None,
             budget: int = 2_000_000, rounds: int = 8) -> list[int]:
    """Where the critical path decides the cost, try the other nodes of each class on it —
    their new children as the sum-cheapest pass chose them, or as the chain-shortest selection
    does (an Estrin form in place of Horner's chain, its halves Estrin too) — and keep a switch
    when the kernel cost falls."""
    best = kernel_cost(g, choice, roots, width, hidden=hidden)
    order = reachable(g, choice, roots)
    if order is None:
        return choice
    fast: list[int] | None = None
    checks = max(1, budget // max(1, len(order)))
    for _ in range(rounds):
        order = reachable(g, choice, roots)
        if order is None:
            break
        if critical(g, choice, order, roots) - hidden <= dag_cost(g, choice, roots) / width:
            break  # throughput-bound: a shorter chain cannot lower the cost
        if fast is None:  # only where the chain decides: most large programs never get here
            fast = _choose_latency(g, parents if parents is not None else g.parents())
        live = [False] * g.n_classes
        for k in order:
            live[k] = True
        found = None
        for c in _critical_classes(g, choice, order, roots):
            for alt in g.members[c]:
                if g.cost[alt] >= SUBSUMED_PENALTY or checks <= 0:
                    continue
                for fill in (choice, fast):
                    if alt == choice[c] and fill is choice:
                        continue
                    checks -= 1
                    trial = _with_subtree(g, choice, c, alt, live, fill)
                    cost = kernel_cost(g, trial, roots, width, hidden=hidden)
                    if cost < best - 1e-9:
                        best, found = cost, trial
        if found is None:
            break
        choice = found
    return choice


def extract(g: EGraph, roots: list[int], original: list[int] | None = None,
            passes: int = 3, width: float = 0.0, hidden: float = 0.0) -> Extraction:
    """The cheapest selection found for `roots` (class indices); `original` (class → node of
    the input graph, -1 unknown) is a candidate too, so the result never costs more than it.
    `width` > 0: costs are critical-path aware (kernel_cost, with `hidden` cycles of a chain
    free) and the classes on the longest chain are offered their other nodes (_shorten)."""
    cands: dict[str, list[int]] = {}
    weight = [1.0] * g.n_classes
    if original is not None:
        orig = list(original)
        order = reachable(g, orig, roots)
        if order is not None:
            cands["input"] = orig
            uses = _uses(g, orig, order)
            weight = [1.0 / max(1, u) for u in uses]
    parents = g.parents()
    for p in range(passes):
        choice = _choose(g, weight, parents)
        cands[f"pass{p}"] = choice
        order = reachable(g, choice, roots)
        if order is None:
            break
        uses = _uses(g, choice, order)
        weight = [1.0 / max(1, u) for u in uses]
    costs = {k: kernel_cost(g, ch, roots, width, hidden=hidden) for k, ch in cands.items()}
    best = min(costs, key=lambda k: costs[k])
    choice = _improve(g, _share(g, cands[best], roots, parents), roots)
    cost = kernel_cost(g, choice, roots, width, hidden=hidden)
    if cost > costs[best]:  # sum-improving switches lengthened the chain: keep the candidate
        choice, cost = cands[best], costs[best]
    if width > 0:
        choice = _shorten(g, choice, roots, width, hidden, parents)
        cost = kernel_cost(g, choice, roots, width, hidden=hidden)
    costs["improved"] = cost
    order = reachable(g, choice, roots) or []
    raw_in = (kernel_cost(g, cands["input"], roots, width, True, hidden) if "input" in cands
              else float("nan"))
    return Extraction(choice, order, kernel_cost(g, choice, roots, width, True, hidden), costs,
                      raw_in)
