// cvfr_hill in the two roles of the generative paper: (1) inside the latent pipeline (encoder ->
// CVFR with projector planting -> decoder), whose training gradient through decoder, discrete
// adjoint and encoder must match central differences; (2) as a small trained model whose
// Euler-Maruyama stationary covariance at an attractor must match the Lyapunov solutions.
#include <catch2/catch.hpp>
#include <cmath>

#include <spdlog/spdlog.h>

#include "analysis/lna.hpp"
#include "analysis/lyapunov.hpp"
#include "latent/latent_model.hpp"
#include "support/helpers.hpp"
#include "train/trainer.hpp"

using namespace dynsim;

namespace {

// The authors' latent layer: projector planting, beta = 1, c = 1/8, lambda = 1.
const std::string kLatentCvfr =
    "n = 6\nclasses = 3\nparameterisation = \"projector\"\nbeta = 1.0\nc = 0.125\n"
    "lambda = [1.0]\npattern = \"block_on\"\n";

}  // namespace

TEST_CASE("latent pipeline: encoder, CVFR adjoint and decoder gradients match finite differences",
          "[latent][adjoint]") {
  auto loss_obj = test::loss_plugin("mse_state");
  auto& loss = test::as_loss<double>(loss_obj);
  for (const std::string act : {"tanh", "sigmoid", "relu"}) {
    INFO("activation " << act);
    auto inner = test::entry_model<double>("cvfr_hill", kLatentCvfr);
    const Options o = test::options_from(
        latent_options(), "dim = 6\nencoder = [5]\ndecoder = [7, 4]\nactivation = \"" + act +
                              "\"\nencoder_output = \"sigmoid\"\nreconstruction_weight = 3.0\n");
    LatentModel<double> model(*inner, 10, o, 3);
    REQUIRE(model.dim() == 6);
    REQUIRE(model.input_dim() == 10);
    // Inner blocks first, then encoder W1 b1 W2 b2, decoder W1 b1 W2 b2 W3 b3.
    const auto params = model.parameters();
    REQUIRE(params.size() == inner->parameters().size() + 4 + 6);
    CHECK(params[inner->parameters().size()].name == "encoder.W1");
    CHECK(params.back().name == "decoder.b3");
    // Biases off zero, so their finite differences see every unit.
    for (auto& p : params)
      if (p.name.find(".b") != std::string::npos)
        p.map() = test::random_matrix(p.rows, p.cols, 17, 0.3);
    FixedStepScheme<double> scheme(Method::euler, 0.1, 0.0, model, nullptr, 1);
    spdlog::logger log("test");
    TrainConfig cfg;
    cfg.batch_size = 4;
    Trainer<double> trainer(cfg, model, loss, scheme, 12, 1, log);
    Matrix<double> in(10, 4);
    Random(5, Stream::data).uniforms(Counter{}, in.data(), in.size());
    const std::vector<int> labels = {0, 1, 2, 1};
    const std::vector<std::uint64_t> ids = {1, 2, 3, 4};
    std::vector<Matrix<double>> grads, scratch;
    const double l = trainer.batch_gradient(in, labels, ids, {}, grads);
    // The loss is the attractor MSE plus the weighted reconstruction error.
    Matrix<double> X(6, 4), XT(6, 4), Y(10, 4), dX(6, 4);
    model.encode(in, X);
    XT = X;
    scheme.run(XT, 0, 12, ids, {});
    model.decode(XT, Y);
    const double attractor = loss.value_and_grad(model, XT, labels, dX);
    CHECK(l == Approx(attractor + 3.0 * (Y - in).squaredNorm() / 40.0).epsilon(1e-12));
    CHECK(test::fd_gradient_error(model, grads, [&] {
            return trainer.batch_gradient(in, labels, ids, {}, scratch);
          }) <= (act == "relu" ? 1e-5 : 1e-6));
  }
}

TEST_CASE("latent pipeline refuses a hidden width of zero", "[latent]") {
  // The option's declared range refuses it with its location; the constructor checks again for
  // code that builds options by hand.
  CHECK_THROWS_WITH(test::options_from(latent_options(), "dim = 6\nencoder = [0]\n"),
                    Catch::Contains("key 'encoder': 0 is out of range"));
  auto inner = test::entry_model<double>("cvfr_hill", kLatentCvfr);
  Options o = test::options_from(latent_options(), "dim = 6\n");
  o.set("encoder", std::vector<std::int64_t>{0}, "test");
  CHECK_THROWS_WITH(LatentModel<double>(*inner, 10, o, 1), Catch::Contains("widths must be >= 1"));
}

