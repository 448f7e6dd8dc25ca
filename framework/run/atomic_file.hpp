// Files in a run folder are written whole or not at all: the content goes to a temporary file
// in the same folder, is flushed to disk, and is renamed over the target; the folder is synced
// so the rename itself survives a crash. Folders of files (a checkpoint, a model) are staged
// beside their target and swapped in whole (replace_directory). Every failure is a RunError
// that names the file and the system's reason ("No space left on device").
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace dynsim {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target, bool binary = false);
  ~AtomicFile();  // without commit(), the temporary file is removed and the target is untouched
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ofstream& stream() { return out_; }
  void commit();  // flush, fsync, rename; RunError on failure

 private:
  std::filesystem::path target_, temp_;
  std::ofstream out_;
  bool committed_ = false;
};

void write_file_atomic(const std::filesystem::path& target, std::string_view content);

// Makes the complete folder `staged` become `target` in one step: with target present, the two
// are exchanged atomically (renameat2 RENAME_EXCHANGE; at every moment `target` is the old or
// the new folder, whole) and the old one is removed; otherwise `staged` is renamed. On a file
// system without the exchange, the old folder is moved to `target`.old first, and
// complete_directory() below finds it there. The parent folder is synced.
void replace_directory(const std::filesystem::path& staged, const std::filesystem::path& target);
// After a crash between the fallback's two renames: moves `target`.old back when `target` is
// missing. Returns whether `target` exists.
bool complete_directory(const std::filesystem::path& target);
// fsync of a folder (the names in it), RunError with the reason on failure.
void sync_directory(const std::filesystem::path& dir);

}  // namespace dynsim
