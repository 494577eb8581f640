"""Calls out of the llvm array loops: BLAS's dgemm for large matrix products, and libmvec's
vector variants of libm functions for the loop vectoriser (vecmath).

A mixin of backends.llvm_array_ir.IRRenderer (it uses the renderer's arrays, statements and
declarations); text only, never imports llvmlite.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from symnum.errors import CompileError

# multiply-adds from which a matrix product calls BLAS's dgemm, and a matrix-vector product
# BLAS's dgemv (the loops below it). A loop's dot product is a floating-point reduction LLVM
# will not vectorise without reassociation: the 10,000 × 100 logistic loss ran 3.7x numpy's
# time with its gemv as a loop, against BLAS's vectorised (and threaded) dgemv.
GEMM_WORK = 1 << 15
GEMV_WORK = 1 << 15
# a scalar libm call as _Body emits it: an LLVM intrinsic (llvm.exp.f64) or a libm symbol
_LIBM_CALL = re.compile(r"@(?:llvm\.(\w+)\.f64|(\w+))\(")


class CallsOut:
    """dot/dgemm and vector_variants for IRRenderer."""

    def vector_variants(self, mark: int, arity: int) -> None:
        """vecmath: the libm call just emitted (an intrinsic such as llvm.exp.f64 too) becomes
        a call to `sn_v_exp` — libm's exp under a name LLVM does not know, so that it is not
        turned back into an intrinsic the code generator would split into scalar calls —
        declared without memory effects (errno is never read) and marked with its libmvec
        variants (the vector function ABI), kept alive through @llvm.compiler.used (the
        pipeline drops unused declarations before the vectoriser runs); LLVM's loop
        vectoriser then calls `_ZGVdN4v_exp` on 4 elements at once."""
        for j in range(mark, len(self.lines)):
            m = _LIBM_CALL.search(self.lines[j])
            if m is None:
                continue
            fname = m.group(1) or m.group(2)
            decl = ", ".join(["double"] * arity)
            if fname not in self.attrs:
                self.attrs[fname] = len(self.attrs) + 1
                variants = []
                for isa, lanes in self.vector_isas:
                    vname = f"_ZGV{isa}N{lanes}{'v' * arity}_{fname}"
                    vt = f"<{lanes} x double>"
                    self.decls.add(f"declare {vt} @{vname}({', '.join([vt] * arity)})")
                    self.used.append(f"i8* bitcast ({vt} ({', '.join([vt] * arity)})* "
                                     f"@{vname} to i8*)")
                    variants.append(f"_ZGV_LLVM_N{lanes}{'v' * arity}_sn_v_{fname}({vname})")
                self.attr_lines.append(f'attributes #{self.attrs[fname]} = {{ '
                                       f'"vector-function-abi-variant"="{",".join(variants)}" }}')
                self.decls.add(f"declare double @sn_v_{fname}({decl}) #0")
            line = self.lines[j].replace(m.group(0), f"@sn_v_{fname}(")
            self.lines[j] = f"{line} #{self.attrs[fname]}"

    def dot(self, name: str, a: str, b: str, ta: bool = False, tb: bool = False) -> None:
        """np.dot of 2-D/1-D float64 arrays, either operand possibly transposed (`ta`, `tb`):
        BLAS above a size, else loops (row-major: i, k, j order for matrices, which LLVM
        vectorises over j)."""
        A, B = self.arrays[a], self.arrays[b]
        if A.dtype != "float64" or B.dtype != "float64":
            raise CompileError("the llvm array loops contract float64 arrays only")
        sa = A.shape[::-1] if ta else A.shape
        sb = B.shape[::-1] if tb else B.shape
        shape = sa[:-1] + sb[1:]
        if shape:
            self.new_array(name, shape, "float64")
        if len(sa) == len(sb) == 2 and sa[0] * sa[1] * sb[1] >= GEMM_WORK:
            self.dgemm(A, B, self.arrays[name], ta, tb)
            return
        matrix = A if len(A.shape) == 2 else B
        if {len(sa), len(sb)} == {1, 2} and matrix.shape[0] * matrix.shape[1] >= GEMV_WORK:
            self.dgemv(A, B, self.arrays[name], ta, tb)
            return
        for s in ast.parse(_dot_source(sa, sb, a, b, name, ta, tb)).body:
            self.stmt(s)

    def dgemm(self, A: Any, B: Any, C: Any, ta: bool = False, tb: bool = False) -> None:
        """C = op(A) @ op(B) (row-major; op a transpose where `ta`/`tb`) through BLAS's dgemm
        (scipy.linalg.cython_blas's, linked as @sn_dgemm). A row-major matrix is its
        column-major transpose, so Cᵀ = op(B)ᵀ op(A)ᵀ: dgemm(tb ? 'T' : 'N', ta ? 'T' : 'N',
        n, m, k, 1, B, ldb, A, lda, 0, C, n)."""
        m, k = A.shape[::-1] if ta else A.shape
        n = B.shape[0] if tb else B.shape[1]
        lda, ldb = A.shape[1], B.shape[1]
        self.decls.add("declare void @sn_dgemm(i8*, i8*, i32*, i32*, i32*, double*, double*, "
                       "i32*, double*, i32*, double*, double*, i32*)")
        ints = self._blas_ints({m, n, k, lda, ldb})
        fa, fb, one, zero = (self.fresh("bt"), self.fresh("bt"), self.fresh("bd"),
                             self.fresh("bd"))
        self.allocas += [f"{fa} = alloca i8", f"{fb} = alloca i8", f"{one} = alloca double",
                         f"{zero} = alloca double"]
        self.emit(f"store i8 {ord('T' if ta else 'N')}, i8* {fa}")
        self.emit(f"store i8 {ord('T' if tb else 'N')}, i8* {fb}")
        self.emit(f"store double 1.0, double* {one}")
        self.emit(f"store double 0.0, double* {zero}")
        pa, pb, pc = self.base(A), self.base(B), self.base(C)
        self.emit(f"call void @sn_dgemm(i8* {fb}, i8* {fa}, i32* {ints[n]}, i32* {ints[m]}, "
                  f"i32* {ints[k]}, double* {one}, double* {pb}, i32* {ints[ldb]}, "
                  f"double* {pa}, i32* {ints[lda]}, double* {zero}, double* {pc}, "
                  f"i32* {ints[n]})")

    def _blas_ints(self, values: set) -> dict:
        ints = {}
        for v in sorted(values):
            ptr = self.fresh("bi")
            self.allocas.append(f"{ptr} = alloca i32")
            self.emit(f"store i32 {v}, i32* {ptr}")
            ints[v] = ptr
        return ints

    def dgemv(self, A: Any, B: Any, C: Any, ta: bool = False, tb: bool = False) -> None:
        """op(A) @ x or x @ op(B) through BLAS's dgemv (scipy.linalg.cython_blas's, linked as
        @sn_dgemv). A row-major matrix M (r×c) is the column-major S = Mᵀ (c×r, ld c):
        M @ x is dgemv('T', c, r, 1, M, c, x, 1, 0, y, 1), Mᵀ @ x is the same with 'N', and
        x @ M = Mᵀ @ x."""
        self.decls.add("declare void @sn_dgemv(i8*, i32*, i32*, double*, double*, i32*, "
                       "double*, i32*, double*, double*, i32*)")
        if len(A.shape) == 2:  # matrix @ vector
            mat, vec, trans = A, B, "N" if ta else "T"
        else:  # vector @ matrix
            mat, vec, trans = B, A, "T" if tb else "N"
        rows, cols, lda = mat.shape[1], mat.shape[0], mat.shape[1]
        ints = self._blas_ints({rows, cols, lda, 1})
        tr, one, zero = self.fresh("bt"), self.fresh("bd"), self.fresh("bd")
        self.allocas += [f"{tr} = alloca i8", f"{one} = alloca double", f"{zero} = alloca double"]
        self.emit(f"store i8 {ord(trans)}, i8* {tr}")
        self.emit(f"store double 1.0, double* {one}")
        self.emit(f"store double 0.0, double* {zero}")
        pm, pv, pc = self.base(mat), self.base(vec), self.base(C)
        self.emit(f"call void @sn_dgemv(i8* {tr}, i32* {ints[rows]}, i32* {ints[cols]}, "
                  f"double* {one}, double* {pm}, i32* {ints[lda]}, double* {pv}, "
                  f"i32* {ints[1]}, double* {zero}, double* {pc}, i32* {ints[1]})")


def _dot_source(sa: tuple, sb: tuple, a: str, b: str, c: str, ta: bool = False,
                tb: bool = False) -> str:
    """np.dot as the plan's loop subset (contraction over op(A)'s last and op(B)'s first axis;
    `sa`, `sb` the shapes of op(A), op(B); a transposed operand is read with swapped indices,
    each operand by its own accessor: `np.dot(a, a.T)` names one array twice)."""
    def A(i: str, k: str) -> str:
        return f"{a}[{k}, {i}]" if ta else f"{a}[{i}, {k}]"

    def B(k: str, j: str) -> str:
        return f"{b}[{j}, {k}]" if tb else f"{b}[{k}, {j}]"

    if len(sa) == 2 and len(sb) == 2:
        m, k, n = sa[0], sa[1], sb[1]
        return (f"{c}[...] = 0.0\nfor _i in range({m}):\n    for _k in range({k}):\n"
                f"        _a = {A('_i', '_k')}\n        for _j in range({n}):\n"
                f"            {c}[_i, _j] += _a * {B('_k', '_j')}\n")
    if len(sa) == 2 and len(sb) == 1:
        m, k = sa
        return (f"for _i in range({m}):\n    _s = 0.0\n    for _k in range({k}):\n"
                f"        _s += {A('_i', '_k')} * {b}[_k]\n    {c}[_i] = _s\n")
    if len(sa) == 1 and len(sb) == 2:
        k, n = sb
        return (f"{c}[...] = 0.0\nfor _k in range({k}):\n    _a = {a}[_k]\n"
                f"    for _j in range({n}):\n        {c}[_j] += _a * {B('_k', '_j')}\n")
    return f"_s = 0.0\nfor _k in range({sa[0]}):\n    _s += {a}[_k] * {b}[_k]\n{c} = _s\n"
