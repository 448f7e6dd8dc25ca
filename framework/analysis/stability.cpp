#include "analysis/stability.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace dynsim {

template <class S>
Matrix<double> jacobian_at(Model<S>& model, S t, const Vector<S>& x, bool* analytic) {
  const Index n = model.dim();
  if (model.has_jacobian()) {
    Matrix<S> J(n, n);
    model.jacobian(t, x, J);
    if (analytic) *analytic = true;
    return J.template cast<double>();
  }
  if (analytic) *analytic = false;
  // Central differences, one column per node, all perturbations as one batch.
  const S eps = std::is_same_v<S, float> ? S(1e-3) : S(1e-6);
  Matrix<S> Xp = x.replicate(1, n), Xm = Xp, Fp(n, n), Fm(n, n);
  for (Index i = 0; i < n; ++i) {
    const S h = eps * std::max(S(1), std::abs(x(i)));
    Xp(i, i) += h;
    Xm(i, i) -= h;
  }
  model.drift(t, Xp, Fp);
  model.drift(t, Xm, Fm);
  Matrix<double> J(n, n);
  for (Index i = 0; i < n; ++i)
    J.col(i) =
        (Fp.col(i) - Fm.col(i)).template cast<double>() / static_cast<double>(Xp(i, i) - Xm(i, i));
  return J;
}

double map_spectral_radius(Method m, double dt, const std::vector<std::complex<double>>& eig) {
  double r = 0;
  for (const auto& l : eig) {
    const std::complex<double> z = dt * l;
    const std::complex<double> R =
        m == Method::rk4 ? 1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0 : 1.0 + z;
    r = std::max(r, std::abs(R));
  }
  return r;
}

template <class S>
std::vector<AttractorStability> analyze_stability(Model<S>& model, FixedStepScheme<S>& scheme,
                                                  const StabilityConfig& cfg) {
  const Matrix<S> xs = model.attractors();
  const Index n = model.dim(), K = xs.cols();
  std::vector<AttractorStability> out;
  const S t0 = scheme.time(0);
  for (Index k = 0; k < K; ++k) {
    AttractorStability a;
    a.index = static_cast<int>(k);
    const Vector<S> x = xs.col(k);
    const Matrix<double> J = jacobian_at(model, t0, x, &a.analytic_jacobian);
    Eigen::EigenSolver<Matrix<double>> es(J, false);
    for (Index i = 0; i < n; ++i) a.eigenvalues.push_back(es.eigenvalues()(i));
    a.max_real = -INFINITY;
    for (const auto& l : a.eigenvalues) a.max_real = std::max(a.max_real, l.real());
    a.stable = a.max_real < 0;
    a.map_radius = map_spectral_radius(scheme.method(), scheme.dt(), a.eigenvalues);
    a.map_stable = a.map_radius < 1;
    Matrix<S> F(n, 1);
    model.drift(t0, x, F);
    a.drift_norm = static_cast<double>(F.norm());
    // Empirical: a random kick of relative size `perturbation`, deterministic integration.
    Matrix<S> X = x;
    Vector<S> kick(n);
    Random(cfg.seed, Stream::perturb)
        .normals(Counter{0, 0, static_cast<std::uint64_t>(k), 0}, kick.data(), n);
    const double scale = static_cast<double>(x.norm());
    X.col(0) +=
        static_cast<S>(cfg.perturbation * scale / std::max(1e-30, double(kick.norm()))) * kick;
    const std::vector<std::uint64_t> ids = {static_cast<std::uint64_t>(k)};
    scheme.run(X, 0, cfg.steps, ids, NoiseKey{cfg.seed, 0, 0});
    a.returned_distance = static_cast<double>((X.col(0) - x).norm()) / std::max(1e-30, scale);
    a.returned = a.returned_distance < cfg.tolerance;
    out.push_back(std::move(a));
  }
  return out;
}

nlohmann::json to_json(const std::vector<AttractorStability>& s) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& a : s)
    j.push_back({{"attractor", a.index},
                 {"max_real_eigenvalue", a.max_real},
                 {"stable", a.stable},
                 {"map_spectral_radius", a.map_radius},
                 {"map_stable", a.map_stable},
                 {"drift_norm", a.drift_norm},
                 {"perturbation_returned", a.returned},
                 {"perturbation_final_distance", a.returned_distance},
                 {"analytic_jacobian", a.analytic_jacobian}});
  return j;
}

std::string stability_table(const std::vector<AttractorStability>& s) {
  std::ostringstream o;
  o << "attractor  max Re(eig)   stable  map radius  map stable  |F(x*)|     perturbed run\n";
  for (const auto& a : s)
    o << std::setw(9) << a.index << "  " << std::setw(11) << std::scientific << std::setprecision(3)
      << a.max_real << "  " << std::setw(6) << (a.stable ? "yes" : "NO") << "  " << std::setw(10)
      << std::fixed << std::setprecision(6) << a.map_radius << "  " << std::setw(10)
      << (a.map_stable ? "yes" : "NO") << "  " << std::setw(10) << std::scientific
      << std::setprecision(2) << a.drift_norm << "  "
      << (a.returned ? "returned" : "did not return") << " (" << std::setprecision(2)
      << a.returned_distance << ")\n";
  return o.str();
}

template std::vector<AttractorStability> analyze_stability<float>(Model<float>&,
                                                                  FixedStepScheme<float>&,
                                                                  const StabilityConfig&);
template std::vector<AttractorStability> analyze_stability<double>(Model<double>&,
                                                                   FixedStepScheme<double>&,
                                                                   const StabilityConfig&);
template Matrix<double> jacobian_at<float>(Model<float>&, float, const Vector<float>&, bool*);
template Matrix<double> jacobian_at<double>(Model<double>&, double, const Vector<double>&, bool*);

}  // namespace dynsim
