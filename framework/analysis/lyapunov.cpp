#include "analysis/lyapunov.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <string>

namespace dynsim {

namespace {

using Complex = std::complex<double>;
using CMatrix = Eigen::Matrix<Complex, Eigen::Dynamic, Eigen::Dynamic>;
using CVector = Eigen::Matrix<Complex, Eigen::Dynamic, 1>;

void check_square(const Matrix<double>& A, const Matrix<double>& Q, const char* what) {
  if (A.rows() != A.cols() || Q.rows() != A.rows() || Q.cols() != A.cols())
    throw std::invalid_argument(std::string(what) + ": needs square matrices of one size, got " +
                                std::to_string(A.rows()) + "x" + std::to_string(A.cols()) +
                                " and " + std::to_string(Q.rows()) + "x" +
                                std::to_string(Q.cols()));
}

// Which equation the column recursion solves.
enum class Kind { continuous, discrete };

Matrix<double> bartels_stewart(const Matrix<double>& A, const Matrix<double>& Q, Kind kind) {
  const Index n = A.rows();
  if (n == 0) return Matrix<double>(0, 0);
  Eigen::ComplexSchur<CMatrix> schur(A.cast<Complex>());
  if (schur.info() != Eigen::Success) throw std::domain_error("Lyapunov: Schur form failed");
  const CMatrix& T = schur.matrixT();
  const CMatrix& U = schur.matrixU();
  // continuous: T Y + Y T^H = -U^H Q U;  discrete: Y - T Y T^H = U^H Q U.
  const CMatrix C = (kind == Kind::continuous ? -1.0 : 1.0) * (U.adjoint() * Q.cast<Complex>() * U);
  const double scale = std::max(T.norm(), 1e-300);
  const double tiny = 1e-14 * scale;
  CMatrix Y = CMatrix::Zero(n, n), M(n, n);
  CVector rhs(n);
  for (Index j = n - 1; j >= 0; --j) {
    const Index m = n - 1 - j;
    rhs = C.col(j);
    const Complex tjj = std::conj(T(j, j));
    if (kind == Kind::continuous) {
      // Column j of T Y + Y T^H: (T + conj(t_jj) I) y_j + sum_{k>j} conj(t_jk) y_k.
      if (m > 0) rhs.noalias() -= Y.middleCols(j + 1, m) * T.row(j).segment(j + 1, m).adjoint();
      M = T;
      M.diagonal().array() += tjj;
    } else {
      // Column j of Y - T Y T^H: (I - conj(t_jj) T) y_j - T sum_{k>j} conj(t_jk) y_k.
      if (m > 0)
        rhs.noalias() += T * (Y.middleCols(j + 1, m) * T.row(j).segment(j + 1, m).adjoint());
      M = -tjj * T;
      M.diagonal().array() += 1.0;
    }
    const double pivot = M.diagonal().cwiseAbs().minCoeff();
    if (!(pivot > (kind == Kind::continuous ? tiny : 1e-14)))
      throw std::domain_error(
          kind == Kind::continuous
              ? "Lyapunov: J has eigenvalues l_i, l_j with l_i + conj(l_j) = 0 (not stable)"
              : "discrete Lyapunov: A has eigenvalues l_i, l_j with l_i conj(l_j) = 1");
    Y.col(j) = M.triangularView<Eigen::Upper>().solve(rhs);
  }
  Matrix<double> S = (U * Y * U.adjoint()).real();
  return 0.5 * (S + S.transpose());  // exact symmetry; the solve gives it to rounding
}

}  // namespace

Matrix<double> solve_continuous_lyapunov(const Matrix<double>& J, const Matrix<double>& Q) {
  check_square(J, Q, "Lyapunov");
  return bartels_stewart(J, Q, Kind::continuous);
}

Matrix<double> solve_discrete_lyapunov(const Matrix<double>& A, const Matrix<double>& Q) {
  check_square(A, Q, "discrete Lyapunov");
  return bartels_stewart(A, Q, Kind::discrete);
}

double continuous_lyapunov_residual(const Matrix<double>& J, const Matrix<double>& S,
                                    const Matrix<double>& Q) {
  const double r = (J * S + S * J.transpose() + Q).norm();
  const double d = 2 * J.norm() * S.norm() + Q.norm();
  return d > 0 ? r / d : r;
}

double discrete_lyapunov_residual(const Matrix<double>& A, const Matrix<double>& S,
                                  const Matrix<double>& Q) {
  const double r = (A * S * A.transpose() + Q - S).norm();
  const double d = A.squaredNorm() * S.norm() + Q.norm() + S.norm();
  return d > 0 ? r / d : r;
}

}  // namespace dynsim
