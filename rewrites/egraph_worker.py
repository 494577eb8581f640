"""The e-graph worker process: runs one `symnum.rewrites.egraph.run_job` with hard limits.

egglog 13 has no timeout, no node limit and cannot be cancelled, and some failures abort the
whole process (a panic allocating 16 GiB, FIELD-NOTES). So large runs happen here: the parent
caps the address space (RLIMIT_AS), kills the process at the hard deadline, and turns any exit
but a clean one into an error its caller answers with the unoptimised graph. Progress arrives as
one JSON line per step on stdout. Never imported by `import symnum`. This is the parent's side;
the process itself runs symnum.rewrites.egraph_child:

    python -m symnum.rewrites.egraph_child JOB.pickle RESULT.pickle
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from symnum.errors import SimplifyError

# the folder holding the symnum package, wherever it is installed (the child imports it by name)
_ROOT = str(Path(importlib.util.find_spec("symnum").origin).resolve().parents[1])


def hard_limits(lim: Any) -> tuple[float, int]:
    """(seconds before the kill, address-space bytes) for soft limits `lim`."""
    kill = lim.kill_after_s if lim.kill_after_s is not None else 2 * lim.time_s + 10.0
    return kill, int((2 * lim.memory_mb + 1024) * 2**20)


def run_isolated(job: dict, lim: Any, progress: Callable[[dict], None] | None = None,
                 worker: Sequence[str] | None = None) -> dict:
    """Run `job` in a fresh process; raise SimplifyError saying what went wrong if it does not
    finish cleanly in time. `worker` replaces the command (tests simulate crashes with it)."""
    deadline, address_space = hard_limits(lim)

    def cap_memory() -> None:  # runs in the child before exec
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="symnum-egw-") as d:
        job_path, res_path = os.path.join(d, "job.pickle"), os.path.join(d, "result.pickle")
        with open(job_path, "wb") as f:
            pickle.dump(job, f, protocol=pickle.HIGHEST_PROTOCOL)
        cmd = list(worker or [sys.executable, "-m", "symnum.rewrites.egraph_child"])
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd + [job_path, res_path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env,
                                preexec_fn=cap_memory if os.name == "posix" else None)
        err_tail: list[str] = []
        readers = [threading.Thread(target=_pump, args=(proc.stdout, progress), daemon=True),
                   threading.Thread(target=_tail, args=(proc.stderr, err_tail), daemon=True)]
        for r in readers:
            r.start()
        try:
            rc = proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise SimplifyError(
                f"the e-graph worker ran past its hard deadline ({deadline:.0f} s) and was "
                "killed; lower time_limit/node_limit or the ruleset's exploration") from None
        finally:  # the process has ended: its pipes reach EOF, the readers finish
            for r in readers:
                r.join(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                stream.close()
        if rc != 0:
            what = f"exit status {rc}"
            if rc < 0:
                try:
                    what = f"signal {signal.Signals(-rc).name}"
                except ValueError:
                    what = f"signal {-rc}"
            tail = "".join(err_tail)[-800:].strip()
            raise SimplifyError(
                f"the e-graph worker died ({what}) after {time.perf_counter() - t0:.1f} s"
                + (f": {tail}" if tail else "")
                + "; it may have run out of memory (cap: "
                f"{address_space / 2**20:.0f} MiB) — lower node_limit or memory_limit")
        try:
            with open(res_path, "rb") as f:
                return pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            raise SimplifyError(f"the e-graph worker exited without a result ({e})") from e


def _pump(stream: Any, progress: Callable[[dict], None] | None) -> None:
    for line in stream:
        if progress is None:
            continue
        try:
            progress(json.loads(line))
        except ValueError:
            pass  # a stray print from a library: not a progress line


def _tail(stream: Any, out: list[str]) -> None:
    for line in stream:
        out.append(line)
        del out[:-40]
