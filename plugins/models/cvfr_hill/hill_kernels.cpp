// Compiled with -ffp-contract=off (plugins/CMakeLists.txt): the AVX-512 body must not fuse a
// multiply and an add that the plain body rounds twice. `GCC ivdep` lets the compiler vectorise
// without an overlap check that would send the in-place calls (y == x, o == a) to its scalar
// fallback; no entry depends on another, so that is safe.
#include "hill_kernels.hpp"

#include <dynsim/sdk/blas.hpp>

#if defined(__GNUC__) && !defined(__clang__)
#define HILL_IVDEP _Pragma("GCC ivdep")
#else
#define HILL_IVDEP
#endif

namespace cvfr_hill {

namespace {

using dynsim::blas::bf16_bits;

struct Bits {  // writes an entry as bf16 bits
  std::uint16_t operator()(float v) const { return bf16_bits(v); }
};
struct Same {  // writes an entry as it is
  template <class S>
  S operator()(S v) const {
    return v;
  }
};

bool wide(Body body) {
  return body == Body::avx512 || (body == Body::best && dynsim::blas::cpu_has_avx512());
}

template <class S, class F, class Out>
[[gnu::always_inline]] inline void forward_body(const S* x, F* f, S* y, std::ptrdiff_t n, S c,
                                                S keep, Out out) {
  HILL_IVDEP
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    const S xi = x[i], xx = xi * xi;
    f[i] = out(xx / (c + xx));
    y[i] = keep * xi;
  }
}

template <class S, class F, class Out>
[[gnu::always_inline]] inline void adjoint_body(const S* x, const S* a, const S* mta, F* v, F* u,
                                                S* o, std::ptrdiff_t n, S c, S scale, S keep,
                                                S grad_scale, Out out) {
  const S two_c = S(2) * c;
  HILL_IVDEP
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    const S xi = x[i], xx = xi * xi, den = c + xx, ai = a[i];
    v[i] = out(xx / den);
    u[i] = out(grad_scale * ai);
    o[i] = keep * ai + scale * (two_c * xi / (den * den)) * mta[i];
  }
}

// The AVX-512 bodies: the same templates, compiled for x86-64-v4.
template <class S, class F, class Out>
DYNSIM_AVX512 void forward_avx512(const S* x, F* f, S* y, std::ptrdiff_t n, S c, S keep, Out out) {
  forward_body(x, f, y, n, c, keep, out);
}
template <class S, class F, class Out>
DYNSIM_AVX512 void adjoint_avx512(const S* x, const S* a, const S* mta, F* v, F* u, S* o,
                                  std::ptrdiff_t n, S c, S scale, S keep, S grad_scale, Out out) {
  adjoint_body(x, a, mta, v, u, o, n, c, scale, keep, grad_scale, out);
}

template <class S, class F, class Out>
void forward_any(const S* x, F* f, S* y, std::ptrdiff_t n, S c, S keep, Out out, Body body) {
  if (wide(body))
    forward_avx512(x, f, y, n, c, keep, out);
  else
    forward_body(x, f, y, n, c, keep, out);
}
template <class S, class F, class Out>
void adjoint_any(const S* x, const S* a, const S* mta, F* v, F* u, S* o, std::ptrdiff_t n, S c,
                 S scale, S keep, S grad_scale, Out out, Body body) {
  if (wide(body))
    adjoint_avx512(x, a, mta, v, u, o, n, c, scale, keep, grad_scale, out);
  else
    adjoint_body(x, a, mta, v, u, o, n, c, scale, keep, grad_scale, out);
}

}  // namespace

void forward(const float* x, float* f, float* y, std::ptrdiff_t n, float c, float keep, Body body) {
  forward_any(x, f, y, n, c, keep, Same{}, body);
}
void forward(const double* x, double* f, double* y, std::ptrdiff_t n, double c, double keep,
             Body body) {
  forward_any(x, f, y, n, c, keep, Same{}, body);
}
void forward_bf16(const float* x, std::uint16_t* f, float* y, std::ptrdiff_t n, float c, float keep,
                  Body body) {
  forward_any(x, f, y, n, c, keep, Bits{}, body);
}

void adjoint(const float* x, const float* a, const float* mta, float* v, float* u, float* o,
             std::ptrdiff_t n, float c, float scale, float keep, float grad_scale, Body body) {
  adjoint_any(x, a, mta, v, u, o, n, c, scale, keep, grad_scale, Same{}, body);
}
void adjoint(const double* x, const double* a, const double* mta, double* v, double* u, double* o,
             std::ptrdiff_t n, double c, double scale, double keep, double grad_scale, Body body) {
  adjoint_any(x, a, mta, v, u, o, n, c, scale, keep, grad_scale, Same{}, body);
}
void adjoint_bf16(const float* x, const float* a, const float* mta, std::uint16_t* v,
                  std::uint16_t* u, float* o, std::ptrdiff_t n, float c, float scale, float keep,
                  float grad_scale, Body body) {
  adjoint_any(x, a, mta, v, u, o, n, c, scale, keep, grad_scale, Bits{}, body);
}

}  // namespace cvfr_hill
