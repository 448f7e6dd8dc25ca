// The `dynsim` command line: argument parsing and the mapping of errors to exit codes, 0
// success; 2 any error found before integration starts (bad scenario or --set, missing or
// ABI-mismatched plugin, bad data file); 1 a failure while running. The commands themselves are
// in jobs/commands.hpp. Under mpirun every rank runs this; see parallel/comm.hpp.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/version.hpp"
#include "jobs/check_plugin.hpp"
#include "jobs/commands.hpp"
#include "jobs/compare.hpp"
#include "jobs/new_plugin.hpp"
#include "parallel/comm.hpp"

namespace {

using namespace dynsim;

// What run, validate, evaluate, stability and generate share on the command line.
struct Common {
  std::string scenario;
  std::vector<std::string> sets;
  std::optional<std::int64_t> seed, threads;
  std::string eval_name;  // evaluate, generate: the subfolder of RUN/evaluations, RUN/generated
  GenerateConfig gen;     // generate
  std::vector<int> gen_classes;
  std::vector<std::int64_t> gen_interpolate;

  RunRequest request(Mode mode, const std::string& command_line) const {
    RunRequest r;
    r.mode = mode;
    r.scenario = scenario;
    r.sets = sets;
    r.seed = seed;
    r.threads = threads;
    r.eval_name = eval_name;
    r.gen = gen;
    r.command_line = command_line;
    return r;
  }
};

void add_common(CLI::App* cmd, Common& c, const std::string& positional, const std::string& what,
                bool required) {
  cmd->add_option(positional, c.scenario, what)->required(required);
  cmd->add_option("--set", c.sets, "override a key: TABLE.KEY=VALUE (repeatable; VALUE is TOML)");
  cmd->add_option("--seed", c.seed, "same as --set scenario.seed=N");
  cmd->add_option("--threads", c.threads, "same as --set scenario.threads=N (0: all cores)");
}

// An error that ends the command. Under mpirun the other ranks may be waiting for this one in a
// collective and would wait forever: end them all.
int fail(spdlog::logger& log, const std::exception& e, int code) {
  log.error("{}", e.what());
  if (parallel::Comm::world().distributed()) {
    log.flush();
    parallel::abort(code);
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  parallel::init(argc, argv);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);

  CLI::App app{"dynsim " + std::string(kDynsimVersion) +
               ": simulate and train dynamical systems as classifiers and generators"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(kDynsimVersion));
  std::string level = "info";
  app.add_option("--log-level", level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  Common run_opts, val_opts, eval_opts, stab_opts, gen_opts;
  std::string out, resume, seeds;
  auto* run = app.add_subcommand("run", "run a scenario (simulate or train) into a run folder");
  add_common(run, run_opts, "scenario", "scenario file (TOML)", false);
  run->add_option("--out", out, "run folder (default: runs/<name>-<UTC time>)");
  run->add_option("--seeds", seeds,
                  "one run per seed (e.g. 1-5 or 1,3,7) into OUT/seed-<s>/, plus OUT/summary.json "
                  "with mean and std over the seeds");
  run->add_option("--resume", resume,
                  "continue the training in RUN_DIR from its last checkpoint (its resolved "
                  "scenario, with any --set on top)");
  auto* validate =
      app.add_subcommand("validate", "check a scenario and its plugins without running");
  add_common(validate, val_opts, "scenario", "scenario file (TOML)", true);
  auto* evaluate = app.add_subcommand(
      "evaluate", "reload a trained run's model and evaluate it ([evaluate] keys via --set)");
  add_common(evaluate, eval_opts, "run_dir", "folder of a training run", true);
  evaluate->add_option("--name", eval_opts.eval_name,
                       "subfolder of RUN_DIR/evaluations (default: the time)");
  auto* stability = app.add_subcommand(
      "stability", "reload a trained run's model and analyse its planted attractors");
  add_common(stability, stab_opts, "run_dir", "folder of a training run", true);
  auto* gen = app.add_subcommand(
      "generate",
      "decode samples around a trained run's attractors (LNA, empirical, SDE) into "
      "RUN_DIR/generated/");
  add_common(gen, gen_opts, "run_dir", "folder of a training run (with a decoder: [latent])", true);
  GenerateConfig& gc = gen_opts.gen;
  gen->add_option("--class", gen_opts.gen_classes, "class to sample (repeatable; default: all)");
  gen->add_option("--count", gc.count, "samples per class")->check(CLI::Range(1, 100000));
  gen->add_option("--mode", gc.mode,
                  "lna: N(x_k, Sigma_k) of the linear noise approximation; "
                  "empirical: N(mean, cov) of x(T) over the class's training items; sde: paths "
                  "of the SDE from x_k")
      ->check(CLI::IsMember({"lna", "empirical", "sde"}));
  gen->add_option("--time", gc.sde_time, "sde: length of each path (default: the scenario's T)");
  gen->add_option("--max-items", gc.max_items, "empirical: class items used at most");
  gen->add_option("--interpolate", gen_opts.gen_interpolate,
                  "two test item indices: decoded points between their final states")
      ->expected(2);
  gen->add_option("--steps", gc.interpolate_steps, "interpolate: points between the two");
  gen->add_option("--disentangle", gc.disentangle,
                  "class: a grid along the top two principal directions of its LNA covariance");
  gen->add_option("--grid", gc.grid, "disentangle: points per direction");
  gen->add_option("--span", gc.span, "disentangle: +- this many standard deviations");
  gen->add_option("--directions", gc.directions,
                  "disentangle: top principal directions moved one at a time, a row each")
      ->check(CLI::Range(1, 1000));
  gen->add_option("--classifier", gc.classifier,
                  "a trained classifier run: the share of samples it assigns to their class");
  gen->add_option("--name", gen_opts.eval_name,
                  "subfolder of RUN_DIR/generated (default: the time)");
  std::vector<std::string> compare_files, compare_sets;
  std::string compare_out, compare_seeds;
  std::optional<std::int64_t> compare_threads;
  auto* compare = app.add_subcommand(
      "compare",
      "train variants (scenario files, or one comparison file with [compare] and [[variant]] "
      "tables) on the same data and seeds; one table of accuracy, stability, convergence");
  compare->add_option("files", compare_files, "scenario files, or one comparison file")->required();
  compare->add_option("--set", compare_sets, "override a key in every variant (repeatable)");
  compare->add_option("--seeds", compare_seeds, "seeds (e.g. 1-5); default: the file's, or 1");
  compare->add_option("--threads", compare_threads, "threads per run (0: all cores)");
  compare->add_option("--out", compare_out, "output folder (default: runs/<name>-compare)");
  std::string check_target;
  std::vector<std::string> check_sets;
  GradCheckConfig check_cfg;
  auto* check = app.add_subcommand(
      "check-plugin",
      "compare a model plugin's derivatives (drift_vjp, parameter gradients, fused Euler step, "
      "readout and encode) with finite differences on random states; exit 1 when one disagrees");
  check
      ->add_option("target", check_target,
                   "a scenario file (its [model], wired as a run would) or a model plugin's name")
      ->required();
  check->add_option("--set", check_sets, "override a key: TABLE.KEY=VALUE (e.g. model.n=20)");
  check->add_option("--batch", check_cfg.batch, "items per random state")
      ->check(CLI::Range(1, 4096));
  check->add_option("--directions", check_cfg.directions, "random directions per block")
      ->check(CLI::Range(1, 100));
  check->add_option("--tolerance", check_cfg.tolerance, "pass mark for the relative error")
      ->check(CLI::PositiveNumber);
  check->add_option("--seed", check_cfg.seed, "seed of the random states and directions");
  std::string new_kind, new_name, new_dir;
  auto* newp = app.add_subcommand(
      "new-plugin", "write a buildable plugin folder: CMakeLists.txt, the class, a scenario");
  newp->add_option("kind", new_kind, "plugin kind (model)")->required();
  newp->add_option("name", new_name, "plugin name (a-z, 0-9, _)")->required();
  newp->add_option("--dir", new_dir, "folder to write (default: ./NAME)");
  std::vector<std::string> plugin_paths;
  auto* plugins = app.add_subcommand("plugins", "list installed plugins with their options");
  plugins->add_option("--path", plugin_paths, "extra plugin folder (repeatable)");
  auto* tables = app.add_subcommand("tables", "list the host's scenario tables and keys");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    parallel::finalize();
    return rc == 0 ? 0 : 2;
  }

  auto log = make_logger(level);
  int rc = 0;
  try {
    rc = [&]() -> int {
      if (*run) {
        if (!resume.empty()) {
          if (!out.empty() && out != resume)
            throw InputError("--resume continues in RUN_DIR; do not give a different --out");
          if (!run_opts.scenario.empty())
            throw InputError("--resume takes its scenario from RUN_DIR; give no scenario file");
          RunRequest r = run_opts.request(Mode::resume, command_line);
          r.out = resume;
          return run_scenario(r, *log);
        }
        if (run_opts.scenario.empty()) throw InputError("run: give a scenario file (or --resume)");
        if (is_comparison_file(run_opts.scenario)) {
          if (run_opts.seed) throw InputError("a comparison takes --seeds, not --seed");
          return compare_command({run_opts.scenario}, run_opts.sets, seeds, run_opts.threads, out,
                                 command_line, *log);
        }
        if (!seeds.empty() && run_opts.seed) throw InputError("give --seed or --seeds, not both");
        RunRequest r = run_opts.request(Mode::run, command_line);
        r.out = out;
        r.seeds = seeds;
        return run_scenario(r, *log);
      }
      if (*validate) return run_scenario(val_opts.request(Mode::validate, command_line), *log);
      if (*evaluate) return run_scenario(eval_opts.request(Mode::evaluate, command_line), *log);
      if (*stability) return run_scenario(stab_opts.request(Mode::stability, command_line), *log);
      if (*gen) {
        gen_opts.gen.classes = gen_opts.gen_classes;
        if (!gen_opts.gen_interpolate.empty())
          gen_opts.gen.interpolate = {gen_opts.gen_interpolate[0], gen_opts.gen_interpolate[1]};
        return run_scenario(gen_opts.request(Mode::generate, command_line), *log);
      }
      if (*compare)
        return compare_command(compare_files, compare_sets, compare_seeds, compare_threads,
                               compare_out, command_line, *log);
      if (*check) return check_plugin(check_target, check_sets, check_cfg, *log);
      if (*newp) return new_plugin(new_kind, new_name, new_dir);
      if (*plugins) return list_plugins(plugin_paths);
      if (*tables) return list_tables();
      return 0;
    }();
  } catch (const InputError& e) {
    rc = fail(*log, e, 2);
  } catch (const std::exception& e) {
    rc = fail(*log, e, 1);
  }
  parallel::finalize();
  return rc;
}
