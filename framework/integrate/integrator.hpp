// Batched time integration of a model (and noise law) driven by Boost.Odeint, with observers.
//
// The fixed-step methods (euler, rk4, euler_maruyama) are the training path's FixedStepScheme
// behind odeint's stepper concept, so `simulate` takes the same steps as training and
// evaluation. dopri5 is odeint's own controlled stepper on a flat (N*B) state; its adaptive step
// is shared by the whole batch (the error norm is the max over all items).
#pragma once

#include <dynsim/sdk/model.hpp>
#include <dynsim/sdk/noise_law.hpp>
#include <dynsim/sdk/random.hpp>
#include <functional>
#include <span>
#include <string>

namespace dynsim {

enum class Method { euler, rk4, dopri5, euler_maruyama };
Method parse_method(const std::string& name);
const char* method_name(Method m);

struct IntegratorConfig {
  Method method = Method::rk4;
  double dt = 0.01;  // fixed step, or the first step of dopri5
  double t0 = 0.0;
  double t_end = 1.0;
  double rtol = 1e-6, atol = 1e-8;   // dopri5 only
  std::int64_t max_steps = 1000000;  // dopri5: give up (RunError) after this many attempts
  std::int64_t save_every = 1;       // observer cadence in accepted steps
  // Fixed-step methods take exactly this many steps of dt (t_end - t0 = steps * dt).
  std::int64_t fixed_steps() const;
};

struct IntegrationStats {
  std::int64_t steps = 0;     // accepted steps
  std::int64_t rejected = 0;  // dopri5 only
  double t = 0.0;             // time reached
};

// Where a stochastic run's draws come from. The normal for node i of item ids[b] at step k is
// Random(seed, Stream::noise).normals({epoch, draw, ids[b], k})[i]: independent of batching and
// threads.
struct NoiseKey {
  std::uint64_t seed = 0;
  std::uint32_t epoch = 0;
  std::uint32_t draw = 0;
};

template <class S>
class Integrator {
 public:
  using Observer = std::function<void(S t, std::int64_t step, ConstMatrixRef<S> X)>;

  // noise may be null (deterministic). threads bounds the OpenMP loops the integrator runs
  // itself (noise generation); BLAS threads are set process-wide.
  Integrator(IntegratorConfig cfg, Model<S>& model, NoiseLaw<S>* noise, int threads);

  // Integrates X (N x B) in place from t0 to t_end. ids has one entry per column. The observer,
  // if set, sees the state at t0, every save_every accepted steps, and at the end.
  IntegrationStats run(MatrixRef<S> X, std::span<const std::uint64_t> ids, NoiseKey key,
                       const Observer& observer = {});

  // Fills Xi (N x B) with the standard normals of one step (exposed for tests and the adjoint).
  static void draw_normals(const Random& rng, NoiseKey key, std::span<const std::uint64_t> ids,
                           std::int64_t step, MatrixRef<S> Xi, int threads);

 private:
  IntegratorConfig cfg_;
  Model<S>& model_;
  NoiseLaw<S>* noise_;
  int threads_;
};

extern template class Integrator<float>;
extern template class Integrator<double>;

}  // namespace dynsim
