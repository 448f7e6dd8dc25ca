// Fixed-step and adaptive integrators against closed-form solutions.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "integrate/integrator.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

namespace {

// Least-squares slope of log(err) against log(dt).
double fitted_order(const std::vector<double>& dts, const std::vector<double>& errs) {
  double mx = 0, my = 0;
  const double n = static_cast<double>(dts.size());
  for (std::size_t i = 0; i < dts.size(); ++i)
    mx += std::log(dts[i]) / n, my += std::log(errs[i]) / n;
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < dts.size(); ++i) {
    const double dx = std::log(dts[i]) - mx;
    sxy += dx * (std::log(errs[i]) - my);
    sxx += dx * dx;
  }
  return sxy / sxx;
}

const std::vector<double> kDts = {0.2, 0.1, 0.05, 0.025};
const std::vector<std::uint64_t> kOne = {0};

// Error at T of dx/dt = -x, x(0) = 1.
double decay_error(Method m, double dt) {
  auto model = test::linear_model<double>("M = [[-1.0]]");
  Matrix<double> X = Matrix<double>::Ones(1, 1);
  IntegratorConfig c;
  c.method = m;
  c.dt = dt;
  c.t_end = 1.0;
  Integrator<double>(c, *model, nullptr, 1).run(X, kOne, {});
  return std::abs(X(0, 0) - std::exp(-1.0));
}

// Error at T = 2 of x'' = -x, (x, v)(0) = (1, 0): exact (cos t, -sin t).
double oscillator_error(Method m, double dt, double rtol = 1e-6,
                        IntegrationStats* stats = nullptr) {
  auto model = test::linear_model<double>("M = [[0.0, 1.0], [-1.0, 0.0]]");
  Matrix<double> X(2, 1);
  X << 1.0, 0.0;
  IntegratorConfig c;
  c.method = m;
  c.dt = dt;
  c.t_end = 2.0;
  c.rtol = rtol;
  c.atol = rtol * 1e-2;
  const auto s = Integrator<double>(c, *model, nullptr, 1).run(X, kOne, {});
  if (stats) *stats = s;
  return std::hypot(X(0, 0) - std::cos(2.0), X(1, 0) + std::sin(2.0));
}

}  // namespace

TEST_CASE("euler converges with order 1 on exponential decay and the oscillator", "[integrator]") {
  std::vector<double> e1, e2;
  for (double dt : kDts) e1.push_back(decay_error(Method::euler, dt));
  for (double dt : kDts) e2.push_back(oscillator_error(Method::euler, dt));
  CHECK(fitted_order(kDts, e1) == Approx(1.0).margin(0.2));
  CHECK(fitted_order(kDts, e2) == Approx(1.0).margin(0.2));
}

TEST_CASE("rk4 converges with order 4 on exponential decay and the oscillator", "[integrator]") {
  std::vector<double> e1, e2;
  for (double dt : kDts) e1.push_back(decay_error(Method::rk4, dt));
  for (double dt : kDts) e2.push_back(oscillator_error(Method::rk4, dt));
  CHECK(fitted_order(kDts, e1) == Approx(4.0).margin(0.2));
  CHECK(fitted_order(kDts, e2) == Approx(4.0).margin(0.2));
}

TEST_CASE("dopri5 meets its tolerance and tighter tolerances cost more steps", "[integrator]") {
  IntegrationStats loose, tight;
  const double e_loose = oscillator_error(Method::dopri5, 0.1, 1e-5, &loose);
  const double e_tight = oscillator_error(Method::dopri5, 0.1, 1e-10, &tight);
  CHECK(e_loose < 1e-4);
  CHECK(e_tight < 1e-8);
  CHECK(e_tight < e_loose);
  CHECK(tight.steps > loose.steps);
  CHECK(tight.t == Approx(2.0).epsilon(1e-14));
}

TEST_CASE("a batch integrates each column as if alone", "[integrator]") {
  auto model = test::linear_model<double>("M = [[0.0, 1.0], [-1.0, -0.1]]");
  Matrix<double> X0(2, 3);
  X0 << 1.0, 0.0, -2.0, 0.0, 1.0, 0.5;
  IntegratorConfig c;
  c.method = Method::rk4;
  c.dt = 0.05;
  c.t_end = 3.0;
  Matrix<double> batch = X0;
  const std::vector<std::uint64_t> ids = {0, 1, 2};
  Integrator<double>(c, *model, nullptr, 1).run(batch, ids, {});
  for (Index j = 0; j < 3; ++j) {
    Matrix<double> one = X0.col(j);
    Integrator<double>(c, *model, nullptr, 1).run(one, kOne, {});
    CHECK((one - batch.col(j)).norm() == 0.0);
  }
}

TEST_CASE("the observer sees t0 and every save_every steps and the end", "[integrator]") {
  auto model = test::linear_model<float>("M = [[-1.0]]");
  Matrix<float> X = Matrix<float>::Ones(1, 1);
  IntegratorConfig c;
  c.method = Method::euler;
  c.dt = 0.1;
  c.t_end = 1.0;
  c.save_every = 3;
  std::vector<std::int64_t> seen;
  Integrator<float>(c, *model, nullptr, 1).run(X, kOne, {}, [&](float, std::int64_t k, auto) {
    seen.push_back(k);
  });
  CHECK(seen == std::vector<std::int64_t>{0, 3, 6, 9, 10});
  CHECK(X(0, 0) == Approx(std::pow(0.9, 10)).epsilon(1e-5));
}

TEST_CASE("a diverging run stops with a clear error", "[integrator]") {
  auto model = test::linear_model<double>("M = [[1000.0]]");
  Matrix<double> X = Matrix<double>::Ones(1, 1);
  IntegratorConfig c;
  c.method = Method::euler;
  c.dt = 1.0;
  c.t_end = 200.0;
  CHECK_THROWS_WITH(Integrator<double>(c, *model, nullptr, 1).run(X, kOne, {}),
                    Catch::Contains("diverged"));
}
