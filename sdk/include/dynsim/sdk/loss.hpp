// Loss plugins: value and gradient with respect to the final state, per batch.
#pragma once

#include <span>

#include "dynsim/sdk/model.hpp"

namespace dynsim {

template <class S>
class Loss : public PluginObject {
 public:
  static constexpr PluginKind kind = PluginKind::loss;
  using Scalar = S;

  // Mean loss over the batch for final states XT (N x B) with class labels; writes dL/dXT.
  virtual S value_and_grad(const Model<S>& model, ConstMatrixRef<S> XT, std::span<const int> labels,
                           MatrixRef<S> dXT) = 0;
};

}  // namespace dynsim
