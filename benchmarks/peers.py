"""Each peer's version of the issue-4 workloads, and a per-call timer, for the bench_* scripts.

Workloads come from their owners (the Brusselator from symnum.demo.examples, the mass-action network
from `bench_sparse_jacobian`); here they are rebuilt the way a user of each peer would write them:
natural loop code in numba, the same numpy code run on SymPy/SymEngine/CasADi symbols, `jax.numpy`
and `pytensor.tensor` ports. Nothing here measures the library's build steps or asserts on times.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------
# timing


def per_call(f: Callable, *args: Any, repeats: int = 101, batch_s: float = 2e-4,
             budget_s: float = 3.0) -> float:
    """Median seconds per call of `f(*args)`, timed in batches of ≥ `batch_s` (so the clock's
    resolution does not matter); at most `budget_s` is spent (fewer batches). Batches are short
    so that on a shared machine most of them run within one scheduler time slice: the median
    then measures the code, not the neighbours."""
    f(*args)  # warm: first-call dispatch, lazy compilation, caches
    inner = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(inner):
            f(*args)
        dt = time.perf_counter() - t0
        if dt >= batch_s:
            break
        inner = max(inner * 2, int(inner * 1.2 * batch_s / max(dt, 1e-9)))
    runs: list[float] = []
    spent = 0.0
    enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection in the middle of a batch is not the kernel's
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                f(*args)
            dt = time.perf_counter() - t0
            runs.append(dt / inner)
            spent += dt
            if spent > budget_s and len(runs) >= 3:
                break
    finally:
        if enabled:
            gc.enable()
    return statistics.median(runs)


def optional_module(name: str) -> Any:
    """An optional peer's module (those of the `bench` extra: SymEngine, CasADi, JAX, pytensor),
    or None when it is not installed: the scripts then skip its rows and say so."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def symengine_module() -> Any:
    """symengine, or None when it is not installed (pip install symengine)."""
    return optional_module("symengine")


def peer_versions(mods: tuple = ("numba", "llvmlite", "casadi", "jax", "pytensor")) -> str:
    """'numba 0.68.1, …, jax (not installed)': the versions printed beside the machine line."""
    versions = []
    for mod in mods:
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            versions.append(f"{mod} (not installed)")
    return ", ".join(versions)


def fmt_us(s: float | None) -> str:
    """Seconds → a short string in µs/ms/s."""
    if s is None:
        return "-"
    if s < 1e-5:
        return f"{s * 1e6:.2f} µs"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def rel_err(got: Any, want: Any) -> float:
    """max |got − want| / max(1, max |want|)."""
    got, want = np.asarray(got, dtype=float).ravel(), np.asarray(want, dtype=float).ravel()
    if got.shape != want.shape:
        return float("inf")
    return float(np.max(np.abs(got - want), initial=0.0) / max(1.0, float(np.max(np.abs(want)))))


def sparse_err(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, ref: Any) -> float:
    """rel_err of a coordinate-form matrix against a reference scipy matrix (same shape)."""
    import scipy.sparse as sp

    got = sp.coo_matrix((np.asarray(vals, dtype=float), (rows, cols)), shape=ref.shape).tocsr()
    diff = abs(got - ref)
    return float(diff.max() / max(1.0, abs(ref).max())) if diff.nnz else 0.0


# ---------------------------------------------------------------------------------------------
# the workloads (plain numpy; the mass-action generator belongs to bench_sparse_jacobian)

BRUSS_P = (1.0, 3.4, 10.0)  # A, B, alpha
BRUSS_T = 0.0


def brusselator(n: int) -> Callable:
    from symnum.demo.examples import brusselator_rhs

    def rhs(state):
        return brusselator_rhs(state, BRUSS_P, BRUSS_T)

    rhs.__name__ = f"brusselator_{n}"
    return rhs


def network(n: int, seed: int = 0) -> Any:
    from symnum.demo.examples import reaction_network

    return reaction_network(n, seed=seed)


def mass_action(net: Any) -> Callable:
    from symnum.demo.examples import mass_action_rhs

    def rhs(c):
        return mass_action_rhs(c, net)

    return rhs


# ---------------------------------------------------------------------------------------------
# hand-written numba: the loop code a person would write (constants baked in as globals are)


def _njit(sig: str) -> Callable:
    import numba

    return numba.njit(sig, nogil=True, error_model="numpy")


