// The cvfr_hill model: planted states are equilibria for every pattern, alphabet and
// parameterisation; Jacobian, state vjp, parameter gradients (through the LU of Psi or the
// projector) and the orthogonality penalty against central finite differences; option checks.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "plugin_host/registry.hpp"
#include "support/helpers.hpp"
#include "train/trainer.hpp"

using namespace dynsim;

namespace {

template <class S = double>
std::unique_ptr<Model<S>> cvfr(const std::string& toml, std::uint64_t seed = 7, int threads = 1) {
  return test::entry_model<S>("cvfr_hill", toml, seed, threads);
}

std::string cvfr_error(const std::string& toml) {
  return test::input_error_of([&] { cvfr(toml); });
}

using test::random_matrix;

template <class S>
Matrix<S> exported(const Model<S>& m, const std::string& name) {
  for (auto& [n, a] : m.exports())
    if (n == name) return a;
  FAIL("no export named " << name);
  return {};
}

const std::string kSmall = "n = 12\nclasses = 3\n";

// 12 x 3 templates, as rows of N: classes on nodes 0-3, 4-7 and 8-11, with an x_m node each.
const std::string kTemplates =
    "templates = [[1, 1, 1, 1, 0, 0, 0, 0, -1, 0, 0, 0],"
    " [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, -1], [1, 0, 0, 0, 0, -1, 0, 0, 1, 1, 1, 1]]\n";

double drift_max(Model<double>& m, const Matrix<double>& X) {
  Matrix<double> dX(X.rows(), X.cols());
  m.drift(0.0, X, dX);
  return dX.cwiseAbs().maxCoeff();
}

double sum_w_drift(Model<double>& m, const Matrix<double>& X, const Matrix<double>& W) {
  Matrix<double> dX(X.rows(), X.cols());
  m.drift(0.0, X, dX);
  return (W.array() * dX.array()).sum();
}

double rel_err(const Matrix<double>& a, const Matrix<double>& b) {
  return (a - b).norm() / b.norm();
}

// Reproducible inputs: Eigen's Random after a fixed srand.

}  // namespace

TEST_CASE("cvfr_hill x_p and x_m solve the planted fixed point equation", "[cvfr_hill]") {
  for (const std::string lam : {"lambda = [1.0]", "lambda = [1.0, 1.5, 2.0]"}) {
    auto m = cvfr(kSmall + "alphabet = \"0mp\"\n" + lam + "\n");
    const double n = 12, c = 0.125 / n, beta = 1.0 / std::sqrt(n);
    const auto alphabet = m->state_alphabet();
    REQUIRE(alphabet.size() == (lam == "lambda = [1.0]" ? 3u : 7u));
    const std::vector<double> lambdas =
        lam == "lambda = [1.0]" ? std::vector<double>{1.0} : std::vector<double>{1.0, 1.5, 2.0};
    for (double x : alphabet) {
      if (x == 0) continue;
      bool solves = false;  // some planted eigenvalue makes x a fixed point
      for (double l : lambdas)
        solves = solves || std::abs(x - beta * l * x * x / (c + x * x)) < 1e-14;
      CHECK(solves);
    }
  }
  // Authors' defaults: f(x_p) = (1 + sqrt(1/2)) / 2 for every N.
  auto m = cvfr(kSmall);
  const Matrix<double> act = exported(*m, "activity_patterns");
  CHECK(act.maxCoeff() == Approx((1 + std::sqrt(0.5)) / 2).epsilon(1e-12));
  CHECK(exported(*m, "attractors").maxCoeff() ==
        Approx((1 + std::sqrt(0.5)) / (2 * std::sqrt(12.0))).epsilon(1e-12));
}

