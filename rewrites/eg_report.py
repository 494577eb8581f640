"""What an e-graph run is bounded by (Limits) and what it reports (EgraphReport).

Plain data, shared by symnum.rewrites.egraph (the run), its worker process and the public
`simplify(method="egraph", stats=...)`; imports neither egglog nor symnum's terms.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

from symnum.errors import SimplifyError

STOP_REASONS = ("saturated", "iterations", "nodes", "time", "memory", "fallback")


@dataclass(frozen=True)
class Limits:
    """Bounds of an e-graph run (the clock is shared by all partitions, by size; the rest
    apply to each partition).

    iterations: exploration steps; nodes: e-node budget (checked between steps: one step adds at
    most about rules × match_limit nodes); time_s: wall clock of the whole run, extraction
    included (soft; an isolated run is killed at kill_after_s); memory_mb: resident memory
    (soft; an isolated run's address space is capped at 2·memory_mb + 1 GiB).
    match_limit: back-off threshold (None: input nodes, within [1000, nodes/50]); ban_length:
    iterations a rule is banned for (doubling each time); simplify_steps: simplify-phase
    passes per iteration.
    kill_after_s: the isolated run's hard deadline (None: 2·time_s + 10 s).
    """

    iterations: int = 20
    nodes: int = 300_000
    time_s: float = 60.0
    memory_mb: int = 3000
    match_limit: int | None = None
    ban_length: int = 5
    simplify_steps: int = 2
    kill_after_s: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None and (not isinstance(v, (int, float)) or v < 0):
                raise SimplifyError(f"limit {f.name} must be a non-negative number, got {v!r}")


@dataclass
class EgraphReport:
    """What a run did. Pass one as `stats=` to simplify(method="egraph") to get it filled.

    stop_reason: the limit that stopped saturation ("saturated", "iterations", "nodes", "time",
    "memory"), or "fallback" when egglog failed and the input was returned (`error` says why).
    sizes: (iteration, e-nodes) after each step, per partition; matches: rule → matches found.
    cost_before/after: the cost model's DAG cost of the input as loaded and of the extraction;
    schedule_before/after: cycles of the code the backends emit (backends/schedule.py).
    """

    stop_reason: str = ""
    iterations: int = 0
    sizes: list[list[tuple[int, int]]] = field(default_factory=list)
    matches: Counter = field(default_factory=Counter)
    cost_before: float = 0.0
    cost_after: float = 0.0
    schedule_before: float | None = None
    schedule_after: float | None = None
    nodes_in: int = 0
    partitions: int = 0
    isolated: bool = False
    times: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: float = 0.0
    error: str | None = None
    chosen: str = ""

    def fired(self) -> list[str]:
        """Names of the rules that matched at least once, most matches first."""
        return [name for name, n in self.matches.most_common() if n > 0]

    def summary(self) -> str:
        """A few readable lines."""
        sizes = "; ".join(" ".join(f"{i}:{n}" for i, n in s) for s in self.sizes)
        lines = [
            f"stopped: {self.stop_reason} after {self.iterations} iteration(s), "
            f"{self.partitions} partition(s), {self.nodes_in} input nodes"
            + (" (worker process)" if self.isolated else ""),
            f"e-nodes per iteration: {sizes}",
            f"cost (model, in the e-graph): {self.cost_before:g} -> {self.cost_after:g}",
        ]
        if self.chosen:
            lines.append(f"result: {self.chosen}")
        if self.schedule_before is not None:
            lines.append(f"cost (emitted code): {self.schedule_before:g} -> "
                         f"{self.schedule_after:g}")
        lines.append("rules matched: " + ", ".join(f"{k} {v}" for k, v in
                                                   self.matches.most_common(12)))
        lines.append("times: " + ", ".join(f"{k} {v:.3f}s" for k, v in self.times.items()))
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)
