// Building blocks for models with planted attractors, shared by cvfr_hill and
// sanode_double_well and open to user models:
//
//   random_orthogonal   a Haar-random orthogonal matrix from the counter-based generator;
//   planted_model_options, planted_sizes, draw_eigenvalues   the options such models share (sizes
//                       and the free eigenvalues' init), resolved;
//   planted_coupling    Psi and Lambda of the spectral start: planted columns, then free ones;
//   SpectralCoupling    A = Psi Lambda Psi^-1 with the first r columns of Psi (and their
//                       eigenvalues) fixed, the rest trained; maps dL/dA to the trained blocks
//                       and carries the orthogonality penalty between free columns;
//   OuterProductPanel   buffers the u v^T terms of dL/dA of many steps and adds them with one
//                       GEMM, instead of one rank-B update of an N x N accumulator per step.
#pragma once

#include <Eigen/LU>
#include <Eigen/QR>
#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "dynsim/sdk/blas.hpp"
#include "dynsim/sdk/context.hpp"
#include "dynsim/sdk/dense.hpp"
#include "dynsim/sdk/model.hpp"
#include "dynsim/sdk/options.hpp"
#include "dynsim/sdk/random.hpp"
#include "dynsim/sdk/types.hpp"

namespace dynsim {

// QR of a Gaussian matrix drawn at `counter`, signs fixed by diag(R) so that Q is Haar.
inline Eigen::MatrixXd random_orthogonal(Index n, const Random& rng, const Counter& counter) {
  Eigen::MatrixXd g(n, n);
  rng.normals<double>(counter, g.data(), n * n);
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(n, n);
  for (Index j = 0; j < n; ++j)
    if (qr.matrixQR()(j, j) < 0) q.col(j) *= -1.0;
  return q;
}

// Options every planted model shares: n and classes (0: the dataset's), eig_init (uniform
// U(eig_a, eig_b) or normal N(eig_a, eig_b^2)), eig_a and eig_b, with the model's defaults.
inline OptionSpecs planted_model_options(const std::string& init, double a, double b) {
  using namespace opt;
  return {
      integer("n", "state dimension N (0: the dataset's dimension)")
          .def(std::int64_t{0})
          .at_least(0)
          .at_most(1e5),
      integer("classes", "number of classes K < N, one planted attractor each (0: the dataset's)")
          .def(std::int64_t{0})
          .at_least(0)
          .at_most(1e5),
      string("eig_init", "free eigenvalues: uniform U(eig_a, eig_b) or normal N(eig_a, eig_b^2)")
          .def(init)
          .one_of({"uniform", "normal"}),
      real("eig_a", "free eigenvalues: lower bound (uniform) or mean (normal)").def(a),
      real("eig_b", "free eigenvalues: upper bound (uniform) or standard deviation (normal)")
          .def(b)};
}

// N and K from those options, else from the scenario's dataset, else the fallbacks (a model's
// own source, say templates); K planted plus at least one free direction.
inline std::pair<Index, Index> planted_sizes(const Options& o, const Context& ctx,
                                             Index n_fallback = 0, Index k_fallback = 0) {
  Index n = o.integer("n"), k = o.integer("classes");
  if (n == 0) n = ctx.data_dim ? ctx.data_dim : n_fallback;
  if (n == 0) o.fail("n", "is 0 and the scenario's dataset gives no dimension: set n");
  if (k == 0) k = ctx.data_classes ? ctx.data_classes : k_fallback;
  if (k == 0) o.fail("classes", "is 0 and the scenario's dataset gives no class count: set it");
  if (k >= n)
    o.fail("classes", "K = " + std::to_string(k) + " must be smaller than N = " +
                          std::to_string(n) + " (K planted eigenvectors plus free ones)");
  return {n, k};
}

// m free eigenvalues as those options ask, drawn at `counter`.
inline Eigen::VectorXd draw_eigenvalues(const Options& o, Index m, const Random& rng,
                                        const Counter& counter) {
  const double a = o.real("eig_a"), b = o.real("eig_b");
  Eigen::VectorXd eig(m);
  if (o.string("eig_init") == "uniform") {
    if (b < a)
      o.fail("eig_b",
             "upper bound " + std::to_string(b) + " is below eig_a = " + std::to_string(a));
    rng.uniforms<double>(counter, eig.data(), m);
    return (a + (b - a) * eig.array()).matrix();
  }
  if (b < 0) o.fail("eig_b", "standard deviation " + std::to_string(b) + " is negative");
  rng.normals<double>(counter, eig.data(), m);
  return (a + b * eig.array()).matrix();
}

template <class S>
class SpectralCoupling;

// The spectral start of a planted model: Psi = [planted | gain x the first N - K columns of q]
// (q: a Haar orthogonal N x N matrix, random_orthogonal) and Lambda = [planted_lambda |
// free_lambda], the planted K columns and eigenvalues fixed. Any N x K planted block with K < N.
template <class S>
SpectralCoupling<S> planted_coupling(const Eigen::MatrixXd& planted,
                                     const Eigen::VectorXd& planted_lambda,
                                     const Eigen::VectorXd& free_lambda, double gain,
                                     const Eigen::MatrixXd& q) {
  const Index n = planted.rows(), k = planted.cols();
  if (q.rows() != n || q.cols() != n || planted_lambda.size() != k || free_lambda.size() != n - k)
    throw std::invalid_argument("planted_coupling: Psi would be " + std::to_string(n) + " x " +
                                std::to_string(k) + " planted + " + std::to_string(q.cols()) +
                                " from q, with " + std::to_string(planted_lambda.size()) + " + " +
                                std::to_string(free_lambda.size()) + " eigenvalues");
  Eigen::MatrixXd psi(n, n);
  psi << planted, gain * q.leftCols(n - k);
  Eigen::VectorXd lam(n);
  lam << planted_lambda, free_lambda;
  return SpectralCoupling<S>(psi.cast<S>(), lam.cast<S>(), k);
}

template <class S>
class SpectralCoupling {
 public:
  using Mat = Matrix<S>;
  using Vec = Vector<S>;

