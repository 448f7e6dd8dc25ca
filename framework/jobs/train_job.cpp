#include "jobs/train_job.hpp"

#include <chrono>
#include <fstream>
#include <numeric>

#include "common/errors.hpp"
#include "jobs/figures.hpp"
#include "parallel/comm.hpp"
#include "run/atomic_file.hpp"
#include "run/model_file.hpp"
#include "run/npy.hpp"

namespace dynsim {
namespace fs = std::filesystem;

// Noise keys reserved outside training epochs (which count from 1).
constexpr std::uint32_t kEvalEpoch = 0xFFFFFFFFu;

TrainConfig train_config(const Options& t) {
  TrainConfig c;
  c.epochs = t.integer("epochs");
  c.batch_size = t.integer("batch_size");
  c.optimizer.kind = t.string("optimizer");
  c.optimizer.lr = t.real("lr");
  c.optimizer.beta1 = t.real("beta1");
  c.optimizer.beta2 = t.real("beta2");
  c.optimizer.eps = t.real("eps");
  c.optimizer.momentum = t.real("momentum");
  c.clip_norm = t.real("clip_norm");
  c.schedule = t.string("schedule");
  c.lr_final = t.real("lr_final");
  c.warmup_steps = t.integer("warmup_steps");
  c.patience = t.integer("patience");
  c.stop_after = t.integer("stop_after_epochs");
  c.checkpoint_every = t.integer("checkpoint_every");
  c.shards = t.integer("shards");
  c.divergence_loss = t.real("divergence_loss");
  c.skip_nonfinite = t.integer("skip_nonfinite");
  c.rollback_nonfinite = t.boolean("rollback_nonfinite");
  c.shift_pixels = static_cast<int>(t.integer("shift_pixels"));
  c.log_every_seconds = t.real("log_every_seconds");
  return c;
}

EvalConfig eval_config(const Options& e) {
  EvalConfig c;
  c.tolerance = e.real("tolerance");
  c.criterion = criterion_named(e.string("criterion"));
  c.horizon = e.integer("horizon");
  c.batch = e.integer("batch_size");
  c.draws = e.integer("draws");
  return c;
}

template <class S>
Items<S> load_split(Dataset<S>& d, Split which, std::int64_t max_items) {
  Items<S> items = d.load(which);
  // Labels index the planted attractors, the targets and the confusion table: one outside
  // [0, classes()) (a training file with more classes than the test split declared) would read
  // past them.
  const int k = d.classes();
  const char* split = which == Split::train ? "training" : "test";
  if (items.labels.size() != static_cast<std::size_t>(items.x.cols()) ||
      items.ids.size() != items.labels.size())
    throw InputError("[dataset] the " + std::string(split) + " split has " +
                     std::to_string(items.x.cols()) + " items but " +
                     std::to_string(items.labels.size()) + " labels and " +
                     std::to_string(items.ids.size()) + " ids (dataset plugin bug)");
  for (std::size_t j = 0; j < items.labels.size(); ++j)
    if (items.labels[j] < 0 || items.labels[j] >= k)
      throw InputError("[dataset] " + std::string(split) + " item " + std::to_string(j) + " (id " +
                       std::to_string(items.ids[j]) + ") has label " +
                       std::to_string(items.labels[j]) + ", outside the dataset's " +
                       std::to_string(k) + " classes (0 to " + std::to_string(k - 1) + ")");
  if (max_items > 0 && items.x.cols() > max_items) {
    items.x.conservativeResize(Eigen::NoChange, max_items);
    items.labels.resize(static_cast<std::size_t>(max_items));
    items.ids.resize(static_cast<std::size_t>(max_items));
  }
  return items;
}

template <class S>
FixedStepScheme<S> scheme_for(const Wiring& w, Instances<S>& in) {
  return FixedStepScheme<S>(w.integrator.method, w.integrator.dt, w.integrator.t0, *in.model,
                            in.noise, w.threads);
}

namespace {

void write_history_csv(const RunFolder& out, const TrainState& s) {
  std::ostringstream o;
  o.precision(17);  // reads back to the same doubles (Python's Run.history, progress records)
  o << "epoch,train_loss,val_loss,val_accuracy,grad_norm,seconds,skipped,undone\n";
  for (const auto& e : s.history)
    o << e.epoch << "," << e.train_loss << "," << e.val_loss << "," << e.val_accuracy << ","
      << e.grad_norm << "," << e.seconds << "," << e.skipped << "," << e.undone << "\n";
  out.write_text("training_history.csv", o.str());
}

}  // namespace

template <class S>
TrainJob<S>::TrainJob(const Wiring& w, Instances<S>& in) : w_(w), in_(in) {
  const std::string where = w.scenario.where_table("train") + ": [train]: ";
  if (!in.dataset) throw InputError(where + "training needs a [dataset] table");
  if (!in.loss) throw InputError(where + "training needs a [loss] table");
  if (in.model->parameters().empty())
    throw InputError(where + "model '" + w.plugin("model")->record->name +
                     "' has no trainable parameters");
  if (in.model->attractors().cols() != in.dataset->classes())
    throw InputError(where + "the model plants " + std::to_string(in.model->attractors().cols()) +
                     " attractors but the dataset has " + std::to_string(in.dataset->classes()) +
                     " classes");
  if (w.integrator.method == Method::dopri5)
    w.integrator_table.fail("method",
                            "training needs a fixed-step method (euler, rk4, "
                            "euler_maruyama): the adjoint is that of the discrete map");
  const Options& t = w.train_table;
  if (t.boolean("rollback_nonfinite") && t.integer("skip_nonfinite") == 0)
    t.fail("rollback_nonfinite",
           "needs skip_nonfinite > 0: without it the first non-finite batch stops training, "
           "so no step is ever undone");
  if (const auto k = t.integer("shift_pixels"); k > 0) {
    const auto [rows, cols] = in.dataset->image_shape();
    const std::string name = w.plugin("dataset")->record->name;
    if (rows <= 0 || cols <= 0 || static_cast<Index>(rows) * cols != in.dataset->dim())
      t.fail("shift_pixels", "dataset '" + name +
                                 "' does not hold images, so there is nothing "
                                 "to shift (use 0)");
    if (k >= std::min(rows, cols))
      t.fail("shift_pixels", "a shift of " + std::to_string(k) + " pixels moves the whole " +
                                 std::to_string(rows) + " x " + std::to_string(cols) +
                                 " image of dataset '" + name + "' out of its frame");
  }
}

template <class S>
nlohmann::json TrainJob<S>::run(const RunFolder& out, spdlog::logger& log, bool resume) {
  const Wiring& w = w_;
  Model<S>& model = *in_.model;
  const Options& tt = w.train_table;
  Items<S> items = load_split(*in_.dataset, Split::train, tt.integer("max_items"));
  // Validation: a fixed share of the training items, chosen by the run's seed or, as Keras'
  // validation_split does, the last ones in the file.
  const HoldOut held = hold_out(items.ids, w.seed, tt.real("validation_fraction"),
                                tt.string("validation_pick") == "last");
  const std::vector<Index>&train_idx = held.train, &val_idx = held.validation;
  if (train_idx.empty()) tt.fail("validation_fraction", "leaves no training items");

  FixedStepScheme<S> scheme = scheme_for(w, in_);
  const std::int64_t steps = w.integrator.fixed_steps();
  TrainConfig cfg = train_config(tt);
  const auto shape = in_.dataset->image_shape();
  cfg.image_rows = shape[0];
  cfg.image_cols = shape[1];
  const EvalConfig ec = eval_config(w.evaluate_table);  // validation integrates and scores alike
  cfg.eval_batch = ec.batch;
  cfg.eval_criterion = ec.criterion;
  Trainer<S> trainer(cfg, model, *in_.loss, scheme, steps, w.seed, log);
  std::size_t n_params = 0;
  for (const auto& p : model.parameters()) n_params += static_cast<std::size_t>(p.rows * p.cols);
  log.info("training on {} items, validating on {}; {} parameters; {} steps of dt {} (T = {})",
           train_idx.size(), val_idx.size(), n_params, steps, w.integrator.dt,
           w.integrator.t_end - w.integrator.t0);

  // Under several ranks (data-parallel) every rank trains the same model; only rank 0 writes
  // the run folder. The best parameters are also kept in memory on every rank, so restoring
  // them needs no file another rank wrote.
  const parallel::Comm& comm = parallel::current();
  const bool writer = comm.root();
  std::vector<Matrix<S>> best;
  auto snapshot = [&] {
    best.clear();
    for (const auto& p : model.parameters()) best.emplace_back(p.map());
  };
  auto restore = [&] {
    if (best.empty()) return false;
    auto params = model.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) params[i].map() = best[i];
    model.parameters_changed();
    return true;
  };
  if (comm.distributed())
    log.info(
        "data-parallel over {} ranks: {} shards per batch (the same bits for any rank count "
        "at this train.shards and these threads per rank)",
        comm.size(), trainer.shards());

