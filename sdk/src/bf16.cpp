// Rounding to bf16 in bulk, with a plain and an AVX-512 body (integer operations only, so both
// give the same bits), and the CPU check the kernels' dispatch uses.
#include "dynsim/sdk/blas.hpp"

namespace dynsim::blas {

bool cpu_has_avx512() {
#if defined(__x86_64__)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }();
  return has;
#else
  return false;
#endif
}

namespace {

[[gnu::always_inline]] inline void to_bf16_body(const float* src, std::uint16_t* dst, Index n) {
  for (Index i = 0; i < n; ++i) dst[i] = bf16_bits(src[i]);
}
DYNSIM_AVX512 void to_bf16_avx512(const float* src, std::uint16_t* dst, Index n) {
  to_bf16_body(src, dst, n);
}

}  // namespace

void to_bf16(const float* src, std::uint16_t* dst, Index n) {
  if (cpu_has_avx512())
    to_bf16_avx512(src, dst, n);
  else
    to_bf16_body(src, dst, n);
}

}  // namespace dynsim::blas
