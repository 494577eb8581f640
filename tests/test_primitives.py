"""Every primitive: numpy implementation vs math, partial derivatives vs finite differences and
vs SymPy, linearity vs SymPy's second derivatives; user registration and its errors."""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest
import sympy as sp

import symnum as sn
from symnum.core import primitives, primitives_more
from symnum.core.build import as_expr
from symnum.core.evaluate import eval_many
from symnum.core.op import PRIMITIVES, Op, get_op

X = [sn.Sym(f"p{i}") for i in range(3)]


def _sign(v):
    return math.copysign(1.0, v) if v != 0 else 0.0


# name → (math reference, sample argument tuples inside the domain, away from kinks and ties)
REFERENCE = {
    "add": (lambda *a: math.fsum(a), [(0.3, -1.2, 2.5), (1.0, 2.0)]),
    "sub": (operator.sub, [(0.3, -1.2), (2.0, 5.5)]),
    "neg": (operator.neg, [(0.7,), (-1.5,)]),
    "mul": (lambda *a: math.prod(a), [(0.3, -1.2, 2.5), (1.5, 2.0)]),
    "fma": (lambda a, b, c: a * b + c, [(0.3, -1.2, 2.5), (1.5, 2.0, -3.0)]),
    "div": (operator.truediv, [(0.3, -1.2), (2.0, 0.7)]),
    "pow": (math.pow, [(1.3, 0.7), (0.6, -2.5), (2.0, 3.0)]),
    "exp": (math.exp, [(0.3,), (-1.7,)]),
    "log": (math.log, [(0.3,), (2.7,)]),
    "log1p": (math.log1p, [(0.3,), (-0.6,)]),
    "expm1": (math.expm1, [(0.3,), (-1e-3,)]),
    "sqrt": (math.sqrt, [(0.3,), (4.5,)]),
    "sin": (math.sin, [(0.3,), (-2.1,)]),
    "cos": (math.cos, [(0.3,), (-2.1,)]),
    "tan": (math.tan, [(0.3,), (-1.1,)]),
    "asin": (math.asin, [(0.3,), (-0.8,)]),
    "acos": (math.acos, [(0.3,), (-0.8,)]),
    "atan": (math.atan, [(0.3,), (-4.0,)]),
    "sinh": (math.sinh, [(0.3,), (-2.0,)]),
    "cosh": (math.cosh, [(0.3,), (-2.0,)]),
    "tanh": (math.tanh, [(0.3,), (-2.0,)]),
    "abs": (abs, [(0.3,), (-2.0,)]),
    "sign": (_sign, [(0.3,), (-2.0,)]),
    "erf": (math.erf, [(0.3,), (-1.4,)]),
    "atan2": (math.atan2, [(0.3, -1.2), (-0.5, 2.0), (1.0, 1.0)]),
    "hypot": (math.hypot, [(0.3, -1.2), (3.0, 4.0)]),
    "minimum": (min, [(0.3, -1.2), (2.0, 5.0)]),
    "maximum": (max, [(0.3, -1.2), (2.0, 5.0)]),
    "asinh": (math.asinh, [(0.3,), (-2.1,)]),
    "acosh": (math.acosh, [(1.3,), (4.0,)]),
    "atanh": (math.atanh, [(0.3,), (-0.8,)]),
    "cbrt": (lambda v: math.copysign(abs(v) ** (1 / 3), v), [(0.3,), (-2.1,)]),
    "copysign": (math.copysign, [(0.3, -1.2), (-2.0, 5.0)]),
    "floor": (math.floor, [(0.3,), (-2.1,)]),
    "ceil": (math.ceil, [(0.3,), (-2.1,)]),
    "trunc": (math.trunc, [(0.3,), (-2.1,)]),
    "rint": (round, [(0.3,), (-2.1,), (3.6,)]),
    "fmod": (math.fmod, [(5.3, 2.0), (-5.3, 2.0), (5.3, -2.0)]),
    "logaddexp": (lambda a, b: math.log(math.exp(a) + math.exp(b)), [(0.3, -1.2), (2.0, 5.0)]),
    "logaddexp2": (lambda a, b: math.log2(2**a + 2**b), [(0.3, -1.2), (2.0, 5.0)]),
    "ifelse": (lambda c, a, b: a if c else b, [(1.0, 0.3, -1.2), (0.0, 0.3, -1.2)]),
    "lt": (operator.lt, [(0.3, 1.2), (2.0, -1.0)]),
    "le": (operator.le, [(0.3, 1.2), (2.0, -1.0)]),
    "gt": (operator.gt, [(0.3, 1.2), (2.0, -1.0)]),
    "ge": (operator.ge, [(0.3, 1.2), (2.0, -1.0)]),
    "eq": (operator.eq, [(0.3, 1.2), (2.0, 2.0)]),
    "ne": (operator.ne, [(0.3, 1.2), (2.0, 2.0)]),
    "logical_and": (lambda a, b: bool(a) and bool(b), [(1.0, 0.0), (1.0, 1.0)]),
    "logical_or": (lambda a, b: bool(a) or bool(b), [(1.0, 0.0), (0.0, 0.0)]),
    "logical_not": (lambda a: not a, [(1.0,), (0.0,)]),
}
BUILTIN = list(REFERENCE)
NUMERIC = [n for n in BUILTIN if PRIMITIVES[n].result == "float"]
PREDICATES = [n for n in BUILTIN if PRIMITIVES[n].result == "bool"]