def brusselator_numba(n: int) -> tuple[Callable, Callable, np.ndarray, np.ndarray]:
    """(rhs(x, out), jac(x, vals), rows, cols) over the flat state [u.ravel(), v.ravel()]."""
    from symnum.demo.examples import brusselator_grid

    A, B, alpha = BRUSS_P
    nn = n * n
    dx2 = (1.0 / (n - 1)) ** 2
    c = alpha / dx2  # the stencil weight
    x, y = brusselator_grid(n)
    forcing = np.where(((x - 0.3) ** 2 + (y - 0.6) ** 2 <= 0.1**2) & (BRUSS_T >= 1.1), 5.0,
                       0.0).ravel()

    @_njit("void(float64[::1], float64[::1])")
    def rhs(s, out):
        for i in range(n):
            im, ip = (i - 1) % n, (i + 1) % n
            for j in range(n):
                jm, jp = (j - 1) % n, (j + 1) % n
                k = i * n + j
                u, v = s[k], s[nn + k]
                lap_u = s[im * n + j] + s[ip * n + j] + s[i * n + jm] + s[i * n + jp] - 4.0 * u
                lap_v = (s[nn + im * n + j] + s[nn + ip * n + j] + s[nn + i * n + jm]
                         + s[nn + i * n + jp] - 4.0 * v)
                u2v = u * u * v
                out[k] = A + u2v - (B + 1.0) * u + c * lap_u + forcing[k]
                out[nn + k] = B * u - u2v + c * lap_v

    # structure: per grid point, 6 entries in u's row and 6 in v's row
    rows, cols = [], []
    for i in range(n):
        for j in range(n):
            k = i * n + j
            nbrs = [((i - 1) % n) * n + j, ((i + 1) % n) * n + j, i * n + (j - 1) % n,
                    i * n + (j + 1) % n]
            rows += [k] * 6 + [nn + k] * 6
            cols += [k, *nbrs, nn + k, k, nn + k, *[nn + m for m in nbrs]]

    @_njit("void(float64[::1], float64[::1])")
    def jac(s, vals):
        for k in range(nn):
            u, v = s[k], s[nn + k]
            uv2 = 2.0 * u * v
            o = 12 * k
            vals[o] = uv2 - (B + 1.0) - 4.0 * c
            vals[o + 1] = c
            vals[o + 2] = c
            vals[o + 3] = c
            vals[o + 4] = c
            vals[o + 5] = u * u
            vals[o + 6] = B - uv2
            vals[o + 7] = -u * u - 4.0 * c
            vals[o + 8] = c
            vals[o + 9] = c
            vals[o + 10] = c
            vals[o + 11] = c

    return rhs, jac, np.array(rows), np.array(cols)


def mass_action_numba(net: Any) -> tuple[Callable, Callable, np.ndarray, np.ndarray]:
    """(rhs(c, out), jac(c, vals), rows, cols): reaction loops, and sparse assembly of the
    Jacobian into precomputed positions (the structure is found once, in Python)."""
    n = net.n
    bi, k_bi, uni, k_uni = net.bi, net.k_bi, net.uni, net.k_uni
    dim, k_dim, k_deg, feed = net.dim, net.k_dim, net.k_deg, net.feed

    @_njit("void(float64[::1], float64[::1])")
    def rhs(c, dc):
        for s in range(n):
            dc[s] = feed[s] - k_deg[s] * c[s]
        for r in range(bi.shape[0]):
            a, b, p = bi[r, 0], bi[r, 1], bi[r, 2]
            rate = k_bi[r] * c[a] * c[b]
            dc[a] -= rate
            dc[b] -= rate
            dc[p] += rate
        for r in range(uni.shape[0]):
            a, p = uni[r, 0], uni[r, 1]
            rate = k_uni[r] * c[a]
            dc[a] -= rate
            dc[p] += rate
        for r in range(dim.shape[0]):
            a, p = dim[r, 0], dim[r, 1]
            rate = k_dim[r] * c[a] * c[a]
            dc[a] -= 2.0 * rate
            dc[p] += rate

    slot: dict[tuple[int, int], int] = {}

    def at(i: int, j: int) -> int:
        return slot.setdefault((int(i), int(j)), len(slot))

    pos_deg = np.array([at(s, s) for s in range(n)], dtype=np.int64)
    # bi: rows a, b, p × columns a, b; uni and dim: rows a, p × column a
    pos_bi = np.array([[at(i, j) for i in r for j in r[:2]] for r in bi],
                      dtype=np.int64).reshape(-1, 6)
    pos_uni = np.array([[at(r[0], r[0]), at(r[1], r[0])] for r in uni],
                       dtype=np.int64).reshape(-1, 2)
    pos_dim = np.array([[at(r[0], r[0]), at(r[1], r[0])] for r in dim],
                       dtype=np.int64).reshape(-1, 2)
    keys = np.array(list(slot), dtype=np.int64).reshape(-1, 2)
    nnz = len(slot)

    @_njit("void(float64[::1], float64[::1])")
    def jac(c, vals):
        for q in range(nnz):
            vals[q] = 0.0
        for s in range(n):
            vals[pos_deg[s]] -= k_deg[s]
        for r in range(bi.shape[0]):
            da, db = k_bi[r] * c[bi[r, 1]], k_bi[r] * c[bi[r, 0]]  # ∂rate/∂c_a, ∂rate/∂c_b
            q = pos_bi[r]
            vals[q[0]] -= da
            vals[q[1]] -= db
            vals[q[2]] -= da
            vals[q[3]] -= db
            vals[q[4]] += da
            vals[q[5]] += db
        for r in range(uni.shape[0]):
            vals[pos_uni[r, 0]] -= k_uni[r]
            vals[pos_uni[r, 1]] += k_uni[r]
        for r in range(dim.shape[0]):
            d = 2.0 * k_dim[r] * c[dim[r, 0]]
            vals[pos_dim[r, 0]] -= 2.0 * d
            vals[pos_dim[r, 1]] += d

    return rhs, jac, keys[:, 0].copy(), keys[:, 1].copy()


