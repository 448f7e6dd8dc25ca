// Comparisons: several variants of a model (other scenarios, or overrides of one base scenario)
// trained on the same data with the same seeds, and one table of what tells attractor variants
// apart. Either `dynsim compare A.toml B.toml ...` (each file a variant named by its stem), or
// a comparison file:
//
//   [compare]
//   name = "letters_patterns"        # optional: the output folder's name (default: file stem)
//   base = "cvfr_letters.toml"       # the scenario variants override (relative to this file)
//   seeds = [1, 2, 3]
//   set = { "train.epochs" = 20 }    # optional: overrides for every variant (a shared budget)
//   [[variant]]
//   name = "block_on"
//   set = { "model.pattern" = "block_on" }
//   [[variant]]
//   name = "sanode"
//   scenario = "sanode_letters.toml" # instead of base
//
// Runs live in OUT/<variant>/seed-<s>/. The comparison is a study (study/study.hpp): run again,
// it reuses every finished run of the same resolved scenario. Written (study/summary.hpp):
// runs.csv (one row per variant and seed), compare.csv and compare.md (one row per variant: mean
// +- std over seeds), training_curves.png.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "study/study.hpp"

namespace dynsim {

struct Variant {
  std::string name;
  std::filesystem::path scenario;
  std::vector<std::string> sets;  // "TABLE.KEY=VALUE", the comparison's shared ones first
};

struct Comparison {
  std::string name;
  std::vector<std::int64_t> seeds;
  std::vector<Variant> variants;
};

// Whether a TOML file is a comparison file (has a [compare] table).
bool is_comparison_file(const std::filesystem::path& file);
// A comparison file, checked (InputError naming file:line:column).
Comparison parse_comparison(const std::filesystem::path& file);
// Scenario files as variants, named by their stems.
Comparison comparison_of_files(const std::vector<std::string>& files,
                               std::vector<std::int64_t> seeds);

// The comparison as a study: every variant x seed, in OUT/<variant>/seed-<s>/. threads, when
// given, is added to every run.
study::Study comparison_study(const Comparison& c, std::optional<std::int64_t> threads,
                              const std::filesystem::path& out);
// The check of each run's wiring before anything trains: the variant trains, is no sweep, and
// uses the same resolved [dataset] as the first variant (InputError otherwise).
study::Check comparison_check();

}  // namespace dynsim