TEST_CASE("cvfr_hill planted states are equilibria for every pattern and form", "[cvfr_hill]") {
  for (const std::string form : {"spectral", "projector"})
    for (const std::string pattern : {"block_off", "block_on", "random", "binary", "templates"})
      for (const std::string alphabet : {"0p", "0mp"})
        for (const std::string lam : {"[1.0]", "[1.0, 1.2, 1.4]"}) {
          if (pattern == "binary" && lam != "[1.0]") continue;  // shared eigenspace: one lambda
          INFO(form << " " << pattern << " " << alphabet << " lambda " << lam);
          auto m = cvfr(kSmall + "parameterisation = \"" + form + "\"\npattern = \"" + pattern +
                        "\"\nalphabet = \"" + alphabet + "\"\nlambda = " + lam + "\n" +
                        (pattern == "templates" ? kTemplates : ""));
          const Matrix<double> xs = m->attractors();
          REQUIRE(xs.rows() == 12);
          REQUIRE(xs.cols() == 3);
          for (Index k = 0; k < 3; ++k) CHECK(xs.col(k).cwiseAbs().maxCoeff() > 0);
          CHECK(drift_max(*m, xs) <= 1e-10);
          // Every entry of a planted state is in the alphabet.
          const auto alpha = m->state_alphabet();
          for (Index i = 0; i < xs.size(); ++i) {
            bool in = false;
            for (double a : alpha) in = in || a == xs(i);
            CHECK(in);
          }
        }
}

TEST_CASE("cvfr_hill binary code plants its blocks so unions are equilibria too", "[cvfr_hill]") {
  // K = 3 in base 2 over 2 blocks of 6: classes 01 10 11; the block indicators are planted.
  auto m = cvfr(kSmall + "pattern = \"binary\"\n");
  const Matrix<double> xs = m->attractors();
  CHECK(xs.col(0).head(6).minCoeff() > 0);
  CHECK(xs.col(0).tail(6).maxCoeff() == 0);
  CHECK(xs.col(1).head(6).maxCoeff() == 0);
  CHECK(xs.col(2).minCoeff() > 0);
  CHECK(m->parameters()[0].cols == 10);  // N minus 2 planted block eigenvectors
  CHECK(drift_max(*m, xs) <= 1e-10);
  // Per-class lambda cannot share the block eigenspace.
  CHECK_THAT(cvfr_error(kSmall + "pattern = \"binary\"\nlambda = [1.0, 1.1, 1.2]\n"),
             Catch::Contains("'lambda'") && Catch::Contains("shared lambda"));
}

TEST_CASE("cvfr_hill jacobian matches central differences of the drift", "[cvfr_hill]") {
  for (const std::string form : {"spectral", "projector"}) {
    auto m = cvfr(kSmall + "parameterisation = \"" + form + "\"\n");
    const Matrix<double> x = random_matrix(12, 1, 3, 0.4);
    Matrix<double> J(12, 12), fd(12, 12);
    m->jacobian(0.0, x.col(0), J);
    const double h = 1e-6;
    for (Index j = 0; j < 12; ++j) {
      Matrix<double> xp = x, xm = x, dp(12, 1), dm(12, 1);
      xp(j) += h;
      xm(j) -= h;
      m->drift(0.0, xp, dp);
      m->drift(0.0, xm, dm);
      fd.col(j) = (dp - dm) / (2 * h);
    }
    INFO(form);
    CHECK(rel_err(J, fd) < 1e-6);
    CHECK(m->has_jacobian());
  }
}

TEST_CASE("cvfr_hill drift_vjp gives J^T adj for every item", "[cvfr_hill]") {
  for (const std::string form : {"spectral", "projector"}) {
    auto m = cvfr(kSmall + "parameterisation = \"" + form + "\"\n");
    const Matrix<double> X = random_matrix(12, 4, 4, 0.4), adj = random_matrix(12, 4, 5, 1.0);
    Matrix<double> adj_x(12, 4), J(12, 12);
    std::vector<Matrix<double>> acc = {Matrix<double>::Zero(12, 12)};
    m->drift_vjp(0.0, X, adj, adj_x, acc);
    for (Index b = 0; b < 4; ++b) {
      m->jacobian(0.0, X.col(b), J);
      CHECK((adj_x.col(b) - J.transpose() * adj.col(b)).norm() <=
            1e-12 * adj_x.col(b).norm() + 1e-14);
    }
  }
}

