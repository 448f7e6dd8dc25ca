// The summaries of studies, written by rank 0 once every run is done, from the runs' folders.
// Failed runs are skipped (study.json records them). The files and their formats are those the
// separate drivers wrote before studies existed, so old scenarios give the same tables:
//   run --seeds  summary.json (mean, std, min, max over seeds), seeds.csv (one row per seed)
//   [sweep]      sweep.csv (tidy: one row per run, attack, p and repeat), summary.csv (mean and
//                std over seeds), compare.csv (paired differences along [sweep] compare),
//                sweep_<attack>.png/.dat (accuracy against p, one curve per grid point)
//   compare      runs.csv (one row per run), compare.csv and compare.md (one row per variant;
//                compare.md also printed), training_curves.png/.dat
#pragma once

#include <spdlog/logger.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jobs/compare.hpp"
#include "jobs/sweep.hpp"
#include "study/study.hpp"

namespace dynsim::study {

// A figure of a run's metrics.json by JSON pointer; NaN where the run has none.
double figure(const nlohmann::json& metrics, const std::string& pointer);

void summarise_seeds(const Study& s, const std::vector<Outcome>& outcomes, spdlog::logger& log);
void summarise_sweep(const Sweep& sweep, const Study& s, const std::vector<Outcome>& outcomes,
                     spdlog::logger& log);
void summarise_comparison(const Comparison& c, const Study& s, const std::vector<Outcome>& outcomes,
                          spdlog::logger& log);

}  // namespace dynsim::study
