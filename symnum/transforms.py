"""Function-level transforms with JAX's names: Fn → Fn, or Python function → Python function.

Given an Fn, each transform returns a new Fn (same inputs unless it adds tangents/cotangents),
built from the expression-level AD and Taylor transforms. Given a Python function, it returns a
function that traces on the first call of each argument signature (shapes, dtypes, structure),
caches the transformed Fn, and evaluates it (with the reference interpreter until the compile
issue routes it through a backend). Nothing here evaluates derivatives numerically by itself.

Transforms compose: a transformed function called with symbolic arguments (from inside an outer
trace: grad(grad(f)), jacfwd(jacrev(f)), jvp(grad(f))) traces its own Python function at fresh
symbols, applies its Fn → Fn transform, and splices the result in at those arguments
(symnum.transforms_inline: renaming the inputs where the arguments are the caller's own
distinct symbols, else substituting); a compiled function does the same by calling its Python
function (symnum.compile). No kernel ever runs on symbols.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symnum.arrays.auto import check_mode, scalar_fallback
from symnum.arrays.fn import ArrayFn, trace_arrays, trace_sized
from symnum.autodiff import ad, array_ad
from symnum.autodiff import array_transforms as AT
from symnum.call_args import StaticArgs, is_symbolic, signature_key, unbox
from symnum.compile import CompiledFunction
from symnum.core.terms import Sym
from symnum.errors import MissingRuleError, ShapeError, TransformError, UnsupportedOperationError
from symnum.tracing.fn import Fn, trace
from symnum.tracing.protocols import SymArray
from symnum.tracing.pytree import tree_flatten, tree_unflatten
from symnum.transforms_inline import fresh_args_like, inline, inline_transform

# ---------------------------------------------------------------------------------------------
# helpers: flat symbol lists of an argument, and rebuilding structures from flat term lists


def _leaves_of(tree: Any) -> list:
    return [leaf for leaf in tree_flatten(tree)[0] if isinstance(leaf, (Sym, np.ndarray))]


def _syms_of(tree: Any) -> list[Sym]:
    out: list[Sym] = []
    for leaf in _leaves_of(tree):
        out.extend(leaf.ravel() if isinstance(leaf, np.ndarray) else [leaf])
    return out


def _fill_like(tree: Any, flat: list, extra_shape: tuple = ()) -> Any:
    """A pytree shaped like the symbolic leaves of `tree`, each leaf of shape leaf + extra."""
    leaves, td = tree_flatten(tree)
    out, pos = [], 0
    for leaf in leaves:
        if not isinstance(leaf, (Sym, np.ndarray)):
            out.append(None)
            continue
        shape = np.shape(leaf) + extra_shape
        size = int(np.prod(shape, dtype=np.int64))
        chunk = flat[pos:pos + size]
        pos += size
        if shape == ():
            out.append(chunk[0])
        else:
            a = np.empty(size, dtype=object)
            a[:] = chunk
            out.append(a.reshape(shape))
    return tree_unflatten(td, out)


def _fresh_like(tree: Any, role: str) -> Any:
    """New symbols shaped like the symbolic leaves of `tree` (tangents, cotangents, directions).

    They carry `role` in their metadata, so they never collide with a user's symbol of the
    same name.
    """
    def fresh(leaf):
        if isinstance(leaf, Sym):
            return Sym(leaf.name, leaf.dtype, role=role)
        if isinstance(leaf, np.ndarray):
            a = np.empty(leaf.shape, dtype=object)
            for idx, s in np.ndenumerate(leaf):
                a[idx] = Sym(s.name, s.dtype, role=role)
            return a.view(SymArray)
        return leaf

    leaves, td = tree_flatten(tree)
    return tree_unflatten(td, [fresh(x) for x in leaves])


def _argnums(fn: Fn, argnums: int | Sequence[int]) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -len(fn.inputs) <= a < len(fn.inputs):
            raise ShapeError(f"argnums {a} is out of range for an Fn of {len(fn.inputs)} inputs")
    return tuple(a % len(fn.inputs) for a in nums)


def _scalar_output(fn: Fn, what: str):
    outs = fn.flat_outputs
    if len(outs) != 1 or fn.out_shapes != [()]:
        raise ShapeError(
            f"{what} needs a function with one scalar output, got output shapes {fn.out_shapes}; "
            "use jacrev/jacfwd for vector outputs"
        )
    return outs[0]


def check_function(f: Any, name: str) -> None:
    """A transform's argument must be an Fn or a callable: else a typed error naming it."""
    if not callable(f):
        raise TransformError(
            f"{name} takes an Fn or a Python function (plain, compiled or transformed), got "
            f"{type(f).__name__} ({_short(f)}); to differentiate an expression use "
            "sn.diff / sn.gradient / sn.hessian(e, xs)")


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


