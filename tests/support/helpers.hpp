// Shared test helpers: plugins from this build's plugin folder (the files the host loads, so
// each plugin source is compiled once), options from a TOML snippet, running the dynsim binary.
#pragma once

#include <dynsim/sdk.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace dynsim {
class Registry;
}

namespace dynsim::test {

// The `linear` model plugin, built from a TOML snippet of options.
template <class S>
std::unique_ptr<Model<S>> linear_model(const std::string& toml_options);

// Every plugin in this build's plugin folder, loaded once.
const Registry& build_plugins();

// The model plugin `name` from this build's plugin folder, built from a TOML snippet of options
// with this seed and thread count (precision: bf16 for the float instance's bf16 path; anything
// else means S's own).
template <class S>
std::unique_ptr<Model<S>> entry_model(const std::string& name, const std::string& toml_options,
                                      std::uint64_t seed = 7, int threads = 1,
                                      Precision precision = precision_of<S>());
// The same with a whole Context (a run's integrator and step, say).
template <class S>
std::unique_ptr<Model<S>> entry_model(const std::string& name, const std::string& toml_options,
                                      const Context& ctx, Precision precision = precision_of<S>());

// A JSON file of a run folder; fails the test if it cannot be opened.
nlohmann::json read_json(const std::filesystem::path& file);

// The message of the InputError that f throws, or "(no error)".
std::string input_error_of(const std::function<void()>& f);

// A reproducible matrix with entries uniform in [-scale, scale].
Matrix<double> random_matrix(Index rows, Index cols, unsigned seed, double scale);

// The loss plugin `name` (default options) from the build's plugin folder.
std::unique_ptr<PluginObject> loss_plugin(const std::string& name,
                                          Precision precision = Precision::f64);
template <class S>
Loss<S>& as_loss(const std::unique_ptr<PluginObject>& p) {
  return *static_cast<Loss<S>*>(p.get());
}

// Largest relative error, over the model's parameter blocks, between `grads` (from the adjoint)
// and central differences of loss(); each block's differences must not vanish.
double fd_gradient_error(Model<double>& model, const std::vector<Matrix<double>>& grads,
                         const std::function<double()>& loss);

// Options for `specs` from a TOML snippet, checked exactly as a scenario table is.
Options options_from(const OptionSpecs& specs, const std::string& toml_options);

struct Command {
  int exit_code;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line and captures its output and exit code.
Command run(const std::string& command);
// Runs the dynsim binary of this build with the given arguments.
Command run_dynsim(const std::string& args, const std::string& env = "");
// Writes text to a fresh file under the test's temporary folder; returns its path.
std::string temp_file(const std::string& name, const std::string& text);
std::string temp_dir();

// dx/dt = M (x - x*): a linear drift with one planted attractor x* (an Ornstein-Uhlenbeck drift
// under noise); its Jacobian is M, analytic or left to the host's finite differences.
class LinearAttractorModel final : public Model<double> {
 public:
  LinearAttractorModel(Matrix<double> M, Vector<double> xs, bool analytic = true)
      : M_(std::move(M)), xs_(std::move(xs)), analytic_(analytic) {}
  Index dim() const override { return M_.rows(); }
  void drift(double, ConstMatrixRef<double> X, MatrixRef<double> d) override {
    d = M_ * (X.colwise() - xs_);
  }
  void drift_vjp(double, ConstMatrixRef<double>, ConstMatrixRef<double> adj,
                 MatrixRef<double> adj_x, std::vector<Matrix<double>>&) override {
    adj_x = M_.transpose() * adj;
  }
  bool has_jacobian() const override { return analytic_; }
  void jacobian(double, ConstVectorRef<double>, MatrixRef<double> J) const override { J = M_; }
  Matrix<double> attractors() const override { return xs_; }

 private:
  Matrix<double> M_;
  Vector<double> xs_;
  bool analytic_;
};

// Additive noise sigma * Xi, the simplest law (unit tests of the stochastic integrator).
template <class S>
class ScaledNoise final : public NoiseLaw<S> {
 public:
  explicit ScaledNoise(S sigma) : sigma_(sigma) {}
  void diffuse(S, ConstMatrixRef<S>, ConstMatrixRef<S> xi, MatrixRef<S> out) override {
    out = sigma_ * xi;
  }
  void diffuse_vjp(S, ConstMatrixRef<S>, ConstMatrixRef<S>, ConstMatrixRef<S>,
                   MatrixRef<S>) override {}

 private:
  S sigma_;
};

}  // namespace dynsim::test