  SpectralCoupling() = default;
  // psi = [planted | free] (N x N), lambda likewise (N); the first `fixed` entries never train.
  SpectralCoupling(Mat psi, Vec lambda, Index fixed)
      : psi_(std::move(psi)), lam_(std::move(lambda)), r_(fixed) {
    assemble();
  }

  Index dim() const { return psi_.rows(); }
  Index fixed() const { return r_; }
  Index free() const { return dim() - r_; }
  const Mat& matrix() const { return a_; }  // A
  const Mat& psi() const { return psi_; }
  const Vec& lambda() const { return lam_; }
  Vec& lambda() { return lam_; }  // a model may project the free eigenvalues (then assemble())
  // 1-norm condition estimate of Psi, from a fresh LU: for logs and exports, not the step loop.
  double condition() const {
    return 1.0 / static_cast<double>(Eigen::PartialPivLU<Mat>(psi_).rcond());
  }

  // The trained blocks, views into this object: Psi is column-major, so its free columns are one
  // contiguous block.
  std::vector<Parameter<S>> parameters() {
    return {{"psi_free", psi_.data() + dim() * r_, dim(), free()},
            {"lambda_free", lam_.data() + r_, free(), 1}};
  }

  // A = Psi Lambda Psi^-1 solves A Psi = Psi Lambda from the right with the LU (Q Psi = L U):
  // A = (Psi Lambda) U^-1 L^-1 Q, no inverse and no transposed copies. The LU and the solves
  // recurse into blas::gemm (dynsim/sdk/dense.hpp): the solves about 1.2x and the LU about 1.1x
  // faster than Eigen's or LAPACK's own at N = 784 (bench/optimizer_step_profile).
  void assemble() {
    const Index n = dim();
    lu_ = psi_;
    piv_.resize(n);
    // A singular Psi (a zero pivot) makes A inf or NaN, which training reports as divergence.
    lu_in_place(lu_, piv_.data());
    // Q from the row swaps, as Eigen's PartialPivLU builds it.
    perm_.setIdentity(n);
    for (Index k = n - 1; k >= 0; --k) perm_.applyTranspositionOnTheRight(k, piv_[k]);
    a_.noalias() = psi_ * lam_.asDiagonal();
    solve_right_in_place<S, Eigen::Upper, false>(lu_, a_);
    solve_right_in_place<S, Eigen::UnitLower, false>(lu_, a_);
    a_ = a_ * perm_;  // a column permutation, applied in place
  }

