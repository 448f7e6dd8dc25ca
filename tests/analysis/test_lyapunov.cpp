// The Lyapunov solvers (continuous and discrete, Bartels-Stewart on the Schur form) against
// their backward error on random stable matrices up to N = 200 and against a dense Kronecker
// solve for N <= 20; the LNA of Ornstein-Uhlenbeck processes against their closed forms; and
// the LNA's refusals.
#include <Eigen/Dense>
#include <Eigen/Eigenvalues>
#include <catch2/catch.hpp>
#include <cmath>

#include "analysis/lna.hpp"
#include "analysis/lyapunov.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

namespace {

// A random N x N matrix shifted so that the largest real part of its eigenvalues is `top`.
Matrix<double> stable_matrix(Index n, unsigned seed, double top) {
  Matrix<double> R = test::random_matrix(n, n, seed, 1.0 / std::sqrt(double(n)));
  Eigen::EigenSolver<Matrix<double>> es(R, false);
  R.diagonal().array() -= es.eigenvalues().real().maxCoeff() - top;
  return R;
}

Matrix<double> random_psd(Index n, unsigned seed) {
  const Matrix<double> B = test::random_matrix(n, n, seed, 1.0);
  return B * B.transpose();
}

// vec(J S + S J^T) = (I (x) J + J (x) I) vec(S), solved densely.
Matrix<double> kronecker_continuous(const Matrix<double>& J, const Matrix<double>& Q) {
  const Index n = J.rows();
  const Matrix<double> I = Matrix<double>::Identity(n, n);
  Matrix<double> K(n * n, n * n);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j) K.block(i * n, j * n, n, n) = I(i, j) * J + J(i, j) * I;
  const Vector<double> q = Eigen::Map<const Vector<double>>(Q.data(), n * n);
  const Vector<double> s = K.partialPivLu().solve(-q);
  return Eigen::Map<const Matrix<double>>(s.data(), n, n);
}

// vec(S - A S A^T) = (I - A (x) A) vec(S).
Matrix<double> kronecker_discrete(const Matrix<double>& A, const Matrix<double>& Q) {
  const Index n = A.rows();
  Matrix<double> K = -Matrix<double>::Identity(n * n, n * n);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j) K.block(i * n, j * n, n, n) += A(i, j) * A;
  const Vector<double> q = Eigen::Map<const Vector<double>>(Q.data(), n * n);
  const Vector<double> s = K.partialPivLu().solve(-q);
  return Eigen::Map<const Matrix<double>>(s.data(), n, n);
}

using OuModel = test::LinearAttractorModel;  // dx = M (x - mu) dt + noise

// sigma G dW, G a fixed matrix; `damped` makes it vanish at x = mu (the attractor).
class MatrixNoise final : public NoiseLaw<double> {
 public:
  MatrixNoise(Matrix<double> G, Vector<double> mu = {}) : G_(std::move(G)), mu_(std::move(mu)) {}
  void diffuse(double, ConstMatrixRef<double> X, ConstMatrixRef<double> xi,
               MatrixRef<double> out) override {
    out = G_ * xi;
    if (mu_.size())
      for (Index b = 0; b < X.cols(); ++b) out.col(b) *= (X.col(b) - mu_).norm();
  }
  void diffuse_vjp(double, ConstMatrixRef<double>, ConstMatrixRef<double>, ConstMatrixRef<double>,
                   MatrixRef<double>) override {}

 private:
  Matrix<double> G_;
  Vector<double> mu_;
};

}  // namespace

