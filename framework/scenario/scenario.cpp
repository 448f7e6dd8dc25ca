#include "scenario/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/errors.hpp"

namespace dynsim {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSetPrefix = "--set ";

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a real";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "a list";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

std::optional<double> as_number(const toml::node& n) {
  if (auto i = n.as_integer()) return static_cast<double>(i->get());
  if (auto f = n.as_floating_point()) return f->get();
  return std::nullopt;
}

template <class T, class F>
std::optional<std::vector<T>> as_list(const toml::node& n, F elem) {
  const auto* arr = n.as_array();
  if (!arr) return std::nullopt;
  std::vector<T> out;
  for (const auto& e : *arr) {
    auto v = elem(e);
    if (!v) return std::nullopt;
    out.push_back(std::move(*v));
  }
  return out;
}

std::optional<std::int64_t> as_int(const toml::node& n) {
  if (auto i = n.as_integer()) return i->get();
  return std::nullopt;
}
std::optional<std::string> as_str(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  return std::nullopt;
}

std::optional<OptionValue> convert(const toml::node& n, OptionType t) {
  switch (t) {
    case OptionType::boolean:
      if (auto b = n.as_boolean()) return OptionValue(b->get());
      return std::nullopt;
    case OptionType::integer:
      if (auto i = as_int(n)) return OptionValue(*i);
      return std::nullopt;
    case OptionType::real:
      if (auto d = as_number(n)) return OptionValue(*d);
      return std::nullopt;
    case OptionType::string:
      if (auto s = as_str(n)) return OptionValue(*s);
      return std::nullopt;
    case OptionType::real_list:
      if (auto v = as_list<double>(n, as_number)) return OptionValue(*v);
      return std::nullopt;
    case OptionType::real_matrix:
      if (auto v = as_list<std::vector<double>>(
              n, [](const toml::node& r) { return as_list<double>(r, as_number); }))
        return OptionValue(*v);
      return std::nullopt;
    case OptionType::integer_list:
      if (auto v = as_list<std::int64_t>(n, as_int)) return OptionValue(*v);
      return std::nullopt;
    case OptionType::string_list:
      if (auto v = as_list<std::string>(n, as_str)) return OptionValue(*v);
      return std::nullopt;
  }
  return std::nullopt;
}

std::string fmt_num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The range violated by v, or empty.
std::string range_problem(const OptionSpec& s, double v) {
  if (std::isnan(v)) return "is NaN";
  if (std::isinf(v) && !s.infinite_ok) return fmt_num(v) + " is not finite: give a finite number";
  const bool below = s.lo && (s.lo_open ? !(v > *s.lo) : v < *s.lo);
  const bool above = s.hi && v > *s.hi;
  if (!below && !above) return "";
  std::string want;
  if (s.lo && s.hi)
    want = (s.lo_open ? "in (" : "in [") + fmt_num(*s.lo) + ", " + fmt_num(*s.hi) + "]";
  else if (s.lo)
    want = (s.lo_open ? "> " : ">= ") + fmt_num(*s.lo);
  else
    want = "<= " + fmt_num(*s.hi);
  return fmt_num(v) + " is out of range: must be " + want;
}

std::string check_value(const OptionSpec& s, const OptionValue& v) {
  auto numbers = [&](const std::vector<double>& xs) -> std::string {
    for (double x : xs)
      if (auto p = range_problem(s, x); !p.empty()) return p;
    return "";
  };
  if (const auto* d = std::get_if<double>(&v)) return range_problem(s, *d);
  if (const auto* i = std::get_if<std::int64_t>(&v))
    return range_problem(s, static_cast<double>(*i));
  if (const auto* l = std::get_if<std::vector<double>>(&v)) return numbers(*l);
  if (const auto* m = std::get_if<std::vector<std::vector<double>>>(&v)) {
    for (const auto& r : *m)
      if (auto p = numbers(r); !p.empty()) return p;
    return "";
  }
  if (const auto* l = std::get_if<std::vector<std::int64_t>>(&v)) {
    for (auto x : *l)
      if (auto p = range_problem(s, static_cast<double>(x)); !p.empty()) return p;
    return "";
  }
  auto choice = [&](const std::string& str) -> std::string {
    if (s.choices.empty() || std::find(s.choices.begin(), s.choices.end(), str) != s.choices.end())
      return "";
    std::string list;
    for (const auto& c : s.choices) list += (list.empty() ? "" : ", ") + c;
    return "'" + str + "' is not one of: " + list;
  };
  if (const auto* str = std::get_if<std::string>(&v)) return choice(*str);
  if (const auto* l = std::get_if<std::vector<std::string>>(&v)) {
    for (const auto& x : *l)
      if (auto p = choice(x); !p.empty()) return p;
  }
  return "";
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

toml::array list_to_toml(const auto& xs) {
  toml::array a;
  for (const auto& x : xs) a.push_back(x);
  return a;
}

}  // namespace

std::string Scenario::where(const toml::node& n) {
  const auto& src = n.source();
  const std::string path = src.path ? *src.path : std::string("?");
  if (path.rfind(kSetPrefix, 0) == 0) return path;
  return path + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

const toml::table* Scenario::table(const std::string& name) const {
  return root_.get_as<toml::table>(name);
}

std::string Scenario::where_table(const std::string& name) const {
  if (const auto* t = table(name)) return where(*t);
  return file_.string();
}

Scenario Scenario::load(const fs::path& file, const std::vector<std::string>& sets) {
  Scenario sc;
  sc.file_ = file;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw InputError(file.string() + ": scenario file not found");
  try {
    sc.root_ = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw InputError(file.string() + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                     ": TOML syntax error: " + std::string(e.description()));
  }
  for (const auto& s : sets) {
    const std::string label = kSetPrefix + s;
    const auto eq = s.find('=');
    const std::string path = eq == std::string::npos ? s : s.substr(0, eq);
    const auto dot = path.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == path.size() ||
        path.find('.', dot + 1) != std::string::npos)
      throw InputError(label + ": expected TABLE.KEY=VALUE, e.g. --set integrator.dt=0.05");
    const std::string tname = path.substr(0, dot), key = path.substr(dot + 1);
    const std::string text = s.substr(eq + 1);
    toml::table parsed;
    try {
      parsed = toml::parse("v = " + text, std::string_view(label));
    } catch (const toml::parse_error&) {
      // A bare word (an unquoted plugin name, say) is a string; anything else is an error.
      const bool bare = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/' ||
               c == '.';
      });
      if (!bare) throw InputError(label + ": VALUE is not valid TOML: " + text);
      parsed = toml::parse("v = \"" + text + "\"", std::string_view(label));
    }
    auto* node = sc.root_.get(tname);
    if (node && !node->is_table())
      throw InputError(label + ": '" + tname + "' is not a table in " + file.string());
    if (!node) sc.root_.insert(tname, toml::table{});
    auto* tbl = sc.root_.get_as<toml::table>(tname);
    parsed.get("v")->visit([&](auto&& v) { tbl->insert_or_assign(key, std::move(v)); });
  }
  return sc;
}

