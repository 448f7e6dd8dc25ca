// Fixed-step and adaptive integrators against closed-form solutions; simulate's steps are the
// training path's.
#include <boost/numeric/odeint/integrate/integrate_const.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <vector>

#include "integrate/fixed_step.hpp"
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

namespace {

// The states a run saves every `every` steps: through odeint (Integrator::run, as `simulate`
// integrates) and through the scheme's own steps (as training and evaluation take them).
template <class S>
void check_one_forward_path(Method method) {
  const Index n = 24, b = 5;
  const std::int64_t steps = 12, every = 4;
  const double dt = 0.05;
  auto model = test::entry_model<S>("cvfr_hill", "n = 24\nclasses = 3\npattern = \"block_on\"\n");
  test::ScaledNoise<S> noise(S(0.3));
  NoiseLaw<S>* law = method == Method::euler_maruyama ? &noise : nullptr;
  const std::vector<std::uint64_t> ids = {4, 0, 9, 2, 7};
  const NoiseKey key{11, 2, 1};
  const Matrix<S> X0 = test::random_matrix(n, b, 5, 0.8).cast<S>();

  IntegratorConfig c;
  c.method = method;
  c.dt = dt;
  c.t_end = dt * steps;
  c.save_every = every;
  std::vector<Matrix<S>> simulated;
  std::vector<std::int64_t> at;
  Matrix<S> X = X0;
  Integrator<S>(c, *model, law, 1).run(X, ids, key, [&](S, std::int64_t k, ConstMatrixRef<S> s) {
    simulated.emplace_back(s);
    at.push_back(k);
  });
  REQUIRE(at == std::vector<std::int64_t>{0, 4, 8, 12});

  FixedStepScheme<S> scheme(method, dt, 0.0, *model, law, 1);
  Matrix<S> Y = X0;
  for (std::int64_t k = 0; k <= steps; ++k) {
    if (k % every == 0) {
      const Matrix<S>& s = simulated[static_cast<std::size_t>(k / every)];
      INFO("step " << k);
      CHECK(std::memcmp(s.data(), Y.data(), sizeof(S) * static_cast<std::size_t>(Y.size())) == 0);
    }
    if (k < steps) scheme.step(k, Y, ids, key);
  }
  CHECK((Y - X0).cwiseAbs().maxCoeff() > S(1e-3));  // the states did move
  CHECK(std::memcmp(X.data(), Y.data(), sizeof(S) * static_cast<std::size_t>(Y.size())) == 0);
}

}  // namespace

TEST_CASE("simulate takes the training path's fixed steps: the same states bit for bit",
          "[integrator][fixed_step]") {
  // cvfr_hill has a fused Euler step, which odeint's own euler would not take.
  for (const Method m : {Method::euler, Method::rk4, Method::euler_maruyama}) {
    INFO(method_name(m));
    check_one_forward_path<float>(m);
    check_one_forward_path<double>(m);
  }
}

TEST_CASE("the fixed-step scheme works as an odeint stepper", "[integrator][fixed_step]") {
  // odeint's integrate_const drives FixedStepper directly: exponential decay under rk4.
  auto model = test::linear_model<double>("M = [[-1.0]]");
  FixedStepScheme<double> scheme(Method::rk4, 0.1, 0.0, *model, nullptr, 1);
  FixedStepper<double> stepper(scheme);
  CHECK(stepper.order() == 4);
  Matrix<double> x = Matrix<double>::Ones(1, 1);
  const std::vector<std::uint64_t> ids = {0};
  int calls = 0;
  boost::numeric::odeint::integrate_const(stepper, BatchKey{ids, NoiseKey{}}, x, 0.0, 1.0, 0.1,
                                          [&](const Matrix<double>&, double) { ++calls; });
  CHECK(calls == 11);
  CHECK(std::abs(x(0, 0) - std::exp(-1.0)) < 1e-6);
}