  TrainState state;
  const fs::path ckpt = out.path("checkpoint");
  if (resume) {
    nlohmann::json extra;
    auto arrays = load_arrays<S>(ckpt, "checkpoint.json", &extra);
    std::vector<std::pair<std::string, Matrix<S>>> opt;
    auto params = model.parameters();
    std::size_t pi = 0;
    for (auto& [name, m] : arrays) {
      if (name.rfind("param.", 0) == 0) {
        if (pi >= params.size() || name != "param." + params[pi].name ||
            m.rows() != params[pi].rows || m.cols() != params[pi].cols)
          throw InputError((ckpt / "checkpoint.json").string() + ": parameter '" + name +
                           "' does not match the model");
        params[pi++].map() = m;
      } else {
        opt.emplace_back(name.substr(4), std::move(m));  // "opt."
      }
    }
    model.parameters_changed();
    trainer.optimizer().load_state(opt);
    try {
      state = TrainState::from_json(extra.at("train_state"));
    } catch (const nlohmann::json::exception&) {
      throw InputError((ckpt / "checkpoint.json").string() +
                       ": the training state (train_state) is missing a key or holds a value of "
                       "the wrong type; the checkpoint cannot be resumed");
    }
    state.stop_reason.clear();
    // The best model of the earlier part (complete_directory: after a crash mid-swap).
    if (complete_directory(out.path("model")) && fs::exists(out.path("model") / "model.json")) {
      best.clear();
      for (auto& [name, m] : load_arrays<S>(out.path("model"), "model.json", nullptr))
        best.push_back(std::move(m));
      bool fits = best.size() == params.size();
      for (std::size_t i = 0; fits && i < params.size(); ++i)
        fits = best[i].rows() == params[i].rows && best[i].cols() == params[i].cols;
      if (!fits)
        throw InputError((out.path("model") / "model.json").string() +
                         ": the saved best model does not match the model's parameter blocks");
    }
    log.info("resuming after epoch {} (best so far: epoch {}, validation accuracy {:.2f} %)",
             state.epochs_done, state.best_epoch, 100 * state.best_val_accuracy);
  }

