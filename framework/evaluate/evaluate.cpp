#include "evaluate/evaluate.hpp"

#include <algorithm>
#include <numeric>

namespace dynsim {

template <class S>
EvalResult evaluate_items(FixedStepScheme<S>& scheme, std::int64_t steps, Model<S>& model,
                          Loss<S>* loss, const Items<S>& items, const std::vector<Index>& subset,
                          const EvalConfig& cfg, NoiseKey key, const Corruption<S>& corrupt) {
  std::vector<Index> all = subset;
  if (all.empty()) {
    all.resize(static_cast<std::size_t>(items.x.cols()));
    std::iota(all.begin(), all.end(), Index{0});
  }
  const Classifier<S> classifier(model, cfg.tolerance);
  const std::size_t classes = static_cast<std::size_t>(model.attractors().cols());
  EvalResult r;
  Matrix<S> in, X, dX;
  std::vector<int> labels;
  std::vector<std::uint64_t> ids;
  std::vector<std::int64_t> votes;  // item x class, for the majority vote over draws
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
      scheme.run(X, 0, steps, ids, k);
      if (loss) {
        dX.resize(X.rows(), b);
        r.at_T.loss_sum +=
            static_cast<double>(loss->value_and_grad(model, X, labels, dX)) * double(b);
      }
      const std::vector<int> predicted = classifier.add(X, labels, r.at_T);
      for (Index j = 0; j < b; ++j)
        ++votes[static_cast<std::size_t>(j) * classes + static_cast<std::size_t>(predicted[j])];
      if (cfg.horizon > 1) {
        scheme.run(X, steps, cfg.horizon * steps, ids, k);
        classifier.add(X, labels, r.at_horizon);
      }
    }
    for (Index j = 0; j < b; ++j) {
      const auto first = votes.begin() + static_cast<std::ptrdiff_t>(j) * std::ptrdiff_t(classes);
      const int choice =
          static_cast<int>(std::max_element(first, first + std::ptrdiff_t(classes)) - first);
      ++r.majority.items;
      if (choice == labels[static_cast<std::size_t>(j)]) ++r.majority.right_overlap;
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
