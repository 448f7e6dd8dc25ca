// The recursive LU and triangular solves of dynsim/sdk/dense.hpp against Eigen, at sizes that
// recurse several levels (leaves smaller than the matrix) and at the leaf size itself.
#include <catch2/catch.hpp>
#include <dynsim/sdk/dense.hpp>

#include <Eigen/LU>
#include <vector>

#include "support/helpers.hpp"

using namespace dynsim;

namespace {

double rel(const Matrix<double>& a, const Matrix<double>& b) {
  return (a - b).norm() / b.norm();
}

// B op(T)^-1 the plain way, for the reference.
template <int Mode, bool Trans>
Matrix<double> reference(const Matrix<double>& t, const Matrix<double>& b) {
  Matrix<double> full = Trans ? Matrix<double>(t.template triangularView<Mode>()).transpose()
                              : Matrix<double>(t.template triangularView<Mode>());
  return full.transpose().partialPivLu().solve(b.transpose()).transpose();
}

template <int Mode, bool Trans>
void check_solve(const Matrix<double>& t, const Matrix<double>& b, Index leaf) {
  Matrix<double> x = b;
  solve_right_in_place<double, Mode, Trans>(t, x, leaf);
  INFO("mode " << Mode << " transposed " << Trans << " leaf " << leaf);
  CHECK(rel(x, reference<Mode, Trans>(t, b)) < 1e-10);
}

}  // namespace

TEST_CASE("recursive LU with partial pivoting reproduces P A = L U and Eigen's pivots", "[dense]") {
  for (Index n : {Index(1), Index(7), Index(64), Index(301)})
    for (Index leaf : {Index(1), Index(8), Index(32)}) {
      INFO("n " << n << " leaf " << leaf);
      const Matrix<double> a = test::random_matrix(n, n, 17 + unsigned(n), 1.0);
      Matrix<double> lu = a;
      std::vector<int> piv(static_cast<std::size_t>(n));
      REQUIRE(lu_in_place(lu, piv.data(), leaf));
      Matrix<double> pa = a;
      for (Index i = 0; i < n; ++i) pa.row(i).swap(pa.row(piv[static_cast<std::size_t>(i)]));
      const Matrix<double> l = Matrix<double>(lu.triangularView<Eigen::UnitLower>());
      const Matrix<double> u = Matrix<double>(lu.triangularView<Eigen::Upper>());
      CHECK(rel(l * u, pa) < 1e-12);
      // Partial pivoting picks the largest entry of each column, as Eigen's does.
      CHECK(rel(lu, Eigen::PartialPivLU<Matrix<double>>(a).matrixLU()) < 1e-10);
    }
  Matrix<double> singular = Matrix<double>::Ones(40, 40);
  std::vector<int> piv(40);
  CHECK_FALSE(lu_in_place(singular, piv.data(), 8));
}

TEST_CASE("recursive triangular solves from the right agree with a plain solve", "[dense]") {
  for (Index n : {Index(5), Index(130), Index(257)}) {
    // Well conditioned triangles: a dominant diagonal.
    Matrix<double> t = test::random_matrix(n, n, 3, 1.0);
    t.diagonal().array() += double(n);
    const Matrix<double> b = test::random_matrix(n / 2 + 3, n, 4, 1.0);
    for (Index leaf : {Index(1), Index(16), Index(64)}) {
      check_solve<Eigen::Upper, false>(t, b, leaf);
      check_solve<Eigen::UnitLower, false>(t, b, leaf);
      check_solve<Eigen::UnitLower, true>(t, b, leaf);
      check_solve<Eigen::Upper, true>(t, b, leaf);
      check_solve<Eigen::Lower, false>(t, b, leaf);
      check_solve<Eigen::UnitUpper, true>(t, b, leaf);
    }
  }
}
