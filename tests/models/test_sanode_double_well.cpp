// The sanode_double_well model: planted states are equilibria and stable by construction; the
// Jacobian, the state vjp and the training gradients (through Psi, lambda and gamma, with and
// without state clipping, fused and plain Euler, RK4) against central finite differences; the
// eigenvalue bound holds after every optimizer step and every planted state of a trained model
// is stable; option checks.
#include <Eigen/Eigenvalues>
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
std::unique_ptr<Model<S>> sanode(const std::string& toml, std::uint64_t seed = 7, int threads = 1) {
  return test::entry_model<S>("sanode_double_well", toml, seed, threads);
}

std::string sanode_error(const std::string& toml) {
  return test::input_error_of([&] { sanode(toml); });
}

using test::random_matrix;

double well_exported(const Model<double>& m, const std::string& name) {
  for (auto& [n, a] : m.exports())
    if (n == name) return a(0, 0);
  FAIL("no export named " << name);
  return 0;
}

Vector<double> lambdas(const Model<double>& m) {
  for (auto& [n, a] : m.exports())
    if (n == "lambda") return a;
  FAIL("no lambda export");
  return {};
}

double max_real_eigenvalue(const Matrix<double>& J) {
  return Eigen::EigenSolver<Matrix<double>>(J, false).eigenvalues().real().maxCoeff();
}

const std::string kSmallWell = "n = 12\nclasses = 3\n";

}  // namespace

TEST_CASE("sanode planted states are stable equilibria for every pattern", "[sanode]") {
  const std::string templates =
      "templates = [[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0],"
      " [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]]\n";
  for (const std::string pattern : {"block_off", "block_on", "random", "templates"}) {
    INFO(pattern);
    auto m = sanode(kSmallWell + "pattern = \"" + pattern + "\"\n" +
                    (pattern == "templates" ? templates : "") + "eig_a = 1.0\n");
    const Matrix<double> xs = m->attractors();
    REQUIRE(xs.cols() == 3);
    CHECK(xs.cwiseAbs().minCoeff() == Approx(0.5));  // every node in a well, at -a or +a
    Matrix<double> d(12, 3);
    m->drift(0.0, xs, d);
    CHECK(d.cwiseAbs().maxCoeff() <= 1e-12);
    // J = -8 gamma a^2 I + beta A at every planted state: eigenvalues -0.8 + beta lambda_j.
    const double beta = well_exported(*m, "beta"), bound = well_exported(*m, "eigenvalue_bound");
    CHECK(bound == Approx(8 * 0.4 * 0.25 / beta - 0.1));
    CHECK(lambdas(*m).maxCoeff() <= bound);
    for (Index k = 0; k < 3; ++k) {
      Matrix<double> J(12, 12);
      m->jacobian(0.0, xs.col(k), J);
      const double top = max_real_eigenvalue(J);
      CHECK(top < 0);
      CHECK(top == Approx(-0.8 + beta * lambdas(*m).maxCoeff()).margin(1e-9));
    }
  }
}

TEST_CASE("sanode default pattern: +a with a block of N/(K+2) nodes at -a", "[sanode]") {
  auto m = sanode("n = 14\nclasses = 3\n");
  const Matrix<double> xs = m->attractors();
  for (Index k = 0; k < 3; ++k)
    for (Index i = 0; i < 14; ++i) CHECK(xs(i, k) == (i / 2 == k ? -0.5 : 0.5));
}

TEST_CASE("sanode jacobian and drift_vjp match central differences, clipped or not", "[sanode]") {
  for (const std::string clip : {"0.0", "1.5"}) {
    INFO("clip " << clip);
    auto m = sanode(kSmallWell + "clip = " + clip + "\n");
    // Nodes up to 1.2 in size: with clip 1.5 (|x| <= 0.75) some are clamped, none at the kink.
    Matrix<double> x = random_matrix(12, 1, 3, 1.2);
    Matrix<double> J(12, 12), fd(12, 12);
    m->jacobian(0.0, x.col(0), J);
    for (Index j = 0; j < 12; ++j) {
      const double h = 1e-6;
      Matrix<double> up = x, down = x, fu(12, 1), fdn(12, 1);
      up(j, 0) += h;
      down(j, 0) -= h;
      m->drift(0.0, up, fu);
      m->drift(0.0, down, fdn);
      fd.col(j) = (fu - fdn) / (2 * h);
    }
    CHECK((J - fd).norm() <= 1e-7 * J.norm());
    if (clip != "0.0") CHECK(J.colwise().norm().minCoeff() == 0);  // a clamped node
    const Matrix<double> X = random_matrix(12, 5, 4, 1.2), adj = random_matrix(12, 5, 5, 1.0);
    Matrix<double> ax(12, 5);
    std::vector<Matrix<double>> acc = {Matrix<double>::Zero(12, 12), Matrix<double>::Zero(1, 1)};
    m->drift_vjp(0.0, X, adj, ax, acc);
    for (Index j = 0; j < 5; ++j) {
      m->jacobian(0.0, X.col(j), J);
      CHECK((ax.col(j) - J.transpose() * adj.col(j)).norm() <= 1e-12 * ax.col(j).norm());
    }
  }
}

