#include "evaluate/evaluate.hpp"

#include <algorithm>
#include <numeric>

namespace dynsim {

nlohmann::json Convergence::to_json() const {
  return {{"tracked", tracked},
          {"arrived", arrived},
          {"share_arrived", tracked ? double(arrived) / double(tracked) : 0.0},
          {"mean_time", arrived ? nlohmann::json(mean_time()) : nlohmann::json()}};
}

template <class S>
EvalResult evaluate_items(FixedStepScheme<S>& scheme, std::int64_t steps, Model<S>& model,
                          Loss<S>* loss, const Items<S>& items, const std::vector<Index>& subset,
                          const EvalConfig& cfg, NoiseKey key, const Corruption<S>& corrupt) {
  std::vector<Index> all = subset;
  if (all.empty()) {
    all.resize(static_cast<std::size_t>(items.x.cols()));
    std::iota(all.begin(), all.end(), Index{0});
  }
  const Classifier<S> classifier(model, cfg.tolerance, cfg.criterion);
  const std::size_t classes = static_cast<std::size_t>(model.attractors().cols());
  EvalResult r;
  r.majority.criterion = cfg.criterion;  // the votes are cast by the classifier's criterion
  Matrix<S> in, X, dX;
  std::vector<int> labels;
  std::vector<std::uint64_t> ids;
  std::vector<std::int64_t> votes;    // item x class, for the majority vote over draws
  std::vector<std::int64_t> arrival;  // per column: first step at an attractor, or -1
  std::vector<Matrix<S>> scratch;     // parameter contributions of item_loss, not used here
  if (loss)
    for (const auto& [rows, cols] : model.accumulator_shapes())
      scratch.push_back(Matrix<S>::Zero(rows, cols));
  // Steps one at a time (the same bits as one run: draws are keyed by step) and notes the first
  // step at which each column is within tolerance of a planted attractor; that check costs
  // K x N per column and step, next to the N x N of the step itself.
  auto advance = [&](MatrixRef<S> Xs, std::int64_t first, std::int64_t last,
                     std::span<const std::uint64_t> item_ids, NoiseKey k) {
    for (std::int64_t s = first; s < last; ++s) {
      scheme.run(Xs, s, s + 1, item_ids, k);
      for (Index j = 0; j < Xs.cols(); ++j)
        if (arrival[static_cast<std::size_t>(j)] < 0 && classifier.at_attractor(Xs.col(j)) >= 0)
          arrival[static_cast<std::size_t>(j)] = s + 1;
    }
  };
  for (std::size_t start = 0; start < all.size(); start += static_cast<std::size_t>(cfg.batch)) {
    const std::size_t end = std::min(all.size(), start + static_cast<std::size_t>(cfg.batch));
    const Index b = static_cast<Index>(end - start);
    in.resize(items.x.rows(), b);
    labels.clear();
    ids.clear();
    for (std::size_t j = start; j < end; ++j) {
      const Index c = all[j];
      in.col(static_cast<Index>(j - start)) = items.x.col(c);
      labels.push_back(items.labels[static_cast<std::size_t>(c)]);
      ids.push_back(items.ids[static_cast<std::size_t>(c)]);
    }
    if (corrupt) corrupt(in, ids);
    votes.assign(static_cast<std::size_t>(b) * classes, 0);
    for (std::int64_t d = 0; d < cfg.draws; ++d) {
      NoiseKey k = key;
      k.draw = static_cast<std::uint32_t>(d);
      X.resize(model.dim(), b);
      model.encode(in, X);
      arrival.assign(static_cast<std::size_t>(b), -1);
      advance(X, 0, steps, ids, k);
      if (loss) {
        dX.resize(X.rows(), b);
        double l = static_cast<double>(loss->value_and_grad(model, X, labels, dX));
        l += static_cast<double>(model.item_loss(in, X, dX, scratch));
        r.at_T.loss_sum += l * double(b);
      }
      const std::vector<int> predicted = classifier.add(X, labels, r.at_T);
      for (Index j = 0; j < b; ++j)
        ++votes[static_cast<std::size_t>(j) * classes + static_cast<std::size_t>(predicted[j])];
      if (cfg.horizon > 1) {
        advance(X, steps, cfg.horizon * steps, ids, k);
        classifier.add(X, labels, r.at_horizon);
      }
      for (const std::int64_t a : arrival) {
        ++r.convergence.tracked;
        if (a >= 0) {
          ++r.convergence.arrived;
          r.convergence.time_sum += static_cast<double>(a) * scheme.dt();
        }
      }
    }
    for (Index j = 0; j < b; ++j) {
      const auto first = votes.begin() + static_cast<std::ptrdiff_t>(j) * std::ptrdiff_t(classes);
      const int choice =
          static_cast<int>(std::max_element(first, first + std::ptrdiff_t(classes)) - first);
      ++r.majority.items;
      if (choice == labels[static_cast<std::size_t>(j)]) ++r.majority.right;
    }
  }
  return r;
}

template EvalResult evaluate_items<float>(FixedStepScheme<float>&, std::int64_t, Model<float>&,
                                          Loss<float>*, const Items<float>&,
                                          const std::vector<Index>&, const EvalConfig&, NoiseKey,
                                          const Corruption<float>&);
template EvalResult evaluate_items<double>(FixedStepScheme<double>&, std::int64_t, Model<double>&,
                                           Loss<double>*, const Items<double>&,
                                           const std::vector<Index>&, const EvalConfig&, NoiseKey,
                                           const Corruption<double>&);

}  // namespace dynsim
