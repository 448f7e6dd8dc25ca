// Wiring: a scenario file (plus --set overrides) checked end to end against the host's tables
// and the chosen plugins' option specs, before anything runs. Everything here throws only
// InputError, so the CLI can answer exit code 2 for any of it.
#pragma once

#include <filesystem>
#include <map>
#include <optional>

#include "integrate/integrator.hpp"
#include "plugin_host/registry.hpp"
#include "scenario/scenario.hpp"

namespace dynsim {

struct PluginChoice {
  const PluginRecord* record = nullptr;
  Options options;
  std::string table;              // "model", "noise", ...
  std::string requested_version;  // the scenario's `version` key, if any
};

struct Wiring {
  Scenario scenario;
  std::string name;
  Precision precision = Precision::f64;
  std::uint64_t seed = 0;
  int threads = 1;
  IntegratorConfig integrator;
  Options scenario_table, plugins_table, integrator_table, simulate_table, train_table,
      evaluate_table, latent_table;
  bool training = false;  // the scenario has a [train] table: the run trains, else simulates
  bool latent = false;    // [latent]: the model runs between an encoder and a decoder
  std::map<std::string, PluginChoice> plugins;  // by table name; "model" always present
  std::vector<std::filesystem::path> plugin_dirs;

  const PluginChoice* plugin(const std::string& table) const;
  // The scenario with every default filled in and the version of each plugin recorded.
  toml::table resolved() const;
};

// The host's own tables and their keys, shown by `dynsim validate --help-tables` and the docs.
const std::vector<std::pair<std::string, OptionSpecs>>& host_tables();
// The plugin role tables in the order they are wired, with their kinds.
const std::vector<std::pair<std::string, PluginKind>>& plugin_roles();

// Loads plugins on the scenario's search path into `registry` and checks the whole scenario.
Wiring wire(const std::filesystem::path& file, const std::vector<std::string>& sets,
            Registry& registry);

}  // namespace dynsim