TEST_CASE("cvfr_hill parameter gradients match central differences", "[cvfr_hill]") {
  for (const std::string form : {"spectral", "projector"})
    for (const std::string extra :
         {"", "alphabet = \"0mp\"\nlambda = [1.0, 1.3, 1.6]\n", "pattern = \"binary\"\n"}) {
      INFO(form << " " << extra);
      auto m = cvfr(kSmall + "parameterisation = \"" + form + "\"\n" + extra);
      const Matrix<double> X = random_matrix(12, 4, 11, 0.4), W = random_matrix(12, 4, 12, 1.0);

      std::vector<Matrix<double>> acc;
      for (auto [r, c] : m->accumulator_shapes()) acc.push_back(Matrix<double>::Zero(r, c));
      REQUIRE(acc.size() == 1);
      Matrix<double> adj_x(12, 4);
      m->drift_vjp(0.0, X, W, adj_x, acc);
      m->flush_accumulators(acc);
      std::vector<Matrix<double>> grads;
      m->finish_gradients(acc, grads);

      auto params = m->parameters();
      REQUIRE(params.size() == grads.size());
      REQUIRE(params.size() == (form == "spectral" ? 2u : 1u));
      const double h = 1e-6;
      for (std::size_t p = 0; p < params.size(); ++p) {
        auto v = params[p].map();
        REQUIRE(grads[p].rows() == v.rows());
        REQUIRE(grads[p].cols() == v.cols());
        Matrix<double> fd(v.rows(), v.cols());
        for (Index i = 0; i < v.size(); ++i) {
          const double keep = v(i);
          v(i) = keep + h;
          m->parameters_changed();
          const double lp = sum_w_drift(*m, X, W);
          v(i) = keep - h;
          m->parameters_changed();
          const double lm = sum_w_drift(*m, X, W);
          v(i) = keep;
          m->parameters_changed();
          fd(i) = (lp - lm) / (2 * h);
        }
        INFO(params[p].name << " rel err " << rel_err(grads[p], fd));
        CHECK(rel_err(grads[p], fd) <= 1e-6);
      }
    }
}

TEST_CASE("cvfr_hill orthogonality penalty gradient matches central differences", "[cvfr_hill]") {
  auto m = cvfr(kSmall + "ortho_penalty = 0.5\n");
  auto params = m->parameters();
  // The init is orthogonal, where |cos| has its kink: move away from it first.
  params[0].map() += random_matrix(params[0].rows, params[0].cols, 31, 0.3);
  m->parameters_changed();
  std::vector<Matrix<double>> grads;
  for (const auto& p : params) grads.push_back(Matrix<double>::Zero(p.rows, p.cols));
  const double value = m->regularize(grads);
  CHECK(value > 0);
  CHECK(grads[1].norm() == 0);  // eigenvalues do not enter the penalty

  auto penalty = [&] {
    std::vector<Matrix<double>> scratch;
    for (const auto& p : params) scratch.push_back(Matrix<double>::Zero(p.rows, p.cols));
    return m->regularize(scratch);
  };
  // The value: 0.5 * mean over pairs of |cos|.
  const Matrix<double> u = params[0].map();
  double sum = 0;
  int pairs = 0;
  for (Index i = 0; i < u.cols(); ++i)
    for (Index j = i + 1; j < u.cols(); ++j, ++pairs)
      sum += std::abs(u.col(i).dot(u.col(j))) / (u.col(i).norm() * u.col(j).norm());
  CHECK(value == Approx(0.5 * sum / pairs).epsilon(1e-12));

  auto v = params[0].map();
  Matrix<double> fd(v.rows(), v.cols());
  const double h = 1e-6;
  for (Index i = 0; i < v.size(); ++i) {
    const double keep = v(i);
    v(i) = keep + h;
    const double lp = penalty();
    v(i) = keep - h;
    const double lm = penalty();
    v(i) = keep;
    fd(i) = (lp - lm) / (2 * h);
  }
  CHECK(rel_err(grads[0], fd) <= 1e-6);

  // Projector form and a zero penalty add nothing.
  for (const std::string& toml :
       {kSmall + "parameterisation = \"projector\"\northo_penalty = 0.5\n", kSmall}) {
    auto other = cvfr(toml);
    std::vector<Matrix<double>> g;
    for (const auto& p : other->parameters()) g.push_back(Matrix<double>::Zero(p.rows, p.cols));
    CHECK(other->regularize(g) == 0);
    for (const auto& b : g) CHECK(b.norm() == 0);
  }
}

