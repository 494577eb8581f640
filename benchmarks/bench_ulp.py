"""Accuracy of the llvm backend's transcendentals: max ulp error per function, float64 and
float32, over each function's whole input range (half the points uniform in the interesting
interval, half spread over every binade, both signs; `symnum.testing.ulp.sample`), against an
x86 extended-precision reference (`np.longdouble`), for the vector path (glibc libmvec,
`vecmath=True`), the scalar path (libm, the default) and numpy itself; plus the largest
difference between the vector path and numpy. Special values (±0, ±inf, NaN, subnormals,
overflow edges) are compared with numpy exactly in tests/test_llvm_simd.py.

    python benchmarks/bench_ulp.py [--points N]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import machine_info, table
from symnum.backends import lower

import symnum as sn
from symnum.testing.ulp import FUNCTIONS, sample, ulp_error


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    print(machine_info(), flush=True)
    rows = []
    for dtype in ("float64", "float32"):
        for name, (g, arity, (lo, hi)) in FUNCTIONS.items():
            xs = [sample(args.points, lo, hi, dtype, seed=s) for s in range(arity)]
            if name == "pow":  # x ≥ 0 over every binade, y in [-30, 30] and every binade
                xs = [np.abs(xs[0]), sample(args.points, -30.0, 30.0, dtype, seed=1)]
            fn = sn.trace(g, *([1.0] * arity))
            vec = lower(fn, "llvm", cache=False, dtype=dtype, vecmath=True, parallel=False)
            sca = lower(fn, "llvm", cache=False, dtype=dtype, parallel=False)
            with np.errstate(all="ignore"):
                ref = g(*[a.astype(np.longdouble) for a in xs])
                npy = g(*xs)
            e_v, e_s, e_n = (ulp_error(y, ref, dtype) for y in (vec(*xs), sca(*xs), npy))
            e_vn = ulp_error(vec(*xs), npy.astype(np.longdouble), dtype)
            rows.append([dtype, name, f"{e_v.max():.2f}", f"{e_s.max():.2f}", f"{e_n.max():.2f}",
                         f"{e_vn.max():.0f}", vec.info["simd"]])
            print("  ", rows[-1], flush=True)
    print(f"\n### Max ulp error over the whole input range ({args.points:,} points per "
          "function)\n")
    print(table(["dtype", "function", "llvm vecmath (libmvec)", "llvm scalar (libm)", "numpy",
                 "libmvec vs numpy", "vector loop"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