namespace {

struct Setup {
  std::unique_ptr<Model<double>> model;
  std::unique_ptr<FixedStepScheme<double>> scheme;
  spdlog::logger log{"test"};
  std::unique_ptr<Trainer<double>> trainer;
  Matrix<double> in;
  std::vector<int> labels = {0, 1, 2, 1};
  std::vector<std::uint64_t> ids = {1, 2, 3, 4};
};

void setup(Setup& s, const std::string& toml, Loss<double>& loss, Method method, double lr = 0.01,
           std::int64_t steps = 10) {
  s.model = sanode(kSmallWell + toml);
  s.scheme = std::make_unique<FixedStepScheme<double>>(method, 0.1, 0.0, *s.model, nullptr, 1);
  TrainConfig cfg;
  cfg.batch_size = 4;
  cfg.optimizer.lr = lr;
  s.trainer = std::make_unique<Trainer<double>>(cfg, *s.model, loss, *s.scheme, steps, 1, s.log);
  s.in.resize(12, 4);
  Random(11, Stream::data).uniforms(Counter{}, s.in.data(), s.in.size());
}

// Largest per-block relative error of the adjoint gradient against central differences.
double well_gradient_error(Setup& s) {
  std::vector<Matrix<double>> grads, scratch;
  s.trainer->batch_gradient(s.in, s.labels, s.ids, {}, grads);
  return test::fd_gradient_error(*s.model, grads, [&] {
    return s.trainer->batch_gradient(s.in, s.labels, s.ids, {}, scratch);
  });
}

}  // namespace

TEST_CASE("sanode training gradients match finite differences (Psi, lambda, gamma)",
          "[sanode][adjoint]") {
  auto obj = test::loss_plugin("mse_state");
  auto& loss = *static_cast<Loss<double>*>(obj.get());
  // input_scale 2.5 puts nodes up to 2.5 = 5a: with clip 3 some start clamped.
  for (const std::string clip : {"0.0", "3.0"})
    for (Method m : {Method::euler, Method::rk4})
      for (bool fused : {true, false}) {
        if (m == Method::rk4 && !fused) continue;
        INFO("clip " << clip << " " << method_name(m) << (fused ? " fused" : " plain"));
        Setup s;
        setup(s, "clip = " + clip + "\ninput_scale = 2.5\n", loss, m);
        s.scheme->set_fused(fused);
        // Off the orthogonal init, where |cos| has its kink, as training leaves it.
        s.model->parameters()[0].map() += random_matrix(12, 9, 5, 0.2);
        s.model->parameters_changed();
        CHECK(well_gradient_error(s) <= 1e-6);
      }
}

TEST_CASE("sanode fused Euler steps equal the drift path", "[sanode][adjoint]") {
  auto obj = test::loss_plugin("mse_state");
  auto& loss = *static_cast<Loss<double>*>(obj.get());
  Setup s;
  // 600 steps x 4 items: the gradient panel fills and is flushed mid-pass.
  setup(s, "clip = 3.0\ninput_scale = 2.5\n", loss, Method::euler, 0.01, 600);
  std::vector<Matrix<double>> fused, plain;
  const double lf = s.trainer->batch_gradient(s.in, s.labels, s.ids, {}, fused);
  s.scheme->set_fused(false);
  const double lp = s.trainer->batch_gradient(s.in, s.labels, s.ids, {}, plain);
  CHECK(std::abs(lf - lp) <= 1e-12 * std::abs(lp));
  REQUIRE(fused.size() == 3);
  for (std::size_t p = 0; p < plain.size(); ++p) {
    CHECK(plain[p].norm() > 0);
    CHECK((fused[p] - plain[p]).norm() <= 1e-10 * plain[p].norm());
  }
}

