"""Which tracer is running now: "array" (symnum.arrays.fn.trace_arrays), "scalar"
(symnum.tracing.fn.trace) or None outside any trace — a thread-local the tracers set around
the user's function and constructs that build terms read.

Why: in an array program a scalar argument is a plain Sym, as in scalar mode, so a loop whose
carries are such scalars cannot tell from its operands which kind of loop node to build;
symnum.loops.api builds an array loop (which array AD, JVP and Taylor differentiate) while the
array tracer runs. The innermost trace wins, so a scalar-mode trace nested in an array program
(a transform of a scalar function) builds scalar terms. Never builds or evaluates anything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_STATE = threading.local()


def current() -> str | None:
    """The innermost running tracer's mode, or None outside a trace."""
    return getattr(_STATE, "mode", None)


@contextmanager
def tracing(mode: str) -> Iterator[None]:
    """Mark `mode` ("array" or "scalar") as the running tracer for the block."""
    before = current()
    _STATE.mode = mode
    try:
        yield
    finally:
        _STATE.mode = before
