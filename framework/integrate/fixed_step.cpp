#include "integrate/fixed_step.hpp"

#include <cmath>

#include "common/errors.hpp"

namespace dynsim {

template <class S>
FixedStepScheme<S>::FixedStepScheme(Method method, double dt, double t0, Model<S>& model,
                                    NoiseLaw<S>* noise, int threads)
    : method_(method),
      dt_(dt),
      t0_(t0),
      model_(model),
      noise_(noise && !noise->vanishes() ? noise : nullptr),
      threads_(std::max(1, threads)) {
  if (method == Method::dopri5)
    throw InputError("training needs a fixed-step method (euler, rk4, euler_maruyama), not dopri5");
  if (noise_ && method != Method::euler_maruyama)
    throw InputError(std::string("integrator method '") + method_name(method) +
                     "' is deterministic but the noise law is not zero; use euler_maruyama");
}

template <class S>
void FixedStepScheme<S>::resize(Index b) {
  const Index n = model_.dim();
  if (k1_.rows() == n && k1_.cols() == b) return;
  for (Matrix<S>* m : {&k1_, &k2_, &k3_, &k4_, &s_, &g_, &c_, &xi_}) m->resize(n, b);
}

template <class S>
void FixedStepScheme<S>::draw(std::int64_t k, std::span<const std::uint64_t> ids, NoiseKey key) {
  Integrator<S>::draw_normals(Random(key.seed, Stream::noise), key, ids, k, xi_, threads_);
}

template <class S>
void FixedStepScheme<S>::step(std::int64_t k, MatrixRef<S> X, std::span<const std::uint64_t> ids,
                              NoiseKey key) {
  resize(X.cols());
  const S h = static_cast<S>(dt_), t = time(k);
  switch (method_) {
    case Method::euler:
    case Method::euler_maruyama:
      // The noise term is evaluated at the step's start state, before a fused step moves X.
      if (noise_) {
        draw(k, ids, key);
        noise_->diffuse(t, X, xi_, k2_);
      }
      if (!fused_ || !model_.euler_step(t, h, X)) {
        model_.drift(t, X, k1_);
        X += h * k1_;
      }
      if (noise_) X += std::sqrt(h) * k2_;
      break;
    case Method::rk4: {
      const S half = h / 2;
      model_.drift(t, X, k1_);
      s_ = X + half * k1_;
      model_.drift(t + half, s_, k2_);
      s_ = X + half * k2_;
      model_.drift(t + half, s_, k3_);
      s_ = X + h * k3_;
      model_.drift(t + h, s_, k4_);
      X += (h / 6) * (k1_ + 2 * k2_ + 2 * k3_ + k4_);
      break;
    }
    case Method::dopri5:
      break;
  }
}

template <class S>
void FixedStepScheme<S>::step_vjp(std::int64_t k, ConstMatrixRef<S> Xk, MatrixRef<S> a,
                                  std::span<const std::uint64_t> ids, NoiseKey key,
                                  std::vector<Matrix<S>>& acc) {
  resize(Xk.cols());
  const S h = static_cast<S>(dt_), t = time(k);
  switch (method_) {
    case Method::euler:
    case Method::euler_maruyama:
      // x' = x + h F(x) + sqrt(h) G(x) xi  =>  a_x = a + J^T (h a) + d<sqrt(h) a, G(x) xi>/dx.
      // The noise term first (into k2_): it needs dL/dX_{k+1}, which a fused step overwrites.
      if (noise_) {
        draw(k, ids, key);
        c_ = std::sqrt(h) * a;
        k2_.setZero();
        noise_->diffuse_vjp(t, Xk, xi_, c_, k2_);
      }
      if (!fused_ || !model_.euler_step_vjp(t, h, Xk, a, acc)) {
        c_ = h * a;
        model_.drift_vjp(t, Xk, c_, g_, acc);
        a += g_;
      }
      if (noise_) a += k2_;
      break;
    case Method::rk4: {
      // Recompute the stage states, then walk the stages backwards:
      // x' = x + h/6 (k1 + 2 k2 + 2 k3 + k4), k2 = F(x + h/2 k1), k3 = F(x + h/2 k2), k4 = F(x + h
      // k3).
      const S half = h / 2;
      model_.drift(t, Xk, k1_);
      s_ = Xk + half * k1_;
      model_.drift(t + half, s_, k2_);
      s_ = Xk + half * k2_;  // stage 3 state; k2_ becomes free after this line
      model_.drift(t + half, s_, k3_);
      // Stage 4: cotangent (h/6) a at x + h k3.
      k4_ = Xk + h * k3_;
      c_ = (h / 6) * a;
      model_.drift_vjp(t + h, k4_, c_, g_, acc);
      k4_ = a;  // k4_ now accumulates dL/dx
      k4_ += g_;
      // Stage 3: cotangent (h/3) a + h g4 at x + h/2 k2 (still in s_).
      c_ = (h / 3) * a + h * g_;
      model_.drift_vjp(t + half, s_, c_, g_, acc);
      k4_ += g_;
      // Stage 2: cotangent (h/3) a + h/2 g3 at x + h/2 k1.
      c_ = (h / 3) * a + half * g_;
      s_ = Xk + half * k1_;
      model_.drift_vjp(t + half, s_, c_, g_, acc);
      k4_ += g_;
      // Stage 1: cotangent (h/6) a + h/2 g2 at x.
      c_ = (h / 6) * a + half * g_;
      model_.drift_vjp(t, Xk, c_, g_, acc);
      k4_ += g_;
      a = k4_;
      break;
    }
    case Method::dopri5:
      break;
  }
}

template <class S>
void FixedStepper<S>::do_step(const BatchKey& batch, state_type& x, time_type t, time_type dt) {
  if (dt != scheme_->dt())
    throw RunError("fixed-step stepper: odeint asked for dt = " + std::to_string(dt) +
                   " but the scheme steps by " + std::to_string(scheme_->dt()));
  scheme_->step(std::llround((t - scheme_->t0()) / dt), x, batch.ids, batch.key);
}

template class FixedStepScheme<float>;
template class FixedStepScheme<double>;
template class FixedStepper<float>;
template class FixedStepper<double>;

}  // namespace dynsim
