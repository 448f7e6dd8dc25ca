// What produced a run: code, build, machine, BLAS, threads, seed, plugins.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace dynsim {

struct Wiring;

// Sets the thread count for OpenBLAS and the host's OpenMP loops: one pool for both.
void set_threads(int threads);

std::string cpu_model();
std::string blas_description();
std::string utc_timestamp(bool compact = false);
// The process's peak resident memory so far (getrusage), in bytes.
std::int64_t peak_rss_bytes();

nlohmann::json provenance(const Wiring& w, const std::string& command_line);

}  // namespace dynsim