# ---------------------------------------------------------------------------------------------
# composition: a transformed function called with symbolic arguments (inside an outer trace)


def _trace_at(f: Any, primals: tuple) -> tuple[Fn, bool]:
    """The Fn of f for these primals; (fn, True) when the primals are symbolic (the result
    must then be inlined at them rather than evaluated)."""
    if isinstance(f, Fn):
        return f, is_symbolic(primals)
    if is_symbolic(primals):
        return trace(f, *fresh_args_like(primals)), True
    return trace(f, *primals), False


# ---------------------------------------------------------------------------------------------
# lifting Fn → Fn transforms to Python functions


class Transformed:
    """A transformed Python function: traces per argument signature, caches the transformed Fn,
    and runs it compiled (`symnum.compile`'s "auto" backend: machine code through LLVM)."""

    def __init__(self, f: Callable, make: Callable[[Fn], Fn], name: str,
                 primal_args: Callable[[tuple], tuple] = lambda args: args,
                 tracer: Callable[..., Any] = trace, static: StaticArgs | None = None):
        # primal_args: the leading arguments that belong to f (transforms that add tangents,
        # cotangents or directions take more arguments than f)
        self._f, self._make, self._primal_args = f, make, primal_args
        self._tracer = tracer  # symnum.arrays' trace_arrays for mode="array"
        # static arguments (grad / value_and_grad): boxed (call_args.StaticArg), so the trace
        # keeps them at their positions and the signature key holds their values
        self._statics = static if static is not None else StaticArgs(None, fname=name)
        self.param_names = self._statics.params or _param_names(f)
        self._traced_f = unbox(f)
        self._cache: dict = {}
        self._lock = threading.Lock()
        self._compiled: Any = None
        functools.update_wrapper(self, f, updated=())
        self.__name__ = name

    def box_args(self, args: tuple, extra: frozenset = frozenset()) -> tuple:
        """The arguments with the static ones (ours, and the positions in `extra`: a compile
        of this transform names them) boxed in call_args.StaticArg."""
        if not (extra or self._statics.explicit or self._statics.auto):
            return args
        return self._statics.box(args, extra)

    def fn(self, *args: Any) -> Fn:
        """The transformed Fn for arguments like these (traced once per signature and static
        value)."""
        args = self.box_args(args)
        key = signature_key(args)
        with self._lock:
            got = self._cache.get(key)
            if got is None:
                got = self._cache[key] = self._make(self._tracer(
                    self._traced_f, *self._primal_args(args)))
        return got

    def __call__(self, *args: Any) -> Any:
        if self._tracer is trace_arrays and AT.has_array_terms(args):
            # an outer array-mode transform is tracing through this one (jacfwd(grad(f)) with
            # mode="array"): our array program, traced at fresh array symbols, spliced in
            return AT.inline_array(lambda primals, names: self._make(trace_arrays(
                self._f, *primals, names=names)), args, self._primal_args)
        if is_symbolic(args):
            # an outer transform (or trace) is tracing through this function: build the
            # transformed Fn from a trace of our own function and splice it in at these terms,
            # never run the kernel
            args = self.box_args(args)  # statics stay Python values (fresh_args_like)
            return inline_transform(self._traced_f, self._make, args, self._primal_args)
        if self._compiled is None:
            with self._lock:  # concurrent first calls must share one CompiledFunction
                if self._compiled is None:
                    self._compiled = CompiledFunction(self, make_fn=lambda a: self.fn(*a))
        return self._compiled(*args)

    def __repr__(self) -> str:
        return f"<{self.__name__} of {getattr(self._f, '__name__', self._f)!r}>"

    # symnum.compile(transformed) compiles the transformed Fn: this is how it asks for one
    make_fn = fn


