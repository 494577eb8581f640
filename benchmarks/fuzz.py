"""Long differential-fuzzer runs: python benchmarks/fuzz.py [--rounds N] [--exprs N] [--points N]
[--seed S] [--backends llvm,numba] [--programs N] [--program-points N] [--array-backends numba]
[--no-array-grad] [--only exprs|programs]. Prints triples per (transform, simplifier, backend)
category and every mismatch (genuine ones first). Each round runs the expression fuzzer
(symnum/testing/fuzz.py) and the numpy-program fuzzer (symnum/testing/fuzz_programs.py)."""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

from symnum.testing.fuzz import Report, fuzz_round, summary
from symnum.testing.fuzz_programs import program_round
from symnum.testing.programs import program_source


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--exprs", type=int, default=40)
    p.add_argument("--points", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backends", default="llvm,numba")
    p.add_argument("--programs", type=int, default=12, help="numpy programs per round")
    p.add_argument("--program-points", type=int, default=16)
    p.add_argument("--array-backends", default="", help="e.g. numba: array-mode kernels")
    p.add_argument("--no-array-grad", action="store_true",
                   help="skip array-mode reverse mode (one numba compile per program)")
    p.add_argument("--only", choices=("exprs", "programs"), default=None)
    a = p.parse_args()
    backends = tuple(b for b in a.backends.split(",") if b)
    rep = Report()
    cache = tempfile.mkdtemp(prefix="symnum-fuzz-")
    t0 = time.perf_counter()
    warnings.simplefilter("ignore")
    for i in range(a.rounds):
        if a.only != "programs":
            fuzz_round(rep, seed=a.seed + i, n_exprs=a.exprs, n_points=a.points,
                       backends=backends, cache_dir=cache)
        if a.only != "exprs" and a.programs:
            program_round(rep, seed=a.seed + i, n_programs=a.programs,
                          n_points=a.program_points, backends=backends,
                          array_backends=tuple(b for b in a.array_backends.split(",") if b),
                          array_grad=not a.no_array_grad, cache_dir=cache)
        print(f"round {i + 1}/{a.rounds}: {sum(rep.triples.values())} triples, "
              f"{len(rep.genuine())} genuine / {len(rep.mismatches)} mismatches "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    print(summary(rep))
    for m in sorted(rep.mismatches, key=lambda m: m[1] != "genuine"):
        if isinstance(m[2], tuple) and len(m[2]) == 2 and isinstance(m[2][0], tuple) and \
                m[2][0] and isinstance(m[2][0][0], tuple):  # a program: print its source
            print(m[0], m[1], m[3:], "\n" + program_source(m[2]))
        else:
            print(m)


if __name__ == "__main__":
    main()
