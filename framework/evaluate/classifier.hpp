// Turning final states into verdicts: accuracy by a criterion (by default the largest overlap of
// readouts with the planted patterns, the paper's) and by the nearest planted state, the
// confusion matrix, and a census of where the items ended.
#pragma once

#include <dynsim/sdk/model.hpp>
#include <nlohmann/json.hpp>
#include <span>

namespace dynsim {

// How a final state is assigned a class. The overlap <f(x), f(x_k)> is the paper's rule and is
// sound only for planted patterns of one norm with none contained in another: with nested
// patterns (binary codes) an item at x_j overlaps a superset pattern as much as its own. Cosine
// (the overlap over |f(x_k)|) and the nearest planted state have no such tie.
enum class Criterion { overlap, cosine, nearest };
Criterion criterion_named(const std::string& name);  // "overlap" | "cosine" | "nearest"
const char* criterion_name(Criterion c);

struct Census {
  std::int64_t correct = 0;          // within tolerance of its own class's attractor
  std::int64_t wrong_attractor = 0;  // within tolerance of another planted attractor
  std::int64_t zero = 0;             // at the origin (a stable spurious fixed point of CVFR)
  std::int64_t alphabet_state = 0;   // every node at an alphabet value: a union of patterns, say
  std::int64_t elsewhere = 0;        // none of the above: mid-transient or another attractor
  std::int64_t non_finite = 0;       // a NaN or infinite entry: no class, counted as wrong
};

struct Evaluation {
  std::int64_t items = 0;
  Criterion criterion = Criterion::overlap;
  std::int64_t right = 0, right_nearest = 0;  // by the criterion; by the nearest state
  // Items whose every node ends on its own class's side of the midpoint between the model's two
  // state levels: for SA-nODE's -a and +a, the signs agree on all N nodes, the strict rule of
  // its public code. -1 where the model does not have exactly two levels.
  std::int64_t right_all_nodes = -1;
  std::vector<std::vector<std::int64_t>> confusion;  // [true][predicted], by the criterion
  Census census;
  double loss_sum = 0;

  double accuracy() const { return items ? double(right) / double(items) : 0; }
  // Adds another part's counts (another batch, another rank's items) into this one.
  void merge(const Evaluation& o);
  double accuracy_nearest() const { return items ? double(right_nearest) / double(items) : 0; }
  bool has_all_nodes() const { return right_all_nodes >= 0; }
  double accuracy_all_nodes() const {
    return items && has_all_nodes() ? double(right_all_nodes) / double(items) : 0;
  }
  nlohmann::json to_json() const;
};

template <class S>
class Classifier {
 public:
  // tolerance: relative L2 distance ||x - x_k|| / ||x_k|| under which x "is at" attractor k.
  Classifier(const Model<S>& model, double tolerance, Criterion criterion = Criterion::overlap);
  // Counts the batch into e and returns each column's predicted class (by the criterion). A
  // column with a NaN or infinite entry gets no class (-1): it counts as an item, is never
  // right, stays out of the confusion table and is counted in census.non_finite.
  std::vector<int> add(ConstMatrixRef<S> XT, std::span<const int> labels, Evaluation& e) const;
  // Predicted class by the criterion for each column; -1 for a non-finite column.
  std::vector<int> predict(ConstMatrixRef<S> XT) const;
  // The planted attractor x is within tolerance of (relative L2 distance), or -1.
  int at_attractor(ConstVectorRef<S> x) const;

 private:
  const Model<S>& model_;
  double tol_;
  Criterion criterion_;
  Matrix<S> xs_, psi_;  // planted states and their readouts (unit columns for cosine)
  std::vector<S> alphabet_;
  double mean_norm_ = 0, alphabet_scale_ = 0;
  // With exactly two state levels: their midpoint, and which side of it each planted node is on.
  bool two_levels_ = false;
  S midpoint_ = 0;
  Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic> above_;

  std::vector<int> predict_finite(ConstMatrixRef<S> XT) const;
  // Nearest planted state and its distance relative to that state's size.
  Index nearest(ConstVectorRef<S> x, double& relative) const;
};

extern template class Classifier<float>;
extern template class Classifier<double>;

}  // namespace dynsim
