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
// Runs live in OUT/<point>/seed-<s>/, attack evaluations in <run>/evaluations/attack-<name>/.
// The sweep is a study (study/study.hpp): a restarted sweep reuses every run of the same resolved
// scenario that finished and every evaluation.json, and redoes the rest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "scenario/scenario.hpp"
#include "study/study.hpp"

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

// A TOML value (scalar or list) as the text of a --set value (InputError naming `where` for
// anything else); shared with comparisons (jobs/compare.hpp).
std::string toml_text(const toml::node& n, const std::string& where);

// The scenario's [sweep] table, checked (InputError naming file:line:column), or nothing.
std::optional<Sweep> parse_sweep(const Scenario& scenario);

// A grid point (its index along each grid key) as a folder name: "sigma-0.05_formula-paper_eq8";
// "base" for an empty grid.
std::string point_label(const Sweep& sweep, const std::vector<std::size_t>& point);

// The sweep as a study: every grid point (row-major: the last key varies fastest) x seed, in
// OUT/<point>/seed-<s>/, trained with `sets` (the command line's), the point's values and the
// seed; each then evaluated under every attack into <run>/evaluations/attack-<name>/. threads,
// when given, is added to every run and evaluation. The tables: study::summarise_sweep.
study::Study sweep_study(const Sweep& sweep, const std::filesystem::path& scenario,
                         const std::vector<std::string>& sets, std::optional<std::int64_t> threads,
                         const std::filesystem::path& out);

}  // namespace dynsim
