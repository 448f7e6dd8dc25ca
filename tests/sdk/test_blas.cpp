// dynsim/sdk/blas.hpp: C = alpha op(A) op(B) + beta C through oneDNN and through OpenBLAS, on
// blocks with outer strides, against a double-precision reference.
#include <catch2/catch.hpp>
#include <dynsim/sdk/blas.hpp>

#include "support/helpers.hpp"

using namespace dynsim;
using blas::Op;

namespace {

// The largest error relative to the largest entry of the reference.
double product_error(blas::Backend backend, Op oa, Op ob, int m, int n, int k, float alpha,
                     float beta) {
  // Operands live inside larger matrices, so leading dimensions exceed the rows.
  const Matrix<double> ad = test::random_matrix(oa == Op::n ? m + 3 : k + 2, 40, 1, 1.0);
  const Matrix<double> bd = test::random_matrix(ob == Op::n ? k + 1 : n + 4, 40, 2, 1.0);
  const Matrix<double> cd = test::random_matrix(m + 5, n + 1, 3, 1.0);
  const Matrix<float> af = ad.cast<float>(), bf = bd.cast<float>();
  Matrix<float> cf = cd.cast<float>();
  const auto a = af.block(1, 2, oa == Op::n ? m : k, oa == Op::n ? k : m);
  const auto b = bf.block(0, 3, ob == Op::n ? k : n, ob == Op::n ? n : k);
  auto c = cf.block(2, 1, m, n);
  const Matrix<double> opa =
      oa == Op::n ? Matrix<double>(a.cast<double>()) : Matrix<double>(a.cast<double>().transpose());
  const Matrix<double> opb =
      ob == Op::n ? Matrix<double>(b.cast<double>()) : Matrix<double>(b.cast<double>().transpose());
  const Matrix<double> want =
      double(alpha) * opa * opb + double(beta) * Matrix<double>(c.cast<double>());
  blas::set_backend(backend);
  blas::gemm<float>(oa, ob, alpha, a, b, beta, c);
  blas::set_backend(blas::Backend::onednn);
  // Outside the block C is untouched.
  Matrix<float> outside = cf;
  outside.block(2, 1, m, n).setZero();
  Matrix<float> before = cd.cast<float>();
  before.block(2, 1, m, n).setZero();
  CHECK(outside == before);
  return (c.cast<double>() - want).cwiseAbs().maxCoeff() /
         std::max(want.cwiseAbs().maxCoeff(), 1e-30);
}

}  // namespace

TEST_CASE("single-precision products agree with a double reference on both backends", "[blas]") {
  for (auto backend : {blas::Backend::onednn, blas::Backend::openblas})
    for (Op oa : {Op::n, Op::t})
      for (Op ob : {Op::n, Op::t})
        for (const auto& [alpha, beta] :
             std::vector<std::pair<float, float>>{{1, 0}, {0.3f, 1}, {-1, 0.5f}}) {
          INFO("backend " << int(backend) << " ops " << int(oa) << int(ob) << " alpha " << alpha
                          << " beta " << beta);
          CHECK(product_error(backend, oa, ob, 17, 9, 23, alpha, beta) < 1e-5);
          CHECK(product_error(backend, oa, ob, 1, 1, 5, alpha, beta) < 1e-5);
          // An empty sum leaves beta C.
          CHECK(product_error(backend, oa, ob, 6, 4, 0, alpha, beta) < 1e-6);
        }
}

TEST_CASE("a oneDNN product repeats its bits and follows the backend switch", "[blas]") {
  const Matrix<float> a = test::random_matrix(64, 64, 4, 1.0).cast<float>();
  const Matrix<float> x = test::random_matrix(64, 20, 5, 1.0).cast<float>();
  Matrix<float> c1(64, 20), c2(64, 20);
  blas::gemm<float>(Op::n, Op::n, 1.0f, a, x, 0.0f, c1);
  blas::gemm<float>(Op::n, Op::n, 1.0f, a, x, 0.0f, c2);
  CHECK(c1 == c2);
  CHECK(blas::backend() == blas::Backend::onednn);
  blas::set_backend(blas::Backend::openblas);
  CHECK(blas::backend() == blas::Backend::openblas);
  blas::set_backend(blas::Backend::onednn);
}
