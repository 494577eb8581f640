"""Cheap gradient principle: operation count of the reverse-mode gradient vs the primal's.

Two functions written as plain numpy code and traced by symnum: the extended Rosenbrock function
and the mean squared loss of a 2-layer tanh network whose n inputs are its parameters. For
n = 10 … 10,000 it prints the (deterministic) operation counts of the primal, the gradient, and
value + gradient, their ratios (the issue asks for ≤ 4), and the build times side by side with
CasADi SX (`casadi.gradient`), when installed. Every gradient is checked against central finite
differences of the numpy function before a figure is printed.

    python benchmarks/bench_cheap_gradient.py [--quick] [--repeats R]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import fmt_time, machine_info, measure, table

import symnum as sn
from symnum.core.evaluate import eval_many
from symnum.core.interface import arguments, iscall
from symnum.core.traversal import count_ops, postorder

SIZES = (10, 100, 1_000, 10_000)
QUICK_SIZES = (10, 100, 1_000)

# ---------------------------------------------------------------------------------------------
# the workloads: plain numpy, nothing symnum-specific


def rosenbrock(x):
    """Extended Rosenbrock: Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])²."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mlp_shape(n: int) -> tuple[int, int]:
    """(inputs d, hidden units h) with h·(d + 2) + 1 parameters as close to n as possible."""
    best = (1, 1)
    for d in range(1, n):
        h = max(1, round((n - 1) / (d + 2)))
        size, best_size = h * (d + 2) + 1, best[1] * (best[0] + 2) + 1
        # the nearest size wins; among equals the squarest layer (d ≈ h)
        if (abs(size - n), abs(d - h)) < (abs(best_size - n), abs(best[0] - best[1])):
            best = (d, h)
        if d > n // 2:
            break
    return best


def make_mlp_loss(n: int, batch: int = 4, seed: int = 0):
    """Mean squared error of a d→h→1 tanh network on a fixed random batch; the parameters
    (W1, b1, w2, b2 flattened) are the function's only input."""
    d, h = mlp_shape(n)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, d))
    y = rng.standard_normal(batch)

    def mlp_loss(theta):
        W1 = theta[: d * h].reshape(d, h)
        b1 = theta[d * h: d * h + h]
        w2 = theta[d * h + h: d * h + 2 * h]
        b2 = theta[-1:]  # a 1-element slice, not a scalar: broadcasts the same in every system
        z = np.tanh(X @ W1 + b1)
        return np.mean((z @ w2 + b2 - y) ** 2)

    return mlp_loss, h * (d + 2) + 1, f"d={d}, h={h}, batch={batch}"


# ---------------------------------------------------------------------------------------------
# counting


def binary_ops(roots: list) -> int:
    """Operations a straight-line kernel executes: a k-argument add/mul is k−1 binary ops,
    any other call node one (shared subterms counted once, like count_ops)."""
    return sum(max(1, len(arguments(n)) - 1) for n in postorder(roots) if iscall(n))


def fd_error(f, grad: np.ndarray, x: np.ndarray, coords: np.ndarray) -> float:
    """max relative error of `grad` against central differences at a few coordinates."""
    errs = []
    for i in coords:
        h = 1e-6 * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = h
        fd = (f(x + e) - f(x - e)) / (2 * h)
        errs.append(abs(fd - grad[i]) / max(1.0, abs(fd)))
    return float(max(errs))


# ---------------------------------------------------------------------------------------------
# the peer: CasADi SX, running the same numpy code on an object array of SX scalars


def casadi_gradient(f, n: int):
    import casadi as ca

    x = ca.SX.sym("x", n)
    arr = np.empty(n, dtype=object)
    for i in range(n):
        arr[i] = x[i]
    fx = f(arr)
    return x, fx, ca.gradient(fx, x)


