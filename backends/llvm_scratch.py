"""Scratch memory of llvm array kernels: one block per kernel for all its temporaries, kept
across calls (the IR of the block's check-out and the Python owner of the block).

backends.llvm_array_ir renders a kernel's loops into `@sn_body`, whose temporaries (arrays the
plan materialises with np.empty) arrive as pointer arguments; this module lays them out in one
block (offsets fixed at compile time: shapes are static, every temporary is allocated once per
call) and writes `@run`, which checks the kernel's block out of its slot, calls the body and
parks the block again. Text and ctypes only; never imports llvmlite.

Why: a kernel that malloc'd and freed 800 KB of temporaries per call had glibc trim or unmap
them after each call, so every call faulted them in again (~350 minor page faults per call of
the n = 10⁵ cummax gradient, 2.2x its time). The block is checked out with one atomic exchange
of the slot (NULL while in use): a call that finds the slot empty — another thread is inside
the kernel (the ctypes and batched entries run without the GIL, numba-style callers may too) —
allocates its own block and, on the way out, parks it if the slot is still empty or frees it.
So two concurrent calls never share memory, and a child process after fork inherits the slot
and the block (or an empty slot if a thread held the block: it allocates one). The slot is a
ctypes word owned by the kernel object (linked as the external global @sn_arena, so object code
stays cacheable across processes); a finaliser frees the parked block when the kernel goes.

Aliasing: the body is a separate, never-inlined function taking the temporaries as arguments;
each (but a loop's ping-pong buffers) is passed through `sn_take` at its entry and `sn_give` at
its exit, declared as an allocator pair (allockind), so LLVM knows what it knew of malloc/free:
a temporary aliases nothing else and its contents die at the end (dead stores into it go).
Ping-pong buffers are plain arguments (LLVM must not prove a swapped pair apart, see
Buffers.temporary).
"""

from __future__ import annotations

import ctypes
import math
import weakref

import numpy as np

ELEM = {"float64": "double", "int64": "i64", "int32": "i32", "bool": "i8"}
# offsets of the temporaries in the block: a cache line apart (the vectoriser's loads and
# stores of one array never share a line with another's)
ALIGN = 64


