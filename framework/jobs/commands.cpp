#include "jobs/commands.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <span>
#include <sstream>

#include <dynsim/sdk/blas.hpp>

#include "common/errors.hpp"
#include "common/progress.hpp"
#include "common/version.hpp"
#include "jobs/compare.hpp"
#include "jobs/instances.hpp"
#include "jobs/simulate.hpp"
#include "jobs/sweep.hpp"
#include "jobs/train_job.hpp"
#include "parallel/comm.hpp"
#include "plugin_host/registry.hpp"
#include "run/model_file.hpp"
#include "run/provenance.hpp"
#include "scenario/wiring.hpp"
#include "study/study.hpp"
#include "study/summary.hpp"

namespace dynsim {
namespace fs = std::filesystem;

// ---- logging --------------------------------------------------------------------------------

namespace {

constexpr const char* kFilePattern = "[%Y-%m-%d %H:%M:%S.%e] [%l] %v";

// Messages logged before the run folder exists (plugin constructors, say) are kept here and
// copied into run.log once it is opened.
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> g_backlog;

std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> new_backlog() {
  auto b = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  b->set_pattern(kFilePattern);
  return b;
}

bool is_run_log(const spdlog::sink_ptr& s) {
  return s == g_backlog || std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(s);
}

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const std::string& level, spdlog::sink_ptr console) {
  const int rank = parallel::Comm::world().rank();
  const auto lvl = spdlog::level::from_str(level);
  spdlog::sink_ptr sink = console;
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  if (rank > 0) {
    sink->set_pattern("[%H:%M:%S.%e] [%^%l%$] [rank " + std::to_string(rank) + "] %v");
    // Rank 0 tells the story; the others speak up for trouble (or when debugging).
    if (lvl > spdlog::level::debug) sink->set_level(std::max(lvl, spdlog::level::warn));
  } else {
    sink->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  }
  g_backlog = new_backlog();
  auto log = std::make_shared<spdlog::logger>("dynsim", spdlog::sinks_init_list{sink, g_backlog});
  log->set_level(lvl);
  log->flush_on(spdlog::level::info);
  return log;
}

void attach_run_log(const RunFolder& out, spdlog::logger& log) {
  if (!out.writes()) return;  // rank 0 keeps this run's log
  if (g_backlog) {
    std::ofstream early(out.path("run.log"), std::ios::app);
    for (const auto& line : g_backlog->last_formatted()) early << line;
  }
  auto file_sink =
      std::make_shared<spdlog::sinks::basic_file_sink_mt>(out.path("run.log").string());
  file_sink->set_pattern(kFilePattern);
  auto& sinks = log.sinks();
  // Only this run's file: the previous run of a study gets no more lines.
  sinks.erase(std::remove_if(sinks.begin(), sinks.end(), is_run_log), sinks.end());
  sinks.push_back(file_sink);
}

void detach_run_log(spdlog::logger& log) {
  auto& sinks = log.sinks();
  sinks.erase(std::remove_if(sinks.begin(), sinks.end(), is_run_log), sinks.end());
  g_backlog = new_backlog();
  sinks.push_back(g_backlog);
}

// ---- one run --------------------------------------------------------------------------------

std::vector<std::string> RunRequest::all_sets() const {
  auto s = sets;
  if (seed) s.push_back("scenario.seed=" + std::to_string(*seed));
  if (threads) s.push_back("scenario.threads=" + std::to_string(*threads));
  return s;
}

namespace {

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
  s << "scenario '" << w.name << "' (" << precision_name(w.precision) << ", seed " << w.seed << ", "
    << w.threads << " thread(s))\n";
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

// A time stamp names a default subfolder; a second one within the same second gets "-2", "-3".
std::string unused_name(const fs::path& parent, const std::string& stem) {
  std::error_code ec;
  std::string name = stem;
  for (int k = 2; fs::exists(parent / name, ec); ++k) name = stem + "-" + std::to_string(k);
  return name;
}

// The run's folder, made by the current communicator's root only: under a data-parallel run
// the other ranks get the same path (rank 0's, time stamp included) and write nothing.
RunFolder folder_for(const std::function<RunFolder()>& make) {
  const auto& comm = parallel::current();
  if (!comm.distributed()) return make();
  std::optional<RunFolder> made;
  std::string path;
  if (comm.root()) {
    made.emplace(make());
    path = made->dir().string();
  }
  const auto all = comm.allgather(std::span<const char>(path.data(), path.size()));
  if (made) return *made;
  return RunFolder::discard(std::string(all[0].begin(), all[0].end()));
}

// metrics.json for a run that stopped. On a full disk this write can fail too; the reason the
// run stopped is what the user must see, so that second failure is only logged.
void record_failure(const RunFolder& out, const std::string& status, const std::string& why,
                    spdlog::logger& log) {
  try {
    out.write_json("metrics.json", {{"status", status}, {"error", why}});
  } catch (const std::exception& e) {
    log.error("{}", e.what());
  }
}

template <class S>
RunOutcome run_job(const Wiring& w, const RunRequest& r, const fs::path& out_dir,
                   spdlog::logger& log) {
  const std::string& eval_name = r.eval_name;
  auto in = instantiate<S>(w, log_sink(log), data_dir());
  if (r.mode == Mode::generate) {
    load_model(out_dir / "model", *in.model);
    RunFolder out = folder_for([&] {
      const fs::path parent = out_dir / "generated";
      return RunFolder::create(
          parent / (eval_name.empty() ? unused_name(parent, utc_timestamp(true)) : eval_name),
          w.name);
    });
    attach_run_log(out, log);
    log.info("dynsim {} generate -> {}", kDynsimVersion, out.dir().string());
    nlohmann::json result = generate(w, in, out, r.gen, log);
    result["command"] = r.command_line;
    out.write_json("generate.json", result);
    return {0, out.dir()};
  }
  if (r.mode == Mode::evaluate || r.mode == Mode::stability) {
    // out_dir is the trained run's folder; results go to a new subfolder of it.
    load_model(out_dir / "model", *in.model);
    const bool ev = r.mode == Mode::evaluate;
    RunFolder out = folder_for([&] {
      const fs::path parent = out_dir / (ev ? "evaluations" : "stability");
      return RunFolder::create(
          parent / (!eval_name.empty() ? eval_name : unused_name(parent, utc_timestamp(true))),
          w.name);
    });
    attach_run_log(out, log);
    const nlohmann::json result =
        ev ? evaluate_model(w, in, out, log) : stability_report(w, in, out, log);
    out.write_json(ev ? "evaluation.json" : "stability.json", result);
    return {0, out.dir()};
  }
  std::optional<SimulateJob<S>> sim;
  std::optional<TrainJob<S>> train;
  if (w.training)
    train.emplace(w, in);
  else
    sim.emplace(w, in);
  if (r.mode == Mode::validate) {
    // The data too: both splits read, their labels checked against the classes (exit 2).
    if (in.dataset)
      for (const Split split : {Split::train, Split::test}) load_split(*in.dataset, split, 0);
    if (parallel::current().root())
      std::cout << "OK " << describe_wiring(w)
                << "\n  model state dimension N = " << in.model->dim()
                << "\n  job: " << (w.training ? "train" : "simulate") << "\n";
    return {};
  }
  const bool resume = r.mode == Mode::resume;
  RunFolder out = folder_for(
      [&] { return resume ? RunFolder::open(out_dir) : RunFolder::create(out_dir, w.name); });
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
                 provenance(w, r.command_line));

