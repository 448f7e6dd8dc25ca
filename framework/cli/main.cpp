// The `dynsim` command line. Exit codes: 0 success; 2 any error found before integration starts
// (bad scenario or --set, missing or ABI-mismatched plugin, bad data file); 1 a failure while
// running.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "common/errors.hpp"
#include "common/version.hpp"
#include "jobs/compare.hpp"
#include "jobs/generate.hpp"
#include "jobs/instances.hpp"
#include "jobs/simulate.hpp"
#include "jobs/sweep.hpp"
#include "jobs/train_job.hpp"
#include "run/atomic_file.hpp"
#include "run/model_file.hpp"
#include "run/provenance.hpp"
#include "run/run_folder.hpp"
#include "run/stats.hpp"
#include "scenario/wiring.hpp"

namespace {

using namespace dynsim;

constexpr const char* kFilePattern = "[%Y-%m-%d %H:%M:%S.%e] [%l] %v";

// Messages logged before the run folder exists (plugin constructors, say) are kept here and
// copied into run.log once it is opened.
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> g_backlog;

std::shared_ptr<spdlog::logger> make_logger(const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  g_backlog = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  g_backlog->set_pattern(kFilePattern);
  auto log = std::make_shared<spdlog::logger>("dynsim", spdlog::sinks_init_list{sink, g_backlog});
  log->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::info);
  return log;
}

// Plugins log through this C callback; spdlog stays in the host.
void plugin_log(void* state, int level, const char* source, const char* message) {
  auto* log = static_cast<spdlog::logger*>(state);
  const auto lvl = static_cast<spdlog::level::level_enum>(std::clamp(level, 0, 4));
  log->log(lvl, "[{}] {}", source, message);
}

std::string format_value(const OptionValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        std::ostringstream s;
        if constexpr (std::is_same_v<T, bool>) {
          s << (x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, std::string>) {
          s << '"' << x << '"';
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
          s << x;
        } else {
          s << (x.empty() ? "[]" : "[...]");
        }
        return s.str();
      },
      v);
}

void print_specs(std::ostream& o, const OptionSpecs& specs) {
  for (const auto& s : specs) {
    o << "      " << s.name << " (" << type_name(s.type) << ", "
      << (s.required() ? std::string("required") : "default " + format_value(*s.default_value));
    if (s.lo || s.hi) {
      o << ", ";
      if (s.lo) o << (s.lo_open ? "> " : ">= ") << *s.lo;
      if (s.lo && s.hi) o << " and ";
      if (s.hi) o << "<= " << *s.hi;
    }
    if (!s.choices.empty()) {
      std::string c;
      for (const auto& x : s.choices) c += (c.empty() ? "" : "|") + x;
      o << ", one of " << c;
    }
    o << ")\n          " << s.doc << "\n";
  }
}

struct Common {
  std::string scenario;
  std::vector<std::string> sets;
  std::optional<std::int64_t> seed, threads;
  bool in_sweep = false;  // a run of a sweep: its [sweep] table is not run again
  std::string eval_name;  // evaluate, generate: the subfolder of RUN/evaluations or RUN/generated
  GenerateConfig gen;     // generate
  std::vector<int> gen_classes;
  std::vector<std::int64_t> gen_interpolate;
  std::vector<std::string> all_sets() const {
    auto s = sets;
    if (seed) s.push_back("scenario.seed=" + std::to_string(*seed));
    if (threads) s.push_back("scenario.threads=" + std::to_string(*threads));
    return s;
  }
};

void add_common(CLI::App* cmd, Common& c, const std::string& positional, const std::string& what,
                bool required) {
  cmd->add_option(positional, c.scenario, what)->required(required);
  cmd->add_option("--set", c.sets, "override a key: TABLE.KEY=VALUE (repeatable; VALUE is TOML)");
  cmd->add_option("--seed", c.seed, "same as --set scenario.seed=N");
  cmd->add_option("--threads", c.threads, "same as --set scenario.threads=N (0: all cores)");
}

