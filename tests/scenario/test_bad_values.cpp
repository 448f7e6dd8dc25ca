// Every class of bad value (wrong type, non-finite, negative, zero where invalid, absurdly large,
// not one of the choices) on every key of every host table and every option of every shipped
// plugin: the scenario is refused before anything runs (InputError: exit code 2 in the CLI)
// with the key and its file:line, and no other exception escapes. The classes are derived from
// each key's declared spec, and an audit below makes the declarations themselves honest: a
// number with no lower bound, or a count with no upper bound, must be listed with a reason.
#include <catch2/catch.hpp>
#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "jobs/commands.hpp"
#include "plugin_host/registry.hpp"
#include "scenario/wiring.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

namespace {

// Numbers that may be negative (no lower bound), each with why.
const std::set<std::string> kSigned = {
    "[integrator] t0",                   // any start time
    "[integrator] t_end",                // checked against t0 by the wiring
    "[model] linear b",                  // an offset
    "[model] cvfr_hill eig_a",           // planted eigenvalue: signed by design
    "[model] cvfr_hill eig_b",           // idem
    "[model] cvfr_hill lambda",          // planted eigenvalues per class, signed
    "[model] cvfr_hill templates",       // planted patterns
    "[model] sanode_double_well eig_a",  // planted eigenvalues, signed
    "[model] sanode_double_well eig_b",
    "[model] sanode_double_well templates",  // thresholded at 0.5: any real
    "[noise] additive G",                    // a mixing matrix
    "[simulate] x0",                         // initial states
    "[model] linear M",                      // a coupling matrix
    "[model] linear x0",                     // a state
    "[attack] shift_uniform lo",             // an interval's ends
    "[attack] shift_uniform hi",
    "[attack] replace_uniform lo",
    "[attack] replace_uniform hi",
};
// Integers with no upper bound: any value is meaningful and sizes nothing.
const std::set<std::string> kUnboundedIntegers = {
    "[scenario] seed",  // keys for random streams
    "[model] cvfr_hill pattern_seed",
    "[model] sanode_double_well pattern_seed",
    "[dataset] idx subset_seed",
    "[dataset] letters seed",
};

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  std::string t = s.str();
  if (t.find_first_of(".eni") == std::string::npos) t += ".0";
  return t;
}

bool is_real(OptionType t) {
  return t == OptionType::real || t == OptionType::real_list || t == OptionType::real_matrix;
}
bool is_numeric(OptionType t) {
  return is_real(t) || t == OptionType::integer || t == OptionType::integer_list;
}

// One number as the option's TOML (a list or matrix of one entry for list types).
std::string wrap(const OptionSpec& s, const std::string& v) {
  switch (s.type) {
    case OptionType::real_list:
    case OptionType::integer_list:
    case OptionType::string_list:
      return "[" + v + "]";
    case OptionType::real_matrix:
      return "[[" + v + "]]";
    default:
      return v;
  }
}

std::string number(const OptionSpec& s, double v) {
  const bool integer = s.type == OptionType::integer || s.type == OptionType::integer_list;
  return wrap(s, integer ? std::to_string(std::llround(v)) : fmt(v));
}

// A value the spec accepts, for required keys the case does not probe.
std::string valid_value(const OptionSpec& s) {
  double x = 1;
  if (s.lo) x = s.lo_open ? *s.lo + 1 : std::max(*s.lo, 1.0);
  if (s.hi && x > *s.hi) x = *s.hi;
  switch (s.type) {
    case OptionType::boolean:
      return "true";
    case OptionType::string:
      return "\"" + (s.choices.empty() ? std::string("x") : s.choices.front()) + "\"";
    case OptionType::string_list:
      return "[\"" + (s.choices.empty() ? std::string("x") : s.choices.front()) + "\"]";
    default:
      return number(s, x);
  }
}

struct Bad {
  std::string what, toml;
};