# ---------------------------------------------------------------------------------------------
# SymPy, SymEngine, CasADi: the same numpy code run on an object array of their symbols


def object_trace(lib: str, rhs: Callable, shape: tuple) -> tuple[Any, list]:
    """(inputs, flat outputs) of `rhs` run on `lib`'s symbols; inputs: a list of symbols, or
    one SX vector for CasADi."""
    size = int(np.prod(shape))
    arr = np.empty(size, dtype=object)
    if lib == "casadi":
        import casadi as ca

        try:
            ca.GlobalOptions.setNumpyMode(-1)  # numpy functions on SX: the legacy, quiet way
        except AttributeError:
            pass
        x = ca.SX.sym("u", size)
        for i in range(size):
            arr[i] = x[i]
        inputs: Any = x
    else:
        mod = __import__(lib)
        syms = mod.symbols(" ".join(f"u{i}" for i in range(size)))
        for i in range(size):
            arr[i] = syms[i]
        inputs = list(syms)
    out = rhs(arr.reshape(shape))
    return inputs, list(out.ravel()) if isinstance(out, np.ndarray) else [out]


def sparse_entries(inputs: list, outs: list, rows: np.ndarray, cols: np.ndarray) -> list:
    """Jacobian entries at a known structure, each a single `diff` (not a dense Jacobian)."""
    return [outs[i].diff(inputs[j]) for i, j in zip(rows, cols)]


def sympy_function(inputs: list, exprs: list) -> Callable:
    import sympy

    f = sympy.lambdify([inputs], exprs, "numpy")
    return lambda x: f(x)  # a list of floats, as lambdify returns it (no array conversion)


def symengine_function(inputs: list, exprs: list, backend: str = "llvm") -> Callable:
    import symengine

    return symengine.Lambdify(inputs, exprs, backend=backend, cse=True)


def casadi_function(x: Any, exprs: Any, sparse: bool = False) -> tuple[Callable, Callable, Any]:
    """(call(x) → DM, buffered(x_in, out) writing into numpy buffers, the Function).

    `buffered` is CasADi's low-overhead entry point (`Function.buffer`): the fair comparison
    with a raw kernel. A sparse output (a Jacobian) gives its non-zeros in CasADi's (CSC) order.
    """
    import casadi as ca

    out = exprs if sparse else ca.vertcat(*exprs)
    f = ca.Function("f", [x], [out])
    buf, ev = f.buffer()

    def buffered(xin: np.ndarray, res: np.ndarray) -> None:
        buf.set_arg(0, memoryview(xin))
        buf.set_res(0, memoryview(res))
        ev()

    return f, buffered, f


# ---------------------------------------------------------------------------------------------
# JAX and pytensor ports


