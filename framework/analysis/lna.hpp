// The linear noise approximation (LNA) around a planted attractor: with dx = F dt + D(x) dW and
// F(x_k) = 0, the linearised SDE d(dx) = J dx dt + D(x_k) dW has the stationary law
// N(x_k, Sigma_k) with J Sigma + Sigma J^T + D D^T = 0 (J the Jacobian at x_k). Euler-Maruyama
// with step dt samples the discrete map instead, whose stationary covariance solves
// S = (I + dt J) S (I + dt J)^T + dt D D^T; it differs from Sigma_k by O(dt).
#pragma once

#include <dynsim/sdk/model.hpp>
#include <dynsim/sdk/noise_law.hpp>
#include <nlohmann/json.hpp>

namespace dynsim {

struct LnaAttractor {
  int index = 0;
  Vector<double> mean;        // x_k
  Matrix<double> jacobian;    // J at x_k
  Matrix<double> diffusion;   // Q = D(x_k) D(x_k)^T
  Matrix<double> covariance;  // Sigma_k (continuous time)
  double max_real = 0;        // max Re of J's eigenvalues (< 0)
  double residual = 0;        // continuous_lyapunov_residual of Sigma_k
  // Eigen-decomposition of Sigma_k, largest variance first (principal directions as columns).
  Vector<double> variances;
  Matrix<double> directions;

  // Draws x_k + L z for the columns z of `normals` (N x n), L L^T = Sigma_k.
  Matrix<double> sample(const Matrix<double>& normals) const;
  nlohmann::json summary() const;  // everything but the matrices
};

// Draws mean + V diag(sqrt(v)) z for the columns z of `normals` (N x n), given the eigenpairs
// (v, V) of a covariance; rounding-level negative variances clip to 0 (exact for a PSD matrix).
Matrix<double> gaussian_samples(const Vector<double>& mean, const Matrix<double>& directions,
                                const Vector<double>& variances, const Matrix<double>& normals);

// The noise amplitude matrix D(x) (N x N) of `noise` at the state x: diffuse() applied to the
// identity, since out = D(x) Xi column by column.
template <class S>
Matrix<double> diffusion_matrix_at(NoiseLaw<S>& noise, S t, const Vector<S>& x);

// The LNA at planted attractor k of `model`. InputError when J is not stable there (the
// stationary law does not exist) or when the noise vanishes at x_k (it is a point mass).
template <class S>
LnaAttractor linear_noise_approximation(Model<S>& model, NoiseLaw<S>& noise, int k, S t);

// The stationary covariance of Euler-Maruyama with step dt on the linearised SDE.
Matrix<double> discrete_lna_covariance(const Matrix<double>& J, const Matrix<double>& Q, double dt);

}  // namespace dynsim
