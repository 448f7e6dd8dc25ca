// Fixed-step schemes written out by hand, with their exact discrete adjoints: the training path.
//
// Training differentiates the discretised dynamics, so the forward step and its vector-Jacobian
// product must be two views of the same arithmetic. Each scheme does one batched drift call per
// stage (a GEMM inside the model) and allocates nothing per step: buffers are sized once per
// batch width. Noise realisations are regenerated from the counter-based RNG (keyed by step),
// never stored, so the backward pass replays exactly the forward's draws.
#pragma once

#include <dynsim/sdk/model.hpp>
#include <dynsim/sdk/noise_law.hpp>
#include <span>

#include "integrate/integrator.hpp"

namespace dynsim {

template <class S>
class FixedStepScheme {
 public:
  // method: euler, rk4 or euler_maruyama (noise may be null or vanishing for the first two).
  FixedStepScheme(Method method, double dt, double t0, Model<S>& model, NoiseLaw<S>* noise,
                  int threads);

  // Euler and Euler-Maruyama use the model's fused euler_step/euler_step_vjp where it has them
  // (the default); off, they always go through drift/drift_vjp (tests compare the two).
  void set_fused(bool on) { fused_ = on; }

  Method method() const { return method_; }
  Model<S>& model() { return model_; }
  double dt() const { return dt_; }
  S time(std::int64_t k) const { return static_cast<S>(t0_ + static_cast<double>(k) * dt_); }

  // X <- X_{k+1} from X = X_k. ids key the noise of each column.
  void step(std::int64_t k, MatrixRef<S> X, std::span<const std::uint64_t> ids, NoiseKey key);

  // Steps first .. last-1.
  void run(MatrixRef<S> X, std::int64_t first, std::int64_t last,
           std::span<const std::uint64_t> ids, NoiseKey key) {
    for (std::int64_t k = first; k < last; ++k) step(k, X, ids, key);
  }

  // Backward through step k: Xk is the state before the step, `a` holds dL/dX_{k+1} on entry and
  // dL/dX_k on return; parameter contributions are added into the model's accumulators.
  void step_vjp(std::int64_t k, ConstMatrixRef<S> Xk, MatrixRef<S> a,
                std::span<const std::uint64_t> ids, NoiseKey key, std::vector<Matrix<S>>& acc);

 private:
  void resize(Index b);
  void draw(std::int64_t k, std::span<const std::uint64_t> ids, NoiseKey key);

  Method method_;
  double dt_, t0_;
  Model<S>& model_;
  NoiseLaw<S>* noise_;  // null when absent or identically zero
  int threads_;
  bool fused_ = true;
  // Work buffers, N x B.
  Matrix<S> k1_, k2_, k3_, k4_, s_, g_, c_, xi_;
};

extern template class FixedStepScheme<float>;
extern template class FixedStepScheme<double>;

}  // namespace dynsim
