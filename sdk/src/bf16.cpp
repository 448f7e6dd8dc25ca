// Rounding to bf16 in bulk, compiled twice (plain x86-64 and x86-64-v4, i.e. AVX-512; the loader
// picks the clone the CPU runs). Integer operations only, so both clones give the same bits.
#include "dynsim/sdk/blas.hpp"

namespace dynsim::blas {

__attribute__((target_clones("default", "arch=x86-64-v4"))) void to_bf16(const float* src,
                                                                         std::uint16_t* dst,
                                                                         Index n) {
  for (Index i = 0; i < n; ++i) dst[i] = bf16_bits(src[i]);
}

}  // namespace dynsim::blas
