// libFuzzer target: scenario text -> parsing, host-table checks, plugin option checks (what
// `dynsim validate` does before it builds anything). An InputError is the expected answer to a
// bad scenario; any other exception, a crash, a leak or a hang is a finding. Plugins come from
// DYNSIM_PLUGIN_PATH (tests/fuzz/run.sh points it at a build's plugin folder).
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "plugin_host/registry.hpp"
#include "scenario/wiring.hpp"

namespace {
std::filesystem::path scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("dynsim-fuzz-scenario-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = scratch() / "scenario.toml";
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  // Each wiring gets a registry as the CLI does; the libraries stay loaded (dlopen counts them),
  // so this costs a directory scan, not a load.
  dynsim::Registry registry;
  try {
    dynsim::wire(file, {}, registry);
  } catch (const dynsim::InputError&) {
  }
  return 0;
}
