// Lyapunov equations by the Bartels-Stewart method on the complex Schur form, in f64.
//
//   continuous:  J S + S J^T + Q = 0        (stationary covariance of dx = J x dt + D dW, Q = D
//   D^T) discrete:    S = A S A^T + Q            (stationary covariance of x' = A x + noise of
//   covariance Q)
//
// With J = U T U^H (T upper triangular), Y = U^H S U turns either equation into a triangular
// recursion solved one column at a time from the last: O(N^3) in all, backward stable. The
// complex form is used rather than the real quasi-triangular one because it needs no 2x2 block
// cases; for the sizes we meet (N <= a few thousand) the factor of ~4 in flops does not matter.
#pragma once

#include <dynsim/sdk/types.hpp>

namespace dynsim {

// Solves J S + S J^T + Q = 0. Needs lambda_i + conj(lambda_j) != 0 for every pair of
// eigenvalues of J (true when J is stable); throws std::domain_error when a pivot vanishes.
Matrix<double> solve_continuous_lyapunov(const Matrix<double>& J, const Matrix<double>& Q);

// Solves S = A S A^T + Q. Needs lambda_i conj(lambda_j) != 1 (true when the spectral radius of
// A is below 1); throws std::domain_error when a pivot vanishes.
Matrix<double> solve_discrete_lyapunov(const Matrix<double>& A, const Matrix<double>& Q);

// ||J S + S J^T + Q||_F / (2 ||J||_F ||S||_F + ||Q||_F): the backward error of S.
double continuous_lyapunov_residual(const Matrix<double>& J, const Matrix<double>& S,
                                    const Matrix<double>& Q);

// ||A S A^T + Q - S||_F / (||A||_F^2 ||S||_F + ||Q||_F + ||S||_F).
double discrete_lyapunov_residual(const Matrix<double>& A, const Matrix<double>& S,
                                  const Matrix<double>& Q);

}  // namespace dynsim
