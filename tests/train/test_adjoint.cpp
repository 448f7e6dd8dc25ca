// The discrete adjoint: gradients of the discretised loss against central finite differences,
// for euler, rk4 and Euler-Maruyama (noise realisation held fixed), with and without
// checkpointing. A small nonlinear model and a state-dependent noise law make every stage of
// the schemes matter.
#include <spdlog/spdlog.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "support/helpers.hpp"
#include "train/trainer.hpp"

using namespace dynsim;

namespace {

// dx/dt = -x + W tanh(x) + b, W and b trainable.
class TanhNet final : public Model<double> {
 public:
  explicit TanhNet(Index n) : W_(Matrix<double>::Zero(n, n)), b_(Matrix<double>::Zero(n, 1)) {
    Random r(3, Stream::init);
    r.normals(Counter{}, W_.data(), n * n);
    W_ *= 0.8;
    r.normals(Counter{0, 1, 0, 0}, b_.data(), n);
    b_ *= 0.3;
  }
  Index dim() const override { return W_.rows(); }
  void drift(double, ConstMatrixRef<double> X, MatrixRef<double> d) override {
    d = -X + W_ * X.array().tanh().matrix();
    d.colwise() += b_.col(0);
  }
  void drift_vjp(double, ConstMatrixRef<double> X, ConstMatrixRef<double> adj,
                 MatrixRef<double> adj_x, std::vector<Matrix<double>>& acc) override {
    const Matrix<double> th = X.array().tanh().matrix();
    adj_x = -adj + ((W_.transpose() * adj).array() * (1 - th.array().square())).matrix();
    acc[0] += adj * th.transpose();
    acc[1] += adj.rowwise().sum();
  }
  std::vector<Parameter<double>> parameters() override {
    return {{"W", W_.data(), W_.rows(), W_.cols()}, {"b", b_.data(), b_.rows(), 1}};
  }
  Matrix<double> attractors() const override { return Matrix<double>::Identity(dim(), 2); }

 private:
  Matrix<double> W_, b_;
};

// G(x) xi = sigma tanh(x) * xi, elementwise: state-dependent, so its VJP matters.
class TanhNoise final : public NoiseLaw<double> {
 public:
  void diffuse(double, ConstMatrixRef<double> X, ConstMatrixRef<double> xi,
               MatrixRef<double> out) override {
    out = 0.4 * (X.array().tanh() * xi.array()).matrix();
  }
  void diffuse_vjp(double, ConstMatrixRef<double> X, ConstMatrixRef<double> xi,
                   ConstMatrixRef<double> adj, MatrixRef<double> adj_x) override {
    adj_x += 0.4 * ((1 - X.array().tanh().square()) * xi.array() * adj.array()).matrix();
  }
};

// Mean over items of the squared distance to the label's target column.
class ToTargets final : public Loss<double> {
 public:
  double value_and_grad(const Model<double>& m, ConstMatrixRef<double> XT, std::span<const int> y,
                        MatrixRef<double> d) override {
    const Matrix<double> T = m.attractors();
    double l = 0;
    for (Index j = 0; j < XT.cols(); ++j) {
      d.col(j) = XT.col(j) - T.col(y[static_cast<std::size_t>(j)]);
      l += d.col(j).squaredNorm();
    }
    d *= 2.0 / double(XT.cols());
    return l / double(XT.cols());
  }
};

double max_block_error(Method method, bool noisy, std::int64_t checkpoint_every) {
  const Index n = 4, b = 3;
  const std::int64_t steps = 12;
  TanhNet model(n);
  TanhNoise noise;
  ToTargets loss;
  FixedStepScheme<double> scheme(method, 0.1, 0.0, model, noisy ? &noise : nullptr, 1);
  spdlog::logger log("test");
  TrainConfig cfg;
  cfg.batch_size = b;
  cfg.checkpoint_every = checkpoint_every;
  Trainer<double> trainer(cfg, model, loss, scheme, steps, 1, log);
  Matrix<double> in(n, b);
  Random(5, Stream::data).normals(Counter{}, in.data(), n * b);
  const std::vector<int> labels = {0, 1, 0};
  const std::vector<std::uint64_t> ids = {10, 11, 12};
  const NoiseKey key{9, 2, 0};
  std::vector<Matrix<double>> grads;
  trainer.batch_gradient(in, labels, ids, key, grads);
  std::vector<Matrix<double>> scratch;
  double worst = 0;
  auto params = model.parameters();
  for (std::size_t p = 0; p < params.size(); ++p) {
    Matrix<double> fd(params[p].rows, params[p].cols);
    for (Index i = 0; i < params[p].rows * params[p].cols; ++i) {
      const double keep = params[p].data[i], h = 1e-6;
      params[p].data[i] = keep + h;
      const double up = trainer.batch_gradient(in, labels, ids, key, scratch);
      params[p].data[i] = keep - h;
      const double down = trainer.batch_gradient(in, labels, ids, key, scratch);
      params[p].data[i] = keep;
      fd(i) = (up - down) / (2 * h);
    }
    worst = std::max(worst, (grads[p] - fd).norm() / fd.norm());
  }
  return worst;
}

}  // namespace

