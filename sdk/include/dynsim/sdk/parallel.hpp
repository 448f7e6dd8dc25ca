// Elementwise work over an N x B batch split by columns across the run's threads (OpenMP, the
// same pool OpenBLAS uses). Each column is computed the same way whatever the split, so results
// do not depend on the thread count.
#pragma once

#include <omp.h>

#include <algorithm>

#include "dynsim/sdk/types.hpp"

namespace dynsim {

// body(first, last) handles columns [first, last). Small batches stay on one thread: starting
// the pool costs more than the work.
template <class F>
void for_columns(Index rows, Index cols, int threads, F&& body) {
  constexpr Index min_elements_per_thread = 1 << 15;
  const Index useful = std::max<Index>(1, rows * cols / min_elements_per_thread);
  const int t = static_cast<int>(std::min<Index>({Index(std::max(threads, 1)), cols, useful}));
  if (t <= 1) {
    body(Index(0), cols);
    return;
  }
#pragma omp parallel num_threads(t)
  {
    // The team may be smaller than asked for: split by its actual size.
    const Index nt = omp_get_num_threads(), i = omp_get_thread_num(), per = (cols + nt - 1) / nt;
    const Index first = std::min(cols, i * per), last = std::min(cols, first + per);
    if (first < last) body(first, last);
  }
}

}  // namespace dynsim
