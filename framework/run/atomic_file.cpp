#include "run/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/errors.hpp"

namespace dynsim {
namespace fs = std::filesystem;

namespace {

std::string reason(int err) {
  return err ? std::strerror(err) : "unknown error";
}

void fsync_path(const fs::path& p, int flags, const std::string& what) {
  const int fd = ::open(p.c_str(), flags);
  if (fd < 0)
    throw RunError("cannot open " + p.string() + " to sync " + what + ": " + reason(errno));
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    throw RunError("cannot sync " + p.string() + ": " + reason(err));
  }
  if (::close(fd) != 0) throw RunError("cannot close " + p.string() + ": " + reason(errno));
}

fs::path parent_of(const fs::path& p) {
  const fs::path parent = p.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

void sync_directory(const fs::path& dir) {
  fsync_path(dir, O_RDONLY | O_DIRECTORY, "the folder");
}

AtomicFile::AtomicFile(fs::path target, bool binary) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += ".tmp." + std::to_string(::getpid());
  errno = 0;
  out_.open(temp_, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
  if (!out_) throw RunError("cannot write " + temp_.string() + ": " + reason(errno));
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  out_.close();
  std::error_code ec;
  fs::remove(temp_, ec);
}

void AtomicFile::commit() {
  // The stream keeps the first failure; errno still holds the write(2) error behind it (a full
  // disk: ENOSPC), since a failed stream makes no further calls.
  const int early = out_ ? 0 : errno;
  errno = 0;
  out_.flush();
  if (!out_)
    throw RunError("writing " + target_.string() + " failed: " + reason(early ? early : errno));
  errno = 0;
  out_.close();
  if (out_.fail()) throw RunError("closing " + temp_.string() + " failed: " + reason(errno));
  // fsync before rename: otherwise a crash can leave the new name pointing at empty data.
  fsync_path(temp_, O_RDONLY, "the file");
  std::error_code ec;
  fs::rename(temp_, target_, ec);
  if (ec)
    throw RunError("cannot rename " + temp_.string() + " to " + target_.string() + ": " +
                   ec.message());
  committed_ = true;
  sync_directory(parent_of(target_));
}

void write_file_atomic(const fs::path& target, std::string_view content) {
  AtomicFile f(target, true);
  f.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  f.commit();
}

void replace_directory(const fs::path& staged, const fs::path& target) {
  sync_directory(staged);
  std::error_code ec;
  if (!fs::exists(target, ec)) {
    fs::rename(staged, target, ec);
    if (ec)
      throw RunError("cannot rename " + staged.string() + " to " + target.string() + ": " +
                     ec.message());
  } else if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) ==
             0) {
    fs::remove_all(staged, ec);  // now the old folder
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    fs::path old = target;
    old += ".old";
    fs::remove_all(old, ec);
    fs::rename(target, old, ec);
    if (!ec) fs::rename(staged, target, ec);
    if (ec)
      throw RunError("cannot replace " + target.string() + " with " + staged.string() + ": " +
                     ec.message());
    fs::remove_all(old, ec);
  } else {
    throw RunError("cannot swap " + staged.string() + " into " + target.string() + ": " +
                   reason(errno));
  }
  sync_directory(parent_of(target));
}

bool complete_directory(const fs::path& target) {
  std::error_code ec;
  if (fs::exists(target, ec)) return true;
  fs::path old = target;
  old += ".old";
  if (!fs::is_directory(old, ec)) return false;
  fs::rename(old, target, ec);
  if (ec)
    throw RunError("cannot restore " + target.string() + " from " + old.string() + ": " +
                   ec.message());
  return true;
}

}  // namespace dynsim
