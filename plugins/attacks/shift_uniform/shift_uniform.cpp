// `shift_uniform` (attack B of the CVFR paper): one value u ~ U(-p, p) per item is added to all
// of its pixels (`per_pixel = true`: an independent u per pixel). No clipping unless `clip`
// is set, which clamps the result to [0, 1]. Draws are keyed by the item's id.
#include <dynsim/sdk.hpp>

#include <vector>

namespace {

using dynsim::Index;

template <class S>
class ShiftUniform final : public dynsim::Attack<S> {
 public:
  static dynsim::OptionSpecs options() {
    return {
        dynsim::opt::boolean("per_pixel", "an independent shift for every pixel").def(false),
        dynsim::opt::boolean("clip", "clamp the shifted pixels to [0, 1]").def(false),
    };
  }

  ShiftUniform(const dynsim::Options& o, const dynsim::Context&)
      : per_pixel_(o.boolean("per_pixel")), clip_(o.boolean("clip")) {}

  void apply(S p, dynsim::MatrixRef<S> X, std::span<const std::uint64_t> ids,
             const dynsim::Random& rng, const dynsim::Counter& counter) override {
    const Index d = X.rows(), n = per_pixel_ ? d : 1;
    u_.resize(static_cast<std::size_t>(n));
    for (Index j = 0; j < X.cols(); ++j) {
      dynsim::Counter c = counter;
      c.item = ids[static_cast<std::size_t>(j)];
      rng.uniforms<double>(c, u_.data(), n);
      for (Index i = 0; i < d; ++i) {
        const double u = u_[std::size_t(per_pixel_ ? i : 0)];
        X(i, j) += static_cast<S>(static_cast<double>(p) * (2 * u - 1));
      }
      if (clip_) X.col(j) = X.col(j).cwiseMax(S(0)).cwiseMin(S(1));
    }
  }

 private:
  bool per_pixel_, clip_;
  std::vector<double> u_;
};

}  // namespace

DYNSIM_PLUGIN(ShiftUniform, "shift_uniform", "1.0.0",
              "attack B: one u ~ U(-p, p) per item added to every pixel")