def _round(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


class ScratchLayout:
    """The temporaries of one kernel in one block: `add` gives each its body argument."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, int, bool]] = []  # (argument, offset, noalias)
        self.size = 0

    def add(self, nbytes: int, noalias: bool = True) -> str:
        """A temporary of `nbytes` bytes; `noalias=False` for a loop's ping-pong buffers."""
        arg = f"%sc{len(self.entries)}"
        self.entries.append((arg, self.size, noalias))
        self.size += _round(max(1, nbytes))
        return arg

    def params(self) -> str:
        return "".join(f", i8*{' noalias' if na else ''} {a}" for a, _, na in self.entries)

    def run_ir(self) -> list[str]:
        """`@run(p)`: check the block out of @sn_arena (or allocate one), call `@sn_body(p,
        temporaries…)`, park the block again (or free it when another call parked one)."""
        args = "".join(f", i8* %at{k}" for k in range(len(self.entries)))
        geps = [f"  %at{k} = getelementptr inbounds i8, i8* %blk, i64 {off}"
                for k, (_, off, _) in enumerate(self.entries)]
        return ["define void @run(i8** noalias %p) {", "entry:",
                "  %held = atomicrmw xchg i8** @sn_arena, i8* null acquire",
                "  %have = icmp ne i8* %held, null",
                "  br i1 %have, label %go, label %fresh",
                "fresh:",
                f"  %new = call i8* @aligned_alloc(i64 {ALIGN}, i64 {self.size})",
                "  br label %go",
                "go:",
                "  %blk = phi i8* [ %held, %entry ], [ %new, %fresh ]",
                *geps,
                f"  call void @sn_body(i8** %p{args})",
                "  %back = cmpxchg i8** @sn_arena, i8* null, i8* %blk release monotonic",
                "  %parked = extractvalue { i8*, i1 } %back, 1",
                "  br i1 %parked, label %done, label %drop",
                "drop:",
                "  call void @free(i8* %blk)",
                "  br label %done",
                "done:",
                "  ret void", "}"]

    @staticmethod
    def declarations() -> list[str]:
        return ["@sn_arena = external global i8*", "declare i8* @aligned_alloc(i64, i64)",
                "declare void @free(i8*)"]


class Arr:
    """An array of the renderer: its data pointer (`ptr`), static shape and dtype."""

    __slots__ = ("ptr", "shape", "dtype", "slot")

    def __init__(self, ptr: str, shape: tuple, dtype: str, slot: str | None = None):
        self.ptr, self.shape, self.dtype = ptr, tuple(shape), dtype
        self.slot = slot  # an alloca holding the pointer: arrays a loop swaps (`a, b = b, a`)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


class Buffers:
    """A mixin of backends.llvm_array_ir.IRRenderer (its arrays, emitter and loop depth):
    where the renderer's arrays live: the caller's output buffers, or temporaries — in the
    kernel's scratch block (`arena`, the default), or malloc'd and freed per call
    (arena=False, the renderer before the block; kept to measure against)."""

    def init_buffers(self, arena: bool) -> None:
        self.scratch = ScratchLayout() if arena else None
        self.frees: list[str] = []  # malloc'd temporaries (arena=False)

    def new_array(self, name: str, shape: tuple, dt: str) -> None:
        E = ELEM[dt]
        k = self.out_bind.get(name)
        if k is not None and self.fn.flat_outputs[k].dtype == dt:
            raw = self.out_ptrs[k]
            self.inplace[name] = k
        else:
            nbytes = np.dtype(dt).itemsize * math.prod(shape)
            raw = self.temporary(max(1, nbytes), name in self.swapped)
        ptr = self.fresh("ap")
        at = self.allocas if self.depth and k is None else None
        self.emit(f"{ptr} = bitcast i8* {raw} to {E}*", at)
        if name in self.swapped:
            slot = f"%slot.{name}"
            if name not in self.arrays:
                self.allocas.append(f"{slot} = alloca {E}*")
            self.emit(f"store {E}* {ptr}, {E}** {slot}", at)
            self.arrays[name] = Arr(ptr, shape, dt, slot)
            return
        self.arrays[name] = Arr(ptr, shape, dt)

    def temporary(self, nbytes: int, swapped: bool) -> str:
        """The i8* of a new temporary (one per np.empty of the plan, also inside loops: a loop
        body's buffer is allocated once per call, not per iteration)."""
        # a loop's ping-pong buffers must not be known apart: LLVM, proving the swapped pair
        # distinct (two mallocs, two noalias arguments), turns a stencil's neighbouring loads
        # into a recurrence across iterations that the vectoriser realises with permutes
        # (heat loop 1.2-1.7x a hand numba loop; 1.0x without)
        if self.scratch is not None:
            arg = self.scratch.add(nbytes, noalias=not swapped)
            if swapped:
                return arg
            # taken and given back through allocator-kind calls (see RUNTIME): LLVM treats the
            # temporary as a fresh allocation that dies at the end, as it did malloc/free —
            # stores nothing reads before the end go (a loop's carry table its linear adjoint
            # never reads: 16 MB of stores per call of the heat gradient, 2.2x its time)
            raw = self.fresh("tk")
            self.allocas.append(f"{raw} = call i8* @sn_take(i8* {arg})")
            self.frees.append(raw)
            return raw
        raw = self.fresh("mal")
        # inside a loop: allocated once, on entry; ping-pong buffers from malloc under another
        # name (sn_malloc), which LLVM does not know returns fresh memory
        self.emit(f"{raw} = call i8* @{'sn_malloc' if swapped else 'malloc'}(i64 {nbytes})",
                  self.allocas if self.depth else None)
        self.frees.append(raw)
        return raw

    def free_temporaries(self) -> None:
        give = "sn_give" if self.scratch is not None else "free"
        for f in self.frees:
            self.emit(f"call void @{give}(i8* {f})")

    def buffer_globals(self) -> list[str]:
        out = []
        if self.scratch is None and self.frees:
            out += ["declare i8* @malloc(i64)", "declare void @free(i8*)"]
            if self.swapped:
                out.append("declare i8* @sn_malloc(i64)")
        if self.scratch is not None and self.scratch.entries:
            out += self.scratch.declarations()
        if self.scratch is not None and self.frees:
            out += TAKE_GIVE
        return out

    def entry_points(self, body: list[str]) -> list[str]:
        """The functions: `@run(p)` (with its temporaries in the scratch block: `@sn_body`
        behind the block's check-out), `@kernel(x, out)` and `@table(p)` calling it."""
        if self.scratch is not None and self.scratch.entries:
            # never inlined into @run: its temporaries stay noalias arguments, known apart
            head = [f"define void @sn_body(i8** noalias %p{self.scratch.params()}) noinline {{",
                    "entry:", *body, "}", "", *self.scratch.run_ir()]
        else:
            head = ["define void @run(i8** noalias %p) {", "entry:", *body, "}"]
        return [*head, "",
                "define void @kernel(i8* %x, i8* %o) {", "entry:",
                "  %t = alloca [2 x i8*]",
                "  %t0 = getelementptr [2 x i8*], [2 x i8*]* %t, i64 0, i64 0",
                "  store i8* %x, i8** %t0",
                "  %t1 = getelementptr [2 x i8*], [2 x i8*]* %t, i64 0, i64 1",
                "  store i8* %o, i8** %t1",
                "  call void @run(i8** %t0)", "  ret void", "}", "",
                "define void @table(i8* %x, i8* %o) {", "entry:",
                "  %t = bitcast i8* %x to i8**", "  call void @run(i8** %t)",
                "  ret void", "}", ""]


# the allocator-kind pair of the temporaries: `sn_take(p)` returns p, `sn_give(p)` does nothing
# (RUNTIME, linked in once per process); their attributes tell LLVM what malloc/free told it —
# the result aliases nothing else, its contents are undefined until written and dead at give —
# while neither touches memory LLVM can see
TAKE_GIVE = [
    'declare noalias i8* @sn_take(i8*) nounwind willreturn memory(inaccessiblemem: readwrite) '
    'allockind("alloc,uninitialized") "alloc-family"="sn_scratch"',
    'declare void @sn_give(i8* allocptr) nounwind willreturn memory(inaccessiblemem: readwrite) '
    'allockind("free") "alloc-family"="sn_scratch"']
RUNTIME = """define i8* @sn_take(i8* %p) {
  ret i8* %p
}
define void @sn_give(i8* %p) {
  ret void
}
"""

_FREE: list = []


def _libc_free() -> ctypes._CFuncPtr:
    if not _FREE:
        f = ctypes.CDLL(None).free
        f.argtypes, f.restype = [ctypes.c_void_p], None
        _FREE.append(f)
    return _FREE[0]


def _release(slot: ctypes.c_void_p) -> None:
    """Free the block parked in `slot` (the kernel is gone: no call can hold or park one)."""
    if slot.value:
        _libc_free()(slot.value)
        slot.value = None


class Arena:
    """The slot of one kernel's scratch block (`size` bytes): `address` is linked as the
    kernel's @sn_arena; the block is allocated by the first call and freed with this object."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.slot = ctypes.c_void_p(None)  # the parked block; NULL before the first call
        self.address = ctypes.addressof(self.slot)
        self.finalizer = weakref.finalize(self, _release, self.slot)

    @property
    def parked(self) -> int | None:
        """The address of the parked block (None before the first call or while a call holds
        it)."""
        return self.slot.value

    def __repr__(self) -> str:
        return f"<Arena {self.size} bytes, {'parked' if self.parked else 'empty'}>"
