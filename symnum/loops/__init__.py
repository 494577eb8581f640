"""Loops as terms: scan, fori_loop and while_loop (issue 12).

terms (the loop node, its static part and reference semantics) · api (the user functions) ·
ad (reverse and forward mode through loops, registered with symnum.autodiff; array_ad and
array_taylor: the same for array loops) · arrays (loops whose carries are symbolic arrays) ·
files (loops in sn.save's file format). Sits at the autodiff level; the core never imports it.
"""

import symnum.loops.ad as _ad  # noqa: F401  (registers the loop derivative rules)
import symnum.loops.array_ad as _array_ad  # noqa: F401  (array-mode reverse rules)
import symnum.loops.array_taylor as _array_taylor  # noqa: F401  (array-mode Taylor rules)
import symnum.loops.files as _files  # noqa: F401  (loop records of sn.save / sn.load)
import symnum.loops.taylor as _taylor  # noqa: F401  (the loops' Taylor rules)
from symnum.loops.api import fori_loop, scan, while_loop

__all__ = ["fori_loop", "scan", "while_loop"]
