// `cvfr_hill`: the CVFR (continuous Hopfield) classifier with a Hill nonlinearity,
//
//   dx/dt = -x + beta M f(x),   f(x) = x^2 / (c + x^2),
//
// with one planted attractor per class. Each activity pattern psi_k = f(x^s_k) is an eigenvector
// of M with eigenvalue lambda_k, so the state x^s_k (entries 0, x_p, x_m, the roots of
// x = beta lambda f(x)) is an equilibrium whatever the free part of M is.
//
//   spectral:  M = Psi Lambda Psi^-1, Psi = [psi_1 .. psi_K | free columns], Lambda diagonal with
//              lambda_k first and free eigenvalues after; the free columns and eigenvalues train.
//   projector: M = A (I - P) + Psi_K diag(lambda_k) Psi_K^+, P = Psi_K Psi_K^+, A free (N x N):
//              no inverse of a trained matrix is ever needed.
//
// The drift vjp accumulates G = dL/dM (one GEMM per call); finish_gradients maps G to the
// parameter blocks once per batch.
//
// scenario.precision = "bf16": M is rounded to bf16 once per optimizer step (parameters_changed),
// f(X) and the adjoint are rounded as the elementwise passes write them, and the three products
// (M f, M^T a, the dL/dM panel) take bf16 operands with fp32 sums; the state, the loss and the
// optimizer stay fp32. The adjoint is exact for that computation with the rounding taken as the
// identity (straight-through): dL/dM of the rounded M is handed to M.
#include <dynsim/sdk.hpp>

#include "hill_kernels.hpp"

#include <Eigen/LU>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using dynsim::Index;
using MatD = Eigen::MatrixXd;
using VecD = Eigen::VectorXd;
// Per node and class: 0 -> 0, 1 -> x_p, 2 -> x_m.
using Codes = Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic>;