TEST_CASE("sanode passes split across threads give the same bits", "[sanode]") {
  const std::string toml = "n = 256\nclasses = 4\nclip = 2.0\n";
  auto one = sanode(toml, 7, 1), two = sanode(toml, 7, 2);
  const Matrix<double> X = random_matrix(256, 301, 8, 1.2), W = random_matrix(256, 301, 9, 1.0);
  Matrix<double> x1 = X, x2 = X, a1 = W, a2 = W;
  one->euler_step(0.0, 0.1, x1);
  two->euler_step(0.0, 0.1, x2);
  CHECK(x1 == x2);
  std::vector<Matrix<double>> acc1 = {Matrix<double>::Zero(256, 256), Matrix<double>::Zero(1, 1)},
                              acc2 = acc1;
  one->euler_step_vjp(0.0, 0.1, X, a1, acc1);
  two->euler_step_vjp(0.0, 0.1, X, a2, acc2);
  one->flush_accumulators(acc1);
  two->flush_accumulators(acc2);
  CHECK(a1 == a2);
  CHECK(acc1[0] == acc2[0]);
  CHECK(acc1[1] == acc2[1]);
  CHECK(acc1[1](0, 0) != 0);
}

TEST_CASE("sanode training keeps the eigenvalue bound at every step and planted states stable",
          "[sanode][adjoint]") {
  auto obj = test::loss_plugin("mse_state");
  auto& loss = *static_cast<Loss<double>*>(obj.get());
  Setup s;
  // Free eigenvalues drawn around the bound (8 gamma a^2 / beta - 0.1 = 2.67 for N = 12) and a
  // large rate: the optimizer pushes them across it, the projection brings them back.
  setup(s, "eig_init = \"uniform\"\neig_a = 2.0\neig_b = 3.5\n", loss, Method::euler, 0.3);
  Index pinned = 0;
  for (int step = 0; step < 40; ++step) {
    const std::vector<std::uint64_t> ids = {
        std::uint64_t(4 * step + 1), std::uint64_t(4 * step + 2), std::uint64_t(4 * step + 3),
        std::uint64_t(4 * step + 4)};
    Random(100 + step, Stream::data).uniforms(Counter{}, s.in.data(), s.in.size());
    REQUIRE(s.trainer->train_step(s.in, s.labels, ids, {}).ok);
    const double gamma = well_exported(*s.model, "gamma"),
                 bound = well_exported(*s.model, "eigenvalue_bound");
    CHECK(gamma >= 1e-3);
    CHECK(bound == Approx(8 * gamma * 0.25 / well_exported(*s.model, "beta") - 0.1));
    const Vector<double> lam = lambdas(*s.model).tail(9);
    CHECK(lam.maxCoeff() <= bound);
    pinned += (lam.array() == bound).count();
  }
  CHECK(pinned > 0);  // the bound was reached, so the check above was not idle
  const Matrix<double> xs = s.model->attractors();
  for (Index k = 0; k < 3; ++k) {
    Matrix<double> J(12, 12);
    s.model->jacobian(0.0, xs.col(k), J);
    CHECK(max_real_eigenvalue(J) < 0);
  }
}

TEST_CASE("sanode with gamma fixed exposes only Psi and lambda", "[sanode]") {
  auto m = sanode(kSmallWell + "train_gamma = false\n");
  CHECK(m->parameters().size() == 2);
  CHECK(sanode(kSmallWell)->parameters().size() == 3);
}

