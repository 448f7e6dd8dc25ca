// Evaluating a model on items: integrate with the training scheme to T (and on to horizon x T,
// to show that items sit in a basin rather than pass through mid-transient), then classify.
#pragma once

#include <dynsim/sdk/dataset.hpp>
#include <dynsim/sdk/loss.hpp>
#include <functional>

#include "evaluate/classifier.hpp"
#include "integrate/fixed_step.hpp"

namespace dynsim {

struct EvalConfig {
  double tolerance = 0.05;  // relative L2 distance to count as "at" an attractor
  Criterion criterion = Criterion::overlap;
  std::int64_t horizon = 10;  // also classify at horizon * T (1: only at T)
  Index batch = 1000;
  std::int64_t draws = 1;  // noise realisations per item (draw d uses NoiseKey::draw = d)
};

// When items first come within tolerance of a planted attractor (any of them), over every
// (item, draw), integrating to horizon x T.
struct Convergence {
  std::int64_t tracked = 0, arrived = 0;
  double time_sum = 0;  // over the arrived ones
  double mean_time() const { return arrived ? time_sum / double(arrived) : 0.0; }
  nlohmann::json to_json() const;
};

struct EvalResult {
  // at_T and at_horizon count every (item, draw); majority counts each item once, by the class
  // most of its draws chose (ties to the lowest class index).
  Evaluation at_T, at_horizon, majority;
  Convergence convergence;
};

// Corrupts a batch of inputs in place (an attack), keyed by the items' ids.
template <class S>
using Corruption = std::function<void(MatrixRef<S>, std::span<const std::uint64_t>)>;

// Evaluates items.x columns listed in `subset` (all when empty), inputs corrupted first when
// `corrupt` is set. The loss (if given) is the mean loss at T.
template <class S>
EvalResult evaluate_items(FixedStepScheme<S>& scheme, std::int64_t steps, Model<S>& model,
                          Loss<S>* loss, const Items<S>& items, const std::vector<Index>& subset,
                          const EvalConfig& cfg, NoiseKey key, const Corruption<S>& corrupt = {});

}  // namespace dynsim
