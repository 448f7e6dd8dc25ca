// Noise-law plugins: the diffusion term of dX = F dt + G(t, X) dW, applied batched to standard
// normal draws that the host generates from its counter-based RNG (so a realisation can be
// replayed exactly in an adjoint pass).
#pragma once

#include "dynsim/sdk/model.hpp"

namespace dynsim {

template <class S>
class NoiseLaw : public PluginObject {
 public:
  static constexpr PluginKind kind = PluginKind::noise;
  using Scalar = S;

  // True when G is identically zero: the host then integrates the ODE and draws nothing.
  virtual bool vanishes() const { return false; }

  // Called once with the model the noise acts on (a law may read its planted attractors).
  virtual void bind(const Model<S>& /*model*/) {}

  // out = G(t, X) Xi for the whole batch; Xi holds N x B standard normals.
  virtual void diffuse(S t, ConstMatrixRef<S> X, ConstMatrixRef<S> Xi, MatrixRef<S> out) = 0;

  // adj_x += d<adj, G(t, X) Xi>/dX with Xi held fixed (exact gradients for one realisation).
  virtual void diffuse_vjp(S t, ConstMatrixRef<S> X, ConstMatrixRef<S> Xi, ConstMatrixRef<S> adj,
                           MatrixRef<S> adj_x) = 0;
};

}  // namespace dynsim
