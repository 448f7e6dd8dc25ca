#include "jobs/simulate.hpp"

#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/errors.hpp"
#include "integrate/integrator.hpp"
#include "run/atomic_file.hpp"
#include "run/gnuplot.hpp"
#include "run/npy.hpp"

namespace dynsim {

namespace {

// Trajectories beyond this many stored values are refused (raise save_every instead).
constexpr std::int64_t kMaxStoredValues = 50'000'000;

std::string fmt_count(double v) {
  std::ostringstream s;
  s.precision(3);
  s << v;
  return s.str();
}

// Enough digits that the CSV reads back to the same bits.
template <class T>
std::string num(T v) {
  std::ostringstream s;
  s.precision(std::numeric_limits<T>::max_digits10);
  s << v;
  return s.str();
}

}  // namespace

template <class S>
SimulateJob<S>::SimulateJob(const Wiring& w, Instances<S>& in) : w_(w), in_(in) {
  const Options& sim = w.simulate_table;
  const auto& x0 = sim.real_matrix("x0");
  states_ = sim.string("initial") == "state";
  const Index d = states_ ? in.model->dim() : in.model->input_dim();
  if (!x0.empty()) {
    if (in.dataset) sim.fail("x0", "give x0 or a [dataset], not both");
    x0_.resize(d, static_cast<Index>(x0.size()));
    for (std::size_t b = 0; b < x0.size(); ++b) {
      if (static_cast<Index>(x0[b].size()) != d)
        sim.fail("x0", "row " + std::to_string(b + 1) + " has " + std::to_string(x0[b].size()) +
                           " values but the model takes " +
                           (states_ ? "states (initial = \"state\")" : "inputs") +
                           " of dimension " + std::to_string(d));
      for (Index i = 0; i < d; ++i) x0_(i, static_cast<Index>(b)) = static_cast<S>(x0[b][i]);
      ids_.push_back(b);
    }
  } else {
    if (!in.dataset)
      throw InputError(w.scenario.where_table("simulate") +
                       ": [simulate]: nothing to simulate: give x0 or a [dataset] table");
    if (states_) sim.fail("initial", "\"state\" needs x0: dataset items are inputs");
    Items<S> items = in.dataset->load(sim.string("split") == "train" ? Split::train : Split::test);
    const Index n = std::min<Index>(items.x.cols(), sim.integer("items"));
    x0_ = items.x.leftCols(n);
    ids_.assign(items.ids.begin(), items.ids.begin() + n);
    labels_.assign(items.labels.begin(), items.labels.begin() + n);
  }
  check_size();
}

template <class S>
SimulateJob<S>::SimulateJob(const Wiring& w, Instances<S>& in, Matrix<S> x0, bool states)
    : w_(w), in_(in), x0_(std::move(x0)), states_(states) {
  const Index d = states_ ? in.model->dim() : in.model->input_dim();
  if (x0_.rows() != d || x0_.cols() == 0)
    throw InputError("simulate: x0 has " + std::to_string(x0_.cols()) + " item(s) of dimension " +
                     std::to_string(x0_.rows()) + "; the model takes " +
                     (states_ ? "states" : "inputs") + " of dimension " + std::to_string(d));
  for (Index j = 0; j < x0_.cols(); ++j) ids_.push_back(static_cast<std::uint64_t>(j));
  check_size();
}

template <class S>
void SimulateJob<S>::check_size() const {
  const Wiring& w = w_;
  const Options& sim = w.simulate_table;
  const bool stochastic = in_.noise && !in_.noise->vanishes();
  if (sim.integer("paths") > 1 && !stochastic)
    sim.fail("paths", "more than one path needs a noise law that is not zero");
  const IntegratorConfig& ic = w.integrator;
  const std::int64_t n = in_.model->dim(), b = x0_.cols(), paths = sim.integer("paths");
  const std::int64_t saves =
      ic.method == Method::dopri5 ? -1 : ic.fixed_steps() / ic.save_every + 2;
  if (sim.boolean("save_trajectory") && saves > 0 &&
      double(saves) * double(n) * double(b) * double(paths) > double(kMaxStoredValues))
    w.integrator_table.fail("save_every",
                            "storing every " + std::to_string(ic.save_every) + " steps keeps " +
                                fmt_count(double(saves) * double(n) * double(b) * double(paths)) +
                                " values; raise save_every or set "
                                "simulate.save_trajectory = false");
}

template <class S>
Trajectories<S> SimulateJob<S>::integrate(bool keep) const {
  const Wiring& w = w_;
  Model<S>& model = *in_.model;
  const Index n = model.dim(), b = x0_.cols();
  const std::int64_t paths = w.simulate_table.integer("paths");
  Matrix<S> X0(n, b);
  if (states_)
    X0 = x0_;
  else
    model.encode(x0_, X0);
  Integrator<S> integrator(w.integrator, model, in_.noise, w.threads);
  Trajectories<S> out;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t p = 0; p < paths; ++p) {
    Matrix<S> X = X0;
    const bool first = p == 0;
    auto observer = [&](S t, std::int64_t, ConstMatrixRef<S> Xs) {
      if (!keep) return;
      if (first) out.times.push_back(t);
      out.states.insert(out.states.end(), Xs.data(), Xs.data() + Xs.size());
    };
    out.stats =
        integrator.run(X, ids_, NoiseKey{w.seed, 0, static_cast<std::uint32_t>(p)}, observer);
    out.finals.push_back(X);
  }
  out.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

template <class S>
nlohmann::json SimulateJob<S>::run(const RunFolder& out, spdlog::logger& log) {
  const Wiring& w = w_;
  Instances<S>& in = in_;
  const Options& sim = w.simulate_table;
  Model<S>& model = *in.model;
  const Index n = model.dim(), b = x0_.cols();
  const std::int64_t paths = sim.integer("paths");
  const bool stochastic = in.noise && !in.noise->vanishes();
  const bool keep = sim.boolean("save_trajectory");
  const IntegratorConfig& ic = w.integrator;

  log.info("simulating {} item(s) x {} path(s), N = {}, {} from t = {} to {}", b, paths, n,
           method_name(ic.method), ic.t0, ic.t_end);
  const Trajectories<S> tr = integrate(keep);
  const auto& traj = tr.states;
  const auto& times = tr.times;
  const auto& finals = tr.finals;
  const IntegrationStats& stats = tr.stats;
  const double wall = tr.wall_seconds;
  log.info("done: {} steps ({} rejected) per path in {:.3f} s", stats.steps, stats.rejected, wall);

  // Final states, one row per (path, item).
  {
    AtomicFile f(out.path("final_state.csv"));
    auto& o = f.stream();
    o << "path,item" << (labels_.empty() ? "" : ",label");
    for (Index i = 0; i < n; ++i) o << ",x" << i;
    o << "\n";
    for (std::int64_t p = 0; p < paths; ++p)
      for (Index j = 0; j < b; ++j) {
        o << p << "," << ids_[static_cast<std::size_t>(j)];
        if (!labels_.empty()) o << "," << labels_[static_cast<std::size_t>(j)];
        for (Index i = 0; i < n; ++i) o << "," << num(finals[static_cast<std::size_t>(p)](i, j));
        o << "\n";
      }
    f.commit();
  }
  const auto steps_saved = static_cast<std::int64_t>(times.size());
  if (keep) {
    AtomicFile f(out.path("trajectory.csv"));
    auto& o = f.stream();
    o << "path,item,t";
    for (Index i = 0; i < n; ++i) o << ",x" << i;
    o << "\n";
    // Rows grouped by (path, item) in time order, so each item's curve is one block.
    for (std::int64_t p = 0; p < paths; ++p)
      for (Index j = 0; j < b; ++j)
        for (std::int64_t s = 0; s < steps_saved; ++s) {
          o << p << "," << ids_[static_cast<std::size_t>(j)] << ","
            << num(times[static_cast<std::size_t>(s)]);
          const S* col = traj.data() + ((p * steps_saved + s) * b + j) * n;
          for (Index i = 0; i < n; ++i) o << "," << num(col[i]);
          o << "\n";
        }
    f.commit();
    write_npy(out.path("trajectory.npy"), traj.data(), {paths, steps_saved, b, n});
    write_npy(out.path("times.npy"), times.data(), {steps_saved});

    // Figure: every plotted node of the first item (first path), against time.
    const Index shown = std::min<Index>(n, sim.integer("plot_nodes"));
    std::ostringstream gp;
    gp << "set datafile separator ','\nset key outside right\nset xlabel 't'\nset ylabel 'x_i(t)'\n"
       << "set title 'item " << ids_[0] << ", path 0'\nset grid\nplot ";
    for (Index i = 0; i < shown; ++i)
      gp << (i ? ", " : "") << "'../trajectory.csv' using ($1==0 && $2==" << ids_[0]
         << " ? $3 : 1/0):" << 4 + i << " with lines title 'x" << i << "'";
    std::string why;
    if (!render_png(out.figures(), "trajectories", gp.str(), why))
      log.warn("figure trajectories.png skipped: {}", why);
  }

  double mean_norm = 0, max_abs = 0;
  for (const auto& F : finals) {
    mean_norm += static_cast<double>(F.colwise().norm().sum());
    max_abs = std::max(max_abs, static_cast<double>(F.cwiseAbs().maxCoeff()));
  }
  mean_norm /= static_cast<double>(b * paths);
  return {
      {"job", "simulate"},
      {"items", b},
      {"paths", paths},
      {"state_dim", n},
      {"method", method_name(ic.method)},
      {"dt", ic.dt},
      {"t0", ic.t0},
      {"t_end", stats.t},
      {"steps", stats.steps},
      {"rejected_steps", stats.rejected},
      {"stochastic", stochastic},
      {"wall_seconds", wall},
      {"item_steps_per_second",
       static_cast<double>(b * paths * stats.steps) / std::max(wall, 1e-9)},
      {"final_state", {{"mean_norm", mean_norm}, {"max_abs", max_abs}}},
  };
}

template class SimulateJob<float>;
template class SimulateJob<double>;

}  // namespace dynsim
