// `dynsim new-plugin model NAME`: writes a buildable plugin folder from sdk/templates/model
// (compiled into the host): CMakeLists.txt, NAME.cpp (a working model with every hook the
// tutorial in docs/sdk_guide.md explains), NAME.toml (a letters training) and a README.
#pragma once

#include <string>

namespace dynsim {

// Writes into `dir` (default: ./NAME), which must not exist or be empty. InputError for a bad
// kind or name or an occupied folder. Prints the files and the next commands.
int new_plugin(const std::string& kind, const std::string& name, const std::string& dir);

}  // namespace dynsim
