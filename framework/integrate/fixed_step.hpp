// Fixed-step schemes written out by hand, with their exact discrete adjoints: the one fixed-step
// forward path. Training, evaluation and the figures call step(); `simulate` drives the same
// steps through odeint (FixedStepper below), so one scenario gives the same states in all three.
//
// Training differentiates the discretised dynamics, so the forward step and its vector-Jacobian
// product must be two views of the same arithmetic. Each scheme does one batched drift call per
// stage (a GEMM inside the model) and allocates nothing per step: buffers are sized once per
// batch width. Noise realisations are regenerated from the counter-based RNG (keyed by step),
// never stored, so the backward pass replays exactly the forward's draws.
#pragma once

#include <boost/numeric/odeint/stepper/stepper_categories.hpp>
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
  double t0() const { return t0_; }
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

// What a batch's steps are keyed by: one id per column and the run's noise key. It is the
// "system" that odeint hands to FixedStepper::do_step; the dynamics are the scheme's own.
struct BatchKey {
  std::span<const std::uint64_t> ids;
  NoiseKey key;
};

// A FixedStepScheme as a Boost.Odeint stepper (stepper_tag: order(), do_step(system, x, t, dt)),
// so odeint's integrate functions and observers drive the very steps training takes. Time is
// double; the step index that keys the noise is k = round((t - t0) / dt), which odeint's
// integrate_n_steps makes exact by computing t = t0 + k dt.
template <class S>
class FixedStepper {
 public:
  using state_type = Matrix<S>;
  using deriv_type = Matrix<S>;
  using value_type = S;
  using time_type = double;
  using order_type = unsigned short;
  using stepper_category = boost::numeric::odeint::stepper_tag;

  explicit FixedStepper(FixedStepScheme<S>& scheme) : scheme_(&scheme) {}
  order_type order() const { return scheme_->method() == Method::rk4 ? 4 : 1; }
  void do_step(const BatchKey& batch, state_type& x, time_type t, time_type dt);

 private:
  FixedStepScheme<S>* scheme_;  // a pointer: odeint copies steppers
};

extern template class FixedStepScheme<float>;
extern template class FixedStepScheme<double>;
extern template class FixedStepper<float>;
extern template class FixedStepper<double>;

}  // namespace dynsim
