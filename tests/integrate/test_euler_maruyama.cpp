// Euler-Maruyama: Ornstein-Uhlenbeck moments, and noise that is bit-identical whatever the batch
// split or thread count.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <numeric>

#include "integrate/integrator.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

TEST_CASE("Euler-Maruyama reproduces Ornstein-Uhlenbeck mean and variance", "[euler_maruyama]") {
  // dx_i = -theta_i x_i dt + sigma dW_i, four independent nodes, x(0) = 1.
  const std::vector<double> theta = {0.5, 1.0, 2.0, 4.0};
  const double sigma = 0.5, T = 1.0, dt = 1e-3;
  const Index B = 20000;
  auto model = test::linear_model<double>(
      "M = [[-0.5, 0, 0, 0], [0, -1.0, 0, 0], [0, 0, -2.0, 0], [0, 0, 0, -4.0]]");
  test::ScaledNoise<double> noise(sigma);
  IntegratorConfig c;
  c.method = Method::euler_maruyama;
  c.dt = dt;
  c.t_end = T;
  Matrix<double> X = Matrix<double>::Ones(4, B);
  std::vector<std::uint64_t> ids(static_cast<std::size_t>(B));
  std::iota(ids.begin(), ids.end(), 0);
  Integrator<double>(c, *model, &noise, 2).run(X, ids, NoiseKey{42, 0, 0});

  for (Index i = 0; i < 4; ++i) {
    const double th = theta[static_cast<std::size_t>(i)];
    const double mean = std::exp(-th * T);
    const double var = sigma * sigma / (2 * th) * (1 - std::exp(-2 * th * T));
    const double m = X.row(i).mean();
    const double v = (X.row(i).array() - m).square().sum() / static_cast<double>(B - 1);
    // Tolerances of four standard errors; the O(dt) bias of Euler-Maruyama (relative
    // theta * dt / 2 on the variance, theta^2 dt T / 2 on the mean) is far below them.
    const double tol_mean = 4 * std::sqrt(var / B), tol_var = 4 * var * std::sqrt(2.0 / (B - 1));
    REQUIRE(var * th * dt / 2 < tol_var / 10);
    REQUIRE(mean * th * th * dt * T / 2 < tol_mean / 10);
    INFO("node " << i << " theta " << th);
    CHECK(std::abs(m - mean) < tol_mean);
    CHECK(std::abs(v - var) < tol_var);
  }
}

TEST_CASE("Euler-Maruyama has weak order 1 on Ornstein-Uhlenbeck", "[euler_maruyama]") {
  // dx = -2 x dt + dW, x(0) = 1, T = 1: the error of E[x(T)^2] against its exact value,
  // 1/4 + (3/4) e^-4, estimated from 10^6 paths at three step sizes. The estimates' standard
  // error (~4e-4) is well below the O(dt) bias (0.022, 0.010, 0.005), so the fitted slope of
  // log error against log dt is the scheme's weak order (1.09 from the exact biases).
  const double theta = 2, T = 1, exact = 0.25 + 0.75 * std::exp(-2 * theta * T);
  const Index B = 1000000;
  auto model = test::linear_model<double>("M = [[-2.0]]");
  test::ScaledNoise<double> noise(1.0);
  std::vector<std::uint64_t> ids(static_cast<std::size_t>(B));
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<double> log_dt, log_err;
  for (const double dt : {0.1, 0.05, 0.025}) {
    IntegratorConfig c;
    c.method = Method::euler_maruyama;
    c.dt = dt;
    c.t_end = T;
    Matrix<double> X = Matrix<double>::Ones(1, B);
    Integrator<double>(c, *model, &noise, 2).run(X, ids, NoiseKey{7, 0, 0});
    const double second = X.array().square().mean();
    // The scheme's own second moment, exactly: m_{k+1} = (1 - theta dt) m_k,
    // v_{k+1} = (1 - theta dt)^2 v_k + dt; the estimate must match it within 4 standard errors.
    double m = 1, v = 0;
    for (int k = 0; k < static_cast<int>(std::lround(T / dt)); ++k) {
      m *= 1 - theta * dt;
      v = (1 - theta * dt) * (1 - theta * dt) * v + dt;
    }
    const double se = std::sqrt((2 * v * v + 4 * m * m * v) / double(B));
    INFO("dt " << dt);
    CHECK(std::abs(second - (m * m + v)) < 4 * se);
    log_dt.push_back(std::log(dt));
    log_err.push_back(std::log(std::abs(second - exact)));
  }
  const double mx = (log_dt[0] + log_dt[1] + log_dt[2]) / 3,
               my = (log_err[0] + log_err[1] + log_err[2]) / 3;
  double sxy = 0, sxx = 0;
  for (int i = 0; i < 3; ++i) {
    sxy += (log_dt[i] - mx) * (log_err[i] - my);
    sxx += (log_dt[i] - mx) * (log_dt[i] - mx);
  }
  CHECK(std::abs(sxy / sxx - 1.0) < 0.25);
}

