// The simulation job: integrate initial states (from [simulate] x0, dataset items, or the Python
// module's arrays) with the scenario's model, noise law and integrator; write trajectories, final
// states and a figure.
#pragma once

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "integrate/integrator.hpp"
#include "jobs/instances.hpp"
#include "run/run_folder.hpp"

namespace dynsim {

// States along the way, [path][save][item][node], at `times`.
template <class S>
struct Trajectories {
  std::vector<S> states;
  std::vector<S> times;
  std::vector<Matrix<S>> finals;  // per path, N x B
  IntegrationStats stats;
  double wall_seconds = 0;
};

template <class S>
class SimulateJob {
 public:
  // Prepares the initial states from [simulate] x0 or the dataset and checks everything left to
  // check: InputError only.
  SimulateJob(const Wiring& w, Instances<S>& in);
  // Starts from these columns instead: inputs (input_dim x B, through encode()) or, with
  // `states`, full states (dim() x B). Item ids are 0..B-1.
  SimulateJob(const Wiring& w, Instances<S>& in, Matrix<S> x0, bool states);
  // Integrates and writes the outputs into `out`; returns the metrics.
  nlohmann::json run(const RunFolder& out, spdlog::logger& log);
  // Integrates every path, keeping the saved states when `keep`; writes nothing.
  Trajectories<S> integrate(bool keep) const;

 private:
  void check_size() const;
  const Wiring& w_;
  Instances<S>& in_;
  Matrix<S> x0_;  // input_dim x B, or dim() x B when states_
  bool states_ = false;
  std::vector<std::uint64_t> ids_;  // item ids: they key the noise
  std::vector<int> labels_;         // empty without a dataset
};

extern template class SimulateJob<float>;
extern template class SimulateJob<double>;

}  // namespace dynsim
