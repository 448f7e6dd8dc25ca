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
// Runs live in OUT/<variant>/seed-<s>/ and are reused when the comparison is run again.
// Written: runs.csv (one row per variant and seed), compare.csv and compare.md (one row per
// variant: mean +- std over seeds), training_curves.png.
#pragma once

#include <spdlog/logger.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

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

struct CompareCallbacks {
  // Trains one run of the variant with this seed into dir; returns the exit code.
  std::function<int(const Variant& v, std::int64_t seed, const std::filesystem::path& dir)> run;
};

// Runs (or resumes) every variant and seed into `out` and writes the tables and the figure.
// Returns the largest exit code of its runs.
int run_comparison(const Comparison& c, const std::filesystem::path& out,
                   const CompareCallbacks& cb, spdlog::logger& log);

}  // namespace dynsim
