"""Taylor mode: propagate truncated Taylor coefficients (jets) through a term DAG.

Each primitive's recurrence (its Op's `taylor` slot, see taylor_rules.py) gives the k-th output
coefficient from lower ones in O(k) terms, so a jet of order K costs O(K²) per primitive: the
k-th derivative grows polynomially in k, where nested first-order AD grows exponentially. A
primitive with partials but no recurrence gets the generic rule y' = Σ ∂f/∂aᵢ · aᵢ'; one with
neither raises MissingRuleError. On top: higher, directional and mixed derivatives and the
Laplacian (exact, and the unbiased stochastic estimator of the STDE paper).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

import symnum.core.taylor_rules as TR
from symnum.autodiff.ad import _check_wrt, flatten_terms
from symnum.core._gc import no_gc
from symnum.core.build import as_expr, as_number
from symnum.core.interface import arguments, iscall, maketerm, operation
from symnum.core.primitives import add, mul
from symnum.core.terms import Const
from symnum.errors import MissingRuleError


def rule_of(op) -> TR.TaylorRule:
    """The Taylor rule of a primitive: declared, else derived from its partials, else an error."""
    if op.taylor is not None:
        return op.taylor
    if op.partials is not None:
        return TR.derived(op)
    raise MissingRuleError(
        f"primitive '{op.name}' has neither a Taylor rule nor partial derivatives; pass "
        "taylor=... or partials=... to symnum.register"
    )


def _graph(outputs: list) -> tuple[list, dict, dict]:
    """Processing order of the jet graph: outputs' DAG plus every auxiliary term rules ask for.

    Auxiliary terms a rule uses at lower orders only (cos(x) for sin(x)) may depend on the node
    itself; those a rule uses at the same order (b·log a for a^b) must come first.
    """
    rules: dict[int, TR.TaylorRule] = {}
    aux: dict[int, list] = {}
    order: list = []
    seen: set[int] = set()
    stack = [(o, False) for o in reversed(outputs)]
    later: list = []  # lagged auxiliary roots, visited after the current roots
    while stack or later:
        if not stack:
            stack = [(t, False) for t in reversed(later)]
            later = []
            continue
        n, expanded = stack.pop()
        if expanded:
            order.append(n)
            continue
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.append((n, True))
        if not iscall(n):
            continue
        args = arguments(n)
        rule = rules[id(n)] = rule_of(operation(n))
        made = rule.aux(*args) if rule.aux else []
        extra = [as_expr(t) if t is not None else None for t in made]
        aux[id(n)] = extra
        same_level = rule.rule is TR._pow
        for a in reversed(args):
            if id(a) not in seen:
                stack.append((a, False))
        for t in extra:
            if t is not None and id(t) not in seen:
                (stack.append((t, False)) if same_level else later.append(t))
    return order, rules, aux


@no_gc
def jet_terms(outputs: Sequence[Any], seeds: dict, order: int) -> list[list]:
    """Taylor coefficients [c₀ … c_order] of each output when each seeded symbol s follows
    s(t) = Σₖ seeds[s][k] tᵏ (unseeded symbols are constants; seeds[s][0] defaults to s)."""
    if not isinstance(order, int) or order < 0:
        raise ValueError(f"order must be a non-negative int, got {order!r}")
    outputs = [as_expr(o) for o in outputs]
    nodes, rules, aux = _graph(outputs)
    coefs: dict[int, list] = {}
    state: dict[int, dict] = {}
    for s, cs in seeds.items():
        cs = [as_expr(c) for c in cs]
        cs = (cs if cs else [s]) + [Const(0)] * (order + 1 - len(cs))
        coefs[id(s)] = cs[: order + 1]
    for n in nodes:
        if id(n) in coefs:
            continue
        if iscall(n):
            args = arguments(n)
            zeroth = [coefs[id(a)][0] for a in args]
            same = all(z is a for z, a in zip(zeroth, args))
            coefs[id(n)] = [n if same else maketerm(type(n), operation(n), zeroth)]
            state[id(n)] = {}
        else:
            coefs[id(n)] = [n] + [Const(0)] * order
    empty: list = []
    for k in range(1, order + 1):
        for n in nodes:
            cs = coefs[id(n)]
            if len(cs) > k:
                continue
            args = arguments(n)
            xs = [coefs[id(a)] for a in args]
            if all(_all_zero(x, k) for x in xs):
                cs.append(Const(0))
                continue
            ax = [coefs[id(t)] if t is not None else None for t in aux.get(id(n), empty)]
            cs.append(as_expr(rules[id(n)].rule(k, cs, xs, ax, state[id(n)])))
    return [coefs[id(o)] for o in outputs]


def _all_zero(x: list, k: int) -> bool:
    for j in range(1, k + 1):
        n = as_number(x[j])
        if n is None or n != 0:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# expression level


def taylor(e: Any, x, order: int) -> list:
    """Taylor coefficients [c₀ … c_order] of e around x: c_k = f⁽ᵏ⁾(x)/k!.

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> [str(c) for c in taylor(sn.exp(2 * x), x, 3)]
    ['exp(2*x)', '2*exp(2*x)', '2*exp(2*x)', '4*exp(2*x)/3']
    """
    _check_wrt([x])
    flat, shape = flatten_terms(e)
    jets = jet_terms(flat, {x: [x, 1]}, order)
    if shape == ():
        return jets[0]
    return [np.array([j[k] for j in jets], dtype=object).reshape(shape) for k in range(order + 1)]


def nth_derivative(e: Any, x, n: int):
    """f⁽ⁿ⁾(x) by one jet of order n (k! · c_k)."""
    return mul(math.factorial(n), jet_terms([e], {x: [x, 1]}, n)[0][n])


def directional_derivative(e: Any, xs: Sequence, v: Sequence, order: int = 1):
    """dᵏ/dtᵏ e(xs + t·v) at t = 0 (the k-th derivative tensor contracted k times with v)."""
    xs = _check_wrt(list(xs))
    seeds = {x: [x, vi] for x, vi in zip(xs, v)}
    return mul(math.factorial(order), jet_terms([e], seeds, order)[0][order])


def mixed_derivative(e: Any, vars: Sequence):
    """∂ᵏe/∂v₁⋯∂vₖ (repeats allowed) from 2ᵏ − 1 jets of order k along sums of the variables'
    directions (the polarisation identity of the symmetric derivative tensor)."""
    vars = _check_wrt(list(vars))
    if not vars:
        return as_expr(e)
    return _polarise(e, vars, list(dict.fromkeys(vars)))


def _polarise(e, vars: list, syms: list):
    k = len(vars)
    total = []
    for mask in range(1, 1 << k):
        size = bin(mask).count("1")
        v = {s: 0 for s in syms}
        for i in range(k):
            if mask >> i & 1:
                v[vars[i]] += 1
        c = jet_terms([e], {s: [s, v[s]] for s in syms}, k)[0][k]
        total.append(mul((-1) ** (k - size), c))
    # D^k_v f = k! c_k, and
    # ∂_{v1..vk} f = (1/k!) Σ_S (−1)^{k−|S|} D^k_{Σ_S v} f = Σ_S (−1)^{k−|S|} c_k
    return add(*total) if total else Const(0)


def laplacian(e: Any, xs: Sequence):
    """Σᵢ ∂²e/∂xᵢ², exactly: one second-order jet per variable (2·c₂ along eᵢ)."""
    xs = _check_wrt(list(xs))
    return add(*[mul(2, jet_terms([e], {x: [x, 1]}, 2)[0][2]) for x in xs])


def stochastic_laplacian(e: Any, xs: Sequence, samples: int = 16, *, rng=None,
                         distribution: str = "rademacher"):
    """Unbiased estimate of the Laplacian (STDE): mean over random v of vᵀ∇²e v = 2·c₂ along v,
    with E[vvᵀ] = I (Rademacher ±1 or standard normal directions)."""
    xs = _check_wrt(list(xs))
    if samples < 1:
        raise ValueError("samples must be at least 1")
    rng = np.random.default_rng(rng)
    ests = []
    for _ in range(samples):
        if distribution == "rademacher":
            v = rng.choice([-1.0, 1.0], size=len(xs))
        elif distribution == "normal":
            v = rng.standard_normal(len(xs))
        else:
            raise ValueError("distribution must be 'rademacher' or 'normal'")
        c2 = jet_terms([e], {x: [x, float(vi)] for x, vi in zip(xs, v)}, 2)[0][2]
        ests.append(mul(2, c2))
    return mul(Fraction(1, samples), add(*ests))
