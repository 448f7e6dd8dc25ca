// Files in a run folder are written whole or not at all: the content goes to a temporary file
// in the same folder, is flushed to disk, and is renamed over the target.
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

}  // namespace dynsim