std::vector<Bad> bad_values(const OptionSpec& s) {
  std::vector<Bad> out;
  const bool text = s.type == OptionType::string || s.type == OptionType::string_list;
  out.push_back({"wrong type", text ? "12" : s.type == OptionType::boolean ? "\"yes\"" : "\"12\""});
  if (s.type == OptionType::real_matrix) out.push_back({"wrong type", "[1.0, 2.0]"});
  if (is_real(s.type)) {
    out.push_back({"not a number", wrap(s, "nan")});
    if (!s.infinite_ok) {
      out.push_back({"non-finite", wrap(s, "inf")});
      out.push_back({"non-finite", wrap(s, "-inf")});
    }
  }
  if (is_numeric(s.type) && s.lo) {
    if (*s.lo >= 0) out.push_back({"negative", number(s, -1)});
    if (*s.lo > 0 || (*s.lo == 0 && s.lo_open)) out.push_back({"zero where invalid", number(s, 0)});
    if (*s.lo > 1) out.push_back({"below the bound", number(s, *s.lo - 1)});
  }
  if (is_numeric(s.type) && s.hi) {
    const bool integer = s.type == OptionType::integer || s.type == OptionType::integer_list;
    out.push_back({"absurdly large", integer ? wrap(s, "4611686018427387904") : number(s, 1e300)});
  }
  if (!s.choices.empty()) out.push_back({"not a choice", wrap(s, "\"no-such-choice\"")});
  return out;
}

// A training scenario on letters that validates; a probed table is moved to the end.
using Table = std::vector<std::pair<std::string, std::string>>;
std::vector<std::pair<std::string, Table>> base_scenario(bool simulate) {
  std::vector<std::pair<std::string, Table>> t = {
      {"scenario", {{"seed", "1"}, {"threads", "1"}}},
      {"integrator", {{"method", "\"euler\""}, {"dt", "0.1"}, {"steps", "5"}}},
      {"model", {{"plugin", "\"cvfr_hill\""}}},
      {"dataset", {{"plugin", "\"letters\""}}},
  };
  if (simulate) {
    t.push_back({"simulate", {{"items", "2"}}});
  } else {
    t.push_back({"loss", {{"plugin", "\"mse_activity\""}}});
    t.push_back({"train", {{"epochs", "1"}}});
    t.push_back({"evaluate", {{"max_items", "10"}}});
  }
  return t;
}

struct Case {
  std::string text;  // the scenario
  int line = 0;      // of the probed key
};

// The base scenario with `table` (created if absent) last, its key `key` set to `value`.
Case make_case(const std::string& table, const Table& extra, const std::string& key,
               const std::string& value) {
  auto tables = base_scenario(table == "simulate");
  Table probed;
  for (auto it = tables.begin(); it != tables.end(); ++it)
    if (it->first == table) {
      probed = it->second;
      tables.erase(it);
      break;
    }
  for (const auto& kv : extra) {
    bool replaced = false;
    for (auto& p : probed)
      if (p.first == kv.first) p.second = kv.second, replaced = true;
    if (!replaced) probed.push_back(kv);
  }
  std::erase_if(probed, [&](const auto& p) { return p.first == key; });
  std::string text;
  int line = 1;
  auto add = [&](const std::string& l) {
    text += l + "\n";
    ++line;
  };
  for (const auto& [name, keys] : tables) {
    add("[" + name + "]");
    for (const auto& [k, v] : keys) add(k + " = " + v);
  }
  add("[" + table + "]");
  for (const auto& [k, v] : probed) add(k + " = " + v);
  Case c;
  c.line = line;
  add(key + " = " + value);
  c.text = text;
  return c;
}

// The options of the table: the host's own, or the plugin's.
struct Probe {
  std::string table, owner;  // owner: "[model] cvfr_hill" (audit names)
  Table extra;               // the plugin key and the required options
  OptionSpecs specs;
};

