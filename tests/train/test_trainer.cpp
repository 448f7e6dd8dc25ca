// The training loop's handling of non-finite gradients (train.skip_nonfinite): a skipped step
// leaves the parameters and the optimizer state as they were, skips are counted per epoch, the
// cap counts batches in a row across epochs and across a resume, a finite loss above
// divergence_loss is never skipped, and rollback_nonfinite also undoes the step before.
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <set>

#include "train/trainer.hpp"

using namespace dynsim;

namespace {

// dx/dt = b - x with a trainable bias b; the gradients of chosen batch_gradient calls (counted
// from 0) are made NaN, as an overflowing f32 adjoint makes them.
class PoisonedBias final : public Model<double> {
 public:
  std::set<int> poisoned;
  int calls = 0;
  Index dim() const override { return 2; }
  void drift(double, ConstMatrixRef<double> X, MatrixRef<double> d) override {
    d = -X;
    d.colwise() += b_.col(0);
  }
  void drift_vjp(double, ConstMatrixRef<double>, ConstMatrixRef<double> adj,
                 MatrixRef<double> adj_x, std::vector<Matrix<double>>& acc) override {
    adj_x = -adj;
    acc[0] += adj.rowwise().sum();
  }
  void finish_gradients(const std::vector<Matrix<double>>& acc,
                        std::vector<Matrix<double>>& grads) override {
    grads = acc;
    if (poisoned.count(calls++) > 0) grads[0](1, 0) = NAN;
  }
  std::vector<Parameter<double>> parameters() override { return {{"b", b_.data(), 2, 1}}; }
  Matrix<double> attractors() const override { return Matrix<double>::Identity(2, 2); }

 private:
  Matrix<double> b_ = Matrix<double>::Zero(2, 1);
};

class ToLabelColumn final : public Loss<double> {
 public:
  double value_and_grad(const Model<double>& m, ConstMatrixRef<double> XT, std::span<const int> y,
                        MatrixRef<double> d) override {
    const Matrix<double> T = m.attractors();
    for (Index j = 0; j < XT.cols(); ++j)
      d.col(j) = XT.col(j) - T.col(y[static_cast<std::size_t>(j)]);
    const double l = d.squaredNorm() / double(XT.cols());
    d *= 2.0 / double(XT.cols());
    return l;
  }
};

// Eight items in batches of two: four optimizer steps per epoch.
Items<double> eight_items() {
  Items<double> it;
  it.x = Matrix<double>::Zero(2, 8);
  for (Index j = 0; j < 8; ++j) {
    it.x(0, j) = 0.1 * double(j);
    it.labels.push_back(int(j % 2));
    it.ids.push_back(std::uint64_t(j));
  }
  return it;
}

// The poisoned model, its loss and scheme, and a trainer with Adam (lr 0.01) over batches of two.
struct PoisonRig {
  PoisonedBias model;
  ToLabelColumn loss;
  FixedStepScheme<double> scheme{Method::euler, 0.1, 0.0, model, nullptr, 1};
  spdlog::logger log{"test"};
  TrainConfig cfg;
  std::unique_ptr<Trainer<double>> trainer;
  explicit PoisonRig(std::set<int> poisoned, std::int64_t epochs = 1, std::int64_t skip = 0,
                     double divergence_loss = 1e6, bool rollback = false) {
    model.poisoned = std::move(poisoned);
    cfg.epochs = epochs;
    cfg.batch_size = 2;
    cfg.optimizer.kind = "adam";
    cfg.optimizer.lr = 0.01;
    cfg.skip_nonfinite = skip;
    cfg.divergence_loss = divergence_loss;
    cfg.rollback_nonfinite = rollback;
    trainer = std::make_unique<Trainer<double>>(cfg, model, loss, scheme, 5, 1, log);
  }
  Matrix<double> b() { return Eigen::Map<Matrix<double>>(model.parameters()[0].data, 2, 1); }
};

struct SkipRun {
  TrainState state;
  Matrix<double> b;
};

SkipRun train_poisoned(std::set<int> poisoned, std::int64_t skip, std::int64_t epochs,
                       TrainState from = {}, double divergence_loss = 1e6, bool rollback = false) {
  PoisonRig rig(std::move(poisoned), epochs, skip, divergence_loss, rollback);
  const Items<double> items = eight_items();
  std::vector<Index> train_idx(8);
  for (Index j = 0; j < 8; ++j) train_idx[static_cast<std::size_t>(j)] = j;
  SkipRun r;
  r.state = rig.trainer->train(items, train_idx, {}, std::move(from), {});
  r.b = rig.b();
  return r;
}

}  // namespace

TEST_CASE("a step with a non-finite gradient leaves parameters and optimizer state as they were",
          "[train][skip]") {
  PoisonRig rig({1});
  auto& trainer = *rig.trainer;
  const Items<double> items = eight_items();
  const std::vector<int> labels = {0, 1};
  const std::vector<std::uint64_t> ids = {0, 1};
  const Matrix<double> in = items.x.leftCols(2);
  auto snapshot = [&] {
    std::vector<Matrix<double>> s = {rig.b()};
    for (auto& [name, m] : trainer.optimizer().state()) s.push_back(m);
    return s;
  };
  const auto r0 = trainer.train_step(in, labels, ids, {});
  CHECK((r0.ok && r0.finite));
  const auto before = snapshot();
  const auto r1 = trainer.train_step(in, labels, ids, {});  // the poisoned call
  CHECK_FALSE(r1.ok);
  CHECK_FALSE(r1.finite);
  CHECK(std::isfinite(r1.loss));
  CHECK(std::isnan(r1.grad_norm));
  const auto after = snapshot();
  REQUIRE(after.size() == before.size());
  REQUIRE(after.size() >= 3);  // the parameter and Adam's two moments
  for (std::size_t i = 0; i < after.size(); ++i) CHECK(after[i] == before[i]);
  trainer.train_step(in, labels, ids, {});
  CHECK(snapshot()[0] != before[0]);
}