TEST_CASE("adjoint gradients match finite differences for euler and rk4", "[adjoint]") {
  CHECK(max_block_error(Method::euler, false, 1) < 1e-6);
  CHECK(max_block_error(Method::rk4, false, 1) < 1e-6);
}

TEST_CASE("adjoint gradients match finite differences under a fixed noise realisation",
          "[adjoint]") {
  CHECK(max_block_error(Method::euler_maruyama, true, 1) < 1e-6);
}

TEST_CASE("checkpointing recomputes the same trajectory and gradient", "[adjoint]") {
  for (Method m : {Method::rk4, Method::euler_maruyama}) {
    const double all = max_block_error(m, m == Method::euler_maruyama, 1);
    // An interval beyond the step count (up to absurd) is one segment, sized by the steps.
    for (std::int64_t every : {std::int64_t{2}, std::int64_t{5}, std::int64_t{12}, std::int64_t{40},
                               std::int64_t{4611686018427387904}}) {
      INFO("checkpoint every " << every);
      CHECK(max_block_error(m, m == Method::euler_maruyama, every) == all);
    }
  }
}

TEST_CASE("the epoch order depends only on seed and epoch and item ids", "[adjoint]") {
  const std::vector<Index> idx = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::vector<std::uint64_t> ids = {10, 11, 12, 13, 14, 15, 16, 17};
  const auto a = epoch_order(idx, ids, 1, 1), b = epoch_order(idx, ids, 1, 1);
  CHECK(a == b);
  CHECK(a != epoch_order(idx, ids, 1, 2));
  CHECK(a != epoch_order(idx, ids, 2, 1));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == idx);
}

TEST_CASE("the validation hold-out is seeded or the file's tail and splits every item once",
          "[adjoint]") {
  std::vector<std::uint64_t> item_ids(20);
  std::iota(item_ids.begin(), item_ids.end(), std::uint64_t{100});
  const HoldOut tail = hold_out(item_ids, 1, 0.25, true);
  CHECK(tail.validation == std::vector<Index>{15, 16, 17, 18, 19});
  CHECK(tail.train.size() == 15);
  CHECK(tail.train.back() == 14);
  CHECK(hold_out(item_ids, 2, 0.25, true).validation == tail.validation);  // the seed is unused
  const HoldOut drawn = hold_out(item_ids, 1, 0.25, false);
  CHECK(drawn.validation.size() == 5);
  CHECK(drawn.validation != tail.validation);
  CHECK(hold_out(item_ids, 1, 0.25, false).validation == drawn.validation);
  std::vector<Index> both = drawn.train;
  both.insert(both.end(), drawn.validation.begin(), drawn.validation.end());
  std::sort(both.begin(), both.end());
  for (std::size_t i = 0; i < both.size(); ++i) CHECK(both[i] == static_cast<Index>(i));
}

