// optimizer_step_profile: what the per-optimizer-step cost of the spectral coupling is made of
// at N = 784 in f32 (issue 14, point 3). SpectralCoupling::assemble() factors Psi (LU) and
// solves twice from the right for A = Psi Lambda Psi^-1; gradients() solves twice more for
// H = G Psi^-T. Times each piece through Eigen (what the SDK calls, BLAS underneath) and through
// OpenBLAS's own LAPACK, and the recursive solves of dynsim/sdk/dense.hpp (products through
// oneDNN), best of five, on the threads given (default 2); then SpectralCoupling's own two calls
// as the optimizer step makes them.
//   optimizer_step_profile [N] [threads]
#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dynsim/sdk/dense.hpp>
#include <dynsim/sdk/planting.hpp>
#include <vector>

extern "C" void sgetrf_(const int* m, const int* n, float* a, const int* lda, int* ipiv, int* info);
// strsm_ comes declared with Eigen's BLAS support (EIGEN_USE_BLAS).

namespace {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;

template <class F>
double best_ms(F&& f) {
  f();
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 1e3 * best;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 784;
  omp_set_num_threads(argc > 2 ? std::atoi(argv[2]) : 2);
  // A random stand-in for Psi: partial pivoting swaps rows as it does for the model's Psi (a
  // diagonally dominant matrix needs no swaps and factors about 1.5x faster).
  const Mat psi = Mat::Random(n, n);
  Mat a(n, n), lu_copy(n, n);
  Eigen::PartialPivLU<Mat> lu;
  const double t_lu = best_ms([&] { lu.compute(psi); });
  const double t_rcond = best_ms([&] {
    volatile float r = lu.rcond();
    (void)r;
  });
  const double t_upper = best_ms([&] {
    a = psi;
    lu.matrixLU().triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(a);
  });
  const double t_lower = best_ms([&] {
    a = psi;
    lu.matrixLU().triangularView<Eigen::UnitLower>().solveInPlace<Eigen::OnTheRight>(a);
  });
  std::vector<int> piv(static_cast<std::size_t>(n));
  int info = 0;
  const double t_getrf = best_ms([&] {
    lu_copy = psi;
    sgetrf_(&n, &n, lu_copy.data(), &n, piv.data(), &info);
  });
  const float one = 1.0f;
  const double t_strsm = best_ms([&] {
    a = psi;
    strsm_("R", "U", "N", "N", &n, &n, &one, lu_copy.data(), &n, a.data(), &n);
  });
  const double t_gemm = best_ms([&] { a.noalias() = psi * lu_copy; });
  const double t_gemm_dnnl = best_ms([&] {
    dynsim::blas::gemm<float>(dynsim::blas::Op::n, dynsim::blas::Op::n, 1.0f, psi, lu_copy, 0.0f,
                              a);
  });
  std::vector<int> rpiv(static_cast<std::size_t>(n));
  const double t_rec_lu = best_ms([&] {
    lu_copy = psi;
    dynsim::lu_in_place(lu_copy, rpiv.data());
  });
  const double t_rec_upper = best_ms([&] {
    a = psi;
    dynsim::solve_right_in_place<float, Eigen::Upper, false>(lu.matrixLU(), a);
  });
  const double t_rec_lower = best_ms([&] {
    a = psi;
    dynsim::solve_right_in_place<float, Eigen::UnitLower, false>(lu.matrixLU(), a);
  });
  const double t_rec_upper_t = best_ms([&] {
    a = psi;
    dynsim::solve_right_in_place<float, Eigen::Upper, true>(lu.matrixLU(), a);
  });
  // The coupling as the optimizer step calls it: A from Psi, then dL/dA to the free blocks.
  Eigen::VectorXf lam = Eigen::VectorXf::Random(n);
  dynsim::SpectralCoupling<float> coupling(psi, lam, 10);
  const Mat g = Mat::Random(n, n);
  std::vector<Mat> grads;
  const double t_assemble = best_ms([&] { coupling.assemble(); });
  const double t_gradients = best_ms([&] { coupling.gradients(g, grads); });
  std::printf("N = %d, %d threads (ms, best of 5)\n", n, omp_get_max_threads());
  std::printf("  LU (Eigen PartialPivLU)            %7.2f\n", t_lu);
  std::printf("  LU (OpenBLAS sgetrf)               %7.2f\n", t_getrf);
  std::printf("  rcond estimate                     %7.2f\n", t_rcond);
  std::printf("  solve X U = B, N x N (Eigen)       %7.2f\n", t_upper);
  std::printf("  solve X L = B, N x N (Eigen)       %7.2f\n", t_lower);
  std::printf("  solve X U = B, N x N (strsm)       %7.2f\n", t_strsm);
  std::printf("  one N x N x N product (sgemm)      %7.2f\n", t_gemm);
  std::printf("  one N x N x N product (oneDNN)     %7.2f\n", t_gemm_dnnl);
  std::printf("  LU, recursive                      %7.2f\n", t_rec_lu);
  std::printf("  solve X U = B, recursive           %7.2f\n", t_rec_upper);
  std::printf("  solve X L = B, recursive           %7.2f\n", t_rec_lower);
  std::printf("  solve X U^T = B, recursive         %7.2f\n", t_rec_upper_t);
  std::printf("  SpectralCoupling::assemble         %7.2f\n", t_assemble);
  std::printf("  SpectralCoupling::gradients        %7.2f\n", t_gradients);
  std::printf("  floor of today's algorithm: LU + 4 solves = %.2f\n",
              t_lu + t_upper + t_lower + t_upper + t_lower);
  return info == 0 ? 0 : 1;
}
