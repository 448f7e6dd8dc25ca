#include "jobs/figures.hpp"

#include <cmath>
#include <sstream>

#include "run/atomic_file.hpp"
#include "run/gnuplot.hpp"

namespace dynsim {

namespace {

void render(const RunFolder& out, const std::string& name, const std::string& script,
            spdlog::logger& log, int w = 900, int h = 600) {
  std::string why;
  if (!render_png(out.figures(), name, script, why, w, h))
    log.warn("figure {}.png skipped: {}", name, why);
}

template <class S>
void write_image(const std::filesystem::path& file, const Vector<S>& v, std::array<int, 2> shape) {
  std::ostringstream o;
  for (int r = 0; r < shape[0]; ++r) {
    for (int c = 0; c < shape[1]; ++c) o << (c ? " " : "") << double(v(r * shape[1] + c));
    o << "\n";
  }
  write_file_atomic(file, o.str());
}

}  // namespace

void plot_training(const RunFolder& out, const TrainState& state, spdlog::logger& log) {
  if (state.history.empty()) return;  // stopped before the first epoch ended: nothing to draw
  std::ostringstream d;
  d << "# epoch train_loss val_loss val_accuracy\n";
  for (const auto& e : state.history)
    d << e.epoch << " " << e.train_loss << " " << e.val_loss << " " << e.val_accuracy << "\n";
  write_file_atomic(out.figures() / "training.dat", d.str());
  render(out, "training",
         "set multiplot layout 1,2\nset xlabel 'epoch'\nset grid\nset logscale y\n"
         "set title 'loss'\nplot 'training.dat' using 1:2 with linespoints title 'train', "
         "'' using 1:3 with linespoints title 'validation'\nunset logscale y\n"
         "set title 'validation accuracy (%)'\nplot 'training.dat' using 1:(100*$4) with "
         "linespoints notitle\nunset multiplot",
         log, 1100, 450);
}

template <class S>
void plot_examples(const RunFolder& out, const Items<S>& items, const Model<S>& model,
                   std::array<int, 2> shape, spdlog::logger& log) {
  if (items.x.cols() == 0) return;
  const Matrix<S> xs = model.attractors();
  // Inputs and attractors are drawn as images of the dataset's shape: only possible when the
  // state is the image (a model with its own state size still gets every other figure).
  if (shape[0] * shape[1] != model.dim() || shape[0] * shape[1] != items.x.rows() ||
      xs.cols() == 0) {
    if (shape[0] * shape[1] == 0)
      log.info("figure examples.png skipped: the dataset gives no image shape");
    else
      log.info("figure examples.png skipped: the state has {} entries, the items' images {} x {}",
               model.dim(), shape[0], shape[1]);
    return;
  }
  const Index K = xs.cols();
  std::ostringstream gp;
  gp << "set multiplot layout 2," << K << "\nunset key\nunset colorbox\nset size ratio -1\n"
     << "unset xtics\nunset ytics\nset yrange [] reverse\nset palette gray negative\n";
  for (Index k = 0; k < K; ++k) {
    Index j = 0;
    while (j < items.x.cols() && items.labels[static_cast<std::size_t>(j)] != k) ++j;
    if (j == items.x.cols()) j = 0;
    write_image<S>(out.figures() / ("example_input_" + std::to_string(k) + ".dat"), items.x.col(j),
                   shape);
    gp << "set title 'input (class " << k << ")'\nplot 'example_input_" << k
       << ".dat' matrix with image\n";
  }
  for (Index k = 0; k < K; ++k) {
    write_image<S>(out.figures() / ("attractor_" + std::to_string(k) + ".dat"), xs.col(k), shape);
    gp << "set title 'attractor " << k << "'\nplot 'attractor_" << k << ".dat' matrix with image\n";
  }
  gp << "unset multiplot";
  render(out, "examples", gp.str(), log, 250 * static_cast<int>(K), 520);
}

namespace {

// The readout of one item at every step 0..steps, integrated with noise realisation key.
template <class S>
std::vector<Matrix<S>> readout_trajectory(Model<S>& model, FixedStepScheme<S>& scheme,
                                          std::int64_t steps, const Items<S>& items, Index item,
                                          NoiseKey key) {
  Matrix<S> X(model.dim(), 1), Y(model.readout_dim(), 1);
  model.encode(items.x.col(item), X);
  const std::vector<std::uint64_t> ids = {items.ids[static_cast<std::size_t>(item)]};
  std::vector<Matrix<S>> traj;
  for (std::int64_t k = 0; k <= steps; ++k) {
    model.readout(X, Y);
    traj.push_back(Y);
    if (k < steps) scheme.step(k, X, ids, key);
  }
  return traj;
}

}  // namespace

template <class S>
void plot_activity(const RunFolder& out, Model<S>& model, FixedStepScheme<S>& scheme,
                   std::int64_t steps, const Items<S>& items, Index item, NoiseKey key,
                   spdlog::logger& log) {
  if (items.x.cols() <= item) return;
  const int label = items.labels[static_cast<std::size_t>(item)];
  const Matrix<S> xs = model.attractors();
  Matrix<S> target(model.readout_dim(), 1);
  model.readout(xs.col(label), target);
  const auto traj = readout_trajectory(model, scheme, steps, items, item, key);
  std::ostringstream d;
  // The planted target's high and low readout values (CVFR's low is f(0) = 0; another model's
  // may not be).
  const double hi = double(target.maxCoeff()), lo = double(target.minCoeff());
  std::string colors;
  for (Index i = 0; i < target.rows(); ++i) {
    for (std::size_t k = 0; k < traj.size(); ++k)
      d << double(scheme.time(static_cast<std::int64_t>(k))) << " " << double(traj[k](i, 0))
        << "\n";
    d << "\n\n";
    colors += double(target(i, 0)) > 0.5 * (hi + lo) ? "#d62728 " : "#1f77b4 ";
  }
  write_file_atomic(out.figures() / "activity.dat", d.str());
  std::ostringstream gp;
  gp << "set xlabel 't'\nset ylabel 'readout (activity f(x_i))'\nset grid\nunset key\n"
     << "set title 'test item " << item << " (class " << label
     << "): red nodes should end high, blue low'\ncolors = '" << colors << "'\n"
     << "plot for [i=0:" << target.rows() - 1
     << "] 'activity.dat' index i using 1:2 with lines lc rgb word(colors, i+1), " << hi
     << " with lines dt 2 lc rgb '#d62728', " << lo << " with lines dt 2 lc rgb '#1f77b4'";
  render(out, "activity", gp.str(), log);
}

template <class S>
void plot_ensemble(const RunFolder& out, Model<S>& model, FixedStepScheme<S>& scheme,
                   std::int64_t steps, const Items<S>& items, Index item, NoiseKey key, int draws,
                   spdlog::logger& log) {
  if (items.x.cols() <= item || draws < 2) return;
  // The node: the first one that should end high for this item's class.
  const int label = items.labels[static_cast<std::size_t>(item)];
  Matrix<S> target(model.readout_dim(), 1);
  model.readout(model.attractors().col(label), target);
  Index node = 0;
  target.col(0).maxCoeff(&node);
  std::vector<std::vector<double>> paths;
  for (int d = 0; d < draws; ++d) {
    NoiseKey k = key;
    k.draw = static_cast<std::uint32_t>(d);
    std::vector<double> path;
    for (const auto& y : readout_trajectory(model, scheme, steps, items, item, k))
      path.push_back(double(y(node, 0)));
    paths.push_back(std::move(path));
  }
  std::ostringstream all, stats;
  constexpr int kShown = 30;  // trajectories drawn; the statistics use every draw
  for (int d = 0; d < std::min(draws, kShown); ++d) {
    for (std::size_t t = 0; t < paths[std::size_t(d)].size(); ++t)
      all << double(scheme.time(std::int64_t(t))) << " " << paths[std::size_t(d)][t] << "\n";
    all << "\n\n";
  }
  stats << "# t mean std (over " << draws << " realisations)\n";
  for (std::size_t t = 0; t < paths[0].size(); ++t) {
    double mean = 0, var = 0;
    for (const auto& p : paths) mean += p[t] / draws;
    for (const auto& p : paths) var += (p[t] - mean) * (p[t] - mean) / (draws - 1);
    stats << double(scheme.time(std::int64_t(t))) << " " << mean << " " << std::sqrt(var) << "\n";
  }
  write_file_atomic(out.figures() / "ensemble.dat", all.str());
  write_file_atomic(out.figures() / "ensemble_stats.dat", stats.str());
  std::ostringstream gp;
  gp << "set multiplot layout 2,1\nset grid\nset xlabel 't'\nset ylabel 'f(x_{" << node
     << "})'\nset title 'test item " << item << " (class " << label << "), node " << node << ": "
     << std::min(draws, kShown) << " of " << draws << " noise realisations'\n"
     << "plot for [i=0:" << std::min(draws, kShown) - 1
     << "] 'ensemble.dat' index i using 1:2 with lines lc rgb '#aaaaaa' notitle, "
        "'ensemble_stats.dat' using 1:2 with lines lw 2 lc rgb '#d62728' title 'mean'\n"
     << "set ylabel 'standard deviation'\nset title 'spread over the realisations'\n"
        "plot 'ensemble_stats.dat' using 1:3 with lines lw 2 notitle\nunset multiplot";
  render(out, "ensemble", gp.str(), log, 900, 800);
}

void plot_spectrum(const RunFolder& out, const std::vector<AttractorStability>& s,
                   spdlog::logger& log) {
  std::ostringstream d;
  for (const auto& a : s) {
    for (const auto& l : a.eigenvalues) d << l.real() << " " << l.imag() << "\n";
    d << "\n\n";
  }
  write_file_atomic(out.figures() / "spectrum.dat", d.str());
  std::ostringstream gp;
  gp << "set xlabel 'Re'\nset ylabel 'Im'\nset grid\nset title 'Jacobian eigenvalues at the "
        "planted attractors'\nset arrow from 0, graph 0 to 0, graph 1 nohead dt 2\n"
     << "plot for [k=0:" << static_cast<int>(s.size()) - 1
     << "] 'spectrum.dat' index k using 1:2 with points pt 7 ps 0.6 title sprintf('attractor %d', "
        "k)";
  render(out, "spectrum", gp.str(), log);
}

template void plot_examples<float>(const RunFolder&, const Items<float>&, const Model<float>&,
                                   std::array<int, 2>, spdlog::logger&);
template void plot_examples<double>(const RunFolder&, const Items<double>&, const Model<double>&,
                                    std::array<int, 2>, spdlog::logger&);
template void plot_activity<float>(const RunFolder&, Model<float>&, FixedStepScheme<float>&,
                                   std::int64_t, const Items<float>&, Index, NoiseKey,
                                   spdlog::logger&);
template void plot_activity<double>(const RunFolder&, Model<double>&, FixedStepScheme<double>&,
                                    std::int64_t, const Items<double>&, Index, NoiseKey,
                                    spdlog::logger&);
template void plot_ensemble<float>(const RunFolder&, Model<float>&, FixedStepScheme<float>&,
                                   std::int64_t, const Items<float>&, Index, NoiseKey, int,
                                   spdlog::logger&);
template void plot_ensemble<double>(const RunFolder&, Model<double>&, FixedStepScheme<double>&,
                                    std::int64_t, const Items<double>&, Index, NoiseKey, int,
                                    spdlog::logger&);

void plot_attack_curve(const RunFolder& out, const std::string& attack,
                       const std::vector<std::pair<double, double>>& p_accuracy,
                       spdlog::logger& log) {
  std::ostringstream d;
  d << "# p accuracy\n";
  for (const auto& [p, a] : p_accuracy) d << p << " " << a << "\n";
  write_file_atomic(out.figures() / "attacks.dat", d.str());
  render(out, "attacks",
         "set xlabel 'attack strength p (" + attack +
             ")'\nset ylabel 'test accuracy (%)'\nset grid\nset yrange [0:100]\n"
             "plot 'attacks.dat' using 1:(100*$2) with linespoints notitle",
         log);
}

}  // namespace dynsim