def casadi_counts(built, x0: np.ndarray) -> tuple[int, int, np.ndarray]:
    """Instructions of f and of (f, ∇f), and ∇f evaluated at x0 (to check it)."""
    import casadi as ca

    x, fx, g = built
    prim = ca.Function("f", [x], [fx]).n_instructions()
    fg = ca.Function("fg", [x], [fx, g])
    return prim, fg.n_instructions(), np.asarray(fg(x0)[1], dtype=float).ravel()


def run(name: str, f, n: int, label: str, reps: int, with_casadi: bool) -> tuple[list, list]:
    trace_t = measure(lambda: sn.trace(f, np.zeros(n), mode="scalar"), reps)
    fn = trace_t.result
    outs, ins = fn.flat_outputs, fn.flat_inputs
    grad_t = measure(lambda: sn.gradient(outs[0], ins), reps)
    g = grad_t.result

    rng = np.random.default_rng(1)
    x = rng.uniform(-1.0, 1.0, n)
    gval = np.asarray(eval_many(g, dict(zip(ins, x))), dtype=float)
    err = fd_error(f, gval, x, rng.choice(n, size=min(n, 8), replace=False))

    p_nodes, g_nodes, vg_nodes = count_ops(outs), count_ops(g), count_ops(g + outs)
    p_bin, vg_bin = binary_ops(outs), binary_ops(g + outs)
    counts = [name, f"{n:,}", label, f"{p_nodes:,}", f"{g_nodes:,}", f"{vg_nodes:,}",
              f"{g_nodes / p_nodes:.2f}", f"{vg_nodes / p_nodes:.2f}", f"{vg_bin / p_bin:.2f}"]
    times = [name, f"{n:,}", fmt_time(trace_t.median), fmt_time(grad_t.median),
             f"{grad_t.median / trace_t.median:.2f}", f"{err:.1e}"]
    if with_casadi:
        ca_t = measure(lambda: casadi_gradient(f, n), reps)
        prim, both, cg = casadi_counts(ca_t.result, x)
        counts.append(f"{both / prim:.2f}")
        agree = float(np.max(np.abs(cg - gval)) / max(1.0, float(np.max(np.abs(gval)))))
        times += [fmt_time(ca_t.median), f"{agree:.1e}"]
    return counts, times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n ≤ 1,000, one repeat (a smoke run)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measurement")
    args = ap.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    reps = args.repeats or (1 if args.quick else 5)
    try:
        import casadi  # noqa: F401

        with_casadi = True
    except ImportError:
        with_casadi = False

    print(machine_info())
    print(f"\nCheap gradient, median of up to {reps} runs"
          + ("" if with_casadi else " (CasADi not installed: its columns are left out)") + "\n")
    counts, times = [], []
    for n in sizes:
        c, t = run("Rosenbrock", rosenbrock, n, "", reps, with_casadi)
        counts.append(c)
        times.append(t)
    for n in sizes:
        loss, size, label = make_mlp_loss(n)
        c, t = run("MLP loss", loss, size, label, reps, with_casadi)
        counts.append(c)
        times.append(t)

    print(table(["function", "n", "network", "primal ops", "gradient ops", "value+grad ops",
                 "grad / primal", "(value+grad) / primal", "same, binary ops"]
                + (["CasADi (value+grad) / primal"] if with_casadi else []), counts))
    print("\nops: operation nodes of the DAG (symnum.count_ops; shared subterms once). The "
          "gradient's DAG includes the primal subterms it reuses. binary ops: a k-argument "
          "add/mul counted as k-1 operations. CasADi: n_instructions of Function([x], [f, g]) "
          "over Function([x], [f]) (its instructions include loads of inputs and constants).\n")
    peer = ["CasADi SX: build + gradient", "CasADi vs symnum"] if with_casadi else []
    print(table(["function", "n", "trace", "gradient (reverse sweep)", "gradient / trace",
                 "rel. error vs FD"] + peer, times))
    print("\ntrace: sn.trace on the numpy function; gradient: sn.gradient(output, inputs). "
          "rel. error: the gradient evaluated at a random point against central differences "
          "of the numpy function at up to 8 coordinates; CasADi vs symnum: max |difference| of the "
          "two gradients at that point over max |gradient|.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
