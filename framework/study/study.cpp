#include "study/study.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <set>
#include <span>
#include <sstream>

#include "common/errors.hpp"
#include "common/progress.hpp"
#include "parallel/comm.hpp"
#include "plugin_host/registry.hpp"
#include "run/atomic_file.hpp"
#include "run/provenance.hpp"
#include "scenario/scenario.hpp"
#include "scenario/wiring.hpp"

namespace dynsim::study {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::span<const char> bytes_of(const std::string& s) {
  return {s.data(), s.size()};
}

std::int64_t int_option(const Options& o, const std::string& key) {
  if (!o.has(key)) return 0;
  const auto* v = std::get_if<std::int64_t>(&o.entries().at(key).value);
  return v ? *v : 0;
}

double positive_or(std::int64_t v, double fallback) {
  return v > 0 ? double(v) : fallback;
}

// Work of a run in arbitrary units, only to schedule the longest first: integrator steps x
// state dimension x items x epochs (training) plus the evaluations. Deterministic, so every
// rank computes the same schedule.
void estimate(Run& r, const Wiring& w) {
  const PluginChoice* model = w.plugin("model");
  const PluginChoice* data = w.plugin("dataset");
  const double steps = positive_or(w.integrator.fixed_steps(), 1);
  const double n = model ? positive_or(int_option(model->options, "n"), 1) : 1;
  if (!w.training) {
    r.cost = steps * n * positive_or(int_option(w.simulate_table, "items"), 1);
    r.eval_cost = 0;
    return;
  }
  const double n_train = data ? positive_or(int_option(data->options, "n_train"), 1) : 1;
  const double n_test = data ? positive_or(int_option(data->options, "n_test"), 1) : 1;
  const double train_items = positive_or(int_option(w.train_table, "max_items"), n_train);
  const double test_items = positive_or(int_option(w.evaluate_table, "max_items"), n_test);
  const double epochs = positive_or(int_option(w.train_table, "epochs"), 1);
  r.eval_cost = steps * n * test_items * positive_or(int_option(w.evaluate_table, "horizon"), 1) *
                positive_or(int_option(w.evaluate_table, "draws"), 1);
  r.cost = epochs * steps * n * train_items + r.eval_cost * double(1 + r.evaluations.size());
}

std::string label_of(const Run& r) {
  return (r.group.empty() ? std::string() : r.group + " ") + "seed " + std::to_string(r.seed);
}

// "sweep 3/8: sigma-0.1 seed 2": numbered in plan order, whichever rank runs it.
std::string progress(const Study& s, std::size_t i) {
  return s.kind + " " + std::to_string(i + 1) + "/" + std::to_string(s.runs.size()) + ": " +
         label_of(s.runs[i]);
}

// A free name beside dir for a finished run of another scenario: it is never deleted.
fs::path aside_name(const fs::path& dir) {
  const std::string base = dir.string() + ".superseded-" + utc_timestamp(true);
  fs::path p = base;
  for (int k = 2; fs::exists(p); ++k) p = base + "-" + std::to_string(k);
  return p;
}

std::string hash_of(const Wiring& w) {
  std::ostringstream text;
  text << toml::toml_formatter(w.resolved());
  return scenario_hash(text.str());
}

// The hash of a run on disk with today's defaults filled in: its resolved scenario wired again.
// A key added since it ran (with a default that keeps the old behaviour) then does not make it
// another scenario. "" when it no longer wires.
std::string rewired_hash(const fs::path& dir) {
  try {
    Registry registry;
    const Wiring w = wire(dir / "scenario.resolved.toml", {}, registry);
    return hash_of(w);
  } catch (const std::exception&) {
    return "";
  }
}

// Rank 0 looks at the disk once: what is reused, what is moved aside or cleared, which
// evaluations are missing. The other ranks get its answer, so all agree on the schedule.
json prepare(const Study& s, spdlog::logger& log, const std::string& tag) {
  json decisions = json::array();
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    const Run& r = s.runs[i];
    const fs::path dir = s.out / r.id;
    bool train = true;
    std::string run_status;
    if (run_finished(dir)) {
      const std::string found = run_hash(dir);
      if (found == r.hash || rewired_hash(dir) == r.hash) {
        train = false;
        run_status = string_at(read_json(dir / "metrics.json"), "status");
        log.info("{}{} done before, reused", tag, progress(s, i));
      } else {
        const fs::path aside = aside_name(dir);
        fs::rename(dir, aside);
        log.warn(
            "{}{}: {} holds a finished run of another scenario (hash {}, now {}); moved it to "
            "{} and running it again",
            tag, progress(s, i), dir.string(), found.empty() ? "unknown" : found, r.hash,
            aside.string());
      }
    } else if (fs::exists(dir)) {
      fs::remove_all(dir);  // a run cut short or failed: start it again
    }
    json evals = json::array();
    for (const auto& e : r.evaluations) {
      bool need = true;
      if (!train) {
        const fs::path edir = dir / "evaluations" / e.name;
        need = !read_json(edir / "evaluation.json").is_object();
        if (need) fs::remove_all(edir);  // an evaluation cut short
      }
      evals.push_back(need);
    }
    decisions.push_back(json{{"train", train}, {"evals", evals}, {"run_status", run_status}});
  }
  return decisions;
}

