#include "jobs/compare.hpp"

#include <memory>
#include <set>
#include <sstream>

#include "common/errors.hpp"
#include "jobs/sweep.hpp"
#include "scenario/scenario.hpp"
#include "scenario/wiring.hpp"

namespace dynsim {
namespace fs = std::filesystem;

namespace {

// An inline table of "TABLE.KEY" = value as --set texts.
std::vector<std::string> overrides(const toml::node& n, const std::string& what) {
  const auto* t = n.as_table();
  if (!t)
    throw InputError(Scenario::where(n) + ": " + what +
                     " must be a table of \"TABLE.KEY\" = value, as for --set");
  std::vector<std::string> out;
  for (const auto& [k, v] : *t) {
    const std::string key(k.str());
    if (key.find('.') == std::string::npos)
      throw InputError(Scenario::where(v) + ": override key '" + key +
                       "' must be TABLE.KEY, as for --set");
    out.push_back(key + "=" + toml_text(v, Scenario::where(v)));
  }
  return out;
}

}  // namespace

bool is_comparison_file(const fs::path& file) {
  return Scenario::load(file, {}).table("compare") != nullptr;
}

Comparison parse_comparison(const fs::path& file) {
  const Scenario sc = Scenario::load(file, {});
  const toml::table* t = sc.table("compare");
  if (!t) throw InputError(file.string() + ": not a comparison file (no [compare] table)");
  Comparison c;
  c.name = file.stem().string();
  fs::path base;
  std::vector<std::string> common;
  for (const auto& [k, v] : sc.root()) {
    const std::string key(k.str());
    if (key != "compare" && key != "variant")
      throw InputError(Scenario::where(v) + ": unknown table '" + key +
                       "' in a comparison file; known: compare, variant");
  }
  for (const auto& [k, v] : *t) {
    const std::string key(k.str());
    if (key == "name") {
      const auto s = v.value<std::string>();
      if (!s || s->empty()) throw InputError(Scenario::where(v) + ": [compare] name: a string");
      c.name = *s;
    } else if (key == "base") {
      const auto s = v.value<std::string>();
      if (!s) throw InputError(Scenario::where(v) + ": [compare] base: a scenario file name");
      base = sc.dir() / *s;
      if (!fs::is_regular_file(base))
        throw InputError(Scenario::where(v) + ": [compare] base: no file " + base.string());
    } else if (key == "seeds") {
      c.seeds = study::seed_list(v, "[compare] seeds");
    } else if (key == "set") {
      common = overrides(v, "[compare] set");
    } else {
      throw InputError(Scenario::where(v) + ": unknown key '" + key +
                       "' in [compare]; known: name, base, seeds, set");
    }
  }
  if (c.seeds.empty()) c.seeds = {1};
  const toml::node* vs = sc.root().get("variant");
  const toml::array* arr = vs ? vs->as_array() : nullptr;
  if (!arr || arr->empty())
    throw InputError(sc.where_table("compare") + ": a comparison needs [[variant]] tables");
  std::set<std::string> names;
  for (const auto& node : *arr) {
    const auto* vt = node.as_table();
    if (!vt) throw InputError(Scenario::where(node) + ": variants are [[variant]] tables");
    Variant var;
    var.scenario = base;
    var.sets = common;
    for (const auto& [k, v] : *vt) {
      const std::string key(k.str());
      if (key == "name") {
        const auto s = v.value<std::string>();
        if (!s || s->empty()) throw InputError(Scenario::where(v) + ": variant name: a string");
        var.name = *s;
      } else if (key == "scenario") {
        const auto s = v.value<std::string>();
        if (!s) throw InputError(Scenario::where(v) + ": variant scenario: a file name");
        var.scenario = sc.dir() / *s;
        if (!fs::is_regular_file(var.scenario))
          throw InputError(Scenario::where(v) + ": no file " + var.scenario.string());
      } else if (key == "set") {
        const auto more = overrides(v, "variant set");
        var.sets.insert(var.sets.end(), more.begin(), more.end());
      } else {
        throw InputError(Scenario::where(v) + ": unknown key '" + key +
                         "' in [[variant]]; known: name, scenario, set");
      }
    }
    if (var.name.empty()) throw InputError(Scenario::where(node) + ": a variant needs a name");
    if (var.scenario.empty())
      throw InputError(Scenario::where(node) + ": variant '" + var.name +
                       "' has no scenario and [compare] no base");
    if (!names.insert(study::folder_safe(var.name)).second)
      throw InputError(Scenario::where(node) + ": two variants are named '" + var.name + "'");
    c.variants.push_back(var);
  }
  return c;
}

Comparison comparison_of_files(const std::vector<std::string>& files,
                               std::vector<std::int64_t> seeds) {
  Comparison c;
  c.seeds = seeds.empty() ? std::vector<std::int64_t>{1} : std::move(seeds);
  std::set<std::string> names;
  for (const auto& f : files) {
    Variant v;
    v.scenario = f;
    v.name = fs::path(f).stem().string();
    if (!names.insert(v.name).second)
      throw InputError(f + ": two variants would be named '" + v.name + "'; rename a file");
    c.name += (c.name.empty() ? "" : "-vs-") + v.name;
    c.variants.push_back(v);
  }
  return c;
}

study::Study comparison_study(const Comparison& c, std::optional<std::int64_t> threads,
                              const fs::path& out) {
  study::Study s;
  s.kind = "compare";
  s.out = out;
  for (const auto& v : c.variants)
    for (const std::int64_t seed : c.seeds) {
      study::Run r;
      r.id = study::folder_safe(v.name) + "/seed-" + std::to_string(seed);
      r.group = v.name;
      r.seed = seed;
      r.scenario = v.scenario;
      r.sets = v.sets;
      r.sets.push_back("scenario.seed=" + std::to_string(seed));
      if (threads) r.sets.push_back("scenario.threads=" + std::to_string(*threads));
      s.runs.push_back(std::move(r));
    }
  return s;
}

study::Check comparison_check() {
  struct First {
    std::string name, data;
  };
  auto first = std::make_shared<First>();
  return [first](const study::Run& r, const Wiring& w) {
    if (!w.training)
      throw InputError(r.scenario.string() + ": variant '" + r.group +
                       "' does not train (no [train] table)");
    if (parse_sweep(w.scenario))
      throw InputError(r.scenario.string() + ": variant '" + r.group +
                       "' is a sweep; compare plain scenarios");
    std::ostringstream d;
    const toml::table resolved = w.resolved();
    if (const auto* t = resolved["dataset"].as_table()) d << *t;
    if (first->name.empty()) {
      first->name = r.group;
      first->data = d.str();
    } else if (d.str() != first->data) {
      throw InputError("variant '" + r.group + "' (" + r.scenario.string() +
                       ") uses other data than variant '" + first->name +
                       "': their resolved [dataset] tables differ; a comparison trains every "
                       "variant on the same data");
    }
  };
}

}  // namespace dynsim
