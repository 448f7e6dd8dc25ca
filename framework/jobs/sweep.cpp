#include "jobs/sweep.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/errors.hpp"
#include "run/atomic_file.hpp"
#include "run/gnuplot.hpp"
#include "run/stats.hpp"

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
std::string point_label(const std::string& key, std::string value) {
  const std::string leaf = key.substr(key.rfind('.') + 1);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
    value = value.substr(1, value.size() - 2);
  std::string s = leaf + "-" + value;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  return s;
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

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return nullptr;  // a file cut short by a crash: redo what wrote it
  }
}

bool run_finished(const fs::path& dir) {
  const auto m = read_json(dir / "metrics.json");
  return m.is_object() && (m.value("status", "") == "ok" || m.value("status", "") == "diverged");
}

std::optional<Sweep> parse_sweep(const Scenario& scenario) {
  const toml::table* t = scenario.table("sweep");
  if (!t) return std::nullopt;
  const std::string where = scenario.where_table("sweep");
  Sweep s;
  for (const auto& [k, node] : *t) {
    const std::string key(k.str());
    if (key == "seeds") {
      const auto* a = node.as_array();
      if (!a || a->empty())
        throw InputError(Scenario::where(node) + ": [sweep] seeds must be a list of integers");
      for (const auto& x : *a) {
        const auto v = x.value<std::int64_t>();
        if (!v || *v < 0)
          throw InputError(Scenario::where(x) + ": [sweep] seeds must be integers >= 0");
        s.seeds.push_back(*v);
      }
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

int run_sweep(const Sweep& sweep, const fs::path& out, const SweepCallbacks& cb,
              spdlog::logger& log) {
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
  auto label_of = [&](const std::vector<std::size_t>& p) {
    std::string s;
    for (std::size_t g = 0; g < p.size(); ++g) {
      if (!s.empty()) s += '_';
      s += point_label(sweep.grid[g].first, sweep.grid[g].second[p[g]]);
    }
    return s.empty() ? std::string("base") : s;
  };

  // acc[point label][attack][p][seed] = accuracies over repeats ("none": clean test accuracy).
  std::map<std::string,
           std::map<std::string, std::map<double, std::map<std::int64_t, std::vector<double>>>>>
      acc;
  std::ostringstream tidy;
  tidy << "point";
  for (const auto& [key, values] : sweep.grid) tidy << "," << key;
  tidy << ",seed,attack,p,repeat,accuracy,majority_accuracy\n";
  int rc = 0;
  const std::size_t total = points.size() * sweep.seeds.size();
  std::size_t done = 0;
  for (const auto& p : points) {
    const std::string label = label_of(p);
    std::vector<std::string> sets;
    std::string coords;
    for (std::size_t g = 0; g < p.size(); ++g) {
      sets.push_back(sweep.grid[g].first + "=" + sweep.grid[g].second[p[g]]);
      coords += "," + sweep.grid[g].second[p[g]];
    }
    for (const std::int64_t seed : sweep.seeds) {
      const fs::path dir = out / label / ("seed-" + std::to_string(seed));
      ++done;
      if (run_finished(dir)) {
        log.info("sweep {}/{}: {} seed {} done before, reused", done, total, label, seed);
      } else {
        log.info("sweep {}/{}: {} seed {}", done, total, label, seed);
        fs::remove_all(dir);  // a run cut short: start it again
        std::vector<std::string> s = sets;
        s.push_back("scenario.seed=" + std::to_string(seed));
        rc = std::max(rc, cb.run(s, dir));
        if (!run_finished(dir)) continue;
      }
      const auto m = read_json(dir / "metrics.json");
      const auto pt = nlohmann::json::json_pointer("/test/T/accuracy");
      if (m.contains(pt)) {
        const double a = m[pt].get<double>();
        const double maj = m.value(nlohmann::json::json_pointer("/test/majority_accuracy"), a);
        acc[label]["none"][0.0][seed].push_back(a);
        tidy << label << coords << "," << seed << ",none,0,0," << a << "," << maj << "\n";
      }
      for (const auto& at : sweep.attacks) {
        const std::string name = "attack-" + at.name;
        const fs::path edir = dir / "evaluations" / name;
        if (!read_json(edir / "evaluation.json").is_object()) {
          fs::remove_all(edir);
          std::vector<std::string> s = at.sets;
          s.insert(s.end(), at.eval_sets.begin(), at.eval_sets.end());
          s.push_back("attack.plugin=\"" + at.plugin + "\"");
          std::string levels;
          for (double x : at.p) levels += (levels.empty() ? "" : ", ") + std::to_string(x);
          s.push_back("evaluate.attack_p=[" + levels + "]");
          s.push_back("evaluate.attack_repeats=" + std::to_string(at.repeats));
          s.push_back("evaluate.horizon=1");
          rc = std::max(rc, cb.evaluate(dir, s, name));
        }
        const auto e = read_json(edir / "evaluation.json");
        if (!e.is_object() || !e.contains("attacks")) continue;
        for (const auto& row : e["attacks"]) {
          const double pv = row["p"].get<double>(), a = row["accuracy"].get<double>();
          acc[label][at.name][pv][seed].push_back(a);
          tidy << label << coords << "," << seed << "," << at.name << "," << pv << ","
               << row["repeat"].get<std::int64_t>() << "," << a << ","
               << row["majority_accuracy"].get<double>() << "\n";
        }
      }
    }
  }
  write_file_atomic(out / "sweep.csv", tidy.str());

  // Summary over seeds (each seed: the mean over its repeats).
  auto seed_means = [](const std::map<std::int64_t, std::vector<double>>& by_seed) {
    std::map<std::int64_t, double> m;
    for (const auto& [seed, v] : by_seed) m[seed] = stat_of(v).mean;
    return m;
  };
  std::ostringstream summary;
  summary << "point,attack,p,n,mean_accuracy,std_accuracy\n";
  std::map<std::string, std::ostringstream> curves;  // per attack: gnuplot data blocks
  std::map<std::string, std::vector<std::string>> curve_titles;
  for (const auto& p : points) {
    const std::string label = label_of(p);
    for (const auto& [attack, by_p] : acc[label]) {
      if (attack != "none") {
        curves[attack] << "# " << label << "\n";
        curve_titles[attack].push_back(label);
      }
      for (const auto& [pv, by_seed] : by_p) {
        std::vector<double> v;
        for (const auto& [seed, a] : seed_means(by_seed)) v.push_back(a);
        const Stat st = stat_of(v);
        summary << label << "," << attack << "," << pv << "," << st.n << "," << st.mean << ","
                << st.sd << "\n";
        if (attack != "none") curves[attack] << pv << " " << st.mean << " " << st.sd << "\n";
      }
      if (attack != "none") curves[attack] << "\n\n";
    }
  }
  write_file_atomic(out / "summary.csv", summary.str());

  // Paired differences along the compare key: each value against the key's first value, with
  // the other coordinates fixed, paired by seed; the standard error is sd / sqrt(n).
  if (!sweep.compare.empty()) {
    std::size_t ci = 0;
    while (sweep.grid[ci].first != sweep.compare) ++ci;
    std::ostringstream cmp;
    cmp << "point,baseline,attack,p,n,mean_difference,standard_error\n";
    for (const auto& p : points) {
      if (p[ci] == 0) continue;
      auto base = p;
      base[ci] = 0;
      const std::string label = label_of(p), base_label = label_of(base);
      for (const auto& [attack, by_p] : acc[label])
        for (const auto& [pv, by_seed] : by_p) {
          const auto mine = seed_means(by_seed), theirs = seed_means(acc[base_label][attack][pv]);
          std::vector<double> d;
          for (const auto& [seed, a] : mine)
            if (theirs.count(seed)) d.push_back(a - theirs.at(seed));
          if (d.empty()) continue;
          const Stat st = stat_of(d);
          cmp << label << "," << base_label << "," << attack << "," << pv << "," << st.n << ","
              << st.mean << "," << st.sd / std::sqrt(double(st.n)) << "\n";
        }
    }
    write_file_atomic(out / "compare.csv", cmp.str());
  }

  // Accuracy against p, one curve per grid point, one figure per attack.
  for (const auto& [attack, data] : curves) {
    write_file_atomic(out / ("sweep_" + attack + ".dat"), data.str());
    std::ostringstream gp;
    gp << "set xlabel 'attack strength p (" << attack
       << ")'\nset ylabel 'test accuracy (%)'\nset grid\nset key bottom left\nplot ";
    const auto& titles = curve_titles[attack];
    for (std::size_t i = 0; i < titles.size(); ++i)
      gp << (i ? ", " : "") << "'sweep_" << attack << ".dat' index " << i
         << " using 1:(100*$2):(100*$3) with yerrorlines title '" << titles[i] << "'";
    gp << "\n";
    std::string why;
    if (!render_png(out, "sweep_" + attack, gp.str(), why, 900, 600))
      log.warn("figure sweep_{}.png skipped: {}", attack, why);
  }
  log.info("sweep: {} runs in {}; tables sweep.csv, summary.csv{}", total, out.string(),
           sweep.compare.empty() ? "" : ", compare.csv");
  return rc;
}

}  // namespace dynsim
