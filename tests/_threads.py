"""A harness for tests that call one kernel from several threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable


def mismatches_together(work: Callable[[int], bool], calls: int, threads: int = 2) -> list[int]:
    """Run `work(j)` `calls` times on each of `threads` threads released together (a barrier);
    the thread numbers j of the calls that returned False."""
    errors: list[int] = []
    start = threading.Barrier(threads)

    def run(j: int) -> None:
        start.wait()
        for _ in range(calls):
            if not work(j):
                errors.append(j)

    ts = [threading.Thread(target=run, args=(j,)) for j in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors
