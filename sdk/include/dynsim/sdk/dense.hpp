// Dense LU and triangular solves whose flops run in blas::gemm. Both recurse by halving: each
// level works on two half-size problems and moves the coupling block through one product, so at
// N = 784 most of the work runs in large products (oneDNN's matmul in f32), where a direct
// triangular solve or LU (Eigen's, or OpenBLAS's strsm/sgetrf) runs near half that rate
// (bench/optimizer_step_profile, docs/RESULTS.md).
#pragma once

#include <Eigen/Core>
#include <algorithm>

#include "dynsim/sdk/blas.hpp"
#include "dynsim/sdk/types.hpp"

namespace dynsim {

// P A = L U in place, with partial pivoting (L unit lower, U upper, both in A): piv[i] is the
// row that row i was swapped with, 0-based and applied in order (LAPACK's convention). A is
// m x n with m >= n; panels of at most `leaf` columns go to LAPACK's getrf. Returns false when a
// pivot is exactly zero (A singular; the factors are then not usable for solves).
bool lu_in_place(MatrixRef<float> a, int* piv, Index leaf = 32);
bool lu_in_place(MatrixRef<double> a, int* piv, Index leaf = 32);

// B <- B op(T)^-1 for a triangular T, in place.
// Mode: Eigen::Upper, Eigen::UnitUpper, Eigen::Lower or Eigen::UnitLower, as T is stored;
// Trans: solve with T^T instead of T. Blocks of at most `leaf` columns go to Eigen's solver.
template <class S, int Mode, bool Trans>
void solve_right_in_place(ConstMatrixRef<S> t, MatrixRef<S> b, Index leaf = 64) {
  const Index n = t.rows();
  eigen_assert(t.cols() == n && b.cols() == n);
  if (n <= std::max<Index>(leaf, 1)) {
    if constexpr (Trans)  // T^T's triangle is the other one (Lower = 1 and Upper = 2 swap)
      t.transpose().template triangularView<(Mode ^ 3)>().template solveInPlace<Eigen::OnTheRight>(
          b);
    else
      t.template triangularView<Mode>().template solveInPlace<Eigen::OnTheRight>(b);
    return;
  }
  using blas::Op;
  const Index h = n / 2, r = n - h;
  const auto t11 = t.topLeftCorner(h, h), t22 = t.bottomRightCorner(r, r);
  auto b1 = b.leftCols(h);
  auto b2 = b.rightCols(r);
  // E = op(T) is upper triangular when T is upper and not transposed, or lower and transposed.
  constexpr bool upper = ((Mode & Eigen::Upper) == Eigen::Upper) != Trans;
  if constexpr (upper) {
    // [X1 X2] [E11 E12; 0 E22] = [B1 B2]: X1 = B1 E11^-1, then X2 = (B2 - X1 E12) E22^-1.
    solve_right_in_place<S, Mode, Trans>(t11, b1, leaf);
    if constexpr (Trans)  // E12 = T21^T
      blas::gemm<S>(Op::n, Op::t, S(-1), b1, t.bottomLeftCorner(r, h), S(1), b2);
    else
      blas::gemm<S>(Op::n, Op::n, S(-1), b1, t.topRightCorner(h, r), S(1), b2);
    solve_right_in_place<S, Mode, Trans>(t22, b2, leaf);
  } else {
    // [X1 X2] [E11 0; E21 E22] = [B1 B2]: X2 = B2 E22^-1, then X1 = (B1 - X2 E21) E11^-1.
    solve_right_in_place<S, Mode, Trans>(t22, b2, leaf);
    if constexpr (Trans)  // E21 = T12^T
      blas::gemm<S>(Op::n, Op::t, S(-1), b2, t.topRightCorner(h, r), S(1), b1);
    else
      blas::gemm<S>(Op::n, Op::n, S(-1), b2, t.bottomLeftCorner(r, h), S(1), b1);
    solve_right_in_place<S, Mode, Trans>(t11, b1, leaf);
  }
}

}  // namespace dynsim
