// `none`: no noise; the host integrates the deterministic ODE and draws nothing.
#include <dynsim/sdk.hpp>

namespace {

template <class S>
class NoNoise final : public dynsim::NoiseLaw<S> {
 public:
  static dynsim::OptionSpecs options() { return {}; }
  NoNoise(const dynsim::Options&, const dynsim::Context&) {}
  bool vanishes() const override { return true; }
  void diffuse(S, dynsim::ConstMatrixRef<S>, dynsim::ConstMatrixRef<S>,
               dynsim::MatrixRef<S> out) override {
    out.setZero();
  }
  void diffuse_vjp(S, dynsim::ConstMatrixRef<S>, dynsim::ConstMatrixRef<S>,
                   dynsim::ConstMatrixRef<S>, dynsim::MatrixRef<S>) override {}
};

}  // namespace

DYNSIM_PLUGIN(NoNoise, "none", "1.0.0", "no noise (deterministic dynamics)")
