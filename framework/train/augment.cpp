#include "train/augment.hpp"

#include <algorithm>

namespace dynsim {

PixelShift pixel_shift(const Random& rng, std::uint32_t epoch, std::uint64_t id, int k) {
  if (k <= 0) return {};
  const auto r = rng.raw(Counter{epoch, 0, id, 0}, 0);
  // r123's u01 lies in (0, 1]: clamp the top so u = 1 lands on +k, not k + 1.
  const int n = 2 * k + 1;
  auto pick = [&](std::uint64_t w) {
    return std::min(static_cast<int>(r123::u01<double>(w) * n), n - 1) - k;
  };
  return {pick(r[0]), pick(r[1])};
}

}  // namespace dynsim
