"""Long differential-fuzzer runs: python benchmarks/fuzz.py [--rounds N] [--exprs N] [--points N]
[--seed S] [--backends llvm,numba]. Prints triples per (transform, simplifier, backend) category
and every mismatch (genuine ones first). See symnum/testing/fuzz.py for what is compared."""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

from symnum.testing.fuzz import Report, fuzz_round, summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--exprs", type=int, default=40)
    p.add_argument("--points", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backends", default="llvm,numba")
    a = p.parse_args()
    rep = Report()
    cache = tempfile.mkdtemp(prefix="symnum-fuzz-")
    t0 = time.perf_counter()
    warnings.simplefilter("ignore")
    for i in range(a.rounds):
        fuzz_round(rep, seed=a.seed + i, n_exprs=a.exprs, n_points=a.points,
                   backends=tuple(b for b in a.backends.split(",") if b), cache_dir=cache)
        print(f"round {i + 1}/{a.rounds}: {sum(rep.triples.values())} triples, "
              f"{len(rep.genuine())} genuine / {len(rep.mismatches)} mismatches "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    print(summary(rep))
    for m in sorted(rep.mismatches, key=lambda m: m[1] != "genuine"):
        print(m)


if __name__ == "__main__":
    main()
