// Scenario files: TOML parsed with toml++, `--set TABLE.KEY=VALUE` overrides applied on top,
// and tables checked against option specs (the host's own tables and each plugin's) so that
// every error names file:line:column (or the --set that caused it).
#pragma once

#include <toml++/toml.h>
#include <dynsim/sdk/options.hpp>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace dynsim {

class Scenario {
 public:
  // Parses the file, then applies each override "TABLE.KEY=VALUE" (VALUE is TOML; a bare word
  // is taken as a string). InputError for syntax errors and malformed overrides.
  static Scenario load(const std::filesystem::path& file, const std::vector<std::string>& sets);

  const toml::table& root() const { return root_; }
  const std::filesystem::path& file() const { return file_; }
  std::filesystem::path dir() const { return file_.parent_path(); }

  // "file:line:column", or the override's text for a value that came from --set.
  static std::string where(const toml::node& n);
  // Location of a table header, or of the file when the table is absent.
  std::string where_table(const std::string& table) const;
  const toml::table* table(const std::string& name) const;

 private:
  toml::table root_;
  std::filesystem::path file_;
};

// Checks every key of `t` (may be null: all defaults) against `specs` and returns the typed
// values with defaults filled in. Keys in `skip` are the caller's business.
// owner names the table in messages, e.g. "[integrator]" or "[model] plugin 'linear'".
Options check_table(const toml::table* t, const OptionSpecs& specs, const std::string& owner,
                    const std::string& table_where, const std::set<std::string>& skip = {});

// An option value as TOML, for the resolved scenario.
toml::table to_toml(const Options& o);

}  // namespace dynsim
