// `replace_uniform` (attack A of the CVFR paper): each pixel of an item is replaced, with
// probability p, by a value drawn from U(0, 1), as the authors' letters generator corrupts its
// letters. With `exact = true` exactly round(p D) pixels are replaced, chosen uniformly.
// Draws are keyed by the item's id, so an item's corruption does not depend on the batching.
#include <dynsim/sdk.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace {

using dynsim::Index;

template <class S>
class ReplaceUniform final : public dynsim::Attack<S> {
 public:
  static dynsim::OptionSpecs options() {
    return {dynsim::opt::boolean("exact",
                                 "replace exactly round(p D) pixels per item instead of each "
                                 "pixel with probability p")
                .def(false)};
  }

  ReplaceUniform(const dynsim::Options& o, const dynsim::Context&) : exact_(o.boolean("exact")) {}

  void apply(S p, dynsim::MatrixRef<S> X, std::span<const std::uint64_t> ids,
             const dynsim::Random& rng, const dynsim::Counter& counter) override {
    const Index d = X.rows();
    u_.resize(static_cast<std::size_t>(2 * d));
    order_.resize(static_cast<std::size_t>(d));
    const Index count = static_cast<Index>(std::lround(static_cast<double>(p) * double(d)));
    for (Index j = 0; j < X.cols(); ++j) {
      dynsim::Counter c = counter;
      c.item = ids[static_cast<std::size_t>(j)];
      // u_[0, d): which pixels; u_[d, 2d): their new values.
      rng.uniforms<double>(c, u_.data(), 2 * d);
      if (exact_) {
        // The round(p D) pixels with the smallest keys: a uniform choice of that many pixels.
        std::iota(order_.begin(), order_.end(), Index{0});
        std::partial_sort(
            order_.begin(), order_.begin() + count, order_.end(),
            [&](Index a, Index b) { return u_[std::size_t(a)] < u_[std::size_t(b)]; });
        for (Index i = 0; i < count; ++i) {
          const Index px = order_[std::size_t(i)];
          X(px, j) = static_cast<S>(u_[std::size_t(d + px)]);
        }
      } else {
        for (Index i = 0; i < d; ++i)
          if (u_[std::size_t(i)] < static_cast<double>(p))
            X(i, j) = static_cast<S>(u_[std::size_t(d + i)]);
      }
    }
  }

 private:
  bool exact_;
  std::vector<double> u_;
  std::vector<Index> order_;
};

}  // namespace

DYNSIM_PLUGIN(ReplaceUniform, "replace_uniform", "1.0.0",
              "attack A: each pixel replaced with probability p by U(0,1)")