Options check_table(const toml::table* t, const OptionSpecs& specs, const std::string& owner,
                    const std::string& table_where, const std::set<std::string>& skip) {
  Options out(owner);
  if (t) {
    for (const auto& [k, node] : *t) {
      const std::string key(k.str());
      if (skip.count(key)) continue;
      const auto spec = std::find_if(specs.begin(), specs.end(),
                                     [&](const OptionSpec& s) { return s.name == key; });
      if (spec == specs.end()) {
        std::string known, near;
        std::size_t best = 3;
        for (const auto& s : specs) {
          known += (known.empty() ? "" : ", ") + s.name;
          if (auto d = edit_distance(key, s.name); d < best) best = d, near = s.name;
        }
        for (const auto& s : skip) known += (known.empty() ? "" : ", ") + s;
        throw InputError(Scenario::where(node) + ": " + owner + ": unknown key '" + key + "'" +
                         (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                         "; known keys: " + (known.empty() ? "(none)" : known));
      }
      auto value = convert(node, spec->type);
      if (!value)
        throw InputError(Scenario::where(node) + ": " + owner + ": key '" + key + "' must be " +
                         std::string(type_name(spec->type)) + ", got " + describe(node));
      if (auto p = check_value(*spec, *value); !p.empty())
        throw InputError(Scenario::where(node) + ": " + owner + ": key '" + key + "': " + p);
      out.set(key, std::move(*value), Scenario::where(node));
    }
  }
  for (const auto& s : specs) {
    if (out.has(s.name)) continue;
    if (s.required())
      throw InputError(table_where + ": " + owner + ": missing required key '" + s.name + "' (" +
                       type_name(s.type) + ": " + s.doc + ")");
    out.set(s.name, *s.default_value, "default");
  }
  return out;
}

toml::table to_toml(const Options& o) {
  toml::table t;
  for (const auto& entry : o.entries()) {
    const std::string& k = entry.first;  // a named reference: clang 14 cannot capture bindings
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::vector<std::vector<double>>>) {
            toml::array rows;
            for (const auto& r : v) rows.push_back(list_to_toml(r));
            t.insert(k, std::move(rows));
          } else if constexpr (std::is_same_v<T, std::vector<double>> ||
                               std::is_same_v<T, std::vector<std::int64_t>> ||
                               std::is_same_v<T, std::vector<std::string>>) {
            t.insert(k, list_to_toml(v));
          } else {
            t.insert(k, v);
          }
        },
        entry.second.value);
  }
  return t;
}

}  // namespace dynsim
