// Ranks. dynsim started by mpirun or srun runs on the MPI world; started plainly it is a single
// rank and never touches MPI (no singleton start-up, no daemon). A study gives each of its runs
// a single-rank communicator; a lone training run under several ranks is data-parallel on the
// world.
//
// Only the thread that called init() talks to MPI (MPI_THREAD_FUNNELED): OpenMP threads compute,
// the main thread communicates between steps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace dynsim::parallel {

class Comm {
 public:
  // A single rank (no MPI).
  Comm() = default;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }

  void barrier() const;
  // Point to point, blocking; any size (sent in pieces under MPI's int count).
  void send(const void* data, std::size_t bytes, int to, int tag) const;
  void recv(void* data, std::size_t bytes, int from, int tag) const;
  // `bytes` from `from` to every rank.
  void broadcast(void* data, std::size_t bytes, int from) const;
  // Every rank's blob, in rank order, on every rank.
  std::vector<std::vector<char>> allgather(std::span<const char> mine) const;
  // The largest of every rank's value (e.g. an exit code), on every rank.
  std::int64_t max(std::int64_t v) const;

  // The world: every rank of this job (one rank without mpirun).
  static const Comm& world();
  // This rank alone.
  static const Comm& self();

 private:
  int rank_ = 0, size_ = 1;
  void* handle_ = nullptr;  // MPI_Comm, or null for a single rank without MPI
  friend void init(int& argc, char**& argv);
};

// Starts MPI when the launcher asked for it (mpirun, srun with PMI/PMIx); a no-op otherwise.
void init(int& argc, char**& argv);
// Ends MPI cleanly (every rank must call it), where init started it.
void finalize();
// Ends every rank at once with this exit code: the way out when one rank fails mid-collective,
// where the others would otherwise wait for it forever.
[[noreturn]] void abort(int code);
// Whether init() started MPI.
bool mpi_active();

// The communicator the current job trains and evaluates on: the world for a lone run, this rank
// alone for a run inside a distributed study. Scoped: restores the previous one on exit.
const Comm& current();
class ScopedComm {
 public:
  explicit ScopedComm(const Comm& c);
  ~ScopedComm();
  ScopedComm(const ScopedComm&) = delete;
  ScopedComm& operator=(const ScopedComm&) = delete;

 private:
  const Comm* previous_;
};

// Doubles and integers through the byte blobs above.
template <class T>
std::span<const char> as_bytes_of(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}
template <class T>
std::vector<T> from_bytes(const std::vector<char>& b) {
  std::vector<T> v(b.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

}  // namespace dynsim::parallel