void warn_versions(const Wiring& w, spdlog::logger& log) {
  for (const auto& [table, c] : w.plugins)
    if (!c.requested_version.empty() && c.requested_version != c.record->version)
      log.warn("[{}] asks for plugin '{}' version {}, loaded version {} from {}", table,
               c.record->name, c.requested_version, c.record->version, c.record->file.string());
  const auto& v = w.scenario_table.string("dynsim_version");
  if (!v.empty() && v != kDynsimVersion)
    log.warn("scenario was written by dynsim {}, this is {}", v, kDynsimVersion);
}

std::string describe_wiring(const Wiring& w) {
  std::ostringstream s;
  s << "scenario '" << w.name << "' (" << (w.precision == Precision::f32 ? "f32" : "f64")
    << ", seed " << w.seed << ", " << w.threads << " thread(s))\n";
  for (const auto& [table, kind] : plugin_roles())
    if (const auto* c = w.plugin(table))
      s << "  " << std::left << std::setw(9) << table << c->record->name << " "
        << c->record->version << "  (" << c->record->file.string() << ")\n";
  const auto& ic = w.integrator;
  s << "  integrator " << method_name(ic.method) << ", dt " << ic.dt << ", t " << ic.t0 << " -> "
    << ic.t_end;
  if (ic.method != Method::dopri5) s << " (" << ic.fixed_steps() << " steps)";
  return s.str();
}

enum class Mode { run, validate, resume, evaluate, stability, generate };

// Routes the log into RUN/run.log from here on, after what was logged before the folder existed.
void attach_run_log(const RunFolder& out, spdlog::logger& log) {
  {
    std::ofstream early(out.path("run.log"), std::ios::app);
    for (const auto& line : g_backlog->last_formatted()) early << line;
  }
  auto file_sink =
      std::make_shared<spdlog::sinks::basic_file_sink_mt>(out.path("run.log").string());
  file_sink->set_pattern(kFilePattern);
  auto& sinks = log.sinks();
  // Only this run's file: the previous run of a --seeds or sweep loop gets no more lines.
  sinks.erase(
      std::remove_if(sinks.begin(), sinks.end(),
                     [](const spdlog::sink_ptr& s) {
                       return s == g_backlog ||
                              std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(s);
                     }),
      sinks.end());
  sinks.push_back(file_sink);
}

