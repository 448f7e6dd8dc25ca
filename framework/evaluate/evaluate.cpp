#include "evaluate/evaluate.hpp"

#include <algorithm>
#include <numeric>

#include "common/progress.hpp"
#include "parallel/comm.hpp"

namespace dynsim {

nlohmann::json Convergence::to_json() const {
  return {{"tracked", tracked},
          {"arrived", arrived},
          {"share_arrived", tracked ? double(arrived) / double(tracked) : 0.0},
          {"mean_time", arrived ? nlohmann::json(mean_time()) : nlohmann::json()}};
}

namespace {

// A batch's results as doubles (counts are exact in a double far beyond any dataset), for the
// exchange between ranks: chunk, then each Evaluation, then the convergence counts.
void pack(const Evaluation& e, std::vector<double>& v) {
  v.insert(v.end(),
           {double(e.items), double(int(e.criterion)), double(e.right), double(e.right_nearest),
            double(e.right_all_nodes), double(e.census.correct), double(e.census.wrong_attractor),
            double(e.census.zero), double(e.census.alphabet_state), double(e.census.elsewhere),
            double(e.census.non_finite), e.loss_sum, double(e.confusion.size())});
  for (const auto& row : e.confusion)
    for (auto c : row) v.push_back(double(c));
}

void pack(std::size_t chunk, const EvalResult& r, std::vector<double>& v) {
  v.push_back(double(chunk));
  pack(r.at_T, v);
  pack(r.at_horizon, v);
  pack(r.majority, v);
  v.insert(v.end(),
           {double(r.convergence.tracked), double(r.convergence.arrived), r.convergence.time_sum});
}

std::size_t unpack(const std::vector<double>& v, std::size_t i, Evaluation& e) {
  auto n = [&] { return static_cast<std::int64_t>(v.at(i++)); };
  e.items = n();
  e.criterion = static_cast<Criterion>(n());
  e.right = n();
  e.right_nearest = n();
  e.right_all_nodes = n();
  e.census.correct = n();
  e.census.wrong_attractor = n();
  e.census.zero = n();
  e.census.alphabet_state = n();
  e.census.elsewhere = n();
  e.census.non_finite = n();
  e.loss_sum = v.at(i++);
  const auto k = static_cast<std::size_t>(n());
  e.confusion.assign(k, std::vector<std::int64_t>(k, 0));
  for (auto& row : e.confusion)
    for (auto& c : row) c = n();
  return i;
}

void unpack(const std::vector<double>& v, std::vector<std::pair<std::size_t, EvalResult>>& out) {
  for (std::size_t i = 0; i < v.size();) {
    auto& [chunk, r] = out.emplace_back(static_cast<std::size_t>(v.at(i++)), EvalResult{});
    i = unpack(v, i, r.at_T);
    i = unpack(v, i, r.at_horizon);
    i = unpack(v, i, r.majority);
    r.convergence.tracked = static_cast<std::int64_t>(v.at(i++));
    r.convergence.arrived = static_cast<std::int64_t>(v.at(i++));
    r.convergence.time_sum = v.at(i++);
  }
}

}  // namespace

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
  // Batches are evaluated one by one into their own results and added up in batch order: the
  // same sums whether one rank evaluates them all or several share them (round robin).
  const std::size_t bs = static_cast<std::size_t>(cfg.batch);
  const std::size_t chunks = (all.size() + bs - 1) / bs;
  const parallel::Comm& comm = parallel::current();
  std::vector<std::pair<std::size_t, EvalResult>> parts;
  for (std::size_t chunk = static_cast<std::size_t>(comm.rank()); chunk < chunks;
       chunk += static_cast<std::size_t>(comm.size())) {
    progress::poll();
    const std::size_t start = chunk * bs;
    const std::size_t end = std::min(all.size(), start + bs);
    EvalResult& r = parts.emplace_back(chunk, EvalResult{}).second;
    r.majority.criterion = cfg.criterion;
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
      for (Index j = 0; j < b; ++j)  // a non-finite draw (-1) has no vote
        if (predicted[static_cast<std::size_t>(j)] >= 0)
          ++votes[static_cast<std::size_t>(j) * classes +
                  static_cast<std::size_t>(predicted[static_cast<std::size_t>(j)])];
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
      const auto top = std::max_element(first, first + std::ptrdiff_t(classes));
      ++r.majority.items;
      if (*top == 0) {  // every draw non-finite: no class, not scored as class 0
        ++r.majority.census.non_finite;
        continue;
      }
      if (static_cast<int>(top - first) == labels[static_cast<std::size_t>(j)]) ++r.majority.right;
    }
  }
  if (comm.distributed()) {
    std::vector<double> packed;
    for (const auto& [chunk, part] : parts) pack(chunk, part, packed);
    parts.clear();
    for (const auto& blob : comm.allgather(parallel::as_bytes_of(packed)))
      unpack(parallel::from_bytes<double>(blob), parts);
    std::sort(parts.begin(), parts.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
  }
  EvalResult r;
  r.majority.criterion = cfg.criterion;
  for (const auto& [chunk, part] : parts) {
    r.at_T.merge(part.at_T);
    r.at_horizon.merge(part.at_horizon);
    r.majority.merge(part.majority);
    r.convergence.tracked += part.convergence.tracked;
    r.convergence.arrived += part.convergence.arrived;
    r.convergence.time_sum += part.convergence.time_sum;
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
