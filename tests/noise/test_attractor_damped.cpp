// The `attractor_damped` noise law with the real `cvfr_hill` model (both through the plugin
// host): the amplitude vanishes at every planted attractor and not elsewhere, and its vjp is
// the exact derivative of <adj, G(X) xi> for both formulas.
#include <catch2/catch.hpp>

#include "plugin_host/registry.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

namespace {

struct Loaded {
  std::unique_ptr<PluginObject> model_obj, noise_obj;
  Model<double>* model;
  NoiseLaw<double>* noise;
};

Loaded load(const std::string& noise_toml) {
  static Registry reg = [] {
    Registry r;
    r.load_directories({DYNSIM_PLUGIN_DIR});
    return r;
  }();
  Loaded l;
  const PluginRecord& m = reg.find(PluginKind::model, "cvfr_hill");
  Context ctx;
  ctx.seed = 3;
  l.model_obj = m.factory->create(
      Precision::f64,
      test::options_from(
          m.factory->options(),
          "n = 49\nclasses = 3\nc = 0.75\nlambda = [14.0]\npattern = \"block_on\"\n"),
      ctx);
  l.model = static_cast<Model<double>*>(l.model_obj.get());
  const PluginRecord& n = reg.find(PluginKind::noise, "attractor_damped");
  l.noise_obj =
      n.factory->create(Precision::f64, test::options_from(n.factory->options(), noise_toml), ctx);
  l.noise = static_cast<NoiseLaw<double>*>(l.noise_obj.get());
  l.noise->bind(*l.model);
  return l;
}

// The amplitude d(x) of each column: G(X) xi with xi = 1, divided by sigma.
Vector<double> amplitude(NoiseLaw<double>& noise, const Matrix<double>& X, double sigma) {
  const Matrix<double> ones = Matrix<double>::Ones(X.rows(), X.cols());
  Matrix<double> out(X.rows(), X.cols());
  noise.diffuse(0.0, X, ones, out);
  return out.row(0).transpose() / sigma;
}

Matrix<double> random_states(Index n, Index b, std::uint64_t seed) {
  Matrix<double> X(n, b);
  Random(seed, Stream::user).uniforms(Counter{}, X.data(), X.size());
  return 1.5 * X;
}

}  // namespace

TEST_CASE("attractor_damped vanishes at every planted attractor and not elsewhere", "[noise]") {
  for (const std::string formula : {"geometric_mean", "paper_eq8"}) {
    INFO(formula);
    Loaded l = load("sigma = 0.2\nformula = \"" + formula + "\"\n");
    const Matrix<double> att = l.model->attractors();
    REQUIRE(att.cols() == 3);
    const Vector<double> at = amplitude(*l.noise, att, 0.2);
    CHECK(at.maxCoeff() <= 1e-8);
    CHECK(at.minCoeff() >= 0);
    // Nearby: positive and growing with the distance.
    Matrix<double> near = att, farther = att;
    near.col(0).array() += 0.01;
    farther.col(0).array() += 0.1;
    const double d_near = amplitude(*l.noise, near, 0.2)(0);
    const double d_far = amplitude(*l.noise, farther, 0.2)(0);
    CHECK(d_near > 0);
    CHECK(d_far > d_near);
    const Vector<double> away = amplitude(*l.noise, random_states(49, 20, 4), 0.2);
    CHECK(away.minCoeff() > 1e-3);
    CHECK(away.maxCoeff() < 1);
  }
}

TEST_CASE("attractor_damped vjp is the exact derivative for a fixed realisation", "[noise]") {
  for (const std::string formula : {"geometric_mean", "paper_eq8"}) {
    INFO(formula);
    Loaded l = load("sigma = 0.3\nkappa = 2.0\nformula = \"" + formula + "\"\n");
    const Matrix<double> X = random_states(49, 3, 5);
    Matrix<double> xi(49, 3), adj(49, 3);
    Random(6, Stream::noise).normals(Counter{}, xi.data(), xi.size());
    Random(7, Stream::noise).normals(Counter{}, adj.data(), adj.size());
    Matrix<double> grad = Matrix<double>::Zero(49, 3), out(49, 3);
    l.noise->diffuse_vjp(0.0, X, xi, adj, grad);
    auto objective = [&](const Matrix<double>& Y) {
      l.noise->diffuse(0.0, Y, xi, out);
      return (adj.array() * out.array()).sum();
    };
    Matrix<double> fd(49, 3);
    for (Index i = 0; i < X.size(); ++i) {
      Matrix<double> up = X, down = X;
      up(i) += 1e-6;
      down(i) -= 1e-6;
      fd(i) = (objective(up) - objective(down)) / 2e-6;
    }
    CHECK(fd.norm() > 0);
    CHECK((grad - fd).norm() <= 1e-6 * fd.norm());
  }
}