def _param_names(f: Any) -> list[str]:
    from symnum.call_args import _parameters

    return _parameters(f)[0]


def _statics(f: Any, name: str, argnums: Any, nums: Any, names: Any) -> StaticArgs | None:
    """grad / value_and_grad's static arguments of a Python function: those named, and the
    parameters with an int/bool/str/None default (never a differentiated one)."""
    if isinstance(f, (Fn, ArrayFn)):
        if nums != () or names != ():
            raise TransformError(f"{name}: static_argnums / static_argnames apply to a Python "
                                 "function; an Fn's inputs are all traced already")
        return None
    check_function(f, name)
    traced = frozenset((argnums,) if isinstance(argnums, int) else argnums)
    return StaticArgs(f, nums, names, getattr(f, "__name__", name), traced=traced)


def _lift(f: Any, make: Callable[[Fn], Fn], name: str,
          primal_args: Callable[[tuple], tuple] = lambda args: args,
          static: StaticArgs | None = None) -> Any:
    if isinstance(f, ArrayFn):  # sn.trace's default for arrays; this transform needs elements
        f = scalar_fallback(f, name)
    if isinstance(f, Fn):
        return make(f)
    check_function(f, name)
    return Transformed(f, make, name, primal_args, static=static)


# ---------------------------------------------------------------------------------------------
# the transforms


def grad(f: Any, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         mode: str = "auto", *, static_argnums: int | Sequence[int] = (),
         static_argnames: str | Sequence[str] = ()) -> Any:
    """Gradient of a scalar-output function with respect to argument(s) `argnums` (an int: the
    gradient shaped like that argument; a tuple: a tuple of them). `has_aux=True`: f returns
    (value, aux) and the result is (gradient, aux), aux passed through undifferentiated.

    Transforms compose as JAX's do: grad(grad(f)), grad(sn.compile(f)), sn.compile(grad(f)),
    jacfwd(jacrev(f)), jvp/vjp of any of them; an outer transform traces the inner function's
    Python code again (never its kernel).

    Non-differentiable points (JAX's conventions where symnum's rules agree): d|x|/dx at 0 is
    sign(0) = 0; d sign(x)/dx = 0; np.where/ifelse differentiate the branch taken; a
    comparison has derivative 0. np.maximum / np.minimum at a tie send the whole derivative to
    the FIRST argument (so relu written np.maximum(x, 0) has derivative 1 at 0, and
    np.maximum(0, x) has 0); JAX splits a tie evenly (0.5 each): write the tie you mean with
    np.where if it matters.

    static_argnums / static_argnames: arguments passed to f as Python values (a step count, a
    flag), one trace per value, as in sn.compile; a parameter with an int, bool, str or None
    default is static when given such a value (unless it is differentiated).

    An ArrayFn, or `mode="array"` for a Python function, differentiates the array program
    without scalarising (symnum.autodiff.array_ad): the gradient program's size does not depend
    on the arrays' sizes, and it runs as numba loop nests. mode="auto" (default): so for
    programs above symnum.arrays.auto.SCALARIZE_LIMIT array elements (else, and for has_aux,
    scalar terms), the scalar rules where an array operation has none.

    >>> import numpy as np, symnum as sn
    >>> g = sn.grad(lambda x: np.sum(x ** 3))
    >>> g(np.array([1.0, 2.0]))
    array([ 3., 12.])
    >>> float(sn.grad(sn.grad(lambda x: x ** 3))(2.0))
    12.0
    """
    def make(fn: Fn) -> Fn:
        main, aux = _split_aux(fn, has_aux, "grad")
        g = _grad_fn(main, argnums)[1]
        return fn.with_outputs((g.outputs, aux)) if has_aux else g

    st = _statics(f, "grad", argnums, static_argnums, static_argnames)
    if _array_mode(f, mode):
        _no_aux(has_aux, "grad")
        return _lift_array(f, lambda fn: array_ad.grad_fn(fn, argnums), "grad", static=st)
    if mode == "auto" and not has_aux:
        return _lift_auto(f, make, lambda fn: array_ad.grad_fn(fn, argnums), "grad", st)
    return _lift(f, make, "grad", static=st)