  typename Trainer<S>::Hooks hooks;
  hooks.on_best = [&](const TrainState& s) {
    snapshot();
    if (writer)
      save_model(out.path("model"), model, w,
                 {{"epoch", s.best_epoch}, {"val_accuracy", s.best_val_accuracy}});
  };
  hooks.on_epoch_end = [&](const TrainState& s) {
    if (!writer) return;
    // Staged and swapped in whole (save_arrays): a crash leaves the previous checkpoint or the
    // new one, never a mix and never none.
    std::vector<std::pair<std::string, Matrix<S>>> arrays;
    for (const auto& p : model.parameters()) arrays.emplace_back("param." + p.name, p.map());
    for (auto& [name, m] : trainer.optimizer().state()) arrays.emplace_back("opt." + name, m);
    save_arrays(ckpt, "checkpoint.json", arrays, {{"train_state", s.to_json()}});
    write_history_csv(out, s);
  };
  hooks.restore_best = [&] { restore(); };

  const auto t0 = std::chrono::steady_clock::now();
  state = trainer.train(items, train_idx, val_idx, state, hooks);
  const double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool diverged = state.stop_reason.rfind("diverged", 0) == 0;
  std::int64_t skipped_batches = 0, undone_steps = 0;
  for (const auto& e : state.history) {
    skipped_batches += e.skipped;
    undone_steps += e.undone;
  }
  if (!restore() && writer) save_model(out.path("model"), model, w, {{"epoch", state.epochs_done}});
  if (state.best_epoch > 0)
    log.info("training: {} ({:.1f} s); best epoch {} with validation accuracy {:.2f} %",
             state.stop_reason, train_seconds, state.best_epoch, 100 * state.best_val_accuracy);
  else
    log.info("training: {} ({:.1f} s); no epoch finished, the model is the initial one",
             state.stop_reason, train_seconds);

