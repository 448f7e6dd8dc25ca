// The adjoint trainer: minibatches through the fixed-step scheme, exact gradients by the
// discrete adjoint, one optimizer step per batch, validation every epoch, best-model keeping,
// early stopping, gradient-norm clipping, a stop on NaN or divergence (or a bounded run of
// skipped steps on a NaN or infinite gradient), and checkpoints that resume to the same bits as
// an uninterrupted run.
#pragma once

#include <spdlog/logger.h>
#include <dynsim/sdk/dataset.hpp>
#include <dynsim/sdk/loss.hpp>
#include <functional>
#include <nlohmann/json.hpp>

#include "evaluate/classifier.hpp"
#include "parallel/shard_tree.hpp"
#include "train/adjoint.hpp"
#include "train/optimizer.hpp"

namespace dynsim {

struct TrainConfig {
  std::int64_t epochs = 20;
  std::int64_t batch_size = 50;
  OptimizerConfig optimizer;
  double clip_norm = 0;               // 0: no clipping (global norm over all parameters)
  std::string schedule = "constant";  // constant | cosine (lr -> lr * lr_final over the epochs)
  double lr_final = 0.01;
  std::int64_t warmup_steps = 0;      // linear ramp of the rate over the first optimizer steps
  std::int64_t patience = 0;          // 0: no early stopping
  std::int64_t stop_after = 0;        // pause after this epoch (0: never); --resume continues
  std::int64_t checkpoint_every = 0;  // adjoint memory: 0 = automatic
  std::int64_t shards = 0;            // column blocks of a batch summed in a fixed tree; 0: ranks
  double divergence_loss = 1e6;       // a batch loss above this (or NaN) stops training
  // A batch whose loss or gradient is NaN or infinite skips its optimizer step (parameters and
  // optimizer state untouched, as mixed-precision loss scaling does) up to this many times in a
  // row; one more in a row stops training as diverged. 0: the first one stops it.
  std::int64_t skip_nonfinite = 0;
  // With skip_nonfinite: also undo the optimizer step before the first non-finite batch of a
  // run of them (the update that led there), as restarting before a loss spike does. Within an
  // epoch only, so a resumed run stays bit-identical.
  bool rollback_nonfinite = false;
  // Translate each training image by up to this many pixels per direction, drawn afresh every
  // epoch (train/augment.hpp); image_rows x image_cols is the dataset's image shape.
  int shift_pixels = 0;
  int image_rows = 0, image_cols = 0;
  double log_every_seconds = 10;
  std::int64_t eval_batch = 1000;
  Criterion eval_criterion = Criterion::overlap;  // validation classifies as evaluation does
};

struct EpochRecord {
  std::int64_t epoch = 0;  // 1-based
  double train_loss = 0, val_loss = 0, val_accuracy = 0, grad_norm = 0, seconds = 0;
  std::int64_t skipped = 0;  // batches whose step was skipped (train.skip_nonfinite)
  std::int64_t undone = 0;   // steps undone before a skipped batch (train.rollback_nonfinite)
  nlohmann::json to_json() const;
  static EpochRecord from_json(const nlohmann::json& j);
};

struct TrainState {
  std::int64_t epochs_done = 0;
  std::vector<EpochRecord> history;
  std::int64_t best_epoch = 0;
  double best_val_accuracy = -1, best_val_loss = INFINITY;
  std::int64_t bad_epochs = 0;        // epochs since the best, for early stopping
  std::int64_t skipped_in_a_row = 0;  // the latest batches' skipped steps, across epochs
  std::string stop_reason;            // empty while training goes on
  nlohmann::json to_json() const;
  static TrainState from_json(const nlohmann::json& j);
};

template <class S>
class Trainer {
 public:
  struct Hooks {
    std::function<void(const TrainState&)> on_best;       // save the best model
    std::function<void(const TrainState&)> on_epoch_end;  // write a checkpoint
    std::function<void()> restore_best;                   // after divergence
  };

