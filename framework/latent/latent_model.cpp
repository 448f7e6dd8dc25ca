#include "latent/latent_model.hpp"

#include <cmath>
#include <dynsim/sdk/random.hpp>

#include "common/errors.hpp"

namespace dynsim {

Activation activation_from(const std::string& name) {
  if (name == "linear") return Activation::linear;
  if (name == "relu") return Activation::relu;
  if (name == "tanh") return Activation::tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  throw InputError("unknown activation '" + name + "' (linear, relu, tanh, sigmoid)");
}

namespace {

template <class S>
void apply(Activation a, MatrixRef<S> Z) {
  switch (a) {
    case Activation::linear:
      break;
    case Activation::relu:
      Z = Z.cwiseMax(S(0));
      break;
    case Activation::tanh:
      Z = Z.array().tanh().matrix();
      break;
    case Activation::sigmoid:
      Z = (S(1) / (S(1) + (-Z.array()).exp())).matrix();
      break;
  }
}

// delta <- delta * act'(z), written through the layer's output h = act(z).
template <class S>
void times_derivative(Activation a, const Matrix<S>& H, Matrix<S>& delta) {
  switch (a) {
    case Activation::linear:
      break;
    case Activation::relu:
      delta = (H.array() > S(0)).select(delta, S(0));
      break;
    case Activation::tanh:
      delta.array() *= S(1) - H.array().square();
      break;
    case Activation::sigmoid:
      delta.array() *= H.array() * (S(1) - H.array());
      break;
  }
}

}  // namespace

template <class S>
Mlp<S>::Mlp(std::vector<Index> sizes, Activation hidden, Activation output, std::uint64_t seed,
            std::uint64_t stream)
    : sizes_(std::move(sizes)), hidden_(hidden), output_(output) {
  const Random rng(seed, Stream::init);
  for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    Matrix<S> W(out, in);
    // Keyed by (network, layer), apart from the counters the model plugins draw their inits at.
    rng.uniforms(Counter{0, static_cast<std::uint32_t>(0x1A7E0000u + l), stream, 0}, W.data(),
                 W.size());
    const S limit = static_cast<S>(std::sqrt(6.0 / double(in + out)));
    W = ((W.array() * S(2) - S(1)) * limit).matrix();
    W_.push_back(std::move(W));
    b_.push_back(Matrix<S>::Zero(out, 1));
  }
  H_.resize(W_.size());
}

template <class S>
void Mlp<S>::forward(ConstMatrixRef<S> X, MatrixRef<S> Y) const {
  for (std::size_t l = 0; l < W_.size(); ++l) {
    Matrix<S>& H = H_[l];
    H.resize(W_[l].rows(), X.cols());
    if (l == 0)
      H.noalias() = W_[l] * X;
    else
      H.noalias() = W_[l] * H_[l - 1];
    H.colwise() += b_[l].col(0);
    apply<S>(l + 1 == W_.size() ? output_ : hidden_, H);
  }
  Y = H_.back();
}

template <class S>
void Mlp<S>::backward(ConstMatrixRef<S> X, ConstMatrixRef<S> dY, Matrix<S>* dX,
                      std::vector<Matrix<S>*> gW, std::vector<Matrix<S>*> gb) const {
  delta_ = dY;
  for (std::size_t l = W_.size(); l-- > 0;) {
    times_derivative<S>(l + 1 == W_.size() ? output_ : hidden_, H_[l], delta_);
    if (l == 0)
      gW[l]->noalias() += delta_ * X.transpose();
    else
      gW[l]->noalias() += delta_ * H_[l - 1].transpose();
    *gb[l] += delta_.rowwise().sum();
    if (l > 0 || dX) {
      next_.noalias() = W_[l].transpose() * delta_;
      delta_.swap(next_);
    }
  }
  if (dX) *dX = delta_;
}

template <class S>
void Mlp<S>::append_parameters(const std::string& prefix, std::vector<Parameter<S>>& out) {
  for (std::size_t l = 0; l < W_.size(); ++l) {
    const std::string n = std::to_string(l + 1);
    out.push_back({prefix + ".W" + n, W_[l].data(), W_[l].rows(), W_[l].cols()});
    out.push_back({prefix + ".b" + n, b_[l].data(), b_[l].rows(), 1});
  }
}

OptionSpecs latent_options() {
  return {
      opt::integer("dim", "latent state dimension: the model's N (handed to it as the data's)")
          .def(std::int64_t{20})
          .at_least(1)
          .at_most(1e5),
      opt::integer_list("encoder", "hidden layer widths from the item to the latent state")
          .def(std::vector<std::int64_t>{256})
          .range(1, 1e5),
      opt::integer_list("decoder", "hidden layer widths from the latent state to the item")
          .def(std::vector<std::int64_t>{256})
          .range(1, 1e5),
      opt::string("activation", "hidden layers' activation")
          .def("relu")
          .one_of({"relu", "tanh", "sigmoid"}),
      opt::string("encoder_output", "activation of the encoder's last layer (the initial state)")
          .def("linear")
          .one_of({"linear", "relu", "tanh", "sigmoid"}),
      opt::string("decoder_output",
                  "activation of the decoder's last layer (pixels in [0, 1]: sigmoid)")
          .def("sigmoid")
          .one_of({"linear", "sigmoid"}),
      opt::real("reconstruction_weight",
                "loss += weight x mean over pixels and items of (decoder(x(T)) - item)^2 "
                "(authors: 50)")
          .def(50.0)
          .at_least(0),
  };
}