  const auto start = std::chrono::steady_clock::now();
  nlohmann::json metrics;
  try {
    metrics = train ? train->run(out, log, resume) : sim->run(out, log);
  } catch (const InputError&) {
    throw;
  } catch (const progress::Interrupted& e) {
    record_failure(out, "interrupted", e.what(), log);
    log.warn("{}: {}", out.dir().string(), e.what());
    throw;
  } catch (const std::bad_alloc&) {
    const std::string why = "ran out of memory (peak " +
                            std::to_string(peak_rss_bytes() / 1000000) +
                            " MB): lower the batch sizes, the steps or the dataset's size";
    record_failure(out, "failed", why, log);
    throw RunError(why);
  } catch (const std::exception& e) {
    const std::string why = e.what();
    record_failure(out, "failed", why, log);
    throw RunError(why);
  }
  const bool diverged = metrics.value("diverged", false);
  metrics["status"] = diverged ? "diverged" : "ok";
  metrics["total_wall_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics["peak_rss_bytes"] = peak_rss_bytes();
  out.write_json("metrics.json", metrics);
  log.info("run folder: {} ({:.1f} s, peak memory {:.0f} MB)", out.dir().string(),
           metrics["total_wall_seconds"].get<double>(), double(peak_rss_bytes()) / 1e6);
  return {diverged ? 1 : 0, out.dir()};
}

// ---- studies --------------------------------------------------------------------------------

using Summarise =
    std::function<void(const study::Study& s, const std::vector<study::Outcome>& outcomes)>;

// Plans, runs (over the ranks) and summarises a study; every run and evaluation is a
// run_scenario of its own. Rank 0 writes the summary and prints the study's folder.
RunOutcome run_study(study::Study& s, const study::Check& check, const std::string& command_line,
                     const Summarise& summarise, spdlog::logger& log) {
  study::plan(s, check);
  study::Executor ex;
  ex.run = [&](const study::Run& one_run, const fs::path& dir) {
    RunRequest one;
    one.scenario = one_run.scenario.string();
    one.sets = one_run.sets;  // the seed and threads included
    one.out = dir.string();
    one.in_study = true;
    one.command_line = command_line;
    return run_scenario(one, log);
  };
  ex.evaluate = [&](const fs::path& run_dir, const study::Evaluation& e) {
    RunRequest one;
    one.mode = Mode::evaluate;
    one.scenario = run_dir.string();
    one.sets = e.sets;
    one.eval_name = e.name;
    one.command_line = command_line;
    return run_scenario(one, log);
  };
  ex.done = [&log] { detach_run_log(log); };
  const study::Result result = study::execute(s, ex, log);
  if (parallel::Comm::world().root()) summarise(s, result.outcomes);
  return {result.exit_code, s.out};
}

// A scenario's [sweep]: every grid point and seed trained (reusing finished runs), each model
// evaluated under the sweep's attacks, then the tables and figures. The default folder has no
// time stamp, so running the same command again resumes the sweep.
RunOutcome sweep_command(const RunRequest& r, Sweep sweep, spdlog::logger& log) {
  if (r.seed)
    throw InputError("a sweep takes its seeds from [sweep] seeds (or --seeds), not --seed");
  if (!r.seeds.empty()) sweep.seeds = study::parse_seeds(r.seeds);
  const fs::path base = r.out.empty()
                            ? fs::path("runs") / (fs::path(r.scenario).stem().string() + "-sweep")
                            : fs::path(r.out);
  study::Study s = sweep_study(sweep, r.scenario, r.sets, r.threads, base);
  return run_study(
      s, {}, r.command_line,
      [&](const study::Study& st, const std::vector<study::Outcome>& outcomes) {
        study::summarise_sweep(sweep, st, outcomes, log);
      },
      log);
}

// One run per seed in OUT/seed-<s>/, then OUT/summary.json and OUT/seeds.csv with the mean and
// standard deviation of the headline figures over the seeds that finished.
RunOutcome seeds_command(const RunRequest& r, spdlog::logger& log) {
  const auto seeds = study::parse_seeds(r.seeds);
  const fs::path base =
      r.out.empty()
          ? study::same_on_every_rank(fs::path("runs") / (fs::path(r.scenario).stem().string() +
                                                          "-seeds-" + utc_timestamp(true)))
          : fs::path(r.out);
  study::Study s = study::seeds_study(r.scenario, r.sets, seeds, r.threads, base);
  return run_study(
      s, {}, r.command_line,
      [&](const study::Study& st, const std::vector<study::Outcome>& outcomes) {
        study::summarise_seeds(st, outcomes, log);
      },
      log);
}

}  // namespace

int run_scenario(const RunRequest& r, spdlog::logger& log) {
  const RunOutcome o = execute(r, log);
  if (!o.folder.empty() && parallel::current().root()) std::cout << o.folder.string() << "\n";
  return o.exit_code;
}

RunOutcome execute(const RunRequest& r, spdlog::logger& log) {
  fs::path scenario = r.scenario, out_dir = r.out;
  if (r.mode == Mode::evaluate || r.mode == Mode::stability || r.mode == Mode::resume ||
      r.mode == Mode::generate) {
    // These start from a run folder: its resolved scenario, with any --set on top.
    out_dir = r.mode == Mode::resume ? fs::path(r.out) : fs::path(r.scenario);
    scenario = out_dir / "scenario.resolved.toml";
    if (!fs::is_regular_file(scenario))
      throw InputError(out_dir.string() + ": not a run folder (no scenario.resolved.toml)");
  }
  Registry registry;
  const Wiring w = wire(scenario, r.all_sets(), registry);
  for (const auto& note : registry.shadowed()) log.debug("{}", note);
  warn_versions(w, log);
  const auto sweep = parse_sweep(w.scenario);  // checked in every mode, validate included
  if (r.mode == Mode::run && !r.in_study) {
    if (sweep) return sweep_command(r, *sweep, log);
    if (!r.seeds.empty()) return seeds_command(r, log);
  }
  set_threads(w.threads);
  blas::set_backend(w.scenario_table.string("gemm") == "openblas" ? blas::Backend::openblas
                                                                  : blas::Backend::onednn);
  return w.precision == Precision::f64 ? run_job<double>(w, r, out_dir, log)
                                       : run_job<float>(w, r, out_dir, log);
}

namespace {

template <class S>
void simulate_into(const Wiring& w, const fs::path& run_dir, const Eigen::MatrixXd& x0, bool states,
                   spdlog::logger& log, SimulateOutput& o) {
  auto in = instantiate<S>(w, log_sink(log), data_dir());
  // A training run's model; a simulation run's is the one its scenario builds.
  if (fs::exists(run_dir / "model" / "model.json")) load_model(run_dir / "model", *in.model);
  const SimulateJob<S> job(w, in, x0.cast<S>(), states);
  Trajectories<S> tr = job.integrate(true);
  o.f64 = std::is_same_v<S, double>;
  o.items = x0.cols();
  o.n = in.model->dim();
  o.saves = static_cast<std::int64_t>(tr.times.size());
  o.times.assign(tr.times.begin(), tr.times.end());
  tr.states.resize(static_cast<std::size_t>(o.saves * o.items * o.n));  // the first path
  if constexpr (std::is_same_v<S, double>)
    o.d = std::move(tr.states);
  else
    o.f = std::move(tr.states);
}

}  // namespace

SimulateOutput simulate_run(const std::string& run_dir, const std::vector<std::string>& sets,
                            const Eigen::MatrixXd& x0, bool states, spdlog::logger& log) {
  const fs::path dir(run_dir), scenario = dir / "scenario.resolved.toml";
  if (!fs::is_regular_file(scenario))
    throw InputError(run_dir + ": not a run folder (no scenario.resolved.toml)");
  Registry registry;
  const Wiring w = wire(scenario, sets, registry);
  set_threads(w.threads);
  blas::set_backend(w.scenario_table.string("gemm") == "openblas" ? blas::Backend::openblas
                                                                  : blas::Backend::onednn);
  SimulateOutput o;
  if (w.precision == Precision::f64)
    simulate_into<double>(w, dir, x0, states, log, o);
  else
    simulate_into<float>(w, dir, x0, states, log, o);
  return o;
}

// Variants trained on the same data with the same seeds, then one table. Every variant is wired
// (plugins loaded, options checked) and its resolved [dataset] compared before anything trains,
// so a typo or a mismatched dataset fails in seconds, not hours in.
int compare_command(const std::vector<std::string>& files, const std::vector<std::string>& sets,
                    const std::string& seeds, std::optional<std::int64_t> threads,
                    const std::string& out, const std::string& command_line, spdlog::logger& log) {
  if (files.empty()) throw InputError("compare: give scenario files or one comparison file");
  Comparison cmp;
  if (files.size() == 1 && is_comparison_file(files[0])) {
    cmp = parse_comparison(files[0]);
    if (!seeds.empty()) cmp.seeds = study::parse_seeds(seeds);
  } else {
    if (files.size() < 2)
      throw InputError(files[0] + ": one scenario is no comparison; give two or more");
    cmp = comparison_of_files(
        files, seeds.empty() ? std::vector<std::int64_t>{} : study::parse_seeds(seeds));
  }
  for (auto& v : cmp.variants) v.sets.insert(v.sets.end(), sets.begin(), sets.end());
  const fs::path base = out.empty() ? fs::path("runs") / (cmp.name + "-compare") : fs::path(out);
  study::Study s = comparison_study(cmp, threads, base);
  const RunOutcome o = run_study(
      s, comparison_check(), command_line,
      [&](const study::Study& st, const std::vector<study::Outcome>& outcomes) {
        study::summarise_comparison(cmp, st, outcomes, log);
      },
      log);
  if (parallel::Comm::world().root()) std::cout << o.folder.string() << "\n";
  return o.exit_code;
}

// ---- listings -------------------------------------------------------------------------------

namespace {

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

}  // namespace

int list_plugins(const std::vector<std::string>& paths) {
  if (!parallel::Comm::world().root()) return 0;  // one listing, not one per rank
  std::vector<fs::path> dirs(paths.begin(), paths.end());
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

nlohmann::json plugins_json(const std::vector<std::string>& paths) {
  Registry registry;
  registry.load_directories(Registry::search_path({paths.begin(), paths.end()}));
  nlohmann::json all = nlohmann::json::array();
  for (const auto& [table, kind] : plugin_roles())
    for (const auto& name : registry.names(kind)) {
      const auto& p = registry.find(kind, name);
      nlohmann::json opts = nlohmann::json::array();
      for (const auto& o : p.factory->options())
        opts.push_back({{"name", o.name},
                        {"type", type_name(o.type)},
                        {"default", o.required() ? "(required)" : format_value(*o.default_value)},
                        {"doc", o.doc}});
      all.push_back({{"kind", kind_name(kind)},
                     {"table", table},
                     {"name", p.name},
                     {"version", p.version},
                     {"summary", p.summary},
                     {"file", p.file.string()},
                     {"options", opts}});
    }
  return all;
}

int list_tables() {
  if (!parallel::Comm::world().root()) return 0;
  std::cout << "Host tables of a scenario (plugin tables: see `dynsim plugins`):\n";
  for (const auto& [name, specs] : host_tables()) {
    std::cout << "\n  [" << name << "]\n";
    print_specs(std::cout, specs);
  }
  return 0;
}

}  // namespace dynsim
