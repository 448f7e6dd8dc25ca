#include "evaluate/classifier.hpp"

#include <algorithm>
#include <cmath>

#include "common/errors.hpp"

namespace dynsim {

Criterion criterion_named(const std::string& name) {
  for (Criterion c : {Criterion::overlap, Criterion::cosine, Criterion::nearest})
    if (name == criterion_name(c)) return c;
  throw InputError("unknown classification criterion '" + name +
                   "' (known: overlap, cosine, nearest)");
}

const char* criterion_name(Criterion c) {
  switch (c) {
    case Criterion::overlap:
      return "overlap";
    case Criterion::cosine:
      return "cosine";
    case Criterion::nearest:
      return "nearest";
  }
  return "?";
}

void Evaluation::merge(const Evaluation& o) {
  if (o.items > 0) criterion = o.criterion;
  items += o.items;
  right += o.right;
  right_nearest += o.right_nearest;
  if (o.has_all_nodes())
    right_all_nodes = std::max<std::int64_t>(right_all_nodes, 0) + o.right_all_nodes;
  if (confusion.empty()) {
    confusion = o.confusion;
  } else {
    for (std::size_t i = 0; i < o.confusion.size(); ++i)
      for (std::size_t j = 0; j < o.confusion[i].size(); ++j) confusion[i][j] += o.confusion[i][j];
  }
  census.correct += o.census.correct;
  census.wrong_attractor += o.census.wrong_attractor;
  census.zero += o.census.zero;
  census.alphabet_state += o.census.alphabet_state;
  census.elsewhere += o.census.elsewhere;
  census.non_finite += o.census.non_finite;
  loss_sum += o.loss_sum;
}

nlohmann::json Evaluation::to_json() const {
  return {{"items", items},
          {"criterion", criterion_name(criterion)},
          {"accuracy", accuracy()},
          {"accuracy_nearest", accuracy_nearest()},
          {"accuracy_all_nodes",
           has_all_nodes() ? nlohmann::json(accuracy_all_nodes()) : nlohmann::json()},
          {"loss", items ? loss_sum / double(items) : 0.0},
          {"confusion", confusion},
          {"census",
           {{"correct_attractor", census.correct},
            {"wrong_attractor", census.wrong_attractor},
            {"zero", census.zero},
            {"alphabet_state", census.alphabet_state},
            {"elsewhere", census.elsewhere},
            {"non_finite", census.non_finite}}},
          {"non_finite", census.non_finite},
          {"share_at_an_attractor",
           items ? double(census.correct + census.wrong_attractor) / double(items) : 0.0},
          {"share_correct_among_those",
           census.correct + census.wrong_attractor
               ? double(census.correct) / double(census.correct + census.wrong_attractor)
               : 0.0}};
}

template <class S>
Classifier<S>::Classifier(const Model<S>& model, double tolerance, Criterion criterion)
    : model_(model),
      tol_(tolerance),
      criterion_(criterion),
      xs_(model.attractors()),
      alphabet_(model.state_alphabet()) {
  if (xs_.cols() == 0) throw InputError("the model plants no attractors: nothing to classify by");
  psi_.resize(model.readout_dim(), xs_.cols());
  model.readout(xs_, psi_);
  if (criterion_ == Criterion::cosine)
    for (Index k = 0; k < psi_.cols(); ++k) psi_.col(k) /= std::max(psi_.col(k).norm(), S(1e-30));
  mean_norm_ = static_cast<double>(xs_.colwise().norm().mean());
  for (S a : alphabet_) alphabet_scale_ = std::max(alphabet_scale_, std::abs(double(a)));
  two_levels_ = alphabet_.size() == 2 && alphabet_[0] != alphabet_[1];
  if (two_levels_) {
    midpoint_ = (alphabet_[0] + alphabet_[1]) / S(2);
    above_ = (xs_.array() > midpoint_).matrix();
  }
}

template <class S>
std::vector<int> Classifier<S>::predict(ConstMatrixRef<S> XT) const {
  std::vector<int> out = predict_finite(XT);
  for (Index j = 0; j < XT.cols(); ++j)
    if (!XT.col(j).allFinite()) out[static_cast<std::size_t>(j)] = -1;
  return out;
}

template <class S>
std::vector<int> Classifier<S>::predict_finite(ConstMatrixRef<S> XT) const {
  if (criterion_ == Criterion::nearest) {
    std::vector<int> out(static_cast<std::size_t>(XT.cols()));
    double rel = 0;
    for (Index j = 0; j < XT.cols(); ++j)
      out[static_cast<std::size_t>(j)] = static_cast<int>(nearest(XT.col(j), rel));
    return out;
  }
  // Cosine: psi_ has unit columns; dividing by |f(x)|, common to every k, would not move the
  // argmax.
  Matrix<S> Y(model_.readout_dim(), XT.cols());
  model_.readout(XT, Y);
  const Matrix<S> overlap = psi_.transpose() * Y;  // K x B
  std::vector<int> out(static_cast<std::size_t>(XT.cols()));
  for (Index j = 0; j < XT.cols(); ++j) {
    Index k;
    overlap.col(j).maxCoeff(&k);
    out[static_cast<std::size_t>(j)] = static_cast<int>(k);
  }
  return out;
}

template <class S>
Index Classifier<S>::nearest(ConstVectorRef<S> x, double& relative) const {
  Index out = 0;
  double best = INFINITY;
  relative = INFINITY;
  for (Index k = 0; k < xs_.cols(); ++k) {
    const double d = static_cast<double>((x - xs_.col(k)).norm());
    if (d < best) {
      best = d;
      out = k;
      relative = d / std::max(1e-30, static_cast<double>(xs_.col(k).norm()));
    }
  }
  return out;
}

template <class S>
int Classifier<S>::at_attractor(ConstVectorRef<S> x) const {
  double rel = INFINITY;
  const Index k = nearest(x, rel);
  return rel < tol_ ? static_cast<int>(k) : -1;
}

template <class S>
std::vector<int> Classifier<S>::add(ConstMatrixRef<S> XT, std::span<const int> labels,
                                    Evaluation& e) const {
  const Index K = xs_.cols();
  if (e.confusion.empty())
    e.confusion.assign(static_cast<std::size_t>(K),
                       std::vector<std::int64_t>(static_cast<std::size_t>(K), 0));
  e.criterion = criterion_;
  if (two_levels_ && !e.has_all_nodes()) e.right_all_nodes = 0;
  const std::vector<int> pred = predict(XT);
  for (Index j = 0; j < XT.cols(); ++j) {
    const int y = labels[static_cast<std::size_t>(j)];
    const int p = pred[static_cast<std::size_t>(j)];
    ++e.items;
    if (p < 0) {  // no class for a NaN or infinite state
      ++e.census.non_finite;
      continue;
    }
    e.right += p == y;
    if (two_levels_)
      e.right_all_nodes += ((XT.col(j).array() > midpoint_) == above_.col(y).array()).all() ? 1 : 0;
    ++e.confusion[static_cast<std::size_t>(y)][static_cast<std::size_t>(p)];
    double best_rel = INFINITY;
    const Index nearest = this->nearest(XT.col(j), best_rel);
    e.right_nearest += nearest == y;
    if (best_rel < tol_) {
      (nearest == y ? e.census.correct : e.census.wrong_attractor)++;
    } else if (static_cast<double>(XT.col(j).norm()) < tol_ * mean_norm_) {
      ++e.census.zero;
    } else {
      bool all_letters = !alphabet_.empty();
      for (Index i = 0; i < XT.rows() && all_letters; ++i) {
        double gap = INFINITY;
        for (S a : alphabet_) gap = std::min(gap, std::abs(double(XT(i, j) - a)));
        all_letters = gap < tol_ * alphabet_scale_;
      }
      (all_letters ? e.census.alphabet_state : e.census.elsewhere)++;
    }
  }
  return pred;
}

template class Classifier<float>;
template class Classifier<double>;

}  // namespace dynsim
