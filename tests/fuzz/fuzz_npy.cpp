// libFuzzer target: the .npy reader (model files, optimizer state, --x0 arrays) in both
// precisions. InputError is the expected answer to a bad file; anything else is a finding.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/errors.hpp"
#include "run/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                            ("dynsim-fuzz-" + std::to_string(::getpid()) + ".npy");
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  try {
    (void)dynsim::read_matrix_npy<double>(file);
  } catch (const dynsim::InputError&) {
  }
  try {
    (void)dynsim::read_matrix_npy<float>(file);
  } catch (const dynsim::InputError&) {
  }
  return 0;
}