struct Task {
  std::size_t run = 0;
  bool train = true;
  std::vector<bool> evals;  // which of the run's evaluations to do
  double cost = 0;
};

json outcome_json(const Outcome& o) {
  json evals = json::array();
  for (const auto& e : o.evaluations)
    evals.push_back(json{{"name", e.name}, {"status", e.status}, {"reason", e.reason}});
  return {{"status", o.status},     {"reason", o.reason}, {"run_status", o.run_status},
          {"wall", o.wall_seconds}, {"rank", o.rank},     {"evaluations", evals}};
}

Outcome outcome_of(const json& j) {
  Outcome o;
  o.status = j.at("status").get<std::string>();
  o.reason = j.at("reason").get<std::string>();
  o.run_status = j.at("run_status").get<std::string>();
  o.wall_seconds = j.at("wall").get<double>();
  o.rank = j.at("rank").get<int>();
  for (const auto& e : j.at("evaluations"))
    o.evaluations.push_back({e.at("name").get<std::string>(), e.at("status").get<std::string>(),
                             e.at("reason").get<std::string>()});
  return o;
}

// One task on this rank: the run alone (not data-parallel), any exception recorded as its
// failure so that the rank goes on with its next task.
Outcome run_task(const Study& s, const Task& t, const json& decision, const Executor& ex,
                 spdlog::logger& log, const std::string& tag) {
  const parallel::ScopedComm scope(parallel::Comm::self());
  const Run& r = s.runs[t.run];
  const fs::path dir = s.out / r.id;
  const std::string what = progress(s, t.run);
  const auto start = std::chrono::steady_clock::now();
  Outcome o;
  o.rank = parallel::Comm::world().rank();
  if (t.train) {
    log.info("{}{}", tag, what);
    int rc = 0;
    try {
      rc = ex.run(r, dir);
      const json m = read_json(dir / "metrics.json");
      const std::string status = string_at(m, "status");
      if (status == "ok" || status == "diverged") {
        o.status = status;
      } else {
        o.status = "failed";
        o.reason = string_at(m, "error");
        if (o.reason.empty())
          o.reason = "exit code " + std::to_string(rc) + " without a finished metrics.json";
      }
    } catch (const progress::Interrupted&) {
      throw;  // the caller asked the whole study to stop
    } catch (const std::exception& e) {
      o.status = "failed";
      o.reason = e.what();
    }
    if (o.status == "failed")
      log.error("{}{} failed: {}", tag, what, o.reason);
    else if (o.status == "diverged")
      log.warn("{}{} diverged", tag, what);
    if (ex.done) ex.done();
  } else {
    o.status = "reused";
    o.run_status = decision.at("run_status").get<std::string>();
  }
  for (std::size_t k = 0; k < r.evaluations.size(); ++k) {
    const Evaluation& e = r.evaluations[k];
    EvaluationOutcome eo{e.name, "reused", ""};
    if (!o.usable()) {
      eo.status = "skipped";
    } else if (t.evals[k]) {
      log.info("{}{}: evaluation {}", tag, what, e.name);
      try {
        const int rc = ex.evaluate(dir, e);
        if (read_json(dir / "evaluations" / e.name / "evaluation.json").is_object()) {
          eo.status = "ok";
        } else {
          eo.status = "failed";
          eo.reason = "exit code " + std::to_string(rc) + " without an evaluation.json";
        }
      } catch (const progress::Interrupted&) {
        throw;
      } catch (const std::exception& x) {
        eo.status = "failed";
        eo.reason = x.what();
      }
      if (eo.status == "failed")
        log.error("{}{}: evaluation {} failed: {}", tag, what, e.name, eo.reason);
      if (ex.done) ex.done();
    }
    o.evaluations.push_back(eo);
  }
  o.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return o;
}