// Data-parallel training sums a batch's shards in a fixed tree (parallel/shard_tree.hpp): on one
// rank the shards are all local, and their weighted sum is the whole batch's loss and gradient
// up to rounding, with the noise keyed by item so that each shard draws what the batch drew.
TEST_CASE("a batch cut into shards gives the batch's loss and gradient", "[adjoint][shards]") {
  const Index n = 4, b = 7;
  const std::int64_t steps = 10;
  Matrix<double> in(n, b);
  Random(5, Stream::data).normals(Counter{}, in.data(), n * b);
  const std::vector<int> labels = {0, 1, 0, 1, 1, 0, 0};
  const std::vector<std::uint64_t> ids = {10, 11, 12, 13, 14, 15, 16};
  auto gradient = [&](std::int64_t shards, std::vector<Matrix<double>>& grads) {
    TanhNet model(n);
    TanhNoise noise;
    ToTargets loss;
    FixedStepScheme<double> scheme(Method::euler_maruyama, 0.1, 0.0, model, &noise, 1);
    spdlog::logger log("test");
    TrainConfig cfg;
    cfg.batch_size = b;
    cfg.shards = shards;
    Trainer<double> trainer(cfg, model, loss, scheme, steps, 1, log);
    CHECK(trainer.shards() == (shards > 0 ? shards : 1));
    return trainer.batch_gradient(in, labels, ids, NoiseKey{9, 2, 0}, grads);
  };
  std::vector<Matrix<double>> whole, cut;
  const double l1 = gradient(0, whole);
  for (std::int64_t shards : {2, 3, 4, 7, 9}) {  // 9 > b: two shards are empty
    INFO(shards << " shards");
    const double ls = gradient(shards, cut);
    CHECK(std::abs(ls - l1) <= 1e-13 * std::abs(l1));
    REQUIRE(cut.size() == whole.size());
    for (std::size_t p = 0; p < whole.size(); ++p)
      CHECK((cut[p] - whole[p]).norm() <= 1e-13 * whole[p].norm());
    // The same shard count twice: the same bits.
    std::vector<Matrix<double>> again;
    CHECK(gradient(shards, again) == ls);
    for (std::size_t p = 0; p < whole.size(); ++p) CHECK(again[p] == cut[p]);
  }
}

namespace {

// dx/dt = W x with one 2 x 2 parameter, whose finish_gradients hands back a 1 x 1 block.
class WrongGradient final : public Model<double> {
 public:
  Index dim() const override { return 2; }
  void drift(double, ConstMatrixRef<double> X, MatrixRef<double> d) override { d = w_ * X; }
  void drift_vjp(double, ConstMatrixRef<double> X, ConstMatrixRef<double> adj,
                 MatrixRef<double> adj_x, std::vector<Matrix<double>>& acc) override {
    adj_x = w_.transpose() * adj;
    acc[0] += adj * X.transpose();
  }
  std::vector<Parameter<double>> parameters() override { return {{"w", w_.data(), 2, 2}}; }
  void finish_gradients(const std::vector<Matrix<double>>&,
                        std::vector<Matrix<double>>& grads) override {
    grads.assign(1, Matrix<double>::Zero(1, 1));
  }
  Matrix<double> attractors() const override { return Matrix<double>::Identity(2, 2); }

 private:
  Matrix<double> w_ = -Matrix<double>::Identity(2, 2);
};

}  // namespace

TEST_CASE("a gradient block of the wrong shape stops training with a clear error", "[adjoint]") {
  WrongGradient model;
  ToTargets loss;
  FixedStepScheme<double> scheme(Method::euler, 0.1, 0.0, model, nullptr, 1);
  spdlog::logger log("test");
  TrainConfig cfg;
  cfg.batch_size = 2;
  Trainer<double> trainer(cfg, model, loss, scheme, 3, 1, log);
  const Matrix<double> in = Matrix<double>::Ones(2, 2);
  const std::vector<int> labels = {0, 1};
  const std::vector<std::uint64_t> ids = {1, 2};
  std::vector<Matrix<double>> grads;
  CHECK_THROWS_WITH(trainer.batch_gradient(in, labels, ids, {}, grads),
                    Catch::Contains("gradient of parameter 'w' is 1 x 1, the parameter 2 x 2"));
}
