// A second plugin named "linear": earlier on the search path it shadows the real one; two copies
// in one folder are refused, naming both files.
#include <dynsim/sdk.hpp>

namespace {
template <class S>
class Still final : public dynsim::Model<S> {
 public:
  static dynsim::OptionSpecs options() { return {}; }
  Still(const dynsim::Options&, const dynsim::Context&) {}
  dynsim::Index dim() const override { return 1; }
  void drift(S, dynsim::ConstMatrixRef<S>, dynsim::MatrixRef<S> d) override { d.setZero(); }
  void drift_vjp(S, dynsim::ConstMatrixRef<S>, dynsim::ConstMatrixRef<S>,
                 dynsim::MatrixRef<S> adj_x, std::vector<dynsim::Matrix<S>>&) override {
    adj_x.setZero();
  }
};
}  // namespace

DYNSIM_PLUGIN(Still, "linear", "9.9.9", "clashes with the real linear plugin")
