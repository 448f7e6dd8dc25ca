// Turning final states into verdicts: accuracy by the largest overlap of readouts with the
// planted patterns (the paper's criterion) and by the nearest planted state, the confusion
// matrix, and a census of where the items ended.
#pragma once

#include <dynsim/sdk/model.hpp>
#include <nlohmann/json.hpp>
#include <span>

namespace dynsim {

struct Census {
  std::int64_t correct = 0;          // within tolerance of its own class's attractor
  std::int64_t wrong_attractor = 0;  // within tolerance of another planted attractor
  std::int64_t zero = 0;             // at the origin (a stable spurious fixed point of CVFR)
  std::int64_t alphabet_state = 0;   // every node at an alphabet value: a union of patterns, say
  std::int64_t elsewhere = 0;        // none of the above: mid-transient or another attractor
};

struct Evaluation {
  std::int64_t items = 0;
  std::int64_t right_overlap = 0, right_nearest = 0;
  std::vector<std::vector<std::int64_t>> confusion;  // [true][predicted], overlap criterion
  Census census;
  double loss_sum = 0;

  double accuracy() const { return items ? double(right_overlap) / double(items) : 0; }
  double accuracy_nearest() const { return items ? double(right_nearest) / double(items) : 0; }
  nlohmann::json to_json() const;
};

template <class S>
class Classifier {
 public:
  // tolerance: relative L2 distance ||x - x_k|| / ||x_k|| under which x "is at" attractor k.
  Classifier(const Model<S>& model, double tolerance);
  // Counts the batch into e and returns each column's predicted class (by overlap).
  std::vector<int> add(ConstMatrixRef<S> XT, std::span<const int> labels, Evaluation& e) const;
  // Predicted class by overlap for each column.
  std::vector<int> predict(ConstMatrixRef<S> XT) const;
  // The planted attractor x is within tolerance of (relative L2 distance), or -1.
  int at_attractor(ConstVectorRef<S> x) const;

 private:
  const Model<S>& model_;
  double tol_;
  Matrix<S> xs_, psi_;  // planted states and their readouts
  std::vector<S> alphabet_;
  double mean_norm_ = 0, alphabet_scale_ = 0;

  // Nearest planted state and its distance relative to that state's size.
  Index nearest(ConstVectorRef<S> x, double& relative) const;
};

extern template class Classifier<float>;
extern template class Classifier<double>;

}  // namespace dynsim