std::string num(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

// Everything the options determine, worked out once in double precision; the model keeps a copy
// in its own scalar type.
struct Plan {
  Index n = 0, k = 0;
  double c = 0, beta = 0;
  std::vector<double> lambda, xp, xm;  // per class
  bool with_m = false, spectral = true;
  std::string pattern, parameterisation;
  MatD states;    // N x K planted states x^s_k
  MatD activity;  // N x K patterns f(x^s_k)
  MatD planted;   // N x r eigenvectors planted with eigenvalue planted_lambda (r = K but binary)
  VecD planted_lambda;
  MatD q;    // N x N random orthogonal matrix
  VecD eig;  // free eigenvalues: N - r (spectral) or N (projector)
  double init_gain = 1.0, ortho_penalty = 0.0;
};

double hill(double x, double c) {
  return x * x / (c + x * x);
}

Codes block_codes(Index n, Index k, bool on, bool with_m) {
  const Index b = n / k;
  Codes codes = Codes::Constant(n, k, on ? 0 : 1);
  for (Index j = 0; j < k; ++j) {
    codes.col(j).segment(j * b, b).setConstant(on ? 1 : 0);
    // With K = 1 the next block is the class's own: leave it as it is.
    if (with_m && k > 1) codes.col(j).segment(((j + 1) % k) * b, b).setConstant(2);
  }
  return codes;
}

MatD states_of(const Codes& codes, const Plan& p) {
  MatD x(codes.rows(), codes.cols());
  for (Index j = 0; j < codes.cols(); ++j)
    for (Index i = 0; i < codes.rows(); ++i) {
      const int v = codes(i, j);
      x(i, j) = v == 1 ? p.xp[j] : v == 2 ? p.xm[j] : 0.0;
    }
  return x;
}

Index rank_of(const MatD& m) {
  return Eigen::FullPivLU<MatD>(m).rank();
}

// Random patterns: node i of class j is nonzero with probability `density`; with x_m in the
// alphabet a nonzero node is x_p or x_m with equal probability. A draw whose patterns coincide,
// vanish or are otherwise linearly dependent is redone with the next `draw` counter.
Codes random_codes(const dynsim::Options& o, const Plan& p) {
  const double density = o.real("density");
  const dynsim::Random rng(static_cast<std::uint64_t>(o.integer("pattern_seed")),
                           dynsim::Stream::user);
  std::vector<double> u(static_cast<std::size_t>(2 * p.n));
  constexpr std::uint32_t attempts = 1000;
  for (std::uint32_t a = 0; a < attempts; ++a) {
    Codes codes(p.n, p.k);
    for (Index j = 0; j < p.k; ++j) {
      rng.uniforms<double>(dynsim::Counter{0, a, static_cast<std::uint64_t>(j), 0}, u.data(),
                           2 * p.n);
      for (Index i = 0; i < p.n; ++i) {
        const bool on = u[static_cast<std::size_t>(i)] <= density;
        const bool m = p.with_m && u[static_cast<std::size_t>(p.n + i)] > 0.5;
        codes(i, j) = on ? (m ? 2 : 1) : 0;
      }
    }
    MatD act = states_of(codes, p).unaryExpr([&](double x) { return hill(x, p.c); });
    if (rank_of(act) == p.k) return codes;
  }
  o.fail("density", "no " + std::to_string(p.k) + " linearly independent random patterns of " +
                        std::to_string(p.n) + " nodes in " + std::to_string(attempts) +
                        " draws; change density or pattern_seed");
}

// Binary code: class j writes the number j + 1 in base 2 (alphabet 0p) or 3 (0mp) over nb
// blocks, least significant digit in block 0; digit d is code d.
Codes binary_codes(const dynsim::Options& o, const Plan& p, Index& nb, Index& bs) {
  const Index base = p.with_m ? 3 : 2;
  nb = 0;
  for (Index pw = 1; pw < p.k + 1; pw *= base) ++nb;  // smallest nb with base^nb >= K + 1
  if (nb > p.n)
    o.fail("pattern",
           "binary code needs " + std::to_string(nb) + " blocks but N = " + std::to_string(p.n));
  bs = p.n / nb;
  Codes codes = Codes::Zero(p.n, p.k);
  for (Index j = 0; j < p.k; ++j) {
    Index v = j + 1;
    for (Index blk = 0; blk < nb; ++blk, v /= base)
      codes.col(j).segment(blk * bs, bs).setConstant(static_cast<int>(v % base));
  }
  return codes;
}

Codes template_codes(const dynsim::Options& o, const Plan& p) {
  const auto& rows = o.real_matrix("templates");
  if (rows.empty()) o.fail("templates", "required when pattern = \"templates\"");
  if (static_cast<Index>(rows.size()) != p.k)
    o.fail("templates", "has " + std::to_string(rows.size()) +
                            " rows, expected one per class (K = " + std::to_string(p.k) + ")");
  Codes codes(p.n, p.k);
  for (Index j = 0; j < p.k; ++j) {
    const auto& r = rows[static_cast<std::size_t>(j)];
    if (static_cast<Index>(r.size()) != p.n)
      o.fail("templates", "row " + std::to_string(j + 1) + " has " + std::to_string(r.size()) +
                              " values, expected N = " + std::to_string(p.n));
    for (Index i = 0; i < p.n; ++i) {
      const double v = r[static_cast<std::size_t>(i)];
      codes(i, j) = v >= 0.5 ? 1 : (p.with_m && v < -0.5) ? 2 : 0;
    }
  }
  return codes;
}

Plan make_plan(const dynsim::Options& o, const dynsim::Context& ctx) {
  Plan p;
  p.pattern = o.string("pattern");
  p.parameterisation = o.string("parameterisation");
  p.spectral = p.parameterisation == "spectral";
  p.with_m = o.string("alphabet") == "0mp";
  const auto& templates = o.real_matrix("templates");
  const bool use_templates = p.pattern == "templates";
  if (!templates.empty() && !use_templates)
    ctx.log.warn("option 'templates' is ignored with pattern = \"" + p.pattern + "\"");

  // Sizes: the option, else the dataset's, else (templates only) the templates' shape.
  std::tie(p.n, p.k) = dynsim::planted_sizes(
      o, ctx,
      use_templates && !templates.empty() ? static_cast<Index>(templates.front().size()) : 0,
      use_templates ? static_cast<Index>(templates.size()) : 0);

  const double nd = static_cast<double>(p.n);
  p.c = o.real("c") > 0 ? o.real("c") : o.real("c_scale") / nd;
  p.beta = o.real("beta") > 0 ? o.real("beta") : 1.0 / std::sqrt(nd);

  const auto& lam = o.real_list("lambda");
  if (lam.size() != 1 && static_cast<Index>(lam.size()) != p.k)
    o.fail("lambda", "has " + std::to_string(lam.size()) +
                         " values; give one (shared by every class) or K = " + std::to_string(p.k));
  for (Index j = 0; j < p.k; ++j) {
    const double l = lam.size() == 1 ? lam[0] : lam[static_cast<std::size_t>(j)];
    const double bl = p.beta * l, disc = bl * bl - 4.0 * p.c;
    if (!(disc > 0)) {
      // Name c when the user set it, lambda otherwise: that is the knob they turned.
      const char* key = o.real("c") > 0 ? "c" : "lambda";
      o.fail(key, "x_p and x_m are real only if (beta*lambda)^2 > 4c, but (beta*lambda)^2 = " +
                      num(bl * bl) + " <= 4c = " + num(4.0 * p.c) + " (class " + std::to_string(j) +
                      ": beta = " + num(p.beta) + ", lambda = " + num(l) + ", c = " + num(p.c) +
                      "); lower c or raise lambda");
    }
    p.lambda.push_back(l);
    p.xp.push_back((bl + std::sqrt(disc)) / 2.0);
    p.xm.push_back((bl - std::sqrt(disc)) / 2.0);
  }

  Codes codes;
  Index nb = 0, bs = 0;
  if (p.pattern == "block_off" || p.pattern == "block_on")
    codes = block_codes(p.n, p.k, p.pattern == "block_on", p.with_m);
  else if (p.pattern == "random")
    codes = random_codes(o, p);
  else if (p.pattern == "binary")
    codes = binary_codes(o, p, nb, bs);
  else
    codes = template_codes(o, p);
  p.states = states_of(codes, p);
  p.activity = p.states.unaryExpr([&](double x) { return hill(x, p.c); });

  const Index rank = rank_of(p.activity);
  if (rank == p.k) {
    p.planted = p.activity;
    p.planted_lambda = Eigen::Map<const VecD>(p.lambda.data(), p.k);
  } else if (p.pattern == "binary") {
    // nb blocks cannot hold K > nb independent codes: plant the nb block indicators instead,
    // with one shared eigenvalue. Every class pattern lies in their span, so it is an eigenvector
    // with that eigenvalue and its state an equilibrium (so is every union of blocks).
    if (std::any_of(p.lambda.begin(), p.lambda.end(), [&](double l) { return l != p.lambda[0]; }))
      o.fail("lambda", "binary patterns of " + std::to_string(p.k) + " classes share " +
                           std::to_string(nb) +
                           " planted block eigenvectors, so they need one shared lambda");
    p.planted = MatD::Zero(p.n, nb);
    for (Index blk = 0; blk < nb; ++blk)
      p.planted.col(blk).segment(blk * bs, bs).setConstant(hill(p.xp[0], p.c));
    p.planted_lambda = VecD::Constant(nb, p.lambda[0]);
  } else {
    o.fail("pattern", "the " + std::to_string(p.k) + " activity patterns of \"" + p.pattern +
                          "\" are linearly dependent (rank " + std::to_string(rank) +
                          "), so they cannot all be planted as eigenvectors");
  }
  const Index r = p.planted.cols();

  const dynsim::Random init(ctx.seed, dynsim::Stream::init);
  p.q = dynsim::random_orthogonal(p.n, init, dynsim::Counter{0, 0, 0, 0});

  const Index m = p.spectral ? p.n - r : p.n;
  // Another draw than the Gaussian matrix.
  p.eig = dynsim::draw_eigenvalues(o, m, init, dynsim::Counter{0, 1, 0, 0});
  p.init_gain = o.real("init_gain");
  p.ortho_penalty = o.real("ortho_penalty");
  return p;
}

template <class S>
class CvfrHill final : public dynsim::Model<S> {
  using Mat = dynsim::Matrix<S>;
  using Vec = dynsim::Vector<S>;

 public:
  static constexpr bool supports_bf16 = true;

  static dynsim::OptionSpecs options() {
    using namespace dynsim::opt;
    dynsim::OptionSpecs specs = dynsim::planted_model_options("uniform", -0.4, 0.4);
    for (auto& e : dynsim::OptionSpecs{
             real("c", "Hill constant in f(x) = x^2/(c + x^2) (0: c_scale / N)")
                 .def(0.0)
                 .at_least(0),
             real("c_scale", "c = c_scale / N when c = 0 (authors: 1/8)").def(0.125).positive(),
             real("beta", "coupling scale (0: 1/sqrt(N))").def(0.0).at_least(0),
             real_list("lambda",
                       "planted eigenvalue: one shared value or K values (one per class); "
                       "needs (beta*lambda)^2 > 4c")
                 .def(std::vector<double>{1.0}),
             string("alphabet",
                    "values of planted states: \"0p\" = {0, x_p}, \"0mp\" = {0, x_m, x_p}")
                 .def(std::string("0p"))
                 .one_of({"0p", "0mp"}),
             string("pattern",
                    "planted patterns: block_off (x_p but block k), block_on (block k at x_p), "
                    "random, binary (class k+1 in base 2 or 3 over blocks), templates")
                 .def(std::string("block_off"))
                 .one_of({"block_off", "block_on", "random", "binary", "templates"}),
             real("density", "pattern = random: probability that a node is nonzero")
                 .def(0.5)
                 .positive()
                 .at_most(1.0),
             integer("pattern_seed", "pattern = random: seed of the patterns' draw")
                 .def(std::int64_t{1})
                 .at_least(0),
             real_matrix("templates",
                         "pattern = templates: K rows of N values; >= 0.5 -> x_p, < -0.5 -> x_m "
                         "(alphabet 0mp), else 0")
                 .def(std::vector<std::vector<double>>{}),
             string(
                 "parameterisation",
                 "spectral: M = Psi Lambda Psi^-1; projector: M = A (I - P) + Psi_K diag(lambda) "
                 "Psi_K^+")
                 .def(std::string("spectral"))
                 .one_of({"spectral", "projector"}),
             real("init_gain", "spectral: scale of the orthogonal init of the free Psi columns")
                 .def(1.3)
                 .positive(),
             real("input_scale",
                  "initial state = input_scale * input (x_p puts a pixel of 1 at the 'on' value)")
                 .def(1.0)
                 .positive(),
             real("ortho_penalty",
                  "spectral: loss += penalty * mean |cos| between distinct free Psi columns "
                  "(authors: 0.004; ignored by projector)")
                 .def(0.0)
                 .at_least(0),
         })
      specs.push_back(e);
    return specs;
  }

  CvfrHill(const dynsim::Options& o, const dynsim::Context& ctx) {
    const Plan p = make_plan(o, ctx);
    n_ = p.n;
    k_ = p.k;
    r_ = p.planted.cols();
    c_ = static_cast<S>(p.c);
    beta_ = static_cast<S>(p.beta);
    spectral_ = p.spectral;
    penalty_ = static_cast<S>(p.ortho_penalty);
    input_scale_ = static_cast<S>(o.real("input_scale"));
    threads_ = ctx.threads;
    bf16_ = std::is_same_v<S, float> && ctx.bf16;
    states_ = p.states.cast<S>();
    activity_ = p.activity.cast<S>();
    for (Index j = 0; j < k_; ++j) {
      alphabet_.push_back(static_cast<S>(p.xp[j]));
      if (p.with_m) alphabet_.push_back(static_cast<S>(p.xm[j]));
    }
    alphabet_.push_back(S(0));
    std::sort(alphabet_.begin(), alphabet_.end());
    alphabet_.erase(std::unique(alphabet_.begin(), alphabet_.end()), alphabet_.end());

    if (spectral_) {
      coupling_ = dynsim::planted_coupling<S>(p.planted, p.planted_lambda, p.eig, p.init_gain, p.q);
    } else {
      // A = Q diag(eig) Q^T: symmetric with the drawn spectrum (init_gain is not used here).
      a_ = (p.q * p.eig.asDiagonal() * p.q.transpose()).cast<S>();
      const MatD pinv =
          (p.planted.transpose() * p.planted).ldlt().solve(p.planted.transpose());  // Psi_K^+
      const MatD proj = p.planted * pinv;
      i_minus_p_ = (MatD::Identity(n_, n_) - proj).cast<S>();
      m_planted_ = (p.planted * p.planted_lambda.asDiagonal() * pinv).cast<S>();
      const Eigen::JacobiSVD<MatD> svd(p.planted);
      const VecD sv = svd.singularValues();
      condition_ = sv(0) / sv(sv.size() - 1);
    }
    parameters_changed();

    const double fxp = hill(p.xp[0], p.c);
    ctx.log.info("N = " + std::to_string(n_) + ", K = " + std::to_string(k_) + ", c = " + num(p.c) +
                 ", beta = " + num(p.beta) + ", x_p = " + num(p.xp[0]) +
                 (o.real_list("lambda").size() > 1 ? " (class 0)" : "") + ", f(x_p) = " + num(fxp) +
                 ", pattern = " + p.pattern + " (alphabet " + o.string("alphabet") + "), " +
                 p.parameterisation + " parameterisation, cond(Psi) = " + num(psi_condition()) +
                 (bf16_ ? ", bf16 operands in the products" : ""));
    if (r_ < k_)
      ctx.log.info("binary patterns planted through " + std::to_string(r_) + " block eigenvectors");
  }

  dynsim::Index dim() const override { return n_; }

  // The hot path. Each call makes one pass over the N x B state (column by column, so every
  // column stays in L1 while it is worked on) and folds the rest into the GEMM: the Euler update
  // X <- (1 - h) X + h beta A f(X) is the GEMM's C = alpha A f + beta C.
  void drift(S, dynsim::ConstMatrixRef<S> X, dynsim::MatrixRef<S> dX) override {
    resize_scratch(X.cols());
    if constexpr (std::is_same_v<S, float>)
      if (bf16_) {
        dynsim::for_columns(n_, X.cols(), threads_, [&](Index j0, Index j1) {
          for (Index j = j0; j < j1; ++j)
            cvfr_hill::forward_bf16(X.col(j).data(), dynsim::blas::bf16_column(f_bf_, j),
                                    dX.col(j).data(), n_, c_, -1.0f);
        });
        dynsim::blas::gemm_bf16(Op::n, Op::n, beta_, m_bf_, f_bf_, 1.0f, dX);
        return;
      }
    dynsim::for_columns(n_, X.cols(), threads_, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j)
        cvfr_hill::forward(X.col(j).data(), f_.col(j).data(), dX.col(j).data(), n_, c_, S(-1));
    });
    gemm(Op::n, Op::n, beta_, coupling(), f_, S(1), dX);
  }

  bool euler_step(S, S h, dynsim::MatrixRef<S> X) override {
    resize_scratch(X.cols());
    if constexpr (std::is_same_v<S, float>)
      if (bf16_) {
        dynsim::for_columns(n_, X.cols(), threads_, [&](Index j0, Index j1) {
          for (Index j = j0; j < j1; ++j)
            cvfr_hill::forward_bf16(X.col(j).data(), dynsim::blas::bf16_column(f_bf_, j),
                                    X.col(j).data(), n_, c_, S(1) - h);
        });
        dynsim::blas::gemm_bf16(Op::n, Op::n, h * beta_, m_bf_, f_bf_, 1.0f, X);
        return true;
      }
    dynsim::for_columns(n_, X.cols(), threads_, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j)
        cvfr_hill::forward(X.col(j).data(), f_.col(j).data(), X.col(j).data(), n_, c_, S(1) - h);
    });
    gemm(Op::n, Op::n, h * beta_, coupling(), f_, S(1), X);
    return true;
  }

  // adj_x = beta f'(X) (A^T adj) - adj; dL/dA gets beta adj f(X)^T. adj_x may alias adj.
  void drift_vjp(S, dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> adj,
                 dynsim::MatrixRef<S> adj_x, std::vector<dynsim::Matrix<S>>& acc) override {
    vjp_pass(X, adj, beta_, S(-1), beta_, adj_x, acc);
  }

  // a <- (1 - h) a + h beta f'(X) (A^T a); dL/dA gets h beta a f(X)^T.
  bool euler_step_vjp(S, S h, dynsim::ConstMatrixRef<S> Xk, dynsim::MatrixRef<S> a,
                      std::vector<dynsim::Matrix<S>>& acc) override {
    vjp_pass(Xk, a, h * beta_, S(1) - h, h * beta_, a, acc);
    return true;
  }

  // The buffered a f^T columns go into dL/dA as one GEMM with inner dimension up to
  // kPanelColumns, instead of one rank-B update of the N x N accumulator per step.
  void flush_accumulators(std::vector<dynsim::Matrix<S>>& acc) override {
    panel_.flush(acc[0]);
    panel_bf_.flush(acc[0]);
  }

  std::vector<std::pair<Index, Index>> accumulator_shapes() override { return {{n_, n_}}; }

  void finish_gradients(const std::vector<dynsim::Matrix<S>>& acc,
                        std::vector<dynsim::Matrix<S>>& grads) override {
    const Mat& g = acc[0];
    if (!spectral_) {
      grads.assign(1, g * i_minus_p_);  // G (I - P)^T, P symmetric
      return;
    }
    coupling_.gradients(g, grads);
  }

  // penalty * mean over pairs i < j of |cos(u_i, u_j)|, u the free Psi columns.
  S regularize(std::vector<dynsim::Matrix<S>>& grads) override {
    return spectral_ ? coupling_.orthogonality_penalty(penalty_, grads) : S(0);
  }

  void encode(dynsim::ConstMatrixRef<S> input, dynsim::MatrixRef<S> X0) const override {
    X0 = input_scale_ * input;
  }

  bool has_jacobian() const override { return true; }
  void jacobian(S, dynsim::ConstVectorRef<S> x, dynsim::MatrixRef<S> J) const override {
    const Vec fp = (S(2) * c_ * x.array() / (c_ + x.array().square()).square()).matrix();
    J.noalias() = (beta_ * coupling()) * fp.asDiagonal();
    J.diagonal().array() -= S(1);
  }

  std::vector<dynsim::Parameter<S>> parameters() override {
    if (!spectral_) return {{"a", a_.data(), n_, n_}};
    return coupling_.parameters();
  }

  void parameters_changed() override {
    if (!spectral_) {
      m_.noalias() = a_ * i_minus_p_;
      m_ += m_planted_;
    } else {
      coupling_.assemble();
    }
    if (bf16_) round_coupling();
  }

  // Condition number of Psi (spectral: 1-norm estimate from the LU; projector: 2-norm condition
  // of the planted N x K patterns, which never change).
  double psi_condition() const { return spectral_ ? coupling_.condition() : condition_; }

  dynsim::Matrix<S> attractors() const override { return states_; }
  std::vector<S> state_alphabet() const override { return alphabet_; }

  void readout(dynsim::ConstMatrixRef<S> X, dynsim::MatrixRef<S> Y) const override {
    Y.array() = X.array().square() / (c_ + X.array().square());
  }
  void readout_vjp(dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> dY,
                   dynsim::MatrixRef<S> dX) const override {
    dX.array() = S(2) * c_ * X.array() / (c_ + X.array().square()).square() * dY.array();
  }

  std::vector<std::pair<std::string, dynsim::Matrix<S>>> exports() const override {
    std::vector<std::pair<std::string, Mat>> out;
    if (spectral_) {
      out.emplace_back("psi", coupling_.psi());
      out.emplace_back("lambda", coupling_.lambda());
      out.emplace_back("A", coupling_.matrix());
    } else {
      out.emplace_back("a", a_);
      out.emplace_back("M", m_);
    }
    out.emplace_back("attractors", states_);
    out.emplace_back("activity_patterns", activity_);
    out.emplace_back("psi_condition", Mat::Constant(1, 1, static_cast<S>(psi_condition())));
    out.emplace_back("c", Mat::Constant(1, 1, c_));  // as resolved from c / c_scale
    out.emplace_back("beta", Mat::Constant(1, 1, beta_));
    return out;
  }

 private:
  using Op = dynsim::blas::Op;

  static void gemm(Op oa, Op ob, S alpha, dynsim::ConstMatrixRef<S> a, dynsim::ConstMatrixRef<S> b,
                   S beta, dynsim::MatrixRef<S> c) {
    dynsim::blas::gemm<S>(oa, ob, alpha, a, b, beta, c);
  }

  // Scratch sized to the batch: reallocated only when the batch width changes.
  void resize_scratch(Index b) {
    if (mt_adj_.cols() == b) return;
    mt_adj_.resize(n_, b);
    if (bf16_) {
      f_bf_.resize(n_, b);
      adj_bf_.resize(n_, b);
    } else {
      f_.resize(n_, b);
    }
  }

  // M and M^T rounded to bf16, each column-major, so that both products read their operand in
  // the layout oneDNN streams fastest.
  void round_coupling() {
    if constexpr (std::is_same_v<S, float>) {
      const Mat& m = coupling();
      m_bf_.resize(n_, n_);
      mt_bf_.resize(n_, n_);
      dynsim::blas::round_to_bf16(m, m_bf_);
      for (Index j = 0; j < n_; ++j) {
        std::uint16_t* col = dynsim::blas::bf16_column(mt_bf_, j);
        for (Index i = 0; i < n_; ++i) col[i] = dynsim::blas::bf16_bits(m(j, i));
      }
    }
  }

  // The coupling the drift uses: A (spectral) or M (projector).
  const Mat& coupling() const { return spectral_ ? coupling_.matrix() : m_; }

  // out = keep * adj + scale * f'(X) (A^T adj), and the panel gets (grad_scale adj, f(X)); one
  // pass over the state after the GEMM. out may alias adj: each entry is read before written.
  void vjp_pass(dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> adj, S scale, S keep,
                S grad_scale, dynsim::MatrixRef<S> out, std::vector<dynsim::Matrix<S>>& acc) {
    const Index b = X.cols();
    resize_scratch(b);
    if constexpr (std::is_same_v<S, float>)
      if (bf16_) {
        vjp_pass_bf16(X, adj, scale, keep, grad_scale, out, acc);
        return;
      }
    gemm(Op::t, Op::n, S(1), coupling(), adj, S(0), mt_adj_);
    const Index p0 = panel_.reserve(n_, b, acc[0]);
    dynsim::for_columns(n_, b, threads_, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j)
        cvfr_hill::adjoint(X.col(j).data(), adj.col(j).data(), mt_adj_.col(j).data(),
                           panel_.v().col(p0 + j).data(), panel_.u().col(p0 + j).data(),
                           out.col(j).data(), n_, c_, scale, keep, grad_scale);
    });
  }

  // vjp_pass with bf16 operands: adj is rounded before the product, the panel stores bf16.
  void vjp_pass_bf16(dynsim::ConstMatrixRef<S> X, dynsim::ConstMatrixRef<S> adj, S scale, S keep,
                     S grad_scale, dynsim::MatrixRef<S> out, std::vector<dynsim::Matrix<S>>& acc) {
    const Index b = X.cols();
    dynsim::for_columns(n_, b, threads_, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j)
        dynsim::blas::to_bf16(adj.col(j).data(), dynsim::blas::bf16_column(adj_bf_, j), n_);
    });
    dynsim::blas::gemm_bf16(Op::n, Op::n, 1.0f, mt_bf_, adj_bf_, 0.0f, mt_adj_);
    const Index p0 = panel_bf_.reserve(n_, b, acc[0]);
    dynsim::for_columns(n_, b, threads_, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j)
        cvfr_hill::adjoint_bf16(X.col(j).data(), adj.col(j).data(), mt_adj_.col(j).data(),
                                dynsim::blas::bf16_column(panel_bf_.v(), p0 + j),
                                dynsim::blas::bf16_column(panel_bf_.u(), p0 + j), out.col(j).data(),
                                n_, c_, scale, keep, grad_scale);
    });
  }

  Index n_ = 0, k_ = 0, r_ = 0;  // r_: planted eigenvectors (K, or the blocks of a binary code)
  S c_ = 0, beta_ = 0, penalty_ = 0, input_scale_ = 1;
  bool spectral_ = true;
  Mat states_, activity_;
  std::vector<S> alphabet_;
  dynsim::SpectralCoupling<S> coupling_;  // spectral: A = Psi Lambda Psi^-1
  // projector: M = A (I - P) + Psi_K diag(lambda) Psi_K^+
  Mat m_, a_, i_minus_p_, m_planted_;
  double condition_ = 1.0;  // projector: 2-norm condition of Psi_K
  int threads_ = 1;
  Mat f_, mt_adj_;                      // scratch, N x B
  dynsim::OuterProductPanel<S> panel_;  // pending (a, f) columns of dL/dA
  // bf16 path: M and M^T rounded once per optimizer step, f(X) and adj as rounded operands,
  // and the panel in bf16.
  bool bf16_ = false;
  dynsim::blas::Bf16Matrix m_bf_, mt_bf_, f_bf_, adj_bf_;
  std::conditional_t<std::is_same_v<S, float>, dynsim::OuterProductPanel<S, Eigen::bfloat16>,
                     dynsim::OuterProductPanel<S>>
      panel_bf_;  // (f64 never uses it)
};

}  // namespace

DYNSIM_PLUGIN(CvfrHill, "cvfr_hill", "1.0.0",
              "CVFR classifier dx/dt = -x + beta M f(x), Hill f, planted attractors")
