// A model whose attractors() has the readout's size instead of the state's (dim() = 2, one
// attractor of 1 entry): the host must refuse it before the run, naming the plugin and shapes.
#include <dynsim/sdk.hpp>

namespace {
template <class S>
class BadShapes final : public dynsim::Model<S> {
 public:
  static dynsim::OptionSpecs options() { return {}; }
  BadShapes(const dynsim::Options&, const dynsim::Context&) {}
  dynsim::Index dim() const override { return 2; }
  void drift(S, dynsim::ConstMatrixRef<S> X, dynsim::MatrixRef<S> d) override { d = -X; }
  void drift_vjp(S, dynsim::ConstMatrixRef<S>, dynsim::ConstMatrixRef<S> adj,
                 dynsim::MatrixRef<S> adj_x, std::vector<dynsim::Matrix<S>>&) override {
    adj_x = -adj;
  }
  dynsim::Matrix<S> attractors() const override { return dynsim::Matrix<S>::Ones(1, 1); }
};
}  // namespace

DYNSIM_PLUGIN(BadShapes, "bad_shapes", "0.0.1", "attractors of the wrong shape")