def test_every_builtin_primitive_is_covered():
    builtin = {v.name for m in (primitives, primitives_more) for v in vars(m).values()
               if isinstance(v, Op)}
    assert builtin == set(REFERENCE)


@pytest.mark.parametrize("name", BUILTIN)
def test_op_block_is_complete(name):
    op = get_op(name)
    assert op is PRIMITIVES[name] and op.name == name
    assert op.partials is not None, "every builtin primitive declares its partials"
    assert op.latex, "and its LaTeX"
    assert op.lowering_name() and op.cost > 0
    assert op.result in ("float", "bool")


# ---------------------------------------------------------------------------------------------
# numeric implementation


@pytest.mark.parametrize("name", BUILTIN)
def test_impl_matches_math(name):
    ref, samples = REFERENCE[name]
    op = PRIMITIVES[name]
    for args in samples:
        expected = ref(*args)
        got = op.impl(*[np.float64(a) for a in args])
        assert np.isclose(got, expected, rtol=1e-14, atol=0), (name, args, got, expected)
        # constant folding goes through the same implementation
        folded = op(*args)
        assert isinstance(folded, sn.Const)
        assert np.isclose(float(folded.value), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", BUILTIN)
def test_impl_is_elementwise_over_arrays(name):
    ref, samples = REFERENCE[name]
    cols = [np.array(c, dtype=np.float64) for c in zip(*[s for s in samples
                                                         if len(s) == len(samples[0])])]
    got = PRIMITIVES[name].impl(*cols)
    expected = [ref(*map(float, row)) for row in zip(*cols)]
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                               rtol=1e-14)


@pytest.mark.parametrize("name", ["log", "sqrt", "asin", "acos", "log1p"])
def test_impl_outside_the_domain_is_nan_not_an_error(name):
    with np.errstate(all="ignore"):
        assert np.isnan(PRIMITIVES[name].impl(np.float64(-3.0)))
    assert math.isnan(PRIMITIVES[name](-3.0).value)


# ---------------------------------------------------------------------------------------------
# partial derivatives


def _values(exprs, env):
    return [float(v) for v in eval_many([as_expr(e) for e in exprs], env)]


@pytest.mark.parametrize("name", BUILTIN)
def test_partials_match_central_differences(name):
    _, samples = REFERENCE[name]
    op = PRIMITIVES[name]
    for args in samples:
        syms = X[: len(args)]
        env = dict(zip(syms, args))
        partials = _values(op.derivatives(tuple(syms)), env)
        for i in range(len(args)):
            if name == "ifelse" and i == 0:
                assert partials[0] == 0.0
                continue
            h = 1e-6 * max(1.0, abs(args[i]))
            up = list(args)
            dn = list(args)
            up[i] += h
            dn[i] -= h
            fd = (float(op.impl(*map(np.float64, up))) - float(op.impl(*map(np.float64, dn)))) / (
                2 * h)
            assert math.isclose(partials[i], fd, rel_tol=1e-6, abs_tol=1e-6), (
                name, args, i, partials[i], fd)


def _sympy_at(expr, env):
    r = expr.subs({sp.Symbol(s.name, real=True): sp.Float(v) for s, v in env.items()})
    return float(sp.re(r.evalf(30))) if not isinstance(r, (int, float)) else float(r)