TEST_CASE("continuous Lyapunov: backward error <= 1e-12 on random stable matrices to N = 200",
          "[lyapunov]") {
  for (Index n : {1, 2, 3, 7, 20, 64, 200}) {
    for (unsigned seed : {1u, 2u}) {
      INFO("N = " << n << ", seed " << seed);
      const Matrix<double> J = stable_matrix(n, seed, -0.1);
      const Matrix<double> Q = random_psd(n, seed + 100);
      const Matrix<double> S = solve_continuous_lyapunov(J, Q);
      CHECK(continuous_lyapunov_residual(J, S, Q) <= 1e-12);
      CHECK((S - S.transpose()).norm() == 0.0);
      // A stable J and a positive definite Q give a positive definite S.
      Eigen::SelfAdjointEigenSolver<Matrix<double>> es(S);
      CHECK(es.eigenvalues().minCoeff() > 0);
    }
  }
}

TEST_CASE("continuous Lyapunov agrees with a dense Kronecker solve for N <= 20", "[lyapunov]") {
  for (Index n : {1, 2, 5, 12, 20}) {
    INFO("N = " << n);
    const Matrix<double> J = stable_matrix(n, 7, -0.1);
    const Matrix<double> Q = random_psd(n, 8);
    const Matrix<double> S = solve_continuous_lyapunov(J, Q), K = kronecker_continuous(J, Q);
    CHECK((S - K).norm() <= 1e-10 * K.norm());
  }
}

TEST_CASE("discrete Lyapunov: residual and Kronecker agreement", "[lyapunov]") {
  for (Index n : {1, 3, 10, 20, 120}) {
    INFO("N = " << n);
    const double dt = 0.1;
    const Matrix<double> A = Matrix<double>::Identity(n, n) + dt * stable_matrix(n, 3, -0.1);
    const Matrix<double> Q = random_psd(n, 4);
    const Matrix<double> S = solve_discrete_lyapunov(A, Q);
    CHECK(discrete_lyapunov_residual(A, S, Q) <= 1e-12);
    if (n <= 20) {
      const Matrix<double> K = kronecker_discrete(A, Q);
      CHECK((S - K).norm() <= 1e-9 * K.norm());
    }
  }
}

TEST_CASE("Lyapunov solvers refuse a singular equation and mismatched sizes", "[lyapunov]") {
  Matrix<double> J(2, 2);
  J << 0, 1, -1, 0;  // eigenvalues +-i: l_1 + conj(l_1) = 0
  CHECK_THROWS_WITH(solve_continuous_lyapunov(J, Matrix<double>::Identity(2, 2)),
                    Catch::Contains("not stable"));
  CHECK_THROWS_AS(solve_continuous_lyapunov(J, Matrix<double>::Identity(3, 3)),
                  std::invalid_argument);
  CHECK_THROWS_WITH(
      solve_discrete_lyapunov(Matrix<double>::Identity(2, 2), Matrix<double>::Identity(2, 2)),
      Catch::Contains("conj(l_j) = 1"));
}

