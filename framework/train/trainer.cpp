#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "common/errors.hpp"
#include "common/progress.hpp"
#include "evaluate/evaluate.hpp"
#include "parallel/comm.hpp"
#include "train/augment.hpp"

namespace dynsim {

namespace {

// JSON has no NaN or infinity (nlohmann writes null, which reads back as an error): such values
// are written as the strings "nan", "inf" and "-inf", so a checkpoint holds exactly the state.
nlohmann::json real_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

double real_of(const nlohmann::json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s == "nan") return NAN;
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
  }
  return j.get<double>();  // a type error for anything else
}

}  // namespace

nlohmann::json EpochRecord::to_json() const {
  return {{"epoch", epoch},
          {"train_loss", real_json(train_loss)},
          {"val_loss", real_json(val_loss)},
          {"val_accuracy", real_json(val_accuracy)},
          {"grad_norm", real_json(grad_norm)},
          {"seconds", real_json(seconds)},
          {"skipped", skipped},
          {"undone", undone}};
}

EpochRecord EpochRecord::from_json(const nlohmann::json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch");
  r.train_loss = real_of(j.at("train_loss"));
  r.val_loss = real_of(j.at("val_loss"));
  r.val_accuracy = real_of(j.at("val_accuracy"));
  r.grad_norm = real_of(j.at("grad_norm"));
  r.seconds = real_of(j.at("seconds"));
  r.skipped = j.value("skipped", std::int64_t{0});  // absent in checkpoints before they existed
  r.undone = j.value("undone", std::int64_t{0});
  return r;
}

nlohmann::json TrainState::to_json() const {
  nlohmann::json h = nlohmann::json::array();
  for (const auto& e : history) h.push_back(e.to_json());
  return {{"epochs_done", epochs_done},
          {"history", h},
          {"best_epoch", best_epoch},
          {"best_val_accuracy", real_json(best_val_accuracy)},
          {"best_val_loss", real_json(best_val_loss)},
          {"bad_epochs", bad_epochs},
          {"skipped_in_a_row", skipped_in_a_row},
          {"stop_reason", stop_reason}};
}

TrainState TrainState::from_json(const nlohmann::json& j) {
  TrainState s;
  s.epochs_done = j.at("epochs_done");
  for (const auto& e : j.at("history")) s.history.push_back(EpochRecord::from_json(e));
  s.best_epoch = j.at("best_epoch");
  s.best_val_accuracy = real_of(j.at("best_val_accuracy"));
  s.best_val_loss = real_of(j.at("best_val_loss"));
  s.bad_epochs = j.at("bad_epochs");
  s.skipped_in_a_row = j.value("skipped_in_a_row", std::int64_t{0});
  s.stop_reason = j.at("stop_reason");
  return s;
}

std::vector<Index> epoch_order(const std::vector<Index>& idx, const std::vector<std::uint64_t>& ids,
                               std::uint64_t seed, std::int64_t epoch) {
  const Random rng(seed, Stream::shuffle);
  std::vector<std::pair<double, Index>> keyed;
  keyed.reserve(idx.size());
  for (Index i : idx)
    keyed.emplace_back(
        rng.uniform(
            Counter{static_cast<std::uint32_t>(epoch), 0, ids[static_cast<std::size_t>(i)], 0}, 0),
        i);
  std::sort(keyed.begin(), keyed.end());
  std::vector<Index> out;
  for (const auto& [u, i] : keyed) out.push_back(i);
  return out;
}

HoldOut hold_out(const std::vector<std::uint64_t>& ids, std::uint64_t seed, double fraction,
                 bool last) {
  std::vector<Index> order(ids.size());
  std::iota(order.begin(), order.end(), Index{0});
  if (last)
    std::reverse(order.begin(), order.end());
  else
    order = epoch_order(order, ids, seed, 0);
  const auto n_val = std::min(
      order.size(),
      static_cast<std::size_t>(std::llround(fraction * static_cast<double>(order.size()))));
  HoldOut h{{order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end()},
            {order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val)}};
  std::sort(h.train.begin(), h.train.end());
  std::sort(h.validation.begin(), h.validation.end());
  return h;
}