TEST_CASE("cvfr_hill readout is the activity and its vjp the derivative", "[cvfr_hill]") {
  auto m = cvfr(kSmall);
  const Matrix<double> X = random_matrix(12, 4, 21, 0.4), dY = random_matrix(12, 4, 22, 1.0);
  Matrix<double> Y(12, 4), dX(12, 4), Yp(12, 4), Ym(12, 4);
  m->readout(X, Y);
  const double c = 0.125 / 12;
  CHECK(Y(3, 2) == Approx(X(3, 2) * X(3, 2) / (c + X(3, 2) * X(3, 2))));
  m->readout_vjp(X, dY, dX);
  const double h = 1e-6;
  m->readout((X.array() + h).matrix(), Yp);
  m->readout((X.array() - h).matrix(), Ym);
  CHECK(rel_err(dX, ((Yp - Ym) / (2 * h)).cwiseProduct(dY)) < 1e-6);
  CHECK(m->readout_dim() == 12);
}

TEST_CASE("cvfr_hill exports and the condition number of Psi", "[cvfr_hill]") {
  auto m = cvfr(kSmall);
  for (const char* name : {"psi", "lambda", "A", "attractors", "activity_patterns"})
    CHECK_NOTHROW(exported(*m, name));
  const Matrix<double> psi = exported(*m, "psi"), lam = exported(*m, "lambda"),
                       A = exported(*m, "A");
  CHECK(lam.rows() == 12);
  CHECK(lam.cols() == 1);
  CHECK(lam.topRows(3).isApproxToConstant(1.0));
  CHECK(lam.bottomRows(9).cwiseAbs().maxCoeff() <= 0.4);
  // A Psi = Psi Lambda: every column of Psi is an eigenvector.
  CHECK((A * psi - psi * lam.col(0).asDiagonal()).norm() <= 1e-10 * psi.norm());
  CHECK(psi.leftCols(3) == exported(*m, "activity_patterns"));
  const double cond = exported(*m, "psi_condition")(0, 0);
  CHECK(cond >= 1);
  CHECK(cond < 1e4);
  // The resolved constants (defaults c = c_scale / N, beta = 1 / sqrt(N), N = 12).
  CHECK(exported(*m, "c")(0, 0) == Approx(0.125 / 12).epsilon(1e-15));
  CHECK(exported(*m, "beta")(0, 0) == Approx(1 / std::sqrt(12.0)).epsilon(1e-15));

  auto p = cvfr(kSmall + "parameterisation = \"projector\"\n");
  CHECK_NOTHROW(exported(*p, "a"));
  CHECK_NOTHROW(exported(*p, "M"));
  CHECK(exported(*p, "psi_condition")(0, 0) >= 1);
}

TEST_CASE("cvfr_hill initialisation follows the seed and the options", "[cvfr_hill]") {
  auto a = cvfr(kSmall, 1), b = cvfr(kSmall, 1), c = cvfr(kSmall, 2);
  CHECK(exported(*a, "psi") == exported(*b, "psi"));
  CHECK(exported(*a, "psi") != exported(*c, "psi"));
  // Free columns: orthonormal columns times init_gain.
  const Matrix<double> u = a->parameters()[0].map();
  CHECK((u.transpose() * u).isApprox(1.69 * Matrix<double>::Identity(9, 9), 1e-12));
  // Normal eigenvalues N(-5, 0.01^2).
  auto n = cvfr(kSmall + "eig_init = \"normal\"\neig_a = -5.0\neig_b = 0.01\n");
  const Matrix<double> lam = n->parameters()[1].map();
  CHECK(std::abs(lam.mean() + 5) < 0.05);
  // Random patterns depend on pattern_seed only, not on the run's seed.
  auto r1 = cvfr(kSmall + "pattern = \"random\"\n", 1);
  auto r2 = cvfr(kSmall + "pattern = \"random\"\n", 2);
  auto r3 = cvfr(kSmall + "pattern = \"random\"\npattern_seed = 9\n", 1);
  CHECK(r1->attractors() == r2->attractors());
  CHECK(r1->attractors() != r3->attractors());
}

TEST_CASE("cvfr_hill in single precision keeps its planted states", "[cvfr_hill]") {
  auto m = cvfr<float>(kSmall);
  const Matrix<float> xs = m->attractors();
  Matrix<float> dX(12, 3);
  m->drift(0.0f, xs, dX);
  CHECK(dX.cwiseAbs().maxCoeff() < 1e-5f);
}