  // Arrays for Python.
  if (writer) {
    fs::create_directories(out.path("arrays"));
    for (const auto& [name, m] : model.exports())
      write_matrix_npy(out.path("arrays") / (name + ".npy"), m);
  }

  nlohmann::json metrics = {{"job", "train"},
                            {"stop_reason", state.stop_reason},
                            {"diverged", diverged},
                            {"epochs_run", state.epochs_done},
                            {"best_epoch", state.best_epoch},
                            {"best_val_accuracy", state.best_val_accuracy},
                            {"train_items", train_idx.size()},
                            {"validation_items", val_idx.size()},
                            {"parameters", n_params},
                            {"steps", steps},
                            {"dt", w.integrator.dt},
                            {"T", w.integrator.t_end - w.integrator.t0},
                            {"train_wall_seconds", train_seconds},
                            {"skipped_batches", skipped_batches},
                            {"undone_steps", undone_steps},
                            {"ranks", comm.size()},
                            {"shards", trainer.shards()},
                            {"history", state.to_json().at("history")}};
  metrics["test"] = evaluate_model(w, in_, out, log);
  metrics["stability"] = stability_report(w, in_, out, log);
  if (!writer) return metrics;  // figures are rank 0's
  plot_training(out, state, log);
  Items<S> test = load_split(*in_.dataset, Split::test, 1000);
  plot_examples(out, test, model, in_.dataset->image_shape(), log);
  plot_activity(out, model, scheme, steps, test, 0, NoiseKey{w.seed, kEvalEpoch, 0}, log);
  if (in_.noise && !in_.noise->vanishes())
    plot_ensemble(out, model, scheme, steps, test, 0, NoiseKey{w.seed, kEvalEpoch, 0}, 100, log);
  return metrics;  // the CLI exits with code 1 when "diverged" is set
}

