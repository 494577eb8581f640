"""The array operation base class and shape helpers shared by every array operation module.

An array operation is a frozen dataclass (its static parameters: axes, slices, a Map's body) with
four methods; the term that applies it is symnum.arrays.terms.ArrayTerm. Nothing here builds
terms.
"""

from __future__ import annotations

import numpy as np

from symnum.arrays.terms import ArrayExpr, ArrayTerm, Shape
from symnum.errors import ShapeError


class ArrayOp:
    """An array operation. Subclasses are frozen dataclasses (hashable static parameters).

    infer(args) -> (shape, dtype)   checks shapes (ShapeError naming them and the operation)
    impl(*values) -> ndarray        the reference semantics: one numpy call
    scalarize(elems) -> ndarray     per-element scalar terms from the arguments' element arrays
    rebuild(args) -> term           the operation on new arguments (maketerm)
    """

    name = "array_op"
    result = "float"

    def infer(self, args: tuple) -> tuple[Shape, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def impl(self, *vals):  # pragma: no cover - abstract
        raise NotImplementedError

    def scalarize(self, elems: list) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def rebuild(self, args: tuple) -> ArrayExpr:
        return ArrayTerm(self, args)

    def lowering_name(self) -> str:
        return self.name


def float_dtype(*dtypes: str) -> str:
    """The floating dtype of a computation on these dtypes (float32 only if no float64)."""
    return "float32" if "float32" in dtypes and "float64" not in dtypes else "float64"


def broadcast_shape(shapes: list[Shape], what: str) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
    except ValueError:
        shown = " and ".join(str(s) for s in shapes)
        raise ShapeError(f"{what}: operands of shapes {shown} do not broadcast together "
                         "(numpy broadcasting rules)") from None