TEST_CASE("cvfr_hill rejects invalid options naming the key", "[cvfr_hill]") {
  CHECK_THAT(cvfr_error(kSmall + "c = 1.0\n"),
             Catch::Contains("option 'c'") && Catch::Contains("> 4c"));
  CHECK_THAT(cvfr_error(kSmall + "c_scale = 2.0\n"), Catch::Contains("option 'lambda'"));
  CHECK_THAT(cvfr_error(kSmall + "lambda = [1.0, 2.0]\n"), Catch::Contains("option 'lambda'"));
  CHECK_THAT(cvfr_error("n = 4\nclasses = 4\n"),
             Catch::Contains("option 'classes'") && Catch::Contains("smaller than N"));
  CHECK_THAT(cvfr_error("classes = 3\n"), Catch::Contains("option 'n'"));
  CHECK_THAT(cvfr_error("n = 12\n"), Catch::Contains("option 'classes'"));
  CHECK_THAT(cvfr_error(kSmall + "pattern = \"templates\"\n"),
             Catch::Contains("option 'templates'"));
  CHECK_THAT(cvfr_error(kSmall + "pattern = \"templates\"\ntemplates = [[1, 1], [1, 0], [0, 1]]\n"),
             Catch::Contains("option 'templates'") && Catch::Contains("expected N = 12"));
  CHECK_THAT(cvfr_error(kSmall + "pattern = \"templates\"\ntemplates = [[1, 1, 1, 1, 1, 1, 1, 1, "
                                 "1, 1, 1, 1]]\n"),
             Catch::Contains("option 'templates'") && Catch::Contains("K = 3"));
  // Dependent templates: the third row is the sum of the first two.
  CHECK_THAT(cvfr_error(kSmall + "pattern = \"templates\"\n" +
                        "templates = [[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],"
                        " [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0],"
                        " [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]]\n"),
             Catch::Contains("option 'pattern'") && Catch::Contains("linearly dependent"));
  CHECK_THAT(cvfr_error(kSmall + "pattern = \"random\"\ndensity = 1.0\n"),
             Catch::Contains("option 'density'"));
  CHECK_THAT(cvfr_error(kSmall + "eig_a = 1.0\neig_b = 0.0\n"), Catch::Contains("option 'eig_b'"));
  // Checked by the host from the declared ranges.
  CHECK_THAT(cvfr_error(kSmall + "alphabet = \"pm\"\n"), Catch::Contains("alphabet"));
  CHECK_THAT(cvfr_error(kSmall + "ortho_penalty = -1.0\n"), Catch::Contains("ortho_penalty"));
}

// ---- Training gradients: the whole discrete adjoint with the real loss plugins ----

namespace {

// Largest per-block relative error of the adjoint gradient against central differences.
double training_gradient_error(const std::string& form, Loss<double>& loss, Method method,
                               PluginObject* noise_obj = nullptr) {
  auto model = cvfr(kSmall + "pattern = \"block_on\"\nparameterisation = \"" + form + "\"\n" +
                    (form == "spectral" ? "ortho_penalty = 0.004\n" : ""));
  if (form == "spectral") {
    // Off the orthogonal init, where |cos| has its kink, as training leaves it.
    model->parameters()[0].map() += random_matrix(12, 9, 5, 0.2);
    model->parameters_changed();
    REQUIRE(exported(*model, "psi_condition")(0, 0) < 1e3);
  }
  auto* noise = static_cast<NoiseLaw<double>*>(noise_obj);
  if (noise) noise->bind(*model);
  FixedStepScheme<double> scheme(method, 0.1, 0.0, *model, noise, 1);
  spdlog::logger log("test");
  TrainConfig cfg;
  cfg.batch_size = 4;
  Trainer<double> trainer(cfg, *model, loss, scheme, 10, 1, log);
  Matrix<double> in(12, 4);
  Random(11, Stream::data).uniforms(Counter{}, in.data(), in.size());
  const std::vector<int> labels = {0, 1, 2, 1};
  const std::vector<std::uint64_t> ids = {1, 2, 3, 4};
  std::vector<Matrix<double>> grads, scratch;
  trainer.batch_gradient(in, labels, ids, {}, grads);
  INFO(form);
  return test::fd_gradient_error(
      *model, grads, [&] { return trainer.batch_gradient(in, labels, ids, {}, scratch); });
}

}  // namespace

