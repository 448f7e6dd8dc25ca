// `linear`: dx/dt = M x + b. The smallest complete model: closed-form solutions make it the
// integrators' reference in tests, and with `trainable = true` it exercises the gradient path.
#include <dynsim/sdk.hpp>

namespace {

template <class S>
class Linear final : public dynsim::Model<S> {
 public:
  static dynsim::OptionSpecs options() {
    return {
        dynsim::opt::real_matrix("M", "coupling matrix, N rows of N reals"),
        dynsim::opt::real_list("b", "constant drift term (N reals; empty: zero)")
            .def(std::vector<double>{}),
        dynsim::opt::boolean("trainable", "expose M (and b) as trainable parameters").def(false),
    };
  }

  Linear(const dynsim::Options& o, const dynsim::Context&) {
    const auto& rows = o.real_matrix("M");
    const auto n = static_cast<dynsim::Index>(rows.size());
    if (n == 0) o.fail("M", "must have at least one row");
    M_.resize(n, n);
    for (dynsim::Index i = 0; i < n; ++i) {
      const auto& r = rows[static_cast<std::size_t>(i)];
      if (static_cast<dynsim::Index>(r.size()) != n)
        o.fail("M", "must be square: row " + std::to_string(i + 1) + " has " +
                        std::to_string(r.size()) + " entries, expected " + std::to_string(n));
      for (dynsim::Index j = 0; j < n; ++j)
        M_(i, j) = static_cast<S>(r[static_cast<std::size_t>(j)]);
    }
    const auto& b = o.real_list("b");
    b_ = dynsim::Vector<S>::Zero(n);
    if (!b.empty()) {
      if (static_cast<dynsim::Index>(b.size()) != n)
        o.fail("b",
               "has " + std::to_string(b.size()) + " entries, expected N = " + std::to_string(n));
      for (dynsim::Index i = 0; i < n; ++i) b_(i) = static_cast<S>(b[static_cast<std::size_t>(i)]);
    }
    trainable_ = o.boolean("trainable");
  }

  dynsim::Index dim() const override { return M_.rows(); }

  void drift(S, dynsim::ConstMatrixRef<S> X, dynsim::MatrixRef<S> dX) override {
    dX.noalias() = M_ * X;
    dX.colwise() += b_;
  }

  void drift_vjp(S, dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> adj,
                 dynsim::MatrixRef<S> adj_x, std::vector<dynsim::Matrix<S>>& acc) override {
    adj_x.noalias() = M_.transpose() * adj;
    if (trainable_) {
      acc[0].noalias() += adj * X.transpose();
      acc[1] += adj.rowwise().sum();
    }
  }

  bool has_jacobian() const override { return true; }
  void jacobian(S, dynsim::ConstVectorRef<S>, dynsim::MatrixRef<S> J) const override { J = M_; }

  std::vector<dynsim::Parameter<S>> parameters() override {
    if (!trainable_) return {};
    return {{"M", M_.data(), M_.rows(), M_.cols()}, {"b", b_.data(), b_.rows(), 1}};
  }

 private:
  dynsim::Matrix<S> M_;
  dynsim::Vector<S> b_;
  bool trainable_ = false;
};

}  // namespace

DYNSIM_PLUGIN(Linear, "linear", "1.0.0", "linear ODE dx/dt = M x + b (reference model for tests)")
