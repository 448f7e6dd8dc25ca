// The plugin registry: finds `dynsim_*.so` files on the search path, checks each one's ABI
// version, and maps (kind, name) to its factory. Libraries are never unloaded.
#pragma once

#include <dynsim/sdk/plugin.hpp>
#include <filesystem>
#include <string>
#include <vector>

namespace dynsim {

struct PluginRecord {
  std::filesystem::path file;
  PluginKind kind;
  std::string name;
  std::string version;
  std::string summary;
  const Factory* factory;
};

class Registry {
 public:
  // The search path, first match wins for directories listed twice:
  // scenario [plugins] paths, then DYNSIM_PLUGIN_PATH (colon-separated), then the plugin folder
  // beside the running executable (<bin>/../lib/dynsim/plugins: the build tree and any install
  // share this layout), then the configured install prefix.
  static std::vector<std::filesystem::path> search_path(
      const std::vector<std::filesystem::path>& scenario_paths);
  // The tree whose <root>/lib/dynsim/plugins stands in for the executable's: a host that is not
  // the dynsim executable (the Python module, loaded by python3) names its own build or install
  // tree here. Empty: the running executable's.
  static void set_host_root(const std::filesystem::path& root);

  // Loads every plugin file in each directory (missing directories are skipped), in path order.
  // A name already provided by an earlier directory is shadowed: the first hit wins and the
  // later file is noted in shadowed() (a build tree's plugins before an installed copy). Throws
  // InputError for a file that is not a dynsim plugin, an ABI mismatch (naming the file and both
  // versions) or two files of one name in the same directory.
  void load_directories(const std::vector<std::filesystem::path>& dirs);
  void load_file(const std::filesystem::path& file);

  // "plugin 'x' in B is shadowed by A", one line per file skipped, for the log's debug level.
  const std::vector<std::string>& shadowed() const { return shadowed_; }

  // The plugin of this kind and name; InputError listing the available names otherwise.
  const PluginRecord& find(PluginKind kind, const std::string& name) const;
  std::vector<std::string> names(PluginKind kind) const;
  const std::vector<PluginRecord>& plugins() const { return plugins_; }

 private:
  std::vector<PluginRecord> plugins_;
  std::vector<std::filesystem::path> loaded_files_;
  std::vector<std::string> shadowed_;
};

}  // namespace dynsim
