// Stability of the planted attractors of a (trained) model: the Jacobian's spectrum (analytic,
// or central finite differences when the model has none), the stability of the discrete map
// that was actually trained (I + dt J for Euler, the RK4 stability polynomial for rk4), and an
// empirical check: perturb the attractor, integrate, see whether the state returns.
#pragma once

#include <complex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integrate/fixed_step.hpp"

namespace dynsim {

struct AttractorStability {
  int index = 0;
  bool analytic_jacobian = true;
  std::vector<std::complex<double>> eigenvalues;
  double max_real = 0;
  bool stable = false;
  double map_radius = 0;  // spectral radius of the one-step map's linearisation
  bool map_stable = false;
  double drift_norm = 0;         // |F(x^s)|: how much of an equilibrium it is
  double returned_distance = 0;  // relative distance after the perturbed run
  bool returned = false;
};

struct StabilityConfig {
  double perturbation = 0.05;  // relative size of the random kick
  double tolerance = 0.05;     // relative distance that counts as "returned"
  std::int64_t steps = 1000;   // how long the perturbed state is integrated
  std::uint64_t seed = 0;
};

template <class S>
std::vector<AttractorStability> analyze_stability(Model<S>& model, FixedStepScheme<S>& scheme,
                                                  const StabilityConfig& cfg);

// The Jacobian at x: the model's, or central differences of the drift.
template <class S>
Matrix<double> jacobian_at(Model<S>& model, S t, const Vector<S>& x, bool* analytic = nullptr);

// max |R(dt lambda)| over the eigenvalues, R the scheme's stability function.
double map_spectral_radius(Method m, double dt, const std::vector<std::complex<double>>& eig);

nlohmann::json to_json(const std::vector<AttractorStability>& s);
std::string stability_table(const std::vector<AttractorStability>& s);

}  // namespace dynsim
