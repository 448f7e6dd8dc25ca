// The stability analyzer on a model whose answer is known: dx/dt = M (x - x*), M with
// eigenvalues -1 and -2 +- 3i, planted state x*.
#include <catch2/catch.hpp>
#include <cmath>

#include "analysis/stability.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

namespace {

// The planted state x* = 0.5 in every node.
test::LinearAttractorModel shifted(bool analytic, const Matrix<double>& M) {
  return test::LinearAttractorModel(M, Vector<double>::Constant(M.rows(), 0.5), analytic);
}

Matrix<double> known() {
  Matrix<double> M(3, 3);
  M << -1, 0, 0, 0, -2, 3, 0, -3, -2;
  return M;
}

}  // namespace

TEST_CASE("the analyzer recovers the eigenvalues of a known matrix", "[stability]") {
  for (bool analytic : {true, false}) {
    INFO((analytic ? "analytic" : "finite-difference") << " Jacobian");
    auto model = shifted(analytic, known());
    FixedStepScheme<double> scheme(Method::euler, 0.1, 0.0, model, nullptr, 1);
    StabilityConfig cfg;
    cfg.steps = 200;
    const auto s = analyze_stability(model, scheme, cfg);
    REQUIRE(s.size() == 1);
    CHECK(s[0].analytic_jacobian == analytic);
    std::vector<double> re, im;
    for (const auto& l : s[0].eigenvalues) re.push_back(l.real()), im.push_back(std::abs(l.imag()));
    std::sort(re.begin(), re.end());
    std::sort(im.begin(), im.end());
    CHECK(re[0] == Approx(-2).margin(1e-8));
    CHECK(re[1] == Approx(-2).margin(1e-8));
    CHECK(re[2] == Approx(-1).margin(1e-8));
    CHECK(im[0] == Approx(0).margin(1e-8));
    CHECK(im[2] == Approx(3).margin(1e-8));
    CHECK(s[0].max_real == Approx(-1).margin(1e-8));
    CHECK(s[0].stable);
    // Euler map: max |1 + 0.1 lambda| = max(0.9, |0.8 +- 0.3i|) = 0.9.
    CHECK(s[0].map_radius == Approx(0.9).margin(1e-8));
    CHECK(s[0].map_stable);
    CHECK(s[0].drift_norm < 1e-12);
    CHECK(s[0].returned);
  }
}

TEST_CASE("the discrete maps' stability functions", "[stability]") {
  const std::vector<std::complex<double>> eig = {{-30.0, 0.0}};
  CHECK(map_spectral_radius(Method::euler, 0.1, eig) == Approx(2.0));  // |1 - 3|
  CHECK(map_spectral_radius(Method::rk4, 0.1, eig) == Approx(1.375));  // 1-3+4.5-4.5+3.375
  // An unstable planted state is reported as such.
  Matrix<double> M = known();
  M(0, 0) = 0.2;
  auto model = shifted(true, M);
  FixedStepScheme<double> scheme(Method::rk4, 0.1, 0.0, model, nullptr, 1);
  StabilityConfig cfg;
  cfg.steps = 100;
  const auto s = analyze_stability(model, scheme, cfg);
  CHECK_FALSE(s[0].stable);
  CHECK(s[0].max_real == Approx(0.2).margin(1e-8));
  CHECK_FALSE(s[0].returned);
}
