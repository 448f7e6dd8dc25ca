#include "study/summary.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "run/atomic_file.hpp"
#include "run/gnuplot.hpp"
#include "run/stats.hpp"

namespace dynsim::study {
namespace fs = std::filesystem;
using nlohmann::json;

double figure(const json& m, const std::string& pointer) {
  const json::json_pointer p(pointer);
  return m.contains(p) && m[p].is_number() ? m[p].get<double>() : NAN;
}

namespace {

// The finished runs to summarise, in plan order, with their metrics.
struct Finished {
  const Run* run;
  json metrics;
};

std::vector<Finished> finished_runs(const Study& s, const std::vector<Outcome>& outcomes) {
  std::vector<Finished> out;
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    if (!outcomes[i].usable()) continue;
    json m = read_json(s.out / s.runs[i].id / "metrics.json");
    if (m.is_object()) out.push_back({&s.runs[i], std::move(m)});
  }
  return out;
}

// A figure's data file beside its PNG; figures never fail a study.
void figure_file(const fs::path& dir, const std::string& name, const std::string& data,
                 const std::string& script, int width, int height, spdlog::logger& log) {
  write_file_atomic(dir / (name + ".dat"), data);
  std::string why;
  if (!render_png(dir, name, script, why, width, height))
    log.warn("figure {}.png skipped: {}", name, why);
}

}  // namespace

// ---- run --seeds ----------------------------------------------------------------------------

void summarise_seeds(const Study& s, const std::vector<Outcome>& outcomes, spdlog::logger& log) {
  const auto runs = finished_runs(s, outcomes);
  // Headline figures, where the job has them: (name, JSON pointer).
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"test_accuracy", "/test/T/accuracy"},
      {"test_accuracy_nearest", "/test/T/accuracy_nearest"},
      {"test_accuracy_all_nodes", "/test/T/accuracy_all_nodes"},
      {"test_accuracy_at_horizon", "/test/at_horizon/accuracy"},
      {"best_val_accuracy", "/best_val_accuracy"},
      {"train_wall_seconds", "/train_wall_seconds"},
      {"total_wall_seconds", "/total_wall_seconds"}};
  std::vector<std::int64_t> seeds, failed;
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    seeds.push_back(s.runs[i].seed);
    if (!outcomes[i].usable()) failed.push_back(s.runs[i].seed);
  }
  json summary = {{"seeds", seeds}, {"runs", s.out.string()}};
  if (!failed.empty()) summary["failed_seeds"] = failed;
  const auto stable = json::json_pointer("/stability/all_stable");
  std::ostringstream csv;
  csv << "seed";
  for (const auto& [name, ptr] : fields) csv << "," << name;
  csv << ",all_stable\n";
  for (const auto& [run, m] : runs) {
    csv << run->seed;
    for (const auto& [name, ptr] : fields) {
      const auto p = json::json_pointer(ptr);
      csv << "," << (m.contains(p) && m[p].is_number() ? m[p].dump() : "");
    }
    csv << "," << (m.contains(stable) ? m[stable].dump() : "") << "\n";
  }
  for (const auto& [name, ptr] : fields) {
    const auto p = json::json_pointer(ptr);
    std::vector<double> v;
    for (const auto& f : runs)
      if (f.metrics.contains(p) && f.metrics[p].is_number())
        v.push_back(f.metrics[p].get<double>());
    if (v.empty()) continue;
    const Stat st = stat_of(v);
    summary[name] = {
        {"mean", st.mean}, {"std", st.sd}, {"min", st.min}, {"max", st.max}, {"n", st.n}};
    log.info("{:<26} mean {:.6g}  std {:.3g}  (n = {})", name, st.mean, st.sd, st.n);
  }
  bool all_stable = true;
  for (const auto& f : runs) all_stable &= f.metrics.value(stable, true);
  summary["all_runs_all_attractors_stable"] = all_stable;
  write_file_atomic(s.out / "summary.json", summary.dump(2) + "\n");
  write_file_atomic(s.out / "seeds.csv", csv.str());
}

// ---- [sweep] --------------------------------------------------------------------------------

