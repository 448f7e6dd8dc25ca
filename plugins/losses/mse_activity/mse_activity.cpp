// `mse_activity`: squared distance between the readout of the final state (for CVFR the
// activity f(x(T))) and the readout of the class's planted state (the pattern psi_k).
#include "../mse.hpp"

namespace {

template <class S>
class MseActivity final : public dynsim::Loss<S> {
 public:
  static dynsim::OptionSpecs options() { return dynsim::losses::mse_options(); }
  MseActivity(const dynsim::Options& o, const dynsim::Context&)
      : per_node_(o.string("reduction") == "mean") {}

  S value_and_grad(const dynsim::Model<S>& model, dynsim::ConstMatrixRef<S> XT,
                   std::span<const int> labels, dynsim::MatrixRef<S> dXT) override {
    if (targets_.size() == 0) {
      const dynsim::Matrix<S> xs = model.attractors();
      targets_.resize(model.readout_dim(), xs.cols());
      model.readout(xs, targets_);
    }
    Y_.resize(model.readout_dim(), XT.cols());
    dY_.resize(Y_.rows(), Y_.cols());
    model.readout(XT, Y_);
    const S loss = dynsim::losses::mse_to_targets<S>(Y_, targets_, labels, per_node_, dY_);
    model.readout_vjp(XT, dY_, dXT);
    return loss;
  }

 private:
  bool per_node_;
  dynsim::Matrix<S> targets_, Y_, dY_;
};

}  // namespace

DYNSIM_PLUGIN(MseActivity, "mse_activity", "1.0.0",
              "MSE between the model's readout(x(T)) and the readout of the class's planted "
              "state")