double scheduled_lr(const TrainConfig& c, std::int64_t epoch) {
  if (c.schedule != "cosine" || c.epochs <= 1) return c.optimizer.lr;
  const double progress = double(epoch - 1) / double(c.epochs - 1);
  const double lo = c.optimizer.lr * c.lr_final;
  return lo + 0.5 * (c.optimizer.lr - lo) * (1 + std::cos(3.141592653589793 * progress));
}

template <class S>
Trainer<S>::Trainer(TrainConfig cfg, Model<S>& model, Loss<S>& loss, FixedStepScheme<S>& scheme,
                    std::int64_t steps, std::uint64_t seed, spdlog::logger& log)
    : cfg_(cfg),
      model_(model),
      loss_(loss),
      scheme_(scheme),
      steps_(steps),
      seed_(seed),
      log_(log),
      optimizer_(make_optimizer<S>(cfg.optimizer)) {
  if (model.parameters().empty())
    throw InputError("the model has no trainable parameters; nothing to train");
  const std::int64_t every =
      cfg.checkpoint_every > 0
          ? cfg.checkpoint_every
          : auto_checkpoint_every(steps, model.dim(), cfg.batch_size, sizeof(S));
  adjoint_ = std::make_unique<Adjoint<S>>(scheme, steps, every);
  for (const auto& [r, c] : model.accumulator_shapes()) acc_.push_back(Matrix<S>::Zero(r, c));
}

template <class S>
int Trainer<S>::shards() const {
  return cfg_.shards > 0 ? static_cast<int>(cfg_.shards) : parallel::current().size();
}

template <class S>
double Trainer<S>::block_gradient(ConstMatrixRef<S> inputs, std::span<const int> labels,
                                  std::span<const std::uint64_t> ids, NoiseKey key,
                                  std::vector<Matrix<S>>& acc, double weight) {
  const Index b = inputs.cols();
  X_.resize(model_.dim(), b);
  a_.resize(model_.dim(), b);
  model_.encode(inputs, X_);
  adjoint_->forward(X_, ids, key);
  for (auto& m : acc) m.setZero();
  // Losses are means over their block: a shard's share of the batch mean is weight x its own.
  double loss = static_cast<double>(loss_.value_and_grad(model_, X_, labels, a_));
  loss += static_cast<double>(model_.item_loss(inputs, X_, a_, acc));
  if (weight != 1.0) {  // one block on one rank keeps the bits it always had
    a_ *= static_cast<S>(weight);
    for (auto& m : acc) m *= static_cast<S>(weight);
    loss *= weight;
  }
  // The adjoint is linear in its terminal value, so scaling a_ scales every contribution.
  adjoint_->backward(a_, ids, key, acc);
  model_.encode_vjp(inputs, a_, acc);
  return loss;
}

