// libFuzzer target: the `idx` dataset plugin's reader (MNIST-format images and labels, plain or
// gzip) through the plugin's own factory, both splits. The input is one split's two files: the
// first two bytes (little-endian) give the length of the labels file, which follows; the rest
// is the images file. InputError is the expected answer; anything else is a finding.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <dynsim/sdk.hpp>
#include <filesystem>
#include <fstream>
#include <string>

extern "C" const dynsim_plugin_info* dynsim_plugin_entry();  // plugins/datasets/idx, linked in

namespace {
namespace fs = std::filesystem;

void write(const fs::path& file, const std::uint8_t* data, std::size_t size) {
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fs::path dir = [] {
    const fs::path d =
        fs::temp_directory_path() / ("dynsim-fuzz-idx-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  if (size < 2) return 0;
  const std::size_t labels = std::min<std::size_t>(data[0] | (data[1] << 8), size - 2);
  write(dir / "labels", data + 2, labels);
  write(dir / "images", data + 2 + labels, size - 2 - labels);

  const dynsim_plugin_info* info = dynsim_plugin_entry();
  dynsim::Options o = dynsim::default_options(info->factory->options());
  o.set("name", std::string("custom"), "fuzz");
  for (const char* split : {"train", "test"}) {
    o.set(std::string(split) + "_images", (dir / "images").string(), "fuzz");
    o.set(std::string(split) + "_labels", (dir / "labels").string(), "fuzz");
  }
  o.set("n_train", std::int64_t{3}, "fuzz");
  o.set("subset_seed", std::int64_t{5}, "fuzz");
  try {
    auto obj = info->factory->create(dynsim::Precision::f32, o, dynsim::Context{});
    auto& ds = *static_cast<dynsim::Dataset<float>*>(obj.get());
    (void)ds.load(dynsim::Split::train);
    (void)ds.classes();
  } catch (const dynsim::InputError&) {
  }
  return 0;
}