TEST_CASE("a trained CVFR's Euler-Maruyama covariance at an attractor matches the LNA",
          "[lna][noise]") {
  // Train a small CVFR for a while on items near its attractors.
  auto model =
      test::entry_model<double>("cvfr_hill", "n = 12\nclasses = 3\npattern = \"block_on\"\n");
  auto loss_obj = test::loss_plugin("mse_state");
  auto& loss = test::as_loss<double>(loss_obj);
  FixedStepScheme<double> train_scheme(Method::euler, 0.1, 0.0, *model, nullptr, 1);
  spdlog::logger log("test");
  TrainConfig cfg;
  cfg.batch_size = 30;
  cfg.optimizer.lr = 0.01;
  Trainer<double> trainer(cfg, *model, loss, train_scheme, 40, 1, log);
  const Matrix<double> xs = model->attractors();
  Matrix<double> in(12, 30);
  std::vector<int> labels;
  std::vector<std::uint64_t> ids;
  for (Index j = 0; j < 30; ++j) {
    labels.push_back(int(j % 3));
    ids.push_back(static_cast<std::uint64_t>(j));
    in.col(j) = xs.col(j % 3) + test::random_matrix(12, 1, unsigned(j + 1), 0.1);
  }
  const Matrix<double> A0 = model->parameters()[0].map();
  for (int step = 0; step < 20; ++step) REQUIRE(trainer.train_step(in, labels, ids, {}).ok);
  REQUIRE((model->parameters()[0].map() - A0).norm() > 0);  // it did train

  const double sigma = 2e-3, dt = 0.1;
  test::ScaledNoise<double> noise(sigma);
  const LnaAttractor a = linear_noise_approximation<double>(*model, noise, 0, 0.0);
  REQUIRE(a.max_real < 0);
  const Matrix<double> Sd = discrete_lna_covariance(a.jacobian, a.diffusion, dt);
  const double bias = (Sd - a.covariance).norm() / a.covariance.norm();
  INFO("max Re " << a.max_real << ", O(dt) bias of the discrete map " << bias);
  // The bias solves J B + B J^T + dt J S_d J^T = 0: first order in dt, a few per cent here.
  CHECK(bias > 0);
  CHECK(bias < 0.2);

  // Chains from the attractor, run for >= 1000 / |max Re| after a burn-in of 20 relaxation
  // times; the covariance is averaged over chains and steps.
  const Index chains = 32, n = 12;
  const auto burn = static_cast<std::int64_t>(20.0 / -a.max_real / dt);
  const auto length = static_cast<std::int64_t>(std::ceil(1000.0 / -a.max_real / dt));
  FixedStepScheme<double> em(Method::euler_maruyama, dt, 0.0, *model, &noise, 1);
  Matrix<double> X = a.mean.replicate(1, chains);
  std::vector<std::uint64_t> chain_ids;
  for (Index j = 0; j < chains; ++j) chain_ids.push_back(static_cast<std::uint64_t>(j));
  const NoiseKey key{9, 1, 0};
  em.run(X, 0, burn, chain_ids, key);
  Matrix<double> sum = Matrix<double>::Zero(n, n), D(n, chains);
  Vector<double> first = Vector<double>::Zero(n);
  for (std::int64_t s = burn; s < burn + length; ++s) {
    em.step(s, X, chain_ids, key);
    D = X.colwise() - a.mean;
    sum.noalias() += D * D.transpose();
    first += D.rowwise().sum();
  }
  const double m = double(length * chains);
  const Vector<double> mean_dev = first / m;
  const Matrix<double> emp = sum / m - mean_dev * mean_dev.transpose();
  const double err_d = (emp - Sd).norm() / Sd.norm();
  const double err_c = (emp - a.covariance).norm() / a.covariance.norm();
  INFO("EM against discrete " << err_d << ", against continuous " << err_c);
  CHECK(err_d <= 0.10);
  CHECK(err_c <= 0.10 + bias);
  // The mean stays at the attractor to O(sigma^2) (the nonlinearity), far below the spread.
  CHECK(mean_dev.norm() <= 0.1 * std::sqrt(a.covariance.trace()));
}
