"""simplify(method="egraph"): equality saturation with egglog, bounded, with DAG-aware extraction.

The only module that imports egglog (lazily, inside `run_job`). A term DAG is encoded as a node
table (rewrites/eg_encode.py), loaded through TSV files and one loader rule per constructor
(FIELD-NOTES: three orders of magnitude faster than the obvious routes), saturated in steps with
the node budget, wall clock and memory checked between steps, read back from egglog's frozen
tables and extracted by rewrites/eg_extract.py (a shared class costs once), then rebuilt in tree
mode. Large inputs are split into partitions run one after another; large graphs run
in a worker process with hard time and memory limits; a crash never reaches the caller: the input
comes back unchanged with a warning. Every run stops at a limit and says which.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from typing import Any

from symnum.rewrites.costs import CostModel, resolve_cost, schedule_cost
from symnum.rewrites.eg_encode import Encoder, Language, decode, program
from symnum.rewrites.eg_extract import extract, from_frozen, from_serialized
from symnum.rewrites.eg_report import STOP_REASONS, EgraphReport, Limits
from symnum.rewrites.eg_rulesets import resolve_ruleset
from symnum.rewrites.egraph_rules import EgRuleSet

from symnum.errors import SimplifyError

log = logging.getLogger("symnum.egraph")

COMPLETE = ("default", "cpu")  # rulesets meant as a whole simplifier: the classical passes join


# ---------------------------------------------------------------------------------------------
# one run inside egglog: node table in, extracted node table out (plain data both ways, so the
# same function runs in this process or in the worker)


def load_bindings(direct: bool = False) -> Any:
    """egglog's Rust bindings. `direct` (the worker process, where nothing else uses egglog)
    loads the extension file itself: `import egglog` first builds its whole Python API (0.65 s
    measured, 0.03 s this way), a cost every worker start would pay. The module is registered
    as egglog.bindings, so a later `import egglog` reuses it (an extension initialises once per
    process) — though the package then lacks the `bindings` attribute, hence not by default."""
    import sys

    mod = sys.modules.get("egglog.bindings")
    if mod is not None or not direct:
        if mod is None:
            from egglog import bindings as mod
        return mod
    try:
        import importlib.machinery
        import importlib.util

        spec = importlib.util.find_spec("egglog")
        folder = os.path.dirname(spec.origin) if spec and spec.origin else ""
        name = next(f for f in os.listdir(folder) if f.startswith("bindings.")
                    and f.endswith((".so", ".pyd")))
        loader = importlib.machinery.ExtensionFileLoader("egglog.bindings",
                                                         os.path.join(folder, name))
        mod = importlib.util.module_from_spec(
            importlib.util.spec_from_file_location("egglog.bindings", loader.path,
                                                   loader=loader))
        loader.exec_module(mod)
        sys.modules["egglog.bindings"] = mod
        return mod
    except (ImportError, OSError, StopIteration, AttributeError):
        return load_bindings(direct=False)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):  # not Linux: the peak is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _size(eg: Any, bindings: Any) -> int:
    out = eg.run_program(*eg.parse_program("(print-size)"))
    sizes = next(o for o in out if isinstance(o, bindings.PrintAllFunctionsSize)).sizes
    return sum(n for name, n in sizes if not name.startswith("L_") and name != "Node")


def _write_tables(nodes: Sequence[tuple], d: str) -> list[str]:
    rows: dict[str, list[str]] = defaultdict(list)
    for i, (ctor, lits, kids) in enumerate(nodes):
        cols = [str(i), *map(str, kids), *(repr(v) for v in lits)]
        rows[ctor].append("\t".join(cols))
    cmds = []
    for ctor, lines in rows.items():
        path = os.path.join(d, f"{ctor}.tsv")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        cmds.append(f'(input L_{ctor} "{path}")')
    return cmds


def run_job(job: dict, progress: Callable[[dict], None] | None = None,
            bindings: Any = None) -> dict:
    """Load, saturate within the limits, extract. `job`: program, nodes, roots, costs, limits
    (plain data). Returns entries (ctor, lits, kids) children first, root entries, a node →
    entry map and the report fields."""
    bindings = bindings or load_bindings()
    t0 = time.perf_counter()
    lim = Limits(**job["limits"])
    nodes, roots = job["nodes"], job["roots"]
    eg = bindings.EGraph()
    eg.run_program(*eg.parse_program(job["program"]))
    with tempfile.TemporaryDirectory(prefix="symnum-eg-") as d:
        cmds = _write_tables(nodes, d)
        eg.run_program(*eg.parse_program("\n".join(cmds) + "\n(run-schedule (run load))"))
    if job.get("unions"):  # alternatives found outside the e-graph (Horner, Estrin, log Π)
        eg.run_program(*eg.parse_program("\n".join(
            f"(union (Node {a}) (Node {b}))" for a, b in job["unions"])))
    size = _size(eg, bindings)
    times = {"load": time.perf_counter() - t0}
    sizes, matches = [(0, size)], Counter()
    # back-off threshold: large graphs need a large one for any rule to fire at all, but one
    # step adds at most about rules × threshold nodes, so it stays well inside the budget
    match_limit = lim.match_limit or max(1000, min(len(nodes), lim.nodes // 50))
    # simplify and explore rules both run under back-off: even "simplifying" rules (folding,
    # identities) match combinatorially often once associativity has run
    step = ("(run-schedule (let-scheduler bo (back-off :match-limit {L} :ban-length {B}))"
            " (repeat {k} (seq (repeat {S} (run-with bo simp)) (run-with bo explore))))")
    done, k, stop, peak = 0, 1, "", _rss_mb()
    t_run = time.perf_counter()
    while not stop:
        elapsed = time.perf_counter() - t0
        if done >= lim.iterations:
            stop = "iterations"
        elif size >= lim.nodes:
            stop = "nodes"
        elif peak >= 0.6 * lim.memory_mb:
            stop = "memory"
        elif elapsed + _reserve(size) >= lim.time_s:
            stop = "time"
        if stop:
            break
        k = max(1, min(k, lim.iterations - done))
        ts = time.perf_counter()
        out = eg.run_program(*eg.parse_program(step.format(
            L=match_limit, B=lim.ban_length, k=k, S=lim.simplify_steps)))
        dt = time.perf_counter() - ts
        report = next(o for o in out if isinstance(o, bindings.RunScheduleOutput)).report
        matches.update(report.num_matches_per_rule)
        new = _size(eg, bindings)
        done += k
        peak = max(peak, _rss_mb())
        sizes.append((done, new))
        if progress is not None:
            progress({"iteration": done, "enodes": new, "seconds": time.perf_counter() - t0})
        if not report.updated:
            stop = "saturated"
        # the next step: as many iterations as the node budget and the clock allow, ≤ 2× more
        per_iter_growth = max(1.0, (new - size) / k)
        per_iter_time = dt / k
        size = new
        room_nodes = (lim.nodes - size) / (2 * per_iter_growth)
        room_time = (lim.time_s - (time.perf_counter() - t0) - _reserve(size)) / (
            3 * per_iter_time + 1e-9)
        k = int(max(1, min(2 * k, room_nodes, room_time)))
    eg.run_program(*eg.parse_program(
        f"(run-schedule (let-scheduler bo (back-off :match-limit {match_limit}))"
        f" (repeat {lim.simplify_steps} (run-with bo simp)))"))
    times["saturate"] = time.perf_counter() - t_run
    t1 = time.perf_counter()
    costs, mul, div = job["costs"], job["costs"]["Mul"], job["costs"]["Div"]

    def node_cost(op: str, lits: tuple) -> float:
        if op == "Powi":
            return _powi_cost(int(lits[0]), mul, div)
        return costs[op]

    g = _read_egraph(eg, node_cost, set(costs) | {"Powi"})
    del eg
    g.chain = [c if _is_instruction(op) else 0.0 for op, c in zip(g.op, g.cost)]
    times["read"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    root_cls = [g.loader[r] for r in roots]
    original = _original_choice(g, nodes)
    width, hidden = float(job.get("width", 0.0)), float(job.get("hidden", 0.0))
    ex = extract(g, root_cls, original, width=width, hidden=hidden)
    entry_of: dict[int, int] = {}
    entries = []
    for c in ex.order:
        i = ex.choice[c]
        entry_of[c] = len(entries)
        entries.append((g.op[i], g.lits[i], tuple(entry_of[k] for k in g.kids[i])))
    node_map = ({nid: entry_of[c] for nid, c in g.loader.items() if c in entry_of}
                if job.get("export") else {})
    times["extract"] = time.perf_counter() - t2
    return {"entries": entries, "roots": [entry_of[c] for c in root_cls], "node_map": node_map,
            "root_classes": root_cls,
            "stop_reason": stop, "iterations": done, "sizes": sizes,
            "matches": {k: v for k, v in matches.items() if v}, "times": times,
            "cost_before": _input_cost(nodes, roots, node_cost, width, hidden),
            "cost_after": ex.cost,
            "peak_memory_mb": max(peak, _rss_mb())}


def _input_cost(nodes: Sequence[tuple], roots: Sequence[int], node_cost: Callable,
                width: float, hidden: float = 0.0) -> float:
    """The input graph's cost under the extraction's model: the sum over the nodes the roots
    reach (not the alternatives encoded beside them), or (width > 0) the critical-path-aware
    cost of rewrites/costs.py. Children have smaller ids than their parents."""
    from symnum.rewrites.costs import kernel_cost

    live = [False] * len(nodes)
    stack = list(roots)
    while stack:
        i = stack.pop()
        if not live[i]:
            live[i] = True
            stack.extend(nodes[i][2])
    own = [0.0 if c in ("Num", "Var") or not live[i] else node_cost(c, lits)
           for i, (c, lits, _) in enumerate(nodes)]
    total = sum(own)
    if width <= 0:
        return total
    lat = [0.0] * len(nodes)
    for i, (c, _, kids) in enumerate(nodes):
        step = own[i] if _is_instruction(c) else 0.0
        lat[i] = step + max((lat[k] for k in kids), default=0.0)
    return kernel_cost(total, max((lat[r] for r in roots), default=0.0), width, hidden)


def _is_instruction(ctor: str) -> bool:
    """Whether an e-graph constructor lowers to machine instructions (a chain's links), not
    a libm call (rewrites/costs.py INSTRUCTIONS)."""
    from symnum.rewrites.costs import INSTRUCTIONS

    name = ctor.lower()
    return name in INSTRUCTIONS or name in ("logicaland", "logicalor", "logicalnot")


def _reserve(enodes: int) -> float:
    """Seconds to keep for reading and extracting an e-graph of this size (measured ~2.5e-5 s
    per e-node on a 2-core machine, doubled for a loaded one)."""
    return 5e-5 * enodes + 0.05


def _read_egraph(eg: Any, node_cost: Callable, ctors: set[str]) -> Any:
    """The e-graph as arrays: from its frozen tables, or (an egglog without `freeze`) from the
    serialized JSON, about 6x slower at 10⁵ e-nodes."""
    if hasattr(eg, "freeze"):
        def literal(sort: str, v: Any) -> Any:
            return eg.value_to_i64(v) if sort == "i64" else eg.value_to_f64(v)

        return from_frozen(eg.freeze().functions, literal, node_cost, ctors)
    return from_serialized(json.loads(eg.serialize([]).to_json()), node_cost, ctors)


def _powi_cost(n: int, mul: float, div: float) -> float:
    from symnum.rewrites.costs import _mults

    return 0.0 if n == 0 else _mults(abs(n)) * mul + (div if n < 0 else 0.0)


def _original_choice(g: Any, nodes: Sequence[tuple]) -> list[int]:
    """class → the e-node of the input graph (smallest node id first, so it is acyclic)."""
    index: dict[tuple, int] = {}
    for i, op in enumerate(g.op):
        index[(g.cls[i], op, g.kids[i], g.lits[i])] = i
    choice = [-1] * g.n_classes
    for nid, (ctor, lits, kids) in enumerate(nodes):
        c = g.loader.get(nid)
        if c is None or choice[c] >= 0:
            continue
        key = (c, ctor, tuple(g.loader[k] for k in kids), tuple(lits))
        choice[c] = index.get(key, -1)
    return choice


# ---------------------------------------------------------------------------------------------
# the simplify method: partition, run (here or in a worker), fall back, rebuild, report

# Below this many input nodes a run stays in this process: one step of a small graph cannot
# outgrow memory (back-off caps each rule's matches per step) and a worker costs a Python start
# plus imports (0.25 s measured, see benchmarks/results_issue5.md) — as long as the run itself.
ISOLATE_ABOVE = 3000
# Above this many term nodes the roots are split into groups run one after another; the
# subterms a group shares with earlier ones enter it as opaque leaves (their extracted form).
# Back-off and the node budget already bound one run: at 3·10⁴ nodes one run took 3.9 s and
# three partitions 6.5 s for the same cost (benchmarks/results_issue5.md), so partitions are
# for the largest inputs only, where they bound memory.
PARTITION_NODES = 60_000


def simplify_egraph(roots: Sequence[Any], *, ruleset: Any = None, max_iter: int = 20,
                    stats: Any = None, cost: Any = None, limits: Limits | dict | None = None,
                    node_limit: int | None = None, time_limit: float | None = None,
                    memory_limit: int | None = None, isolate: bool | str = "auto",
                    partition: int | None = None, form: str = "tree",
                    progress: Callable[[dict], None] | None = None,
                    worker: Sequence[str] | None = None, classical: bool | None = None) -> list:
    """The "egraph" method of symnum.simplify: terms in, equivalent terms out.

    ruleset: a name ("default", "cpu", "algebra", "explog", "trig", "stability", "optimize"),
    a list of names, or an EgRuleSet. cost: "critical" (the default: the measured latency
    table, critical-path aware — max(sum / 2, longest chain − 40)), "latency" (the same table
    summed), "cpu" (measured throughput), "paper", "gpu", a CostModel or {primitive: cycles}.
    Kernel rulesets (with fma: "cpu", "optimize") also get forms found outside the e-graph:
    Horner and Estrin forms of polynomials and guarded log-products. max_iter / node_limit /
    time_limit / memory_limit (or limits=Limits(...)) bound each run. isolate: True, False or
    "auto" (a worker process above ISOLATE_ABOVE nodes). form "tree" returns the extracted
    shape (what backends lower);
    "canonical" rebuilds it in canonical form. stats: an EgraphReport to fill (or a
    symnum.rules.Stats: rule matches go to `fired`). progress: called with a dict per step.
    classical: run method="rules" before the e-graph and on its result, and
    return the cheapest (emitted-code cycles, then operations) of the e-graph's result, that
    result after the rules, and the rules' result — so never costlier than method="rules"
    (without: never costlier than the input), except where a stability rewrite applied
    (preferred whatever it costs: then only forms that keep it compete). `report.chosen` says
    which won. None (the default): on for the complete rulesets ("default", "cpu"), off for a
    single concern or an EgRuleSet (a caller who picks rules gets exactly those).

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> print(sn.simplify(sn.log(1 + x) * y, method="egraph"))
    log1p(x)*y
    >>> report = EgraphReport()
    >>> _ = sn.simplify(x*y + x*3, method="egraph", ruleset="cpu", cost="paper", stats=report)
    >>> report.stop_reason, report.schedule_before, report.schedule_after
    ('saturated', 7.0, 4.0)
    """
    rules = resolve_ruleset(ruleset)
    model = resolve_cost(cost)
    lim = _limits(limits, max_iter, node_limit, time_limit, memory_limit)
    if classical is None:
        classical = ruleset is None or (isinstance(ruleset, str) and ruleset in COMPLETE)
    if form not in ("tree", "canonical"):
        raise SimplifyError(f"form must be 'tree' or 'canonical', got {form!r}")
    report = EgraphReport()
    roots = list(roots)
    t0 = time.perf_counter()
    # the e-graph has no rule for what canonical construction does (x - x → 0, 0·x → 0, like
    # terms: unsound at inf/NaN, so absent from the rules), while method="rules" does it: run the
    # classical rules before (a smaller graph to saturate) and after (what exploration left)
    pre = _classical(roots) if classical else roots
    report.times["classical"] = time.perf_counter() - t0
    lang = Language()
    out = _run_partitions(pre, rules, model, lim, lang, isolate, partition or PARTITION_NODES,
                          report, progress, worker)
    t1 = time.perf_counter()
    failed = report.stop_reason == "fallback"  # egglog failed (warned): the input, unchanged
    candidates = [roots] if failed else [out]
    labels = ["input (fallback)"] if failed else ["e-graph"]
    if classical and not failed:
        candidates.append(_classical(out))
        labels.append("e-graph + rules")
    # stability rewrites are preferred whatever they cost: where one applied, only forms that
    # contain it compete; elsewhere the rules' result does too (it has the rules' accurate
    # forms, log1p and friends; the raw input competes only without the rules)
    stable = any(report.matches.get(r.name, 0) for r in rules if r.subsume)
    if not stable and not failed:
        candidates.append(pre)
        labels.append("rules" if classical else "input")
    # a ruleset without stability rules (the kernels' "cpu") asks for the cheapest program
    # only: the raw input competes too, so the result is never costlier than what came in
    if classical and not failed and not any(r.subsume for r in rules):
        candidates.append(roots)
        labels.append("input")
    report.times["classical"] += time.perf_counter() - t1
    ins = _inputs(roots)
    costs = [_cost(c, ins, model) for c in candidates]
    best = min(range(len(candidates)), key=lambda i: costs[i])
    out = candidates[best]
    report.chosen = labels[best]
    if form == "canonical":
        from symnum.simplify import canonicalize_many

        out = canonicalize_many(out)
    report.schedule_before, report.schedule_after = _schedule_costs(roots, out, model)
    report.times["total"] = time.perf_counter() - t0
    _fill(stats, report)
    log.info("e-graph simplify: %s", report.summary().replace("\n", " | "))
    return out


def _classical(roots: list) -> list:
    from symnum.rewrites.classical import simplify_rules

    return simplify_rules(roots)


def _inputs(roots: list) -> list:
    from symnum.core.traversal import free_symbols

    return sorted(free_symbols(list(roots)), key=lambda s: getattr(s, "name", str(s)))


def _cost(terms: list, ins: list, model: CostModel) -> tuple:
    """What a candidate result costs: the emitted code's cycles, then its operation count."""
    from symnum.core.traversal import count_ops

    try:
        cycles = schedule_cost([t for t in terms if not isinstance(t, (int, float))], ins, model)
    except Exception:  # noqa: BLE001  (a term the schedule cannot lower: no figure)
        cycles = float("inf")
    return (cycles, count_ops(list(terms)))


def equivalent(a: Any, b: Any, ruleset: Any = None, **limits: Any) -> bool:
    """Whether the rules prove `a` and `b` equal (their e-classes merge within the limits).

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> equivalent(sn.log(sn.exp(x)), x), equivalent(sn.exp(sn.log(x)), x)
    (True, False)
    """
    from symnum.core.build import as_expr

    rules = resolve_ruleset(ruleset)
    lang = Language()
    enc = Encoder(lang)
    ids = enc.encode([as_expr(a), as_expr(b)])
    if ids[0] == ids[1]:
        return True
    lim = Limits(**limits)
    job = {"program": program(lang, {n[0] for n in enc.nodes}, rules), "nodes": enc.nodes,
           "roots": ids, "costs": lang.cost_table(resolve_cost(None)), "limits": lim.__dict__}
    res = run_job(job)
    return res["root_classes"][0] == res["root_classes"][1]


def _limits(limits: Any, max_iter: int, nodes: Any, time_s: Any, memory: Any) -> Limits:
    if isinstance(limits, dict):
        limits = Limits(**limits)
    lim = limits or Limits(iterations=max_iter)
    changes = {k: v for k, v in (("nodes", nodes), ("time_s", time_s), ("memory_mb", memory))
               if v is not None}
    return replace(lim, **changes) if changes else lim


def _logger(part: int, parts: int) -> Callable[[dict], None]:
    def report_step(d: dict) -> None:
        log.info("e-graph partition %d/%d: iteration %d, %d e-nodes, %.1f s", part + 1, parts,
                 d.get("iteration", 0), d.get("enodes", 0), d.get("seconds", 0.0))

    return report_step


def _groups(roots: list, size: int) -> tuple[list[list[int]], list[int]]:
    """Root indices in groups whose new nodes number about `size` (each node counted once,
    in the first group that reaches it), and each group's node count."""
    from symnum.core.interface import arguments, iscall

    seen: set[int] = set()
    groups: list[list[int]] = [[]]
    counts: list[int] = []
    count = 0
    for i, r in enumerate(roots):
        stack = [r]
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            count += 1
            if iscall(n):
                stack.extend(arguments(n))
        groups[-1].append(i)
        if count >= size:
            groups.append([])
            counts.append(count)
            count = 0
    if groups[-1]:
        counts.append(count)
    return [g for g in groups if g], counts


def _run_partitions(roots: list, rules: EgRuleSet, model: CostModel, lim: Limits,
                    lang: Language, isolate: Any, part: int, report: EgraphReport,
                    progress: Any, worker: Any) -> list:
    out: list[Any] = list(roots)
    groups, sizes = _groups(roots, part)
    done: dict[int, Any] = {}  # id(input subterm) → its extracted form, for later groups
    keep: list[Any] = []
    reasons = []
    t_end = time.perf_counter() + lim.time_s  # the clock covers all partitions together
    for gi, group in enumerate(groups):
        enc = Encoder(lang, reuse=done if gi else None)
        ids = enc.encode([roots[i] for i in group])
        unions = _alternatives(enc, [roots[i] for i in group], rules)
        report.nodes_in += len(enc.nodes)
        used = {n[0] for n in enc.nodes}
        # each partition gets the share of the remaining time its size asks for
        share = sizes[gi] / max(1, sum(sizes[gi:]))
        glim = replace(lim, time_s=max(0.5, (t_end - time.perf_counter()) * share))
        job = {"program": program(lang, used, rules), "nodes": enc.nodes, "roots": ids,
               "costs": lang.cost_table(model), "limits": glim.__dict__,
               "export": gi < len(groups) - 1, "unions": unions,
               "width": model.width, "hidden": model.hidden}
        iso = isolate if isinstance(isolate, bool) else len(enc.nodes) > ISOLATE_ABOVE
        report.isolated |= bool(iso)
        step = progress or _logger(gi, len(groups))
        try:
            res = _execute(job, iso, glim, step, worker)
        except Exception as e:  # noqa: BLE001  (every failure of egglog is a fallback)
            reasons.append("fallback")
            report.error = f"{type(e).__name__}: {e}"
            warnings.warn(f"e-graph simplification failed ({report.error}); the input is "
                          "returned unchanged for these outputs. Lower the limits, pick a "
                          "smaller ruleset, or use method='rules'.", RuntimeWarning,
                          stacklevel=4)
            continue
        terms_out, terms = decode(res["entries"], res["roots"], enc)
        for i, t in zip(group, terms_out):
            out[i] = t
        if res["node_map"]:
            for tid, nid in enc._ids.items():
                e = res["node_map"].get(nid)
                if e is not None:
                    done[tid] = terms[e]
            keep.extend(enc._keep)  # the ids in `done` stay valid while these live
        reasons.append(res["stop_reason"])
        report.iterations = max(report.iterations, res["iterations"])
        report.sizes.append([tuple(s) for s in res["sizes"]])
        report.matches.update(res["matches"])
        report.cost_before += res["cost_before"]
        report.cost_after += res["cost_after"]
        report.peak_memory_mb = max(report.peak_memory_mb, res["peak_memory_mb"])
        for k, v in res["times"].items():
            report.times[k] = report.times.get(k, 0.0) + v
    report.partitions = len(groups)
    order = {r: i for i, r in enumerate(STOP_REASONS)}
    report.stop_reason = max(reasons, key=lambda r: order.get(r, 0)) if reasons else "saturated"
    return out


def _alternatives(enc: Encoder, roots: list, rules: EgRuleSet) -> list[tuple[int, int]]:
    """Forms found outside the e-graph, encoded next to the terms they rewrite: (node, node)
    pairs to union. For rulesets with fused multiply-add (the kernels' forms): Horner and
    Estrin forms of polynomial sums (rewrites/horner.py, estrin.py) and guarded log-products
    of sums of logs (rewrites/logprod.py)."""
    if "fma" not in rules.names():
        return []
    from symnum.rewrites.estrin import estrin_forms
    from symnum.rewrites.horner import horner_forms
    from symnum.rewrites.logprod import log_product_forms

    pairs = [(t, h) for forms in (horner_forms, estrin_forms, log_product_forms)
             for t, h in forms(roots) if id(t) in enc._ids]
    if not pairs:
        return []
    ids = enc.encode([h for _, h in pairs])
    return [(enc._ids[id(t)], i) for (t, _), i in zip(pairs, ids)]


def _execute(job: dict, isolate: bool, lim: Limits, progress: Any, worker: Any) -> dict:
    if not isolate:
        try:
            return run_job(job, progress)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # a Rust panic arrives as pyo3's PanicException
            raise SimplifyError(f"egglog failed in this process: {type(e).__name__}: {e}") from e
    from symnum.rewrites.egraph_worker import run_isolated

    return run_isolated(job, lim, progress, worker)


def _schedule_costs(before: list, after: list, model: CostModel) -> tuple:
    try:
        from symnum.core.traversal import free_symbols

        ins = sorted(free_symbols(list(before)), key=lambda s: getattr(s, "name", str(s)))
        outs_b = [t for t in before if not isinstance(t, (int, float))]
        outs_a = [t for t in after if not isinstance(t, (int, float))]
        return (schedule_cost(outs_b, ins, model), schedule_cost(outs_a, ins, model))
    except Exception:  # noqa: BLE001  (a term the schedule cannot lower: no figure, no guard)
        return None, None


def _fill(stats: Any, report: EgraphReport) -> None:
    if stats is None:
        return
    if isinstance(stats, EgraphReport):
        for f in fields(EgraphReport):
            setattr(stats, f.name, getattr(report, f.name))
        return
    fired = getattr(stats, "fired", None)
    if fired is None:
        raise SimplifyError("stats for method='egraph' must be an EgraphReport or a "
                            f"symnum.rules.Stats, got {type(stats).__name__}")
    fired.update(report.matches)
    stats.iterations = getattr(stats, "iterations", 0) + report.iterations


__all__ = ["EgraphReport", "Limits", "equivalent", "run_job", "simplify_egraph"]
