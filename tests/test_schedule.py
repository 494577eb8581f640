"""The backend-neutral schedule and its Python source (backends/schedule.py, backends/pysource.py).

No numba here: the generated source is run as plain Python (math + numpy) and compared with the
reference interpreter, so these tests check the lowering decisions themselves, cheaply.
"""

from __future__ import annotations

import io
import keyword
import math
import tokenize
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from symnum.backends.numba_ops import fma, select
from symnum.backends.pysource import body_lines, instr_src, kernel_source, ref_src
from symnum.backends.schedule import Ref, Schedule, float_literal, schedule

import symnum as sn
from symnum.core.build import tree_mode
from symnum.errors import CompileError
from symnum.testing import build, expression_recipes, points

x, y, z = sn.symbols("x y z")
XYZ = [x, y, z]


def ops(e, inputs=XYZ) -> list[str]:
    return [i.op for i in schedule(inputs, [e]).instrs]


def counts(es, inputs=XYZ) -> dict[str, int]:
    return schedule(inputs, list(es)).op_counts()


def run_source(sched: Schedule, *values: float) -> list:
    """Execute the generated kernel as plain Python: an oracle-checkable lowering, no numba."""
    ns: dict = {"math": math, "np": np, "_fma": fma, "_select": select}
    exec(kernel_source(sched), ns)  # noqa: S102 - generated from a schedule, never user text
    out = [None] * len(sched.outputs)
    ns["kernel"](list(values), out)
    return out


# ---------------------------------------------------------------------------------------------
# integer powers: binary powering with shared squares; negative powers: one division

POWERS = [  # expression ⇒ instruction ops
    (x**2, ["mul"]),
    (x**3, ["mul", "mul"]),
    (x**4, ["mul", "mul"]),
    (x**8, ["mul", "mul", "mul"]),
    (x**7, ["mul", "mul", "mul", "mul"]),  # x² x⁴ x⁶ x⁷ (binary powering, not 6 multiplies)
    (x**-1, ["div"]),
    (x**-3, ["mul", "mul", "div"]),
    (1 / (x * y), ["mul", "div"]),
    (y**3 / x**2, ["mul", "mul", "mul", "div"]),  # one division for the whole denominator
    (x**0.5, ["sqrt"]),  # numpy's power takes sqrt for 0.5: (-inf)**0.5 is nan, not inf
    (x**64, ["mul"] * 6),
    (x**65, ["pow"]),  # beyond MAX_CHAIN: one pow call
    (x**-100, ["pow", "div"]),
    (x**1e300, ["pow"]),  # an integer with 300 digits: no chain, no recursion
    (x ** (10**400), ["pow"]),
    (x**2.5, ["pow"]),
    (x**y, ["pow"]),
]


@pytest.mark.parametrize(("e", "want"), POWERS, ids=[str(e) for e, _ in POWERS])
def test_powers_lower_to_multiplication_chains(e, want):
    assert ops(e) == want


def test_squares_are_shared_between_powers_of_one_base():
    # x⁵ + x⁴: x² and x⁴ computed once, x⁵ = x⁴·x
    assert counts([x**5 + x**4]) == {"mul": 3, "add": 1}
    # across outputs too
    assert counts([x**4, x**8, x**2]) == {"mul": 3}


def test_a_scaled_term_shared_by_several_sums_is_multiplied_once():
    # a stencil: 90·y appears in both sums (and 2·y once more with another coefficient)
    assert counts([90 * y + x, 90 * y + z, 2 * y + x]) == {"mul": 2, "add": 3}
    assert counts([90 * y, 90.0 * y + x]) == {"mul": 1, "add": 1}  # 90 and 90.0: one key


@pytest.mark.parametrize(("e", "want"), [(3, ["mul", "mul"]), (-2, ["mul", "div"]),
                                        (1, []), (0, [])])
def test_tree_mode_integer_pow_terms(e, want):
    with tree_mode():
        t = x**e
    s = schedule(XYZ, [t])
    assert [i.op for i in s.instrs] == want
    if e == 0:
        assert s.outputs == [Ref("const", value=1.0)]
    assert run_source(s, 1.5, 0.0, 0.0)[0] == pytest.approx(1.5**e)


