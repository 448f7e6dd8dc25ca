// A plugin built for another ABI version: the host must refuse it, naming the file and both
// versions, without reading any other field of the record.
#include <dynsim/sdk/abi.hpp>

extern "C" __attribute__((visibility("default"))) const dynsim_plugin_info* dynsim_plugin_entry() {
  static const dynsim_plugin_info info{DYNSIM_ABI_VERSION + 1,          1,      "bad_abi", "0.0.1",
                                       "built against a different SDK", nullptr};
  return &info;
}