def _array_mode(f: Any, mode: str) -> bool:
    return check_mode(mode) == "array" or isinstance(f, ArrayFn)


def _lift_auto(f: Any, make: Callable[[Fn], Fn], make_array: Callable[[ArrayFn], ArrayFn],
               name: str, static: StaticArgs | None = None) -> Any:
    """mode="auto": traced by trace_sized; the array rules for an ArrayFn where they cover it,
    else the scalar rules (on the scalarized program)."""
    if isinstance(f, Fn):
        return make(f)
    check_function(f, name)

    def either(fn: Any) -> Any:
        if not isinstance(fn, ArrayFn):
            return make(fn)
        try:
            return make_array(fn)
        except (MissingRuleError, UnsupportedOperationError, TransformError) as e:
            return make(scalar_fallback(fn, name, e))

    return Transformed(f, either, name, tracer=trace_sized, static=static)


def _lift_array(f: Any, make: Callable[[ArrayFn], ArrayFn], name: str,
                primal_args: Callable[[tuple], tuple] = lambda args: args,
                static: StaticArgs | None = None) -> Any:
    if isinstance(f, ArrayFn):
        return make(f)
    if not callable(f):
        raise TransformError(f"{name} takes an ArrayFn or a Python function, got "
                        f"{type(f).__name__}")
    return Transformed(f, make, name, primal_args, tracer=trace_arrays, static=static)


def _array_fn_at(f: Any, primals: tuple, what: str) -> ArrayFn:
    if isinstance(f, ArrayFn):
        return f
    check_function(f, what)
    if is_symbolic(primals):
        raise TransformError(f"{what}(f, primals, mode='array') at symbolic primals (inside "
                             "another trace) is not supported yet; use mode='scalar'")
    return trace_arrays(f, *primals)


