// dynsim/sdk/gradcheck.hpp: a model with exact derivatives passes, one with a wrong
// vector-Jacobian product or gradient fails in the block that is wrong, and `dynsim
// check-plugin` runs it on the shipped models (exit 0) and on a broken plugin (exit 2).
#include <catch2/catch.hpp>
#include <dynsim/sdk/gradcheck.hpp>

#include "support/helpers.hpp"

using namespace dynsim;

namespace {

// dx/dt = -x + W tanh(x): trainable W. `fault` breaks one derivative on purpose.
enum class Fault { none, state_vjp, param_grad, grad_shape, fused_step };

class FaultyTanhNet final : public Model<double> {
 public:
  FaultyTanhNet(Index n, Fault f) : w_(test::random_matrix(n, n, 5, 0.8)), fault_(f) {}
  Index dim() const override { return w_.rows(); }
  void drift(double, ConstMatrixRef<double> X, MatrixRef<double> dX) override {
    dX = -X + w_ * X.array().tanh().matrix();
  }
  void drift_vjp(double, ConstMatrixRef<double> X, ConstMatrixRef<double> adj,
                 MatrixRef<double> adj_x, std::vector<Matrix<double>>& acc) override {
    const Matrix<double> t = X.array().tanh().matrix();
    const double d = fault_ == Fault::state_vjp ? 0.9 : 1.0;  // a 10 % error in the derivative
    adj_x = -adj + ((w_.transpose() * adj).array() * (1 - d * t.array().square())).matrix();
    acc[0] += (fault_ == Fault::param_grad ? 1.01 : 1.0) * adj * t.transpose();
  }
  bool euler_step(double t, double h, MatrixRef<double> X) override {
    if (fault_ != Fault::fused_step) return false;
    Matrix<double> dX(X.rows(), X.cols());
    drift(t, X, dX);
    X += 1.1 * h * dX;
    return true;
  }
  void finish_gradients(const std::vector<Matrix<double>>& acc,
                        std::vector<Matrix<double>>& grads) override {
    grads = acc;
    if (fault_ == Fault::grad_shape) grads[0].conservativeResize(dim() - 1, dim());
  }
  std::vector<Parameter<double>> parameters() override {
    return {{"W", w_.data(), w_.rows(), w_.cols()}};
  }

 private:
  Matrix<double> w_;
  Fault fault_;
};

const GradCheckBlock& block(const GradCheckReport& r, const std::string& name) {
  for (const auto& b : r.blocks)
    if (b.name == name) return b;
  FAIL("no block " << name << " in\n" << r.table());
  return r.blocks.front();
}

}  // namespace

TEST_CASE("check_gradients passes exact derivatives and names the wrong block", "[gradcheck]") {
  {
    FaultyTanhNet ok(12, Fault::none);
    const GradCheckReport r = check_gradients<double>(ok);
    INFO(r.table());
    CHECK(r.ok());
    CHECK(block(r, "drift_vjp: state").error < 1e-7);
    CHECK(block(r, "drift_vjp: W").error < 1e-7);
    CHECK_FALSE(block(r, "euler_step").checked);
  }
  {
    FaultyTanhNet bad(12, Fault::state_vjp);
    const GradCheckReport r = check_gradients<double>(bad);
    INFO(r.table());
    CHECK_FALSE(r.ok());
    CHECK(block(r, "drift_vjp: state").error > 1e-3);
    CHECK(block(r, "drift_vjp: W").error < 1e-7);
    CHECK(r.table().find("FAIL") != std::string::npos);
  }
  {
    FaultyTanhNet bad(12, Fault::param_grad);
    const GradCheckReport r = check_gradients<double>(bad);
    CHECK_FALSE(r.ok());
    CHECK(block(r, "drift_vjp: state").error < 1e-7);
    CHECK(block(r, "drift_vjp: W").error > 5e-3);
  }
  {
    FaultyTanhNet bad(12, Fault::grad_shape);
    const GradCheckReport r = check_gradients<double>(bad);
    CHECK_FALSE(r.ok());
    CHECK(block(r, "drift_vjp: W").note.find("11 x 12") != std::string::npos);
  }
  {
    FaultyTanhNet bad(12, Fault::fused_step);
    const GradCheckReport r = check_gradients<double>(bad);
    CHECK_FALSE(r.ok());
    CHECK(block(r, "euler_step").error > 1e-4);
  }
  // The check leaves the model's parameters as it found them.
  FaultyTanhNet m(6, Fault::none);
  const Matrix<double> before = m.parameters()[0].map();
  check_gradients<double>(m);
  CHECK(Matrix<double>(m.parameters()[0].map()) == before);
}

TEST_CASE("dynsim check-plugin on the shipped models and on a broken plugin", "[gradcheck][cli]") {
  for (const std::string& args : std::vector<std::string>{
           "cvfr_hill --set model.n=40 --set model.classes=3 --set model.ortho_penalty=0.1",
           "sanode_double_well --set model.n=30 --set model.classes=4",
           std::string(DYNSIM_SOURCE_DIR) + "/scenarios/cvfr_letters.toml"}) {
    const auto r = test::run_dynsim("check-plugin " + args);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("all blocks within") != std::string::npos);
  }
  const auto none = test::run_dynsim("check-plugin no_such_model");
  CHECK(none.exit_code == 2);
  CHECK(none.output.find("no_such_model") != std::string::npos);
  // attractors() of the readout's size: refused before any check (exit 2, naming the plugin).
  const auto bad = test::run_dynsim(
      "check-plugin bad_shapes", std::string("DYNSIM_PLUGIN_PATH=") + TEST_PLUGIN_DIR_BAD_SHAPES);
  INFO(bad.output);
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("attractors()") != std::string::npos);
}