  // From G = dL/dA to (dL/dPsi_free, dL/dlambda_free), written to grads[first], grads[first + 1]
  // (grads grows to first + 2 blocks when shorter; a model's further blocks follow with
  // push_back, or call this with `first` after its own).
  // A = P L P^-1: dL/dP = H L - A^T H, dL/dL_jj = sum_i P_ij H_ij, with H = G P^-T. H solves
  // H P^T = G from the right with the LU (P^T = U^T L^T Q): H = G Q^T L^-T U^-T.
  void gradients(const Mat& g, std::vector<Mat>& grads, std::size_t first = 0) {
    const Index m = free();
    h_.noalias() = g * perm_.transpose();
    solve_right_in_place<S, Eigen::UnitLower, true>(lu_, h_);  // X L^T = B
    solve_right_in_place<S, Eigen::Upper, true>(lu_, h_);      // X U^T = B
    const auto h_free = h_.rightCols(m);
    if (grads.size() < first + 2) grads.resize(first + 2);
    grads[first] = h_free * lam_.tail(m).asDiagonal();
    blas::gemm<S>(blas::Op::t, blas::Op::n, S(-1), a_, h_free, S(1), grads[first]);
    grads[first + 1] = (psi_.rightCols(m).array() * h_free.array()).colwise().sum().transpose();
  }

  // penalty * mean over pairs i < j of |cos(u_i, u_j)|, u the free columns; returns it and adds
  // its gradient to grads[first] (dL/dPsi_free).
  S orthogonality_penalty(S penalty, std::vector<Mat>& grads, std::size_t first = 0) const {
    const Index m = free();
    if (penalty == S(0) || m < 2) return S(0);
    const auto u = psi_.rightCols(m);
    const Vec norms = u.colwise().norm().transpose();
    const Mat uh = u * norms.cwiseInverse().asDiagonal();
    Mat cs = uh.transpose() * uh;  // cosines, diagonal excluded
    cs.diagonal().setZero();
    const S scale = penalty / (S(m) * S(m - 1) / S(2));  // penalty / number of pairs
    const Mat sgn = cs.array().sign().matrix();
    const Vec abs_sum = cs.cwiseAbs().rowwise().sum();  // sum_j |cos_ij|
    // d|cos_ij|/du_i = s_ij (uh_j - cos_ij uh_i) / |u_i|
    const Mat du = uh * sgn - uh * abs_sum.asDiagonal();
    grads[first] += scale * (du * norms.cwiseInverse().asDiagonal());
    return scale * cs.cwiseAbs().sum() / S(2);
  }

 private:
  Mat psi_, a_, h_, lu_;  // lu_: L (unit, below the diagonal) and U of Q Psi
  Vec lam_;
  Index r_ = 0;
  std::vector<int> piv_;
  Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, int> perm_;
};

// S is the accumulator's scalar; T the panel's storage: S, or Eigen::bfloat16 for a model's bf16
// path (acc += U V^T with bf16 operands and fp32 sums).
template <class S, class T = S>
class OuterProductPanel {
 public:
  static_assert(std::is_same_v<T, S> ||
                    (std::is_same_v<T, Eigen::bfloat16> && std::is_same_v<S, float>),
                "bf16 panels accumulate in float");
  static constexpr Index kColumns = 2048;
  using Storage = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

  // Room for b more column pairs; flushes into acc when full. Returns the first column to write
  // u and v at.
  Index reserve(Index n, Index b, Matrix<S>& acc) {
    const Index cap = b * std::max<Index>(1, kColumns / b);
    if (used_ + b > u_.cols() || u_.cols() != cap || u_.rows() != n) {
      flush(acc);
      if (u_.cols() != cap || u_.rows() != n) {
        u_.resize(n, cap);
        v_.resize(n, cap);
      }
    }
    const Index first = used_;
    used_ += b;
    return first;
  }
  Storage& u() { return u_; }
  Storage& v() { return v_; }

  // acc += U V^T over the pending columns.
  void flush(Matrix<S>& acc) {
    if (used_ == 0) return;
    if constexpr (std::is_same_v<T, Eigen::bfloat16>)
      blas::gemm_bf16(blas::Op::n, blas::Op::t, 1.0f, u_.leftCols(used_), v_.leftCols(used_), 1.0f,
                      acc);
    else
      blas::gemm<S>(blas::Op::n, blas::Op::t, S(1), u_.leftCols(used_), v_.leftCols(used_), S(1),
                    acc);
    used_ = 0;
  }

 private:
  Storage u_, v_;
  Index used_ = 0;
};

}  // namespace dynsim