def test_negative_power_divides_once_and_keeps_the_coefficient_on_top():
    s = schedule(XYZ, [3 * x * y**-2 * z**-1])
    c = s.op_counts()
    assert c["div"] == 1 and "pow" not in c
    assert run_source(s, 2.0, 4.0, 0.5)[0] == pytest.approx(3 * 2.0 / 16.0 / 0.5)


# ---------------------------------------------------------------------------------------------
# CSE: every shared subterm is computed once


def test_shared_subterm_computed_once_across_outputs():
    s = sn.sin(x * y)
    sched = schedule(XYZ, [s * z, s + z, sn.exp(s)])
    c = sched.op_counts()
    assert c["sin"] == 1 and c["mul"] == 2 and c["exp"] == 1  # x·y once, s·z once


def test_deep_dag_stays_linear():
    # a_{k+1} = sin(a_k)·cos(a_k): a tree of 2^40 nodes, a DAG of 120
    a = x
    for _ in range(40):
        a = sn.sin(a) * sn.cos(a)
    sched = schedule(XYZ, [a])
    assert sched.op_counts() == {"sin": 40, "cos": 40, "mul": 40}
    assert len({i.dst for i in sched.instrs}) == len(sched)


def test_outputs_may_repeat_and_be_inputs():
    sched = schedule(XYZ, [x, sn.sin(x), sn.sin(x), z])
    assert sched.outputs[0] == Ref("in", 0) and sched.outputs[3] == Ref("in", 2)
    assert sched.outputs[1] == sched.outputs[2] and len(sched) == 1


def test_ssa_every_temporary_defined_once_before_use():
    sched = schedule(XYZ, [sn.exp(x + y) * (x + y) ** 2 - sn.ifelse(x < y, z, y)])
    defined: set[int] = set()
    for ins in sched.instrs:
        for a in ins.args:
            assert a.kind != "tmp" or a.index in defined
            assert a.kind != "in" or a.index < sched.n_in
        assert ins.dst not in defined
        defined.add(ins.dst)
    assert sched.n_tmp == len(defined)


# ---------------------------------------------------------------------------------------------
# constants, selects and comparisons


CONSTS = [
    (sn.Const(2.5), 2.5),
    (sn.Const(Fraction(1, 3)), 1 / 3),
    (sn.Const(-0.0), -0.0),
    (sn.Const(float("inf")), math.inf),
]


@pytest.mark.parametrize(("c", "value"), CONSTS, ids=[str(v) for _, v in CONSTS])
def test_constant_outputs(c, value):
    s = schedule(XYZ, [c])
    assert len(s) == 0 and s.outputs[0].kind == "const"
    got = run_source(s, 0.0, 0.0, 0.0)[0]
    assert got == value and math.copysign(1, got) == math.copysign(1, value)


@pytest.mark.parametrize("v", [0.1, -0.0, 1e-310, 1.7976931348623157e308, math.inf, -math.inf,
                               math.nan, 1 / 3])
def test_float_literals_round_trip(v):
    text = float_literal(v)
    back = eval(text, {"math": math})  # noqa: S307 - our own literal
    assert (math.isnan(back) and math.isnan(v)) or (back == v and
                                                    math.copysign(1, back) == math.copysign(1, v))


def test_float32_constants_are_typed():
    assert ref_src(Ref("const", value=0.5), "float32") == "np.float32(0.5)"
    assert ref_src(Ref("const", value=0.5)) == "0.5"


SELECTS = [
    (sn.ifelse(x < y, x, y), ["lt", "select"]),
    (sn.ifelse(x >= y, z, 1.0), ["ge", "select"]),
    (sn.ifelse((x < y) & (y <= z), x, z), ["lt", "le", "logical_and", "select"]),
    (sn.ifelse((x > y) | ~sn.ne(y, z), x, z), ["gt", "ne", "logical_not", "logical_or", "select"]),
    (sn.ifelse(sn.eq(x, y), 1.0, -1.0), ["eq", "select"]),
    (sn.maximum(x, y) - sn.minimum(y, z), None),
    (sn.sign(x) * abs(y), None),
]


@pytest.mark.parametrize(("e", "want"), SELECTS, ids=[str(e) for e, _ in SELECTS])
def test_selects_and_comparisons(e, want):
    s = schedule(XYZ, [e])
    if want is not None:
        assert sorted(i.op for i in s.instrs) == sorted(want)
    fn = sn.Fn(XYZ, e)
    for p in [(0.5, 1.0, -1.0), (1.0, 0.5, 0.5), (-1.0, -1.0, 2.0), (2.0, 1.0, 1.0)]:
        assert run_source(s, *p)[0] == pytest.approx(float(fn(*p)))


