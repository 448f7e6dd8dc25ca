// C = alpha op(A) op(B) + beta C straight through the BLAS the host links (OpenBLAS). Eigen's
// product syntax zeroes C before a product and cannot scale it, which costs a pass over an N x B
// state per call; a hot path folds that work into the GEMM instead. Operands may be blocks with
// an outer stride (column or row ranges of a column-major matrix).
#pragma once

#include <Eigen/Core>  // with EIGEN_USE_BLAS (set by the SDK target) this declares sgemm_/dgemm_

#include "dynsim/sdk/types.hpp"

#ifndef EIGEN_USE_BLAS
#error "dynsim/sdk/blas.hpp needs EIGEN_USE_BLAS: link the dynsim::sdk target"
#endif

namespace dynsim::blas {

enum class Op { n, t };  // op(X) = X or X^T

// Where single-precision products go: oneDNN's matmul (the default: AVX-512 kernels here, about
// twice OpenBLAS's rate on the hot shapes, docs/RESULTS.md) or OpenBLAS's sgemm (today's path,
// kept so one benchmark run measures both). Double precision always goes to OpenBLAS. The switch
// lives in the shared library dynsim_kernels, so the host's choice (scenario.gemm) reaches every
// plugin; DYNSIM_GEMM=openblas|onednn sets the default of a program that never chooses.
enum class Backend { openblas, onednn };
void set_backend(Backend b);
Backend backend();
// C = alpha op(A) op(B) + beta C, column-major, through oneDNN (sdk/src/gemm.cpp).
void sgemm_onednn(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                  const float* b, int ldb, float beta, float* c, int ldc);

template <class S>
void gemm(Op opa, Op opb, S alpha, ConstMatrixRef<S> a, ConstMatrixRef<S> b, S beta,
          MatrixRef<S> c) {
  const int m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols());
  const int k = static_cast<int>(opa == Op::n ? a.cols() : a.rows());
  eigen_assert((opa == Op::n ? a.rows() : a.cols()) == m);
  eigen_assert((opb == Op::n ? b.rows() : b.cols()) == k &&
               (opb == Op::n ? b.cols() : b.rows()) == n);
  if (m == 0 || n == 0) return;
  const char ta = opa == Op::n ? 'N' : 'T', tb = opb == Op::n ? 'N' : 'T';
  // A zero-size operand still needs a valid leading dimension.
  const int lda = std::max<int>(1, static_cast<int>(a.outerStride()));
  const int ldb = std::max<int>(1, static_cast<int>(b.outerStride()));
  const int ldc = std::max<int>(1, static_cast<int>(c.outerStride()));
  if constexpr (std::is_same_v<S, float>) {
    if (backend() == Backend::onednn)
      sgemm_onednn(opa == Op::t, opb == Op::t, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta,
                   c.data(), ldc);
    else
      sgemm_(&ta, &tb, &m, &n, &k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(), &ldc);
  } else {
    dgemm_(&ta, &tb, &m, &n, &k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(), &ldc);
  }
}

}  // namespace dynsim::blas
