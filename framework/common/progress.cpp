#include "common/progress.hpp"

namespace dynsim::progress {

namespace {
Listener* g_listener = nullptr;
}

Scoped::Scoped(Listener* l) : previous_(g_listener) {
  g_listener = l;
}
Scoped::~Scoped() {
  g_listener = previous_;
}

void report(const nlohmann::json& r) {
  if (g_listener) g_listener->record(r);
}

void poll() {
  if (g_listener && g_listener->interrupted())
    throw Interrupted("interrupted; the run folder keeps its last checkpoint");
}

}  // namespace dynsim::progress
