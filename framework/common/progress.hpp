// Progress records and cooperative interruption, for a caller that drives dynsim from another
// language (the Python module): the trainer reports what its log shows (a batch line, an epoch
// line) as JSON records, and polls between batches whether the caller asked it to stop (Ctrl-C
// in Python). Without a listener both are no-ops. Only the thread that runs the job calls them,
// between batches, never inside an OpenMP region.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace dynsim::progress {

// Thrown by poll() when the listener asks to stop. Not a RunError: the job ends where it is,
// the run folder keeps its last checkpoint, and a study stops instead of going on to its next
// run.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Listener {
 public:
  virtual ~Listener() = default;
  // {"kind": "batch" | "epoch", ...}: the fields the matching log line prints.
  virtual void record(const nlohmann::json& r) = 0;
  // True when the caller wants the job to stop.
  virtual bool interrupted() = 0;
};

// Installs a listener for the scope's lifetime (restoring the previous one on exit).
class Scoped {
 public:
  explicit Scoped(Listener* l);
  ~Scoped();
  Scoped(const Scoped&) = delete;
  Scoped& operator=(const Scoped&) = delete;

 private:
  Listener* previous_;
};

void report(const nlohmann::json& r);
// Throws Interrupted when the listener asks to stop.
void poll();

}  // namespace dynsim::progress
