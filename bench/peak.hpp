// The machine's limit: fused multiply-adds from registers only (no memory traffic), on every
// thread, in fp32 (vfmadd231ps) and with bf16 dot products into fp32 (vdpbf16ps). A GEMM can
// approach these rates but not pass them, so "% of the machine" is GEMM GFLOP/s over these.
#pragma once

namespace dynsim::bench {

struct Peak {
  double fp32_gflops = 0;
  double bf16_gflops = 0;  // 0 when the CPU lacks AVX-512 BF16
};

// Runs each kernel for about `seconds` on `threads` threads; the best of three blocks.
Peak measure_peak(int threads, double seconds);

}  // namespace dynsim::bench
