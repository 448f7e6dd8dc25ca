// Optimizers over a model's parameter blocks: Adam and SGD (with momentum). Their state is
// exposed as named arrays so a checkpoint can save and restore it exactly.
#pragma once

#include <dynsim/sdk/model.hpp>
#include <memory>
#include <string>
#include <vector>

namespace dynsim {

struct OptimizerConfig {
  std::string kind = "adam";  // adam | sgd
  double lr = 1e-2, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum = 0.0;
};

template <class S>
using NamedArrays = std::vector<std::pair<std::string, Matrix<S>>>;

template <class S>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // params <- params - update(grads)
  virtual void step(std::vector<Parameter<S>>& params, const std::vector<Matrix<S>>& grads) = 0;
  // Writes the state into `out` in place: arrays already of the right shape keep their
  // storage, so a snapshot taken before every step (train.rollback_nonfinite) allocates only
  // the first time.
  virtual void save_state(NamedArrays<S>& out) const = 0;
  NamedArrays<S> state() const {
    NamedArrays<S> s;
    save_state(s);
    return s;
  }
  virtual void load_state(const NamedArrays<S>& state) = 0;
  // The learning rate of the next steps (schedules set it once per epoch).
  void set_lr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }

 protected:
  double lr_ = 0;
};

template <class S>
std::unique_ptr<Optimizer<S>> make_optimizer(const OptimizerConfig& c);

}  // namespace dynsim
