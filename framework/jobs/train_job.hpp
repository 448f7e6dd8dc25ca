// The training job: split the data, train with the adjoint trainer, keep the best model, then
// evaluate it on the test split (at T and horizon x T), certify the stability of its planted
// attractors, export arrays for Python, and draw the figures.
#pragma once

#include <spdlog/logger.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "analysis/stability.hpp"
#include "evaluate/evaluate.hpp"
#include "jobs/instances.hpp"
#include "run/run_folder.hpp"
#include "train/trainer.hpp"

namespace dynsim {

TrainConfig train_config(const Options& train_table);

// A split of the dataset, cut to its first max_items (0: all).
template <class S>
Items<S> load_split(Dataset<S>& d, Split which, std::int64_t max_items);
// The scenario's fixed-step scheme over the run's model and noise law.
template <class S>
FixedStepScheme<S> scheme_for(const Wiring& w, Instances<S>& in);
EvalConfig eval_config(const Options& evaluate_table);

template <class S>
class TrainJob {
 public:
  // Checks that the scenario can be trained: InputError otherwise.
  TrainJob(const Wiring& w, Instances<S>& in);
  // Trains (or resumes from out's checkpoint), evaluates, analyses; returns the metrics.
  nlohmann::json run(const RunFolder& out, spdlog::logger& log, bool resume);

 private:
  const Wiring& w_;
  Instances<S>& in_;
};

// Evaluation of a trained model on the scenario's [evaluate] split: used after training and by
// `dynsim evaluate`.
template <class S>
nlohmann::json evaluate_model(const Wiring& w, Instances<S>& in, const RunFolder& out,
                              spdlog::logger& log);

// Stability analysis with table (log), CSVs and spectrum figure: used after training and by
// `dynsim stability`.
template <class S>
nlohmann::json stability_report(const Wiring& w, Instances<S>& in, const RunFolder& out,
                                spdlog::logger& log);

extern template class TrainJob<float>;
extern template class TrainJob<double>;

}  // namespace dynsim