// Accuracy against attack strength: every level of [evaluate] attack_p, attack_repeats
// independent corruptions each (Counter::draw = repeat), classified at T. Writes attacks.csv
// and the figure attacks.png.
template <class S>
nlohmann::json attack_curve(const Wiring& w, Instances<S>& in, const Items<S>& items,
                            FixedStepScheme<S>& scheme, EvalConfig cfg, const RunFolder& out,
                            spdlog::logger& log) {
  const Options& ev = w.evaluate_table;
  if (!in.attack) ev.fail("attack_p", "needs an [attack] table naming the attack plugin");
  const std::string name = w.plugin("attack")->record->name;
  const Random rng(w.seed, Stream::attack);
  cfg.horizon = 1;
  const std::int64_t steps = w.integrator.fixed_steps();
  std::ostringstream csv;
  csv << "attack,p,repeat,accuracy,majority_accuracy\n";
  nlohmann::json rows = nlohmann::json::array();
  std::vector<std::pair<double, double>> curve;
  for (const double p : ev.real_list("attack_p")) {
    double sum = 0;
    for (std::int64_t rep = 0; rep < ev.integer("attack_repeats"); ++rep) {
      const Corruption<S> corrupt = [&](MatrixRef<S> X, std::span<const std::uint64_t> ids) {
        in.attack->apply(static_cast<S>(p), X, ids, rng,
                         Counter{0, static_cast<std::uint32_t>(rep), 0, 0});
      };
      const EvalResult r = evaluate_items(scheme, steps, *in.model, in.loss, items, {}, cfg,
                                          NoiseKey{w.seed, kEvalEpoch, 0}, corrupt);
      csv << name << "," << p << "," << rep << "," << r.at_T.accuracy() << ","
          << r.majority.accuracy() << "\n";
      rows.push_back({{"attack", name},
                      {"p", p},
                      {"repeat", rep},
                      {"accuracy", r.at_T.accuracy()},
                      {"majority_accuracy", r.majority.accuracy()}});
      sum += r.at_T.accuracy();
    }
    const double mean = sum / double(ev.integer("attack_repeats"));
    log.info("attack {} p = {}: accuracy {:.2f} %", name, p, 100 * mean);
    curve.emplace_back(p, mean);
  }
  out.write_text("attacks.csv", csv.str());
  if (parallel::current().root()) plot_attack_curve(out, name, curve, log);
  return rows;
}

template <class S>
nlohmann::json evaluate_model(const Wiring& w, Instances<S>& in, const RunFolder& out,
                              spdlog::logger& log) {
  const Options& ev = w.evaluate_table;
  if (!in.dataset) throw InputError(w.scenario.where_table("evaluate") + ": needs a [dataset]");
  const Split split = ev.string("split") == "train" ? Split::train : Split::test;
  Items<S> items = load_split(*in.dataset, split, ev.integer("max_items"));
  FixedStepScheme<S> scheme = scheme_for(w, in);
  const std::int64_t steps = w.integrator.fixed_steps();
  const EvalConfig cfg = eval_config(ev);
  const auto t0 = std::chrono::steady_clock::now();
  const EvalResult r = evaluate_items(scheme, steps, *in.model, in.loss, items, {}, cfg,
                                      NoiseKey{w.seed, kEvalEpoch, 0});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& c = r.at_T.census;
  const std::string later =
      cfg.horizon > 1
          ? fmt::format(", {:.2f} % at {} T", 100 * r.at_horizon.accuracy(), cfg.horizon)
          : std::string();
  log.info(
      "{} split, {} items: accuracy {:.2f} % at T by {} (nearest attractor {:.2f} %){}; at T: {} "
      "at their attractor, {} at another, {} at zero, {} at other alphabet states, {} elsewhere",
      ev.string("split"), r.at_T.items, 100 * r.at_T.accuracy(), criterion_name(cfg.criterion),
      100 * r.at_T.accuracy_nearest(), later, c.correct, c.wrong_attractor, c.zero,
      c.alphabet_state, c.elsewhere);
  if (r.at_T.has_all_nodes())
    log.info(
        "strict: {:.2f} % at T with every node on its own pattern's side of the two levels' "
        "midpoint (the signs on all {} nodes, for levels -a and +a)",
        100 * r.at_T.accuracy_all_nodes(), in.model->dim());
  if (c.non_finite > 0)
    log.warn("{} of {} items ended with a NaN or infinite state: no class, counted as wrong",
             c.non_finite, r.at_T.items);
  std::ostringstream conf;
  conf << "true\\predicted";
  for (std::size_t k = 0; k < r.at_T.confusion.size(); ++k) conf << "," << k;
  conf << "\n";
  for (std::size_t k = 0; k < r.at_T.confusion.size(); ++k) {
    conf << k;
    for (auto v : r.at_T.confusion[k]) conf << "," << v;
    conf << "\n";
  }
  out.write_text("confusion.csv", conf.str());
  if (r.convergence.arrived)
    log.info(
        "{:.1f} % of items came within {} of a planted attractor by {} T, after {:.3g} time "
        "units on average",
        100 * r.convergence.to_json()["share_arrived"].get<double>(), cfg.tolerance, cfg.horizon,
        r.convergence.mean_time());
  else
    log.info("no item came within {} of a planted attractor by {} T", cfg.tolerance, cfg.horizon);
  if (cfg.draws > 1)
    log.info("{} noise draws per item: accuracy {:.2f} % over all draws, {:.2f} % by majority vote",
             cfg.draws, 100 * r.at_T.accuracy(), 100 * r.majority.accuracy());
  nlohmann::json result = {
      {"split", ev.string("split")},
      {"T", r.at_T.to_json()},
      {"draws", cfg.draws},
      {"majority_accuracy", r.majority.accuracy()},
      {"horizon", cfg.horizon},
      {"at_horizon", cfg.horizon > 1 ? r.at_horizon.to_json() : nlohmann::json()},
      {"tolerance", cfg.tolerance},
      {"convergence", r.convergence.to_json()},
      {"wall_seconds", secs}};
  if (!ev.real_list("attack_p").empty())
    result["attacks"] = attack_curve(w, in, items, scheme, cfg, out, log);
  return result;
}