# piecewise: their derivatives are declared (0 for the steps, 1 and -trunc(a/b) for fmod) and
# checked against finite differences; SymPy's derivative of floor recurses without end
NO_SYMPY_DIFF = {"floor", "ceil", "trunc", "rint", "fmod"}


@pytest.mark.parametrize("name", [n for n in NUMERIC if n not in NO_SYMPY_DIFF])
def test_partials_match_sympy_diff(name):
    _, samples = REFERENCE[name]
    op = PRIMITIVES[name]
    for args in samples:
        syms = X[: len(args)]
        env = dict(zip(syms, args))
        if name == "ifelse":  # differentiate the branches; the condition is a fixed Sym
            f = sn.to_sympy(op(syms[0] > 0.5, syms[1], syms[2]))
        else:
            f = sn.to_sympy(op(*syms))
        ours = _values(op.derivatives(tuple(syms)), env)
        for i, s in enumerate(syms):
            if name == "ifelse" and i == 0:
                continue
            theirs = _sympy_at(sp.diff(f, sn.to_sympy(s)), env)
            assert math.isclose(ours[i], theirs, rel_tol=1e-12, abs_tol=1e-12), (
                name, args, i, ours[i], theirs)


@pytest.mark.parametrize("name", PREDICATES)
def test_predicates_have_zero_derivatives(name):
    op = PRIMITIVES[name]
    n = op.nargs
    assert op.linearity.constant
    assert all(as_expr(d) is sn.Const(0) for d in op.derivatives(tuple(X[:n])))


# ---------------------------------------------------------------------------------------------
# linearity: declared flags agree with SymPy's second derivatives (zero almost everywhere)

# Declared non-linear although the second derivative is zero almost everywhere: conservative
# (a denser Hessian pattern than needed), never wrong. abs(x)'' = 2·δ(x).
CONSERVATIVE = {"abs", "copysign"}
LINEARITY_SAMPLES = [(0.37, 1.21, -0.83), (1.9, 0.44, 0.61), (-0.52, 2.3, 1.13)]


def _zero_everywhere(expr, syms) -> bool:
    for pt in LINEARITY_SAMPLES:
        env = dict(zip(syms, pt))
        if abs(_sympy_at(expr, env)) > 1e-9:
            return False
    return True


DOMAIN_LIMITED = ["log", "sqrt", "asin", "acos", "log1p", "pow"]


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "rint"])
def test_step_functions_are_piecewise_constant(name):
    op = PRIMITIVES[name]
    assert op.linearity.constant and as_expr(op.derivatives((X[0],))[0]) is sn.Const(0)


@pytest.mark.parametrize("name", [n for n in NUMERIC if n not in DOMAIN_LIMITED + ["ifelse"]
                                  and n not in NO_SYMPY_DIFF | {"acosh", "atanh"}])
def test_linearity_agrees_with_sympy(name):
    op = PRIMITIVES[name]
    n = op.nargs or 3
    syms = X[:n]
    f = sn.to_sympy(op(*syms))
    ss = [sn.to_sympy(s) for s in syms]
    lin = op.linearity
    for i in range(n):
        second = sp.diff(f, ss[i], 2)
        zero = _zero_everywhere(second, syms)
        if lin.linear_in(i):
            assert zero, f"{name} declared linear in argument {i} but d²/dx² = {second}"
        elif name not in CONSERVATIVE:
            assert not zero, f"{name} declared non-linear in argument {i} but d²/dx² = 0"
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    mixed = {p: not _zero_everywhere(sp.diff(f, ss[p[0]], ss[p[1]]), syms) for p in pairs}
    if isinstance(lin.cross, bool):  # a flag: true iff some pair's mixed derivative is non-zero
        assert n == 1 or lin.cross == any(mixed.values()), (name, lin)
    else:  # declared pairs: exactly the ones with a non-zero mixed derivative
        assert {p for p, nz in mixed.items() if nz} == {tuple(sorted(p)) for p in lin.cross}


