// dynsim_bench: throughput of the CVFR hot path at N = 784, measured the way a run spends it.
//
//   training:  Trainer::train_step, i.e. everything one optimizer step costs (building A and its
//              LU, forward, adjoint, parameter gradients, clipping, Adam, parameters_changed);
//   inference: FixedStepScheme::run over the batch;
//   roofline:  each path's product alone on the shapes the step calls, per item-step 3 GEMMs in
//              training (A f(X), A^T a, a f(X)^T) and 1 in inference.
//
// Paths, all timed in one run: f32 through OpenBLAS (the path before oneDNN), f32 through
// oneDNN (the default), and bf16 (scenario.precision = "bf16": bf16 operands through oneDNN).
//
// It also writes the initial parameters, one batch and dynsim's loss and gradients on it, so
// bench/cvfr_torch_twin.py can check that its computation is the same before timing it.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include <dynsim/sdk/blas.hpp>

#include "blas_timer.hpp"
#include "common/errors.hpp"
#include "jobs/instances.hpp"
#include "jobs/train_job.hpp"
#include "peak.hpp"
#include "run/atomic_file.hpp"
#include "run/npy.hpp"
#include "run/provenance.hpp"
#include "scenario/wiring.hpp"
#include "train/trainer.hpp"

namespace {

using namespace dynsim;
using clock_type = std::chrono::steady_clock;
using Mat = Matrix<float>;
namespace fs = std::filesystem;

void bench_log(void* state, int level, const char* source, const char* message) {
  static_cast<spdlog::logger*>(state)->log(static_cast<spdlog::level::level_enum>(level), "[{}] {}",
                                           source, message);
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct Timing {
  double seconds = 0;  // per call
  int reps = 0;
  double gemm_share = 0, gemm_gflops = 0;
};

// One untimed warm-up call, then three timed blocks of calls, each at least a third of
// `min_seconds` (and one call): the time per call is the fastest block's, since a busy
// machine only ever adds time. The twin times the same way.
template <class F>
Timing time_calls(F&& f, double min_seconds) {
  constexpr int kBlocks = 3;
  f();
  bench::reset_blas_time();
  Timing t;
  t.seconds = 1e300;
  double total = 0;
  for (int block = 0; block < kBlocks; ++block) {
    const auto t0 = clock_type::now();
    int reps = 0;
    do {
      f();
      ++reps;
    } while (seconds_since(t0) < min_seconds / kBlocks);
    const double elapsed = seconds_since(t0);
    total += elapsed;
    t.reps += reps;
    t.seconds = std::min(t.seconds, elapsed / reps);
  }
  const bench::BlasTime b = bench::blas_time();
  t.gemm_share = b.seconds / total;
  t.gemm_gflops = b.seconds > 0 ? b.flops / b.seconds * 1e-9 : 0;
  return t;
}

// Seconds per product of one shape through the current backend (blas::gemm, as the model calls
// it; blas::gemm_bf16 with bf16 operands): the best of five timed blocks, so a stray
// interruption does not lower the roofline.
double gemm_seconds(bool bf16, char ta, char tb, int m, int n, int k, double min_seconds) {
  Mat a = Mat::Random(ta == 'N' ? m : k, ta == 'N' ? k : m);
  Mat b = Mat::Random(tb == 'N' ? k : n, tb == 'N' ? n : k);
  blas::Bf16Matrix ab(a.rows(), a.cols()), bb(b.rows(), b.cols());
  blas::round_to_bf16(a, ab);
  blas::round_to_bf16(b, bb);
  Mat c = Mat::Zero(m, n);
  using blas::Op;
  const Op oa = ta == 'N' ? Op::n : Op::t, ob = tb == 'N' ? Op::n : Op::t;
  auto call = [&] {
    if (bf16)
      blas::gemm_bf16(oa, ob, 1.0f, ab, bb, 1.0f, c);
    else
      blas::gemm<float>(oa, ob, 1.0f, a, b, 1.0f, c);
  };
  call();
  double best = 1e300;
  for (int block = 0; block < 5; ++block) {
    const auto t0 = clock_type::now();
    int reps = 0;
    do {
      call();
      ++reps;
    } while (seconds_since(t0) < min_seconds / 5);
    best = std::min(best, seconds_since(t0) / reps);
  }
  return best;
}

std::vector<std::int64_t> parse_list(const std::string& text) {
  std::vector<std::int64_t> out;
  std::stringstream ss(text);
  for (std::string part; std::getline(ss, part, ',');) out.push_back(std::stoll(part));
  return out;
}

struct Args {
  std::string scenario = std::string(DYNSIM_BENCH_DIR) + "/cvfr_bench.toml";
  std::string batches = "1,16,128,500", steps = "30,300", out;
  std::string gemm = "openblas,onednn";  // every backend named is timed in f32, in one run
  bool bf16 = true;                      // and the bf16 path
  int threads = 0, check_batch = 16, check_steps = 30;
  double min_seconds = 3.0;
};

int run(const Args& args) {
  auto log = spdlog::stderr_color_mt("bench");
  log->set_pattern("%H:%M:%S %^%l%$ %v");
  const int threads =
      args.threads > 0 ? args.threads : static_cast<int>(std::thread::hardware_concurrency());
  const std::vector<std::int64_t> batches = parse_list(args.batches),
                                  steps = parse_list(args.steps);
  std::vector<std::pair<std::string, blas::Backend>> backends;
  {
    std::stringstream ss(args.gemm);
    for (std::string name; std::getline(ss, name, ',');) {
      if (name == "onednn")
        backends.emplace_back(name, blas::Backend::onednn);
      else if (name == "openblas")
        backends.emplace_back(name, blas::Backend::openblas);
      else
        throw InputError("--gemm: '" + name + "' is not onednn or openblas");
    }
    if (backends.empty()) throw InputError("--gemm: name a backend");
  }
  const fs::path out =
      args.out.empty() ? fs::path("runs") / ("bench-" + utc_timestamp(true)) : fs::path(args.out);
  fs::create_directories(out / "twin");

  Registry registry;
  const Wiring w = wire(args.scenario, {"scenario.threads=" + std::to_string(threads)}, registry);
  if (w.precision != Precision::f32)
    throw InputError(args.scenario + ": the benchmark times f32 (scenario.precision = \"f32\")");
  set_threads(threads);
  Instances<float> in = instantiate<float>(w, LogSink{bench_log, log.get()}, data_dir());
  if (!in.dataset || !in.loss) throw InputError(args.scenario + ": needs [dataset] and [loss]");
  Model<float>& model = *in.model;
  // The bf16 path: the same scenario and seed (so the same initial parameters) at bf16.
  const Wiring w16 =
      wire(args.scenario,
           {"scenario.threads=" + std::to_string(threads), "scenario.precision=bf16"}, registry);
  Instances<float> in16 = instantiate<float>(w16, LogSink{bench_log, log.get()}, data_dir());
  struct Path {
    std::string name;
    blas::Backend backend;
    Model<float>* model;
    bool bf16;
  };
  std::vector<Path> paths;
  for (const auto& [name, backend] : backends) paths.push_back({name, backend, &model, false});
  if (args.bf16) paths.push_back({"bf16", blas::Backend::onednn, in16.model, true});
  const Items<float> items = in.dataset->load(Split::train);
  const Index n = model.dim();
  const std::int64_t b_max = *std::max_element(batches.begin(), batches.end());
  if (items.x.cols() < std::max<std::int64_t>(b_max, args.check_batch))
    throw InputError(args.scenario + ": the dataset has " + std::to_string(items.x.cols()) +
                     " training items, fewer than the largest batch");

  std::vector<Mat> initial;
  for (const auto& p : model.parameters()) initial.emplace_back(p.map());
  auto restore = [&](Model<float>& m) {
    auto params = m.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) params[i].map() = initial[i];
    m.parameters_changed();
  };
  TrainConfig cfg = train_config(w.train_table);
  const double dt = w.integrator.dt;
  auto batch_of = [&](Index b, Mat& x, std::vector<int>& labels, std::vector<std::uint64_t>& ids) {
    x = items.x.leftCols(b);
    labels.assign(items.labels.begin(), items.labels.begin() + b);
    ids.assign(items.ids.begin(), items.ids.begin() + b);
  };

  // The twin's inputs: the first b items and their labels.
  auto write_batch = [&](const std::string& prefix, Index b) {
    Mat x, lab(1, b);
    std::vector<int> labels;
    std::vector<std::uint64_t> ids;
    batch_of(b, x, labels, ids);
    for (Index j = 0; j < b; ++j) lab(0, j) = float(labels[std::size_t(j)]);
    write_matrix_npy(out / "twin" / (prefix + "_inputs.npy"), x);
    write_matrix_npy(out / "twin" / (prefix + "_labels.npy"), lab);
  };

  // The machine's limit, before anything else loads the cores.
  const bench::Peak peak = bench::measure_peak(threads, args.min_seconds);
  log->info("machine peak on {} threads: fp32 FMA {:.0f} GFLOP/s, bf16 dot products {:.0f} GFLOP/s",
            threads, peak.fp32_gflops, peak.bf16_gflops);

  // 1. The twin's check: initial parameters, one batch, dynsim's loss and gradients (through the
  // first backend named).
  blas::set_backend(backends.front().second);
  {
    FixedStepScheme<float> scheme(w.integrator.method, dt, w.integrator.t0, model, in.noise,
                                  threads);
    cfg.batch_size = args.check_batch;
    Trainer<float> trainer(cfg, model, *in.loss, scheme, args.check_steps, w.seed, *log);
    Mat x;
    std::vector<int> labels;
    std::vector<std::uint64_t> ids;
    batch_of(args.check_batch, x, labels, ids);
    std::vector<Mat> grads;
    const double loss = trainer.batch_gradient(x, labels, ids, NoiseKey{w.seed, 1, 0}, grads);
    for (const auto& [name, m] : model.exports())
      write_matrix_npy(out / "twin" / (name + ".npy"), m);
    write_batch("check", args.check_batch);
    const auto params = model.parameters();
    for (std::size_t i = 0; i < params.size(); ++i)
      write_matrix_npy(out / "twin" / ("grad_" + params[i].name + ".npy"), grads[i]);
    double loss16 = 0;
    if (args.bf16) {  // the bf16 path's loss and gradients on the same batch, for the twin
      blas::set_backend(blas::Backend::onednn);
      FixedStepScheme<float> s16(w.integrator.method, dt, w.integrator.t0, *in16.model, in.noise,
                                 threads);
      Trainer<float> t16(cfg, *in16.model, *in.loss, s16, args.check_steps, w.seed, *log);
      std::vector<Mat> g16;
      loss16 = t16.batch_gradient(x, labels, ids, NoiseKey{w.seed, 1, 0}, g16);
      for (std::size_t i = 0; i < params.size(); ++i)
        write_matrix_npy(out / "twin" / ("bf16_grad_" + params[i].name + ".npy"), g16[i]);
      blas::set_backend(backends.front().second);
    }
    // c and beta come with the exports above, as the model resolved them.
    nlohmann::json check = {{"loss", loss},
                            {"bf16_loss", args.bf16 ? nlohmann::json(loss16) : nlohmann::json()},
                            {"batch", args.check_batch},
                            {"steps", args.check_steps},
                            {"input_scale", w.plugin("model")->options.real("input_scale")},
                            {"loss_plugin", w.plugin("loss")->record->name},
                            {"reduction", w.plugin("loss")->options.string("reduction")}};
    write_file_atomic(out / "twin" / "check.json", check.dump(2));
  }

  write_batch("timing", Index(b_max));

  // 2. The roofline: each backend's product alone on the step's shapes.
  nlohmann::json roofs = nlohmann::json::object();
  std::map<std::string, std::map<Index, double>> t_fwd, t_bwd, t_wgrad;
  for (const Path& path : paths) {
    const std::string& name = path.name;
    blas::set_backend(path.backend);
    const double limit = path.bf16 ? peak.bf16_gflops : peak.fp32_gflops;
    nlohmann::json roof = nlohmann::json::object();
    for (const std::int64_t b : batches) {
      const int ni = int(n), bi = int(b);
      double& f = t_fwd[name][b];
      double& g = t_bwd[name][b];
      double& h = t_wgrad[name][b];
      // The bf16 model keeps A^T as its own matrix, so its A^T a is an N-N product too.
      f = gemm_seconds(path.bf16, 'N', 'N', ni, bi, ni, 0.5);
      g = gemm_seconds(path.bf16, path.bf16 ? 'N' : 'T', 'N', ni, bi, ni, 0.5);
      h = gemm_seconds(path.bf16, 'N', 'T', ni, ni, bi, 0.5);
      const double flops = 2.0 * double(n) * double(n) * double(b);
      roof[std::to_string(b)] = {{"A_f_seconds", f},
                                 {"At_a_seconds", g},
                                 {"a_fT_seconds", h},
                                 {"A_f_gflops", flops / f * 1e-9},
                                 {"At_a_gflops", flops / g * 1e-9},
                                 {"a_fT_gflops", flops / h * 1e-9},
                                 {"A_f_machine_fraction", flops / f * 1e-9 / limit}};
      log->info(
          "{} N={} B={}: A f {:.1f} GFLOP/s ({:.0f} % of the machine's {} limit), A^T a {:.1f}, "
          "a f^T {:.1f}",
          name, n, b, flops / f * 1e-9, 100 * flops / f * 1e-9 / limit, path.bf16 ? "bf16" : "fp32",
          flops / g * 1e-9, flops / h * 1e-9);
    }
    roofs[name] = roof;
  }

  // The per-optimizer-step cost that does not depend on B or the step count: rebuilding A
  // (and its LU) from the parameters, and mapping dL/dA to the parameter blocks (profile of
  // the small-batch regime, where it dominates).
  blas::set_backend(backends.front().second);
  restore(model);
  std::vector<Mat> acc, grads;
  for (const auto& [r, c] : model.accumulator_shapes()) acc.push_back(Mat::Random(r, c));
  const Timing rebuild = time_calls([&] { model.parameters_changed(); }, args.min_seconds / 2);
  const Timing finish =
      time_calls([&] { model.finish_gradients(acc, grads); }, args.min_seconds / 2);
  log->info("per optimizer step: parameters_changed {:.2f} ms, finish_gradients {:.2f} ms",
            1e3 * rebuild.seconds, 1e3 * finish.seconds);
  const nlohmann::json fixed = {
      {"parameters_changed_seconds", rebuild.seconds},
      {"finish_gradients_seconds", finish.seconds},
      {"gemm_share", (rebuild.gemm_share * rebuild.seconds + finish.gemm_share * finish.seconds) /
                         (rebuild.seconds + finish.seconds)}};

  // 3. dynsim: training steps and inference, smallest work first (so the process's peak memory
  // after each configuration is that configuration's).
  nlohmann::json configs = nlohmann::json::array();
  for (const Path& path : paths)
    for (const std::int64_t s : steps)
      for (const std::int64_t b : batches) {
        const std::string& gemm_name = path.name;
        Model<float>& timed = *path.model;
        const double limit = path.bf16 ? peak.bf16_gflops : peak.fp32_gflops;
        blas::set_backend(path.backend);
        restore(timed);
        FixedStepScheme<float> scheme(w.integrator.method, dt, w.integrator.t0, timed, in.noise,
                                      threads);
        cfg.batch_size = b;
        Trainer<float> trainer(cfg, timed, *in.loss, scheme, s, w.seed, *log);
        Mat x, X;
        std::vector<int> labels;
        std::vector<std::uint64_t> ids;
        batch_of(Index(b), x, labels, ids);
        const NoiseKey key{w.seed, 1, 0};
        const Timing train = time_calls(
            [&] {
              if (!trainer.train_step(x, labels, ids, key).ok)
                throw RunError("benchmark training step diverged");
            },
            args.min_seconds);
        X.resize(n, Index(b));
        const Timing infer = time_calls(
            [&] {
              timed.encode(x, X);
              scheme.run(X, 0, s, ids, key);
            },
            args.min_seconds);
        const std::int64_t every = auto_checkpoint_every(s, n, b, sizeof(float));
        const double item_steps = double(b) * double(s);
        const double roof_train = double(s) * (t_fwd[gemm_name][b] * (every > 1 ? 2 : 1) +
                                               t_bwd[gemm_name][b] + t_wgrad[gemm_name][b]);
        const double roof_infer = double(s) * t_fwd[gemm_name][b];
        nlohmann::json c = {{"gemm", gemm_name},
                            {"precision", path.bf16 ? "bf16" : "f32"},
                            {"batch", b},
                            {"steps", s},
                            {"train_step_seconds", train.seconds},
                            {"train_reps", train.reps},
                            {"train_item_steps_per_second", item_steps / train.seconds},
                            {"train_gemm_share", train.gemm_share},
                            {"train_gemm_gflops", train.gemm_gflops},
                            {"train_gemm_machine_fraction", train.gemm_gflops / limit},
                            {"infer_gemm_gflops", infer.gemm_gflops},
                            {"infer_gemm_machine_fraction", infer.gemm_gflops / limit},
                            {"train_recomputes_forward", every > 1},
                            {"roofline_train_seconds", roof_train},
                            {"train_roofline_fraction", roof_train / train.seconds},
                            {"infer_seconds", infer.seconds},
                            {"infer_reps", infer.reps},
                            {"infer_item_steps_per_second", item_steps / infer.seconds},
                            {"infer_gemm_share", infer.gemm_share},
                            {"roofline_infer_seconds", roof_infer},
                            {"infer_roofline_fraction", roof_infer / infer.seconds},
                            {"peak_rss_bytes", peak_rss_bytes()}};
        log->info(
            "{} B={} steps={}: train {:.4g} s/step ({:.3g} item-steps/s, GEMM {:.0f} % of the time "
            "at {:.0f} % of the machine, {:.0f} % of roofline), inference {:.4g} s ({:.3g} "
            "item-steps/s, {:.0f} % of roofline), peak {:.0f} MB",
            gemm_name, b, s, train.seconds, item_steps / train.seconds, 100 * train.gemm_share,
            100 * train.gemm_gflops / limit, 100 * roof_train / train.seconds, infer.seconds,
            item_steps / infer.seconds, 100 * roof_infer / infer.seconds,
            double(peak_rss_bytes()) / 1e6);
        configs.push_back(c);
      }

  const nlohmann::json result = {
      {"tool", "dynsim_bench"},
      {"date", utc_timestamp()},
      {"cpu", cpu_model()},
      {"threads", threads},
      {"blas", blas_description()},
      {"scenario", fs::absolute(args.scenario).string()},
      {"n", n},
      {"dt", dt},
      {"lr", cfg.optimizer.lr},
      {"clip_norm", cfg.clip_norm},
      {"min_seconds", args.min_seconds},
      {"machine_peak_gflops", {{"fp32", peak.fp32_gflops}, {"bf16", peak.bf16_gflops}}},
      {"roofline", roofs},
      {"per_optimizer_step", fixed},
      {"configs", configs}};
  write_file_atomic(out / "dynsim.json", result.dump(2));
  std::cout << out.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dynsim_bench: CVFR training and inference throughput against the sgemm roofline"};
  Args a;
  app.add_option("--scenario", a.scenario, "the model, loss and data to time")
      ->capture_default_str();
  app.add_option("--batch", a.batches, "batch sizes, comma-separated")->capture_default_str();
  app.add_option("--steps", a.steps, "Euler steps per item, comma-separated")
      ->capture_default_str();
  app.add_option("--threads", a.threads, "threads (0: all cores)")->capture_default_str();
  app.add_option("--min-seconds", a.min_seconds, "timed seconds per measurement (after a warm-up)")
      ->capture_default_str();
  app.add_option("--check-batch", a.check_batch, "batch of the twin's gradient check")
      ->capture_default_str();
  app.add_option("--out", a.out, "output folder (default runs/bench-<time>)");
  app.add_option("--gemm", a.gemm,
                 "product backends to time in f32, comma-separated (onednn, openblas)")
      ->capture_default_str();
  app.add_option("--bf16", a.bf16, "also time the bf16 path (scenario.precision = bf16)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(a);
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
