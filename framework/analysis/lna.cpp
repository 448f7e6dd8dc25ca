#include "analysis/lna.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <sstream>

#include "analysis/lyapunov.hpp"
#include "analysis/stability.hpp"
#include "common/errors.hpp"

namespace dynsim {

Matrix<double> gaussian_samples(const Vector<double>& mean, const Matrix<double>& directions,
                                const Vector<double>& variances, const Matrix<double>& normals) {
  const Matrix<double> L = directions * variances.cwiseMax(0.0).cwiseSqrt().asDiagonal();
  return (L * normals).colwise() + mean;
}

Matrix<double> LnaAttractor::sample(const Matrix<double>& normals) const {
  return gaussian_samples(mean, directions, variances, normals);
}

nlohmann::json LnaAttractor::summary() const {
  const Index top = std::min<Index>(5, variances.size());
  std::vector<double> v(variances.data(), variances.data() + top);
  return {{"attractor", index},
          {"max_real_jacobian", max_real},
          {"residual", residual},
          {"trace_covariance", covariance.trace()},
          {"rms_spread", std::sqrt(std::max(0.0, covariance.trace()) / double(mean.size()))},
          {"mean_norm", mean.norm()},
          {"top_variances", v}};
}

template <class S>
Matrix<double> diffusion_matrix_at(NoiseLaw<S>& noise, S t, const Vector<S>& x) {
  const Index n = x.size();
  const Matrix<S> X = x.replicate(1, n), I = Matrix<S>::Identity(n, n);
  Matrix<S> out(n, n);
  noise.diffuse(t, X, I, out);
  return out.template cast<double>();
}

template <class S>
LnaAttractor linear_noise_approximation(Model<S>& model, NoiseLaw<S>& noise, int k, S t) {
  const Matrix<S> xs = model.attractors();
  if (xs.cols() == 0) throw InputError("LNA: the model has no planted attractors");
  if (k < 0 || k >= xs.cols())
    throw InputError("LNA: attractor " + std::to_string(k) + " does not exist (the model has " +
                     std::to_string(xs.cols()) + ")");
  LnaAttractor a;
  a.index = k;
  const Vector<S> x = xs.col(k);
  a.mean = x.template cast<double>();
  a.jacobian = jacobian_at(model, t, x);
  Eigen::EigenSolver<Matrix<double>> es(a.jacobian, false);
  a.max_real = es.eigenvalues().real().maxCoeff();
  if (!(a.max_real < 0)) {
    std::ostringstream m;
    m << "LNA: planted attractor " << k << " is not linearly stable (max Re of the Jacobian's "
      << "eigenvalues = " << a.max_real << " >= 0), so it has no stationary Gaussian; "
      << "`dynsim stability RUN_DIR` shows its spectrum";
    throw InputError(m.str());
  }
  const Matrix<double> D = diffusion_matrix_at(noise, t, x);
  a.diffusion = D * D.transpose();
  if (!(a.diffusion.norm() > 0))
    throw InputError("LNA: the noise vanishes at planted attractor " + std::to_string(k) +
                     " (an attractor-damped law, say), so its stationary law is a point; use "
                     "additive noise ([noise] plugin = \"additive\") for the LNA");
  a.covariance = solve_continuous_lyapunov(a.jacobian, a.diffusion);
  a.residual = continuous_lyapunov_residual(a.jacobian, a.covariance, a.diffusion);
  Eigen::SelfAdjointEigenSolver<Matrix<double>> sym(a.covariance);
  a.variances = sym.eigenvalues().reverse();
  a.directions = sym.eigenvectors().rowwise().reverse();
  return a;
}

Matrix<double> discrete_lna_covariance(const Matrix<double>& J, const Matrix<double>& Q,
                                       double dt) {
  const Matrix<double> A = Matrix<double>::Identity(J.rows(), J.cols()) + dt * J;
  return solve_discrete_lyapunov(A, dt * Q);
}

template Matrix<double> diffusion_matrix_at<float>(NoiseLaw<float>&, float, const Vector<float>&);
template Matrix<double> diffusion_matrix_at<double>(NoiseLaw<double>&, double,
                                                    const Vector<double>&);
template LnaAttractor linear_noise_approximation<float>(Model<float>&, NoiseLaw<float>&, int,
                                                        float);
template LnaAttractor linear_noise_approximation<double>(Model<double>&, NoiseLaw<double>&, int,
                                                         double);

}  // namespace dynsim
