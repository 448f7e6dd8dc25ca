#include "train/adjoint.hpp"

#include <algorithm>
#include <cmath>

namespace dynsim {

std::int64_t auto_checkpoint_every(std::int64_t steps, Index n, Index b, std::size_t scalar_bytes,
                                   double budget_bytes) {
  const double all = static_cast<double>(steps + 1) * static_cast<double>(n * b * scalar_bytes);
  if (all <= budget_bytes) return 1;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(std::sqrt(double(steps)))));
}

template <class S>
Adjoint<S>::Adjoint(FixedStepScheme<S>& scheme, std::int64_t steps, std::int64_t every)
    // An interval longer than the trajectory is the trajectory: it sizes the segment buffer.
    : scheme_(scheme),
      steps_(steps),
      every_(std::clamp<std::int64_t>(every, 1, std::max<std::int64_t>(1, steps))) {}

template <class S>
void Adjoint<S>::forward(MatrixRef<S> X, std::span<const std::uint64_t> ids, NoiseKey key) {
  const std::size_t count = static_cast<std::size_t>((steps_ + every_ - 1) / every_);
  checkpoints_.resize(count);
  for (std::size_t j = 0; j < count; ++j) {
    checkpoints_[j] = X;  // reuses the allocation when the batch width is unchanged
    const std::int64_t first = static_cast<std::int64_t>(j) * every_;
    scheme_.run(X, first, std::min(steps_, first + every_), ids, key);
  }
}

template <class S>
void Adjoint<S>::backward(MatrixRef<S> a, std::span<const std::uint64_t> ids, NoiseKey key,
                          std::vector<Matrix<S>>& acc) {
  segment_.resize(static_cast<std::size_t>(every_));
  for (std::size_t j = checkpoints_.size(); j-- > 0;) {
    const std::int64_t first = static_cast<std::int64_t>(j) * every_;
    const std::int64_t len = std::min(steps_, first + every_) - first;
    segment_[0] = checkpoints_[j];
    for (std::int64_t i = 1; i < len; ++i) {
      segment_[static_cast<std::size_t>(i)] = segment_[static_cast<std::size_t>(i - 1)];
      scheme_.step(first + i - 1, segment_[static_cast<std::size_t>(i)], ids, key);
    }
    for (std::int64_t i = len; i-- > 0;)
      scheme_.step_vjp(first + i, segment_[static_cast<std::size_t>(i)], a, ids, key, acc);
  }
  scheme_.model().flush_accumulators(acc);
}

template class Adjoint<float>;
template class Adjoint<double>;

}  // namespace dynsim
