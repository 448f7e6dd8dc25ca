// @NAME@: a model plugin written by `dynsim new-plugin model @NAME@`. docs/sdk_guide.md (the
// tutorial) walks through every part of it; change the equations and keep the checks green:
//   dynsim check-plugin @NAME@.toml     (derivatives against finite differences)
//
// An excitatory-inhibitory rate network whose state (2N: E then I) is larger than its input (N):
//   dE/dt = -E + W tanh(E) + b - I
//   dI/dt = (E - I) / tau
// encode: E(0) = input_scale x input, I(0) = 0.   readout: E (what mse_activity and the
// classifier compare).   Trained: W (N x N) and b (N).   Planted attractors: one random pattern
// of +-a per class in E, with I = E there (so dI/dt = 0); W starts as the Hebbian matrix that
// makes them fixed points, plus a little noise.
#include <dynsim/sdk.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace {

using dynsim::Index;

template <class S>
class @CLASS@ final : public dynsim::Model<S> {
  using Mat = dynsim::Matrix<S>;
  using Vec = dynsim::Vector<S>;

 public:
  // Every key the [model] table may set; the host checks types and ranges before the
  // constructor runs and reports mistakes with the scenario's file:line.
  static dynsim::OptionSpecs options() {
    return {
        dynsim::opt::integer("n", "input dimension N (the state has 2N); 0: the dataset's")
            .def(std::int64_t{0})
            .at_least(0),
        dynsim::opt::integer("classes", "planted attractors K; 0: the dataset's classes")
            .def(std::int64_t{0})
            .at_least(0),
        dynsim::opt::real("amplitude", "a: the planted patterns are +-a").def(1.0).positive(),
        dynsim::opt::real("tau", "inhibitory time constant").def(2.0).positive(),
        dynsim::opt::real("input_scale", "E(0) = input_scale x input").def(1.0),
        dynsim::opt::real("init_noise", "random part of W's start, x 1/sqrt(N)")
            .def(0.1)
            .at_least(0),
    };
  }

  @CLASS@(const dynsim::Options& o, const dynsim::Context& ctx)
      : n_(o.integer("n") > 0 ? o.integer("n") : ctx.data_dim),
        k_(o.integer("classes") > 0 ? o.integer("classes") : ctx.data_classes),
        a_(static_cast<S>(o.real("amplitude"))),
        tau_(static_cast<S>(o.real("tau"))),
        scale_(static_cast<S>(o.real("input_scale"))) {
    if (n_ <= 0) o.fail("n", "give n, or a [dataset] for the model to take it from");
    if (k_ <= 0) o.fail("classes", "give classes, or a [dataset] for the model to take it from");
    // Random draws come from the counter-based generator, keyed by the run's seed and a stream
    // of this plugin's own: the same model for any batch split or thread count.
    const dynsim::Random rng(ctx.seed, dynsim::user_stream(0));
    std::vector<double> z(static_cast<std::size_t>(n_ * (k_ + n_)));
    rng.normals<double>(dynsim::Counter{}, z.data(), static_cast<Index>(z.size()));
    patterns_.resize(n_, k_);
    for (Index i = 0; i < n_ * k_; ++i) patterns_.data()[i] = z[i] >= 0 ? S(1) : S(-1);
    // W tanh(a p) = 2 a p makes E = a p, I = E a fixed point: Hebbian W = 2a/tanh(a) P P^T / N.
    const S hebb = S(2) * a_ / std::tanh(a_) / static_cast<S>(n_);
    w_ = hebb * patterns_ * patterns_.transpose();
    const S noise = static_cast<S>(o.real("init_noise")) / std::sqrt(static_cast<S>(n_));
    for (Index i = 0; i < n_ * n_; ++i)
      w_.data()[i] += noise * static_cast<S>(z[static_cast<std::size_t>(n_ * k_ + i)]);
    b_ = Vec::Zero(n_);
    ctx.log.info("@NAME@: N = " + std::to_string(n_) + " inputs, state 2N, " +
                 std::to_string(k_) + " planted attractors");
  }

