#include "jobs/sweep.hpp"

#include <charconv>
#include <sstream>

#include "common/errors.hpp"

namespace dynsim {
namespace fs = std::filesystem;

// A scalar as TOML text for --set: floats in their shortest round-trip form (always with a
// point or exponent, so they stay floats), strings quoted.
std::string toml_text(const toml::node& n, const std::string& where) {
  if (const auto* f = n.as_floating_point()) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, f->get());
    std::string s(buf, r.ptr);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  }
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* s = n.as_string()) {
    std::ostringstream o;
    o << *s;
    return o.str();
  }
  if (const auto* a = n.as_array()) {
    std::string s = "[";
    for (std::size_t i = 0; i < a->size(); ++i) s += (i ? ", " : "") + toml_text(*a->get(i), where);
    return s + "]";
  }
  throw InputError(where + ": override values must be numbers, booleans, strings or lists");
}

namespace {

// "noise.sigma" = 0.05 -> "sigma-0.05": readable and safe as a folder name.
std::string key_label(const std::string& key, std::string value) {
  const std::string leaf = key.substr(key.rfind('.') + 1);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
    value = value.substr(1, value.size() - 2);
  return study::folder_safe(leaf + "-" + value);
}

std::vector<double> real_list(const toml::node& n, const std::string& what) {
  const auto* a = n.as_array();
  if (!a || a->empty()) throw InputError(Scenario::where(n) + ": " + what + " must be a list");
  std::vector<double> v;
  for (const auto& x : *a) {
    if (const auto f = x.value<double>())
      v.push_back(*f);
    else
      throw InputError(Scenario::where(x) + ": " + what + " must hold numbers");
  }
  return v;
}

}  // namespace

std::optional<Sweep> parse_sweep(const Scenario& scenario) {
  const toml::table* t = scenario.table("sweep");
  if (!t) return std::nullopt;
  const std::string where = scenario.where_table("sweep");
  Sweep s;
  for (const auto& [k, node] : *t) {
    const std::string key(k.str());
    if (key == "seeds") {
      s.seeds = study::seed_list(node, "[sweep] seeds");
    } else if (key == "compare") {
      const auto v = node.value<std::string>();
      if (!v) throw InputError(Scenario::where(node) + ": [sweep] compare must be a grid key");
      s.compare = *v;
    } else if (key == "grid") {
      const auto* g = node.as_table();
      if (!g) throw InputError(Scenario::where(node) + ": [sweep.grid] must be a table");
      for (const auto& [gk, gv] : *g) {
        const std::string name(gk.str());
        if (name.find('.') == std::string::npos)
          throw InputError(Scenario::where(gv) + ": sweep grid key '" + name +
                           "' must be TABLE.KEY, as for --set");
        const auto* a = gv.as_array();
        if (!a || a->empty())
          throw InputError(Scenario::where(gv) + ": sweep grid '" + name +
                           "' must be a non-empty list of values");
        std::vector<std::string> values;
        for (const auto& x : *a) values.push_back(toml_text(x, Scenario::where(x)));
        s.grid.emplace_back(name, values);
      }
    } else if (key == "attack") {
      const auto* a = node.as_array();
      if (!a) throw InputError(Scenario::where(node) + ": attacks are [[sweep.attack]] tables");
      for (const auto& x : *a) {
        const auto* at = x.as_table();
        if (!at) throw InputError(Scenario::where(x) + ": attacks are [[sweep.attack]] tables");
        SweepAttack sa;
        for (const auto& [ak, av] : *at) {
          const std::string akey(ak.str());
          if (akey == "plugin") {
            sa.plugin = av.value<std::string>().value_or("");
          } else if (akey == "name") {
            sa.name = av.value<std::string>().value_or("");
            if (sa.name.empty() || sa.name.find_first_of("/ \\") != std::string::npos)
              throw InputError(Scenario::where(av) +
                               ": [[sweep.attack]] name must be a non-empty word");
          } else if (akey == "evaluate_with") {
            const auto* w = av.as_table();
            if (!w)
              throw InputError(Scenario::where(av) +
                               ": [[sweep.attack]] evaluate_with must be a table of "
                               "\"TABLE.KEY\" = value overrides");
            for (const auto& [wk, wv] : *w) {
              const std::string wkey(wk.str());
              if (wkey.find('.') == std::string::npos)
                throw InputError(Scenario::where(wv) + ": evaluate_with key '" + wkey +
                                 "' must be TABLE.KEY, as for --set");
              sa.eval_sets.push_back(wkey + "=" + toml_text(wv, Scenario::where(wv)));
            }
          } else if (akey == "p") {
            sa.p = real_list(av, "[[sweep.attack]] p");
          } else if (akey == "repeats") {
            sa.repeats = av.value<std::int64_t>().value_or(0);
            if (sa.repeats < 1)
              throw InputError(Scenario::where(av) + ": [[sweep.attack]] repeats must be >= 1");
          } else {
            sa.sets.push_back("attack." + akey + "=" + toml_text(av, Scenario::where(av)));
          }
        }
        if (sa.plugin.empty() || sa.p.empty())
          throw InputError(Scenario::where(x) + ": [[sweep.attack]] needs plugin and p");
        if (sa.name.empty()) sa.name = sa.plugin;
        for (const auto& other : s.attacks)
          if (other.name == sa.name)
            throw InputError(Scenario::where(x) + ": two [[sweep.attack]] tables are named '" +
                             sa.name + "'; give one a different name");
        s.attacks.push_back(sa);
      }
    } else {
      throw InputError(Scenario::where(node) + ": unknown key '" + key +
                       "' in [sweep]; known: seeds, grid, attack, compare");
    }
  }
  if (s.seeds.empty()) throw InputError(where + ": [sweep] needs seeds = [...]");
  if (!s.compare.empty()) {
    bool found = false;
    for (const auto& [k, v] : s.grid) found |= k == s.compare;
    if (!found)
      throw InputError(where + ": [sweep] compare = \"" + s.compare +
                       "\" is not a key of [sweep.grid]");
  }
  return s;
}