namespace {

std::unique_ptr<Model<double>> guarded_well(const std::string& toml, const std::string& integrator,
                                            double dt) {
  Context ctx;
  ctx.seed = 7;
  ctx.integrator = integrator;
  ctx.dt = dt;
  return test::entry_model<double>("sanode_double_well", kSmallWell + toml, ctx);
}

// The size of the last of `steps` Euler steps of dt from every node at +-1.2 (past the box).
double last_step_size(Model<double>& m, int steps, double dt) {
  Matrix<double> x = 1.2 * m.attractors().col(0).array().sign().matrix().replicate(1, 2);
  x.col(1) *= -1;
  Matrix<double> before = x;
  for (int k = 0; k < steps; ++k) {
    before = x;
    m.euler_step(0.0, dt, x);
  }
  return (x - before).cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("sanode euler_guard keeps gamma where no node's Euler step can flip", "[sanode]") {
  // Box |z| <= 2 a = 1: max |a^2 - 3 z^2| = 2.75, so gamma <= 0.95 * 2 / (4 dt 2.75) for Euler.
  const std::string toml = "clip = 2.0\ngamma = 8.0\neig_a = -0.5\neig_b = 0.1\n";
  auto guarded = guarded_well(toml + "euler_guard = true\n", "euler", 0.1);
  const double gmax = 0.95 * 2 / (4 * 0.1 * 2.75);
  CHECK(well_exported(*guarded, "gamma") == Approx(gmax));
  CHECK(well_exported(*guarded, "gamma_bound") == Approx(gmax));
  CHECK(well_exported(*guarded_well(toml + "euler_guard = true\n", "rk4", 0.1), "gamma") ==
        Approx(0.95 * 2.785 / (4 * 0.1 * 2.75)));
  // Unguarded, gamma = 8 and dt = 0.1 move a node past the box by more than the box's width
  // (dt 4 gamma (L^3 - a^2 L) = 2.4 > 2L): it jumps between +-1.2 for ever. Guarded, it settles.
  auto unguarded = guarded_well(toml, "euler", 0.1);
  CHECK(well_exported(*unguarded, "gamma") == 8.0);
  CHECK(last_step_size(*unguarded, 400, 0.1) > 2.0);
  CHECK(last_step_size(*guarded, 400, 0.1) < 1e-9);
  // An optimizer step that moves gamma over the bound is projected back (parameters_changed is
  // what the trainer calls after every step), and gamma below it is left alone.
  auto params = guarded->parameters();
  REQUIRE(params.back().name == "gamma");
  *params.back().data = 100.0;
  guarded->parameters_changed();
  CHECK(well_exported(*guarded, "gamma") == Approx(gmax));
  *params.back().data = 0.7;
  guarded->parameters_changed();
  CHECK(well_exported(*guarded, "gamma") == 0.7);
}

TEST_CASE("sanode euler_guard needs a clamp box and is off without a fixed step", "[sanode]") {
  const auto guard_error = [](const std::string& toml, const std::string& integrator, double dt) {
    return test::input_error_of([&] { guarded_well(toml, integrator, dt); });
  };
  CHECK_THAT(guard_error("euler_guard = true\n", "euler", 0.1),
             Catch::Contains("option 'euler_guard'") && Catch::Contains("clip > 0"));
  CHECK_THAT(
      guard_error("euler_guard = true\nclip = 2.0\ngamma_min = 50.0\ngamma = 60.0\n", "euler", 0.1),
      Catch::Contains("option 'euler_guard'") && Catch::Contains("below gamma_min"));
  // dopri5 (or no integrator at all) has no fixed step to guard: gamma is left as it is.
  for (const std::string integrator : {"dopri5", ""}) {
    INFO("integrator '" << integrator << "'");
    auto m = guarded_well("euler_guard = true\nclip = 2.0\ngamma = 8.0\n", integrator, 0);
    CHECK(well_exported(*m, "gamma") == 8.0);
  }
  // A box too small for the cubic term to overshoot (3 L^2 <= a^2) needs no bound.
  CHECK(well_exported(*guarded_well("euler_guard = true\nclip = 0.5\ngamma = 8.0\n", "euler", 0.1),
                      "gamma") == 8.0);
}

TEST_CASE("sanode rejects invalid options naming the key", "[sanode]") {
  CHECK_THAT(sanode_error("n = 3\nclasses = 3\n"), Catch::Contains("option 'classes'"));
  CHECK_THAT(sanode_error("n = 4\nclasses = 3\n"), Catch::Contains("option 'pattern'"));
  CHECK_THAT(sanode_error(kSmallWell + "pattern = \"templates\"\ntemplates = [[1, 0]]\n"),
             Catch::Contains("option 'templates'"));
  CHECK_THAT(sanode_error(kSmallWell + "gamma = 0.0001\n"), Catch::Contains("option 'gamma'"));
  CHECK_THAT(sanode_error(kSmallWell + "a = -1.0\n"), Catch::Contains("'a'"));
  CHECK_THAT(sanode_error("classes = 3\n"), Catch::Contains("option 'n'"));
}
