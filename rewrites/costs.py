"""Cost models as data: cycles per primitive, for e-graph extraction and for counting what a
compiled kernel really computes.

PAPER is the Symbolics.jl paper's CPU table; CPU_MEASURED and CPU_LATENCY were measured on this
project's own numba/LLVM kernels (benchmarks/measure_op_costs.py, method and machine below); GPU is
the slot for a table measured on a GPU (left empty until one is measured: it falls back to the
paper's figures). Costs are keyed by primitive name (symnum.op.PRIMITIVES); a name a table lacks
falls back to the Op's own `cost`. Nothing here imports egglog or a backend at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from symnum.errors import SimplifyError


@dataclass(frozen=True)
class CostModel:
    """Cycles per operation. `cycles` maps primitive names (add, mul, sin, …) to costs.

    >>> PAPER.op("mul"), PAPER.powi(4), PAPER.powi(-1)
    (3.0, 6.0, 24.0)
    """

    name: str
    cycles: Mapping[str, float]
    source: str = ""
    fallback: float = 50.0
    _memo: dict = field(default_factory=dict, compare=False, repr=False)
    # 0: a program costs the sum of its operations (throughput only). > 0: critical-path aware,
    # cost = max(sum / width, longest dependency chain − hidden) — see kernel_cost
    width: float = 0.0
    hidden: float = 0.0

    def kernel_cost(self, total: float, critical: float) -> float:
        """What a program of operations summing to `total` whose longest dependency chain sums
        to `critical` costs: the sum for a throughput model (width 0); else max(total / width,
        critical − hidden) — `width` independent operations issue per step, and a chain longer
        than what overlapping consecutive points hide (`hidden`) cannot go faster than its
        latency (so an Estrin form, more operations on a shorter chain, can beat Horner's).

        >>> CRITICAL.kernel_cost(100.0, 20.0), CRITICAL.kernel_cost(30.0, 70.0)
        (50.05, 30.015)
        """
        return kernel_cost(total, critical, self.width, self.hidden)

    def op(self, name: str) -> float:
        """Cost of one call of primitive `name`; "sincos" is sin and cos of one argument
        computed together (one merged libm call)."""
        c = self.cycles.get(name)
        if c is None and name == "sincos":
            return SINCOS_RATIO * max(self.op("sin"), self.op("cos"))
        if c is None:
            from symnum.core.op import PRIMITIVES

            p = PRIMITIVES.get(name)
            c = p.cost if p is not None else self.fallback
        return float(c)

    def powi(self, n: int) -> float:
        """x**n for an integer n, lowered as the schedule does: binary powering, one division
        for a negative exponent (x**0 is the constant 1)."""
        if n == 0:
            return 0.0
        mults = _mults(abs(n))
        return mults * self.op("mul") + (self.op("div") if n < 0 else 0.0)

    def with_costs(self, name: str, **cycles: float) -> CostModel:
        """A copy with some costs replaced (a user's own model). A new sin or cos cost without a
        "sincos" one drops the table's pair cost, which then follows them (SINCOS_RATIO)."""
        base = dict(self.cycles)
        if ("sin" in cycles or "cos" in cycles) and "sincos" not in cycles:
            base.pop("sincos", None)
        return CostModel(name, MappingProxyType({**base, **cycles}), self.source, self.fallback,
                         width=self.width, hidden=self.hidden)


# What a dependency chain is made of: operations that are machine instructions. A libm call
# (exp, sin, pow, …) counts in the sum but not in the chain: it is dozens of instructions that
# the out-of-order window overlaps with the neighbouring points' work, so what decides between
# `sin(x)*y + cos(x)` and `fma(sin(x), y, cos(x))` is the operation count, not whether the last
# step after the cosine is an add or an fma (1.4 vs 2.3 in the table).
INSTRUCTIONS = frozenset({
    "add", "sub", "mul", "div", "neg", "fma", "sqrt", "abs", "sign", "minimum", "maximum",
    "ifelse", "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not",
    "copysign", "floor", "ceil", "trunc", "rint", "powi"})

# Ties under max(sum / width, chain) are broken by the sum: of two programs on equally long
# chains, the one with fewer operations wins
TIE = 1e-3


def kernel_cost(total: float, critical: float, width: float, hidden: float = 0.0) -> float:
    """max(total / width, critical − hidden) + TIE·(total / width); `total` for width ≤ 0."""
    if width <= 0:
        return total
    return max(total / width, critical - hidden) + TIE * total / width


def _mults(e: int) -> int:
    """Multiplications binary powering needs for x**e (e ≥ 1), as backends/schedule.py does."""
    m = 0
    while e > 1:
        if e % 2 == 0:
            e //= 2
        else:
            e -= 1
        m += 1
    return m


# sin and cos of one argument cost this much more than the dearer one alone when a table does
# not say (measured: 25.0 cycles for the pair vs 20.9 for sin, benchmarks/measure_op_costs.py)
SINCOS_RATIO = 1.2

# The Symbolics.jl paper's table (CPU cycles): + − 1, abs 2, × 3, exp 18, / 24, ^ 100,
# log1p 124, sin/cos 134, atan 135, tan 156. Other primitives use their Op's cost.
PAPER = CostModel("paper", MappingProxyType({
    "add": 1, "sub": 1, "neg": 1, "abs": 2, "mul": 3, "exp": 18, "div": 24, "pow": 100,
    "log1p": 124, "sin": 134, "cos": 134, "atan": 135, "tan": 156,
}), "Gowda et al., 'High-performance symbolic-numerics via multiple dispatch' (Symbolics.jl)")

# Measured by benchmarks/measure_op_costs.py on this project's numba kernels (error_model="numpy",
# no fastmath, one thread, 2-core AMD EPYC at 2.6 GHz; see benchmarks/results_issue5.md).
# CPU_MEASURED: throughput — 64 independent copies of the op in one straight-line kernel; LLVM's
# SLP vectoriser packs identical neighbours, so add/mul/div/exp/log come out cheaper than in
# mixed code. CPU_LATENCY (--chain): one chain of 64 dependent ops; consecutive points still
# overlap, so this sits between latency and throughput.
CPU_MEASURED = CostModel("cpu-measured", MappingProxyType({
    "add": 0.3, "sub": 0.2, "neg": 0.9, "mul": 0.2, "fma": 0.3, "div": 1.9, "abs": 0.6,
    "pow": 21.2, "sincos": 25.0,
    "sqrt": 4.1, "exp": 8.2, "expm1": 19.0, "log": 9.3, "log1p": 21.1, "sin": 20.1,
    "cos": 21.2, "tan": 23.2, "asin": 25.7, "acos": 25.9, "atan": 22.3, "atan2": 29.0,
    "sinh": 28.2, "cosh": 11.0, "tanh": 27.7, "erf": 23.9, "hypot": 25.6,
    "minimum": 1.2, "maximum": 1.3, "ifelse": 0.3,
}), "benchmarks/measure_op_costs.py (independent ops), 2026-11-28")
# neg measures 0 along a chain: LLVM folds it into the operation that consumes it (a + -b → a - b)
CPU_LATENCY = CostModel("cpu-latency", MappingProxyType({
    "add": 1.4, "sub": 1.4, "neg": 0.0, "mul": 1.8, "fma": 2.3, "div": 5.9, "abs": 1.3,
    "pow": 55.8, "sincos": 53.6,
    "sqrt": 8.6, "exp": 21.4, "expm1": 62.5, "log": 30.1, "log1p": 59.2, "sin": 40.8,
    "cos": 44.3, "tan": 57.1, "asin": 44.7, "acos": 46.3, "atan": 56.6, "atan2": 61.0,
    "sinh": 79.7, "cosh": 32.6, "tanh": 88.4, "erf": 53.7, "hypot": 55.9,
    "minimum": 6.3, "maximum": 6.3, "ifelse": 1.4,
}), "benchmarks/measure_op_costs.py --chain (dependent ops), 2026-11-28")

# The same --chain measurement on the 2-core Intel Xeon (AVX-512) KVM guest of issue 16, under a
# load average of 8.5 from other jobs (benchmarks/results_issue16.md §4): transcendentals cost
# 4-5x the AMD figures relative to arithmetic. Offered by name ("latency-xeon"), not the default:
# measured once, on a busy machine.
CPU_LATENCY_XEON = CostModel("cpu-latency-xeon", MappingProxyType({
    "add": 1.2, "sub": 1.2, "neg": 0.0, "mul": 2.0, "fma": 3.3, "div": 6.0, "abs": 1.9,
    "pow": 311.1, "sincos": 220.0,
    "sqrt": 48.5, "exp": 107.9, "expm1": 266.7, "log": 170.8, "log1p": 291.9, "sin": 201.7,
    "cos": 179.9, "tan": 215.5, "asin": 192.9, "acos": 190.6, "atan": 244.2, "atan2": 318.9,
    "sinh": 489.1, "cosh": 200.2, "tanh": 478.2, "erf": 310.8, "hypot": 168.3,
    "minimum": 6.4, "maximum": 6.2, "ifelse": 2.3,
}), "benchmarks/measure_op_costs.py --quick --chain, Intel Xeon guest, load 8.5, 2026-12-06")

# The critical-path-aware model: CPU_LATENCY's figures (per operation, measured along a chain in
# a batched kernel, where they ranked programs best: results_issue5.md §2), width 2 — two
# floating-point operations issue per cycle (this Xeon's two FMA ports; AMD Zen likewise) — and
# 40 cycles of a chain hidden by overlapping consecutive points. A program with plenty of
# independent work costs its sum / 2 (reaction networks, Jacobians rank as under CPU_LATENCY),
# one with a long chain of instructions costs the chain. Measured on the Xeon
# (benchmarks/bench_estrin.py, results_issue16.md §5.1): a single polynomial of degree 8-24
# (a chain of 8-24 fmas) gains nothing from Estrin's form in the SIMD loop and loses 4-20 % in
# the scalar loop; iterated ones (chains of 48-96 fmas) run 1.2-1.5x faster in it. `hidden` = 40
# (≈ 17 fmas of the table) takes Estrin where the chain is ≥ ~40 fmas and keeps Horner below
# (fitted to those rows).
CRITICAL = CostModel("critical", CPU_LATENCY.cycles,
                     "CPU_LATENCY's figures, cost = max(sum / 2, critical path − 40)", width=2.0,
                     hidden=40.0)

# A GPU table has not been measured yet (no GPU in this session): the paper's figures stand in.
GPU = CostModel("gpu", PAPER.cycles, "not measured: falls back to the paper's CPU table")

MODELS: dict[str, CostModel] = {"paper": PAPER, "cpu": CPU_MEASURED, "latency": CPU_LATENCY,
                                 "latency-xeon": CPU_LATENCY_XEON, "critical": CRITICAL,
                                 "gpu": GPU}
# The table used when none is named. Extracting under the latency table gave the fastest kernels
# (geometric mean of the speed-ups over 12 workloads: numba 1.126, llvm 1.077; the paper's table
# 1.127 / 1.075; the throughput table 1.078 / 1.038 — benchmarks/results_issue5.md §2): the
# throughput table, measured on identical independent ops LLVM packs into SIMD lanes, makes add
# and mul look nearly free. Since issue 16 the same table under the critical-path-aware cost
# (CRITICAL: ranks sum-dominated programs exactly as CPU_LATENCY does, and prefers shorter
# chains where a chain dominates).
DEFAULT = CRITICAL

# lowering names in backends/schedule.py → primitive names of the cost tables
_LOWERED = {"fabs": "abs", "select": "ifelse", "min": "minimum", "max": "maximum"}


def resolve_cost(cost: Any) -> CostModel:
    """None → DEFAULT (the measured latency table, critical-path aware); a name in MODELS; a
    CostModel; or a mapping of cycles (replacing those of DEFAULT)."""
    if cost is None:
        return DEFAULT
    if isinstance(cost, CostModel):
        return cost
    if isinstance(cost, str):
        if cost not in MODELS:
            raise SimplifyError(f"unknown cost model {cost!r}; use one of {sorted(MODELS)}, a "
                                "CostModel, or a dict of cycles per primitive name")
        return MODELS[cost]
    if isinstance(cost, Mapping):
        return DEFAULT.with_costs("custom", **{str(k): float(v) for k, v in cost.items()})
    raise SimplifyError(f"cost must be a model name, a CostModel or a dict, got "
                        f"{type(cost).__name__}")


def schedule_cost(outputs: Sequence[Any], inputs: Sequence[Any] | None = None,
                  model: CostModel | str | None = None) -> float:
    """Cycles of the straight-line code the compiler emits for `outputs` (over `inputs`, by
    default their free symbols): the cost a kernel really pays, with CSE and power chains.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> schedule_cost([x**4 * y], model="paper")  # x², x⁴, ·y: three multiplications
    9.0
    """
    from symnum.backends.schedule import schedule, sincos_at  # lazily: backends is optional

    from symnum.core.traversal import free_symbols

    m = resolve_cost(model)
    outs = list(outputs)
    ins = list(inputs) if inputs is not None else sorted(free_symbols(outs), key=_sym_key)
    sched = schedule(ins, outs)
    costs = [m.op(_LOWERED.get(i.op, i.op)) for i in sched.instrs]
    total = float(sum(costs))
    pairs = sum(sincos_at(sched.instrs, j) for j in range(len(sched.instrs)))
    total += pairs * (m.op("sincos") - m.op("sin") - m.op("cos"))
    if m.width <= 0:
        return total
    names = [_LOWERED.get(i.op, i.op) for i in sched.instrs]
    chain = [c if n in INSTRUCTIONS else 0.0 for n, c in zip(names, costs)]
    return m.kernel_cost(total, critical_path(sched, chain))


def critical_path(sched: Any, costs: Sequence[float]) -> float:
    """The longest chain of dependent instructions of a schedule, each costing `costs[i]`."""
    done: dict[int, float] = {}
    for ins, c in zip(sched.instrs, costs):
        ready = 0.0
        for a in ins.args:
            if a.kind == "tmp":
                ready = max(ready, done.get(a.index, 0.0))
        done[ins.dst] = ready + c
    return max((done.get(o.index, 0.0) for o in sched.outputs if o.kind == "tmp"), default=0.0)


def _sym_key(s: Any) -> str:
    return getattr(s, "name", str(s))