std::string point_label(const Sweep& sweep, const std::vector<std::size_t>& point) {
  std::string s;
  for (std::size_t g = 0; g < point.size(); ++g) {
    if (!s.empty()) s += '_';
    s += key_label(sweep.grid[g].first, sweep.grid[g].second[point[g]]);
  }
  return s.empty() ? std::string("base") : s;
}

study::Study sweep_study(const Sweep& sweep, const fs::path& scenario,
                         const std::vector<std::string>& sets, std::optional<std::int64_t> threads,
                         const fs::path& out) {
  // The grid's points in row-major order (the last key varies fastest).
  std::vector<std::vector<std::size_t>> points(1);
  for (const auto& [key, values] : sweep.grid) {
    std::vector<std::vector<std::size_t>> next;
    for (const auto& p : points)
      for (std::size_t i = 0; i < values.size(); ++i) {
        next.push_back(p);
        next.back().push_back(i);
      }
    points = std::move(next);
  }
  const std::string thread_set =
      threads ? "scenario.threads=" + std::to_string(*threads) : std::string();

  // Each attack's evaluation: the same for every run.
  std::vector<study::Evaluation> evaluations;
  for (const auto& at : sweep.attacks) {
    study::Evaluation e;
    e.name = "attack-" + at.name;
    e.sets = at.sets;
    e.sets.insert(e.sets.end(), at.eval_sets.begin(), at.eval_sets.end());
    e.sets.push_back("attack.plugin=\"" + at.plugin + "\"");
    std::string levels;
    for (double x : at.p) levels += (levels.empty() ? "" : ", ") + std::to_string(x);
    e.sets.push_back("evaluate.attack_p=[" + levels + "]");
    e.sets.push_back("evaluate.attack_repeats=" + std::to_string(at.repeats));
    e.sets.push_back("evaluate.horizon=1");
    if (threads) e.sets.push_back(thread_set);
    evaluations.push_back(std::move(e));
  }

  study::Study st;
  st.kind = "sweep";
  st.out = out;
  for (const auto& p : points) {
    const std::string label = point_label(sweep, p);
    std::vector<std::string> point_sets;
    for (std::size_t g = 0; g < p.size(); ++g)
      point_sets.push_back(sweep.grid[g].first + "=" + sweep.grid[g].second[p[g]]);
    for (const std::int64_t seed : sweep.seeds) {
      study::Run r;
      r.id = label + "/seed-" + std::to_string(seed);
      r.group = label;
      r.seed = seed;
      r.scenario = scenario;
      r.sets = sets;
      r.sets.insert(r.sets.end(), point_sets.begin(), point_sets.end());
      r.sets.push_back("scenario.seed=" + std::to_string(seed));
      if (threads) r.sets.push_back(thread_set);
      r.point = p;
      r.evaluations = evaluations;
      st.runs.push_back(std::move(r));
    }
  }
  return st;
}

}  // namespace dynsim
