// The optimizers' state as named arrays: save_state writes into the caller's arrays in place
// (the rollback snapshot takes it before every step), and load_state restores a run exactly.
#include <catch2/catch.hpp>
#include <vector>

#include "train/optimizer.hpp"

using namespace dynsim;

namespace {

struct OptRig {
  Matrix<double> a = Matrix<double>::Constant(3, 2, 0.5), b = Matrix<double>::Constant(4, 1, -1.0);
  std::unique_ptr<Optimizer<double>> opt;
  explicit OptRig(const std::string& kind) {
    OptimizerConfig c;
    c.kind = kind;
    c.lr = 0.1;
    c.momentum = 0.9;
    opt = make_optimizer<double>(c);
  }
  std::vector<Parameter<double>> params() {
    return {{"a", a.data(), a.rows(), a.cols()}, {"b", b.data(), b.rows(), b.cols()}};
  }
  // A gradient that changes from step to step, so moments and velocities differ each time.
  void step(int k) {
    auto p = params();
    const std::vector<Matrix<double>> g = {Matrix<double>::Constant(3, 2, 0.3 * k - 0.4),
                                           Matrix<double>::Constant(4, 1, 1.0 / (k + 1))};
    opt->step(p, g);
  }
};

}  // namespace

TEST_CASE("save_state writes in place and equals state()", "[train][optimizer]") {
  for (const std::string kind : {"adam", "sgd"}) {
    INFO(kind);
    OptRig rig(kind);
    rig.step(1);
    // Start from too many arrays of the wrong shapes: save_state trims and reshapes them.
    NamedArrays<double> out(9, {"junk", Matrix<double>::Zero(5, 5)});
    rig.opt->save_state(out);
    auto check_equal = [&] {
      const auto ref = rig.opt->state();
      REQUIRE(out.size() == ref.size());
      for (std::size_t i = 0; i < ref.size(); ++i) {
        CHECK(out[i].first == ref[i].first);
        CHECK(out[i].second == ref[i].second);
      }
    };
    check_equal();
    REQUIRE(out.size() == (kind == "adam" ? 5u : 2u));  // m and v per block and t; velocities
    std::vector<const double*> storage;
    for (const auto& [name, m] : out) storage.push_back(m.data());
    rig.step(2);
    const auto before = out;
    rig.opt->save_state(out);
    check_equal();
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i].second.data() == storage[i]);
    bool changed = false;
    for (std::size_t i = 0; i < out.size(); ++i) changed |= out[i].second != before[i].second;
    CHECK(changed);
  }
}

TEST_CASE("an optimizer loaded with another's state takes the same steps", "[train][optimizer]") {
  for (const std::string kind : {"adam", "sgd"}) {
    INFO(kind);
    OptRig first(kind), second(kind);
    first.step(1);
    first.step(2);
    second.a = first.a;
    second.b = first.b;
    second.opt->load_state(first.opt->state());
    first.step(3);
    second.step(3);
    CHECK(first.a == second.a);
    CHECK(first.b == second.b);
    CHECK(first.opt->state() == second.opt->state());
  }
}
