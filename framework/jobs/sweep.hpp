// Sweeps: a grid of scenario overrides x seeds, one training run per (point, seed), each trained
// model evaluated under every attack at every strength, and the results gathered into tidy
// tables and figures. A scenario asks for one with a [sweep] table:
//
//   [sweep]
//   seeds = [1, 2, 3, 4, 5]
//   compare = "noise.sigma"               # optional: paired differences to its first value
//   [sweep.grid]
//   "noise.sigma" = [0.0, 0.05, 0.1, 0.2]
//   "noise.formula" = ["geometric_mean", "paper_eq8"]
//   [[sweep.attack]]
//   plugin = "replace_uniform"
//   p = [0.0, 0.1, 0.2]
//   repeats = 1                            # optional; other keys are the plugin's options
//   name = "replace_uniform_nonoise"       # optional: its name in folders and tables
//   evaluate_with = { "noise.sigma" = 0.0 }  # optional: overrides for its evaluation only
//
// Runs live in OUT/<point>/seed-<s>/, attack evaluations in <run>/evaluations/attack-<plugin>/.
// A restarted sweep reuses every run and evaluation that finished (metrics.json with status ok,
// evaluation.json) and redoes the rest.
#pragma once

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "scenario/scenario.hpp"

namespace dynsim {

struct SweepAttack {
  std::string plugin;
  std::string name;  // the attack's name in folders and tables (default: the plugin's)
  std::vector<std::string> eval_sets;  // evaluate_with: "TABLE.KEY=VALUE" for its evaluation
  std::vector<double> p;
  std::int64_t repeats = 1;
  std::vector<std::string> sets;  // "attack.KEY=VALUE" for the plugin's own options
};

struct Sweep {
  std::vector<std::int64_t> seeds;
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // key -> TOML values
  std::vector<SweepAttack> attacks;
  std::string compare;  // a grid key, or empty
};

// Shared with comparisons (jobs/compare.hpp):
// a TOML value (scalar or list) as the text of a --set value (InputError naming `where` for
// anything else);
std::string toml_text(const toml::node& n, const std::string& where);
// a JSON file, or null when it is missing or cut short;
nlohmann::json read_json(const std::filesystem::path& p);
// whether a run folder holds a finished run (metrics.json with status ok or diverged).
bool run_finished(const std::filesystem::path& dir);

// The scenario's [sweep] table, checked (InputError naming file:line:column), or nothing.
std::optional<Sweep> parse_sweep(const Scenario& scenario);

struct SweepCallbacks {
  // Trains one run with these overrides (on top of the command line's) into dir; returns the
  // exit code.
  std::function<int(const std::vector<std::string>& sets, const std::filesystem::path& dir)> run;
  // Evaluates the run in `run_dir` with these overrides into run_dir/evaluations/<name>/.
  std::function<int(const std::filesystem::path& run_dir, const std::vector<std::string>& sets,
                    const std::string& name)>
      evaluate;
};

// Runs (or resumes) the sweep into `out` and writes sweep.csv, summary.csv, compare.csv and a
// figure per attack. Returns the largest exit code of its runs.
int run_sweep(const Sweep& sweep, const std::filesystem::path& out, const SweepCallbacks& cb,
              spdlog::logger& log);

}  // namespace dynsim
