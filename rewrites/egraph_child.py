"""The e-graph worker process's entry point: read a job, run it, write the result atomically.

Started by symnum.rewrites.egraph_worker (the parent's side, which applies the limits); it imports
symnum.rewrites.egraph, which imports the parent's side — never the other way round.

    python -m symnum.rewrites.egraph_child JOB.pickle RESULT.pickle
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Sequence

from symnum.rewrites.egraph import load_bindings, run_job


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m symnum.rewrites.egraph_child JOB.pickle RESULT.pickle",
              file=sys.stderr)
        return 2
    with open(argv[0], "rb") as f:
        job = pickle.load(f)
    result = run_job(job, lambda d: print(json.dumps(d), flush=True), load_bindings(direct=True))
    tmp = argv[1] + ".part"
    with open(tmp, "wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, argv[1])  # the parent never reads half a result
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
