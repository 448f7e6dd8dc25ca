// cvfr_hill's elementwise kernels (plugins/models/cvfr_hill/hill_kernels) and the SDK's bulk
// bf16 rounding: both bodies (plain x86-64, and AVX-512 where this CPU has it) must give the bits
// of the Eigen expressions the model used before the kernels (this file is compiled like the
// kernels, without contraction), in place and not, at every length.
#include <catch2/catch.hpp>
#include <dynsim/sdk/blas.hpp>
#include <dynsim/sdk/types.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../../plugins/models/cvfr_hill/hill_kernels.hpp"

namespace {

// Values the passes meet: zeros, tiny (subnormal squares), ordinary, large, and the non-finite.
template <class S>
std::vector<S> kernel_inputs(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-3, 3);
  std::vector<S> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<S>(u(gen));
  const S special[] = {S(0),
                       S(-0.0),
                       S(1e-30),
                       std::numeric_limits<S>::denorm_min(),
                       S(1e30),
                       S(-7.5),
                       std::numeric_limits<S>::infinity(),
                       std::numeric_limits<S>::quiet_NaN()};
  for (std::size_t i = 0; i < std::size(special) && i * 5 < n; ++i) v[i * 5] = special[i];
  return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// The bodies this CPU can run.
std::vector<cvfr_hill::Body> hill_bodies() {
  std::vector<cvfr_hill::Body> b = {cvfr_hill::Body::plain};
  if (dynsim::blas::cpu_has_avx512())
    b.push_back(cvfr_hill::Body::avx512);
  else
    WARN("no AVX-512 on this CPU: only the plain bodies are checked");
  return b;
}

template <class S>
using Column = Eigen::Array<S, Eigen::Dynamic, 1>;

template <class S>
std::vector<S> as_vector(const Column<S>& a) {
  return {a.data(), a.data() + a.size()};
}

template <class S>
void check_plain_kernels(cvfr_hill::Body body) {
  const S c = S(1) / S(6272), keep = S(0.97), scale = S(-0.013), grad_scale = S(0.0025);
  for (std::size_t n : {1u, 7u, 16u, 31u, 784u, 1001u}) {
    INFO("n = " << n << ", body " << int(body));
    const auto x = kernel_inputs<S>(n, 1), a = kernel_inputs<S>(n, 2), mta = kernel_inputs<S>(n, 3);
    const Eigen::Map<const Column<S>> xe(x.data(), Eigen::Index(n)), ae(a.data(), Eigen::Index(n)),
        me(mta.data(), Eigen::Index(n));
    // The model's expressions before the kernels (cvfr_hill.cpp at 8875a1f).
    const S two_c = S(2) * c;
    const auto f_want = as_vector<S>(xe.square() / (c + xe.square()));
    const auto y_want = as_vector<S>(xe * keep);
    const auto u_want = as_vector<S>(grad_scale * ae);
    const auto o_want =
        as_vector<S>(keep * ae + scale * (two_c * xe / (c + xe.square()).square()) * me);
    std::vector<S> f(n), y(n), v(n), u(n), o(n);
    const auto idx = static_cast<std::ptrdiff_t>(n);
    cvfr_hill::forward(x.data(), f.data(), y.data(), idx, c, keep, body);
    CHECK(same_bits(f, f_want));
    CHECK(same_bits(y, y_want));
    std::vector<S> in_place = x;  // y == x
    cvfr_hill::forward(in_place.data(), f.data(), in_place.data(), idx, c, keep, body);
    CHECK(same_bits(in_place, y_want));
    cvfr_hill::adjoint(x.data(), a.data(), mta.data(), v.data(), u.data(), o.data(), idx, c, scale,
                       keep, grad_scale, body);
    CHECK(same_bits(v, f_want));
    CHECK(same_bits(u, u_want));
    CHECK(same_bits(o, o_want));
    in_place = a;  // o == a
    cvfr_hill::adjoint(x.data(), in_place.data(), mta.data(), v.data(), u.data(), in_place.data(),
                       idx, c, scale, keep, grad_scale, body);
    CHECK(same_bits(in_place, o_want));
  }
}

}  // namespace

TEST_CASE("cvfr_hill kernels give the bits of the model's Eigen expressions", "[models][kernels]") {
  for (auto body : hill_bodies()) {
    check_plain_kernels<float>(body);
    check_plain_kernels<double>(body);
  }
}

TEST_CASE("cvfr_hill bf16 kernels and to_bf16 give bf16_bits of the plain formulas",
          "[models][kernels][bf16]") {
  using dynsim::blas::bf16_bits;
  const float c = 1.0f / 6272, keep = 0.8f, scale = 0.02f, grad_scale = -0.4f;
  for (auto body : hill_bodies())
    for (std::size_t n : {1u, 15u, 33u, 784u}) {
      INFO("n = " << n << ", body " << int(body));
      const auto x = kernel_inputs<float>(n, 4), a = kernel_inputs<float>(n, 5),
                 mta = kernel_inputs<float>(n, 6);
      std::vector<std::uint16_t> f(n), f_want(n), v(n), u(n), v_want(n), u_want(n), r(n), r_want(n);
      std::vector<float> y(n), y_want(n), o(n), o_want(n);
      for (std::size_t i = 0; i < n; ++i) {
        const float xx = x[i] * x[i], den = c + xx;
        f_want[i] = bf16_bits(xx / den);
        y_want[i] = keep * x[i];
        v_want[i] = bf16_bits(xx / den);
        u_want[i] = bf16_bits(grad_scale * a[i]);
        o_want[i] = keep * a[i] + scale * (2 * c * x[i] / (den * den)) * mta[i];
        r_want[i] = bf16_bits(x[i]);
      }
      const auto idx = static_cast<std::ptrdiff_t>(n);
      cvfr_hill::forward_bf16(x.data(), f.data(), y.data(), idx, c, keep, body);
      CHECK(same_bits(f, f_want));
      CHECK(same_bits(y, y_want));
      cvfr_hill::adjoint_bf16(x.data(), a.data(), mta.data(), v.data(), u.data(), o.data(), idx, c,
                              scale, keep, grad_scale, body);
      CHECK(same_bits(v, v_want));
      CHECK(same_bits(u, u_want));
      CHECK(same_bits(o, o_want));
      dynsim::blas::to_bf16(x.data(), r.data(), idx);
      CHECK(same_bits(r, r_want));
    }
  // Rounding to nearest even, NaN kept a NaN.
  CHECK(bf16_bits(1.0f) == 0x3f80);
  CHECK(bf16_bits(std::bit_cast<float>(0x3f808000u)) == 0x3f80);  // tie, to even
  CHECK(bf16_bits(std::bit_cast<float>(0x3f818000u)) == 0x3f82);  // tie, to even (up)
  CHECK((bf16_bits(std::numeric_limits<float>::quiet_NaN()) & 0x7fc0) == 0x7fc0);
}
