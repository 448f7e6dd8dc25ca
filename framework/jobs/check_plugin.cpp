#include "jobs/check_plugin.hpp"

#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "common/errors.hpp"
#include "jobs/instances.hpp"
#include "plugin_host/registry.hpp"
#include "scenario/wiring.hpp"

namespace dynsim {
namespace fs = std::filesystem;

namespace {

// A scenario of one [model] table naming the plugin, for a target given by name; removed on exit.
class NamedScenario {
 public:
  explicit NamedScenario(const std::string& plugin) {
    file_ = fs::temp_directory_path() /
            ("dynsim-check-" + std::to_string(::getpid()) + "-" + plugin + ".toml");
    std::ofstream(file_) << "[scenario]\nname = \"check-" << plugin << "\"\n\n[model]\nplugin = \""
                         << plugin << "\"\n\n[integrator]\nsteps = 1\n";
  }
  ~NamedScenario() {
    std::error_code ec;
    fs::remove(file_, ec);
  }
  NamedScenario(const NamedScenario&) = delete;
  NamedScenario& operator=(const NamedScenario&) = delete;
  const fs::path& file() const { return file_; }

 private:
  fs::path file_;
};

template <class S>
int check(const Wiring& w, const GradCheckConfig& cfg, spdlog::logger& log) {
  auto in = instantiate<S>(w, log_sink(log), data_dir());
  const PluginChoice& c = *w.plugin("model");
  log.info(
      "checking model '{}' {} ({}) in {}: N = {}, input {}, readout {}, {} parameter "
      "block(s), batch {}",
      c.record->name, c.record->version, c.record->file.string(),
      std::is_same_v<S, double> ? "double" : "float", in.model->dim(), in.model->input_dim(),
      in.model->readout_dim(), in.model->parameters().size(), cfg.batch);
  const GradCheckReport r = check_gradients(*in.model, cfg);
  std::cout << r.table();
  if (!r.ok())
    log.error("model '{}': derivatives disagree with finite differences", c.record->name);
  return r.ok() ? 0 : 1;
}

}  // namespace

int check_plugin(const std::string& target, const std::vector<std::string>& sets,
                 const GradCheckConfig& cfg, spdlog::logger& log) {
  const bool is_file = target.size() > 5 && target.substr(target.size() - 5) == ".toml";
  std::optional<NamedScenario> named;
  if (!is_file) named.emplace(target);
  const fs::path file = is_file ? fs::path(target) : named->file();
  std::vector<std::string> all = sets;
  all.push_back("scenario.precision=f64");  // the check's accuracy needs double differences
  Registry registry;
  const Wiring w = wire(file, all, registry);  // a model without a double build is refused here
  return check<double>(w, cfg, log);
}

}  // namespace dynsim
