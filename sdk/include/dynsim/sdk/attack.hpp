// Attack plugins: corrupt a batch of input items (evaluation only).
#pragma once

#include <cstdint>
#include <span>

#include "dynsim/sdk/random.hpp"
#include "dynsim/sdk/types.hpp"

namespace dynsim {

template <class S>
class Attack : public PluginObject {
 public:
  static constexpr PluginKind kind = PluginKind::attack;
  using Scalar = S;

  // Corrupt the items X (dim x B) in place with strength p. Draw from rng keyed by each item's
  // id (ids[b]) so the corruption of an item does not depend on how items are batched.
  virtual void apply(S p, MatrixRef<S> X, std::span<const std::uint64_t> ids, const Random& rng,
                     const Counter& counter) = 0;
};

}  // namespace dynsim
