// `additive`: state-independent noise, G(t, X) = sigma * G0 (G0 = identity unless given, or
// diag(scales): one amplitude per node, which makes the LNA covariance at an attractor
// anisotropic with known principal axes: the generative paper's disentanglement).
#include <dynsim/sdk.hpp>

namespace {

template <class S>
class Additive final : public dynsim::NoiseLaw<S> {
 public:
  static dynsim::OptionSpecs options() {
    return {
        dynsim::opt::real("sigma", "noise amplitude").def(0.1).at_least(0.0),
        dynsim::opt::real_matrix("G", "N x N mixing matrix (empty: identity)")
            .def(std::vector<std::vector<double>>{}),
        dynsim::opt::real_list("scales", "N per-node amplitudes: G = diag(scales) (empty: none)")
            .def(std::vector<double>{})
            .at_least(0.0),
    };
  }

  Additive(const dynsim::Options& o, const dynsim::Context&) : opts_(o) {
    sigma_ = static_cast<S>(o.real("sigma"));
    const auto& rows = o.real_matrix("G");
    const auto& scales = o.real_list("scales");
    if (!rows.empty() && !scales.empty()) o.fail("scales", "give G or scales, not both");
    // A diagonal G stays a vector: one scaling per entry instead of an N x N product per step.
    diag_.resize(static_cast<dynsim::Index>(scales.size()));
    for (dynsim::Index i = 0; i < diag_.size(); ++i)
      diag_(i) = sigma_ * static_cast<S>(scales[static_cast<std::size_t>(i)]);
    if (rows.empty()) return;
    const auto n = static_cast<dynsim::Index>(rows.size());
    G_.resize(n, n);
    for (dynsim::Index i = 0; i < n; ++i) {
      const auto& r = rows[static_cast<std::size_t>(i)];
      if (static_cast<dynsim::Index>(r.size()) != n) o.fail("G", "must be square");
      for (dynsim::Index j = 0; j < n; ++j)
        G_(i, j) = sigma_ * static_cast<S>(r[static_cast<std::size_t>(j)]);
    }
  }

  void bind(const dynsim::Model<S>& model) override {
    const std::string dim = " but the model's state dimension is " + std::to_string(model.dim());
    if (G_.size() > 0 && G_.rows() != model.dim())
      opts_.fail("G", "is " + std::to_string(G_.rows()) + " x " + std::to_string(G_.cols()) + dim);
    if (diag_.size() > 0 && diag_.size() != model.dim())
      opts_.fail("scales", "has " + std::to_string(diag_.size()) + " values" + dim);
  }

  bool vanishes() const override { return sigma_ == S(0); }

  void diffuse(S, dynsim::ConstMatrixRef<S>, dynsim::ConstMatrixRef<S> Xi,
               dynsim::MatrixRef<S> out) override {
    if (G_.size() > 0)
      out.noalias() = G_ * Xi;
    else if (diag_.size() > 0)
      out = diag_.asDiagonal() * Xi;
    else
      out = sigma_ * Xi;
  }

  // G does not depend on the state: nothing flows back through it.
  void diffuse_vjp(S, dynsim::ConstMatrixRef<S>, dynsim::ConstMatrixRef<S>,
                   dynsim::ConstMatrixRef<S>, dynsim::MatrixRef<S>) override {}

 private:
  dynsim::Options opts_;
  S sigma_;
  dynsim::Matrix<S> G_;
  dynsim::Vector<S> diag_;  // scales: G = diag(diag_)
};

}  // namespace

DYNSIM_PLUGIN(Additive, "additive", "1.0.0",
              "additive noise sigma * G dW (G = identity by default)")
