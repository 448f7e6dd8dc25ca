// Plugin options: what a plugin declares it accepts, and the checked values it receives.
//
// A plugin lists its options as OptionSpecs (name, type, default, range, one-line doc). The host
// checks the scenario table against that list before the plugin is constructed, so an unknown
// key, a wrong type or an out-of-range value is reported with file:line:column and never reaches
// plugin code. The plugin then reads typed values from Options; a check only the plugin can make
// (say, a matrix that must be square) is reported through Options::fail, which adds the location.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace dynsim {

// The order matches OptionValue's alternatives.
enum class OptionType {
  boolean,
  integer,
  real,
  string,
  real_list,
  real_matrix,
  integer_list,
  string_list
};

using OptionValue = std::variant<bool, std::int64_t, double, std::string, std::vector<double>,
                                 std::vector<std::vector<double>>, std::vector<std::int64_t>,
                                 std::vector<std::string>>;

inline const char* type_name(OptionType t) {
  switch (t) {
    case OptionType::boolean:
      return "boolean";
    case OptionType::integer:
      return "integer";
    case OptionType::real:
      return "real";
    case OptionType::string:
      return "string";
    case OptionType::real_list:
      return "list of reals";
    case OptionType::real_matrix:
      return "list of lists of reals";
    case OptionType::integer_list:
      return "list of integers";
    case OptionType::string_list:
      return "list of strings";
  }
  return "?";
}

// Any error a plugin or the host finds in user input (scenario, options, data files).
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;
  OptionType type = OptionType::real;
  std::string doc;
  std::optional<OptionValue> default_value;  // none: the key is required
  std::optional<double> lo, hi;              // inclusive numeric range (each element of lists)
  bool lo_open = false;                      // lo itself excluded
  bool infinite_ok = false;                  // reals (and list entries) may be +-inf
  std::vector<std::string> choices;          // allowed strings, when not empty

  OptionSpec& def(OptionValue v) {
    default_value = std::move(v);
    return *this;
  }
  OptionSpec& at_least(double v) {
    lo = v;
    return *this;
  }
  OptionSpec& positive() {
    lo = 0.0;
    lo_open = true;
    return *this;
  }
  OptionSpec& at_most(double v) {
    hi = v;
    return *this;
  }
  OptionSpec& range(double a, double b) {
    lo = a;
    hi = b;
    return *this;
  }
  // Reals are finite unless an option says so (say, a bound that may be absent as inf).
  OptionSpec& allow_infinite() {
    infinite_ok = true;
    return *this;
  }
  OptionSpec& one_of(std::vector<std::string> c) {
    choices = std::move(c);
    return *this;
  }
  bool required() const { return !default_value.has_value(); }
};
using OptionSpecs = std::vector<OptionSpec>;

// Short constructors: opt::real("rate", "decay rate").def(1.0).positive()
namespace opt {
inline OptionSpec make(std::string n, OptionType t, std::string d) {
  OptionSpec s;
  s.name = std::move(n);
  s.type = t;
  s.doc = std::move(d);
  return s;
}
inline OptionSpec boolean(std::string n, std::string d) {
  return make(n, OptionType::boolean, d);
}
inline OptionSpec integer(std::string n, std::string d) {
  return make(n, OptionType::integer, d);
}
inline OptionSpec real(std::string n, std::string d) {
  return make(n, OptionType::real, d);
}
inline OptionSpec string(std::string n, std::string d) {
  return make(n, OptionType::string, d);
}
inline OptionSpec real_list(std::string n, std::string d) {
  return make(n, OptionType::real_list, d);
}
inline OptionSpec real_matrix(std::string n, std::string d) {
  return make(n, OptionType::real_matrix, d);
}
inline OptionSpec integer_list(std::string n, std::string d) {
  return make(n, OptionType::integer_list, d);
}
inline OptionSpec string_list(std::string n, std::string d) {
  return make(n, OptionType::string_list, d);
}
}  // namespace opt

// Checked option values handed to a plugin's constructor.
class Options {
 public:
  struct Entry {
    OptionValue value;
    std::string where;  // "file.toml:12:3", "--set model.rate=2", or "default"
  };

  Options() = default;
  // owner: what the options configure, for messages, e.g. "[model] plugin 'linear'"
  explicit Options(std::string owner) : owner_(std::move(owner)) {}

  void set(const std::string& key, OptionValue v, std::string where) {
    entries_[key] = Entry{std::move(v), std::move(where)};
  }
  bool has(std::string_view key) const { return entries_.find(std::string(key)) != entries_.end(); }
  const std::map<std::string, Entry>& entries() const { return entries_; }
  const std::string& owner() const { return owner_; }

  template <class T>
  const T& get(std::string_view key) const {
    const Entry& e = entry(key);
    if (const T* v = std::get_if<T>(&e.value)) return *v;
    throw InputError(owner_ + ": option '" + std::string(key) +
                     "' read with a type other than the one declared (plugin bug)");
  }
  bool boolean(std::string_view k) const { return get<bool>(k); }
  std::int64_t integer(std::string_view k) const { return get<std::int64_t>(k); }
  double real(std::string_view k) const { return get<double>(k); }
  const std::string& string(std::string_view k) const { return get<std::string>(k); }
  const std::vector<double>& real_list(std::string_view k) const {
    return get<std::vector<double>>(k);
  }
  const std::vector<std::vector<double>>& real_matrix(std::string_view k) const {
    return get<std::vector<std::vector<double>>>(k);
  }
  const std::vector<std::int64_t>& integer_list(std::string_view k) const {
    return get<std::vector<std::int64_t>>(k);
  }
  const std::vector<std::string>& string_list(std::string_view k) const {
    return get<std::vector<std::string>>(k);
  }

  // Where a key's value came from, for messages.
  std::string where(std::string_view key) const {
    auto it = entries_.find(std::string(key));
    return it == entries_.end() ? std::string("?") : it->second.where;
  }
  // Reject a value for a reason only the plugin can judge.
  [[noreturn]] void fail(std::string_view key, const std::string& why) const {
    throw InputError(where(key) + ": " + owner_ + " option '" + std::string(key) + "': " + why);
  }

 private:
  const Entry& entry(std::string_view key) const {
    auto it = entries_.find(std::string(key));
    if (it == entries_.end())
      throw InputError(owner_ + ": option '" + std::string(key) +
                       "' was read but never declared (plugin bug)");
    return it->second;
  }
  std::string owner_;
  std::map<std::string, Entry> entries_;
};

// The spec named `name`, to adapt an inherited option in place (e.g. a shared option's doc or
// default: option_named(specs, "n").doc = "..."); std::logic_error when there is none.
inline OptionSpec& option_named(OptionSpecs& specs, std::string_view name) {
  for (auto& s : specs)
    if (s.name == name) return s;
  throw std::logic_error("no option named '" + std::string(name) + "'");
}

// Options holding every declared default, for constructing a plugin outside a scenario (its own
// tests, dynsim::check_gradients); set() what the test varies. Required keys stay unset.
inline Options default_options(const OptionSpecs& specs, std::string owner = "defaults") {
  Options o(std::move(owner));
  for (const auto& s : specs)
    if (s.default_value) o.set(s.name, *s.default_value, "default");
  return o;
}

}  // namespace dynsim