TEST_CASE("cvfr_hill training gradients match finite differences for both forms and losses",
          "[cvfr_hill][adjoint]") {
  for (const std::string loss_name : {"mse_state", "mse_activity"}) {
    auto obj = test::loss_plugin(loss_name);
    auto& loss = *static_cast<Loss<double>*>(obj.get());
    for (const std::string form : {"spectral", "projector"})
      for (Method m : {Method::euler, Method::rk4}) {
        INFO(loss_name << " " << form << " " << method_name(m));
        CHECK(training_gradient_error(form, loss, m) <= 1e-6);
      }
  }
}

TEST_CASE("cvfr_hill fused Euler steps equal the drift path, with the gradient panel flushed",
          "[cvfr_hill][adjoint]") {
  auto obj = test::loss_plugin("mse_activity");
  auto& loss = *static_cast<Loss<double>*>(obj.get());
  for (const std::string form : {"spectral", "projector"}) {
    INFO(form);
    auto model = cvfr(kSmall + "pattern = \"block_on\"\nparameterisation = \"" + form + "\"\n");
    FixedStepScheme<double> scheme(Method::euler, 0.01, 0.0, *model, nullptr, 1);
    spdlog::logger log("test");
    TrainConfig cfg;
    cfg.batch_size = 4;
    // 600 steps x 4 items = 2400 panel columns: the panel fills and is flushed mid-pass.
    Trainer<double> trainer(cfg, *model, loss, scheme, 600, 1, log);
    Matrix<double> in(12, 4);
    Random(3, Stream::data).uniforms(Counter{}, in.data(), in.size());
    const std::vector<int> labels = {0, 1, 2, 0};
    const std::vector<std::uint64_t> ids = {1, 2, 3, 4};
    std::vector<Matrix<double>> fused, plain;
    const double lf = trainer.batch_gradient(in, labels, ids, {}, fused);
    Matrix<double> xf = in;
    scheme.run(xf, 0, 600, ids, {});
    scheme.set_fused(false);
    const double lp = trainer.batch_gradient(in, labels, ids, {}, plain);
    Matrix<double> xp = in;
    scheme.run(xp, 0, 600, ids, {});
    CHECK(std::abs(lf - lp) <= 1e-12 * std::abs(lp));
    CHECK((xf - xp).norm() <= 1e-12 * xp.norm());
    REQUIRE(fused.size() == plain.size());
    for (std::size_t p = 0; p < plain.size(); ++p) {
      CHECK(plain[p].norm() > 0);
      CHECK((fused[p] - plain[p]).norm() <= 1e-10 * plain[p].norm());
    }
  }
}

TEST_CASE("cvfr_hill elementwise passes split across threads cover every column", "[cvfr_hill]") {
  // 256 x 301 entries: large enough for two threads, with an odd column count.
  const std::string toml = "n = 256\nclasses = 4\n";
  auto one = cvfr(toml, 7, 1), two = cvfr(toml, 7, 2);
  const Matrix<double> X = random_matrix(256, 301, 8, 0.3), W = random_matrix(256, 301, 9, 1.0);
  Matrix<double> d1(256, 301), d2(256, 301), a1 = W, a2 = W, x1 = X, x2 = X;
  one->drift(0.0, X, d1);
  two->drift(0.0, X, d2);
  CHECK(d1 == d2);
  one->euler_step(0.0, 0.1, x1);
  two->euler_step(0.0, 0.1, x2);
  CHECK(x1 == x2);
  std::vector<Matrix<double>> acc1 = {Matrix<double>::Zero(256, 256)}, acc2 = acc1;
  one->euler_step_vjp(0.0, 0.1, X, a1, acc1);
  two->euler_step_vjp(0.0, 0.1, X, a2, acc2);
  one->flush_accumulators(acc1);
  two->flush_accumulators(acc2);
  CHECK(a1 == a2);
  CHECK(acc1[0] == acc2[0]);
  CHECK(acc1[0].norm() > 0);
}

