// Plugin instances for one run, created from the wiring at the run's precision.
#pragma once

#include <spdlog/logger.h>

#include <dynsim/sdk.hpp>
#include <memory>
#include <vector>

#include "scenario/wiring.hpp"

namespace dynsim {

template <class S>
struct Instances {
  std::vector<std::unique_ptr<PluginObject>> owned;
  Model<S>* model = nullptr;
  NoiseLaw<S>* noise = nullptr;
  Loss<S>* loss = nullptr;
  Dataset<S>* dataset = nullptr;
  Attack<S>* attack = nullptr;
};

// Constructs every plugin the scenario names. A plugin's constructor may reject its options
// (InputError with the option's location); any other exception is reported as an InputError
// naming the plugin, since it happens before integration starts.
template <class S>
Instances<S> instantiate(const Wiring& w, LogSink sink, const std::string& data_dir);

// Plugins' log lines (the SDK's C callback) into a host logger, prefixed by the plugin's name.
LogSink log_sink(spdlog::logger& log);

// Where datasets live: $DYNSIM_DATA_DIR, else <source tree>/data.
std::string data_dir();

extern template Instances<float> instantiate<float>(const Wiring&, LogSink, const std::string&);
extern template Instances<double> instantiate<double>(const Wiring&, LogSink, const std::string&);

}  // namespace dynsim