template <class S>
nlohmann::json stability_report(const Wiring& w, Instances<S>& in, const RunFolder& out,
                                spdlog::logger& log) {
  const Options& ev = w.evaluate_table;
  FixedStepScheme<S> scheme = scheme_for(w, in);
  StabilityConfig cfg;
  cfg.perturbation = ev.real("stability_perturbation");
  cfg.tolerance = ev.real("tolerance");
  cfg.steps = ev.integer("horizon") * w.integrator.fixed_steps();
  cfg.seed = w.seed;
  const auto s = analyze_stability(*in.model, scheme, cfg);
  std::istringstream table(stability_table(s));
  log.info("stability of the planted attractors ({} map, dt {}):", method_name(scheme.method()),
           scheme.dt());
  for (std::string line; std::getline(table, line);) log.info("  {}", line);
  std::ostringstream csv, eig;
  csv << "attractor,max_real_eigenvalue,stable,map_spectral_radius,map_stable,drift_norm,"
         "perturbation_returned,perturbation_final_distance\n";
  eig << "attractor,real,imag\n";
  bool all_stable = true, all_map = true, all_back = true;
  for (const auto& a : s) {
    csv << a.index << "," << a.max_real << "," << a.stable << "," << a.map_radius << ","
        << a.map_stable << "," << a.drift_norm << "," << a.returned << "," << a.returned_distance
        << "\n";
    for (const auto& l : a.eigenvalues)
      eig << a.index << "," << l.real() << "," << l.imag() << "\n";
    all_stable &= a.stable;
    all_map &= a.map_stable;
    all_back &= a.returned;
  }
  out.write_text("stability.csv", csv.str());
  out.write_text("eigenvalues.csv", eig.str());
  if (parallel::current().root()) plot_spectrum(out, s, log);
  return {{"attractors", to_json(s)},
          {"all_stable", all_stable},
          {"all_map_stable", all_map},
          {"all_returned", all_back}};
}

template Items<float> load_split<float>(Dataset<float>&, Split, std::int64_t);
template Items<double> load_split<double>(Dataset<double>&, Split, std::int64_t);
template FixedStepScheme<float> scheme_for<float>(const Wiring&, Instances<float>&);
template FixedStepScheme<double> scheme_for<double>(const Wiring&, Instances<double>&);
template class TrainJob<float>;
template class TrainJob<double>;
template nlohmann::json evaluate_model<float>(const Wiring&, Instances<float>&, const RunFolder&,
                                              spdlog::logger&);
template nlohmann::json evaluate_model<double>(const Wiring&, Instances<double>&, const RunFolder&,
                                               spdlog::logger&);
template nlohmann::json stability_report<float>(const Wiring&, Instances<float>&, const RunFolder&,
                                                spdlog::logger&);
template nlohmann::json stability_report<double>(const Wiring&, Instances<double>&,
                                                 const RunFolder&, spdlog::logger&);

}  // namespace dynsim
