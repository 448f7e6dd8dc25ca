#include "support/helpers.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "scenario/scenario.hpp"

extern "C" const dynsim_plugin_info* dynsim_plugin_entry();  // plugins/models/linear, linked in

namespace dynsim::test {

Options options_from(const OptionSpecs& specs, const std::string& toml_options) {
  const toml::table t =
      toml::parse(std::string_view(toml_options), std::string_view("test-options"));
  return check_table(&t, specs, "[test]", "test-options");
}

template <class S>
std::unique_ptr<Model<S>> linear_model(const std::string& toml_options) {
  const dynsim_plugin_info* info = dynsim_plugin_entry();
  const Options o = options_from(info->factory->options(), toml_options);
  auto obj = info->factory->create(precision_of<S>(), o, Context{});
  return std::unique_ptr<Model<S>>(static_cast<Model<S>*>(obj.release()));
}
template std::unique_ptr<Model<float>> linear_model<float>(const std::string&);
template std::unique_ptr<Model<double>> linear_model<double>(const std::string&);

Command run(const std::string& command) {
  Command c{-1, ""};
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return c;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) c.output += buf.data();
  const int status = ::pclose(p);
  c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}

Command run_dynsim(const std::string& args, const std::string& env) {
  return run(env + (env.empty() ? "" : " ") + DYNSIM_BIN + " " + args);
}

namespace {
// The test process's scratch folder, removed at exit unless DYNSIM_KEEP_TEST_FILES is set.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir()
      : path(std::filesystem::temp_directory_path() /
             ("dynsim-tests-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!std::getenv("DYNSIM_KEEP_TEST_FILES")) std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static const ScratchDir dir;
  return dir.path.string();
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace dynsim::test
