// The classification criteria on planted patterns whose answer is known: binary codes, where
// C's pattern is the union of A's and B's, tie the paper's overlap rule; cosine and nearest do
// not. With patterns of one norm, overlap and cosine agree.
#include <catch2/catch.hpp>
#include <limits>
#include <vector>

#include "common/errors.hpp"
#include "evaluate/classifier.hpp"

using namespace dynsim;

namespace {

// Only the planted states (and their levels, if given) matter to the classifier; the drift is
// never called.
class PlantedPoints final : public Model<double> {
 public:
  explicit PlantedPoints(Matrix<double> xs, std::vector<double> levels = {})
      : xs_(std::move(xs)), levels_(std::move(levels)) {}
  Index dim() const override { return xs_.rows(); }
  void drift(double, ConstMatrixRef<double> X, MatrixRef<double> d) override { d = -X; }
  void drift_vjp(double, ConstMatrixRef<double>, ConstMatrixRef<double> adj,
                 MatrixRef<double> adj_x, std::vector<Matrix<double>>&) override {
    adj_x = -adj;
  }
  Matrix<double> attractors() const override { return xs_; }
  std::vector<double> state_alphabet() const override { return levels_; }

 private:
  Matrix<double> xs_;
  std::vector<double> levels_;
};

// Codes 01, 10, 11 over two blocks of two nodes: A, B and C = A + B.
Matrix<double> binary_codes() {
  Matrix<double> xs(4, 3);
  xs << 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1;
  return xs;
}

}  // namespace

TEST_CASE("nested patterns: overlap ties to the superset, cosine and nearest do not",
          "[classifier]") {
  const PlantedPoints model(binary_codes());
  // On its way to A, B or C, with a little activity left on the other block.
  Matrix<double> X(4, 3);
  X << 1, 0.05, 1, 1, 0.05, 1, 0.05, 1, 0.9, 0.05, 1, 0.9;
  const std::vector<int> labels = {0, 1, 2};

  const Classifier<double> overlap(model, 0.05, Criterion::overlap);
  CHECK(overlap.predict(X) == std::vector<int>{2, 2, 2});

  for (Criterion c : {Criterion::cosine, Criterion::nearest}) {
    INFO(criterion_name(c));
    const Classifier<double> classifier(model, 0.05, c);
    CHECK(classifier.predict(X) == labels);
    Evaluation e;
    classifier.add(X, labels, e);
    CHECK(e.criterion == c);
    CHECK(e.accuracy() == 1.0);
    CHECK(e.accuracy_nearest() == 1.0);
    for (std::size_t k = 0; k < 3; ++k) CHECK(e.confusion[k][k] == 1);
    CHECK(e.to_json()["criterion"] == criterion_name(c));
  }

  Evaluation e;
  overlap.add(X, labels, e);
  CHECK(e.accuracy() == Approx(1.0 / 3));  // the confusion follows the criterion too
  CHECK(e.confusion[0][2] == 1);
  CHECK(e.accuracy_nearest() == 1.0);
}

TEST_CASE("patterns of one norm: overlap and cosine give the same verdicts", "[classifier]") {
  Matrix<double> xs(6, 3);  // three disjoint blocks of two nodes
  xs << 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1;
  const PlantedPoints model(xs);
  const Matrix<double> X = Matrix<double>::Random(6, 200);
  CHECK(Classifier<double>(model, 0.05, Criterion::overlap).predict(X) ==
        Classifier<double>(model, 0.05, Criterion::cosine).predict(X));
}

TEST_CASE("criterion names", "[classifier]") {
  for (Criterion c : {Criterion::overlap, Criterion::cosine, Criterion::nearest})
    CHECK(criterion_named(criterion_name(c)) == c);
  CHECK_THROWS_AS(criterion_named("argmax"), InputError);
}

TEST_CASE("a NaN or infinite final state gets no class and is counted (never scored as class 0)",
          "[classifier]") {
  const PlantedPoints model(binary_codes());
  Matrix<double> X(4, 3);
  X << 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0;  // column 0 at A = (1, 1, 0, 0), class 0
  X(2, 1) = std::numeric_limits<double>::quiet_NaN();
  X(0, 2) = std::numeric_limits<double>::infinity();
  const std::vector<int> labels = {0, 0, 0};
  for (Criterion c : {Criterion::overlap, Criterion::cosine, Criterion::nearest}) {
    INFO(criterion_name(c));
    const Classifier<double> classifier(model, 0.05, c);
    CHECK(classifier.predict(X) == std::vector<int>{0, -1, -1});
    Evaluation e;
    classifier.add(X, labels, e);
    CHECK(e.items == 3);
    CHECK(e.right == 1);
    CHECK(e.right_nearest == 1);
    CHECK(e.census.non_finite == 2);
    CHECK(e.census.correct == 1);
    std::int64_t in_table = 0;
    for (const auto& row : e.confusion)
      for (auto n : row) in_table += n;
    CHECK(in_table == 1);
    CHECK(e.to_json()["non_finite"] == 2);
    Evaluation sum;
    sum.merge(e);
    sum.merge(e);
    CHECK(sum.census.non_finite == 4);
  }
}

TEST_CASE("strict accuracy: right only with every node on its own pattern's side", "[classifier]") {
  Matrix<double> xs(4, 2);  // A = (+, +, -, -), B = (-, -, +, +)
  xs << 1, -1, 1, -1, -1, 1, -1, 1;
  const PlantedPoints model(xs, {-1.0, 1.0});  // two levels, as SA-nODE's -a and +a
  Matrix<double> X(4, 4);
  // Column 0 on its way to A with every sign right; column 1 nearest A by overlap but with node
  // 2 across the midpoint; column 2 at B; column 3 not finite.
  X << 0.9, 0.9, -1, 1, 0.8, 0.8, -1, 1, -0.7, 0.1, 1, -1, -0.2, -0.9, 1, -1;
  X(3, 3) = std::numeric_limits<double>::quiet_NaN();
  const std::vector<int> labels = {0, 0, 1, 0};
  const Classifier<double> classifier(model, 0.05);
  Evaluation e;
  classifier.add(X, labels, e);
  CHECK(e.right == 3);
  REQUIRE(e.has_all_nodes());
  CHECK(e.right_all_nodes == 2);
  CHECK(e.accuracy_all_nodes() == Approx(0.5));
  CHECK(e.to_json()["accuracy_all_nodes"].get<double>() == Approx(0.5));
  Evaluation sum;  // an empty part first, as a rank with no items would send
  sum.merge(Evaluation{});
  sum.merge(e);
  sum.merge(e);
  CHECK(sum.right_all_nodes == 4);

  // Levels other than two (here: none declared): no strict figure, and null in the JSON.
  const PlantedPoints plain(xs);
  Evaluation p;
  Classifier<double>(plain, 0.05).add(X, labels, p);
  CHECK_FALSE(p.has_all_nodes());
  CHECK(p.to_json()["accuracy_all_nodes"].is_null());
}
