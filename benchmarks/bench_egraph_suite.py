"""Does the CPU-cycle ruleset pay where algebra matters? Kernels with and without it on a suite:
reaction networks with mixed kinetics (mass action with Arrhenius rate constants, Michaelis–
Menten, Hill with half-integer and integer exponents), polynomial evaluation, log-likelihood sums.

Each workload is compiled by the llvm backend (one thread) as traced and after
`sn.simplify(fn, method="egraph", ruleset="cpu")`, both checked against each other, and timed
interleaved by the calling thread's CPU clock (median of the rounds; a control — the same kernel
twice — gives the noise). Speed-up = as traced / simplified.

    python benchmarks/bench_egraph_suite.py [--rounds 15] [--backend llvm]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
from _common import fmt_ratio, fmt_time, machine_info, table
from bench_egraph import one_thread, points, rhs_and_jacobian, time_side_by_side
from symnum.rewrites.costs import CPU_LATENCY, schedule_cost
from symnum.rewrites.egraph import EgraphReport

import symnum as sn

R_GAS = 8.314


def mixed_network(n: int, seed: int):
    """A seeded network over n species with temperature T as the last input: per reaction one
    of mass action with an Arrhenius rate constant k·exp(-Ea/(R·T)), Michaelis–Menten
    Vmax·S/(Km + S), Hill Vmax·S^h/(K^h + S^h) with h ∈ {1.5, 2, 2.5, 4}."""
    rng = np.random.default_rng(seed)
    reactions = []
    for _ in range(3 * n):
        kind = rng.choice(["arrhenius", "mm", "hill"], p=[0.4, 0.3, 0.3])
        a, b, p = rng.choice(n, 3, replace=False)
        reactions.append((str(kind), int(a), int(b), int(p), float(10 ** rng.uniform(-1, 1)),
                          float(rng.uniform(2e4, 8e4)), float(rng.choice([1.5, 2.0, 2.5, 4.0]))))
    k_deg = 10 ** rng.uniform(-3, -1, n)

    def rhs(u):
        c, T = [u[i] for i in range(n)], u[n]
        dc = [-k_deg[i] * c[i] for i in range(n)]
        for kind, a, b, p, k, ea, h in reactions:
            if kind == "arrhenius":
                r = k * np.exp(-ea / (R_GAS * T)) * c[a] * c[b]
            elif kind == "mm":
                r = k * c[a] / (0.5 + c[a])
            else:
                r = k * c[a] ** h / (0.7 ** h + c[a] ** h)
            dc[a] = dc[a] - r
            dc[p] = dc[p] + r
        return np.array(dc, dtype=object)

    return rhs


def polynomial(deg: int, outputs: int, seed: int):
    rng = np.random.default_rng(seed)
    coef = rng.uniform(-1, 1, (outputs, deg + 1))

    def f(u):
        x = u[0]
        return np.array([sum(coef[j, k] * x ** k for k in range(deg + 1))
                         for j in range(outputs)], dtype=object)

    return f


def loglik(m: int, seed: int):
    """A Cauchy log-likelihood Σ -log(γ² + (xᵢ - μ)²) + log γ over m data points, and its
    gradient in (μ, γ): the data are baked in as constants."""
    xs = np.random.default_rng(seed).standard_cauchy(m)

    def f(u):
        mu, g = u[0], u[1]
        ll = sum(np.log(g) - np.log(g ** 2 + (x - mu) ** 2) for x in xs)
        return np.array([ll], dtype=object)

    return f


def iterated_polynomial(deg: int, times: int, seed: int):
    """p(p(…p(x))) (`times` compositions) of a degree-`deg` polynomial with Σ|cₖ| = 1, so it
    maps [-1, 1] into itself: one long dependency chain per point (an iterated map). No linear
    term: canonical construction distributes c·(a + b), which would flatten the inner
    polynomial into the outer one."""
    coef = np.random.default_rng(seed).uniform(-1, 1, deg + 1)
    coef[1] = 0.0
    coef /= np.abs(coef).sum()

    def f(u):
        x = u[0]
        for _ in range(times):
            x = sum(coef[k] * x ** k for k in range(deg + 1))
        return np.array([x], dtype=object)

    return f


def contaminated_loglik(m: int, seed: int, eps: float = 0.05):
    """A contaminated-normal (outlier-robust) log-likelihood Σ log(ε + (1 - ε)·exp(-(xᵢ - μ)²
    / (2σ²))) over m data points: every factor provably in [ε, 1], so the guarded log-product
    rule may merge the logs (chunks of ≤ 97 factors at ε = 0.05; m = 24 is one chunk)."""
    xs = np.random.default_rng(seed).normal(0.0, 1.5, m)

    def f(u):
        mu, s = u[0], u[1]
        ll = sum(np.log(eps + (1 - eps) * np.exp(-(x - mu) ** 2 / (2 * s ** 2))) for x in xs)
        return np.array([ll], dtype=object)

    return f


def workloads():
    out = []
    for n in (12, 32):
        fn = sn.trace(mixed_network(n, seed=3), np.zeros(n + 1), mode="scalar")
        rng_ = [(0.1, 2.0)] * n + [(280.0, 350.0)]
        rng_ = [(0.1, 2.0)]  # per input array; temperature row patched below
        out.append((f"mixed kinetics N={n}: RHS", fn, rng_, n))
        out.append((f"mixed kinetics N={n}: RHS + J",
                    rhs_and_jacobian(fn, list(fn.flat_inputs)[:n]), rng_, n))
    out.append(("polynomial degree 12", sn.trace(polynomial(12, 1, 0), np.zeros(1), mode="scalar"),
                [(-1.0, 1.0)], None))
    out.append(("4 polynomials degree 8", sn.trace(polynomial(8, 4, 1), np.zeros(1), mode="scalar"),
                [(-1.0, 1.0)], None))
    out.append(("polynomial degree 12, iterated 8x",
                sn.trace(iterated_polynomial(12, 8, 2), np.zeros(1), mode="scalar"),
                [(-1.0, 1.0)], None))
    out.append(("polynomial degree 24", sn.trace(polynomial(24, 1, 4), np.zeros(1), mode="scalar"),
                [(-1.0, 1.0)], None))
    cl = sn.trace(contaminated_loglik(24, 6), np.zeros(2), mode="scalar")
    out.append(("contaminated-normal log-likelihood m=24", cl, [(0.5, 1.5)], None))
    out.append(("contaminated-normal log-likelihood m=24 + gradient",
                rhs_and_jacobian(cl, list(cl.flat_inputs)), [(0.5, 1.5)], None))
    ll = sn.trace(loglik(24, 5), np.zeros(2), mode="scalar")
    out.append(("Cauchy log-likelihood m=24", ll, [(0.5, 1.5)], None))
    out.append(("Cauchy log-likelihood m=24 + gradient",
                rhs_and_jacobian(ll, list(ll.flat_inputs)), [(0.5, 1.5)], None))
    return out


@contextlib.contextmanager
def without_new_forms():
    """The e-graph without issue 16's second round of alternatives (Estrin forms, guarded log
    products): what they add, measured against the same run."""
    import symnum.rewrites.estrin as es
    import symnum.rewrites.logprod as lp

    saved = es.estrin_forms, lp.log_product_forms
    es.estrin_forms = lp.log_product_forms = lambda roots: []
    try:
        yield
    finally:
        es.estrin_forms, lp.log_product_forms = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--backend", default="llvm")
    ap.add_argument("--only", default="", help="substring of the workloads to run")
    ap.add_argument("--cost", default="critical", help="cost table of the extraction")
    ap.add_argument("--compare", default="latency",
                    help="a second cost table, its kernels timed in the same rounds ('' = none)")
    ap.add_argument("--quick", action="store_true", help="3 rounds")
    args = ap.parse_args()
    if args.quick:
        args.rounds = 3
    print(machine_info())
    rng = np.random.default_rng(0)
    rows = []
    for label, fn, ranges, temp_col in workloads():
        if args.only and args.only not in label:
            continue
        n_points = max(256, min(4096, (1 << 22) // (8 * len(fn.flat_outputs))))
        X = points(fn, ranges, n_points, rng)
        if temp_col is not None:
            X[:, temp_col] = rng.uniform(280.0, 350.0, n_points)
        r = EgraphReport()
        t0 = time.perf_counter()
        f2 = sn.simplify(fn, method="egraph", ruleset="cpu", stats=r, cost=args.cost)
        t_simp = time.perf_counter() - t0
        variants = {"as traced": fn, "control": fn, "egraph cpu": f2}
        if args.compare:
            variants["compare"] = sn.simplify(fn, method="egraph", ruleset="cpu",
                                              cost=args.compare)
        with without_new_forms():
            variants["no new forms"] = sn.simplify(fn, method="egraph", ruleset="cpu",
                                                   cost=args.cost)
        kernels = {k: one_thread(f, args.backend) for k, f in variants.items()}
        times, outs = time_side_by_side(kernels, X, args.rounds, clock=time.thread_time)
        base = outs["as traced"]
        err = np.max(np.abs(outs["egraph cpu"] - base) / (1.0 + np.abs(base)))
        assert err < 1e-6, f"{label}: kernels disagree (max err {err:.2e})"
        rel = np.max(np.abs(outs["egraph cpu"] - base) / np.maximum(np.abs(base), 1e-300))
        ins = fn.flat_inputs
        rows.append([label, kernels["as traced"].info["statements"],
                     kernels["egraph cpu"].info["statements"],
                     f"{schedule_cost(list(fn.flat_outputs), ins, CPU_LATENCY):,.0f} → "
                     f"{schedule_cost(list(f2.flat_outputs), ins, CPU_LATENCY):,.0f}",
                     f"{times['as traced'] * 1e9:,.1f} ns", f"{times['egraph cpu'] * 1e9:,.1f} ns",
                     fmt_ratio(times["as traced"] / times["control"]),
                     fmt_ratio(times["as traced"] / times["egraph cpu"]),
                     fmt_ratio(times["as traced"] / times["compare"]) if args.compare else "-",
                     fmt_ratio(times["as traced"] / times["no new forms"]),
                     f"{rel:.1e}", fmt_time(t_simp)])
        print(rows[-1], flush=True)
    print(f"\n{args.backend} backend, one thread, thread CPU clock, median of {args.rounds} "
          f"interleaved rounds, extraction under the {args.cost!r} table\n")
    print(table(["workload", "statements before", "after", "latency cost", "as traced / point",
                 "egraph cpu / point", "control", "speed-up",
                 f"speed-up under {args.compare!r}" if args.compare else "-",
                 "speed-up without Estrin / log Π",
                 "max rel. error", "simplify"], rows))


if __name__ == "__main__":
    main()