namespace {
std::vector<Index> layer_sizes(Index first, const std::vector<std::int64_t>& hidden, Index last) {
  std::vector<Index> s = {first};
  for (auto h : hidden) {
    if (h < 1)
      throw InputError("[latent] hidden layer widths must be >= 1, got " + std::to_string(h));
    s.push_back(static_cast<Index>(h));
  }
  s.push_back(last);
  return s;
}
}  // namespace

template <class S>
LatentModel<S>::LatentModel(Model<S>& inner, Index input_dim, const Options& o, std::uint64_t seed)
    : inner_(inner),
      encoder_(layer_sizes(input_dim, o.integer_list("encoder"), inner.dim()),
               activation_from(o.string("activation")), activation_from(o.string("encoder_output")),
               seed, 1),
      decoder_(layer_sizes(inner.dim(), o.integer_list("decoder"), input_dim),
               activation_from(o.string("activation")), activation_from(o.string("decoder_output")),
               seed, 2),
      weight_(o.real("reconstruction_weight")) {
  inner_acc_ = inner.accumulator_shapes().size();
  for (const auto& p : inner.parameters()) {
    ++inner_params_;
    inner_grads_.push_back(Matrix<S>::Zero(p.rows, p.cols));
  }
}

template <class S>
std::vector<Matrix<S>*> LatentModel<S>::slots(std::vector<Matrix<S>>& acc, std::size_t first,
                                              std::size_t count, bool weights) const {
  std::vector<Matrix<S>*> out;
  for (std::size_t l = 0; l < count; ++l) out.push_back(&acc[first + 2 * l + (weights ? 0 : 1)]);
  return out;
}

template <class S>
void LatentModel<S>::encode(ConstMatrixRef<S> input, MatrixRef<S> X0) const {
  encoder_.forward(input, X0);
}

template <class S>
void LatentModel<S>::encode_vjp(ConstMatrixRef<S> input, ConstMatrixRef<S> dX0,
                                std::vector<Matrix<S>>& acc) {
  const std::size_t L = encoder_.layers();
  dX_.resize(encoder_.out_dim(), input.cols());
  encoder_.forward(input, dX_);  // the layer outputs for this batch, which backward reads
  encoder_.backward(input, dX0, nullptr, slots(acc, inner_acc_, L, true),
                    slots(acc, inner_acc_, L, false));
}

template <class S>
void LatentModel<S>::decode(ConstMatrixRef<S> X, MatrixRef<S> items) const {
  decoder_.forward(X, items);
}

template <class S>
S LatentModel<S>::item_loss(ConstMatrixRef<S> input, ConstMatrixRef<S> X, MatrixRef<S> dX,
                            std::vector<Matrix<S>>& acc) {
  if (weight_ == 0) return S(0);
  Y_.resize(decoder_.out_dim(), X.cols());
  decoder_.forward(X, Y_);
  const double scale = weight_ / double(Y_.size());
  dY_ = Y_ - input;
  const double value = scale * static_cast<double>(dY_.squaredNorm());
  dY_ *= static_cast<S>(2 * scale);
  const std::size_t first = inner_acc_ + 2 * encoder_.layers(), L = decoder_.layers();
  decoder_.backward(X, dY_, &dX_, slots(acc, first, L, true), slots(acc, first, L, false));
  dX += dX_;
  return static_cast<S>(value);
}

template <class S>
std::vector<std::pair<Index, Index>> LatentModel<S>::accumulator_shapes() {
  auto shapes = inner_.accumulator_shapes();
  auto all = parameters();
  for (std::size_t i = inner_params_; i < all.size(); ++i)
    shapes.emplace_back(all[i].rows, all[i].cols);
  return shapes;
}

template <class S>
void LatentModel<S>::finish_gradients(const std::vector<Matrix<S>>& acc,
                                      std::vector<Matrix<S>>& grads) {
  inner_acc_copy_.assign(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(inner_acc_));
  inner_.finish_gradients(inner_acc_copy_, inner_grads_);
  const std::size_t own = acc.size() - inner_acc_;
  grads.resize(inner_params_ + own);
  for (std::size_t i = 0; i < inner_params_; ++i) grads[i] = inner_grads_[i];
  for (std::size_t i = 0; i < own; ++i) grads[inner_params_ + i] = acc[inner_acc_ + i];
}

template <class S>
S LatentModel<S>::regularize(std::vector<Matrix<S>>& grads) {
  for (std::size_t i = 0; i < inner_params_; ++i) inner_grads_[i] = grads[i];
  const S r = inner_.regularize(inner_grads_);
  for (std::size_t i = 0; i < inner_params_; ++i) grads[i] = inner_grads_[i];
  return r;
}

template <class S>
std::vector<Parameter<S>> LatentModel<S>::parameters() {
  auto p = inner_.parameters();
  encoder_.append_parameters("encoder", p);
  decoder_.append_parameters("decoder", p);
  return p;
}

template class Mlp<float>;
template class Mlp<double>;
template class LatentModel<float>;
template class LatentModel<double>;

}  // namespace dynsim
