// Scalar-generic Eigen aliases. Batched state is N x B, column-major, one column per item.
#pragma once

#include <Eigen/Core>
#include <memory>

#include "dynsim/sdk/abi.hpp"

namespace dynsim {

using Index = Eigen::Index;
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <class S>
using MatrixRef = Eigen::Ref<Matrix<S>>;
template <class S>
using ConstMatrixRef = Eigen::Ref<const Matrix<S>>;
template <class S>
using ConstVectorRef = Eigen::Ref<const Vector<S>>;

// Base of every plugin instance; the host owns it through this type.
class PluginObject {
 public:
  virtual ~PluginObject() = default;
};

template <class S>
constexpr Precision precision_of() {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "float or double");
  return std::is_same_v<S, float> ? Precision::f32 : Precision::f64;
}

}  // namespace dynsim