template <class S>
int run_job(const Wiring& w, Mode mode, const std::filesystem::path& out_dir, const Common& c,
            const std::string& command_line, spdlog::logger& log) {
  const std::string& eval_name = c.eval_name;
  auto in = instantiate<S>(w, LogSink{plugin_log, &log}, data_dir());
  if (mode == Mode::generate) {
    load_model(out_dir / "model", *in.model);
    RunFolder out = RunFolder::create(
        out_dir / "generated" / (eval_name.empty() ? utc_timestamp(true) : eval_name), w.name);
    attach_run_log(out, log);
    log.info("dynsim {} generate -> {}", kDynsimVersion, out.dir().string());
    nlohmann::json result = generate(w, in, out, c.gen, log);
    result["command"] = command_line;
    out.write_json("generate.json", result);
    std::cout << out.dir().string() << "\n";
    return 0;
  }
  if (mode == Mode::evaluate || mode == Mode::stability) {
    // out_dir is the trained run's folder; results go to a new subfolder of it.
    load_model(out_dir / "model", *in.model);
    const bool ev = mode == Mode::evaluate;
    RunFolder out =
        RunFolder::create(out_dir / (ev ? "evaluations" : "stability") /
                              (ev && !eval_name.empty() ? eval_name : utc_timestamp(true)),
                          w.name);
    attach_run_log(out, log);
    const nlohmann::json result =
        ev ? evaluate_model(w, in, out, log) : stability_report(w, in, out, log);
    out.write_json(ev ? "evaluation.json" : "stability.json", result);
    std::cout << out.dir().string() << "\n";
    return 0;
  }
  std::optional<SimulateJob<S>> sim;
  std::optional<TrainJob<S>> train;
  if (w.training)
    train.emplace(w, in);
  else
    sim.emplace(w, in);
  if (mode == Mode::validate) {
    std::cout << "OK " << describe_wiring(w) << "\n  model state dimension N = " << in.model->dim()
              << "\n  job: " << (w.training ? "train" : "simulate") << "\n";
    return 0;
  }
  const bool resume = mode == Mode::resume;
  RunFolder out = resume ? RunFolder::open(out_dir) : RunFolder::create(out_dir, w.name);
  attach_run_log(out, log);
  log.info("dynsim {} -> {}{}", kDynsimVersion, out.dir().string(), resume ? " (resuming)" : "");
  std::istringstream lines(describe_wiring(w));
  for (std::string line; std::getline(lines, line);) log.info("{}", line);

  std::ostringstream resolved;
  resolved << "# Resolved by dynsim " << kDynsimVersion << " from " << w.scenario.file().string()
           << ": every default filled in.\n# Rerun with: dynsim run scenario.resolved.toml\n\n"
           << toml::toml_formatter(w.resolved()) << "\n";
  out.write_text("scenario.resolved.toml", resolved.str());
  out.write_json(resume ? "provenance.resume.json" : "provenance.json",
                 provenance(w, command_line));

  const auto start = std::chrono::steady_clock::now();
  nlohmann::json metrics;
  try {
    metrics = train ? train->run(out, log, resume) : sim->run(out, log);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    out.write_json("metrics.json", {{"status", "failed"}, {"error", e.what()}});
    throw RunError(e.what());
  }
  const bool diverged = metrics.value("diverged", false);
  metrics["status"] = diverged ? "diverged" : "ok";
  metrics["total_wall_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics["peak_rss_bytes"] = peak_rss_bytes();
  out.write_json("metrics.json", metrics);
  log.info("run folder: {} ({:.1f} s, peak memory {:.0f} MB)", out.dir().string(),
           metrics["total_wall_seconds"].get<double>(), double(peak_rss_bytes()) / 1e6);
  std::cout << out.dir().string() << "\n";
  return diverged ? 1 : 0;
}

int cmd_sweep(const Common& c, const Sweep& sweep, const std::string& out,
              const std::string& command_line, spdlog::logger& log);

int cmd_run(const Common& c, Mode mode, const std::string& out, const std::string& command_line,
            spdlog::logger& log) {
  std::filesystem::path scenario = c.scenario, out_dir = out;
  if (mode == Mode::evaluate || mode == Mode::stability || mode == Mode::resume ||
      mode == Mode::generate) {
    // These start from a run folder: its resolved scenario, with any --set on top.
    out_dir = mode == Mode::resume ? out : c.scenario;
    scenario = out_dir / "scenario.resolved.toml";
    if (!std::filesystem::is_regular_file(scenario))
      throw InputError(out_dir.string() + ": not a run folder (no scenario.resolved.toml)");
  }
  Registry registry;
  const Wiring w = wire(scenario, c.all_sets(), registry);
  warn_versions(w, log);
  const auto sweep = parse_sweep(w.scenario);  // checked in every mode, validate included
  if (sweep && mode == Mode::run && !c.in_sweep)
    return cmd_sweep(c, *sweep, out, command_line, log);
  set_threads(w.threads);
  return w.precision == Precision::f32 ? run_job<float>(w, mode, out_dir, c, command_line, log)
                                       : run_job<double>(w, mode, out_dir, c, command_line, log);
}

// A scenario's [sweep]: every grid point and seed trained (reusing finished runs), each model
// evaluated under the sweep's attacks, then the tables and figures. The default folder has no
// time stamp, so running the same command again resumes the sweep.
int cmd_sweep(const Common& c, const Sweep& sweep, const std::string& out,
              const std::string& command_line, spdlog::logger& log) {
  const std::filesystem::path base =
      out.empty() ? std::filesystem::path("runs") /
                        (std::filesystem::path(c.scenario).stem().string() + "-sweep")
                  : std::filesystem::path(out);
  SweepCallbacks cb;
  cb.run = [&](const std::vector<std::string>& sets, const std::filesystem::path& dir) {
    Common one = c;
    one.sets.insert(one.sets.end(), sets.begin(), sets.end());
    one.seed.reset();  // the sweep's seed is in sets
    one.in_sweep = true;
    return cmd_run(one, Mode::run, dir.string(), command_line, log);
  };
  cb.evaluate = [&](const std::filesystem::path& run_dir, const std::vector<std::string>& sets,
                    const std::string& name) {
    Common e;
    e.scenario = run_dir.string();
    e.sets = sets;
    e.threads = c.threads;
    e.eval_name = name;
    return cmd_run(e, Mode::evaluate, "", command_line, log);
  };
  const int rc = run_sweep(sweep, base, cb, log);
  std::cout << base.string() << "\n";
  return rc;
}

// "1,2,5" or "1-5" (or a mix) -> the seeds.
std::vector<std::int64_t> parse_seeds(const std::string& text) {
  std::vector<std::int64_t> out;
  std::stringstream ss(text);
  for (std::string part; std::getline(ss, part, ',');) {
    try {
      const auto dash = part.find('-', 1);
      if (dash == std::string::npos) {
        out.push_back(std::stoll(part));
      } else {
        const auto a = std::stoll(part.substr(0, dash)), b = std::stoll(part.substr(dash + 1));
        if (b < a || b - a > 10000) throw std::invalid_argument(part);
        for (auto v = a; v <= b; ++v) out.push_back(v);
      }
    } catch (const std::exception&) {
      throw InputError("--seeds '" + text + "': expected a list like 1,2,3 or 1-5");
    }
  }
  if (out.empty()) throw InputError("--seeds '" + text + "': no seeds");
  return out;
}

// One run per seed in OUT/seed-<s>/, then OUT/summary.json and OUT/seeds.csv with the mean and
// standard deviation of the headline figures over the seeds.
int cmd_seeds(const Common& c, const std::string& seeds, const std::string& out,
              const std::string& command_line, spdlog::logger& log) {
  const auto list = parse_seeds(seeds);
  const std::filesystem::path base =
      out.empty()
          ? std::filesystem::path("runs") / (std::filesystem::path(c.scenario).stem().string() +
                                             "-seeds-" + utc_timestamp(true))
          : std::filesystem::path(out);
  int rc = 0;
  std::vector<nlohmann::json> metrics;
  for (auto seed : list) {
    Common one = c;
    one.seed = seed;
    const auto dir = base / ("seed-" + std::to_string(seed));
    log.info("seed {} -> {}", seed, dir.string());
    rc = std::max(rc, cmd_run(one, Mode::run, dir.string(), command_line, log));
    std::ifstream in(dir / "metrics.json");
    metrics.push_back(nlohmann::json::parse(in));
  }
  // Headline figures, where the job has them: (name, JSON pointer).
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"test_accuracy", "/test/T/accuracy"},
      {"test_accuracy_nearest", "/test/T/accuracy_nearest"},
      {"test_accuracy_at_horizon", "/test/at_horizon/accuracy"},
      {"best_val_accuracy", "/best_val_accuracy"},
      {"train_wall_seconds", "/train_wall_seconds"},
      {"total_wall_seconds", "/total_wall_seconds"}};
  nlohmann::json summary = {{"seeds", list}, {"runs", base.string()}};
  std::ostringstream csv;
  csv << "seed";
  for (const auto& [name, ptr] : fields) csv << "," << name;
  csv << ",all_stable\n";
  for (std::size_t i = 0; i < list.size(); ++i) {
    csv << list[i];
    for (const auto& [name, ptr] : fields) {
      const auto p = nlohmann::json::json_pointer(ptr);
      csv << ","
          << (metrics[i].contains(p) && metrics[i][p].is_number() ? metrics[i][p].dump() : "");
    }
    const auto st = nlohmann::json::json_pointer("/stability/all_stable");
    csv << "," << (metrics[i].contains(st) ? metrics[i][st].dump() : "") << "\n";
  }
  for (const auto& [name, ptr] : fields) {
    const auto p = nlohmann::json::json_pointer(ptr);
    std::vector<double> v;
    for (const auto& m : metrics)
      if (m.contains(p) && m[p].is_number()) v.push_back(m[p].get<double>());
    if (v.empty()) continue;
    const Stat st = stat_of(v);
    summary[name] = {
        {"mean", st.mean}, {"std", st.sd}, {"min", st.min}, {"max", st.max}, {"n", st.n}};
    log.info("{:<26} mean {:.6g}  std {:.3g}  (n = {})", name, st.mean, st.sd, st.n);
  }
  bool all_stable = true;
  for (const auto& m : metrics)
    all_stable &= m.value(nlohmann::json::json_pointer("/stability/all_stable"), true);
  summary["all_runs_all_attractors_stable"] = all_stable;
  write_file_atomic(base / "summary.json", summary.dump(2) + "\n");
  write_file_atomic(base / "seeds.csv", csv.str());
  std::cout << base.string() << "\n";
  return rc;
}