def test_select_source_reads_condition_first():
    # branch-free for numba (numba_ops.select), the condition first as in ifelse
    assert instr_src("select", ["c", "a", "b"]) == "_select(c, a, b)"


# ---------------------------------------------------------------------------------------------
# errors and safety


def test_symbol_missing_from_inputs_is_a_compile_error():
    with pytest.raises(CompileError, match="'z'.*not among the inputs"):
        schedule([x, y], [x * z])


@pytest.mark.parametrize("name", ["no_such_fn", "__import__('os').system", "os.system"])
def test_unknown_lowering_name_is_rejected_not_emitted(name):
    with pytest.raises(CompileError, match="no lowering") as info:
        instr_src(name, ["x0"])
    assert "register a lowering" in str(info.value) or "`lower`" in str(info.value)


def _identifiers(src: str) -> set[str]:
    names = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
            names.add(tok.string)
        assert tok.type != tokenize.STRING, f"a string literal in generated code: {tok.string}"
    return names


HOSTILE = ["x; import os", "__import__('os')", "a'b\"c", "line\nbreak", "αβγ", "out", "t0",
           "x0", "math", "kernel", "1e3", ""]


def test_generated_source_has_only_generated_identifiers():
    syms = [sn.Sym(n) for n in HOSTILE]
    e = sum((k + 1) * sn.sin(s) * syms[(k + 1) % len(syms)] for k, s in enumerate(syms))
    sched = schedule(syms, [e, sn.ifelse(syms[0] < syms[1], syms[2], 1.5)])
    src = kernel_source(sched)
    allowed = {"kernel", "x", "out", "math", "np", "sin", "float32", "_select"}
    for name in _identifiers(src):
        assert name in allowed or (name[0] in "xt" and name[1:].isdigit()), name
    for bad in ("import", "os", "'", '"', "α", "\\n"):
        assert bad not in src
    # the kernel still computes the right thing: names are only labels
    vals = np.linspace(0.1, 1.2, len(syms))
    want = sn.Fn(syms, [e]).evaluate({s: v for s, v in zip(syms, vals)})
    assert run_source(schedule(syms, [e]), *vals)[0] == pytest.approx(float(want[0]))


# ---------------------------------------------------------------------------------------------
# the source as a whole, against the reference interpreter


def test_kernel_source_shape():
    src = kernel_source(schedule([x, y], [sn.sin(x) * y, x]))
    assert src.splitlines() == ["def kernel(x, out):", "    x0 = x[0]", "    x1 = x[1]",
                                "    t0 = math.sin(x0)", "    t1 = t0 * x1",
                                "    out[0] = t1", "    out[1] = x0"]
    empty = kernel_source(Schedule(n_in=0))
    assert empty == "def kernel(x, out):\n    return\n"
    assert body_lines(schedule([x], [-x]), indent="") == ["t0 = -x0"]


@settings(max_examples=80)
@given(st.data(), expression_recipes(3, max_depth=4), st.sampled_from(["canonical", "tree"]))
def test_source_matches_reference_on_random_expressions(data, recipe, mode):
    e = build(recipe, XYZ, mode)
    fn = sn.Fn(XYZ, [e, 2 * e])
    env = data.draw(points(XYZ))
    vals = [env[s] for s in XYZ]
    got = run_source(schedule(XYZ, fn.flat_outputs), *vals)
    want = fn(*vals)
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float),
                               rtol=1e-9, atol=1e-12, err_msg=f"{e} at {vals}")


def test_sine_and_cosine_of_one_argument_are_emitted_together():
    # far apart in the graph, next to each other in the schedule: one shard, one sincos call
    s = schedule([x, y], [sn.sin(x) * y, sn.exp(y) + sn.cos(x * y), sn.cos(x) + 1, sn.sin(x * y)])
    where: dict = {}
    for k, ins in enumerate(s.instrs):
        if ins.op in ("sin", "cos"):
            where.setdefault(ins.args, []).append(k)
    assert len(where) == 2  # sin and cos of x, sin and cos of x·y
    assert all(len(ks) == 2 and ks[1] - ks[0] == 1 for ks in where.values()), s.instrs
