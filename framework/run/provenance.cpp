#include "run/provenance.hpp"

#include <cblas.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>

#include "common/version.hpp"
#include "scenario/wiring.hpp"

namespace dynsim {

extern const char* const kGitCommit;

void set_threads(int threads) {
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

std::int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::int64_t>(u.ru_maxrss) * 1024;  // Linux reports kilobytes
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto c = line.find(':');
      return c == std::string::npos ? line : line.substr(c + 2);
    }
  return "unknown";
}

std::string blas_description() {
  const int par = openblas_get_parallel();  // 0 sequential, 1 pthreads, 2 OpenMP
  const char* kinds[] = {"sequential", "pthreads", "OpenMP"};
  return std::string(openblas_get_config()) + " (" + (par >= 0 && par <= 2 ? kinds[par] : "?") +
         ", core " + openblas_get_corename() + ")";
}

std::string utc_timestamp(bool compact) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, compact ? "%Y%m%d-%H%M%S" : "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json provenance(const Wiring& w, const std::string& command_line) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json plugins = nlohmann::json::object();
  for (const auto& [table, c] : w.plugins)
    plugins[table] = {{"name", c.record->name},
                      {"version", c.record->version},
                      {"file", c.record->file.string()}};
  return {
      {"dynsim_version", kDynsimVersion},
      {"git_commit", kGitCommit},
      {"build_type", kBuildType},
      {"compiler", kCompiler},
      {"cxx_flags", kCxxFlags},
      {"plugin_abi_version", DYNSIM_ABI_VERSION},
      {"blas", blas_description()},
      {"threads", w.threads},
      {"blas_threads", openblas_get_num_threads()},
      {"cpu", cpu_model()},
      {"hardware_threads", static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN))},
      {"host", host},
      {"seed", w.seed},
      {"precision", precision_name(w.precision)},
      {"scenario_file", w.scenario.file().string()},
      {"command", command_line},
      {"started_utc", utc_timestamp()},
      {"plugins", plugins},
  };
}

}  // namespace dynsim
