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
// scenario's precision says, so one source serves both. A model that has a bf16 path (bf16
// operands in its big products, see blas::gemm_bf16) declares
//     static constexpr bool supports_bf16 = true;
// and reads Context::bf16; a model without it refuses scenario.precision = "bf16" (exit 2).
#pragma once

#include <memory>
#include <stdexcept>
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
  // Whether the plugin can run at precision p (every plugin: f32 and f64).
  virtual bool supports(Precision p) const = 0;
  // Returns an instance of the kind the info record declares, for the requested precision
  // (bf16: the float instance, with Context::bf16 set for a model). The host asks supports()
  // first; for a precision the plugin does not support this throws std::invalid_argument.
  virtual std::unique_ptr<PluginObject> create(Precision p, const Options& o,
                                               const Context& c) const = 0;
};

namespace detail {
template <class T>
concept DeclaresBf16 = requires {
  T::supports_bf16;
};

template <template <class> class P>
class TemplateFactory final : public Factory {
 public:
  OptionSpecs options() const override { return P<double>::options(); }
  bool supports(Precision p) const override {
    if (p != Precision::bf16 || P<float>::kind != PluginKind::model) return true;
    if constexpr (DeclaresBf16<P<float>>)
      return P<float>::supports_bf16;
    else
      return false;
  }
  std::unique_ptr<PluginObject> create(Precision p, const Options& o,
                                       const Context& c) const override {
    if (!supports(p)) throw std::invalid_argument("this plugin has no bf16 path");
    if (p == Precision::f64) return std::make_unique<P<double>>(o, c);
    Context ctx = c;
    ctx.bf16 = p == Precision::bf16 && P<float>::kind == PluginKind::model;
    return std::make_unique<P<float>>(o, ctx);
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
