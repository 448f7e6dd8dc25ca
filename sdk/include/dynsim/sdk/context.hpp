// What the host hands every plugin instance: a logger routed to the host's log, the run's seed
// and thread count, and where data lives. Plugins keep no global state; all of it hangs here or
// on the instance, so two instances of one plugin can live side by side.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dynsim {

enum class LogLevel : int { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };

// C-style so the callback does not depend on the host's logging library.
struct LogSink {
  void (*write)(void* state, int level, const char* source, const char* message) = nullptr;
  void* state = nullptr;
};

class Logger {
 public:
  Logger() = default;
  Logger(LogSink sink, std::string source) : sink_(sink), source_(std::move(source)) {}
  void log(LogLevel lvl, std::string_view msg) const {
    if (sink_.write)
      sink_.write(sink_.state, static_cast<int>(lvl), source_.c_str(), std::string(msg).c_str());
  }
  void debug(std::string_view m) const { log(LogLevel::debug, m); }
  void info(std::string_view m) const { log(LogLevel::info, m); }
  void warn(std::string_view m) const { log(LogLevel::warn, m); }
  void error(std::string_view m) const { log(LogLevel::error, m); }

 private:
  LogSink sink_;
  std::string source_;
};

struct Context {
  Logger log;
  std::uint64_t seed = 0;    // the run's seed; combine with a stream id from random.hpp
  int threads = 1;           // threads the run may use
  std::string data_dir;      // where set-up puts datasets (DYNSIM_DATA_DIR or <repo>/data)
  std::string scenario_dir;  // folder of the scenario file, for relative paths in options
  // What the scenario's dataset says, when it has one (0 otherwise), so a model can default
  // its dimension and class count to the data's.
  long data_dim = 0;
  int data_classes = 0;
  // scenario.precision = "bf16": a model that declared supports_bf16 runs its big products with
  // bf16 operands and fp32 accumulation (see blas::gemm_bf16); false for every other plugin.
  bool bf16 = false;
  // The run's integrator: its method ("euler", "rk4", "euler_maruyama" or "dopri5"; empty where
  // a plugin is made outside a run) and, for the fixed-step methods, the step dt (0 otherwise),
  // so a model can keep its discretised dynamics stable (sanode_double_well's euler_guard).
  std::string integrator = {};
  double dt = 0;
};

}  // namespace dynsim
