// The discrete adjoint over a whole trajectory, with checkpointing: the forward pass keeps the
// state every `checkpoint_every` steps; the backward pass recomputes each segment from its
// checkpoint and walks it backwards. checkpoint_every = 1 stores every state (no recompute);
// sqrt(steps) trades one extra forward pass for memory ~ 2 sqrt(steps) states.
#pragma once

#include "integrate/fixed_step.hpp"

namespace dynsim {

template <class S>
class Adjoint {
 public:
  Adjoint(FixedStepScheme<S>& scheme, std::int64_t steps, std::int64_t checkpoint_every);

  // X: X_0 on entry, X_T on return.
  void forward(MatrixRef<S> X, std::span<const std::uint64_t> ids, NoiseKey key);
  // a: dL/dX_T on entry, dL/dX_0 on return; parameter contributions go into acc.
  void backward(MatrixRef<S> a, std::span<const std::uint64_t> ids, NoiseKey key,
                std::vector<Matrix<S>>& acc);

  std::int64_t steps() const { return steps_; }
  std::int64_t checkpoint_every() const { return every_; }

 private:
  FixedStepScheme<S>& scheme_;
  std::int64_t steps_, every_;
  std::vector<Matrix<S>> checkpoints_, segment_;
};

// checkpoint_every for `steps` steps of an N x B state: every state when they fit in
// `budget_bytes`, else about sqrt(steps).
std::int64_t auto_checkpoint_every(std::int64_t steps, Index n, Index b, std::size_t scalar_bytes,
                                   double budget_bytes = 1e9);

extern template class Adjoint<float>;
extern template class Adjoint<double>;

}  // namespace dynsim