void write_record(const Study& s, const std::vector<Outcome>& outcomes, int ranks) {
  json runs = json::array();
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    const Run& r = s.runs[i];
    const Outcome& o = outcomes[i];
    json e = {{"id", r.id},
              {"group", r.group},
              {"seed", r.seed},
              {"scenario", r.scenario.string()},
              {"sets", r.sets},
              {"status", o.status},
              {"reason", o.reason},
              {"hash", r.hash},
              {"wall_seconds", o.wall_seconds},
              {"rank", o.rank < 0 ? json(nullptr) : json(o.rank)}};
    if (!o.run_status.empty()) e["run_status"] = o.run_status;
    if (!o.evaluations.empty()) {
      json evals = json::array();
      for (const auto& x : o.evaluations) {
        json j = {{"name", x.name}, {"status", x.status}};
        if (!x.reason.empty()) j["reason"] = x.reason;
        evals.push_back(j);
      }
      e["evaluations"] = evals;
    }
    runs.push_back(e);
  }
  std::error_code ec;
  fs::create_directories(s.out, ec);
  const json doc = {{"kind", s.kind}, {"ranks", ranks}, {"runs", runs}};
  write_file_atomic(s.out / "study.json", doc.dump(2) + "\n");
}

}  // namespace

std::string canonical_text(const std::string& resolved_toml) {
  toml::table t = toml::parse(resolved_toml);
  // Threads and the GEMM library change rounding, not the experiment.
  if (auto* sc = t["scenario"].as_table()) {
    sc->erase("threads");
    sc->erase("gemm");
  }
  std::ostringstream o;
  o << toml::toml_formatter(t);
  return o.str();
}