// Variants trained on the same data with the same seeds, then one table. Every variant is wired
// (plugins loaded, options checked) and its resolved [dataset] compared before anything trains,
// so a typo or a mismatched dataset fails in seconds, not hours in.
int cmd_compare(const std::vector<std::string>& files, const std::vector<std::string>& sets,
                const std::string& seeds, const std::optional<std::int64_t>& threads,
                const std::string& out, const std::string& command_line, spdlog::logger& log) {
  if (files.empty()) throw InputError("compare: give scenario files or one comparison file");
  Comparison cmp;
  if (files.size() == 1 && is_comparison_file(files[0])) {
    cmp = parse_comparison(files[0]);
    if (!seeds.empty()) cmp.seeds = parse_seeds(seeds);
  } else {
    if (files.size() < 2)
      throw InputError(files[0] + ": one scenario is no comparison; give two or more");
    cmp = comparison_of_files(files,
                              seeds.empty() ? std::vector<std::int64_t>{} : parse_seeds(seeds));
  }
  for (auto& v : cmp.variants) v.sets.insert(v.sets.end(), sets.begin(), sets.end());
  std::string data, first;
  for (const auto& v : cmp.variants) {
    Registry registry;
    const Wiring w = wire(v.scenario, v.sets, registry);
    if (!w.training)
      throw InputError(v.scenario.string() + ": variant '" + v.name +
                       "' does not train (no [train] table)");
    if (parse_sweep(w.scenario))
      throw InputError(v.scenario.string() + ": variant '" + v.name +
                       "' is a sweep; compare plain scenarios");
    std::ostringstream d;
    const toml::table resolved = w.resolved();
    if (const auto* t = resolved["dataset"].as_table()) d << *t;
    if (first.empty()) {
      first = v.name;
      data = d.str();
    } else if (d.str() != data) {
      throw InputError("variant '" + v.name + "' (" + v.scenario.string() +
                       ") uses other data than variant '" + first +
                       "': their resolved [dataset] tables differ; a comparison trains every "
                       "variant on the same data");
    }
  }
  const std::filesystem::path base = out.empty()
                                         ? std::filesystem::path("runs") / (cmp.name + "-compare")
                                         : std::filesystem::path(out);
  CompareCallbacks cb;
  cb.run = [&](const Variant& v, std::int64_t seed, const std::filesystem::path& dir) {
    Common one;
    one.scenario = v.scenario.string();
    one.sets = v.sets;
    one.seed = seed;
    one.threads = threads;
    return cmd_run(one, Mode::run, dir.string(), command_line, log);
  };
  const int rc = run_comparison(cmp, base, cb, log);
  std::cout << base.string() << "\n";
  return rc;
}

