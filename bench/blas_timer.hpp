// Time spent in single-precision BLAS level-2/3 calls (sgemm_, sgemv_), counted by wrappers that
// this executable exports in front of OpenBLAS. Eigen (EIGEN_USE_BLAS) calls exactly these, in
// the host and in the plugins, so the share of a training step spent in GEMM is measured, not
// estimated.
#pragma once

#include <cstdint>

namespace dynsim::bench {

struct BlasTime {
  double seconds = 0;
  std::int64_t calls = 0;
  double flops = 0;
};

BlasTime blas_time();
void reset_blas_time();

}  // namespace dynsim::bench
