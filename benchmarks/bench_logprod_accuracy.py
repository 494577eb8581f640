"""Accuracy of the guarded Σ log → log Π rewrite (rewrites/logprod.py).

For log-likelihoods whose factors the rule can bound, the rewritten sum (one log of a product)
and the original (a log per factor) are evaluated in float64 by the reference interpreter at
random points over a wide range, including points where every factor sits at its lower bound;
both are compared with the same sum computed in x86 extended precision (np.longdouble). Printed:
the largest relative difference between the two forms, and each form's largest relative error
against the extended-precision value.

    python benchmarks/bench_logprod_accuracy.py [--points 100000]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import machine_info, table
from symnum.rewrites.logprod import log_product_form

import symnum as sn
from symnum.core.traversal import postorder
from symnum.rules.predicates import opname


def cases(rng):
    mu, s = sn.symbols("mu s")
    out = []
    for m, eps in ((24, 0.05), (200, 0.05), (1000, 1e-3)):
        xs = rng.normal(0.0, 1.5, m)
        terms = [sn.log(eps + (1 - eps) * sn.exp(-(x - mu) ** 2 / (2 * s**2))) for x in xs]

        def ref(mu_v, s_v, xs=xs, eps=eps):
            L = np.longdouble
            z = (xs[None, :].astype(L) - mu_v[:, None].astype(L)) ** 2 / (
                2 * s_v[:, None].astype(L) ** 2)
            return np.sum(np.log(L(eps) + (1 - L(eps)) * np.exp(-z)), axis=1)

        out.append((f"contaminated normal m={m}, ε={eps}", terms, (mu, s), ref))
    x = sn.Sym("x")
    ks = np.arange(1, 301)
    terms = [sn.log(2.0 + sn.sin(k * x)) for k in ks]

    def ref2(x_v, _s=None):
        L = np.longdouble
        return np.sum(np.log(L(2) + np.sin(ks[None, :].astype(L) * x_v[:, None].astype(L))),
                      axis=1)

    out.append(("Σ log(2 + sin(k·x)), k = 1..300", terms, (x,), ref2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    a = ap.parse_args()
    print(machine_info())
    rng = np.random.default_rng(0)
    rows = []
    for label, terms, syms, ref in cases(rng):
        orig = sn.Fn(list(syms), [sum(terms)])
        new = log_product_form(terms)
        assert new is not None, label
        fused = sn.Fn(list(syms), [new])
        chunks = sum(1 for n in postorder([new]) if opname(n) == "log")
        if len(syms) == 2:
            mu = rng.uniform(-10, 10, a.points)
            s = np.exp(rng.uniform(np.log(0.01), np.log(10), a.points))
            env = {syms[0]: mu, syms[1]: s}
            want = ref(mu, s)
        else:
            xv = rng.uniform(-50, 50, a.points)
            env = {syms[0]: xv}
            want = ref(xv)
        va = np.asarray(sn.evaluate(orig.outputs[0], env), dtype=float)
        vb = np.asarray(sn.evaluate(fused.outputs[0], env), dtype=float)
        w = want.astype(float)
        scale = np.maximum(np.abs(w), 1e-300)
        rows.append([label, len(terms), chunks,
                     f"{np.max(np.abs(vb - va) / np.maximum(np.abs(va), 1e-300)):.2e}",
                     f"{np.max(np.abs(va - w) / scale):.2e}",
                     f"{np.max(np.abs(vb - w) / scale):.2e}",
                     f"{np.max(np.abs(vb - w)):.2e}"])
        print(rows[-1], flush=True)
    print(table(["sum", "logs", "logs after", "max rel. diff (Π vs Σ)", "Σ log: max rel. err",
                 "log Π: max rel. err", "log Π: max abs. err"], rows))


if __name__ == "__main__":
    main()
