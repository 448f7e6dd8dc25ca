// Dataset plugins: labelled items as columns (dim x n) in the run's precision.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "dynsim/sdk/types.hpp"

namespace dynsim {

enum class Split { train, test };

template <class S>
struct Items {
  Matrix<S> x;                     // dim x n, one item per column
  std::vector<int> labels;         // n labels in [0, classes)
  std::vector<std::uint64_t> ids;  // stable item ids: they key per-item random draws
};

template <class S>
class Dataset : public PluginObject {
 public:
  static constexpr PluginKind kind = PluginKind::dataset;
  using Scalar = S;

  virtual Index dim() const = 0;
  virtual int classes() const = 0;
  // Rows x columns when items are images (for figures); {0, 0} otherwise.
  virtual std::array<int, 2> image_shape() const { return {0, 0}; }
  virtual std::vector<std::string> class_names() const { return {}; }
  // The host carves the validation split out of the training split.
  virtual Items<S> load(Split which) = 0;
};

}  // namespace dynsim
