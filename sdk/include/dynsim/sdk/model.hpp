// Model plugins: the drift F(t, X) of dX = F dt (+ noise), batched over items.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dynsim/sdk/types.hpp"

namespace dynsim {

// A trainable block: a named view into storage the model owns.
template <class S>
struct Parameter {
  std::string name;
  S* data;
  Index rows, cols;
  Eigen::Map<Matrix<S>> map() const { return {data, rows, cols}; }
};

template <class S>
class Model : public PluginObject {
 public:
  static constexpr PluginKind kind = PluginKind::model;
  using Scalar = S;

  // State dimension N.
  virtual Index dim() const = 0;

  // How an input item becomes the initial state. Default: the state is the input.
  virtual Index input_dim() const { return dim(); }
  virtual void encode(ConstMatrixRef<S> input, MatrixRef<S> X0) const { X0 = input; }
  // An encoder with trainable parameters adds acc[i] += (dX0/dtheta_i)^T dX0 over the batch,
  // given dX0 = dL/dX0 from the backward pass. Default: encode() has no parameters.
  virtual void encode_vjp(ConstMatrixRef<S> /*input*/, ConstMatrixRef<S> /*dX0*/,
                          std::vector<Matrix<S>>& /*acc*/) {}

  // The way back from a state to item space (generation decodes samples with it). Default: the
  // state is an item, when their dimensions agree.
  virtual bool can_decode() const { return input_dim() == dim(); }
  virtual void decode(ConstMatrixRef<S> X, MatrixRef<S> items) const { items = X; }

  // A term of the loss that compares the final state with the item it came from (a decoder's
  // reconstruction error): returns its batch mean, adds its gradient into dX (N x B) and its
  // parameter contributions into acc. Default: none.
  virtual S item_loss(ConstMatrixRef<S> /*input*/, ConstMatrixRef<S> /*X*/, MatrixRef<S> /*dX*/,
                      std::vector<Matrix<S>>& /*acc*/) {
    return S(0);
  }

  // What the loss and the classifier read from a state. Default: the whole state.
  virtual Index readout_dim() const { return dim(); }
  virtual void readout(ConstMatrixRef<S> X, MatrixRef<S> Y) const { Y = X; }
  // dX = (dY/dX)^T dY, column by column.
  virtual void readout_vjp(ConstMatrixRef<S> /*X*/, ConstMatrixRef<S> dY, MatrixRef<S> dX) const {
    dX = dY;
  }

  // dXdt = F(t, X) for the whole batch (X is N x B). Called once per stage per step: no
  // allocation here, and a GEMM rather than a loop over items.
  virtual void drift(S t, ConstMatrixRef<S> X, MatrixRef<S> dXdt) = 0;

  // Vector-Jacobian products of the drift, required because training gradients must be exact:
  //   adj_x  = (dF/dX)^T adj                                   (overwritten, N x B)
  //   acc[i] += contribution of this call to accumulator i     (summed over the batch)
  // The accumulators have the shapes accumulator_shapes() gives; by default one per parameter
  // block, holding sum over items of (dF/dtheta_i)^T adj directly.
  virtual void drift_vjp(S t, ConstMatrixRef<S> X, ConstMatrixRef<S> adj, MatrixRef<S> adj_x,
                         std::vector<Matrix<S>>& acc) = 0;

  // Optional fused explicit-Euler step X <- X + h F(t, X), in place. A model that can fold the
  // update into its GEMM (one pass over the N x B state instead of several) returns true; the
  // default returns false and the host steps with drift().
  virtual bool euler_step(S /*t*/, S /*h*/, MatrixRef<S> /*X*/) { return false; }
  // Its adjoint at the step's start state Xk: a <- a + h (dF/dX)^T a, and acc gets what
  // drift_vjp(t, Xk, h a, ...) would add. false: not provided (the host uses drift_vjp).
  virtual bool euler_step_vjp(S /*t*/, S /*h*/, ConstMatrixRef<S> /*Xk*/, MatrixRef<S> /*a*/,
                              std::vector<Matrix<S>>& /*acc*/) {
    return false;
  }
  // A model may buffer its accumulator contributions to add them with fewer, larger GEMMs; the
  // host calls this after the last vjp of a backward pass, before it reads the accumulators.
  virtual void flush_accumulators(std::vector<Matrix<S>>& /*acc*/) {}

  // A model whose drift depends on its parameters through an assembled quantity (say
  // A = Psi Lambda Psi^-1) accumulates dL/dA over every step and item, and maps it to the
  // parameter blocks once per batch in finish_gradients (grads are overwritten, shaped as
  // parameters()). The map is linear, so accumulators can be summed across workers first.
  virtual std::vector<std::pair<Index, Index>> accumulator_shapes() {
    std::vector<std::pair<Index, Index>> shapes;
    for (const auto& p : parameters()) shapes.emplace_back(p.rows, p.cols);
    return shapes;
  }
  virtual void finish_gradients(const std::vector<Matrix<S>>& acc, std::vector<Matrix<S>>& grads) {
    grads = acc;
  }

  // Penalty on the parameters added to the loss (e.g. orthogonality of free eigenvectors):
  // returns its value and adds its gradient into grads (shaped as parameters()).
  virtual S regularize(std::vector<Matrix<S>>& /*grads*/) { return S(0); }

  // Optional: the N x N Jacobian dF/dx at one state. Without it the host may fall back to finite
  // differences, for stability analysis only.
  virtual bool has_jacobian() const { return false; }
  virtual void jacobian(S /*t*/, ConstVectorRef<S> /*x*/, MatrixRef<S> /*J*/) const {
    throw std::logic_error("model has no analytic Jacobian");
  }

  // Trainable blocks (empty for a fixed model) and the hook the host calls after changing them,
  // so the model can rebuild what it derives from them (an assembled matrix, a factorisation).
  virtual std::vector<Parameter<S>> parameters() { return {}; }
  virtual void parameters_changed() {}

  // Planted attractors in state space, N x K (column k for class k); empty when there are none.
  virtual Matrix<S> attractors() const { return {}; }

  // The values planted states are made of (e.g. {0, x_p}); lets evaluation tell a state built
  // from them (a union of patterns, say) from one that is not. Empty: not applicable.
  virtual std::vector<S> state_alphabet() const { return {}; }

  // Named arrays worth saving for analysis in Python (e.g. Psi, Lambda, A), as .npy files.
  virtual std::vector<std::pair<std::string, Matrix<S>>> exports() const { return {}; }
};

}  // namespace dynsim
