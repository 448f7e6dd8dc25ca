// A run folder: created at the start of `dynsim run`, holds everything the run writes.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace dynsim {

class RunFolder {
 public:
  // `out` empty: runs/<name>-<UTC time> under the current directory. An existing non-empty
  // folder is refused (InputError) so a run never mixes its files with another's.
  static RunFolder create(const std::filesystem::path& out, const std::string& name);
  // An existing run folder (to resume a training run in it).
  static RunFolder open(const std::filesystem::path& dir);
  // The folder another rank writes (data-parallel runs: only rank 0 writes the run folder):
  // nothing is created, and write_text/write_json do nothing.
  static RunFolder discard(const std::filesystem::path& dir);

  // Whether this process writes the folder (false for discard()).
  bool writes() const { return writes_; }

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path(const std::string& file) const { return dir_ / file; }
  std::filesystem::path figures() const { return dir_ / "figures"; }

  void write_text(const std::string& file, const std::string& text) const;
  void write_json(const std::string& file, const nlohmann::json& j) const;

 private:
  std::filesystem::path dir_;
  bool writes_ = true;
};

}  // namespace dynsim