std::string scenario_hash(const std::string& resolved_toml) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (const unsigned char c : canonical_text(resolved_toml)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string run_hash(const fs::path& dir) {
  std::ifstream in(dir / "scenario.resolved.toml");
  if (!in) return "";
  std::stringstream text;
  text << in.rdbuf();
  try {
    return scenario_hash(text.str());
  } catch (const std::exception&) {
    return "";  // cut short or edited into nonsense: not the same run
  }
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  try {
    json j = json::parse(in);
    // Anything but an object (an edited or foreign file) is no record of a run either.
    return j.is_object() ? j : json(nullptr);
  } catch (const std::exception&) {
    return nullptr;  // a file cut short by a crash: redo what wrote it
  }
}

std::string string_at(const json& j, const std::string& key) {
  if (!j.is_object()) return "";
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool run_finished(const fs::path& dir) {
  const std::string status = string_at(read_json(dir / "metrics.json"), "status");
  return status == "ok" || status == "diverged";
}

std::string folder_safe(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  return s;
}

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

std::vector<std::int64_t> seed_list(const toml::node& n, const std::string& what) {
  const auto* a = n.as_array();
  if (!a || a->empty())
    throw InputError(Scenario::where(n) + ": " + what + " must be a list of integers");
  std::vector<std::int64_t> seeds;
  for (const auto& x : *a) {
    const auto v = x.value<std::int64_t>();
    if (!v || *v < 0) throw InputError(Scenario::where(x) + ": " + what + " must be integers >= 0");
    seeds.push_back(*v);
  }
  return seeds;
}

fs::path same_on_every_rank(const fs::path& p) {
  const auto& world = parallel::Comm::world();
  if (!world.distributed()) return p;
  const std::string mine = world.root() ? p.string() : std::string();
  const auto all = world.allgather(bytes_of(mine));
  return fs::path(std::string(all[0].begin(), all[0].end()));
}

Study seeds_study(const fs::path& scenario, const std::vector<std::string>& sets,
                  const std::vector<std::int64_t>& seeds, std::optional<std::int64_t> threads,
                  const fs::path& out) {
  Study s;
  s.kind = "seeds";
  s.out = out;
  for (const std::int64_t seed : seeds) {
    Run r;
    r.id = "seed-" + std::to_string(seed);
    r.seed = seed;
    r.scenario = scenario;
    r.sets = sets;
    r.sets.push_back("scenario.seed=" + std::to_string(seed));
    if (threads) r.sets.push_back("scenario.threads=" + std::to_string(*threads));
    s.runs.push_back(std::move(r));
  }
  return s;
}

void plan(Study& s, const Check& check) {
  std::set<std::string> ids, evaluations_checked;
  for (Run& r : s.runs) {
    if (!ids.insert(r.id).second)
      throw InputError(s.kind + ": two runs would share the folder " + (s.out / r.id).string());
    Registry registry;  // one per run: variants may load plugins from different folders
    const Wiring w = wire(r.scenario, r.sets, registry);
    if (check) check(r, w);
    r.hash = hash_of(w);
    estimate(r, w);
    // An evaluation's overrides too (once per group: only the seed differs within one), on the
    // run's scenario: a typo in an attack fails now, not after the training.
    for (const auto& e : r.evaluations) {
      if (!evaluations_checked.insert(r.group + "\n" + e.name).second) continue;
      std::vector<std::string> sets = r.sets;
      sets.insert(sets.end(), e.sets.begin(), e.sets.end());
      Registry eval_registry;
      wire(r.scenario, sets, eval_registry);
    }
  }
}

Schedule longest_first(const std::vector<double>& costs, int ranks) {
  Schedule sc;
  sc.order.resize(costs.size());
  std::iota(sc.order.begin(), sc.order.end(), std::size_t{0});
  std::stable_sort(sc.order.begin(), sc.order.end(),
                   [&](std::size_t a, std::size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<std::size_t>(std::max(ranks, 1)), 0.0);
  sc.owner.assign(costs.size(), 0);
  for (const std::size_t k : sc.order) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    sc.owner[k] = static_cast<int>(least);
    load[static_cast<std::size_t>(least)] += costs[k];
  }
  return sc;
}

Result execute(const Study& s, const Executor& ex, spdlog::logger& log) {
  const auto& world = parallel::Comm::world();
  // Ranks above 0 carry "[rank r]" in every line already (the CLI's logger).
  const std::string tag = world.distributed() && world.root() ? "[rank 0] " : "";
  const std::size_t total = s.runs.size();

  std::string decided;
  if (world.root()) decided = prepare(s, log, tag).dump();
  // Also a barrier: no rank starts before rank 0 has cleared the folders.
  const auto answers = world.allgather(bytes_of(decided));
  const json decisions = json::parse(answers[0].begin(), answers[0].end());

  std::vector<Task> tasks;
  for (std::size_t i = 0; i < total; ++i) {
    Task t;
    t.run = i;
    t.train = decisions[i].at("train").get<bool>();
    for (const auto& e : decisions[i].at("evals")) t.evals.push_back(e.get<bool>());
    const auto evals = std::count(t.evals.begin(), t.evals.end(), true);
    if (!t.train && evals == 0) continue;
    t.cost = t.train ? s.runs[i].cost : s.runs[i].eval_cost * double(evals);
    tasks.push_back(std::move(t));
  }

  // Every rank computes the same schedule from the same plan.
  std::vector<double> costs;
  for (const auto& t : tasks) costs.push_back(t.cost);
  const auto [order, owner] = longest_first(costs, world.size());
  if (world.distributed() && world.root() && !tasks.empty())
    log.info("{}{}: {} of {} runs to do over {} ranks, longest first", tag, s.kind, tasks.size(),
             total, world.size());

  json mine = json::array();
  for (const std::size_t k : order)
    if (owner[k] == world.rank()) {
      const Task& t = tasks[k];
      const Outcome o = run_task(s, t, decisions[t.run], ex, log, tag);
      mine.push_back(json{{"run", t.run}, {"outcome", outcome_json(o)}});
    }

  // Everyone's outcomes on every rank; runs with nothing to do were reused whole.
  Result res;
  res.outcomes.resize(total);
  for (std::size_t i = 0; i < total; ++i) {
    Outcome& o = res.outcomes[i];
    o.status = "reused";
    o.run_status = decisions[i].at("run_status").get<std::string>();
    for (const auto& e : s.runs[i].evaluations) o.evaluations.push_back({e.name, "reused", ""});
  }
  const std::string sent = mine.dump();
  for (const auto& blob : world.allgather(bytes_of(sent)))
    for (const auto& item : json::parse(blob.begin(), blob.end()))
      res.outcomes[item.at("run").get<std::size_t>()] = outcome_of(item.at("outcome"));

  std::size_t ok = 0, reused = 0, diverged = 0, failed = 0;
  for (const auto& o : res.outcomes) {
    ok += o.status == "ok";
    reused += o.status == "reused";
    diverged += o.status == "diverged";
    failed += o.status == "failed";
    if (o.status == "failed" || o.status == "diverged") res.exit_code = 1;
    for (const auto& e : o.evaluations)
      if (e.status == "failed") res.exit_code = 1;
  }
  if (world.root()) {
    write_record(s, res.outcomes, world.size());
    if (world.distributed())
      for (std::size_t i = 0; i < total; ++i)
        if (res.outcomes[i].rank >= 0)
          log.info("{}{}: {} on rank {} ({:.1f} s)", tag, progress(s, i), res.outcomes[i].status,
                   res.outcomes[i].rank, res.outcomes[i].wall_seconds);
    log.info("{}{}: {} runs: {} ok, {} reused, {} diverged, {} failed; record {}", tag, s.kind,
             total, ok, reused, diverged, failed, (s.out / "study.json").string());
  }
  return res;
}

}  // namespace dynsim::study
