#include "plugin_host/registry.hpp"

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <deque>

#include "common/errors.hpp"

namespace dynsim {
namespace fs = std::filesystem;

namespace {

// Plugins are never unloaded: their factories, vtables and option specs must outlive every
// object the host creates from them, including ones still alive during static destruction.
// The libraries therefore live in a container that is intentionally never destroyed.
std::deque<boost::dll::shared_library>& loaded_libraries() {
  static auto* libs = new std::deque<boost::dll::shared_library>();
  return *libs;
}

bool is_plugin_file(const fs::path& p) {
  const std::string f = p.filename().string();
  return f.rfind("dynsim_", 0) == 0 && p.extension() == ".so";
}

}  // namespace

namespace {
fs::path& host_root() {
  static fs::path root;
  return root;
}
}  // namespace

void Registry::set_host_root(const fs::path& root) {
  host_root() = root;
}

std::vector<fs::path> Registry::search_path(const std::vector<fs::path>& scenario_paths) {
  std::vector<fs::path> dirs(scenario_paths.begin(), scenario_paths.end());
  if (const char* env = std::getenv("DYNSIM_PLUGIN_PATH")) {
    std::string s(env);
    std::size_t start = 0;
    while (start <= s.size()) {
      const std::size_t end = std::min(s.find(':', start), s.size());
      if (end > start) dirs.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  std::error_code ec;
  if (!host_root().empty()) {
    dirs.push_back(host_root() / DYNSIM_PLUGIN_RELDIR);
  } else {
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) dirs.push_back(exe.parent_path().parent_path() / DYNSIM_PLUGIN_RELDIR);
  }
  dirs.emplace_back(fs::path(DYNSIM_INSTALL_PREFIX) / DYNSIM_PLUGIN_RELDIR);
  // Drop repeats of one directory (an install prefix that is also the build tree, say).
  std::vector<fs::path> unique;
  for (const auto& d : dirs) {
    const fs::path c = fs::weakly_canonical(d, ec);
    const fs::path key = ec ? d : c;
    if (std::find(unique.begin(), unique.end(), key) == unique.end()) unique.push_back(key);
  }
  return unique;
}

void Registry::load_directories(const std::vector<fs::path>& dirs) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file() && is_plugin_file(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());  // a stable order makes duplicate errors repeatable
    for (const auto& f : files) load_file(f);
  }
}

void Registry::load_file(const fs::path& file) {
  std::error_code ec;
  const fs::path canon = fs::canonical(file, ec);
  if (ec) throw InputError("plugin " + file.string() + ": " + ec.message());
  if (std::find(loaded_files_.begin(), loaded_files_.end(), canon) != loaded_files_.end()) return;

  boost::dll::shared_library lib;
  try {
    lib.load(canon.string(), boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw InputError("plugin " + canon.string() + ": cannot be loaded: " + e.what());
  }
  if (!lib.has(DYNSIM_ENTRY_SYMBOL))
    throw InputError("plugin " + canon.string() +
                     ": not a dynsim plugin (no " DYNSIM_ENTRY_SYMBOL " symbol)");
  const auto entry = lib.get<const dynsim_plugin_info*()>(DYNSIM_ENTRY_SYMBOL);
  const dynsim_plugin_info* info = entry();
  if (info == nullptr) throw InputError("plugin " + canon.string() + ": entry point returned null");
  // abi_version is the one field every version lays out alike; nothing else is read before it
  // matches.
  if (info->abi_version != DYNSIM_ABI_VERSION)
    throw InputError("plugin " + canon.string() + ": built for dynsim plugin ABI version " +
                     std::to_string(info->abi_version) + ", but this dynsim has ABI version " +
                     std::to_string(DYNSIM_ABI_VERSION) + "; rebuild the plugin against this SDK");
  if (info->kind < 1 || info->kind > 5 || info->name == nullptr || info->factory == nullptr ||
      info->version == nullptr)
    throw InputError("plugin " + canon.string() + ": malformed info record");
  const auto kind = static_cast<PluginKind>(info->kind);
  const std::string name = info->name;
  for (const auto& p : plugins_)
    if (p.name == name) {
      if (p.file.parent_path() == canon.parent_path())
        throw InputError("plugin name '" + name + "' is provided twice in one folder: by " +
                         p.file.string() + " and by " + canon.string() + "; remove one");
      // An earlier folder on the search path wins; this library is unloaded again.
      shadowed_.push_back("plugin '" + name + "' in " + canon.string() + " is shadowed by " +
                          p.file.string() + " (earlier on the plugin path)");
      loaded_files_.push_back(canon);
      return;
    }
  plugins_.push_back(PluginRecord{canon, kind, name, info->version,
                                  info->summary ? info->summary : "", info->factory});
  loaded_files_.push_back(canon);
  loaded_libraries().push_back(std::move(lib));
}

std::vector<std::string> Registry::names(PluginKind kind) const {
  std::vector<std::string> out;
  for (const auto& p : plugins_)
    if (p.kind == kind) out.push_back(p.name);
  std::sort(out.begin(), out.end());
  return out;
}

const PluginRecord& Registry::find(PluginKind kind, const std::string& name) const {
  for (const auto& p : plugins_)
    if (p.name == name) {
      if (p.kind != kind)
        throw InputError("plugin '" + name + "' is a " + kind_name(p.kind) + " plugin, not a " +
                         kind_name(kind) + " plugin");
      return p;
    }
  std::string list;
  for (const auto& n : names(kind)) list += (list.empty() ? "" : ", ") + n;
  throw InputError("no " + std::string(kind_name(kind)) + " plugin named '" + name +
                   "'; available: " + (list.empty() ? "(none found on the plugin path)" : list));
}

}  // namespace dynsim