TEST_CASE("non-finite batches are skipped up to skip_nonfinite in a row", "[train][skip]") {
  SECTION("within the cap: training completes and each epoch counts its skips") {
    // Calls 2, 5, 6: epoch 1 batch 3, epoch 2 batches 2 and 3 (two in a row).
    const SkipRun r = train_poisoned({2, 5, 6}, 2, 3);
    CHECK(r.state.stop_reason == "completed");
    REQUIRE(r.state.history.size() == 3);
    CHECK(r.state.history[0].skipped == 1);
    CHECK(r.state.history[1].skipped == 2);
    CHECK(r.state.history[2].skipped == 0);
    CHECK(r.state.skipped_in_a_row == 0);
    CHECK(r.b.allFinite());
    // Training moved the bias, and skipping changed where it went.
    const SkipRun clean = train_poisoned({}, 2, 3);
    CHECK(clean.state.history[1].skipped == 0);
    CHECK(r.b != clean.b);
    CHECK(r.b.norm() > 0);
  }
  SECTION("one more in a row than the cap stops training as diverged") {
    const SkipRun r = train_poisoned({2, 5, 6}, 1, 3);
    CHECK_THAT(r.state.stop_reason, Catch::StartsWith("diverged in epoch 2, batch 3") &&
                                        Catch::Contains("skip_nonfinite = 1"));
    CHECK(r.state.history.size() == 1);
  }
  SECTION("without skipping the first non-finite batch stops training") {
    const SkipRun r = train_poisoned({2}, 0, 3);
    CHECK_THAT(r.state.stop_reason, Catch::StartsWith("diverged in epoch 1, batch 3"));
    CHECK(r.state.history.empty());
  }
  SECTION("batches in a row are counted across an epoch boundary") {
    const SkipRun r = train_poisoned({3, 4}, 1, 3);  // epoch 1 batch 4, epoch 2 batch 1
    CHECK_THAT(r.state.stop_reason, Catch::StartsWith("diverged in epoch 2, batch 1"));
  }
  SECTION("and across a resume, through the checkpoint's training state") {
    const SkipRun first = train_poisoned({3}, 1, 1);
    CHECK(first.state.stop_reason == "completed");
    CHECK(first.state.skipped_in_a_row == 1);
    TrainState back = TrainState::from_json(nlohmann::json::parse(first.state.to_json().dump()));
    CHECK(back.skipped_in_a_row == 1);
    CHECK(back.history.at(0).skipped == 1);
    back.stop_reason.clear();
    // The resumed run's first call is poisoned: the second non-finite batch in a row.
    const SkipRun resumed = train_poisoned({0}, 1, 2, back);
    CHECK_THAT(resumed.state.stop_reason, Catch::StartsWith("diverged in epoch 2, batch 1"));
  }
  SECTION("a finite loss above divergence_loss is not skipped") {
    const SkipRun r = train_poisoned({}, 5, 3, {}, 1e-12);
    CHECK_THAT(r.state.stop_reason, Catch::StartsWith("diverged in epoch 1, batch 1") &&
                                        Catch::Contains("above divergence_loss"));
  }
}

TEST_CASE("rollback_nonfinite undoes the step before a run of non-finite batches",
          "[train][skip]") {
  SECTION("the result is training on the other batches alone") {
    // Epoch 1 is batches 1-4; call 2 (batch 3) is poisoned, so batch 2's step is undone too.
    const SkipRun r = train_poisoned({2}, 1, 1, {}, 1e6, true);
    CHECK(r.state.stop_reason == "completed");
    REQUIRE(r.state.history.size() == 1);
    CHECK(r.state.history[0].skipped == 1);
    CHECK(r.state.history[0].undone == 1);
    // The same bits as two steps on batches 1 and 4 of the epoch's order, from the start.
    PoisonRig rig({});
    const Items<double> items = eight_items();
    std::vector<Index> all(8);
    for (Index j = 0; j < 8; ++j) all[static_cast<std::size_t>(j)] = j;
    const std::vector<Index> order = epoch_order(all, items.ids, 1, 1);
    for (std::size_t batch : {0u, 3u}) {
      Matrix<double> in(2, 2);
      std::vector<int> labels;
      std::vector<std::uint64_t> ids;
      for (std::size_t j = 0; j < 2; ++j) {
        const Index k = order[2 * batch + j];
        in.col(static_cast<Index>(j)) = items.x.col(k);
        labels.push_back(items.labels[static_cast<std::size_t>(k)]);
        ids.push_back(items.ids[static_cast<std::size_t>(k)]);
      }
      REQUIRE(rig.trainer->train_step(in, labels, ids, NoiseKey{1, 1, 0}).ok);
    }
    const Matrix<double> b = rig.b();
    CHECK(r.b == b);
    CHECK(train_poisoned({2}, 1, 1).b != b);  // without the rollback batch 2 counts
  }
  SECTION("once per run of non-finite batches, and not across an epoch boundary") {
    const SkipRun r = train_poisoned({1, 2, 4}, 2, 2, {}, 1e6, true);
    CHECK(r.state.stop_reason == "completed");
    REQUIRE(r.state.history.size() == 2);
    CHECK(r.state.history[0].skipped == 2);
    CHECK(r.state.history[0].undone == 1);
    CHECK(r.state.history[1].skipped == 1);
    CHECK(r.state.history[1].undone == 0);  // batch 1 of an epoch: no step of its own before
  }
}
