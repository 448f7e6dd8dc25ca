// Shared by the MSE loss plugins: mean over the batch of the squared distance between each
// column of Y and the target column of its label.
#pragma once

#include <dynsim/sdk.hpp>
#include <span>

namespace dynsim::losses {

// Returns the loss and writes dL/dY. `per_node` divides by the number of rows as well.
template <class S>
S mse_to_targets(ConstMatrixRef<S> Y, const Matrix<S>& targets, std::span<const int> labels,
                 bool per_node, MatrixRef<S> dY) {
  const Index b = Y.cols();
  const S scale = S(1) / static_cast<S>(b * (per_node ? Y.rows() : 1));
  S total = 0;
  for (Index j = 0; j < b; ++j) {
    dY.col(j) = Y.col(j) - targets.col(labels[static_cast<std::size_t>(j)]);
    total += dY.col(j).squaredNorm();
  }
  dY *= 2 * scale;
  return total * scale;
}

inline OptionSpecs mse_options() {
  return {opt::string("reduction",
                      "sum: squared distance summed over nodes, mean over items; mean: also "
                      "averaged over nodes")
              .def("sum")
              .one_of({"sum", "mean"})};
}

}  // namespace dynsim::losses
