// Example model plugin, built out of tree against the installed SDK (see CMakeLists.txt here).
//
//   dx_i/dt = -rate * (x_i - target)
//
// Everything a model plugin provides, in the smallest form: options with defaults and ranges,
// a batched drift, its vector-Jacobian products (state and the trainable rate), the Jacobian,
// and the planted attractor (x = target everywhere), plus a log line through the host.
#include <dynsim/sdk.hpp>

namespace {

template <class S>
class ExpDecay final : public dynsim::Model<S> {
 public:
  static dynsim::OptionSpecs options() {
    return {
        dynsim::opt::integer("n", "state dimension").def(std::int64_t{4}).at_least(1),
        dynsim::opt::real("rate", "relaxation rate").def(1.0).positive(),
        dynsim::opt::real("target", "value every node relaxes to").def(0.0),
    };
  }

  ExpDecay(const dynsim::Options& o, const dynsim::Context& ctx)
      : n_(o.integer("n")),
        rate_(static_cast<S>(o.real("rate"))),
        target_(static_cast<S>(o.real("target"))) {
    ctx.log.info("exp_decay with n = " + std::to_string(n_) + ", rate = " + std::to_string(rate_));
  }

  dynsim::Index dim() const override { return n_; }

  void drift(S, dynsim::ConstMatrixRef<S> X, dynsim::MatrixRef<S> dX) override {
    dX = -rate_ * (X.array() - target_).matrix();
  }

  void drift_vjp(S, dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> adj,
                 dynsim::MatrixRef<S> adj_x, std::vector<dynsim::Matrix<S>>& acc) override {
    adj_x = -rate_ * adj;
    acc[0](0, 0) -= (adj.array() * (X.array() - target_)).sum();
  }

  bool has_jacobian() const override { return true; }
  void jacobian(S, dynsim::ConstVectorRef<S>, dynsim::MatrixRef<S> J) const override {
    J = -rate_ * dynsim::Matrix<S>::Identity(n_, n_);
  }

  std::vector<dynsim::Parameter<S>> parameters() override { return {{"rate", &rate_, 1, 1}}; }

  dynsim::Matrix<S> attractors() const override {
    return dynsim::Matrix<S>::Constant(n_, 1, target_);
  }

 private:
  dynsim::Index n_;
  S rate_, target_;
};

}  // namespace

DYNSIM_PLUGIN(ExpDecay, "exp_decay", "1.0.0", "example: every node relaxes to a target value")
