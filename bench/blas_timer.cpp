#include "blas_timer.hpp"

#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

using Sgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const float*,
                       const float*, const int*, const float*, const int*, const float*, float*,
                       const int*);
using Sgemv = void (*)(const char*, const int*, const int*, const float*, const float*, const int*,
                       const float*, const int*, const float*, float*, const int*);

template <class F>
F next_symbol(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (!p) {
    std::fprintf(stderr, "dynsim_bench: BLAS symbol %s not found\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(p);
}

// The mangled names of dynsim::blas::sgemm_onednn and bf16gemm_onednn (Itanium C++ ABI).
constexpr const char* kSgemmOnednnSymbol = "_ZN6dynsim4blas12sgemm_onednnEbbiiifPKfiS2_ifPfi";
constexpr const char* kBf16gemmOnednnSymbol = "_ZN6dynsim4blas15bf16gemm_onednnEbbiiifPKtiS2_ifPfi";

// BLAS is called from one thread at a time here; atomics keep the counts right regardless.
std::atomic<std::int64_t> g_nanos{0}, g_calls{0};
std::atomic<double> g_flops{0};

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double flops;
  explicit Timer(double f) : flops(f) {}
  ~Timer() {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    g_nanos += ns;
    ++g_calls;
    g_flops.store(g_flops.load() + flops);
  }
};

}  // namespace

extern "C" {

void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc) {
  static const Sgemm real = next_symbol<Sgemm>("sgemm_");
  const Timer t(2.0 * double(*m) * double(*n) * double(*k));
  real(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemv_(const char* trans, const int* m, const int* n, const float* alpha, const float* a,
            const int* lda, const float* x, const int* incx, const float* beta, float* y,
            const int* incy) {
  static const Sgemv real = next_symbol<Sgemv>("sgemv_");
  const Timer t(2.0 * double(*m) * double(*n));
  real(trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

}  // extern "C"

// oneDNN's products (dynsim/sdk/blas.hpp, in libdynsim_kernels.so) are timed the same way: this
// definition comes first for the host's and the plugins' calls, and forwards to the library's.
namespace dynsim::blas {

void sgemm_onednn(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                  const float* b, int ldb, float beta, float* c, int ldc) {
  using F = void (*)(bool, bool, int, int, int, float, const float*, int, const float*, int, float,
                     float*, int);
  static const F real = next_symbol<F>(kSgemmOnednnSymbol);
  const Timer t(2.0 * double(m) * double(n) * double(k));
  real(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void bf16gemm_onednn(bool ta, bool tb, int m, int n, int k, float alpha, const std::uint16_t* a,
                     int lda, const std::uint16_t* b, int ldb, float beta, float* c, int ldc) {
  using F = void (*)(bool, bool, int, int, int, float, const std::uint16_t*, int,
                     const std::uint16_t*, int, float, float*, int);
  static const F real = next_symbol<F>(kBf16gemmOnednnSymbol);
  const Timer t(2.0 * double(m) * double(n) * double(k));
  real(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace dynsim::blas

namespace dynsim::bench {

BlasTime blas_time() {
  return {double(g_nanos.load()) * 1e-9, g_calls.load(), g_flops.load()};
}

void reset_blas_time() {
  g_nanos = 0;
  g_calls = 0;
  g_flops = 0;
}

}  // namespace dynsim::bench
