// libFuzzer target: loading a model folder whose model.json is the input (the manifest that
// `evaluate`, `--resume` and the Python module read), next to two valid parameter blocks. An
// InputError is the expected answer; any other exception, a crash or a leak is a finding.
//
// With DYNSIM_FUZZ_WRITE_SEED=DIR set, it writes the valid model.json it starts from to DIR
// (how tests/fuzz/corpus/model_json was made) and exits.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "run/model_file.hpp"

namespace {
namespace fs = std::filesystem;

// Two parameter blocks, W (3 x 2) and b (3 x 1): enough for every check of load_model.
class TwoBlocks final : public dynsim::Model<double> {
 public:
  TwoBlocks() : W_(3, 2), b_(3, 1) {
    W_ << 1, 2, 3, 4, 5, 6;
    b_ << -1, 0, 1;
  }
  dynsim::Index dim() const override { return 3; }
  void drift(double, dynsim::ConstMatrixRef<double> X, dynsim::MatrixRef<double> d) override {
    d = -X;
  }
  void drift_vjp(double, dynsim::ConstMatrixRef<double>, dynsim::ConstMatrixRef<double> adj,
                 dynsim::MatrixRef<double> adj_x, std::vector<dynsim::Matrix<double>>&) override {
    adj_x = -adj;
  }
  std::vector<dynsim::Parameter<double>> parameters() override {
    return {{"W", W_.data(), W_.rows(), W_.cols()}, {"b", b_.data(), b_.rows(), b_.cols()}};
  }

 private:
  dynsim::Matrix<double> W_, b_;
};

fs::path model_dir() {
  static const fs::path dir = [] {
    const fs::path d =
        fs::temp_directory_path() / ("dynsim-fuzz-model-" + std::to_string(::getpid()));
    fs::remove_all(d);
    TwoBlocks m;
    std::vector<std::pair<std::string, dynsim::Matrix<double>>> arrays;
    for (auto& p : m.parameters()) arrays.emplace_back(p.name, p.map());
    dynsim::save_arrays<double>(d, "model.json", arrays, {{"format", "dynsim-model/1"}});
    if (const char* seed = std::getenv("DYNSIM_FUZZ_WRITE_SEED")) {
      fs::create_directories(seed);
      fs::copy_file(d / "model.json", fs::path(seed) / "valid.json",
                    fs::copy_options::overwrite_existing);
      std::cout << "wrote " << (fs::path(seed) / "valid.json").string() << "\n";
      std::_Exit(0);  // not exit(): libFuzzer reports that as the target dying
    }
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path dir = model_dir();
  std::ofstream(dir / "model.json", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  TwoBlocks model;
  try {
    (void)dynsim::load_model<double>(dir, model);
  } catch (const dynsim::InputError&) {
  }
  return 0;
}
