// The run folder's figures (gnuplot, PNG): training curves, example inputs beside their
// attractors (the paper's Fig. 2), the activity of every node of one item over time coloured by
// its target (Fig. 3), and the Jacobian spectra at the planted attractors.
#pragma once

#include <spdlog/logger.h>
#include <dynsim/sdk/dataset.hpp>

#include "analysis/stability.hpp"
#include "run/run_folder.hpp"
#include "train/trainer.hpp"

namespace dynsim {

void plot_training(const RunFolder& out, const TrainState& state, spdlog::logger& log);

template <class S>
void plot_examples(const RunFolder& out, const Items<S>& items, const Model<S>& model,
                   std::array<int, 2> shape, spdlog::logger& log);

template <class S>
void plot_activity(const RunFolder& out, Model<S>& model, FixedStepScheme<S>& scheme,
                   std::int64_t steps, const Items<S>& items, Index item, NoiseKey key,
                   spdlog::logger& log);

// Fig. 4 of the CVFR paper: `draws` noise realisations of the readout of one node (one that
// should end high) for one item, with their mean and standard deviation over time.
template <class S>
void plot_ensemble(const RunFolder& out, Model<S>& model, FixedStepScheme<S>& scheme,
                   std::int64_t steps, const Items<S>& items, Index item, NoiseKey key, int draws,
                   spdlog::logger& log);

void plot_spectrum(const RunFolder& out, const std::vector<AttractorStability>& s,
                   spdlog::logger& log);

// Test accuracy against attack strength p (mean over repeats).
void plot_attack_curve(const RunFolder& out, const std::string& attack,
                       const std::vector<std::pair<double, double>>& p_accuracy,
                       spdlog::logger& log);

}  // namespace dynsim
