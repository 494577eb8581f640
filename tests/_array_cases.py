"""Shared cases of the array tests: random movement operations (numpy functions that apply to
ndarrays and to array terms alike)."""

from __future__ import annotations

import numpy as np


def index_op(draw_int, kind, shape):
    """A numpy movement operation as a function applicable to ndarrays and array terms."""
    nd = len(shape)
    ax = draw_int(0, nd - 1)
    n = shape[ax]
    if kind == "slice":
        a, b, s = draw_int(-n - 1, n + 1), draw_int(-n - 1, n + 1), draw_int(1, 3)
        s = s if draw_int(0, 1) else -s
        key = (slice(None),) * ax + (slice(a, b, s),)
        return lambda v: v[key]
    if kind == "int":
        i = draw_int(-n, n - 1)
        return lambda v: v[(slice(None),) * ax + (i,)] if nd > 1 else v[i:i + 1]
    if kind == "roll":
        s = draw_int(-2 * n, 2 * n)
        return lambda v: np.roll(v, s, axis=ax)
    if kind == "transpose":
        return lambda v: np.transpose(v)
    if kind == "flat":
        return lambda v: v.reshape(-1)[::-1].reshape(v.shape)
    if kind == "newaxis":
        return lambda v: np.broadcast_to(v[None], (2,) + v.shape)
    if kind == "concat":
        return lambda v: np.concatenate([v, v[..., :1]], axis=-1)
    return lambda v: np.pad(v, 1, constant_values=0.5)