def jax_module() -> Any:
    """jax.numpy with float64 on (JAX defaults to float32); None when JAX is not installed."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def brusselator_jnp(n: int, jnp: Any) -> Callable:
    """The Brusselator right-hand side over the flat state, in jax.numpy."""
    from symnum.demo.examples import brusselator_grid

    A, B, alpha = BRUSS_P
    x, y = brusselator_grid(n)
    forcing = np.where(((x - 0.3) ** 2 + (y - 0.6) ** 2 <= 0.1**2) & (BRUSS_T >= 1.1), 5.0, 0.0)
    dx = 1.0 / (n - 1)

    def lap(w):
        return (jnp.roll(w, 1, 0) + jnp.roll(w, -1, 0) + jnp.roll(w, 1, 1) + jnp.roll(w, -1, 1)
                - 4 * w) / dx**2

    def rhs(s):
        u, v = s[: n * n].reshape(n, n), s[n * n:].reshape(n, n)
        u2v = u * u * v
        du = A + u2v - (B + 1) * u + alpha * lap(u) + forcing
        dv = B * u - u2v + alpha * lap(v)
        return jnp.concatenate([du.ravel(), dv.ravel()])

    return rhs


def mass_action_scatter(net: Any, c: Any) -> tuple[Any, np.ndarray, list]:
    """(dc without reactions, species index, signed rates in index order) of the network at c,
    for array libraries whose scatter-add takes one index array (jax `.at[].add`, pytensor)."""
    bi, uni, dim = net.bi, net.uni, net.dim
    r_bi = net.k_bi * c[bi[:, 0]] * c[bi[:, 1]]
    r_uni = net.k_uni * c[uni[:, 0]]
    r_dim = net.k_dim * c[dim[:, 0]] ** 2
    idx = np.concatenate([bi[:, 0], bi[:, 1], bi[:, 2], uni[:, 0], uni[:, 1], dim[:, 0],
                          dim[:, 1]])
    return net.feed - net.k_deg * c, idx, [-r_bi, -r_bi, r_bi, -r_uni, r_uni, -2.0 * r_dim, r_dim]


def mass_action_jnp(net: Any, jnp: Any) -> Callable:
    """The mass-action right-hand side in jax.numpy (scatter-adds by `.at[].add`)."""

    def rhs(c):
        dc, idx, vals = mass_action_scatter(net, c)
        return dc.at[idx].add(jnp.concatenate(vals))

    return rhs


def jax_functions(rhs: Callable, rows: np.ndarray, cols: np.ndarray,
                  colors: np.ndarray | None) -> dict[str, Callable]:
    """Jitted `rhs`, its dense `jacfwd`, and the values of the sparse
    Jacobian by colour-compressed forward mode (one jvp per colour, vmapped, then a gather) —
    what a JAX user who knows the structure would write. Each takes and returns jax arrays."""
    import jax
    import jax.numpy as jnp

    out = {"rhs": jax.jit(rhs), "jac dense": jax.jit(jax.jacfwd(rhs))}
    if colors is not None:
        seeds = jnp.asarray(np.eye(int(colors.max()) + 1)[colors])  # (n, colours)
        r, c = jnp.asarray(rows), jnp.asarray(colors[cols])

        def sparse(x):
            comp = jax.vmap(lambda s: jax.jvp(rhs, (x,), (s,))[1], in_axes=1,
                            out_axes=1)(seeds)  # (outputs, colours)
            return comp[r, c]

        out["jac colored"] = jax.jit(sparse)
    return out


def pytensor_module() -> Any:
    try:
        import pytensor
    except ImportError:
        return None
    return pytensor


def brusselator_pt(n: int) -> tuple[Any, Any]:
    """(input vector, output vector) of the Brusselator as a pytensor graph."""
    import pytensor.tensor as pt

    from symnum.demo.examples import brusselator_grid

    A, B, alpha = BRUSS_P
    x, y = brusselator_grid(n)
    forcing = np.where(((x - 0.3) ** 2 + (y - 0.6) ** 2 <= 0.1**2) & (BRUSS_T >= 1.1), 5.0, 0.0)
    dx = 1.0 / (n - 1)
    s = pt.dvector("s")

    def lap(w):
        return (pt.roll(w, 1, 0) + pt.roll(w, -1, 0) + pt.roll(w, 1, 1) + pt.roll(w, -1, 1)
                - 4 * w) / dx**2

    u, v = s[: n * n].reshape((n, n)), s[n * n:].reshape((n, n))
    u2v = u * u * v
    du = A + u2v - (B + 1) * u + alpha * lap(u) + forcing
    dv = B * u - u2v + alpha * lap(v)
    return s, pt.concatenate([du.ravel(), dv.ravel()])


def mass_action_pt(net: Any) -> tuple[Any, Any]:
    """(input vector, output vector) of the mass-action network as a pytensor graph."""
    import pytensor.tensor as pt

    c = pt.dvector("c")
    dc, idx, vals = mass_action_scatter(net, c)
    # repeated indices accumulate, like np.add.at
    return c, pt.inc_subtensor(dc[idx], pt.concatenate(vals))


def pytensor_function(inputs: list, outputs: Any) -> Callable:
    """pytensor.function with its default (C) linker; `trust_input` skips the per-call input
    validation, pytensor's documented fast path."""
    import pytensor

    f = pytensor.function(inputs, outputs)
    f.trust_input = True
    return f


