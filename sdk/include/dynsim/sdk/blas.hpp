// C = alpha op(A) op(B) + beta C straight through the BLAS the host links (OpenBLAS). Eigen's
// product syntax zeroes C before a product and cannot scale it, which costs a pass over an N x B
// state per call; a hot path folds that work into the GEMM instead. Operands may be blocks with
// an outer stride (column or row ranges of a column-major matrix).
#pragma once

#include <Eigen/Core>  // with EIGEN_USE_BLAS (set by the SDK target) this declares sgemm_/dgemm_
#include <algorithm>
#include <bit>
#include <cstdint>

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
// The same with bf16 operands (raw bits) and an fp32 C: products exact, sums in fp32.
void bf16gemm_onednn(bool ta, bool tb, int m, int n, int k, float alpha, const std::uint16_t* a,
                     int lda, const std::uint16_t* b, int ldb, float beta, float* c, int ldc);

// Whether oneDNN has a bf16 matmul on this CPU (AVX-512 with BF16 or AMX; tried once).
bool bf16_available();

// bf16 operands for scenario.precision = "bf16": the upper half of a float's bits, rounded to
// nearest even, NaN kept a NaN. (AVX-512 BF16's vcvtneps2bf16 also flushes subnormals to zero;
// this keeps them, so a subnormal operand may differ from the hardware's conversion.)
using Bf16Matrix = Eigen::Matrix<Eigen::bfloat16, Eigen::Dynamic, Eigen::Dynamic>;
using Bf16Ref = Eigen::Ref<Bf16Matrix>;
using ConstBf16Ref = Eigen::Ref<const Bf16Matrix>;

inline std::uint16_t bf16_bits(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float bf16_value(float x) {  // x rounded to bf16, as a float
  return std::bit_cast<float>(static_cast<std::uint32_t>(bf16_bits(x)) << 16);
}
// Raw bits of column j of a bf16 matrix: a plain array the compiler vectorises, where
// Eigen::bfloat16's own conversion goes element by element.
inline std::uint16_t* bf16_column(Bf16Ref m, Index j) {
  return reinterpret_cast<std::uint16_t*>(m.col(j).data());
}
// dst[i] = bf16_bits(src[i]) for n entries, with AVX-512 where the CPU has it (sdk/src/bf16.cpp).
void to_bf16(const float* src, std::uint16_t* dst, Index n);

// Whether this CPU runs x86-64-v4 code (AVX-512 F, BW, DQ and VL); checked once.
bool cpu_has_avx512();
// Marks the AVX-512 body of a kernel over raw arrays. dynsim and its plugins are built for plain
// x86-64 (SSE2: 4 floats an instruction); a pass that is a large share of a step can have a
// second body compiled for x86-64-v4 (16), called only where cpu_has_avx512(). Compile its file
// with -ffp-contract=off so that both bodies round every operation alike (same bits).
#if defined(__x86_64__)
#define DYNSIM_AVX512 __attribute__((target("arch=x86-64-v4")))
#else
#define DYNSIM_AVX512
#endif
// dst = bf16(src), entry by entry (same shape).
inline void round_to_bf16(ConstMatrixRef<float> src, Bf16Ref dst) {
  eigen_assert(src.rows() == dst.rows() && src.cols() == dst.cols());
  for (Index j = 0; j < src.cols(); ++j)
    to_bf16(src.col(j).data(), bf16_column(dst, j), src.rows());
}

// C = alpha op(A) op(B) + beta C with bf16 A and B, fp32 C, through oneDNN (OpenBLAS 0.3.21 as
// Debian ships it exports no sbgemm), whatever set_backend says.
inline void gemm_bf16(Op opa, Op opb, float alpha, ConstBf16Ref a, ConstBf16Ref b, float beta,
                      MatrixRef<float> c) {
  const int m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols());
  const int k = static_cast<int>(opa == Op::n ? a.cols() : a.rows());
  eigen_assert((opa == Op::n ? a.rows() : a.cols()) == m);
  eigen_assert((opb == Op::n ? b.rows() : b.cols()) == k &&
               (opb == Op::n ? b.cols() : b.rows()) == n);
  if (m == 0 || n == 0) return;
  bf16gemm_onednn(opa == Op::t, opb == Op::t, m, n, k, alpha,
                  reinterpret_cast<const std::uint16_t*>(a.data()),
                  std::max<int>(1, static_cast<int>(a.outerStride())),
                  reinterpret_cast<const std::uint16_t*>(b.data()),
                  std::max<int>(1, static_cast<int>(b.outerStride())), beta, c.data(),
                  std::max<int>(1, static_cast<int>(c.outerStride())));
}

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