@pytest.mark.parametrize("name", DOMAIN_LIMITED)
def test_linearity_of_domain_limited_primitives(name):
    op = PRIMITIVES[name]
    a, b = X[0], X[1]
    env = {a: 0.4, b: 0.7}
    if name == "pow":
        # pow(a, b): non-linear in both, with cross terms
        f = sn.to_sympy(op(a, b))
        sa, sb = sn.to_sympy(a), sn.to_sympy(b)
        assert _sympy_at(sp.diff(f, sa, 2), env) != 0 and _sympy_at(sp.diff(f, sb, 2), env) != 0
        assert _sympy_at(sp.diff(f, sa, sb), env) != 0
        assert not op.linearity.linear_in(0) and not op.linearity.linear_in(1)
        assert op.linearity.cross
        return
    f = sn.to_sympy(op(a))
    assert _sympy_at(sp.diff(f, sn.to_sympy(a), 2), env) != 0
    assert not op.linearity.linear_in(0)


# ---------------------------------------------------------------------------------------------
# user primitives


def test_register_a_user_primitive_end_to_end():
    softplus = sn.register("user_softplus", lambda v: np.log1p(np.exp(v)),
                           partials=lambda v: (1 / (1 + sn.exp(-v)),), replace=True)
    x = sn.Sym("x")
    e = softplus(2 * x)
    assert get_op("user_softplus") is softplus
    assert str(e) == "user_softplus(2*x)"
    assert float(sn.evaluate(e, {x: 0.5})) == pytest.approx(math.log1p(math.e))
    assert softplus(0.0).value == pytest.approx(math.log(2))  # constants fold through impl
    (d,) = softplus.derivatives((x,))
    h = 1e-6
    fd = (math.log1p(math.exp(0.3 + h)) - math.log1p(math.exp(0.3 - h))) / (2 * h)
    assert float(sn.evaluate(d, {x: 0.3})) == pytest.approx(fd, rel=1e-7)
    assert float(sn.evaluate(sn.diff(e, x), {x: 0.3})) == pytest.approx(
        2 / (1 + math.exp(-0.6)), rel=1e-12)


def test_missing_partials_is_a_clear_error_where_needed():
    f = sn.register("user_nodiff", np.sin, replace=True)
    x = sn.Sym("x")
    e = f(x) + 1  # building and evaluating need no derivative
    assert float(sn.evaluate(e, {x: 0.0})) == 1.0
    with pytest.raises(sn.MissingRuleError, match=r"'user_nodiff'.*partials="):
        f.derivatives((x,))
    with pytest.raises(sn.MissingRuleError, match="user_nodiff"):
        sn.diff(e, x)


def test_wrong_number_of_partials_is_reported():
    f = sn.register("user_badpartials", np.hypot, nargs=2, partials=lambda a, b: (a,),
                    replace=True)
    with pytest.raises(sn.RegistrationError, match="1 derivatives for 2 arguments"):
        f.derivatives((X[0], X[1]))


def test_duplicate_registration_is_an_error():
    sn.register("user_dup", np.sin, replace=True)
    with pytest.raises(sn.RegistrationError, match="already exists.*replace=True"):
        sn.register("user_dup", np.cos)
    with pytest.raises(sn.RegistrationError, match="'sin' is a built-in primitive"):
        sn.register("sin", np.cos)
    g = sn.register("user_dup", np.cos, replace=True)
    assert get_op("user_dup") is g


@pytest.mark.parametrize(
    "kwargs, needle",
    [({"name": "", "impl": np.sin}, "non-empty string name"),
     ({"name": "user_x", "impl": 3}, "must be callable"),
     ({"name": "user_y", "impl": np.sin, "nargs": 0}, "at least 1")],
)
def test_bad_registrations(kwargs, needle):
    with pytest.raises(sn.RegistrationError, match=needle):
        sn.register(**kwargs)


def test_unknown_primitive_name():
    with pytest.raises(sn.MissingRuleError, match="no primitive named 'nope'"):
        get_op("nope")


def test_wrong_arity_is_a_type_error():
    with pytest.raises(TypeError, match="sin takes 1 argument"):
        sn.sin(X[0], X[1])


def test_fma_reference_conditions_exact_folding_and_hessian_pattern():
    c = sn.lt(X[0], X[1])
    assert float(sn.evaluate(sn.fma(c, c, c), {X[0]: 1.0, X[1]: 2.0})) == 2.0  # not True
    assert sn.fma(2**70, 2, 1).value == 2**71 + 1  # numbers fold exactly, as a·b + c
    H = sn.hessian_sparsity(sn.fma(*X), X)  # only ∂²/∂a∂b: c enters linearly
    assert H.astype(int).tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