std::vector<Probe> probes() {
  std::vector<Probe> out;
  for (const auto& [name, specs] : host_tables())
    out.push_back({name, "[" + name + "]", {}, specs});
  const Registry& reg = test::build_plugins();
  for (const auto& [table, kind] : plugin_roles())
    for (const std::string& name : reg.names(kind)) {
      const PluginRecord& rec = reg.find(kind, name);
      Probe p{table,
              "[" + table + "] " + name,
              {{"plugin", "\"" + name + "\""}},
              rec.factory->options()};
      for (const OptionSpec& s : p.specs)
        if (s.required()) p.extra.push_back({s.name, valid_value(s)});
      out.push_back(std::move(p));
    }
  return out;
}

// What wiring the case answers: "" if it passes, the InputError's text otherwise. Any other
// exception fails the test (it would reach the user as C++ text).
std::string wire_error(const Case& c) {
  const std::string file = test::temp_file("bad_value.toml", c.text);
  Registry registry;
  try {
    wire(file, {}, registry);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every bad value on every host key and plugin option is refused with its key and line",
          "[scenario][bad_values]") {
  int cases = 0;
  for (const Probe& p : probes())
    for (const OptionSpec& s : p.specs) {
      const std::string id = p.owner + " " + s.name;
      // The audit: declarations carry the bounds the classes below are derived from.
      if (is_numeric(s.type) && !s.lo) {
        INFO(id << " has no lower bound: declare one (.at_least, .positive) or list it in kSigned");
        CHECK(kSigned.count(id) == 1);
      }
      if ((s.type == OptionType::integer || s.type == OptionType::integer_list) && !s.hi) {
        INFO(id << " counts or sizes something with no upper bound: declare .at_most or list it");
        CHECK(kUnboundedIntegers.count(id) == 1);
      }
      for (const Bad& bad : bad_values(s)) {
        const Case c = make_case(p.table, p.extra, s.name, bad.toml);
        const std::string err = wire_error(c);
        INFO(id << " = " << bad.toml << " (" << bad.what << ")\n" << c.text);
        CHECK_THAT(err, Catch::Contains("bad_value.toml:" + std::to_string(c.line) + ":"));
        CHECK_THAT(err, Catch::Contains("'" + s.name + "'"));
        ++cases;
      }
    }
  CHECK(cases > 300);  // every shipped plugin was found
}

TEST_CASE("the smallest and largest values a spec allows validate or fail cleanly",
          "[scenario][bad_values]") {
  // The whole of `validate` (plugins built, data read, memory checked), in process, at each
  // numeric key's smallest allowed value, and at the host keys' largest: it passes or answers
  // with an InputError (exit 2). Anything else (std::bad_alloc, std::length_error, a division by
  // zero caught by the sanitizers) is a bound the declaration gets wrong. (A plugin's largest
  // sizes would build the data they allow, minutes of work: its memory check has its own test.)
  auto sink = std::make_shared<spdlog::sinks::null_sink_mt>();
  spdlog::logger log("bad_values", sink);
  int checked = 0;
  for (const Probe& p : probes())
    for (const OptionSpec& s : p.specs) {
      if (!is_numeric(s.type)) continue;
      std::vector<double> edges;
      if (s.lo)
        edges.push_back(s.lo_open ? *s.lo + (s.type == OptionType::integer ? 1 : 1e-9) : *s.lo);
      if (s.hi && p.extra.empty()) edges.push_back(*s.hi);
      for (const double v : edges) {
        const Case c = make_case(p.table, p.extra, s.name, number(s, v));
        const std::string file = test::temp_file("edge.toml", c.text);
        RunRequest r;
        r.mode = Mode::validate;
        r.scenario = file;
        INFO(p.owner << " " << s.name << " = " << number(s, v) << "\n" << c.text);
        std::ostringstream quiet;  // validate's "OK ..." report
        auto* old = std::cout.rdbuf(quiet.rdbuf());
        try {
          execute(r, log);
        } catch (const InputError&) {
        } catch (...) {
          std::cout.rdbuf(old);
          throw;
        }
        std::cout.rdbuf(old);
        ++checked;
      }
    }
  CHECK(checked > 90);
}
