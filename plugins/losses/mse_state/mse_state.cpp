// `mse_state`: squared distance between the final state x(T) and the planted attractor x^s of
// the item's class (the CVFR paper's loss).
#include "../mse.hpp"

namespace {

template <class S>
class MseState final : public dynsim::Loss<S> {
 public:
  static dynsim::OptionSpecs options() { return dynsim::losses::mse_options(); }
  MseState(const dynsim::Options& o, const dynsim::Context&)
      : per_node_(o.string("reduction") == "mean") {}

  S value_and_grad(const dynsim::Model<S>& model, dynsim::ConstMatrixRef<S> XT,
                   std::span<const int> labels, dynsim::MatrixRef<S> dXT) override {
    if (targets_.size() == 0) targets_ = model.attractors();  // fixed for the model's life
    return dynsim::losses::mse_to_targets<S>(XT, targets_, labels, per_node_, dXT);
  }

 private:
  bool per_node_;
  dynsim::Matrix<S> targets_;
};

}  // namespace

DYNSIM_PLUGIN(MseState, "mse_state", "1.0.0",
              "MSE between the whole state x(T) and the class's planted state (attractors()); "
              "ignores readout()")
