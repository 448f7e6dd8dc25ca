// The simulation job: integrate initial states (from [simulate] x0 or dataset items) with the
// scenario's model, noise law and integrator; write trajectories, final states and a figure.
#pragma once

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "jobs/instances.hpp"
#include "run/run_folder.hpp"

namespace dynsim {

template <class S>
class SimulateJob {
 public:
  // Prepares the initial states and checks everything left to check: InputError only.
  SimulateJob(const Wiring& w, Instances<S>& in);
  // Integrates and writes the outputs into `out`; returns the metrics.
  nlohmann::json run(const RunFolder& out, spdlog::logger& log);

 private:
  const Wiring& w_;
  Instances<S>& in_;
  Matrix<S> inputs_;                // input_dim x B
  std::vector<std::uint64_t> ids_;  // item ids: they key the noise
  std::vector<int> labels_;         // empty without a dataset
};

extern template class SimulateJob<float>;
extern template class SimulateJob<double>;

}  // namespace dynsim