# ---------------------------------------------------------------------------------------------
# gradients: extended Rosenbrock and the MLP loss of bench_cheap_gradient


def gradient_workloads(n: int) -> list[tuple[str, Callable, Any]]:
    """[(name, numpy function of one vector, MLP parameters or None)] at size n."""
    from bench_cheap_gradient import make_mlp_loss, mlp_shape, rosenbrock

    loss, size, _label = make_mlp_loss(n)
    d, h = mlp_shape(n)
    rng = np.random.default_rng(0)  # the batch make_mlp_loss draws (same seed, same order)
    X, y = rng.standard_normal((4, d)), rng.standard_normal(4)
    probe = np.arange(size) / size
    if not np.isclose(loss(probe), _mlp_loss_np(probe, X, y, d, h)):
        raise RuntimeError("bench_cheap_gradient.make_mlp_loss changed: update peers.py")
    return [("Rosenbrock", rosenbrock, None), ("MLP", loss, (X, y, d, h, size))]


def _mlp_loss_np(theta: np.ndarray, X: np.ndarray, y: np.ndarray, d: int, h: int) -> float:
    z = np.tanh(X @ theta[: d * h].reshape(d, h) + theta[d * h: d * h + h])
    return float(np.mean((z @ theta[d * h + h: d * h + 2 * h] + theta[-1] - y) ** 2))


def rosenbrock_grad_numba() -> Callable:
    """∇ of Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])², by hand: g(x, out)."""
    @_njit("void(float64[::1], float64[::1])")
    def grad(x, g):
        for i in range(x.size):
            g[i] = 0.0
        for i in range(x.size - 1):
            t = x[i + 1] - x[i] * x[i]
            g[i] += -400.0 * t * x[i] - 2.0 * (1.0 - x[i])
            g[i + 1] += 200.0 * t

    return grad


def mlp_grad_numba(X: np.ndarray, y: np.ndarray, d: int, h: int) -> Callable:
    """∇ of the MLP loss by hand-written backpropagation: g(theta, out)."""
    batch = X.shape[0]

    @_njit("void(float64[::1], float64[::1])")
    def grad(th, g):
        zz = np.empty(h)  # scratch for the hidden layer
        for q in range(g.size):
            g[q] = 0.0
        ob, ow, o2 = d * h, d * h + h, d * h + 2 * h
        for b in range(batch):
            pred = th[o2]
            for k in range(h):
                a = th[ob + k]
                for j in range(d):
                    a += X[b, j] * th[j * h + k]
                zz[k] = np.tanh(a)
                pred += zz[k] * th[ow + k]
            r = 2.0 * (pred - y[b]) / batch
            g[o2] += r
            for k in range(h):
                g[ow + k] += r * zz[k]
                dz = r * th[ow + k] * (1.0 - zz[k] * zz[k])
                g[ob + k] += dz
                for j in range(d):
                    g[j * h + k] += X[b, j] * dz

    return grad


def rosenbrock_jnp(jnp: Any) -> Callable:
    return lambda x: jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mlp_jnp(jnp: Any, X: np.ndarray, y: np.ndarray, d: int, h: int) -> Callable:
    def loss(th):
        z = jnp.tanh(X @ th[: d * h].reshape(d, h) + th[d * h: d * h + h])
        return jnp.mean((z @ th[d * h + h: d * h + 2 * h] + th[-1] - y) ** 2)

    return loss


def gradient_pt(name: str, params: Any) -> tuple[Any, Any]:
    """(input vector, its gradient) of a gradient workload as a pytensor graph."""
    import pytensor
    import pytensor.tensor as pt

    x = pt.dvector("x")
    if name == "Rosenbrock":
        f = pt.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    else:
        X, y, d, h, _ = params
        z = pt.tanh(pt.dot(X, x[: d * h].reshape((d, h))) + x[d * h: d * h + h])
        f = pt.mean((pt.dot(z, x[d * h + h: d * h + 2 * h]) + x[-1] - y) ** 2)
    return x, pytensor.grad(f, x)