def _array_call(f: Any, make: Callable[[ArrayFn], ArrayFn], what: str, primals: Any,
                tangents: Any) -> Any:
    """jvp's two forms for array programs: the transform, or its value at primals/tangents."""
    if primals is None:
        return _lift_array(f, make, what, lambda args: args[: len(args) // 2])
    primals, tangents = tuple(primals), tuple(tangents if tangents is not None else ())
    if len(primals) != len(tangents):
        raise ShapeError(f"{what} got {len(primals)} primals but {len(tangents)} tangents")
    return make(_array_fn_at(f, primals, what))(*primals, *tangents)


def _no_aux(has_aux: bool, what: str) -> None:
    if has_aux:
        raise TransformError(f"{what}(..., has_aux=True) is for scalar-mode programs; array "
                             "programs (mode='array', an ArrayFn) return their value alone")


def _split_aux(fn: Fn, has_aux: bool, what: str) -> tuple[Fn, Any]:
    """(the Fn of the differentiated value, the aux outputs) for has_aux=True."""
    if not has_aux:
        return fn, None
    outs = fn.outputs
    if not isinstance(outs, (tuple, list)) or len(outs) != 2:
        raise ShapeError(f"{what}(..., has_aux=True) needs a function returning a pair "
                         f"(value, aux), got outputs {fn.out_shapes}")
    return fn.with_outputs(outs[0]), outs[1]


def _grad_fn(fn: Fn, argnums) -> tuple[Any, Fn]:
    nums = _argnums(fn, argnums)
    out = _scalar_output(fn, "grad")
    wrt = [s for a in nums for s in _syms_of(fn.inputs[a])]
    g = ad.vjp_terms([out], wrt, [1])
    parts, pos = [], 0
    for a in nums:
        n = len(_syms_of(fn.inputs[a]))
        parts.append(_fill_like(fn.inputs[a], g[pos:pos + n]))
        pos += n
    grads = parts[0] if isinstance(argnums, int) else tuple(parts)
    return out, fn.with_outputs(grads)


def value_and_grad(f: Any, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   mode: str = "auto", *, static_argnums: int | Sequence[int] = (),
                   static_argnames: str | Sequence[str] = ()) -> Any:
    """(value, gradient) in one Fn: the reverse sweep shares the primal's subterms. With
    `has_aux=True` f returns (value, aux) and the result is ((value, aux), gradient), as in
    JAX. An ArrayFn or mode="array": as grad. Conventions at non-differentiable points and
    static arguments: see grad."""
    def make(fn: Fn) -> Fn:
        main, aux = _split_aux(fn, has_aux, "value_and_grad")
        out, gfn = _grad_fn(main, argnums)
        return fn.with_outputs(((out, aux) if has_aux else out, gfn.outputs))

    st = _statics(f, "value_and_grad", argnums, static_argnums, static_argnames)
    if _array_mode(f, mode):
        _no_aux(has_aux, "value_and_grad")
        return _lift_array(f, lambda fn: array_ad.value_and_grad_fn(fn, argnums),
                           "value_and_grad", static=st)
    if mode == "auto" and not has_aux:
        return _lift_auto(f, make, lambda fn: array_ad.value_and_grad_fn(fn, argnums),
                          "value_and_grad", st)
    return _lift(f, make, "value_and_grad", static=st)


def jvp(f: Any, primals: Sequence | None = None, tangents: Sequence | None = None,
        mode: str = "scalar") -> Any:
    """Forward mode. With primals and tangents (JAX style) returns (outputs, output tangents);
    without them returns the transform: an Fn of (*inputs, *tangents) → (outputs, tangents).
    An ArrayFn or mode="array": the array rules (symnum.autodiff.array_jvp), no scalarising."""
    if _array_mode(f, mode):
        return _array_call(f, AT.jvp_program, "jvp", primals, tangents)
    def make(fn: Fn) -> Fn:
        tans = tuple(_fresh_like(x, "tangent") for x in fn.inputs)
        seeds = [t for x in tans for t in _syms_of(x)]
        touts = ad.jvp_terms(fn.flat_outputs, fn.flat_inputs, seeds)
        tout_tree = fn.with_flat_outputs(touts).outputs
        names = fn.names + tuple(f"d{n}" for n in fn.names)
        return Fn(fn.inputs + tans, (fn.outputs, tout_tree), names)

    if primals is None:
        return _lift(f, make, "jvp", lambda args: args[: len(args) // 2])
    primals, tangents = tuple(primals), tuple(tangents if tangents is not None else ())
    if len(primals) != len(tangents):
        raise ShapeError(f"jvp got {len(primals)} primals but {len(tangents)} tangents")
    check_function(f, "jvp")
    fn, symbolic = _trace_at(f, primals)
    if symbolic:  # inside an outer trace: the JVP's terms at these (symbolic) primals
        return inline(make(fn), primals + tangents)
    return make(fn)(*primals, *tangents)


def vjp(f: Any, *primals: Any, mode: str = "scalar") -> Any:
    """Reverse mode. With primals (JAX style) returns (outputs, vjp_fun) where vjp_fun(cotangent)
    gives one cotangent per argument; without them returns the transform: an Fn of
    (*inputs, output cotangent) → (outputs, input cotangents). An ArrayFn or mode="array":
    the array rules (symnum.autodiff.array_ad), no scalarising."""
    if _array_mode(f, mode):
        if not primals:
            return _lift_array(f, AT.vjp_program, "vjp", lambda args: args[:-1])
        vf = AT.vjp_program(_array_fn_at(f, primals, "vjp"))
        out = vf(*primals, AT.zero_cotangent(vf))[0]
        return out, lambda cotangent: vf(*primals, cotangent)[1]
    def make(fn: Fn) -> Fn:
        cts = _out_cotangents(fn)
        gs = ad.vjp_terms(fn.flat_outputs, fn.flat_inputs, _syms_of(cts))
        per_arg, pos = [], 0
        for x in fn.inputs:
            n = len(_syms_of(x))
            per_arg.append(_fill_like(x, gs[pos:pos + n]))
            pos += n
        return Fn(fn.inputs + (cts,), (fn.outputs, tuple(per_arg)), fn.names + ("cotangent",))

    if not primals:
        return _lift(f, make, "vjp", lambda args: args[:-1])
    check_function(f, "vjp")
    fn, symbolic = _trace_at(f, primals)
    vfn = make(fn)
    if symbolic:  # inside an outer trace: terms, spliced in at the symbolic primals
        out = inline(fn, primals)

        def vjp_fun(cotangent):
            return inline(vfn, primals + (cotangent,))[1]

        return out, vjp_fun
    out = fn(*primals)

    def vjp_fun(cotangent):
        return vfn(*primals, cotangent)[1]

    return out, vjp_fun


def _out_cotangents(fn: Fn) -> Any:
    """Fresh cotangent symbols shaped like the outputs."""
    leaves, td = tree_flatten(fn.outputs)
    out = []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, np.ndarray):
            a = np.empty(leaf.shape, dtype=object)
            for idx in np.ndindex(leaf.shape):
                a[idx] = Sym(f"ct{i}{list(idx)}", role="cotangent")
            out.append(a.view(SymArray))
        else:
            out.append(Sym(f"ct{i}", role="cotangent"))
    return tree_unflatten(td, out)


def _jac(fn: Fn, argnums, mode: str) -> Fn:
    nums = _argnums(fn, argnums)
    per_out = []
    for leaf, shape in zip(tree_flatten(fn.outputs)[0], fn.out_shapes):
        outs = list(np.ravel(leaf)) if shape != () else [leaf]
        per_arg = []
        for a in nums:
            wrt = _syms_of(fn.inputs[a])
            J = ad.jacobian(outs, wrt, mode=mode) if wrt else np.empty((len(outs), 0), object)
            per_arg.append(_jac_tree(fn.inputs[a], J, shape))
        per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
    return fn.with_outputs(tree_unflatten(tree_flatten(fn.outputs)[1], per_out))


def _jac_tree(arg_tree, J: np.ndarray, out_shape: tuple) -> Any:
    """Split J's columns by the argument's leaves: each block has shape out_shape + leaf shape."""
    leaves, td = tree_flatten(arg_tree)
    blocks, pos = [], 0
    for leaf in leaves:
        if not isinstance(leaf, (Sym, np.ndarray)):
            blocks.append(None)
            continue
        shape = np.shape(leaf)
        n = int(np.prod(shape, dtype=np.int64))
        block = J[:, pos:pos + n].reshape(out_shape + shape)
        pos += n
        blocks.append(block if block.shape != () else block[()])
    return tree_unflatten(td, blocks)


def jacfwd(f: Any, argnums: int | Sequence[int] = 0, mode: str = "scalar") -> Any:
    """Jacobian by forward mode (one tangent per input); blocks of shape out + in. An ArrayFn or
    mode="array": one batched forward sweep over the array terms (AT.jacobian_fn)."""
    if _array_mode(f, mode):
        return _lift_array(f, lambda fn: AT.jacobian_fn(fn, argnums), "jacfwd")
    return _lift(f, lambda fn: _jac(fn, argnums, "fwd"), "jacfwd")


def jacrev(f: Any, argnums: int | Sequence[int] = 0, mode: str = "scalar") -> Any:
    """Jacobian by reverse mode (one sweep per output's cone); blocks of shape out + in. An
    ArrayFn or mode="array": one reverse sweep per output entry when the outputs have fewer
    entries than the inputs (and at most AT.REV_ROWS), else the batched forward sweep of
    jacfwd (same values)."""
    if _array_mode(f, mode):
        return _lift_array(f, lambda fn: AT.jacobian_fn(fn, argnums, reverse=True), "jacrev")
    return _lift(f, lambda fn: _jac(fn, argnums, "rev"), "jacrev")
