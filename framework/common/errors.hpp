// Two classes of failure, two exit codes: InputError (sdk/options.hpp) for anything wrong in
// what the user gave us, found before integration starts (exit 2); RunError for a failure while
// running (exit 1).
#pragma once

#include <dynsim/sdk/options.hpp>
#include <stdexcept>

namespace dynsim {

struct RunError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace dynsim