template <class S>
double Trainer<S>::batch_gradient(const Matrix<S>& inputs, std::span<const int> labels,
                                  std::span<const std::uint64_t> ids, NoiseKey key,
                                  std::vector<Matrix<S>>& grads) {
  const parallel::Comm& comm = parallel::current();
  const int n_shards = shards();
  double loss = 0;
  const std::vector<Matrix<S>>* acc = &acc_;
  if (n_shards == 1 && !comm.distributed()) {
    loss = block_gradient(inputs, labels, ids, key, acc_, 1.0);
  } else {
    if (!tree_ || tree_->shards() != n_shards)
      tree_ = std::make_unique<parallel::ShardTree<S>>(comm, n_shards, model_.accumulator_shapes());
    const Index b = inputs.cols();
    for (int s = tree_->first_shard(); s < tree_->last_shard(); ++s) {
      // Shard s: columns [b s / shards, b (s + 1) / shards), a function of b and s alone.
      const Index c0 = b * s / n_shards, c1 = b * (s + 1) / n_shards;
      auto& part = tree_->partial(s);
      if (c1 == c0) {  // a batch narrower than the shard count
        for (auto& m : part.acc) m.setZero();
        part.loss = 0;
        continue;
      }
      const auto first = static_cast<std::size_t>(c0), count = static_cast<std::size_t>(c1 - c0);
      part.loss =
          block_gradient(inputs.middleCols(c0, c1 - c0), labels.subspan(first, count),
                         ids.subspan(first, count), key, part.acc, double(c1 - c0) / double(b));
    }
    const auto& total = tree_->sum();
    acc = &total.acc;
    loss = total.loss;
  }
  if (grads.size() != model_.parameters().size()) {
    grads.clear();
    for (const auto& p : model_.parameters()) grads.push_back(Matrix<S>::Zero(p.rows, p.cols));
  }
  model_.finish_gradients(*acc, grads);
  const auto params = model_.parameters();
  if (grads.size() != params.size())
    throw RunError("the model's finish_gradients() returned " + std::to_string(grads.size()) +
                   " gradient blocks for " + std::to_string(params.size()) + " parameter blocks");
  for (std::size_t p = 0; p < params.size(); ++p)
    if (grads[p].rows() != params[p].rows || grads[p].cols() != params[p].cols)
      throw RunError("the model's gradient of parameter '" + params[p].name + "' is " +
                     std::to_string(grads[p].rows()) + " x " + std::to_string(grads[p].cols()) +
                     ", the parameter " + std::to_string(params[p].rows) + " x " +
                     std::to_string(params[p].cols));
  loss += static_cast<double>(model_.regularize(grads));
  return loss;
}

template <class S>
typename Trainer<S>::StepResult Trainer<S>::train_step(const Matrix<S>& inputs,
                                                       std::span<const int> labels,
                                                       std::span<const std::uint64_t> ids,
                                                       NoiseKey key) {
  StepResult r;
  r.loss = batch_gradient(inputs, labels, ids, key, grads_);
  double norm2 = 0;
  for (const auto& g : grads_) norm2 += static_cast<double>(g.squaredNorm());
  r.grad_norm = std::sqrt(norm2);
  r.finite = std::isfinite(r.loss) && std::isfinite(r.grad_norm);
  r.ok = r.finite && r.loss <= cfg_.divergence_loss;
  if (!r.ok) return r;
  if (cfg_.clip_norm > 0 && r.grad_norm > cfg_.clip_norm)
    for (auto& g : grads_) g *= static_cast<S>(cfg_.clip_norm / r.grad_norm);
  auto params = model_.parameters();
  if (cfg_.rollback_nonfinite) {
    before_params_.resize(params.size());
    for (std::size_t p = 0; p < params.size(); ++p) before_params_[p] = params[p].map();
    optimizer_->save_state(before_opt_);
    can_roll_back_ = true;
  }
  optimizer_->step(params, grads_);
  model_.parameters_changed();
  return r;
}

template <class S>
void Trainer<S>::roll_back() {
  auto params = model_.parameters();
  for (std::size_t p = 0; p < params.size(); ++p) params[p].map() = before_params_[p];
  optimizer_->load_state(before_opt_);
  model_.parameters_changed();
  can_roll_back_ = false;  // one step back, not more
}