TEST_CASE("cvfr_hill with attractor_damped noise: exact gradients for a fixed realisation",
          "[cvfr_hill][adjoint][noise]") {
  auto loss_obj = test::loss_plugin("mse_activity");
  auto& loss = *static_cast<Loss<double>*>(loss_obj.get());
  Registry reg;
  reg.load_directories({DYNSIM_PLUGIN_DIR});
  const PluginRecord& rec = reg.find(PluginKind::noise, "attractor_damped");
  for (const std::string formula : {"geometric_mean", "paper_eq8"}) {
    INFO(formula);
    auto noise = rec.factory->create(
        Precision::f64,
        test::options_from(rec.factory->options(),
                           "sigma = 0.5\nkappa = 3.0\nformula = \"" + formula + "\""),
        Context{});
    CHECK(training_gradient_error("spectral", loss, Method::euler_maruyama, noise.get()) <= 1e-6);
  }
}

// ---- bf16 operands (scenario.precision = "bf16") ----

namespace {

double bf(double x) {
  return blas::bf16_value(static_cast<float>(x));
}

// The model's own f(x) in float, as the bf16 pass computes it before rounding.
float hill_f(float x, float c) {
  const float xx = x * x;
  return xx / (c + xx);
}

}  // namespace

TEST_CASE("cvfr_hill bf16: the products take rounded operands and the adjoint is exact for them",
          "[cvfr_hill][bf16]") {
  const Index n = 48, b = 5;
  for (const std::string form : {"spectral", "projector"}) {
    INFO(form);
    const std::string opts =
        "n = 48\nclasses = 4\npattern = \"block_on\"\nparameterisation = \"" + form + "\"\n";
    auto m32 = cvfr<float>(opts);
    auto m16 = test::entry_model<float>("cvfr_hill", opts, 7, 1, Precision::bf16);
    const Matrix<double> A = exported(*m16, form == "spectral" ? "A" : "M").cast<double>();
    CHECK(A == exported(*m32, form == "spectral" ? "A" : "M").cast<double>());
    const float c = exported(*m16, "c")(0, 0), beta = exported(*m16, "beta")(0, 0);
    const Matrix<float> X = random_matrix(n, b, 21, 0.8).cast<float>();
    const Matrix<float> W = random_matrix(n, b, 22, 1.0).cast<float>();
    const Matrix<double> Ab = A.unaryExpr(&bf);
    const Matrix<double> Fb =
        X.unaryExpr([&](float x) { return blas::bf16_value(hill_f(x, c)); }).cast<double>();

    // Forward: -X + beta bf16(M) bf16(f(X)), summed in fp32.
    Matrix<float> d16(n, b), d32(n, b);
    m16->drift(0.0f, X, d16);
    m32->drift(0.0f, X, d32);
    const Matrix<double> ref = -X.cast<double>() + double(beta) * Ab * Fb;
    CHECK(rel_err(d16.cast<double>(), ref) < 1e-5);
    // The rounding is really there, and small.
    const double gap = rel_err(d16.cast<double>(), d32.cast<double>());
    CHECK(gap > 1e-4);
    CHECK(gap < 2e-2);

    // The fused Euler step is the drift path.
    Matrix<float> xe = X;
    m16->euler_step(0.0f, 0.1f, xe);
    CHECK(rel_err(xe.cast<double>(), (X + 0.1f * d16).cast<double>()) < 1e-5);

    // Adjoint: -W + beta f'(X) (bf16(M)^T bf16(W)); dL/dM = bf16(beta W) bf16(f(X))^T.
    std::vector<Matrix<float>> acc = {Matrix<float>::Zero(n, n)};
    Matrix<float> adj_x(n, b);
    m16->drift_vjp(0.0f, X, W, adj_x, acc);
    m16->flush_accumulators(acc);
    const Matrix<double> fp = X.unaryExpr([&](float x) {
                                 const double den = double(c) + double(x) * x;
                                 return 2.0 * c * x / (den * den);
                               }).cast<double>();
    const Matrix<double> adj_ref =
        -W.cast<double>() +
        (double(beta) * fp.array() * (Ab.transpose() * W.cast<double>().unaryExpr(&bf)).array())
            .matrix();
    CHECK(rel_err(adj_x.cast<double>(), adj_ref) < 1e-5);
    const Matrix<double> u =
        (beta * W).unaryExpr([](float v) { return blas::bf16_value(v); }).cast<double>();
    CHECK(rel_err(acc[0].cast<double>(), u * Fb.transpose()) < 1e-5);
  }
}

