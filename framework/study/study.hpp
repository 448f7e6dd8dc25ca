// Studies: a list of runs (a resolved scenario x seed, each with a stable folder), planned,
// reused, spread over MPI ranks and recorded in OUT/study.json. `run --seeds`, [sweep] scenarios
// (jobs/sweep.hpp) and `compare` (jobs/compare.hpp) are front ends that build the list and pick
// a summary (study/summary.hpp).
//
// Planning wires every run before anything trains, so a typo fails in seconds (InputError, exit
// 2). A run is identified by the hash of its resolved scenario (scenario.threads left out:
// threads change rounding, not the experiment), computed from scenario.resolved.toml for a run
// on disk, so folders written before studies existed are recognised (failing that, from that
// file wired again: a key added since, at its default, is not another scenario). A finished run
// (metrics.json status ok or diverged) with the same hash is reused; one with another hash is
// moved aside to <dir>.superseded-<UTC time> (never deleted) and run again; anything else in its
// folder (a run cut short, a failed one) is removed and run again. A run that fails is recorded
// with its reason and the study goes on, so a restart of the same command redoes only what is
// missing or failed.
//
// Under mpirun the runs that need doing go to the ranks longest first (each to the least loaded
// rank); each rank runs its share one after the other on its own (not data-parallel) with the
// thread count it was given; rank 0 then writes study.json and the summary. The folders live on
// a file system every rank sees.
#pragma once

#include <spdlog/logger.h>
#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dynsim {
struct Wiring;
}

namespace dynsim::study {

// An evaluation of a trained run into <run>/evaluations/<name>/ (a sweep's attacks), reused when
// its evaluation.json exists.
struct Evaluation {
  std::string name;
  std::vector<std::string> sets;  // overrides on top of the run's resolved scenario
};

struct Run {
  std::string id;     // its folder relative to the study's: "sigma-0.05/seed-1", "seed-3"
  std::string group;  // the grid point's label, the variant's name, or "" (seeds)
  std::int64_t seed = 0;
  std::filesystem::path scenario;
  std::vector<std::string> sets;   // every override, "scenario.seed=N" included
  std::vector<std::size_t> point;  // sweeps: the grid point's index along each key
  std::vector<Evaluation> evaluations;
  // Filled in by plan():
  std::string hash;      // of the resolved scenario
  double cost = 1;       // relative work of training (and evaluating) it: for scheduling
  double eval_cost = 0;  // relative work of one evaluation
};

struct Study {
  std::string kind;  // "seeds", "sweep", "compare": the progress lines' prefix
  std::filesystem::path out;
  std::vector<Run> runs;
};

struct EvaluationOutcome {
  std::string name;
  std::string status;  // ok | reused | failed | skipped (the run failed)
  std::string reason;
};

struct Outcome {
  std::string status;       // ok | diverged | failed | reused
  std::string reason;       // failed: why
  std::string run_status;   // reused: the run's own status (ok | diverged)
  double wall_seconds = 0;  // spent on it by this study (training and evaluations)
  int rank = -1;            // the rank that ran it; -1: nothing to do
  std::vector<EvaluationOutcome> evaluations;
  // Whether the run has finished metrics to summarise (failed runs are skipped in tables).
  bool usable() const { return status != "failed"; }
};

struct Executor {
  // Trains the run into dir (which does not exist yet); returns the exit code. May throw.
  std::function<int(const Run& run, const std::filesystem::path& dir)> run;
  // Evaluates the run in run_dir into run_dir/evaluations/<e.name>/; returns the exit code.
  std::function<int(const std::filesystem::path& run_dir, const Evaluation& e)> evaluate;
  // Optional: called once a task's outcome is logged (closes the run's log file).
  std::function<void()> done;
};

// A check of each run's wiring before anything runs (a comparison checks its variants' data).
using Check = std::function<void(const Run& run, const Wiring& w)>;

// Wires every run (InputError for the first that does not wire or does not pass `check`) and
// fills in its hash and cost. Also refuses two runs with one folder.
void plan(Study& s, const Check& check = {});

struct Result {
  std::vector<Outcome> outcomes;  // one per run, in plan order, on every rank
  int exit_code = 0;              // 1 if a run failed or diverged (or an evaluation failed)
};

// Reuses, runs and records the planned study (see above); rank 0 writes OUT/study.json.
// Collective over parallel::Comm::world(): every rank calls it with the same study.
Result execute(const Study& s, const Executor& ex, spdlog::logger& log);

// Longest first: tasks sorted by cost, descending (ties keep their order), each given to the
// least loaded of `ranks` (the lowest on ties). `order` is the sorted task indices (each rank
// runs its tasks in this order), owner[task] the rank of each task.
struct Schedule {
  std::vector<std::size_t> order;
  std::vector<int> owner;
};
Schedule longest_first(const std::vector<double>& costs, int ranks);

// The hash of a resolved scenario's text: FNV-1a 64 (hex) of canonical_text().
std::string scenario_hash(const std::string& resolved_toml);
// The text parsed and formatted again (comments and layout gone) without scenario.threads.
std::string canonical_text(const std::string& resolved_toml);
// The hash of the run in `dir` (its scenario.resolved.toml), or "" when it has none.
std::string run_hash(const std::filesystem::path& dir);

// Shared by the front ends and summaries:
// a JSON object from a file, or null when it is missing, cut short or not an object;
nlohmann::json read_json(const std::filesystem::path& p);
// whether a run folder holds a finished run (metrics.json with status ok or diverged);
bool run_finished(const std::filesystem::path& dir);
// the string under `key` of a JSON object (a metrics.json's "status"), or "" when there is none;
std::string string_at(const nlohmann::json& j, const std::string& key);
// a name as a folder name: anything but letters, digits, '.', '-', '_' becomes '_';
std::string folder_safe(std::string s);
// "1,2,5" or "1-5" (or a mix), as --seeds takes them;
std::vector<std::int64_t> parse_seeds(const std::string& text);
// a TOML list of seeds (integers >= 0), `what` naming it in messages ("[sweep] seeds");
std::vector<std::int64_t> seed_list(const toml::node& n, const std::string& what);
// rank 0's value of a path, on every rank (a default folder named by the time).
std::filesystem::path same_on_every_rank(const std::filesystem::path& p);

// `run --seeds`: one run of the scenario per seed in OUT/seed-<s>/. `sets` are the command
// line's; threads, when given, is added to every run.
Study seeds_study(const std::filesystem::path& scenario, const std::vector<std::string>& sets,
                  const std::vector<std::int64_t>& seeds, std::optional<std::int64_t> threads,
                  const std::filesystem::path& out);

}  // namespace dynsim::study
