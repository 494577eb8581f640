"""symnum.save / symnum.load of compiled functions and raw kernels: the two kinds this module
registers with symnum.io.serialize (graphs by value; kernels lowered again, or loaded from the
backends' disk caches, when read back — never machine code).

Sits above symnum.compile; `import symnum` imports it so the kinds are known.
"""

from __future__ import annotations

import os
from typing import Any

from symnum.compile import CompiledFunction, lower, restore
from symnum.errors import SerializationError


def _cf_to_json(cf: CompiledFunction) -> dict:
    from symnum.io.serialize import enc_fn, enc_value

    st = cf.saved_state()
    sigs = [{"fn": enc_fn(s["fn"]), "backend": s["backend"],
             "options": enc_value(_plain_options(s["options"])),
             "statics": enc_value(tuple(s["statics"])), "key_dtype": s["key_dtype"]}
            for s in st["signatures"]]
    return {"name": st["name"], "backend": st["backend"], "simplify": enc_value(st["simplify"]),
            "options": enc_value(_plain_options(st["options"])), "static": st["static"],
            "method": st["method"], "params": st["params"], "var": st["var"],
            "custom": st["custom"], "signatures": sigs,
            "defaults": _encodable_defaults(st["defaults"])}


def _cf_from_json(d: dict) -> CompiledFunction:
    from symnum.io.serialize import dec_fn, dec_value

    try:
        sigs = [{"fn": dec_fn(s["fn"]), "backend": s["backend"],
                 "options": dec_value(s["options"]), "statics": dec_value(s["statics"]),
                 "key_dtype": s["key_dtype"]} for s in d["signatures"]]
        state = {"f": None, "name": d["name"], "backend": d["backend"],
                 "simplify": dec_value(d["simplify"]), "options": dec_value(d["options"]),
                 "static": d["static"], "method": d["method"], "params": d["params"],
                 "var": d["var"], "custom": d["custom"], "signatures": sigs,
                 "defaults": {k: dec_value(v) for k, v in d.get("defaults", {}).items()}}
    except (KeyError, TypeError) as e:
        raise SerializationError(f"a compiled_function entry is malformed ({e!r})") from None
    return restore(state)


def _encodable_defaults(defaults: dict) -> dict:
    """Defaults the file can hold (numbers, strings, tuples...); others are left out, and a
    call that relies on one then says the argument is missing."""
    from symnum.io.serialize import enc_value

    out = {}
    for k, v in defaults.items():
        try:
            out[k] = enc_value(v)
        except SerializationError:
            pass
    return out


def _plain_options(options: dict) -> dict:
    return {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in options.items()}


def _is_kernel(obj: Any) -> bool:
    from symnum.backends.compiled import Compiled

    return isinstance(obj, Compiled)


def _kernel_to_json(k: Any) -> dict:
    from symnum.io.serialize import enc_fn, enc_value

    options = {**_plain_options(k.options), "dtype": k.dtype.name}
    return {"fn": enc_fn(k.fn), "backend": k.backend, "options": enc_value(options)}


def _kernel_from_json(d: dict) -> Any:
    from symnum.io.serialize import dec_fn, dec_value

    return lower(dec_fn(d["fn"]), d["backend"], **dec_value(d["options"]))


def _register_kinds() -> None:
    from symnum.io.serialize import register_kind

    register_kind("compiled_function", lambda o: isinstance(o, CompiledFunction), _cf_to_json,
                  _cf_from_json)
    register_kind("kernel", _is_kernel, _kernel_to_json, _kernel_from_json)


_register_kinds()

