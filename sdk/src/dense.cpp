// Recursive LU with partial pivoting (Toledo's halving): the left half of the columns is factored
// first, its row swaps applied to the right half, U12 solved for, the trailing block updated by
// one product through blas::gemm, and the trailing block factored the same way.
#include "dynsim/sdk/dense.hpp"

#include <utility>

extern "C" {
void sgetrf_(const int* m, const int* n, float* a, const int* lda, int* ipiv, int* info);
void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info);
}

namespace dynsim {

namespace {

void getrf(int m, int n, float* a, int lda, int* ipiv, int* info) {
  sgetrf_(&m, &n, a, &lda, ipiv, info);
}
void getrf(int m, int n, double* a, int lda, int* ipiv, int* info) {
  dgetrf_(&m, &n, a, &lda, ipiv, info);
}

// Rows i and piv[i] of b swapped for i in [0, k), in order.
template <class S>
void swap_rows(MatrixRef<S> b, const int* piv, Index k) {
  for (Index j = 0; j < b.cols(); ++j) {
    S* col = b.col(j).data();
    for (Index i = 0; i < k; ++i)
      if (piv[i] != i) std::swap(col[i], col[piv[i]]);
  }
}

template <class S>
bool lu(MatrixRef<S> a, int* piv, Index leaf) {
  const Index m = a.rows(), n = a.cols();
  if (n <= std::max<Index>(leaf, 1)) {
    int info = 0;
    getrf(static_cast<int>(m), static_cast<int>(n), a.data(),
          static_cast<int>(std::max<Index>(1, a.outerStride())), piv, &info);
    for (Index i = 0; i < n; ++i) --piv[i];  // LAPACK counts from 1
    return info == 0;
  }
  const Index h = n / 2, r = n - h;
  bool ok = lu<S>(a.leftCols(h), piv, leaf);
  auto right = a.rightCols(r);
  swap_rows<S>(right, piv, h);
  auto a12 = right.topRows(h);
  a.topLeftCorner(h, h).template triangularView<Eigen::UnitLower>().solveInPlace(a12);
  auto a22 = right.bottomRows(m - h);
  blas::gemm<S>(blas::Op::n, blas::Op::n, S(-1), a.bottomLeftCorner(m - h, h), a12, S(1), a22);
  ok = lu<S>(a22, piv + h, leaf) && ok;
  swap_rows<S>(a.bottomLeftCorner(m - h, h), piv + h, r);
  for (Index i = h; i < n; ++i) piv[i] += static_cast<int>(h);
  return ok;
}

}  // namespace

bool lu_in_place(MatrixRef<float> a, int* piv, Index leaf) {
  return lu<float>(a, piv, leaf);
}
bool lu_in_place(MatrixRef<double> a, int* piv, Index leaf) {
  return lu<double>(a, piv, leaf);
}

}  // namespace dynsim
