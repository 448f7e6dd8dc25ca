// The elementwise passes of cvfr_hill, one column of N nodes per call, on raw arrays.
//
// Each has two bodies: plain x86-64 (what the host and plugins are built for: SSE2, 4 floats an
// instruction) and x86-64-v4 (AVX-512: 16), chosen by dynsim::blas::cpu_has_avx512().
// hill_kernels.cpp is compiled with -ffp-contract=off, so both bodies do the same IEEE operations
// in the same order: the same bits as each other and as the Eigen expressions they replaced
// (tests/models/test_hill_kernels.cpp checks both bodies against those expressions).
//
// Aliasing: an output may be the same array as an input (y == x, o == a: each entry is read
// before it is written); otherwise outputs and inputs do not overlap.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cvfr_hill {

// Which body runs: the best this CPU has, or one of the two (tests; avx512 only where
// dynsim::blas::cpu_has_avx512()).
enum class Body { best, plain, avx512 };

// f = x^2 / (c + x^2), y = keep x (the drift's -x is keep = -1, which differs from a negation
// only in the sign bit of a NaN).
void forward(const float* x, float* f, float* y, std::ptrdiff_t n, float c, float keep,
             Body body = Body::best);
void forward(const double* x, double* f, double* y, std::ptrdiff_t n, double c, double keep,
             Body body = Body::best);
// The same with f rounded to bf16 (dynsim::blas::bf16_bits).
void forward_bf16(const float* x, std::uint16_t* f, float* y, std::ptrdiff_t n, float c, float keep,
                  Body body = Body::best);

// The adjoint pass: v = f(x), u = grad_scale a, o = keep a + scale f'(x) mta, with
// f'(x) = 2 c x / (c + x^2)^2.
void adjoint(const float* x, const float* a, const float* mta, float* v, float* u, float* o,
             std::ptrdiff_t n, float c, float scale, float keep, float grad_scale,
             Body body = Body::best);
void adjoint(const double* x, const double* a, const double* mta, double* v, double* u, double* o,
             std::ptrdiff_t n, double c, double scale, double keep, double grad_scale,
             Body body = Body::best);
// The same with v and u rounded to bf16.
void adjoint_bf16(const float* x, const float* a, const float* mta, std::uint16_t* v,
                  std::uint16_t* u, float* o, std::ptrdiff_t n, float c, float scale, float keep,
                  float grad_scale, Body body = Body::best);

}  // namespace cvfr_hill
