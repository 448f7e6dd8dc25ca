// `attractor_damped`: state-dependent noise that vanishes at the model's planted attractors,
//
//   G(X) xi = sigma d(x) xi,   d(x) = tanh(kappa exp(p sum_k log(m_k(x) + floor))),
//   m_k(x) = ||x - x^s_k||^2 / N,
//
// p = 1/K ("geometric_mean", the authors' code: d = tanh(kappa prod_k m_k^(1/K))) or
// p = 1/2 ("paper_eq8": d = tanh(kappa sqrt(prod_k m_k))). d is a product over attractors, so it
// is 0 at each of them and positive elsewhere. Its exact derivative m_k^(p-1) is singular at the
// attractors; `floor` inside the root keeps value and derivative finite and consistent (the
// vjp is the exact derivative of the floored d), at the cost of d = O(floor^p) there.
#include <dynsim/sdk.hpp>

#include <cmath>

namespace {

using dynsim::Index;

template <class S>
class AttractorDamped final : public dynsim::NoiseLaw<S> {
 public:
  static dynsim::OptionSpecs options() {
    using namespace dynsim::opt;
    return {
        real("sigma", "noise amplitude").def(0.1).at_least(0.0),
        real("kappa", "scale of the argument of tanh").def(1.0).positive(),
        string("formula",
               "geometric_mean: tanh(kappa prod_k m_k^(1/K)) (authors' code); paper_eq8: "
               "tanh(kappa sqrt(prod_k m_k)); m_k = |x - x^s_k|^2 / N")
            .def(std::string("geometric_mean"))
            .one_of({"geometric_mean", "paper_eq8"}),
        real("floor",
             "added to each m_k inside the root: keeps d and its derivative finite at "
             "the attractors")
            .def(1e-30)
            .positive(),
    };
  }

  AttractorDamped(const dynsim::Options& o, const dynsim::Context& ctx)
      : opts_(o),
        sigma_(static_cast<S>(o.real("sigma"))),
        kappa_(static_cast<S>(o.real("kappa"))),
        floor_(static_cast<S>(o.real("floor"))),
        paper_(o.string("formula") == "paper_eq8"),
        threads_(ctx.threads) {
    if (!(floor_ > S(0)))
      o.fail("floor", "is below the smallest positive number of this precision");
  }

  void bind(const dynsim::Model<S>& model) override {
    attractors_ = model.attractors();
    if (attractors_.cols() == 0)
      opts_.fail("formula", "needs a model with planted attractors; this one has none");
    power_ = paper_ ? S(0.5) : S(1) / static_cast<S>(attractors_.cols());
  }

  bool vanishes() const override { return sigma_ == S(0); }

  void diffuse(S, dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> Xi,
               dynsim::MatrixRef<S> out) override {
    prepare(X);
    dynsim::for_columns(attractors_.rows(), X.cols(), threads_, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j) out.col(j) = (sigma_ * d_(j)) * Xi.col(j);
    });
  }

  // adj_x += sigma <adj, xi> grad d, grad d = (1 - d^2) kappa g p sum_k 2 (x - x^s_k) /
  // (N (m_k + floor)), g = exp(p sum_k log(m_k + floor)).
  void diffuse_vjp(S, dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> Xi,
                   dynsim::ConstMatrixRef<S> adj, dynsim::MatrixRef<S> adj_x) override {
    prepare(X);
    const Index k = attractors_.cols();
    dynsim::for_columns(attractors_.rows(), X.cols(), threads_, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j) {
        const S dd = d_(j);
        const S coef = sigma_ * adj.col(j).dot(Xi.col(j)) * (S(1) - dd * dd) * kappa_ * g_(j) *
                       power_ * S(2) / static_cast<S>(attractors_.rows());
        if (coef == S(0)) continue;
        for (Index c = 0; c < k; ++c)
          adj_x.col(j) += (coef / (m_(c, j) + floor_)) * (X.col(j) - attractors_.col(c));
      }
    });
  }

 private:
  // m_, g_, d_ for the batch (scratch reallocated only when the batch width changes).
  void prepare(dynsim::ConstMatrixRef<S> X) {
    const Index b = X.cols(), k = attractors_.cols();
    if (m_.cols() != b) {
      m_.resize(k, b);
      g_.resize(b);
      d_.resize(b);
    }
    dynsim::for_columns(attractors_.rows(), b, threads_, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j) {
        S log_sum = 0;
        for (Index c = 0; c < k; ++c) {
          m_(c, j) =
              (X.col(j) - attractors_.col(c)).squaredNorm() / static_cast<S>(attractors_.rows());
          log_sum += std::log(m_(c, j) + floor_);
        }
        g_(j) = std::exp(power_ * log_sum);
        d_(j) = std::tanh(kappa_ * g_(j));
      }
    });
  }

  dynsim::Options opts_;
  S sigma_, kappa_, floor_, power_ = 1;
  bool paper_;
  int threads_;
  dynsim::Matrix<S> attractors_, m_;
  dynsim::Vector<S> g_, d_;
};

}  // namespace

DYNSIM_PLUGIN(AttractorDamped, "attractor_damped", "1.0.0",
              "noise sigma d(x) dW that vanishes at the planted attractors (CVFR paper, Sec. IV)")
