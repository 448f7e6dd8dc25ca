#include "run/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "common/errors.hpp"

namespace dynsim {
namespace fs = std::filesystem;

AtomicFile::AtomicFile(fs::path target, bool binary) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += ".tmp." + std::to_string(::getpid());
  out_.open(temp_, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
  if (!out_) throw RunError("cannot write " + temp_.string());
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  out_.close();
  std::error_code ec;
  fs::remove(temp_, ec);
}

void AtomicFile::commit() {
  out_.flush();
  if (!out_) throw RunError("writing " + target_.string() + " failed");
  out_.close();
  // fsync before rename: otherwise a crash can leave the new name pointing at empty data.
  const int fd = ::open(temp_.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::rename(temp_, target_, ec);
  if (ec)
    throw RunError("cannot rename " + temp_.string() + " to " + target_.string() + ": " +
                   ec.message());
  committed_ = true;
}

void write_file_atomic(const fs::path& target, std::string_view content) {
  AtomicFile f(target, true);
  f.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  f.commit();
}

}  // namespace dynsim