TEST_CASE("LNA of Ornstein-Uhlenbeck processes equals the closed forms", "[lyapunov][lna]") {
  SECTION(
      "1-D: sigma^2 / (2 theta), and the Euler-Maruyama map's sigma^2 dt / (1 - (1 - theta "
      "dt)^2)") {
    const double theta = 0.7, sigma = 0.3, dt = 0.05;
    OuModel m(Matrix<double>::Constant(1, 1, -theta), Vector<double>::Constant(1, 2.0));
    MatrixNoise noise(Matrix<double>::Constant(1, 1, sigma));
    const LnaAttractor a = linear_noise_approximation<double>(m, noise, 0, 0.0);
    CHECK(a.mean(0) == 2.0);
    CHECK(a.max_real == Approx(-theta));
    CHECK(a.covariance(0, 0) == Approx(sigma * sigma / (2 * theta)).epsilon(1e-13));
    const Matrix<double> Sd = discrete_lna_covariance(a.jacobian, a.diffusion, dt);
    const double r = 1 - theta * dt;
    CHECK(Sd(0, 0) == Approx(sigma * sigma * dt / (1 - r * r)).epsilon(1e-13));
  }
  SECTION("diagonal drift, correlated noise: S_ij = (G G^T)_ij / (theta_i + theta_j)") {
    const Index n = 6;
    Vector<double> theta(n);
    theta << 0.2, 0.5, 1.0, 1.5, 3.0, 7.0;
    const Matrix<double> G = test::random_matrix(n, n, 21, 0.4);
    OuModel m(Matrix<double>((-theta).asDiagonal()), Vector<double>::Zero(n));
    MatrixNoise noise(G);
    const LnaAttractor a = linear_noise_approximation<double>(m, noise, 0, 0.0);
    const Matrix<double> Q = G * G.transpose();
    Matrix<double> closed(n, n);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < n; ++j) closed(i, j) = Q(i, j) / (theta(i) + theta(j));
    CHECK((a.covariance - closed).norm() <= 1e-13 * closed.norm());
    CHECK(a.residual <= 1e-14);
    // Principal directions: largest variance first, orthonormal, reproducing Sigma.
    CHECK(a.variances(0) >= a.variances(n - 1));
    const Matrix<double> back = a.directions * a.variances.asDiagonal() * a.directions.transpose();
    CHECK((back - a.covariance).norm() <= 1e-12 * a.covariance.norm());
  }
  SECTION("rotating 2-D drift: the antisymmetric part leaves sigma^2 / (2 theta) I") {
    const double theta = 0.4, omega = 3.0, sigma = 0.5;
    Matrix<double> M(2, 2);
    M << -theta, omega, -omega, -theta;
    OuModel m(M, Vector<double>::Zero(2));
    MatrixNoise noise(sigma * Matrix<double>::Identity(2, 2));
    const LnaAttractor a = linear_noise_approximation<double>(m, noise, 0, 0.0);
    const Matrix<double> closed = sigma * sigma / (2 * theta) * Matrix<double>::Identity(2, 2);
    CHECK((a.covariance - closed).norm() <= 1e-13 * closed.norm());
  }
}

TEST_CASE("LNA samples have the LNA covariance", "[lna]") {
  const Index n = 4, count = 200000;
  Vector<double> theta(n);
  theta << 0.3, 0.6, 1.2, 2.0;
  OuModel m(Matrix<double>((-theta).asDiagonal()), Vector<double>::LinSpaced(n, 1, 4));
  MatrixNoise noise(test::random_matrix(n, n, 5, 0.5));
  const LnaAttractor a = linear_noise_approximation<double>(m, noise, 0, 0.0);
  Matrix<double> z(n, count);
  Random(3, Stream::user).normals(Counter{}, z.data(), z.size());
  const Matrix<double> x = a.sample(z);
  const Vector<double> mean = x.rowwise().mean();
  const Matrix<double> c = x.colwise() - mean;
  const Matrix<double> cov = c * c.transpose() / double(count - 1);
  CHECK((mean - a.mean).norm() <= 0.02 * a.mean.norm());
  CHECK((cov - a.covariance).norm() <= 0.02 * a.covariance.norm());
}

TEST_CASE("LNA refuses an unstable attractor and noise that vanishes there", "[lna]") {
  OuModel unstable(Matrix<double>::Constant(1, 1, 0.3), Vector<double>::Zero(1));
  MatrixNoise noise(Matrix<double>::Identity(1, 1));
  CHECK_THROWS_WITH(
      linear_noise_approximation<double>(unstable, noise, 0, 0.0),
      Catch::Contains("attractor 0 is not linearly stable") && Catch::Contains("max Re"));
  OuModel stable(Matrix<double>::Constant(1, 1, -0.3), Vector<double>::Constant(1, 1.0));
  MatrixNoise damped(Matrix<double>::Identity(1, 1), Vector<double>::Constant(1, 1.0));
  CHECK_THROWS_WITH(linear_noise_approximation<double>(stable, damped, 0, 0.0),
                    Catch::Contains("noise vanishes at planted attractor 0"));
  CHECK_THROWS_WITH(linear_noise_approximation<double>(stable, noise, 3, 0.0),
                    Catch::Contains("attractor 3 does not exist"));
}