int cmd_plugins(const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> dirs(paths.begin(), paths.end());
  dirs = Registry::search_path(dirs);
  Registry registry;
  registry.load_directories(dirs);
  std::cout << "plugin search path:\n";
  for (const auto& d : dirs) std::cout << "  " << d.string() << "\n";
  for (const auto& [table, kind] : plugin_roles()) {
    std::cout << "\n" << kind_name(kind) << " plugins ([" << table << "] plugin = NAME):\n";
    bool any = false;
    for (const auto& name : registry.names(kind)) {
      const auto& p = registry.find(kind, name);
      any = true;
      std::cout << "  " << p.name << " " << p.version << " - " << p.summary
                << "\n    file: " << p.file.string() << "\n";
      const auto specs = p.factory->options();
      if (specs.empty()) std::cout << "      (no options)\n";
      print_specs(std::cout, specs);
    }
    if (!any) std::cout << "  (none)\n";
  }
  return 0;
}

int cmd_tables() {
  std::cout << "Host tables of a scenario (plugin tables: see `dynsim plugins`):\n";
  for (const auto& [name, specs] : host_tables()) {
    std::cout << "\n  [" << name << "]\n";
    print_specs(std::cout, specs);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
  std::vector<std::string> plugin_paths;
  auto* plugins = app.add_subcommand("plugins", "list installed plugins with their options");
  plugins->add_option("--path", plugin_paths, "extra plugin folder (repeatable)");
  auto* tables = app.add_subcommand("tables", "list the host's scenario tables and keys");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  auto log = make_logger(level);
  try {
    if (*run) {
      if (!resume.empty()) {
        if (!out.empty() && out != resume)
          throw InputError("--resume continues in RUN_DIR; do not give a different --out");
        if (!run_opts.scenario.empty())
          throw InputError("--resume takes its scenario from RUN_DIR; give no scenario file");
        return cmd_run(run_opts, Mode::resume, resume, command_line, *log);
      }
      if (run_opts.scenario.empty()) throw InputError("run: give a scenario file (or --resume)");
      if (is_comparison_file(run_opts.scenario)) {
        if (run_opts.seed) throw InputError("a comparison takes --seeds, not --seed");
        return cmd_compare({run_opts.scenario}, run_opts.sets, seeds, run_opts.threads, out,
                           command_line, *log);
      }
      if (!seeds.empty()) {
        if (run_opts.seed) throw InputError("give --seed or --seeds, not both");
        return cmd_seeds(run_opts, seeds, out, command_line, *log);
      }
      return cmd_run(run_opts, Mode::run, out, command_line, *log);
    }
    if (*validate) return cmd_run(val_opts, Mode::validate, "", command_line, *log);
    if (*evaluate) return cmd_run(eval_opts, Mode::evaluate, "", command_line, *log);
    if (*stability) return cmd_run(stab_opts, Mode::stability, "", command_line, *log);
    if (*gen) {
      gen_opts.gen.classes = gen_opts.gen_classes;
      if (!gen_opts.gen_interpolate.empty())
        gen_opts.gen.interpolate = {gen_opts.gen_interpolate[0], gen_opts.gen_interpolate[1]};
      return cmd_run(gen_opts, Mode::generate, "", command_line, *log);
    }
    if (*compare)
      return cmd_compare(compare_files, compare_sets, compare_seeds, compare_threads, compare_out,
                         command_line, *log);
    if (*plugins) return cmd_plugins(plugin_paths);
    if (*tables) return cmd_tables();
  } catch (const InputError& e) {
    log->error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return 1;
  }
  return 0;
}
