// Registering a plugin: one macro exports the C entry point and the info record.
//
//   template <class S> class MyModel : public dynsim::Model<S> {
//    public:
//     static dynsim::OptionSpecs options();                       // what the scenario may set
//     MyModel(const dynsim::Options& o, const dynsim::Context& c);
//     ...
//   };
//   DYNSIM_PLUGIN(MyModel, "my_model", "1.0.0", "one line for `dynsim plugins`")
//
// The class is a template on the scalar type; the host instantiates float or double as the
// scenario's precision says, so one source serves both.
#pragma once

#include <memory>
#include <type_traits>

#include "dynsim/sdk/abi.hpp"
#include "dynsim/sdk/context.hpp"
#include "dynsim/sdk/options.hpp"
#include "dynsim/sdk/types.hpp"

namespace dynsim {

class Factory {
 public:
  virtual ~Factory() = default;
  virtual OptionSpecs options() const = 0;
  // Returns an instance of the kind the info record declares, for the requested precision.
  virtual std::unique_ptr<PluginObject> create(Precision p, const Options& o,
                                               const Context& c) const = 0;
};

namespace detail {
template <template <class> class P>
class TemplateFactory final : public Factory {
 public:
  OptionSpecs options() const override { return P<double>::options(); }
  std::unique_ptr<PluginObject> create(Precision p, const Options& o,
                                       const Context& c) const override {
    if (p == Precision::f32) return std::make_unique<P<float>>(o, c);
    return std::make_unique<P<double>>(o, c);
  }
};
}  // namespace detail

}  // namespace dynsim

#define DYNSIM_PLUGIN(Template, name, version, summary)                                        \
  static_assert(Template<float>::kind == Template<double>::kind, "one kind for both scalars"); \
  extern "C" __attribute__((visibility("default"))) const dynsim_plugin_info*                  \
  dynsim_plugin_entry() {                                                                      \
    static const ::dynsim::detail::TemplateFactory<Template> factory;                          \
    static const dynsim_plugin_info info{DYNSIM_ABI_VERSION,                                   \
                                         static_cast<std::uint32_t>(Template<double>::kind),   \
                                         name,                                                 \
                                         version,                                              \
                                         summary,                                              \
                                         &factory};                                            \
    return &info;                                                                              \
  }
