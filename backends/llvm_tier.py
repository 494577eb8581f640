"""Tiered compiles for the llvm backend: a quick object now, the optimised one swapped in later.

LLVM's code generator at `opt=1` takes 11-20 ms for ~200 operations, at `opt=0` 3-5 ms for code
that runs 6-10 % slower (~1.5x for re-rolled kernels, whose IR passes the quick build skips;
benchmarks/results_issue16.md §5). A tiered compile links the `opt=0`
object at once and compiles the `opt=1` object on one background thread; the quick object's
exported `kernel` and `batched` are two-instruction stubs that jump through a pointer slot
(`quick_ir`), so the swap is one aligned 8-byte store and every address handed out before
(trampolines, interop, native dispatch tables) stays valid and turns fast. The quick machine
code is never freed while the library lives (a caller may still be inside it) and never
written to the disk cache: only the optimised object is, under its own key.

Sits beside `symnum.backends.llvm_backend`, which calls it with its own compile and link
functions; it never imports llvm_backend (no circle) and imports llvmlite only to emit code
without llvmlite's process-wide lock (`emit_object_unlocked`).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

# kernels with fewer scheduled statements compile at opt=1 in ≤ ~3 ms: a second compile and a
# thread switch would cost more than they save, so they are compiled once, optimised
TIER_MIN = 64
# a batched call over at least this many rows × statements (~0.1 s of work) first waits for a
# pending upgrade (≤ one opt=1 compile): the quick code would cost more than the wait
WAIT_WORK = 100_000_000
KERNEL_SLOT, BATCHED_SLOT = "symnum_tier_kernel", "symnum_tier_batched"

# the worker waits this long for more work before it ends (a burst of compiles then pays
# for one thread start, not one each)
IDLE_S = 2.0

_LOCK = threading.Lock()
_WAKE = threading.Condition(_LOCK)
_QUEUE: deque[Upgrade] = deque()
_STATE: dict[str, Any] = {"worker": None, "stopping": False}
_PENDING: dict[str, Upgrade] = {}  # object key → its upgrade, while in flight


def wanted(tier: bool | None, opt: int, statements: int) -> bool:
    """Whether a cold compile is tiered: `tier=True` always (at opt ≥ 1), False never; by
    default from TIER_MIN statements on, unless the environment sets SYMNUM_LLVM_TIER=0
    (benchmarks that time kernels right after compiling them, reproducible builds)."""
    if opt < 1 or tier is False:
        return False
    if tier:
        return True
    return statements >= TIER_MIN and os.environ.get("SYMNUM_LLVM_TIER", "1") != "0"


def quick_ir(text: str, T: str) -> str:  # noqa: N803  (T: the element type, as in llvm_ir)
    """The module with `kernel`/`batched` renamed and stubs in their place that call through
    two exported pointer slots (initially the renamed bodies of this very module).

    >>> ir = "define void @kernel(double* %x, double* %out) {\\n  ret void\\n}\\n"
    >>> q = quick_ir(ir, "double")
    >>> "define void @tier.kernel(" in q and "@symnum_tier_kernel = " in q
    True
    """
    text = re.sub(r"@(kernel|batched)\(", r"@tier.\1(", text)
    k_ty, b_ty = f"void ({T}*, {T}*)", f"void ({T}*, {T}*, i64)"
    return text + "\n".join([
        "",
        f"@{KERNEL_SLOT} = global {k_ty}* @tier.kernel, align 8",
        f"@{BATCHED_SLOT} = global {b_ty}* @tier.batched, align 8",
        f"define void @kernel({T}* %x, {T}* %out) nounwind {{",
        f"  %f = load atomic {k_ty}*, {k_ty}** @{KERNEL_SLOT} monotonic, align 8",
        f"  tail call void %f({T}* %x, {T}* %out)",
        "  ret void",
        "}",
        f"define void @batched({T}* %X, {T}* %O, i64 %rows) nounwind {{",
        f"  %f = load atomic {b_ty}*, {b_ty}** @{BATCHED_SLOT} monotonic, align 8",
        f"  tail call void %f({T}* %X, {T}* %O, i64 %rows)",
        "  ret void",
        "}",
        "",
    ])


def emit_object_unlocked(tm: Any, module: Any) -> bytes:
    """`tm.emit_object(module)` without holding llvmlite's process-wide lock (llvmlite wraps
    every call into libLLVM in one lock, so a 15 ms background code generation would stall
    every foreground compile). Safe because the module lives in its own LLVMContext and `tm`
    is used by this thread only: llvmlite's lock exists because its API assumed one global
    context (numba/llvmlite#318, which names per-thread contexts as the alternative), and
    LLVM compiles concurrently in separate contexts (one context per JIT thread is how other
    JITs compile in parallel). Falls back to the locked call where llvmlite's internals
    differ."""
    from llvmlite.binding import ffi

    raw = getattr(ffi.lib.LLVMPY_TargetMachineEmitToMemory, "_cfn", None)
    if raw is None or not hasattr(ffi, "OutputString"):
        return tm.emit_object(module)
    with ffi.OutputString() as err:
        buf = raw(tm, module, 1, err)
        if not buf:
            raise RuntimeError(str(err))
    try:
        return ctypes.string_at(ffi.lib.LLVMPY_GetBufferStart(buf),
                                ffi.lib.LLVMPY_GetBufferSize(buf))
    finally:
        ffi.lib.LLVMPY_DisposeMemoryBuffer(buf)


class Upgrade:
    """The optimised object of one tiered compile: queued, compiled on the worker thread,
    linked and swapped into the quick library's slots. `wait()` blocks until then; `error`
    says why it failed (the quick code then stays, correct but slower)."""

    def __init__(self, key: str, build: Callable[[], Any], slots: tuple[int, int],
                 quick: Any):
        self.key, self.build, self.slots, self.quick = key, build, slots, quick
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.obj: bytes | None = None  # the optimised object code, once built
        self.seconds = 0.0  # the background compile's wall time
        self._then: list[Callable[[Upgrade], None]] = []

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the optimised code is in place (or failed); whether it finished."""
        return self.done.wait(timeout)

    def then(self, fn: Callable[[Upgrade], None]) -> None:
        """Run `fn(self)` once the optimised object exists (now, if it already does); not at
        all if the upgrade failed."""
        with _LOCK:
            if not self.done.is_set():
                self._then.append(fn)
                return
        if self.error is None:
            fn(self)

    def _run(self) -> None:
        t0 = time.perf_counter()
        try:
            obj, library = self.build()  # compile + link (the caller's functions)
            self.quick.upgraded = library  # keeps the optimised code alive with the quick one
            ctypes.c_void_p.from_address(self.slots[0]).value = library.kernel
            ctypes.c_void_p.from_address(self.slots[1]).value = library.batched
            self.obj = obj
        except BaseException as e:  # noqa: BLE001  (the quick code stays; recorded)
            self.error = e
        self.build = None  # the IR text it closed over
        self.seconds = time.perf_counter() - t0
        while True:  # the follow-ups (cache and index writes) before `done`: a waiter then
            with _LOCK:  # finds them on disk
                then, self._then = self._then, []
                if not then or self.error is not None:
                    _PENDING.pop(self.key, None)
                    self.done.set()
                    return
            for fn in then:
                try:
                    fn(self)
                except Exception:  # noqa: BLE001  (a cache write that fails is a slow cache)
                    pass


def submit(key: str, build: Callable[[], Any], slots: tuple[int, int], quick: Any) -> Upgrade:
    """Queue the optimised compile of a quick library; the worker thread starts on demand and
    ends after IDLE_S seconds without work."""
    up = Upgrade(key, build, slots, quick)
    with _LOCK:
        _PENDING[key] = up
        _QUEUE.append(up)
        _WAKE.notify()
        worker = _STATE["worker"]
        if worker is None or not worker.is_alive():
            worker = _STATE["worker"] = threading.Thread(
                target=_work, name="symnum-llvm-tier", daemon=True)
            worker.start()
    return up


def pending(key: str) -> Upgrade | None:
    """The upgrade in flight for this object key, if any (a second compile of the same
    kernel waits for it instead of compiling it again)."""
    with _LOCK:
        return _PENDING.get(key)


def _work() -> None:
    while True:
        with _LOCK:
            if not _QUEUE and not _STATE["stopping"]:
                _WAKE.wait(IDLE_S)
            if not _QUEUE or _STATE["stopping"]:
                _STATE["worker"] = None  # a later submit starts another
                return
            up = _QUEUE.popleft()
        up._run()


@atexit.register
def _stop() -> None:
    """At exit: drop the queued upgrades and wait for the one in progress (LLVM must not be
    torn down under a running code generator)."""
    with _LOCK:
        _STATE["stopping"] = True
        _WAKE.notify_all()
        worker = _STATE["worker"]
        dropped = list(_QUEUE)
        _QUEUE.clear()
    for up in dropped:
        up.error = RuntimeError("interpreter exiting")
        up.done.set()
    if worker is not None:
        worker.join(timeout=10.0)


def _after_fork_in_child() -> None:
    """The worker thread does not exist in a forked child: its unfinished upgrades fail there
    (their quick code stays) instead of being waited on for ever."""
    global _WAKE
    _LOCK._at_fork_reinit()  # type: ignore[attr-defined]  # held by no thread in the child
    _WAKE = threading.Condition(_LOCK)  # its waiters were the parent's threads
    ups = list(_PENDING.values())
    _PENDING.clear()
    _QUEUE.clear()
    _STATE["worker"] = None
    for up in ups:
        up.error = RuntimeError("forked while the optimised compile was pending")
        up.done.set()


if hasattr(os, "register_at_fork"):
    # finish the compile in flight first: a child forked in the middle of LLVM's code
    # generator (or holding llvmlite's lock) would deadlock in its first compile
    os.register_at_fork(before=lambda: drain(10.0), after_in_child=_after_fork_in_child)


def drain(timeout: float | None = None) -> bool:
    """Wait until every queued upgrade has finished; whether they all did in time (for
    benchmarks and tests that must not measure a neighbour's background compile)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _LOCK:
            ups = list(_PENDING.values())
        if not ups:
            return True
        for up in ups:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not up.wait(left):
                return False