void summarise_sweep(const Sweep& sweep, const Study& s, const std::vector<Outcome>& outcomes,
                     spdlog::logger& log) {
  const fs::path& out = s.out;
  // The grid's points in plan order.
  std::vector<std::vector<std::size_t>> points;
  std::set<std::string> seen;
  for (const auto& r : s.runs)
    if (seen.insert(r.group).second) points.push_back(r.point);

  // acc[point label][attack][p][seed] = accuracies over repeats ("none": clean test accuracy).
  std::map<std::string,
           std::map<std::string, std::map<double, std::map<std::int64_t, std::vector<double>>>>>
      acc;
  std::ostringstream tidy;
  tidy << "point";
  for (const auto& [key, values] : sweep.grid) tidy << "," << key;
  tidy << ",seed,attack,p,repeat,accuracy,majority_accuracy\n";
  for (const auto& [run, m] : finished_runs(s, outcomes)) {
    const std::string& label = run->group;
    const std::int64_t seed = run->seed;
    std::string coords;  // the point's values, from the grid
    for (std::size_t g = 0; g < run->point.size(); ++g)
      coords += "," + sweep.grid[g].second[run->point[g]];
    const auto pt = json::json_pointer("/test/T/accuracy");
    if (m.contains(pt)) {
      const double a = m[pt].get<double>();
      const double maj = m.value(json::json_pointer("/test/majority_accuracy"), a);
      acc[label]["none"][0.0][seed].push_back(a);
      tidy << label << coords << "," << seed << ",none,0,0," << a << "," << maj << "\n";
    }
    for (const auto& at : sweep.attacks) {
      const auto e =
          read_json(s.out / run->id / "evaluations" / ("attack-" + at.name) / "evaluation.json");
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
    const std::string label = point_label(sweep, p);
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
      const std::string label = point_label(sweep, p), base_label = point_label(sweep, base);
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
    std::ostringstream gp;
    gp << "set xlabel 'attack strength p (" << attack
       << ")'\nset ylabel 'test accuracy (%)'\nset grid\nset key bottom left\nplot ";
    const auto& titles = curve_titles[attack];
    for (std::size_t i = 0; i < titles.size(); ++i)
      gp << (i ? ", " : "") << "'sweep_" << attack << ".dat' index " << i
         << " using 1:(100*$2):(100*$3) with yerrorlines title '" << titles[i] << "'";
    gp << "\n";
    figure_file(out, "sweep_" + attack, data.str(), gp.str(), 900, 600, log);
  }
  log.info("sweep: {} runs in {}; tables sweep.csv, summary.csv{}", s.runs.size(), out.string(),
           sweep.compare.empty() ? "" : ", compare.csv");
}

// ---- compare --------------------------------------------------------------------------------

namespace {

struct RunFigures {
  double acc_T = NAN, acc_horizon = NAN, margin = NAN, conv_time = NAN, conv_share = NAN,
         spurious = NAN, train_seconds = NAN, parameters = NAN, epochs = NAN;
  std::vector<double> val_accuracy, train_loss;  // per epoch
};

RunFigures figures_of(const json& m) {
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
  const json::json_pointer atts("/stability/attractors");
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

void summarise_comparison(const Comparison& c, const Study& s, const std::vector<Outcome>& outcomes,
                          spdlog::logger& log) {
  const fs::path& out = s.out;
  std::map<std::string, std::vector<RunFigures>> runs;
  std::ostringstream csv;
  csv << "variant,seed,test_accuracy_T,test_accuracy_horizon,min_stability_margin,"
         "mean_convergence_time,share_converged,spurious_share_horizon,train_seconds,"
         "parameters,epochs\n";
  for (const auto& [run, m] : finished_runs(s, outcomes)) {
    const RunFigures f = figures_of(m);
    runs[run->group].push_back(f);
    csv << run->group << "," << run->seed << "," << f.acc_T << "," << f.acc_horizon << ","
        << f.margin << "," << f.conv_time << "," << f.conv_share << "," << f.spurious << ","
        << f.train_seconds << "," << f.parameters << "," << f.epochs << "\n";
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
        std::string list;
        for (auto x : c.seeds) list += (list.empty() ? "" : ", ") + std::to_string(x);
        return list;
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
    figure_file(out, "training_curves", dat.str(), gp.str(), 1200, 500, log);
  }
  log.info("compare: {} variants x {} seeds in {}; tables compare.md, compare.csv, runs.csv",
           c.variants.size(), c.seeds.size(), out.string());
  std::cout << md.str();
}

}  // namespace dynsim::study
