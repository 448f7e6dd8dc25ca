// A latent pipeline around any model plugin: item -> encoder -> the model's dynamics in a
// latent space -> decoder -> item. The scenario's [latent] table turns it on; the model plugin
// itself is unchanged and knows nothing of it (so the SDK gains no plugin kind: a model only
// sees its own state, and any model, cvfr_hill, sanode_double_well or a user's, can be made
// latent). Training minimises the scenario's loss on the latent final state (the attractor MSE)
// plus reconstruction_weight x MSE(decoder(x(T)), item), with exact gradients through decoder,
// dynamics (the discrete adjoint) and encoder. Generation decodes latent samples.
#pragma once

#include <dynsim/sdk/model.hpp>
#include <dynsim/sdk/options.hpp>
#include <memory>

namespace dynsim {

// The host's [latent] table: its keys and defaults.
OptionSpecs latent_options();

enum class Activation { linear, relu, tanh, sigmoid };
Activation activation_from(const std::string& name);

// A fully connected network, batched (one column per item): h_l = act_l(W_l h_{l-1} + b_l).
template <class S>
class Mlp {
 public:
  // sizes: in, hidden..., out; hidden layers use `hidden`, the last layer `output`. Weights
  // are Glorot-uniform from the counter-based generator keyed by (seed, `stream`), biases 0.
  Mlp(std::vector<Index> sizes, Activation hidden, Activation output, std::uint64_t seed,
      std::uint64_t stream);

  Index in_dim() const { return sizes_.front(); }
  Index out_dim() const { return sizes_.back(); }
  std::size_t layers() const { return W_.size(); }

  // Y = net(X), keeping each layer's output for backward().
  void forward(ConstMatrixRef<S> X, MatrixRef<S> Y) const;
  // Given dY = dL/dY, right after forward(X): adds dL/dW_l, dL/db_l into gW[l], gb[l] and,
  // when dX is not null, writes dL/dX.
  void backward(ConstMatrixRef<S> X, ConstMatrixRef<S> dY, Matrix<S>* dX,
                std::vector<Matrix<S>*> gW, std::vector<Matrix<S>*> gb) const;

  // Parameters named prefix.W1, prefix.b1, ... (1-based layers).
  void append_parameters(const std::string& prefix, std::vector<Parameter<S>>& out);

 private:
  std::vector<Index> sizes_;
  Activation hidden_, output_;
  std::vector<Matrix<S>> W_, b_;
  mutable std::vector<Matrix<S>> H_;  // outputs of each layer from the last forward
  mutable Matrix<S> delta_, next_;
};

template <class S>
class LatentModel final : public Model<S> {
 public:
  // Takes ownership of nothing: `inner` lives as long as the run's plugin instances.
  LatentModel(Model<S>& inner, Index input_dim, const Options& latent_table, std::uint64_t seed);

  Index dim() const override { return inner_.dim(); }
  Index input_dim() const override { return encoder_.in_dim(); }
  void encode(ConstMatrixRef<S> input, MatrixRef<S> X0) const override;
  void encode_vjp(ConstMatrixRef<S> input, ConstMatrixRef<S> dX0,
                  std::vector<Matrix<S>>& acc) override;
  bool can_decode() const override { return true; }
  void decode(ConstMatrixRef<S> X, MatrixRef<S> items) const override;
  S item_loss(ConstMatrixRef<S> input, ConstMatrixRef<S> X, MatrixRef<S> dX,
              std::vector<Matrix<S>>& acc) override;

  Index readout_dim() const override { return inner_.readout_dim(); }
  void readout(ConstMatrixRef<S> X, MatrixRef<S> Y) const override { inner_.readout(X, Y); }
  void readout_vjp(ConstMatrixRef<S> X, ConstMatrixRef<S> dY, MatrixRef<S> dX) const override {
    inner_.readout_vjp(X, dY, dX);
  }
  // The dynamics are the inner model's; its accumulators come first in acc, so it finds them at
  // the indices it expects.
  void drift(S t, ConstMatrixRef<S> X, MatrixRef<S> dXdt) override { inner_.drift(t, X, dXdt); }
  void drift_vjp(S t, ConstMatrixRef<S> X, ConstMatrixRef<S> adj, MatrixRef<S> adj_x,
                 std::vector<Matrix<S>>& acc) override {
    inner_.drift_vjp(t, X, adj, adj_x, acc);
  }
  bool euler_step(S t, S h, MatrixRef<S> X) override { return inner_.euler_step(t, h, X); }
  bool euler_step_vjp(S t, S h, ConstMatrixRef<S> Xk, MatrixRef<S> a,
                      std::vector<Matrix<S>>& acc) override {
    return inner_.euler_step_vjp(t, h, Xk, a, acc);
  }
  void flush_accumulators(std::vector<Matrix<S>>& acc) override { inner_.flush_accumulators(acc); }
  std::vector<std::pair<Index, Index>> accumulator_shapes() override;
  void finish_gradients(const std::vector<Matrix<S>>& acc, std::vector<Matrix<S>>& grads) override;
  S regularize(std::vector<Matrix<S>>& grads) override;
  bool has_jacobian() const override { return inner_.has_jacobian(); }
  void jacobian(S t, ConstVectorRef<S> x, MatrixRef<S> J) const override {
    inner_.jacobian(t, x, J);
  }
  std::vector<Parameter<S>> parameters() override;
  void parameters_changed() override { inner_.parameters_changed(); }
  Matrix<S> attractors() const override { return inner_.attractors(); }
  std::vector<S> state_alphabet() const override { return inner_.state_alphabet(); }
  std::vector<std::pair<std::string, Matrix<S>>> exports() const override {
    return inner_.exports();
  }

  double reconstruction_weight() const { return weight_; }

 private:
  // Accumulator slots of the encoder's and decoder's blocks (after the inner model's).
  std::vector<Matrix<S>*> slots(std::vector<Matrix<S>>& acc, std::size_t first, std::size_t count,
                                bool weights) const;

  Model<S>& inner_;
  Mlp<S> encoder_, decoder_;
  double weight_;
  std::size_t inner_acc_ = 0, inner_params_ = 0;
  std::vector<Matrix<S>> inner_grads_, inner_acc_copy_;
  mutable Matrix<S> Y_, dY_, dX_;
};

extern template class Mlp<float>;
extern template class Mlp<double>;
extern template class LatentModel<float>;
extern template class LatentModel<double>;

}  // namespace dynsim
