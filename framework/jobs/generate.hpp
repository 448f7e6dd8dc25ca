// Generation from a trained run (`dynsim generate`): latent samples around the planted
// attractor of a class, decoded into items.
//   lna        N(x_k, Sigma_k), Sigma_k from the Lyapunov equation at x_k (analysis/lna.hpp)
//   empirical  N(m_k, C_k), the mean and covariance of x(T) over the class's training items
//   sde        x(T_gen) of the SDE started at x_k, one path per sample
// plus interpolation between two items' final states and a grid along the top two principal
// directions of Sigma_k. Every draw is keyed by (seed, class, sample), so a sample does not
// depend on how many others were asked for.
#pragma once

#include <spdlog/logger.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "jobs/instances.hpp"
#include "run/run_folder.hpp"

namespace dynsim {

struct GenerateConfig {
  std::vector<int> classes;  // empty: every class
  std::int64_t count = 16;
  std::string mode = "lna";       // lna | empirical | sde
  double sde_time = 0;            // sde: how long each path runs (0: the scenario's T)
  std::int64_t max_items = 5000;  // empirical: class items integrated at most
  std::optional<std::pair<std::int64_t, std::int64_t>> interpolate;  // two test items
  std::int64_t interpolate_steps = 10;
  std::optional<int> disentangle;    // class
  std::int64_t grid = 7;             // disentangle: grid x grid
  double span = 2.5;                 // disentangle: +- this many standard deviations
  std::int64_t directions = 4;       // disentangle: principal directions moved one at a time
  std::filesystem::path classifier;  // a trained classifier run that scores the samples
};

// Samples, decodes and writes into `out`; returns the summary written as generate.json.
// InputError for anything the run cannot do (no decoder, no noise for lna/sde, unstable
// attractor for lna, a classifier whose items differ).
template <class S>
nlohmann::json generate(const Wiring& w, Instances<S>& in, const RunFolder& out,
                        const GenerateConfig& cfg, spdlog::logger& log);

// The classes a trained classifier run (its folder) assigns to items (D x n, one per column).
std::vector<int> classify_with_run(const std::filesystem::path& run_dir,
                                   const Matrix<double>& items, spdlog::logger& log);

}  // namespace dynsim