  // ---- shapes: state 2N, input N, readout N ----
  Index dim() const override { return 2 * n_; }
  Index input_dim() const override { return n_; }
  Index readout_dim() const override { return n_; }

  void encode(dynsim::ConstMatrixRef<S> input, dynsim::MatrixRef<S> X0) const override {
    X0.topRows(n_) = scale_ * input;
    X0.bottomRows(n_).setZero();
  }
  void readout(dynsim::ConstMatrixRef<S> X, dynsim::MatrixRef<S> Y) const override {
    Y = X.topRows(n_);
  }
  void readout_vjp(dynsim::ConstMatrixRef<S>, dynsim::ConstMatrixRef<S> dY,
                   dynsim::MatrixRef<S> dX) const override {
    dX.topRows(n_) = dY;
    dX.bottomRows(n_).setZero();
  }

  // ---- the dynamics, for the whole batch (X is 2N x B): one GEMM, no allocation once the
  // scratch buffer has the batch's size ----
  void drift(S, dynsim::ConstMatrixRef<S> X, dynsim::MatrixRef<S> dX) override {
    const auto E = X.topRows(n_);
    const auto I = X.bottomRows(n_);
    t_ = E.array().tanh().matrix();
    dX.topRows(n_).noalias() = w_ * t_;
    dX.topRows(n_) += (-E - I).colwise() + b_;
    dX.bottomRows(n_) = (E - I) / tau_;
  }

  // adj_x = (dF/dX)^T adj, and the parameter gradients summed over the batch:
  //   dL/dW += aE tanh(E)^T,  dL/db += sum over items of aE.
  void drift_vjp(S, dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> adj,
                 dynsim::MatrixRef<S> adj_x, std::vector<Mat>& acc) override {
    const auto E = X.topRows(n_);
    const auto aE = adj.topRows(n_);
    const auto aI = adj.bottomRows(n_);
    t_ = E.array().tanh().matrix();
    adj_x.topRows(n_).noalias() = w_.transpose() * aE;
    adj_x.topRows(n_).array() *= S(1) - t_.array().square();
    adj_x.topRows(n_) += -aE + aI / tau_;
    adj_x.bottomRows(n_) = -aE - aI / tau_;
    acc[0].noalias() += aE * t_.transpose();
    acc[1] += aE.rowwise().sum();
  }

  // The Jacobian at one state, for `dynsim stability` (eigenvalues at the attractors).
  bool has_jacobian() const override { return true; }
  void jacobian(S, dynsim::ConstVectorRef<S> x, dynsim::MatrixRef<S> J) const override {
    const Vec d = (S(1) - x.head(n_).array().tanh().square()).matrix();
    const Mat id = Mat::Identity(n_, n_);
    J.topLeftCorner(n_, n_) = w_ * d.asDiagonal();
    J.topLeftCorner(n_, n_) -= id;
    J.topRightCorner(n_, n_) = -id;
    J.bottomLeftCorner(n_, n_) = id / tau_;
    J.bottomRightCorner(n_, n_) = -id / tau_;
  }

  // ---- training ----
  std::vector<dynsim::Parameter<S>> parameters() override {
    return {{"W", w_.data(), n_, n_}, {"b", b_.data(), n_, 1}};
  }
  // One planted state per class, in state space (2N x K): E = a p_k, I = E.
  Mat attractors() const override {
    Mat att(2 * n_, k_);
    att.topRows(n_) = a_ * patterns_;
    att.bottomRows(n_) = a_ * patterns_;
    return att;
  }
  // Saved as RUN/arrays/<name>.npy after training.
  std::vector<std::pair<std::string, Mat>> exports() const override {
    return {{"W", w_}, {"b", b_}, {"patterns", patterns_}};
  }

 private:
  Index n_, k_;
  S a_, tau_, scale_;
  Mat patterns_, w_;
  Vec b_;
  Mat t_;  // tanh(E), scratch
};

}  // namespace

DYNSIM_PLUGIN(@CLASS@, "@NAME@", "0.1.0", "@NAME@: an E-I rate network (made by new-plugin)")
