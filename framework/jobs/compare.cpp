#include "jobs/compare.hpp"

#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/errors.hpp"
#include "jobs/sweep.hpp"
#include "run/atomic_file.hpp"
#include "run/gnuplot.hpp"
#include "run/stats.hpp"
#include "scenario/scenario.hpp"

namespace dynsim {
namespace fs = std::filesystem;

namespace {

// An inline table of "TABLE.KEY" = value as --set texts.
std::vector<std::string> overrides(const toml::node& n, const std::string& what) {
  const auto* t = n.as_table();
  if (!t)
    throw InputError(Scenario::where(n) + ": " + what +
                     " must be a table of \"TABLE.KEY\" = value, as for --set");
  std::vector<std::string> out;
  for (const auto& [k, v] : *t) {
    const std::string key(k.str());
    if (key.find('.') == std::string::npos)
      throw InputError(Scenario::where(v) + ": override key '" + key +
                       "' must be TABLE.KEY, as for --set");
    out.push_back(key + "=" + toml_text(v, Scenario::where(v)));
  }
  return out;
}

std::string folder_safe(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  return s;
}

// A figure from a run's metrics.json by JSON pointer; NaN where the run has none.
double figure(const nlohmann::json& m, const std::string& pointer) {
  const nlohmann::json::json_pointer p(pointer);
  return m.contains(p) && m[p].is_number() ? m[p].get<double>() : NAN;
}

struct RunFigures {
  double acc_T = NAN, acc_horizon = NAN, margin = NAN, conv_time = NAN, conv_share = NAN,
         spurious = NAN, train_seconds = NAN, parameters = NAN, epochs = NAN;
  std::vector<double> val_accuracy, train_loss;  // per epoch
};

RunFigures figures_of(const nlohmann::json& m) {
  RunFigures f;
  f.acc_T = figure(m, "/test/T/accuracy");
  f.acc_horizon = figure(m, "/test/at_horizon/accuracy");
  // Items not within tolerance of any planted attractor at the horizon (at T without one).
  const double at = std::isnan(f.acc_horizon) ? figure(m, "/test/T/share_at_an_attractor")
                                              : figure(m, "/test/at_horizon/share_at_an_attractor");
  f.spurious = 1.0 - at;
  f.conv_time = figure(m, "/test/convergence/mean_time");
  f.conv_share = figure(m, "/test/convergence/share_arrived");
  f.train_seconds = figure(m, "/train_wall_seconds");
  f.parameters = figure(m, "/parameters");
  f.epochs = figure(m, "/epochs_run");
  // Stability margin of the planted attractors: -max Re(eig J), the smallest over attractors.
  const nlohmann::json::json_pointer atts("/stability/attractors");
  if (m.contains(atts))
    for (const auto& a : m[atts]) {
      const double margin = -a.value("max_real_eigenvalue", NAN);
      f.margin = std::isnan(f.margin) ? margin : std::min(f.margin, margin);
    }
  if (m.contains("history"))
    for (const auto& e : m["history"]) {
      f.val_accuracy.push_back(e.value("val_accuracy", NAN));
      f.train_loss.push_back(e.value("train_loss", NAN));
    }
  return f;
}

std::string fmt_stat(const std::vector<double>& v, double scale, int digits) {
  std::vector<double> ok;
  for (double x : v)
    if (!std::isnan(x)) ok.push_back(x * scale);
  if (ok.empty()) return "-";
  const Stat s = stat_of(ok);
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(digits);
  o << s.mean;
  if (s.max > s.min) o << " ± " << s.sd;  // a constant (a parameter count, say) has no spread
  return o.str();
}

}  // namespace

bool is_comparison_file(const fs::path& file) {
  return Scenario::load(file, {}).table("compare") != nullptr;
}

Comparison parse_comparison(const fs::path& file) {
  const Scenario sc = Scenario::load(file, {});
  const toml::table* t = sc.table("compare");
  if (!t) throw InputError(file.string() + ": not a comparison file (no [compare] table)");
  Comparison c;
  c.name = file.stem().string();
  fs::path base;
  std::vector<std::string> common;
  for (const auto& [k, v] : sc.root()) {
    const std::string key(k.str());
    if (key != "compare" && key != "variant")
      throw InputError(Scenario::where(v) + ": unknown table '" + key +
                       "' in a comparison file; known: compare, variant");
  }
  for (const auto& [k, v] : *t) {
    const std::string key(k.str());
    if (key == "name") {
      const auto s = v.value<std::string>();
      if (!s || s->empty()) throw InputError(Scenario::where(v) + ": [compare] name: a string");
      c.name = *s;
    } else if (key == "base") {
      const auto s = v.value<std::string>();
      if (!s) throw InputError(Scenario::where(v) + ": [compare] base: a scenario file name");
      base = sc.dir() / *s;
      if (!fs::is_regular_file(base))
        throw InputError(Scenario::where(v) + ": [compare] base: no file " + base.string());
    } else if (key == "seeds") {
      const auto* a = v.as_array();
      if (!a || a->empty())
        throw InputError(Scenario::where(v) + ": [compare] seeds must be a list of integers");
      for (const auto& x : *a) {
        const auto s = x.value<std::int64_t>();
        if (!s || *s < 0)
          throw InputError(Scenario::where(x) + ": [compare] seeds must be integers >= 0");
        c.seeds.push_back(*s);
      }
    } else if (key == "set") {
      common = overrides(v, "[compare] set");
    } else {
      throw InputError(Scenario::where(v) + ": unknown key '" + key +
                       "' in [compare]; known: name, base, seeds, set");
    }
  }
  if (c.seeds.empty()) c.seeds = {1};
  const toml::node* vs = sc.root().get("variant");
  const toml::array* arr = vs ? vs->as_array() : nullptr;
  if (!arr || arr->empty())
    throw InputError(sc.where_table("compare") + ": a comparison needs [[variant]] tables");
  std::set<std::string> names;
  for (const auto& node : *arr) {
    const auto* vt = node.as_table();
    if (!vt) throw InputError(Scenario::where(node) + ": variants are [[variant]] tables");
    Variant var;
    var.scenario = base;
    var.sets = common;
    for (const auto& [k, v] : *vt) {
      const std::string key(k.str());
      if (key == "name") {
        const auto s = v.value<std::string>();
        if (!s || s->empty()) throw InputError(Scenario::where(v) + ": variant name: a string");
        var.name = *s;
      } else if (key == "scenario") {
        const auto s = v.value<std::string>();
        if (!s) throw InputError(Scenario::where(v) + ": variant scenario: a file name");
        var.scenario = sc.dir() / *s;
        if (!fs::is_regular_file(var.scenario))
          throw InputError(Scenario::where(v) + ": no file " + var.scenario.string());
      } else if (key == "set") {
        const auto more = overrides(v, "variant set");
        var.sets.insert(var.sets.end(), more.begin(), more.end());
      } else {
        throw InputError(Scenario::where(v) + ": unknown key '" + key +
                         "' in [[variant]]; known: name, scenario, set");
      }
    }
    if (var.name.empty()) throw InputError(Scenario::where(node) + ": a variant needs a name");
    if (var.scenario.empty())
      throw InputError(Scenario::where(node) + ": variant '" + var.name +
                       "' has no scenario and [compare] no base");
    if (!names.insert(folder_safe(var.name)).second)
      throw InputError(Scenario::where(node) + ": two variants are named '" + var.name + "'");
    c.variants.push_back(var);
  }
  return c;
}

Comparison comparison_of_files(const std::vector<std::string>& files,
                               std::vector<std::int64_t> seeds) {
  Comparison c;
  c.seeds = seeds.empty() ? std::vector<std::int64_t>{1} : std::move(seeds);
  std::set<std::string> names;
  for (const auto& f : files) {
    Variant v;
    v.scenario = f;
    v.name = fs::path(f).stem().string();
    if (!names.insert(v.name).second)
      throw InputError(f + ": two variants would be named '" + v.name + "'; rename a file");
    c.name += (c.name.empty() ? "" : "-vs-") + v.name;
    c.variants.push_back(v);
  }
  return c;
}

int run_comparison(const Comparison& c, const fs::path& out, const CompareCallbacks& cb,
                   spdlog::logger& log) {
  int rc = 0;
  std::map<std::string, std::vector<RunFigures>> runs;
  std::ostringstream csv;
  csv << "variant,seed,test_accuracy_T,test_accuracy_horizon,min_stability_margin,"
         "mean_convergence_time,share_converged,spurious_share_horizon,train_seconds,"
         "parameters,epochs\n";
  std::size_t done = 0;
  const std::size_t total = c.variants.size() * c.seeds.size();
  for (const auto& v : c.variants) {
    const std::string folder = folder_safe(v.name);
    for (const std::int64_t seed : c.seeds) {
      const fs::path dir = out / folder / ("seed-" + std::to_string(seed));
      ++done;
      if (run_finished(dir)) {
        log.info("compare {}/{}: {} seed {} done before, reused", done, total, v.name, seed);
      } else {
        log.info("compare {}/{}: {} seed {}", done, total, v.name, seed);
        fs::remove_all(dir);  // a run cut short: start it again
        rc = std::max(rc, cb.run(v, seed, dir));
        if (!run_finished(dir)) continue;
      }
      const RunFigures f = figures_of(read_json(dir / "metrics.json"));
      runs[v.name].push_back(f);
      csv << v.name << "," << seed << "," << f.acc_T << "," << f.acc_horizon << "," << f.margin
          << "," << f.conv_time << "," << f.conv_share << "," << f.spurious << ","
          << f.train_seconds << "," << f.parameters << "," << f.epochs << "\n";
    }
  }
  write_file_atomic(out / "runs.csv", csv.str());

  // One row per variant: mean (and std over seeds where there are several).
  std::ostringstream table, md;
  table << "variant,seeds,test_accuracy_T_mean,test_accuracy_T_std,test_accuracy_horizon_mean,"
           "min_stability_margin,mean_convergence_time,spurious_share_horizon,"
           "train_seconds,parameters\n";
  md << "| variant | seeds | test accuracy at T (%) | at horizon (%) | min stability margin | "
        "mean time to converge | spurious at horizon (%) | training (s) | parameters |\n"
     << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& v : c.variants) {
    const auto& rs = runs[v.name];
    auto col = [&](double RunFigures::*m) {
      std::vector<double> x;
      for (const auto& f : rs) x.push_back(f.*m);
      return x;
    };
    auto mean_of = [&](double RunFigures::*m) {
      std::vector<double> x;
      for (double y : col(m))
        if (!std::isnan(y)) x.push_back(y);
      return stat_of(x);
    };
    const Stat acc = mean_of(&RunFigures::acc_T);
    std::vector<double> margins = col(&RunFigures::margin);
    double min_margin = NAN;
    for (double m : margins)
      if (!std::isnan(m)) min_margin = std::isnan(min_margin) ? m : std::min(min_margin, m);
    table << v.name << "," << rs.size() << "," << acc.mean << "," << acc.sd << ","
          << mean_of(&RunFigures::acc_horizon).mean << "," << min_margin << ","
          << mean_of(&RunFigures::conv_time).mean << "," << mean_of(&RunFigures::spurious).mean
          << "," << mean_of(&RunFigures::train_seconds).mean << ","
          << mean_of(&RunFigures::parameters).mean << "\n";
    std::ostringstream mm;
    mm.precision(3);
    mm << min_margin;
    md << "| " << v.name << " | " << rs.size() << " | " << fmt_stat(col(&RunFigures::acc_T), 100, 2)
       << " | " << fmt_stat(col(&RunFigures::acc_horizon), 100, 2) << " | "
       << (std::isnan(min_margin) ? "-" : mm.str()) << " | "
       << fmt_stat(col(&RunFigures::conv_time), 1, 2) << " | "
       << fmt_stat(col(&RunFigures::spurious), 100, 2) << " | "
       << fmt_stat(col(&RunFigures::train_seconds), 1, 1) << " | "
       << fmt_stat(col(&RunFigures::parameters), 1, 0) << " |\n";
  }
  md << "\nMean ± std over seeds " <<
      [&] {
        std::string s;
        for (auto x : c.seeds) s += (s.empty() ? "" : ", ") + std::to_string(x);
        return s;
      }()
     << ". Stability margin: -max Re(eig J) at a planted attractor, the smallest over "
        "attractors and seeds. Converge: first time within tolerance of a planted attractor "
        "(items that get there). Spurious: items within tolerance of no planted attractor.\n";
  write_file_atomic(out / "compare.csv", table.str());
  write_file_atomic(out / "compare.md", md.str());