namespace {

// Integrates items 0..63 in batches of `batch` with `threads` threads; returns the final states.
Matrix<double> run_split(Index batch, int threads, std::uint64_t seed) {
  const Index N = 5, items = 64;
  auto model = test::linear_model<double>(
      "M = [[-1,0.2,0,0,0],[0,-1,0.2,0,0],[0,0,-1,0.2,0],[0,0,0,-1,0.2],[0.2,0,0,0,-1]]");
  test::ScaledNoise<double> noise(0.3);
  IntegratorConfig c;
  c.method = Method::euler_maruyama;
  c.dt = 0.01;
  c.t_end = 0.5;
  Integrator<double> integ(c, *model, &noise, threads);
  Matrix<double> all(N, items);
  for (Index start = 0; start < items; start += batch) {
    const Index b = std::min(batch, items - start);
    Matrix<double> X(N, b);
    std::vector<std::uint64_t> ids;
    for (Index j = 0; j < b; ++j) {
      ids.push_back(static_cast<std::uint64_t>(start + j));
      X.col(j).setConstant(0.1 * static_cast<double>(start + j));
    }
    integ.run(X, ids, NoiseKey{seed, 0, 0});
    all.middleCols(start, b) = X;
  }
  return all;
}

bool same_bits(const Matrix<double>& a, const Matrix<double>& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("noise is bit-identical across batch sizes 1 7 64 and thread counts 1 2",
          "[euler_maruyama][reproducibility]") {
  // The normals of items 0..63 at one step, drawn in batches of `batch` with `threads` threads.
  const Index N = 5, items = 64;
  auto draws = [&](Index batch, int threads) {
    Matrix<double> all(N, items);
    for (Index start = 0; start < items; start += batch) {
      const Index b = std::min(batch, items - start);
      std::vector<std::uint64_t> ids;
      for (Index j = 0; j < b; ++j) ids.push_back(static_cast<std::uint64_t>(start + j));
      Matrix<double> xi(N, b);
      Integrator<double>::draw_normals(Random(9, Stream::noise), NoiseKey{9, 1, 0}, ids, 17, xi,
                                       threads);
      all.middleCols(start, b) = xi;
    }
    return all;
  };
  const Matrix<double> ref = draws(64, 1);
  for (Index batch : {1, 7, 64})
    for (int threads : {1, 2}) {
      INFO("batch " << batch << ", threads " << threads);
      CHECK(same_bits(draws(batch, threads), ref));
    }
}

TEST_CASE("a stochastic run repeats bit for bit and only GEMM rounding depends on the batch",
          "[euler_maruyama][reproducibility]") {
  // Same seed, same batch split: the same bits whatever the noise threads.
  const Matrix<double> ref = run_split(7, 1, 9);
  CHECK(same_bits(run_split(7, 2, 9), ref));
  CHECK(same_bits(run_split(7, 1, 9), ref));
  // Another split feeds the same noise to each item; BLAS may round the drift's product
  // differently for another batch width, and nothing more.
  for (Index batch : {1, 64}) CHECK((run_split(batch, 1, 9) - ref).cwiseAbs().maxCoeff() < 1e-12);
  // And the noise really is there: another seed moves every item.
  const Matrix<double> other = run_split(7, 1, 10);
  CHECK((other - ref).cwiseAbs().colwise().maxCoeff().minCoeff() > 1e-6);
}

TEST_CASE("draws depend on every key field", "[euler_maruyama][reproducibility]") {
  const Index N = 6;
  auto draw = [&](std::uint64_t seed, std::uint32_t epoch, std::uint32_t d, std::int64_t step,
                  std::uint64_t item) {
    Matrix<double> xi(N, 1);
    const std::vector<std::uint64_t> id = {item};
    Integrator<double>::draw_normals(Random(seed, Stream::noise), NoiseKey{seed, epoch, d}, id,
                                     step, xi, 1);
    return xi;
  };
  const Matrix<double> base = draw(1, 0, 0, 0, 3);
  CHECK(same_bits(draw(1, 0, 0, 0, 3), base));
  for (const auto& other : {draw(2, 0, 0, 0, 3), draw(1, 1, 0, 0, 3), draw(1, 0, 1, 0, 3),
                            draw(1, 0, 0, 1, 3), draw(1, 0, 0, 0, 4)})
    CHECK((other - base).cwiseAbs().minCoeff() > 0.0);
  // Node values within one draw are distinct too (lanes and blocks of the counter).
  for (Index i = 1; i < N; ++i) CHECK(base(i, 0) != base(0, 0));
}
