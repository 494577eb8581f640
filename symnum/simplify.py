"""`simplify` and `canonicalize`: the public entry to the rewriting stage of the pipeline.

Methods are looked up by name in a registry whose entries are import paths, resolved on first
use: `import symnum` never imports the `rewrites` package (nor egglog). A method takes a list of
terms (the roots of one shared DAG) and returns the simplified list; this module only flattens
the user's term / array / pytree / Fn into roots and puts the results back.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symnum.arrays.fn import ArrayFn
from symnum.arrays.rewrite import rewrite_bodies
from symnum.arrays.terms import ArrayExpr
from symnum.core._gc import no_gc
from symnum.core.build import tree_mode
from symnum.core.interface import iscall, maketerm, metadata, operation
from symnum.core.terms import Expr, Term
from symnum.core.traversal import postwalk_many
from symnum.errors import SimplifyError
from symnum.loops.terms import map_bodies
from symnum.tracing.pytree import tree_flatten, tree_unflatten

Method = Callable[..., list]

# name → "module:function" (resolved lazily) or the function itself
_METHODS: dict[str, str | Method] = {"rules": "symnum.rewrites.classical:simplify_rules",
                                      "egraph": "symnum.rewrites.egraph:simplify_egraph"}


# array-level passes run before the elementwise bodies are simplified: "module:function" paths
# (resolved lazily, like the methods), each `fn(array roots) -> array roots`
# (broadcast-and-reduce fusion first: the contractions it makes join the matrix chains)
ARRAY_PASSES: list[str | Callable[[list], list]] = ["symnum.rewrites.array_fusion:fuse",
                                                    "symnum.rewrites.array_chain:reassociate"]


def _array_passes(roots: list) -> list:
    for i, entry in enumerate(ARRAY_PASSES):
        if isinstance(entry, str):
            mod, _, fn = entry.partition(":")
            entry = ARRAY_PASSES[i] = getattr(importlib.import_module(mod), fn)
        roots = entry(roots)
    return roots


def register_method(name: str, method: str | Method, *, replace: bool = False) -> None:
    """Register a simplification method: `fn(roots, *, ruleset, max_iter, stats) -> list`, or
    its "module:function" import path (imported on first use)."""
    if not replace and name in _METHODS:
        raise SimplifyError(f"a simplify method named '{name}' exists; pass replace=True")
    _METHODS[name] = method


def available_methods() -> list[str]:
    """The names `simplify(method=...)` accepts."""
    return sorted(_METHODS)


def _resolve(method: str) -> Method:
    entry = _METHODS.get(method) if isinstance(method, str) else None
    if entry is None:
        raise SimplifyError(
            f"unknown simplify method {method!r}; available methods: "
            f"{', '.join(repr(m) for m in available_methods())}"
        )
    if isinstance(entry, str):
        mod, _, fn = entry.partition(":")
        entry = getattr(importlib.import_module(mod), fn)
        _METHODS[method] = entry
    return entry


@no_gc
def simplify(x: Any, method: str = "rules", *, ruleset: Any = None, max_iter: int = 20,
             stats: Any = None, **options: Any) -> Any:
    """Simplify a term, an array or pytree of terms, or an Fn (same inputs, simplified outputs).

    method "rules": canonical forms, then the classical rulesets (powers, trig, exp/log) to a
    fixpoint; `ruleset` replaces those rules (a RuleSet or any rewriter); `stats` (a
    symnum.rules.Stats) records which rules fired. Every rule is sound on the reals: values are
    kept wherever the input is defined (`sqrt(x**2)` becomes `abs(x)`, never `x`).
    Array programs first go through the array passes (ARRAY_PASSES: matrix chains in their
    cheapest bracketing, transposes folded into contractions), then every elementwise body
    through the method. method "egraph": bounded equality saturation with egglog and cost-model
    extraction (rewrites.egraph.simplify_egraph); `options` go to the method (cost=,
    node_limit=, ...).
    SymPy expressions over real Symbols (`sympy.Symbol("x", real=True)`) are simplified too,
    converted to symnum terms and back over the same Symbols; others are returned as they are
    (symnum's rules hold on the reals: log(exp(x)) = x is false for a complex x). Either method
    returns what it was given: a term, a SymPy expression, an Fn.

    >>> import symnum as sn
    >>> x, y = sn.symbols("x y")
    >>> print(sn.simplify(sn.sin(x)**2 + sn.cos(x)**2 + sn.log(sn.exp(y))))
    y + 1
    >>> print(sn.simplify(sn.sqrt(x**2)))
    abs(x)
    """
    run = _resolve(method)
    from symnum.tracing.fn import Fn  # Fn imports tracing; keep it out of this module's import

    if isinstance(x, Fn):
        return x.with_flat_outputs(_simplify_flat(run, list(x.flat_outputs), ruleset, max_iter,
                                                  stats, options))

    def bodies(roots: list) -> list:  # the scalar bodies of array terms' elementwise maps
        return _simplify_flat(run, roots, ruleset, max_iter, stats, options)

    if isinstance(x, ArrayFn):
        return x.with_flat_outputs(rewrite_bodies(_array_passes(list(x.flat_outputs)), bodies))
    leaves, td = tree_flatten(x)
    if any(isinstance(v, ArrayExpr) for v in leaves):
        found = _array_passes([v for v in leaves if isinstance(v, ArrayExpr)])
        arrays = iter(rewrite_bodies(found, bodies))
        return tree_unflatten(td, [next(arrays) if isinstance(v, ArrayExpr) else
                                   simplify(v, method, ruleset=ruleset, max_iter=max_iter,
                                            stats=stats, **options) for v in leaves])
    roots: list = []
    for leaf in leaves:
        if isinstance(leaf, np.ndarray):
            roots.extend(leaf.ravel())
        else:
            roots.append(leaf)
    done = iter(_simplify_flat(run, roots, ruleset, max_iter, stats, options))
    out = []
    for leaf in leaves:
        if isinstance(leaf, np.ndarray):
            a = np.empty(leaf.shape, dtype=object)
            for i in range(leaf.size):
                a.flat[i] = next(done)
            out.append(a.view(type(leaf)) if type(leaf) is not np.ndarray else a)
        else:
            out.append(next(done))
    return tree_unflatten(td, out)


def _simplify_flat(run: Method, roots: Sequence[Any], ruleset: Any, max_iter: int,
                   stats: Any, options: dict | None = None) -> list:
    sympy_in = _from_sympy_roots(roots)
    work = [sympy_in.get(i, r) for i, r in enumerate(roots)]
    terms = [r for r in work if isinstance(r, Expr) or iscall(r)]
    if not terms:
        return list(roots)
    # loop bodies (symnum.loops) are simplified as Fns of their own, inside out
    terms = map_bodies(terms, lambda outs: _simplify_flat(run, outs, ruleset, max_iter, stats,
                                                         options))
    new = iter(run(terms, ruleset=ruleset, max_iter=max_iter, stats=stats, **(options or {})))
    out = [next(new) if (isinstance(r, Expr) or iscall(r)) else r for r in work]
    for i in sympy_in:
        out[i] = _to_sympy_like(out[i], roots[i])
    return out


def _from_sympy_roots(roots: Sequence[Any]) -> dict[int, Any]:
    """SymPy expressions among the roots, as symnum terms (index → term): the rulesets and the
    e-graph speak symnum's primitives, so a SymPy input is converted in and back out. Left as
    it is: one whose conversion would change it (see `_converts_faithfully`) or that does not
    convert (a function symnum has no primitive for)."""
    found = {}
    for i, r in enumerate(roots):
        if isinstance(r, Expr) or not (type(r).__module__ or "").startswith("sympy."):
            continue
        if not _converts_faithfully(r):
            continue
        from symnum.errors import SymnumError
        from symnum.io.sympy_interop import from_sympy

        try:
            found[i] = from_sympy(r)
        except SymnumError:
            continue
    return found


def _converts_faithfully(e: Any) -> bool:
    """Whether symnum's rules may rewrite this SymPy expression: every Symbol real (the rules
    hold on the reals; log(exp(x)) = x is false for complex x), no two Symbols sharing a name
    (conversion goes by name), and no number that would come back as a float (π, √2, a Float
    of more than double precision)."""
    import sympy as sp

    syms = getattr(e, "free_symbols", set())
    if any(s.is_real is not True for s in syms) or len({s.name for s in syms}) < len(syms):
        return False
    for a in sp.preorder_traversal(e):
        if isinstance(a, sp.NumberSymbol) or a is sp.I or (
                isinstance(a, sp.Float) and a._prec != 53) or (
                isinstance(a, sp.Pow) and a.base.is_Number and not a.exp.is_Integer):
            return False
    return True


def _to_sympy_like(term: Any, original: Any) -> Any:
    """`term` as SymPy, over the original's own Symbols (same names, same assumptions)."""
    from symnum.io.sympy_interop import to_sympy

    out = to_sympy(term)
    by_name = {s.name: s for s in original.free_symbols}
    return out.xreplace({s: by_name[s.name] for s in out.free_symbols if s.name in by_name})


def _rebuild(n: Any) -> Any:
    # tree-mode Terms rebuilt through their op: the canonical hooks (Add/Mul) do the work
    if type(n) is Term and n.meta is None:
        return maketerm(Term, operation(n), list(n.args), metadata(n))
    return None


def canonicalize(x: Any) -> Any:
    """Rebuild a (tree-mode) term, or a list of them, in canonical mode.

    >>> import symnum as sn
    >>> x = sn.symbols("x")
    >>> with sn.tree_mode():
    ...     e = x * x + x - x
    >>> print(e, "=>", canonicalize(e))
    x*x + x - x => x^2
    """
    many = isinstance(x, (list, tuple))
    roots = list(x) if many else [x]
    with tree_mode(False):
        out = postwalk_many(roots, _rebuild)
    return type(x)(out) if many else out[0]


def canonicalize_many(roots: Sequence[Any]) -> list:
    """canonicalize over several roots sharing one walk of their DAG."""
    with tree_mode(False):
        return postwalk_many(list(roots), _rebuild)


__all__ = ["available_methods", "canonicalize", "canonicalize_many", "register_method",
           "simplify"]
