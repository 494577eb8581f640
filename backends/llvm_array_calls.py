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

    def dot(self, name: str, a: str, b: str) -> None:
        """np.dot of 2-D/1-D float64 arrays as loops (row-major: i, k, j order for matrices,
        which LLVM vectorises over j)."""
        A, B = self.arrays[a], self.arrays[b]
        if A.dtype != "float64" or B.dtype != "float64":
            raise CompileError("the llvm array loops contract float64 arrays only")
        shape = A.shape[:-1] + B.shape[1:]
        if shape:
            self.new_array(name, shape, "float64")
        if len(A.shape) == len(B.shape) == 2 and \
                A.shape[0] * A.shape[1] * B.shape[1] >= GEMM_WORK:
            self.dgemm(A, B, self.arrays[name])
            return
        matrix = A if len(A.shape) == 2 else B
        if {len(A.shape), len(B.shape)} == {1, 2} and matrix.shape[0] * matrix.shape[1] >= \
                GEMV_WORK:
            self.dgemv(A, B, self.arrays[name])
            return
        for s in ast.parse(_dot_source(A.shape, B.shape, a, b, name)).body:
            self.stmt(s)

    def dgemm(self, A: Any, B: Any, C: Any) -> None:
        """C = A @ B (row-major) through BLAS's dgemm (scipy.linalg.cython_blas's, linked as
        @sn_dgemm): column-major Cᵀ = Bᵀ Aᵀ, i.e. dgemm('N', 'N', n, m, k, 1, B, n, A, k,
        0, C, n)."""
        (m, k), n = A.shape, B.shape[1]
        self.decls.add("declare void @sn_dgemm(i8*, i8*, i32*, i32*, i32*, double*, double*, "
                       "i32*, double*, i32*, double*, double*, i32*)")
        ints = {}
        for v in sorted({m, n, k}):
            ptr = self.fresh("bi")
            self.allocas.append(f"{ptr} = alloca i32")
            self.emit(f"store i32 {v}, i32* {ptr}")
            ints[v] = ptr
        tr, one, zero = self.fresh("bt"), self.fresh("bd"), self.fresh("bd")
        self.allocas += [f"{tr} = alloca i8", f"{one} = alloca double", f"{zero} = alloca double"]
        self.emit(f"store i8 {ord('N')}, i8* {tr}")
        self.emit(f"store double 1.0, double* {one}")
        self.emit(f"store double 0.0, double* {zero}")
        self.emit(f"call void @sn_dgemm(i8* {tr}, i8* {tr}, i32* {ints[n]}, i32* {ints[m]}, "
                  f"i32* {ints[k]}, double* {one}, double* {B.ptr}, i32* {ints[n]}, "
                  f"double* {A.ptr}, i32* {ints[k]}, double* {zero}, double* {C.ptr}, "
                  f"i32* {ints[n]})")


    def _blas_ints(self, values: set) -> dict:
        ints = {}
        for v in sorted(values):
            ptr = self.fresh("bi")
            self.allocas.append(f"{ptr} = alloca i32")
            self.emit(f"store i32 {v}, i32* {ptr}")
            ints[v] = ptr
        return ints

    def dgemv(self, A: Any, B: Any, C: Any) -> None:
        """A @ x (A m×k) or x @ B (B k×n) through BLAS's dgemv (scipy.linalg.cython_blas's,
        linked as @sn_dgemv). Row-major A is column-major Aᵀ (k×m, lda k): A @ x is
        dgemv('T', k, m, 1, A, k, x, 1, 0, y, 1); x @ B is dgemv('N', n, k, 1, B, n, x, 1, 0,
        y, 1)."""
        self.decls.add("declare void @sn_dgemv(i8*, i32*, i32*, double*, double*, i32*, "
                       "double*, i32*, double*, double*, i32*)")
        if len(A.shape) == 2:  # matrix @ vector
            (m, k), mat, vec, trans = A.shape, A, B, "T"
            rows, cols, lda = k, m, k
        else:  # vector @ matrix
            (k, n), mat, vec, trans = B.shape, B, A, "N"
            rows, cols, lda = n, k, n
        ints = self._blas_ints({rows, cols, lda, 1})
        tr, one, zero = self.fresh("bt"), self.fresh("bd"), self.fresh("bd")
        self.allocas += [f"{tr} = alloca i8", f"{one} = alloca double", f"{zero} = alloca double"]
        self.emit(f"store i8 {ord(trans)}, i8* {tr}")
        self.emit(f"store double 1.0, double* {one}")
        self.emit(f"store double 0.0, double* {zero}")
        self.emit(f"call void @sn_dgemv(i8* {tr}, i32* {ints[rows]}, i32* {ints[cols]}, "
                  f"double* {one}, double* {mat.ptr}, i32* {ints[lda]}, double* {vec.ptr}, "
                  f"i32* {ints[1]}, double* {zero}, double* {C.ptr}, i32* {ints[1]})")


def _dot_source(sa: tuple, sb: tuple, a: str, b: str, c: str) -> str:
    """np.dot as the plan's loop subset (contraction over A's last and B's first axis)."""
    if len(sa) == 2 and len(sb) == 2:
        m, k, n = sa[0], sa[1], sb[1]
        return (f"{c}[...] = 0.0\nfor _i in range({m}):\n    for _k in range({k}):\n"
                f"        _a = {a}[_i, _k]\n        for _j in range({n}):\n"
                f"            {c}[_i, _j] += _a * {b}[_k, _j]\n")
    if len(sa) == 2 and len(sb) == 1:
        m, k = sa
        return (f"for _i in range({m}):\n    _s = 0.0\n    for _k in range({k}):\n"
                f"        _s += {a}[_i, _k] * {b}[_k]\n    {c}[_i] = _s\n")
    if len(sa) == 1 and len(sb) == 2:
        k, n = sb
        return (f"{c}[...] = 0.0\nfor _k in range({k}):\n    _a = {a}[_k]\n"
                f"    for _j in range({n}):\n        {c}[_j] += _a * {b}[_k, _j]\n")
    return f"_s = 0.0\nfor _k in range({sa[0]}):\n    _s += {a}[_k] * {b}[_k]\n{c} = _s\n"
