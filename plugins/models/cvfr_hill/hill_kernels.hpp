// The elementwise passes of cvfr_hill, one column of N nodes per call, on raw arrays.
//
// They are compiled twice (target_clones: plain x86-64 and x86-64-v4, i.e. AVX-512) and the
// loader picks the clone the CPU runs: the host and plugins are built for plain x86-64, whose
// SSE2 code does 4 floats per instruction where AVX-512 does 16. hill_kernels.cpp is compiled
// with -ffp-contract=off, so both clones do the same IEEE operations in the same order: same bits
// as each other and as the Eigen expressions they replace.
//
// Aliasing: an output may be the same array as an input (y == x, o == a: each entry is read
// before it is written); otherwise outputs and inputs do not overlap.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cvfr_hill {

// f = x^2 / (c + x^2), y = keep x.
void forward(const float* x, float* f, float* y, std::ptrdiff_t n, float c, float keep);
void forward(const double* x, double* f, double* y, std::ptrdiff_t n, double c, double keep);
// The same with f rounded to bf16 (dynsim::blas::bf16_bits).
void forward_bf16(const float* x, std::uint16_t* f, float* y, std::ptrdiff_t n, float c,
                  float keep);

// The adjoint pass: v = f(x), u = grad_scale a, o = keep a + scale f'(x) mta, with
// f'(x) = 2 c x / (c + x^2)^2.
void adjoint(const float* x, const float* a, const float* mta, float* v, float* u, float* o,
             std::ptrdiff_t n, float c, float scale, float keep, float grad_scale);
void adjoint(const double* x, const double* a, const double* mta, double* v, double* u, double* o,
             std::ptrdiff_t n, double c, double scale, double keep, double grad_scale);
// The same with v and u rounded to bf16.
void adjoint_bf16(const float* x, const float* a, const float* mta, std::uint16_t* v,
                  std::uint16_t* u, float* o, std::ptrdiff_t n, float c, float scale, float keep,
                  float grad_scale);

}  // namespace cvfr_hill
