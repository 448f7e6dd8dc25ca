// The commands behind the CLI: run a scenario into a run folder (or a study: --seeds, [sweep],
// compare), validate it, evaluate, analyse or generate from a trained run, list plugins and
// tables. cli/main.cpp only parses arguments and maps errors to exit codes: InputError 2, any
// other exception 1.
#pragma once

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "jobs/generate.hpp"
#include "run/run_folder.hpp"

namespace dynsim {

enum class Mode { run, validate, resume, evaluate, stability, generate };

struct RunRequest {
  Mode mode = Mode::run;
  // run, validate: the scenario file; evaluate, stability, generate: the trained run's folder.
  std::string scenario;
  std::vector<std::string> sets;  // "TABLE.KEY=VALUE"
  std::optional<std::int64_t> seed, threads;
  // run: the run folder (empty: runs/<name>-<UTC time>), or a study's folder; resume: RUN_DIR.
  std::string out;
  std::string seeds;      // run: "1-5" or "1,3,7": one run per seed (a study)
  bool in_study = false;  // a run of a study: its scenario's [sweep] table is not run again
  std::string eval_name;  // evaluate, generate: the subfolder of RUN/evaluations or RUN/generated
  GenerateConfig gen;     // generate
  std::string command_line;  // recorded in the run's provenance

  // sets, then --seed and --threads as overrides.
  std::vector<std::string> all_sets() const;
};

// What a request made: its exit code and its folder (the run's, the evaluation's or the study's;
// empty for validate).
struct RunOutcome {
  int exit_code = 0;
  std::filesystem::path folder;
};

// run_scenario without printing the folder: the Python module's entry.
RunOutcome execute(const RunRequest& r, spdlog::logger& log);

// Runs the request and prints the folder it made on stdout; returns the exit code (1: a run
// diverged or, in a study, failed). A scenario with a [sweep] table, or --seeds, runs a study
// (study/study.hpp), spread over the MPI ranks; a lone run under several ranks is data-parallel and
// only rank 0 writes its folder.
int run_scenario(const RunRequest& r, spdlog::logger& log);

// `compare`: scenario files (each a variant) or one comparison file (jobs/compare.hpp), with
// `sets` on top of every variant, run as a study; seeds: "1-3" (empty: the file's, or 1).
int compare_command(const std::vector<std::string>& files, const std::vector<std::string>& sets,
                    const std::string& seeds, std::optional<std::int64_t> threads,
                    const std::string& out, const std::string& command_line, spdlog::logger& log);

// A run's model integrated from given starting points (the Python module's Run.simulate):
// RUN/scenario.resolved.toml with `sets` on top, the trained model of RUN/model (a simulation
// run's model is the one its scenario builds), the same
// integrator and noise law as `dynsim run` of a [simulate] scenario. x0 is one column per item:
// inputs (through encode()) or, with `states`, full states. The states come back in the run's
// precision, [save][item][node] (first path).
struct SimulateOutput {
  bool f64 = false;
  std::vector<float> f;
  std::vector<double> d;
  std::vector<double> times;
  std::int64_t saves = 0, items = 0, n = 0;
};
SimulateOutput simulate_run(const std::string& run_dir, const std::vector<std::string>& sets,
                            const Eigen::MatrixXd& x0, bool states, spdlog::logger& log);

int list_plugins(const std::vector<std::string>& paths);
// The same listing as data: [{kind, name, version, summary, file, options: [{name, type,
// default, doc}]}] (the Python module's dynsim.plugins()).
nlohmann::json plugins_json(const std::vector<std::string>& paths);
int list_tables();

// The CLI's logger at this level, on stderr. Ranks above 0 prefix their lines with "[rank r]"
// and show warnings and errors only (all levels at debug and trace); every rank's run.log still
// gets the full log. Lines logged before a run folder exists are kept for its run.log.
// `console` replaces stderr (the Python module writes to sys.stderr).
std::shared_ptr<spdlog::logger> make_logger(const std::string& level,
                                            spdlog::sink_ptr console = nullptr);
// Routes the log into RUN/run.log from here on, after what was logged before the folder
// existed. Nothing for a folder this rank does not write.
void attach_run_log(const RunFolder& out, spdlog::logger& log);
// Closes the run's log file: the next lines wait for the next run's folder (a study's runs).
void detach_run_log(spdlog::logger& log);

}  // namespace dynsim
