#include "parallel/comm.hpp"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <stdexcept>

namespace dynsim::parallel {

namespace {

Comm g_world, g_self;
const Comm* g_current = &g_world;
bool g_mpi = false;

MPI_Comm handle(void* h) {
  return static_cast<MPI_Comm>(h);
}

// MPI counts are ints: larger messages go in pieces of at most 1 GiB.
constexpr std::size_t kPiece = std::size_t(1) << 30;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI ") + what + " failed");
}

}  // namespace

bool mpi_active() {
  return g_mpi;
}

void init(int& argc, char**& argv) {
  // Launched by a process manager? OpenMPI's mpirun sets OMPI_COMM_WORLD_SIZE, PMIx launchers
  // (srun --mpi=pmix, OpenMPI 4) PMIX_RANK, PMI-1/2 launchers PMI_RANK. Without one of them
  // dynsim is a single rank and MPI is never started.
  if (!std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("PMIX_RANK") && !std::getenv("PMI_RANK"))
    return;
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "init");
  g_mpi = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  g_world.handle_ = MPI_COMM_WORLD;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size_);
  g_self.handle_ = MPI_COMM_SELF;
}

void finalize() {
  if (!g_mpi) return;
  MPI_Finalize();
  g_mpi = false;
}

void abort(int code) {
  if (g_mpi) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

const Comm& Comm::world() {
  return g_world;
}
const Comm& Comm::self() {
  return g_self;
}
const Comm& current() {
  return *g_current;
}

ScopedComm::ScopedComm(const Comm& c) : previous_(g_current) {
  g_current = &c;
}
ScopedComm::~ScopedComm() {
  g_current = previous_;
}

void Comm::barrier() const {
  if (handle_ && size_ > 1) check(MPI_Barrier(handle(handle_)), "barrier");
}

void Comm::send(const void* data, std::size_t bytes, int to, int tag) const {
  if (!handle_) throw std::logic_error("send on a single rank");
  const char* p = static_cast<const char*>(data);
  for (std::size_t off = 0; off < bytes || off == 0; off += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, bytes - off));
    check(MPI_Send(p + off, n, MPI_BYTE, to, tag, handle(handle_)), "send");
    if (bytes == 0) break;
  }
}

void Comm::recv(void* data, std::size_t bytes, int from, int tag) const {
  if (!handle_) throw std::logic_error("recv on a single rank");
  char* p = static_cast<char*>(data);
  for (std::size_t off = 0; off < bytes || off == 0; off += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, bytes - off));
    check(MPI_Recv(p + off, n, MPI_BYTE, from, tag, handle(handle_), MPI_STATUS_IGNORE), "recv");
    if (bytes == 0) break;
  }
}

void Comm::broadcast(void* data, std::size_t bytes, int from) const {
  if (!handle_ || size_ == 1) return;
  char* p = static_cast<char*>(data);
  for (std::size_t off = 0; off < bytes; off += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, bytes - off));
    check(MPI_Bcast(p + off, n, MPI_BYTE, from, handle(handle_)), "broadcast");
  }
}

std::vector<std::vector<char>> Comm::allgather(std::span<const char> mine) const {
  if (!handle_ || size_ == 1) return {std::vector<char>(mine.begin(), mine.end())};
  const long long n = static_cast<long long>(mine.size());
  std::vector<long long> sizes(static_cast<std::size_t>(size_));
  check(MPI_Allgather(&n, 1, MPI_LONG_LONG, sizes.data(), 1, MPI_LONG_LONG, handle(handle_)),
        "allgather");
  std::vector<int> counts(sizes.size()), displs(sizes.size());
  long long total = 0;
  for (std::size_t r = 0; r < sizes.size(); ++r) {
    if (total + sizes[r] > INT_MAX)
      throw std::runtime_error("MPI allgather of more than 2 GiB in all");
    counts[r] = static_cast<int>(sizes[r]);
    displs[r] = static_cast<int>(total);
    total += sizes[r];
  }
  std::vector<char> all(static_cast<std::size_t>(total));
  check(MPI_Allgatherv(mine.data(), static_cast<int>(n), MPI_BYTE, all.data(), counts.data(),
                       displs.data(), MPI_BYTE, handle(handle_)),
        "allgatherv");
  std::vector<std::vector<char>> out(sizes.size());
  for (std::size_t r = 0; r < sizes.size(); ++r)
    out[r].assign(all.begin() + displs[r], all.begin() + displs[r] + counts[r]);
  return out;
}

std::int64_t Comm::max(std::int64_t v) const {
  if (!handle_ || size_ == 1) return v;
  long long in = v, out = 0;
  check(MPI_Allreduce(&in, &out, 1, MPI_LONG_LONG, MPI_MAX, handle(handle_)), "allreduce");
  return out;
}

}  // namespace dynsim::parallel
