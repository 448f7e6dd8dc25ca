// `dynsim check-plugin`: a model plugin's derivatives against finite differences
// (dynsim/sdk/gradcheck.hpp), on random states, in double precision, before any training.
#pragma once

#include <spdlog/logger.h>

#include <dynsim/sdk/gradcheck.hpp>
#include <string>
#include <vector>

namespace dynsim {

// target: a scenario file (its [model] and [dataset] as a run would wire them) or a model
// plugin's name (options through sets: "model.n=20"). Prints the report on stdout; returns 0
// when every block is within the tolerance, 1 otherwise. InputError as for `validate`.
int check_plugin(const std::string& target, const std::vector<std::string>& sets,
                 const GradCheckConfig& cfg, spdlog::logger& log);

}  // namespace dynsim