  Trainer(TrainConfig cfg, Model<S>& model, Loss<S>& loss, FixedStepScheme<S>& scheme,
          std::int64_t steps, std::uint64_t seed, spdlog::logger& log);

  Optimizer<S>& optimizer() { return *optimizer_; }
  // Shards per batch: train.shards, or one per rank of the current communicator.
  int shards() const;

  // Trains from `state` (fresh or restored from a checkpoint) on items[train_idx], validating
  // on items[val_idx]. Returns the final state (stop_reason says why it ended).
  TrainState train(const Items<S>& items, const std::vector<Index>& train_idx,
                   const std::vector<Index>& val_idx, TrainState state, const Hooks& hooks);

  // One optimizer step on a batch: loss and exact gradient, global-norm clipping, the update and
  // the model's parameters_changed(). With a NaN, infinite or too large loss or gradient the
  // parameters and the optimizer state are left as they were and `ok` is false. The training loop
  // and the benchmark both time exactly this.
  struct StepResult {
    double loss = 0, grad_norm = 0;
    bool ok = true;
    bool finite = true;  // the loss and gradient norm are numbers (not NaN or infinite)
  };
  StepResult train_step(const Matrix<S>& inputs, std::span<const int> labels,
                        std::span<const std::uint64_t> ids, NoiseKey key);

  // Loss and exact gradient on one batch (exposed for finite-difference tests). With one shard
  // on one rank the batch is one block; otherwise each shard's share is computed where it lives
  // and the shards are summed in a fixed tree (parallel/shard_tree.hpp), the same bits for any
  // rank count.
  double batch_gradient(const Matrix<S>& inputs, std::span<const int> labels,
                        std::span<const std::uint64_t> ids, NoiseKey key,
                        std::vector<Matrix<S>>& grads);

 private:
  TrainConfig cfg_;
  Model<S>& model_;
  Loss<S>& loss_;
  FixedStepScheme<S>& scheme_;
  std::int64_t steps_;
  std::uint64_t seed_;
  spdlog::logger& log_;
  std::unique_ptr<Optimizer<S>> optimizer_;
  std::unique_ptr<Adjoint<S>> adjoint_;
  std::unique_ptr<parallel::ShardTree<S>> tree_;
  // The parameters and optimizer state before the latest step (rollback_nonfinite).
  std::vector<Matrix<S>> before_params_;
  NamedArrays<S> before_opt_;
  bool can_roll_back_ = false;
  void roll_back();
  Matrix<S> X_, a_;
  std::vector<Matrix<S>> acc_, grads_;

  // Loss of one block of a batch, weighted by its share `weight` of the batch's items, and its
  // accumulators (overwritten) for the same weighted loss.
  double block_gradient(ConstMatrixRef<S> inputs, std::span<const int> labels,
                        std::span<const std::uint64_t> ids, NoiseKey key,
                        std::vector<Matrix<S>>& acc, double weight);
};

// The learning rate of a (1-based) epoch under the configured schedule.
double scheduled_lr(const TrainConfig& c, std::int64_t epoch);

// The epoch's order of the training items: sorted by a counter-based draw keyed by (seed,
// epoch, item id), so it depends on nothing else.
std::vector<Index> epoch_order(const std::vector<Index>& idx, const std::vector<std::uint64_t>& ids,
                               std::uint64_t seed, std::int64_t epoch);

// The validation hold-out: `fraction` of the items 0..n-1, drawn by the seed (as epoch 0's
// order) or, with `last`, the last ones in the file as Keras' validation_split takes them.
// Both lists come back sorted.
struct HoldOut {
  std::vector<Index> train, validation;
};
HoldOut hold_out(const std::vector<std::uint64_t>& ids, std::uint64_t seed, double fraction,
                 bool last);

extern template class Trainer<float>;
extern template class Trainer<double>;

}  // namespace dynsim
