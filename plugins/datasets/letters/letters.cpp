// `letters`: noisy 7x7 images of A, B and C (the CVFR paper's first dataset), generated on the
// fly. Each item's label and corruption are drawn from the counter-based RNG keyed by the item
// id, so the dataset depends only on its own seed and sizes, never on the run's seed.
#include <array>
#include <dynsim/sdk.hpp>

namespace {

constexpr int kSide = 7, kPixels = kSide * kSide, kClasses = 3;
// Rows top to bottom (../shared/SPEC.md).
constexpr std::array<const char*, kClasses* kSide> kTemplates = {
    "0000000", "0011100", "0100010", "0111110", "0100010", "0100010", "0000000",  // A
    "0000000", "0111100", "0100010", "0111100", "0100010", "0111100", "0000000",  // B
    "0000000", "0011110", "0100000", "0100000", "0100000", "0011110", "0000000",  // C
};
// Test ids start here so train and test items never share a random stream.
constexpr std::uint64_t kTestIdBase = std::uint64_t{1} << 40;

template <class S>
class Letters final : public dynsim::Dataset<S> {
 public:
  static dynsim::OptionSpecs options() {
    return {
        // Bounded: 10^7 letters of 49 values are about 4 GB in f64.
        dynsim::opt::integer("n_train", "training items (validation is carved from these)")
            .def(std::int64_t{3000})
            .at_least(1)
            .at_most(1e7),
        dynsim::opt::integer("n_test", "test items")
            .def(std::int64_t{1000})
            .at_least(1)
            .at_most(1e7),
        dynsim::opt::real("corruption", "probability that a pixel is replaced by U(0,1)")
            .def(0.2)
            .range(0.0, 1.0),
        dynsim::opt::integer("seed", "data seed (independent of the run's seed)")
            .def(std::int64_t{0})
            .at_least(0),
    };
  }

  Letters(const dynsim::Options& o, const dynsim::Context&)
      : n_train_(o.integer("n_train")),
        n_test_(o.integer("n_test")),
        p_(o.real("corruption")),
        rng_(static_cast<std::uint64_t>(o.integer("seed")), dynsim::Stream::data) {}

  dynsim::Index dim() const override { return kPixels; }
  int classes() const override { return kClasses; }
  std::array<int, 2> image_shape() const override { return {kSide, kSide}; }
  std::vector<std::string> class_names() const override { return {"A", "B", "C"}; }

  // The clean template of class k, pixel i (row-major), as 0 or 1.
  static S clean(int k, int i) { return kTemplates[k * kSide + i / kSide][i % kSide] == '1'; }

  dynsim::Items<S> load(dynsim::Split which) override {
    const bool train = which == dynsim::Split::train;
    const dynsim::Index n = train ? n_train_ : n_test_;
    dynsim::Items<S> items;
    items.x.resize(kPixels, n);
    for (dynsim::Index j = 0; j < n; ++j) {
      const std::uint64_t id = (train ? 0 : kTestIdBase) + static_cast<std::uint64_t>(j);
      const dynsim::Counter c{0, 0, id, 0};
      // Draw 0 picks the label; draws 1 + 2i and 2 + 2i decide and set pixel i.
      const int label = std::min(kClasses - 1, static_cast<int>(kClasses * rng_.uniform(c, 0)));
      for (int i = 0; i < kPixels; ++i) {
        const bool replace = rng_.uniform(c, 1 + 2 * static_cast<std::uint64_t>(i)) <= p_;
        items.x(i, j) = replace
                            ? static_cast<S>(rng_.uniform(c, 2 + 2 * static_cast<std::uint64_t>(i)))
                            : clean(label, i);
      }
      items.labels.push_back(label);
      items.ids.push_back(id);
    }
    return items;
  }

 private:
  dynsim::Index n_train_, n_test_;
  double p_;
  dynsim::Random rng_;
};

}  // namespace

DYNSIM_PLUGIN(Letters, "letters", "1.0.0", "noisy 7x7 letters A/B/C (embedded, generated)")
