#include "jobs/generate.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <sstream>

#include "analysis/lna.hpp"
#include "common/errors.hpp"
#include "evaluate/classifier.hpp"
#include "jobs/train_job.hpp"
#include "run/atomic_file.hpp"
#include "run/gnuplot.hpp"
#include "run/model_file.hpp"
#include "run/npy.hpp"

namespace dynsim {

namespace {

// Noise keys of generation, apart from training epochs (from 1) and evaluation (0xFFFFFFFF).
constexpr std::uint32_t kGenerateEpoch = 0xFFFFFFF0u;

// Standard normals for `count` samples of class k, column j keyed by (k, j) alone.
Matrix<double> normals(std::uint64_t seed, int k, Index n, std::int64_t count) {
  const Random rng(seed, Stream::sample);
  Matrix<double> z(n, count);
  for (Index j = 0; j < count; ++j)
    rng.normals(Counter{0, static_cast<std::uint32_t>(k), static_cast<std::uint64_t>(j), 0},
                z.col(j).data(), n);
  return z;
}

// Items (D x n) tiled into one image, `cols` per row, one pixel of gap, and drawn with gnuplot.
void image_grid(const RunFolder& out, const std::string& name, const Matrix<double>& items,
                std::array<int, 2> shape, Index cols, const std::string& title,
                spdlog::logger& log) {
  const int h = shape[0], wd = shape[1];
  if (h * wd != items.rows() || items.cols() == 0) return;
  const Index rows = (items.cols() + cols - 1) / cols;
  const Index H = rows * (h + 1) - 1, W = cols * (wd + 1) - 1;
  Matrix<double> canvas = Matrix<double>::Constant(H, W, 0.25);  // gaps a light grey
  for (Index j = 0; j < items.cols(); ++j) {
    const Index r0 = (j / cols) * (h + 1), c0 = (j % cols) * (wd + 1);
    for (int r = 0; r < h; ++r)
      for (int c = 0; c < wd; ++c) canvas(r0 + r, c0 + c) = items(r * wd + c, j);
  }
  std::ostringstream d;
  for (Index r = 0; r < H; ++r) {
    for (Index c = 0; c < W; ++c) d << (c ? " " : "") << canvas(r, c);
    d << "\n";
  }
  write_file_atomic(out.figures() / (name + ".dat"), d.str());
  std::ostringstream gp;
  gp << "unset key\nunset colorbox\nset size ratio -1\nunset xtics\nunset ytics\n"
     << "set yrange [] reverse\nset palette gray negative\nset cbrange [0:1]\n"
     << "set title '" << title << "'\nplot '" << name << ".dat' matrix with image\n";
  std::string why;
  const int px = static_cast<int>(std::clamp<Index>(W * 6, 300, 1400));
  const int py = static_cast<int>(std::clamp<Index>(H * 6 + 40, 200, 1400));
  if (!render_png(out.figures(), name, gp.str(), why, px, py))
    log.warn("figure {}.png skipped: {}", name, why);
}

// The run's own scheme: with the noise law only when the run integrated an SDE (a [noise] added
// with --set for generation leaves the trained deterministic dynamics as they were).
template <class S>
FixedStepScheme<S> run_scheme(const Wiring& w, Instances<S>& in) {
  const Method m = w.integrator.method;
  return FixedStepScheme<S>(m, w.integrator.dt, w.integrator.t0, *in.model,
                            m == Method::euler_maruyama ? in.noise : nullptr, w.threads);
}

template <class S>
Matrix<double> decode(Model<S>& model, const Matrix<double>& X) {
  const Matrix<S> Xs = X.cast<S>();
  Matrix<S> Y(model.input_dim(), X.cols());
  model.decode(Xs, Y);
  return Y.template cast<double>();
}

// Rows of the result: one sample per row (the layout numpy users expect).
void write_rows_npy(const std::filesystem::path& file, const Matrix<double>& columns) {
  write_matrix_npy<double>(file, columns.transpose());
}

template <class S>
std::vector<int> classify_items(const Wiring& w, const std::filesystem::path& run_dir,
                                const Matrix<double>& items, spdlog::logger& log) {
  auto sink = [](void* state, int level, const char* source, const char* message) {
    static_cast<spdlog::logger*>(state)->log(
        static_cast<spdlog::level::level_enum>(std::clamp(level, 0, 4)), "[{}] {}", source,
        message);
  };
  auto in = instantiate<S>(w, LogSink{sink, &log}, data_dir());
  load_model(run_dir / "model", *in.model);
  if (in.model->input_dim() != items.rows())
    throw InputError("classifier run " + run_dir.string() + " takes items of dimension " +
                     std::to_string(in.model->input_dim()) + ", the generated items have " +
                     std::to_string(items.rows()));
  FixedStepScheme<S> scheme = scheme_for(w, in);
  const Classifier<S> classifier(*in.model, 0.05);
  std::vector<int> out;
  const Index batch = 1000;
  for (Index start = 0; start < items.cols(); start += batch) {
    const Index b = std::min(batch, items.cols() - start);
    const Matrix<S> x = items.middleCols(start, b).template cast<S>();
    Matrix<S> X(in.model->dim(), b);
    in.model->encode(x, X);
    std::vector<std::uint64_t> ids(static_cast<std::size_t>(b));
    for (Index j = 0; j < b; ++j)
      ids[static_cast<std::size_t>(j)] = static_cast<std::uint64_t>(start + j);
    scheme.run(X, 0, w.integrator.fixed_steps(), ids, NoiseKey{w.seed, kGenerateEpoch, 0});
    for (int p : classifier.predict(X)) out.push_back(p);
  }
  return out;
}

}  // namespace

std::vector<int> classify_with_run(const std::filesystem::path& run_dir,
                                   const Matrix<double>& items, spdlog::logger& log) {
  const auto file = run_dir / "scenario.resolved.toml";
  if (!std::filesystem::is_regular_file(file))
    throw InputError("--classifier " + run_dir.string() +
                     ": not a run folder (no scenario.resolved.toml)");
  Registry registry;
  const Wiring w = wire(file, {}, registry);
  if (!w.training) throw InputError("--classifier " + run_dir.string() + ": not a training run");
  return w.precision == Precision::f64 ? classify_items<double>(w, run_dir, items, log)
                                       : classify_items<float>(w, run_dir, items, log);
}

template <class S>
nlohmann::json generate(const Wiring& w, Instances<S>& in, const RunFolder& out,
                        const GenerateConfig& cfg, spdlog::logger& log) {
  Model<S>& model = *in.model;
  if (!model.can_decode())
    throw InputError("generate: the model's state (dimension " + std::to_string(model.dim()) +
                     ") is not an item (dimension " + std::to_string(model.input_dim()) +
                     ") and it has no decoder; train it with a [latent] table");
  const Matrix<S> xs = model.attractors();
  const int K = static_cast<int>(xs.cols());
  if (K == 0) throw InputError("generate: the model has no planted attractors");
  std::vector<int> classes = cfg.classes;
  if (classes.empty())
    for (int k = 0; k < K; ++k) classes.push_back(k);
  for (int k : classes)
    if (k < 0 || k >= K)
      throw InputError("generate: --class " + std::to_string(k) +
                       " does not exist (the model has " + std::to_string(K) + " classes)");
  if (cfg.disentangle && (*cfg.disentangle < 0 || *cfg.disentangle >= K))
    throw InputError("generate: --disentangle " + std::to_string(*cfg.disentangle) +
                     " does not exist (the model has " + std::to_string(K) + " classes)");
  const bool needs_noise = cfg.mode == "lna" || cfg.mode == "sde" || cfg.disentangle.has_value();
  if (needs_noise && !in.noise)
    throw InputError(
        "generate: mode '" + cfg.mode + "'" +
        (cfg.disentangle ? " and --disentangle need" : " needs") +
        " a noise law, and the run has no [noise]; add one with --set noise.plugin=additive "
        "--set noise.sigma=0.05");
  const std::array<int, 2> shape =
      in.dataset ? in.dataset->image_shape() : std::array<int, 2>{0, 0};
  const Index n = model.dim();
  const S t0 = static_cast<S>(w.integrator.t0);
  const std::int64_t steps = w.integrator.fixed_steps();
  const Index cols =
      std::max<Index>(1, static_cast<Index>(std::ceil(std::sqrt(double(cfg.count)))));

  nlohmann::json summary = {
      {"mode", cfg.mode}, {"count", cfg.count}, {"classes", nlohmann::json::array()}};
  Items<S> train;
  if (cfg.mode == "empirical") {
    if (!in.dataset) throw InputError("generate: mode 'empirical' needs the run's [dataset]");
    train = load_split(*in.dataset, Split::train, 0);
  }
  Matrix<double> all_items(model.input_dim(), 0);
  std::vector<int> requested;
  for (int k : classes) {
    nlohmann::json cj = {{"class", k}};
    const Matrix<double> z = normals(w.seed, k, n, cfg.count);
    Matrix<double> samples;
    if (cfg.mode == "lna") {
      const LnaAttractor a = linear_noise_approximation(model, *in.noise, k, t0);
      samples = a.sample(z);
      cj["lna"] = a.summary();
      write_matrix_npy<double>(out.path("lna_covariance_" + std::to_string(k) + ".npy"),
                               a.covariance);
      log.info(
          "class {}: LNA at the attractor, max Re(J) {:.4g}, Lyapunov residual {:.2e}, rms "
          "spread {:.4g}",
          k, a.max_real, a.residual, cj["lna"]["rms_spread"].template get<double>());
    } else if (cfg.mode == "empirical") {
      std::vector<Index> idx;
      for (Index j = 0; j < train.x.cols() && Index(idx.size()) < cfg.max_items; ++j)
        if (train.labels[static_cast<std::size_t>(j)] == k) idx.push_back(j);
      if (idx.size() < 2)
        throw InputError("generate: class " + std::to_string(k) +
                         " has fewer than 2 training items");
      Matrix<S> in_x(train.x.rows(), Index(idx.size()));
      std::vector<std::uint64_t> ids;
      for (std::size_t j = 0; j < idx.size(); ++j) {
        in_x.col(Index(j)) = train.x.col(idx[j]);
        ids.push_back(train.ids[static_cast<std::size_t>(idx[j])]);
      }
      Matrix<S> X(n, in_x.cols());
      model.encode(in_x, X);
      FixedStepScheme<S> scheme = run_scheme(w, in);
      scheme.run(X, 0, steps, ids, NoiseKey{w.seed, kGenerateEpoch, 0});
      const Matrix<double> Xd = X.template cast<double>();
      const Vector<double> mean = Xd.rowwise().mean();
      const Matrix<double> c = Xd.colwise() - mean;
      const Matrix<double> cov = c * c.transpose() / double(Xd.cols() - 1);
      const Eigen::SelfAdjointEigenSolver<Matrix<double>> es(cov);
      samples = gaussian_samples(mean, es.eigenvectors(), es.eigenvalues(), z);
      const double dist = (mean - xs.col(k).template cast<double>()).norm() /
                          std::max(1e-300, double(xs.col(k).norm()));
      cj["empirical"] = {{"items", idx.size()},
                         {"trace_covariance", cov.trace()},
                         {"mean_distance_to_attractor", dist}};
      write_matrix_npy<double>(out.path("empirical_covariance_" + std::to_string(k) + ".npy"), cov);
      log.info(
          "class {}: empirical x(T) of {} training items, mean {:.3g} (relative) from the "
          "attractor, rms spread {:.4g}",
          k, idx.size(), dist, std::sqrt(cov.trace() / double(n)));
    } else if (cfg.mode == "sde") {
      const double T = cfg.sde_time > 0 ? cfg.sde_time : w.integrator.t_end - w.integrator.t0;
      const auto sde_steps = static_cast<std::int64_t>(std::llround(T / w.integrator.dt));
      FixedStepScheme<S> sde(Method::euler_maruyama, w.integrator.dt, w.integrator.t0, model,
                             in.noise, w.threads);
      Matrix<S> X = xs.col(k).replicate(1, cfg.count);
      std::vector<std::uint64_t> ids;
      for (std::int64_t j = 0; j < cfg.count; ++j) ids.push_back(static_cast<std::uint64_t>(j));
      sde.run(X, 0, sde_steps, ids,
              NoiseKey{w.seed, kGenerateEpoch - 1 - static_cast<std::uint32_t>(k), 0});
      samples = X.template cast<double>();
      cj["sde"] = {{"time", T}, {"steps", sde_steps}};
      log.info("class {}: {} SDE paths from the attractor for t = {} ({} Euler-Maruyama steps)", k,
               cfg.count, T, sde_steps);
    } else {
      throw InputError("generate: --mode must be lna, empirical or sde, got '" + cfg.mode + "'");
    }
    const Matrix<double> items = decode(model, samples);
    const std::string tag = "class_" + std::to_string(k) + "_" + cfg.mode;
    write_rows_npy(out.path("samples_" + tag + ".npy"), samples);
    write_rows_npy(out.path("items_" + tag + ".npy"), items);
    image_grid(out, tag, items, shape, cols,
               "class " + std::to_string(k) + ", " + cfg.mode + " samples", log);
    all_items.conservativeResize(Eigen::NoChange, all_items.cols() + items.cols());
    all_items.rightCols(items.cols()) = items;
    for (Index j = 0; j < items.cols(); ++j) requested.push_back(k);
    summary["classes"].push_back(cj);
  }

  // One overview: a row of (up to) ten samples per class.
  if (classes.size() > 1) {
    const Index per = std::min<Index>(10, cfg.count);
    Matrix<double> rows(all_items.rows(), per * Index(classes.size()));
    for (std::size_t c = 0; c < classes.size(); ++c)
      rows.middleCols(Index(c) * per, per) = all_items.middleCols(Index(c) * cfg.count, per);
    image_grid(out, "all_" + cfg.mode, rows, shape, per,
               "one row per class, " + cfg.mode + " samples", log);
  }

  if (!cfg.classifier.empty()) {
    const std::vector<int> got = classify_with_run(cfg.classifier, all_items, log);
    std::vector<std::int64_t> right(static_cast<std::size_t>(K), 0),
        total(static_cast<std::size_t>(K), 0);
    for (std::size_t j = 0; j < got.size(); ++j) {
      ++total[static_cast<std::size_t>(requested[j])];
      if (got[j] == requested[j]) ++right[static_cast<std::size_t>(requested[j])];
    }
    std::int64_t r_all = 0, t_all = 0;
    nlohmann::json per = nlohmann::json::array();
    for (auto& cj : summary["classes"]) {
      const auto k = static_cast<std::size_t>(cj["class"].template get<int>());
      cj["classifier_share"] = double(right[k]) / double(std::max<std::int64_t>(1, total[k]));
      r_all += right[k];
      t_all += total[k];
    }
    summary["classifier"] = {
        {"run", cfg.classifier.string()},
        {"share_of_requested_class", double(r_all) / double(std::max<std::int64_t>(1, t_all))}};
    log.info("classifier {}: {:.2f} % of the {} generated items are assigned the requested class",
             cfg.classifier.string(),
             100.0 * double(r_all) / double(std::max<std::int64_t>(1, t_all)), t_all);
  }

  if (cfg.interpolate) {
    if (!in.dataset) throw InputError("generate: --interpolate needs the run's [dataset]");
    const Items<S> test = load_split(*in.dataset, Split::test, 0);
    const auto [i, j] = *cfg.interpolate;
    for (auto v : {i, j})
      if (v < 0 || v >= test.x.cols())
        throw InputError("generate: --interpolate item " + std::to_string(v) +
                         " is not in the test split (" + std::to_string(test.x.cols()) + " items)");
    // Between the two items' final states x(T): the latent points the decoder was trained on.
    Matrix<S> pair(test.x.rows(), 2), X(n, 2);
    pair.col(0) = test.x.col(i);
    pair.col(1) = test.x.col(j);
    model.encode(pair, X);
    FixedStepScheme<S> scheme = run_scheme(w, in);
    const std::vector<std::uint64_t> ids = {test.ids[static_cast<std::size_t>(i)],
                                            test.ids[static_cast<std::size_t>(j)]};
    scheme.run(X, 0, steps, ids, NoiseKey{w.seed, kGenerateEpoch, 0});
    const Matrix<double> Xd = X.template cast<double>();
    const std::int64_t m = std::max<std::int64_t>(2, cfg.interpolate_steps);
    Matrix<double> path(n, m);
    for (std::int64_t s = 0; s < m; ++s) {
      const double a = double(s) / double(m - 1);
      path.col(s) = (1 - a) * Xd.col(0) + a * Xd.col(1);
    }
    Matrix<double> strip(model.input_dim(), m + 2);
    strip.col(0) = pair.col(0).template cast<double>();
    strip.middleCols(1, m) = decode(model, path);
    strip.col(m + 1) = pair.col(1).template cast<double>();
    const std::string tag = "interpolate_" + std::to_string(i) + "_" + std::to_string(j);
    write_rows_npy(out.path("samples_" + tag + ".npy"), path);
    write_rows_npy(out.path("items_" + tag + ".npy"), strip);
    image_grid(out, tag, strip, shape, m + 2,
               "test items " + std::to_string(i) + " and " + std::to_string(j) +
                   " (ends) and decoded points between their x(T)",
               log);
    summary["interpolate"] = {
        {"items", {i, j}},
        {"labels",
         {test.labels[static_cast<std::size_t>(i)], test.labels[static_cast<std::size_t>(j)]}},
        {"steps", m}};
  }

  if (cfg.disentangle) {
    const int k = *cfg.disentangle;
    const LnaAttractor a = linear_noise_approximation(model, *in.noise, k, t0);
    const std::int64_t g = std::max<std::int64_t>(2, cfg.grid);
    Matrix<double> pts(n, g * g);
    const double s1 = std::sqrt(std::max(0.0, a.variances(0))),
                 s2 = n > 1 ? std::sqrt(std::max(0.0, a.variances(1))) : 0.0;
    for (std::int64_t r = 0; r < g; ++r)
      for (std::int64_t c = 0; c < g; ++c) {
        const double u = cfg.span * (2.0 * double(c) / double(g - 1) - 1.0);
        const double v = cfg.span * (2.0 * double(r) / double(g - 1) - 1.0);
        Vector<double> x = a.mean + u * s1 * a.directions.col(0);
        if (n > 1) x += v * s2 * a.directions.col(1);
        pts.col(r * g + c) = x;
      }
    const Matrix<double> items = decode(model, pts);
    const std::string tag = "disentangle_class_" + std::to_string(k);
    write_rows_npy(out.path("samples_" + tag + ".npy"), pts);
    write_rows_npy(out.path("items_" + tag + ".npy"), items);
    std::ostringstream title;
    title << "class " << k << ": x_k + u sqrt(v1) d1 + v sqrt(v2) d2, u (across), v (down) in [-"
          << cfg.span << ", " << cfg.span << "]";
    image_grid(out, tag, items, shape, g, title.str(), log);
    // One direction at a time: row i moves x_k along d_i alone, so a factor that changes in one
    // row and in no other is tied to that direction.
    const std::int64_t rows = std::min<std::int64_t>(n, cfg.directions);
    Matrix<double> line(n, rows * g);
    for (std::int64_t i = 0; i < rows; ++i) {
      const double si = std::sqrt(std::max(0.0, a.variances(i)));
      for (std::int64_t c = 0; c < g; ++c) {
        const double u = cfg.span * (2.0 * double(c) / double(g - 1) - 1.0);
        line.col(i * g + c) = a.mean + u * si * a.directions.col(i);
      }
    }
    const std::string dtag = "directions_class_" + std::to_string(k);
    write_rows_npy(out.path("samples_" + dtag + ".npy"), line);
    const Matrix<double> line_items = decode(model, line);
    write_rows_npy(out.path("items_" + dtag + ".npy"), line_items);
    std::ostringstream dtitle;
    dtitle << "class " << k << ": row i = x_k + u sqrt(v_i) d_i, u in [-" << cfg.span << ", "
           << cfg.span << "], i = 1.." << rows;
    image_grid(out, dtag, line_items, shape, g, dtitle.str(), log);
    // Anisotropy: top variance over the 10th (or the last, below 10 dimensions); 1 is isotropic.
    const Index tenth = std::min<Index>(9, n - 1);
    const double anisotropy = a.variances(tenth) > 0 ? a.variances(0) / a.variances(tenth) : 0.0;
    log.info(
        "disentangle class {}: LNA variances {:.3g} (top), {:.3g} (2nd), {:.3g} ({}th); top / "
        "{}th = {:.3g}",
        k, a.variances(0), n > 1 ? a.variances(1) : 0.0, a.variances(tenth), tenth + 1, tenth + 1,
        anisotropy);
    std::vector<double> all(a.variances.data(), a.variances.data() + a.variances.size());
    summary["disentangle"] = {{"class", k},
                              {"grid", g},
                              {"span", cfg.span},
                              {"directions", rows},
                              {"variances", all},
                              {"anisotropy", anisotropy},
                              {"anisotropy_rank", tenth + 1},
                              {"top_variances", {a.variances(0), n > 1 ? a.variances(1) : 0.0}}};
  }
  return summary;
}

template nlohmann::json generate<float>(const Wiring&, Instances<float>&, const RunFolder&,
                                        const GenerateConfig&, spdlog::logger&);
template nlohmann::json generate<double>(const Wiring&, Instances<double>&, const RunFolder&,
                                         const GenerateConfig&, spdlog::logger&);

}  // namespace dynsim
