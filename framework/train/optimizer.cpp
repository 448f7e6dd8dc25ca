#include "train/optimizer.hpp"

#include <cmath>

#include "common/errors.hpp"

namespace dynsim {

namespace {

template <class S>
void size_like(std::vector<Matrix<S>>& bufs, const std::vector<Parameter<S>>& params) {
  if (bufs.size() == params.size()) return;
  bufs.clear();
  for (const auto& p : params) bufs.push_back(Matrix<S>::Zero(p.rows, p.cols));
}

template <class S>
void restore(std::vector<Matrix<S>>& bufs, const std::string& prefix, const NamedArrays<S>& state) {
  bufs.clear();
  for (const auto& [name, m] : state)
    if (name.rfind(prefix, 0) == 0) bufs.push_back(m);
}

// Appends bufs as prefix0, prefix1, ... at out[k...], reusing what is there (save_state).
template <class S>
void put_named(NamedArrays<S>& out, std::size_t& k, const std::vector<Matrix<S>>& bufs,
               const std::string& prefix) {
  for (std::size_t i = 0; i < bufs.size(); ++i, ++k) {
    if (k == out.size()) out.emplace_back();
    out[k].first = prefix + std::to_string(i);
    out[k].second = bufs[i];  // same shape: Eigen copies into the existing storage
  }
}

template <class S>
class Adam final : public Optimizer<S> {
 public:
  explicit Adam(const OptimizerConfig& c) : c_(c) { this->lr_ = c.lr; }
  void step(std::vector<Parameter<S>>& params, const std::vector<Matrix<S>>& grads) override {
    size_like(m_, params);
    size_like(v_, params);
    ++t_;
    const double bc1 = 1 - std::pow(c_.beta1, t_), bc2 = 1 - std::pow(c_.beta2, t_);
    const S b1 = static_cast<S>(c_.beta1), b2 = static_cast<S>(c_.beta2);
    const S step = static_cast<S>(this->lr_ / bc1), eps = static_cast<S>(c_.eps);
    const S inv_sqrt_bc2 = static_cast<S>(1 / std::sqrt(bc2));
    for (std::size_t i = 0; i < params.size(); ++i) {
      m_[i] = b1 * m_[i] + (1 - b1) * grads[i];
      v_[i] = b2 * v_[i] + (1 - b2) * grads[i].cwiseAbs2();
      params[i].map().array() -=
          step * m_[i].array() / ((v_[i].array().sqrt() * inv_sqrt_bc2) + eps);
    }
  }
  void save_state(NamedArrays<S>& out) const override {
    std::size_t k = 0;
    put_named(out, k, m_, "adam_m");
    put_named(out, k, v_, "adam_v");
    if (k == out.size()) out.emplace_back();
    out[k].first = "adam_t";
    out[k++].second.setConstant(1, 1, static_cast<S>(t_));
    out.resize(k);
  }
  void load_state(const NamedArrays<S>& s) override {
    restore(m_, "adam_m", s);
    restore(v_, "adam_v", s);
    for (const auto& [name, m] : s)
      if (name == "adam_t") t_ = static_cast<std::int64_t>(std::llround(m(0, 0)));
  }

 private:
  OptimizerConfig c_;
  std::vector<Matrix<S>> m_, v_;
  std::int64_t t_ = 0;
};

template <class S>
class Sgd final : public Optimizer<S> {
 public:
  explicit Sgd(const OptimizerConfig& c) : c_(c) { this->lr_ = c.lr; }
  void step(std::vector<Parameter<S>>& params, const std::vector<Matrix<S>>& grads) override {
    size_like(vel_, params);
    const S lr = static_cast<S>(this->lr_), mu = static_cast<S>(c_.momentum);
    for (std::size_t i = 0; i < params.size(); ++i) {
      vel_[i] = mu * vel_[i] + grads[i];
      params[i].map() -= lr * vel_[i];
    }
  }
  void save_state(NamedArrays<S>& out) const override {
    std::size_t k = 0;
    put_named(out, k, vel_, "sgd_velocity");
    out.resize(k);
  }
  void load_state(const NamedArrays<S>& s) override { restore(vel_, "sgd_velocity", s); }

 private:
  OptimizerConfig c_;
  std::vector<Matrix<S>> vel_;
};

}  // namespace

template <class S>
std::unique_ptr<Optimizer<S>> make_optimizer(const OptimizerConfig& c) {
  if (c.kind == "adam") return std::make_unique<Adam<S>>(c);
  if (c.kind == "sgd") return std::make_unique<Sgd<S>>(c);
  throw InputError("unknown optimizer '" + c.kind + "'");
}

template std::unique_ptr<Optimizer<float>> make_optimizer<float>(const OptimizerConfig&);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(const OptimizerConfig&);

}  // namespace dynsim
