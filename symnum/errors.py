"""Typed errors of symnum: every message says what was wrong and what to do instead.

Sits below everything else; imports nothing from symnum.
"""

from __future__ import annotations


class SymnumError(Exception):
    """Base class of every error symnum raises on purpose."""


class TracingError(SymnumError, TypeError):
    """A symbolic value was used where Python needs a concrete one (if/while, float(), math.*).

    Subclasses TypeError so that `math.sin(x)` on a symbol fails the way Python users expect.
    """


class UnsupportedOperationError(SymnumError, TypeError):
    """A numpy function, ufunc or Python operator has no symbolic rule."""


class TransformError(SymnumError, TypeError):
    """A transform (grad, jit, vmap, ...) was applied to something that is not a function or
    Fn, or with settings it cannot take (in_axes that do not fit the arguments, say)."""


class ShapeError(SymnumError, ValueError):
    """Shapes of inputs or outputs do not match what a transform or kernel expects."""


class ArgumentError(SymnumError, TypeError):
    """A compiled function was called with arguments it cannot take (a missing or unexpected
    argument, None, a string or a complex number where a real number or array belongs)."""


class DTypeError(SymnumError, TypeError):
    """A dtype symnum cannot represent or lower."""


class MissingRuleError(SymnumError, NotImplementedError):
    """A primitive lacks a rule (derivative, Taylor recurrence, lowering) an operation needs."""


class RegistrationError(SymnumError, ValueError):
    """A primitive or term type was registered inconsistently."""


class CompileError(SymnumError, RuntimeError):
    """Lowering or compiling a graph failed; the message points to the generated source."""


class SimplifyError(SymnumError, RuntimeError):
    """A simplifier could not run (unknown method, bad ruleset, exceeded hard limits)."""


class SizeLimitError(SymnumError, ValueError):
    """A result would exceed a size limit (expand's `max_terms`, say): raise the limit if the
    result is really wanted, or keep the expression in a form that stays small."""


class SerializationError(SymnumError, ValueError):
    """A saved or pickled graph cannot be written or read back (an unknown primitive, a
    malformed or newer file, a value the format cannot hold)."""


class CacheWarning(UserWarning):
    """The kernel cache refused a folder or an entry (foreign owner, loose permissions, a file
    without this user's MAC) and used a private replacement or compiled again."""