TEST_CASE("cvfr_hill bf16 training gradient agrees with differences of its own forward",
          "[cvfr_hill][bf16][adjoint]") {
  // The rounded forward is a staircase in the parameters (a step wherever an entry of M or
  // f(X) crosses a bf16 rounding boundary), so the derivative is measured as the slope of a fit
  // over a wide symmetric interval, with N and B large enough that the steps average out.
  const Index n = 200, b = 32;
  auto model = test::entry_model<float>(
      "cvfr_hill", "n = 200\nclasses = 4\npattern = \"block_on\"\northo_penalty = 0.004\n", 7, 1,
      Precision::bf16);
  auto obj = test::loss_plugin("mse_activity", Precision::f32);
  auto& loss = test::as_loss<float>(obj);
  FixedStepScheme<float> scheme(Method::euler, 0.1f, 0.0f, *model, nullptr, 1);
  spdlog::logger log("test");
  TrainConfig cfg;
  cfg.batch_size = b;
  Trainer<float> trainer(cfg, *model, loss, scheme, 10, 1, log);
  Matrix<float> in(n, b);
  Random(5, Stream::data).uniforms(Counter{}, in.data(), in.size());
  std::vector<int> labels;
  std::vector<std::uint64_t> ids;
  for (Index j = 0; j < b; ++j) {
    labels.push_back(static_cast<int>(j % 4));
    ids.push_back(static_cast<std::uint64_t>(j + 1));
  }
  std::vector<Matrix<float>> grads, scratch;
  trainer.batch_gradient(in, labels, ids, {}, grads);

  // Along a few random directions over all parameter blocks: <g, d> against central differences.
  auto params = model->parameters();
  std::vector<double> adjoint, fitted;
  for (unsigned dir = 0; dir < 3; ++dir) {
    std::vector<Matrix<float>> d, keep;
    double gd = 0, dnorm = 0;
    for (std::size_t p = 0; p < params.size(); ++p) {
      d.push_back(
          random_matrix(params[p].rows, params[p].cols, 40 + dir * 7 + p, 1.0).cast<float>());
      keep.push_back(params[p].map());
      gd += (grads[p].cast<double>().array() * d[p].cast<double>().array()).sum();
      dnorm += d[p].squaredNorm();
    }
    // The slope of a least-squares fit of L(t) over 41 symmetric points in [-H, H]: the
    // rounding makes L a staircase at small t, so one pair of close points measures its steps.
    const double H = 0.05 / std::sqrt(dnorm / double(n));
    auto loss_at = [&](double t) {
      for (std::size_t p = 0; p < params.size(); ++p)
        params[p].map() = keep[p] + static_cast<float>(t) * d[p];
      model->parameters_changed();
      return static_cast<double>(trainer.batch_gradient(in, labels, ids, {}, scratch));
    };
    // Odd part of L(t) = a + b t + c t^2 + e t^3 + ...: least squares on {t, t^3} (the even
    // terms drop out on symmetric points), so the curvature at this wide H does not bias b.
    Eigen::Matrix2d ata = Eigen::Matrix2d::Zero();
    Eigen::Vector2d atl = Eigen::Vector2d::Zero();
    for (int i = -20; i <= 20; ++i) {
      const double t = H * i / 20.0;
      const Eigen::Vector2d row(t / H, std::pow(t / H, 3));
      ata += row * row.transpose();
      atl += row * loss_at(t);
    }
    const double fd = ata.ldlt().solve(atl)(0) / H;
    loss_at(0.0);
    adjoint.push_back(gd);
    fitted.push_back(fd);
  }
  // Within 3 % of the directional derivatives' typical size (the f32 path, same fit: within
  // 1.6 %; the bf16 staircase adds the rest).
  double rms = 0;
  for (double g : adjoint) rms += g * g / double(adjoint.size());
  rms = std::sqrt(rms);
  for (std::size_t i = 0; i < adjoint.size(); ++i) {
    INFO("direction " << i << ": adjoint " << adjoint[i] << ", differences " << fitted[i]);
    CHECK(std::abs(adjoint[i] - fitted[i]) <= 0.03 * rms);
  }
}
