#include "integrate/integrator.hpp"

#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <cmath>

#include "common/errors.hpp"
#include "integrate/fixed_step.hpp"

namespace dynsim {
namespace ode = boost::numeric::odeint;

Method parse_method(const std::string& name) {
  if (name == "euler") return Method::euler;
  if (name == "rk4") return Method::rk4;
  if (name == "dopri5") return Method::dopri5;
  if (name == "euler_maruyama") return Method::euler_maruyama;
  throw InputError("unknown integration method '" + name + "'");
}

const char* method_name(Method m) {
  switch (m) {
    case Method::euler:
      return "euler";
    case Method::rk4:
      return "rk4";
    case Method::dopri5:
      return "dopri5";
    case Method::euler_maruyama:
      return "euler_maruyama";
  }
  return "?";
}

std::int64_t IntegratorConfig::fixed_steps() const {
  return static_cast<std::int64_t>(std::llround((t_end - t0) / dt));
}

template <class S>
Integrator<S>::Integrator(IntegratorConfig cfg, Model<S>& model, NoiseLaw<S>* noise, int threads)
    : cfg_(cfg),
      model_(model),
      noise_(noise && !noise->vanishes() ? noise : nullptr),
      threads_(threads < 1 ? 1 : threads) {
  if (noise_ && cfg_.method != Method::euler_maruyama)
    throw InputError(std::string("integrator method '") + method_name(cfg_.method) +
                     "' is deterministic but the noise law is not zero; use euler_maruyama");
}

template <class S>
void Integrator<S>::draw_normals(const Random& rng, NoiseKey key,
                                 std::span<const std::uint64_t> ids, std::int64_t step,
                                 MatrixRef<S> Xi, int threads) {
  const Index n = Xi.rows(), b = Xi.cols();
  // Each column depends only on its own counter, so any split over threads gives the same bits.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (Index j = 0; j < b; ++j)
    rng.normals(Counter{key.epoch, key.draw, ids[static_cast<std::size_t>(j)],
                        static_cast<std::uint64_t>(step)},
                Xi.col(j).data(), n);
}

template <class S>
IntegrationStats Integrator<S>::run(MatrixRef<S> X, std::span<const std::uint64_t> ids,
                                    NoiseKey key, const Observer& observer) {
  const Index n = X.rows(), b = X.cols();
  if (static_cast<Index>(ids.size()) != b)
    throw RunError("integrator: " + std::to_string(ids.size()) + " item ids for " +
                   std::to_string(b) + " columns");
  IntegrationStats stats;
  const auto observe = [&](S t, ConstMatrixRef<S> state, bool force) {
    if (observer && (force || stats.steps % cfg_.save_every == 0)) observer(t, stats.steps, state);
  };
  const auto check_finite = [&](ConstMatrixRef<S> state, double t) {
    if (!state.allFinite())
      throw RunError("integration diverged: non-finite state at t = " + std::to_string(t) +
                     " (step " + std::to_string(stats.steps) + ")");
  };

  if (cfg_.method != Method::dopri5) {
    // The fixed-step methods are the training path's own steps (FixedStepScheme: the models'
    // fused Euler steps, noise keyed by item and step), driven by odeint's integrate_n_steps
    // with an observer.
    FixedStepScheme<S> scheme(cfg_.method, cfg_.dt, cfg_.t0, model_, noise_, threads_);
    const std::int64_t steps = cfg_.fixed_steps();
    Matrix<S> x = X;  // X may be strided; the stepper's state is a plain matrix
    auto obs = [&](const Matrix<S>& state, double t) {
      const std::int64_t k = std::llround((t - cfg_.t0) / cfg_.dt);
      stats.steps = k;
      if (k > 0) check_finite(state, t);
      observe(static_cast<S>(t), state, k == 0 || k == steps);
    };
    const double t_end =
        ode::integrate_n_steps(FixedStepper<S>(scheme), BatchKey{ids, key}, x, cfg_.t0, cfg_.dt,
                               static_cast<std::size_t>(steps), obs);
    stats.t = static_cast<double>(static_cast<S>(t_end));
    X = x;
    return stats;
  }

  // dopri5: the state is stored flat (odeint's dopri5 does not compile on a dynamic Eigen
  // matrix in Boost 1.74) and one adaptive step size serves the whole batch.
  using State = Vector<S>;
  State x(n * b);
  Eigen::Map<Matrix<S>>(x.data(), n, b) = X;
  auto view = [n, b](const State& v) { return Eigen::Map<const Matrix<S>>(v.data(), n, b); };
  auto drift = [&](const State& xs, State& dxdt, S t) {
    Eigen::Map<Matrix<S>> d(dxdt.data(), n, b);
    model_.drift(t, view(xs), d);
  };
  observe(static_cast<S>(cfg_.t0), view(x), true);
  auto stepper = ode::make_controlled(
      static_cast<S>(cfg_.atol), static_cast<S>(cfg_.rtol),
      ode::runge_kutta_dopri5<State, S, State, S, ode::vector_space_algebra>());
  // Time is kept in double whatever S is: in float, t + h == t once h falls below t's last
  // digit (a tight rtol late in a long run), and a float clock would stop while the steps go
  // on until max_steps. The stepper gets t rounded to S, which only a drift that depends on t
  // can notice.
  const double t_end = cfg_.t_end;
  double td = cfg_.t0;
  S h = static_cast<S>(cfg_.dt);
  const double tiny = 1e-12 * std::max(std::abs(t_end), 1.0);
  std::int64_t attempts = 0;
  while (t_end - td > tiny) {
    if (++attempts > cfg_.max_steps)
      throw RunError("dopri5: more than max_steps = " + std::to_string(cfg_.max_steps) +
                     " step attempts before t_end (t = " + std::to_string(td) +
                     "); loosen rtol/atol or raise max_steps");
    bool last = false;
    if (td + double(h) >= t_end) h = static_cast<S>(t_end - td), last = true;
    const S taken = h;
    S ts = static_cast<S>(td);
    if (stepper.try_step(drift, x, ts, h) == ode::success) {
      ++stats.steps;
      td = last ? t_end : td + double(taken);  // the run ends exactly at t_end
      check_finite(view(x), td);
      observe(static_cast<S>(td), view(x), last);
    } else {
      ++stats.rejected;
      if (double(h) < tiny)
        throw RunError("dopri5: step size underflow at t = " + std::to_string(td));
    }
  }
  stats.t = cfg_.t_end;
  X = view(x);
  return stats;
}

template class Integrator<float>;
template class Integrator<double>;

}  // namespace dynsim