template <class S>
TrainState Trainer<S>::train(const Items<S>& items, const std::vector<Index>& train_idx,
                             const std::vector<Index>& val_idx, TrainState state,
                             const Hooks& hooks) {
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  auto last_log = t_start;
  const std::size_t bs = static_cast<std::size_t>(cfg_.batch_size);
  const std::int64_t batches = static_cast<std::int64_t>((train_idx.size() + bs - 1) / bs);
  const std::int64_t total = batches * (cfg_.epochs - state.epochs_done);
  std::int64_t done = 0;
  Matrix<S> inputs;
  std::vector<int> labels;
  std::vector<std::uint64_t> ids;
  const Random shifts(seed_, Stream::augment);
  for (std::int64_t epoch = state.epochs_done + 1; epoch <= cfg_.epochs; ++epoch) {
    const auto t_epoch = clock::now();
    const std::vector<Index> order = epoch_order(train_idx, items.ids, seed_, epoch);
    const NoiseKey key{seed_, static_cast<std::uint32_t>(epoch), 0};
    const double epoch_lr = scheduled_lr(cfg_, epoch);
    double loss_sum = 0, norm_sum = 0;
    std::size_t seen = 0;
    std::int64_t skipped = 0, undone = 0;
    can_roll_back_ = false;  // a resumed epoch has no step before its first
    for (std::int64_t bi = 0; bi < batches; ++bi) {
      const std::size_t start = static_cast<std::size_t>(bi) * bs;
      const std::size_t end = std::min(order.size(), start + bs);
      const Index b = static_cast<Index>(end - start);
      inputs.resize(items.x.rows(), b);
      labels.clear();
      ids.clear();
      for (std::size_t j = start; j < end; ++j) {
        const Index col = static_cast<Index>(j - start);
        if (cfg_.shift_pixels > 0)
          shift_image(
              items.x.col(order[j]).data(), inputs.col(col).data(), cfg_.image_rows,
              cfg_.image_cols,
              pixel_shift(shifts, static_cast<std::uint32_t>(epoch),
                          items.ids[static_cast<std::size_t>(order[j])], cfg_.shift_pixels));
        else
          inputs.col(col) = items.x.col(order[j]);
        labels.push_back(items.labels[static_cast<std::size_t>(order[j])]);
        ids.push_back(items.ids[static_cast<std::size_t>(order[j])]);
      }
      // The step count is a function of (epoch, batch), so a resumed run ramps identically.
      const std::int64_t step = (epoch - 1) * batches + bi;
      optimizer_->set_lr(cfg_.warmup_steps > 0 && step < cfg_.warmup_steps
                             ? epoch_lr * double(step + 1) / double(cfg_.warmup_steps)
                             : epoch_lr);
      progress::poll();  // between batches: a stop leaves the last epoch's checkpoint
      const StepResult r = train_step(inputs, labels, ids, key);
      log_.debug("epoch {} batch {}: loss {:.6g}, gradient norm {:.6g}", epoch, bi + 1, r.loss,
                 r.grad_norm);
      const bool stop = !r.ok && (r.finite || state.skipped_in_a_row >= cfg_.skip_nonfinite);
      if (stop) {
        state.stop_reason = "diverged in epoch " + std::to_string(epoch) + ", batch " +
                            std::to_string(bi + 1) + " (loss " + std::to_string(r.loss);
        if (r.finite)  // a finite loss above the bound: the dynamics left the basin
          state.stop_reason += " above divergence_loss)";
        else
          state.stop_reason +=
              ", gradient norm " + std::to_string(r.grad_norm) +
              (cfg_.skip_nonfinite > 0 ? "; " + std::to_string(cfg_.skip_nonfinite + 1) +
                                             " non-finite batches in a row, skip_nonfinite = " +
                                             std::to_string(cfg_.skip_nonfinite)
                                       : std::string()) +
              ")";
        log_.error("{}; keeping the best model (epoch {})", state.stop_reason, state.best_epoch);
        if (hooks.restore_best) hooks.restore_best();
        return state;
      }
      if (!r.ok) {  // not finite, within skip_nonfinite: skip the step
        const bool undo = cfg_.rollback_nonfinite && can_roll_back_ && state.skipped_in_a_row == 0;
        if (undo) {
          roll_back();
          ++undone;
        }
        ++state.skipped_in_a_row;
        ++skipped;
        ++done;
        log_.warn(
            "epoch {} batch {}: loss {:.5g}, gradient norm {:.5g}: not finite, step skipped{} "
            "({} in a row, at most {})",
            epoch, bi + 1, r.loss, r.grad_norm, undo ? " and the previous one undone" : "",
            state.skipped_in_a_row, cfg_.skip_nonfinite);
        continue;
      }
      state.skipped_in_a_row = 0;
      const double loss = r.loss, norm = r.grad_norm;
      loss_sum += loss * double(b);
      norm_sum += norm;
      seen += static_cast<std::size_t>(b);
      ++done;
      const auto now = clock::now();
      if (std::chrono::duration<double>(now - last_log).count() >= cfg_.log_every_seconds) {
        last_log = now;
        const double el = std::chrono::duration<double>(now - t_start).count();
        const double eta = el / double(done) * double(total - done);
        log_.info("epoch {}/{} batch {}/{} loss {:.5g}  ETA {:.0f} s", epoch, cfg_.epochs, bi + 1,
                  batches, loss_sum / double(seen), eta);
        progress::report({{"kind", "batch"},
                          {"epoch", epoch},
                          {"epochs", cfg_.epochs},
                          {"batch", bi + 1},
                          {"batches", batches},
                          {"loss", loss_sum / double(seen)},
                          {"eta_seconds", eta}});
      }
    }

    // Validation with the same scheme and the epoch's parameters.
    EpochRecord rec;
    rec.epoch = epoch;
    rec.train_loss = loss_sum / double(std::max<std::size_t>(seen, 1));
    rec.grad_norm = norm_sum / double(std::max<std::int64_t>(batches - skipped, 1));
    rec.skipped = skipped;
    rec.undone = undone;
    if (!val_idx.empty()) {
      EvalConfig ec;
      ec.horizon = 1;
      ec.batch = cfg_.eval_batch;
      ec.criterion = cfg_.eval_criterion;
      const EvalResult r = evaluate_items(scheme_, steps_, model_, &loss_, items, val_idx, ec,
                                          NoiseKey{seed_, 0xFFFFFFFEu, 0});
      rec.val_loss = r.at_T.loss_sum / double(r.at_T.items);
      rec.val_accuracy = r.at_T.accuracy();
      if (r.at_T.census.non_finite > 0)
        log_.warn(
            "epoch {}: {} of {} validation items ended with a NaN or infinite state "
            "(counted as wrong)",
            epoch, r.at_T.census.non_finite, r.at_T.items);
    }
    rec.seconds = std::chrono::duration<double>(clock::now() - t_epoch).count();
    state.history.push_back(rec);
    state.epochs_done = epoch;
    const bool better =
        val_idx.empty() || rec.val_accuracy > state.best_val_accuracy ||
        (rec.val_accuracy == state.best_val_accuracy && rec.val_loss < state.best_val_loss);
    log_.info(
        "epoch {}/{}: train loss {:.5g}, val loss {:.5g}, val accuracy {:.2f} %, |grad| {:.3g}, "
        "{:.1f} s{}{}",
        epoch, cfg_.epochs, rec.train_loss, rec.val_loss, 100 * rec.val_accuracy, rec.grad_norm,
        rec.seconds,
        skipped > 0 ? fmt::format(", {} non-finite steps skipped, {} undone", skipped, undone) : "",
        better ? " (best)" : "");
    nlohmann::json pr = rec.to_json();
    pr["kind"] = "epoch";
    pr["epochs"] = cfg_.epochs;
    pr["best"] = better;
    progress::report(pr);
    if (better) {
      state.best_epoch = epoch;
      state.best_val_accuracy = rec.val_accuracy;
      state.best_val_loss = rec.val_loss;
      state.bad_epochs = 0;
      if (hooks.on_best) hooks.on_best(state);
    } else {
      ++state.bad_epochs;
    }
    if (cfg_.patience > 0 && state.bad_epochs >= cfg_.patience)
      state.stop_reason = "early stop: no better validation accuracy for " +
                          std::to_string(cfg_.patience) + " epochs";
    if (state.stop_reason.empty() && cfg_.stop_after > 0 && epoch >= cfg_.stop_after &&
        epoch < cfg_.epochs)
      state.stop_reason = "paused after epoch " + std::to_string(epoch) +
                          " (stop_after_epochs); continue with dynsim run --resume";
    if (hooks.on_epoch_end) hooks.on_epoch_end(state);
    if (!state.stop_reason.empty()) {
      log_.info("{}", state.stop_reason);
      break;
    }
  }
  if (state.stop_reason.empty()) state.stop_reason = "completed";
  return state;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace dynsim
