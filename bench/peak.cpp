#include "peak.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>

namespace dynsim::bench {

namespace {

// 12 independent accumulators hide the FMA latency (4 cycles, 2 ports: 8 in flight needed).
constexpr int kChains = 12;
constexpr long kIters = 1 << 20;

// Stores the result so the loop is not optimised away (GCC 12's _mm512_reduce_add_ps trips
// -Wuninitialized in its own header).
__attribute__((target("avx512f"))) void keep(__m512 s) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  volatile float sink = lanes[0];
  (void)sink;
}

__attribute__((target("avx512f"))) double fp32_block() {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < kIters; ++it)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  keep(s);
  return double(kIters) * kChains * 16 * 2;  // 16 lanes, multiply and add
}

__attribute__((target("avx512f,avx512bf16"))) double bf16_block() {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-4f), _mm512_set1_ps(3e-4f));
  for (long it = 0; it < kIters; ++it)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  keep(s);
  return double(kIters) * kChains * 32 * 2;  // 32 bf16 pairs per lane group, multiply and add
}

template <class F>
double rate(F block, int threads, double seconds) {
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    double flops = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    {
      const auto start = std::chrono::steady_clock::now();
      do {
        flops += block();
      } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
               seconds / 3);
    }
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, flops / elapsed * 1e-9);
  }
  return best;
}

}  // namespace

Peak measure_peak(int threads, double seconds) {
  Peak p;
  if (__builtin_cpu_supports("avx512f")) p.fp32_gflops = rate(fp32_block, threads, seconds);
  if (__builtin_cpu_supports("avx512bf16")) p.bf16_gflops = rate(bf16_block, threads, seconds);
  return p;
}

}  // namespace dynsim::bench