  // Training curves: validation accuracy and training loss per epoch, mean over seeds.
  std::ostringstream dat, gp;
  std::vector<std::string> titles;
  for (const auto& v : c.variants) {
    const auto& rs = runs[v.name];
    if (rs.empty()) continue;
    std::size_t epochs = 0;
    for (const auto& f : rs) epochs = std::max(epochs, f.val_accuracy.size());
    if (epochs == 0) continue;
    dat << "# " << v.name << "\n";
    for (std::size_t e = 0; e < epochs; ++e) {
      std::vector<double> va, tl;
      for (const auto& f : rs)
        if (e < f.val_accuracy.size()) {
          va.push_back(f.val_accuracy[e]);
          tl.push_back(f.train_loss[e]);
        }
      dat << e + 1 << " " << stat_of(va).mean << " " << stat_of(tl).mean << "\n";
    }
    dat << "\n\n";
    titles.push_back(v.name);
  }
  if (!titles.empty()) {
    write_file_atomic(out / "training_curves.dat", dat.str());
    gp << "set multiplot layout 1,2\nset grid\nset xlabel 'epoch'\nset key bottom right\n"
       << "set ylabel 'validation accuracy (%)'\nplot ";
    for (std::size_t i = 0; i < titles.size(); ++i)
      gp << (i ? ", " : "") << "'training_curves.dat' index " << i
         << " using 1:(100*$2) with lines lw 2 title '" << titles[i] << "'";
    gp << "\nset logscale y\nset key top right\nset ylabel 'training loss'\nplot ";
    for (std::size_t i = 0; i < titles.size(); ++i)
      gp << (i ? ", " : "") << "'training_curves.dat' index " << i
         << " using 1:3 with lines lw 2 title '" << titles[i] << "'";
    gp << "\nunset multiplot\n";
    std::string why;
    if (!render_png(out, "training_curves", gp.str(), why, 1200, 500))
      log.warn("figure training_curves.png skipped: {}", why);
  }
  log.info("compare: {} variants x {} seeds in {}; tables compare.md, compare.csv, runs.csv",
           c.variants.size(), c.seeds.size(), out.string());
  std::cout << md.str();
  return rc;
}

}  // namespace dynsim
