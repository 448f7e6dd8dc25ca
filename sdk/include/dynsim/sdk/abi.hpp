// The binary contract between the dynsim host and a plugin library.
//
// A plugin exports exactly one C symbol, `dynsim_plugin_entry`, returning a pointer to a
// `dynsim_plugin_info` record. The host reads `abi_version` first and refuses the library unless
// it equals DYNSIM_ABI_VERSION; only then does it touch the other fields, which may use C++ types
// compiled against this SDK. Bump DYNSIM_ABI_VERSION whenever any SDK header changes a class
// layout, a virtual function, or the meaning of a field.
#pragma once

#include <cstdint>

#define DYNSIM_ABI_VERSION 6u
#define DYNSIM_ENTRY_SYMBOL "dynsim_plugin_entry"

namespace dynsim {
class Factory;
}

extern "C" {
// Field order is part of the ABI: abi_version must stay first so any version can be read.
struct dynsim_plugin_info {
  std::uint32_t abi_version;
  std::uint32_t kind;              // dynsim::PluginKind
  const char* name;                // unique across loaded plugins, e.g. "cvfr_hill"
  const char* version;             // the plugin's own version, e.g. "1.2.0"
  const char* summary;             // one line for `dynsim plugins`
  const dynsim::Factory* factory;  // valid only when abi_version matches
};

typedef const dynsim_plugin_info* (*dynsim_plugin_entry_fn)();
}

namespace dynsim {

enum class PluginKind : std::uint32_t { model = 1, noise = 2, loss = 3, dataset = 4, attack = 5 };

inline const char* kind_name(PluginKind k) {
  switch (k) {
    case PluginKind::model:
      return "model";
    case PluginKind::noise:
      return "noise";
    case PluginKind::loss:
      return "loss";
    case PluginKind::dataset:
      return "dataset";
    case PluginKind::attack:
      return "attack";
  }
  return "unknown";
}

// The arithmetic a run uses; every plugin is instantiated for the scalar type the scenario
// chooses. bf16 is the float instantiation with bf16 operands (fp32 accumulation) in a model's
// big products: state, loss and optimizer stay fp32. Only a model that declares it
// (`static constexpr bool supports_bf16 = true;`) accepts bf16; any other plugin runs in f32.
enum class Precision { f32, f64, bf16 };

inline const char* precision_name(Precision p) {
  return p == Precision::f32 ? "f32" : p == Precision::bf16 ? "bf16" : "f64";
}

}  // namespace dynsim
