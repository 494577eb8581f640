"""Lowering a traced program with a backend chosen by name: `lower` ("auto" picks llvm, numba
or the interpreter), array programs with loops (native loop plans or scalarised, and why), and
`simplify=` before lowering. Below symnum.compile and symnum.builders, which cache what this
returns; the backends package is imported lazily, never by `import symnum`."""

from __future__ import annotations

from typing import Any

from symnum.arrays.auto import SCALARIZE_LIMIT, array_elements
from symnum.arrays.fn import ArrayFn
from symnum.errors import CompileError
from symnum.lowering_options import check_options
from symnum.tracing.fn import Fn


def _backends():
    from symnum import backends

    return backends


def _loops(fn: Any) -> bool:
    from symnum.loops.terms import has_loops

    return has_loops(list(fn.flat_outputs))


def resolve_backend(name: str, fn: Fn) -> str:
    """"auto" → llvm (milliseconds to compile, the same LLVM code quality as numba) when it is
    registered, else the reference interpreter."""
    if _loops(fn):  # loop terms lower to real loops on llvm, numba and cuda (per thread)
        if name == "auto":
            have = _backends().available_backends()
            return next((b for b in ("llvm", "numba") if b in have), "numpy")
    if name != "auto":
        return name
    return "llvm" if "llvm" in _backends().available_backends() else "numpy"


def lower(fn: Fn, backend: str = "auto", **options: Any) -> Any:
    """Lower an Fn with a backend chosen by name; returns a callable with the Fn's signature.
    "auto" lowers array programs to loop nests through LLVM IR, and through numba where the
    llvm renderer refuses (float32 data, numba-only options such as parallel=True)."""
    if not isinstance(fn, (Fn, ArrayFn)):
        raise CompileError(f"lower() takes an Fn (from symnum.trace), got {type(fn).__name__}")
    check_options(backend, options, "lower")  # before any fallback can swallow the refusal
    name = resolve_backend(backend, fn)
    if isinstance(fn, ArrayFn) and name != "numpy" and _loops(fn):
        return _lower_array_loops(fn, name, options, backend == "auto")
    options.pop("array_loops", None)  # the choice for array loops; nothing to choose here
    if backend == "auto" and name == "llvm" and isinstance(fn, ArrayFn) \
            and "numba" in _backends().available_backends():
        try:  # the backend itself: backends.lower would take a small program's scalar form
            return _backends().get_backend("llvm").lower(fn, **options)
        except CompileError as e:
            k = _backends().lower(fn, "numba", **options)
            k.info["llvm_refused"] = str(e)  # why auto chose numba
            return k
    return _backends().lower(fn, name, **options)


def _lower_array_loops(fn: ArrayFn, name: str, options: dict, auto: bool = False) -> Any:
    """An array program with loop terms: on llvm and numba each loop is one sequential loop
    around its body's loop plan (backends.array_loop_carry) — compile time flat in the arrays'
    sizes — unless its carries are small (symnum.loops.arrays.SCALAR_CARRY_LIMIT scalars: the
    scalar loop is faster there) in a small program (symnum.arrays.auto.SCALARIZE_LIMIT
    elements) or the plan cannot express it; then the program is
    scalarised into scalar loops (symnum.loops.terms), and `.info["array_loops"]` says why.
    On cuda a loop's plan is a host loop of kernel launches per step (backends.cuda_step_loops);
    what it cannot launch is scalarised when small, else a CompileError says why.
    `array_loops=` ("auto", "native", "scalar") overrides the choice. backend="auto" tries
    numba's loop plan where llvm's refuses (float32 data), as for array programs without
    loops."""
    from symnum.loops.arrays import SCALAR_CARRY_LIMIT, carry_elements

    options = dict(options)
    how = options.pop("array_loops", "auto")
    if how not in ("auto", "native", "scalar"):
        raise CompileError(f"array_loops must be 'auto', 'native' or 'scalar', got {how!r}")
    size = carry_elements(list(fn.flat_outputs))
    why = None
    if how == "scalar":
        why = "array_loops='scalar' was asked for"
    elif name not in ("llvm", "numba", "cuda"):
        why = f"the {name} backend has no loop plan for array loops"
    elif how == "auto" and size <= SCALAR_CARRY_LIMIT and array_elements(fn) <= SCALARIZE_LIMIT:
        # small carries alone do not decide it: scalarising takes the whole program along, and
        # a scalar loop in a large array program (a scalar argument's loop) would cost
        # O(elements) terms to trace and compile
        why = (f"the loops carry {size} scalars (≤ {SCALAR_CARRY_LIMIT}): scalar loops are "
               "faster there")
    if why is None:
        try:
            try:
                k = _backends().get_backend(name).lower(fn, **options)
            except CompileError as e:
                if not (auto and name == "llvm"
                        and "numba" in _backends().available_backends()):
                    raise
                k = _backends().lower(fn, "numba", **options)
                k.info["llvm_refused"] = str(e)  # why auto chose numba
        except CompileError as e:
            if how == "native":
                raise
            why = str(e)
            if name == "cuda" and array_elements(fn) > SCALARIZE_LIMIT:
                # the scalar form of a large program would be one thread's straight-line code
                raise CompileError(f"{why} (its scalar form, {array_elements(fn)} elements, is "
                                   f"beyond symnum.arrays.auto.SCALARIZE_LIMIT = "
                                   f"{SCALARIZE_LIMIT})") from e
        else:
            if isinstance(getattr(k, "info", None), dict):
                k.info["array_loops"] = "native"
            return k
    k = _backends().lower(fn.scalarize(), name, **options)
    if isinstance(getattr(k, "info", None), dict):
        k.info["array_loops"] = f"scalarised: {why}"
    return k


def _simplified(fn: Fn, method: str | dict | None, backend: str = "auto") -> Fn:
    """`simplify=` of compile/build_function/vectorize: None, a method name, or a dict of
    symnum.simplify arguments. "egraph" means the CPU-cycle ruleset (fma, sin/cos pairs,
    shared factors) under the cost table of the target: the default (measured CPU latency), or
    the GPU slot."""
    if method is None or method is False:
        return fn
    from symnum.simplify import simplify

    kwargs = dict(method) if isinstance(method, dict) else {"method": method}
    if kwargs.get("method") == "egraph":
        kwargs.setdefault("ruleset", "cpu")
        if backend == "cuda":
            kwargs.setdefault("cost", "gpu")
    return simplify(fn, **kwargs)


def _lower_simplified(fn: Fn, method: str | dict | None, backend: str, options: dict) -> Any:
    """lower(simplified fn). The e-graph's kernel rewrites are chosen by a cost model, and
    measured kernels disagree with it often enough (0.74-0.94x on some kernels,
    benchmarks/results_issue16.md §2): for simplify="egraph" on a CPU backend the input is
    compiled too, both are timed on this machine, and the faster is kept (so the e-graph never
    makes a kernel measurably slower). `.info["egraph_guard"]` says what was measured."""
    out = _simplified(fn, method, backend)
    compiled = lower(out, backend, **options)
    name = method.get("method") if isinstance(method, dict) else method
    if out is fn or name != "egraph" or resolve_backend(backend, fn) not in ("llvm", "numba"):
        return compiled
    plain = lower(fn, backend, **options)
    from symnum.backends.compiled import faster

    best, facts = faster(compiled, plain)
    if isinstance(getattr(best, "info", None), dict):
        best.info["egraph_guard"] = {**facts, "kept": "simplified" if best is compiled
                                     else "input"}
    return best
